//! S4 (Niigata) and S5 (Okayama): files on a confidential or restricted share opened by
//! someone whose section neither owns nor was granted it — an administrator or shared
//! account charged to whoever was at the terminal (the session truth) — counted in distinct
//! files and days, so that slow accumulation over months shows as well as a spike; and
//! administrator or shared accounts used from terminals outside the administering
//! departments (`admin_departments`) and administrators' own terminals.
//!
//! An ACL change (Samba `fset_nt_acl`, OCSF File System activity 7) is an administrator's
//! act on the share, not a read of its data; whoever opens the share afterwards is judged
//! by the share's owner as master data has it (S5). A folder opened to everyone for a
//! handover is the `handover` analyzer's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use mamori_model::master::{AccountKind, TerminalKind};
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation, Via};

pub const REGISTRATION: Registration = Registration { section: "shares", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "restricted_share_non_owner", ja: "所属外の機密共有フォルダの閲覧", en: "Another section's confidential share opened", incident: "S4, S5", describe: non_owner },
    Rule {
        id: "privileged_account_outside_admin_terminals",
        ja: "管理者・共用アカウントの管理外端末での使用",
        en: "Administrator or shared account used outside the administering terminals",
        incident: "S4",
        describe: privileged,
    },
];

fn non_owner(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、所属外の機密共有フォルダのファイルを開きました。異なるファイル {} 件（{}）。", r.employee, r.files.len(), r.details()),
        format!("Employee {} opened files on another section's confidential share: {} distinct files.", r.employee, r.files.len()),
    )
}

fn privileged(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} のログオン中の端末から、管理者・共用アカウントでファイルが操作されました。この端末は管理を担う部署のものではありません（{}）。", r.employee, r.details()),
        format!("Administrator or shared accounts were used from employee {}'s session on a terminal outside the administering departments.", r.employee),
    )
}

/// OCSF File System Activity `activity_id` 7: Set Security (an ACL change).
const SET_SECURITY: u8 = 7;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Departments whose terminals administrator and shared accounts may be used from
    /// (information policy, typically); terminals of kind `admin` always may. Empty: not
    /// checked.
    admin_departments: Vec<String>,
    /// Severity of a restricted share read through an administrator account by someone of
    /// an administering department at an administering terminal: maintenance (a restore,
    /// a permission fix), kept on record but not an alarm.
    maintenance_severity: Severity,
    /// Maintenance is a day's work (a restore, a permission fix) or the same few files again
    /// (a job's own files checked each week): files of one share read through the
    /// administrator account for the first time on more than this many days within
    /// `maintenance_window_days` are someone reading it, a little at a time (S4's three
    /// years), and high.
    maintenance_days: usize,
    maintenance_window_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { admin_departments: Vec::new(), maintenance_severity: Severity::Low, maintenance_days: 3, maintenance_window_days: 30 }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// (employee, share) → each file they read as maintenance within the window → the day
    /// they first read it.
    #[serde(with = "crate::pairs")]
    maintenance: HashMap<(String, String), BTreeMap<String, NaiveDate>>,
}

struct Shares {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Shares { settings: settings(v)?, state: State::default() }))
}

impl Analyzer for Shares {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::FileSystemActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let Some(share) = o.event.unmapped.share.as_deref() else { return };
        if o.event.activity_id == SET_SECURITY || cx.dir.open_to_all(share, o.day).is_some() {
            return;
        }
        let Some(employee) = o.actor.employee.as_deref() else { return };
        let via = match (&o.actor.via, o.actor.kind) {
            (Via::Holder, _) => None,
            (_, kind) => {
                let what = match kind {
                    Some(AccountKind::Admin) => "管理者アカウント",
                    Some(_) => "共用アカウント",
                    None => "不明なアカウント",
                };
                Some(format!("{what} {}", o.actor.account))
            }
        };
        if let Some(v) = &via
            && !self.settings.admin_departments.is_empty()
            && cx.dir.terminal_kind(&o.host) != Some(TerminalKind::Admin)
            && let Some(dept) = cx.dir.terminal_department(&o.host)
            && !self.settings.admin_departments.iter().any(|d| d == dept)
        {
            let detail = format!("{v} @ {}（{dept}の端末）", o.host);
            out.note(Note::of(o, RULES[1].id, Severity::High, employee).detail(detail)).add_device(&o.host);
        }
        let Some((owner, _, allowed)) = cx.dir.restricted_share(share, &o.actor.department, o.day) else { return };
        if allowed {
            return;
        }
        // Maintenance: the administrator account, by someone of an administering department,
        // at one of its terminals (or an `admin` terminal).
        let admins = &self.settings.admin_departments;
        let at_admin_terminal = cx.dir.terminal_kind(&o.host) == Some(TerminalKind::Admin) || cx.dir.terminal_department(&o.host).is_some_and(|d| admins.iter().any(|a| a == d));
        let mut maintenance = o.actor.kind == Some(AccountKind::Admin) && at_admin_terminal && admins.iter().any(|a| *a == o.actor.department);
        let mut habit = String::new();
        if maintenance {
            let files = self.state.maintenance.entry((employee.to_owned(), share.to_owned())).or_default();
            let since = o.day - chrono::Duration::days(self.settings.maintenance_window_days.max(1) - 1);
            files.retain(|_, first| *first >= since);
            // Only a file read for the first time counts, and only it is raised: the weekly
            // check of the same backup log stays maintenance however long it goes on.
            let new_file = o.event.file.as_ref().is_some_and(|file| !files.contains_key(&file.path));
            if let Some(file) = &o.event.file {
                files.entry(file.path.clone()).or_insert(o.day);
            }
            let new_file_days = files.values().collect::<BTreeSet<_>>().len();
            if new_file && new_file_days > self.settings.maintenance_days {
                maintenance = false;
                habit = format!("（管理者アカウントで {} 日間に {} 日、新たなファイルを閲覧: 保守の範囲を超える）", self.settings.maintenance_window_days, new_file_days);
            }
        }
        let severity = if maintenance { self.settings.maintenance_severity } else { Severity::High };
        let detail = format!("{share}（所有: {owner}）{}{}{habit}", via.map(|v| format!(" {v}経由")).unwrap_or_default(), if maintenance { "（管理部署の管理端末から: 保守作業）" } else { "" });
        let r = out.note(Note::of(o, RULES[0].id, severity, employee).detail(detail));
        if let Some(file) = &o.event.file {
            r.add_file(&file.path);
        }
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use mamori_model::Event;
    use serde_json::json;

    use crate::testing::*;

    #[test]
    fn s4_a_restricted_share_read_through_the_admin_account_is_charged_to_the_sessions_owner() {
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "pc-e2"),
            share_open("admin01", "人事評価/0002.xlsx", "2024-03-04T17:00:00", "pc-e2.city.local"),
            share_open("admin01", "人事評価/0002.xlsx", "2024-03-04T17:01:00", "PC-E2"),
        ]);
        assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 3)]);
        assert_eq!(f[0].files.len(), 2, "distinct files, not opens");
        assert_eq!(f[0].days, 2, "distinct days, not the span");
        assert!(f[0].explanation_ja.contains("admin01"));
    }

    /// The administrator account's network logon (type 3, as the share's server or a
    /// management tool writes it against the client) puts no one at E2's keyboard: E2's own
    /// session goes on, and the files read through it are E2's.
    #[test]
    fn s4_a_network_logon_of_the_admin_account_does_not_set_the_desk_users_session_aside() {
        let network_logon = |when: &str| {
            let mut e = windows("admin01", "logon", when, "PC-E2");
            e.unmapped.extra.insert("logon_type".into(), 3.into());
            e
        };
        // As a CSV export of sign-ins writes it: text.
        let exported_network_logon = |when: &str| {
            let mut e = windows("admin01", "logon", when, "PC-E2");
            e.unmapped.extra.insert("logon_type".into(), "3".into());
            e
        };
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            exported_network_logon("2024-03-01T16:59:58"),
            share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "PC-E2"),
        ]);
        assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 1)], "{f:?}");
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            network_logon("2024-03-01T16:59:58"),
            share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "PC-E2"),
        ]);
        assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 1)], "{f:?}");
        // An interactive logon of the same account (type 2, or unknown) is someone at the
        // keyboard: it sets E2's session aside, and no one in particular is charged.
        let mut interactive = windows("admin01", "logon", "2024-03-01T16:59:58", "PC-E2");
        interactive.unmapped.extra.insert("logon_type".into(), 2.into());
        let f = run(&[windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"), interactive, share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "PC-E2")]);
        assert!(f.iter().all(|x| !x.employees.contains(&"E2".to_owned())), "{f:?}");
    }

    #[test]
    fn information_policy_restoring_hr_files_from_its_own_terminal_is_maintenance_not_an_alarm() {
        let m = office_with(|v| v["terminals"].as_array_mut().unwrap().push(json!({"host":"PC-IT","location":"4F","kind":"staff","agent":"yes","department":"D800"})));
        let config = || toml_config("[shares]\nadmin_departments = [\"D800\"]\n");
        let restore = [windows("e4", "logon", "2024-03-01T08:30:00", "PC-IT"), share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T10:00:00", "PC-IT")];
        let f = run_in(&m, config(), &restore);
        let read = f.iter().find(|f| f.rule == "restricted_share_non_owner").expect("kept on record");
        assert_eq!(read.severity, mamori_model::Severity::Low);
        assert!(read.explanation_ja.contains("保守作業"), "{}", read.explanation_ja);
        // The same account from a welfare clerk's PC is S4.
        let snoop = [windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"), share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T10:00:00", "PC-E2")];
        let f = run_in(&m, config(), &snoop);
        assert!(f.iter().any(|f| f.rule == "restricted_share_non_owner" && f.severity == mamori_model::Severity::High), "{f:?}");
        // A payslip a week from that terminal, a new one each time: no restore takes weeks.
        // The same file checked each week is maintenance still.
        let mut weekly = vec![windows("e4", "logon", "2024-03-01T08:30:00", "PC-IT")];
        for (i, day) in ["2024-03-01", "2024-03-08", "2024-03-15", "2024-03-22"].iter().enumerate() {
            weekly.push(share_open("admin01", &format!("給与/{i:04}.pdf"), &format!("{day}T12:10:00"), "PC-IT"));
        }
        let f = run_in(&m, config(), &weekly);
        let read = f.iter().find(|f| f.rule == "restricted_share_non_owner").expect("on record");
        assert_eq!(read.severity, mamori_model::Severity::High, "{f:?}");
        assert!(read.explanation_ja.contains("保守の範囲を超える"), "{}", read.explanation_ja);
        let mut checks = vec![windows("e4", "logon", "2024-03-01T08:30:00", "PC-IT")];
        for day in ["2024-03-01", "2024-03-08", "2024-03-15", "2024-03-22"] {
            checks.push(share_open("admin01", "人事評価/backup.log", &format!("{day}T12:10:00"), "PC-IT"));
        }
        let f = run_in(&m, config(), &checks);
        assert!(f.iter().filter(|f| f.rule == "restricted_share_non_owner").all(|f| f.severity == mamori_model::Severity::Low), "{f:?}");
    }

    #[test]
    fn a_share_used_by_no_known_person_is_not_charged_to_anyone() {
        assert!(run(&[share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "pc-x")]).is_empty());
    }

    #[test]
    fn s4_the_admin_account_used_from_a_terminal_outside_information_policy_is_flagged_when_configured() {
        let events = [windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"), share_open("admin01", "評価/a.xlsx", "2024-03-01T17:00:00", "pc-e1")];
        let names = |f: Vec<mamori_model::Finding>| f.into_iter().map(|f| f.rule).collect::<Vec<_>>();
        let unconfigured = names(run(&events));
        assert!(!unconfigured.iter().any(|r| r == "privileged_account_outside_admin_terminals"), "{unconfigured:?}");
        let configured = names(run_in(&office(), toml_config("[shares]\nadmin_departments = [\"D800\"]\n"), &events));
        assert!(configured.iter().any(|r| r == "privileged_account_outside_admin_terminals"), "{configured:?}");
        // An administrators' own terminal is their place, whatever department it is listed under.
        let admin_pc = office_with(|v| v["terminals"][0]["kind"] = json!("admin"));
        let on_admin = names(run_in(&admin_pc, toml_config("[shares]\nadmin_departments = [\"D800\"]\n"), &events));
        assert!(!on_admin.iter().any(|r| r == "privileged_account_outside_admin_terminals"), "{on_admin:?}");
    }

    #[test]
    fn s5_an_acl_change_is_not_a_read_and_outsiders_who_open_the_share_afterwards_are_flagged() {
        let acl = {
            let v = json!({"class_uid":1001,"activity_id":7,"time":ms("2024-05-01T08:50:00"),"actor":{"user":{"uid":"admin01"}},"device":{"hostname":"pc-e1"},
                "metadata":{"product":"samba"},"file":{"path":"."},"unmapped":{"share":"jinji","operation":"set-acl"}});
            Event::from_json(v.to_string().as_bytes()).unwrap()
        };
        let f = run(&[windows("e1", "logon", "2024-05-01T08:30:00", "PC-E1"), acl, share_open("e2", "健診/名簿.xlsx", "2024-05-01T10:00:00", "pc-e2")]);
        assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 1)]);
    }
}
