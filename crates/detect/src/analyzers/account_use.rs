//! S4's kind, for records: an account made for a job or a lesson, used by a person at a
//! terminal where that job or lesson does not happen. A batch account belongs at a server
//! (`terminals.csv` kind `server`), a training account (研修用) at a training terminal
//! (kind `training`); at a staff PC it is someone reading real residents under a name that
//! is not theirs, and whatever it opens escapes every rule that follows a person.
//!
//! Charged to whoever was at the terminal (its unlocked Windows session, else the one
//! person badged into its room), else to the terminal's assigned user. The rest of
//! detection sees the same person behind it (`Actor::misplaced`): the look-ups are judged
//! by their business like anyone's, not excused as a batch or a lesson.
//!
//! And an account of no one used on a day master data does not declare it for: a vendor's
//! maintenance login listed for its work days (one `accounts.csv` row a day or a week),
//! signed in on another (`account_outside_its_period`).

use mamori_model::master::AccountKind;
use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "account_use", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "account_off_its_terminals", ja: "一括処理・研修用アカウントの用途外端末での使用", en: "Batch or training account used at a terminal not meant for it", incident: "S4", describe },
    Rule { id: "account_outside_its_period", ja: "登録期間外の共用・保守アカウントの使用", en: "Shared or maintenance account used outside its declared period", incident: "S4", describe: out_of_period },
];

fn out_of_period(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の端末（在席した、または割り当てられた端末）で、登録された利用期間の外に、共用・保守用のアカウントで住民記録が操作されました（保守作業日以外のベンダーアカウントなど）（{}）。", r.employee, r.details()),
        format!("Records were accessed at a terminal employee {} was at (or is assigned, as the detail says) through a shared or maintenance account on a day outside the periods master data declares for it (a vendor's login off its work days).", r.employee),
    )
}

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の端末（在席した、または割り当てられた端末）で、一括処理用または研修用のアカウントにより住民記録が操作されました。これらのアカウントはサーバ・研修用端末で使うもので、職員の端末での操作は本人のアカウントを使わない閲覧です（{}）。", r.employee, r.details()),
        format!("Records were accessed through a batch or training account at a terminal employee {} was at (or is assigned, as the detail says); such accounts belong at servers and training terminals.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    severity: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { severity: Severity::High }
    }
}

struct AccountUse {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(AccountUse { settings: settings(v)? }))
}

/// What an account of `kind` is called in a finding.
fn account_label(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Admin => "管理者アカウント",
        AccountKind::Batch => "一括処理用アカウント",
        AccountKind::Training => "研修用アカウント",
        AccountKind::Shared | AccountKind::Personal => "共用アカウント",
    }
}

impl AccountUse {
    /// Who it is charged to: the person seen at the terminal (its session, or the one person
    /// in its room) at the configured severity; else the terminal's assigned user, at medium
    /// and saying so — a robot's scheduled run on an unattended PC is no one's keyboard.
    fn charged<'o>(&self, o: &'o Observation, cx: &'o Context) -> Option<(&'o str, Severity, &'static str)> {
        match o.actor.employee.as_deref() {
            Some(e) => Some((e, self.settings.severity, "")),
            None => cx.dir.terminal_owner(&o.host).map(|owner| (owner, self.settings.severity.min(Severity::Medium), "（在席は未確認: 端末の割当による）")),
        }
    }
}

impl Analyzer for AccountUse {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let a = &o.actor;
        if a.kind.is_none()
            && let Some((kind, periods)) = cx.dir.account_out_of_period(&a.system, &a.account, o.day)
        {
            let Some((employee, severity, seen)) = self.charged(o, cx) else { return };
            let declared: Vec<String> = periods.iter().take(3).map(|p| match (p.from, p.to) {
                (from, Some(to)) if from == to => from.to_string(),
                (from, Some(to)) => format!("{from}〜{to}"),
                (from, None) => format!("{from}〜"),
            }).collect();
            let more = if periods.len() > 3 { format!(" ほか {} 期間", periods.len() - 3) } else { String::new() };
            let what = account_label(kind);
            let detail = format!("{what} {} @ {}（登録期間: {}{more}）{seen}", a.account, o.host, declared.join("、"));
            out.note(Note::of(o, RULES[1].id, severity, employee).resident(o.resident()).detail(detail)).add_device(&o.host);
            return;
        }
        if !a.misplaced {
            return;
        }
        let Some((employee, severity, seen)) = self.charged(o, cx) else { return };
        // Misplaced is only ever a batch or a training account.
        let what = account_label(a.kind.unwrap_or(AccountKind::Batch));
        let terminal = match cx.dir.terminal_kind(&o.host) {
            Some(kind) => format!("{kind:?}").to_lowercase(),
            None => "台帳にない端末".into(),
        };
        let detail = format!("{what} {} @ {}（{terminal}）{seen}", a.account, o.host);
        out.note(Note::of(o, RULES[0].id, severity, employee).resident(o.resident()).detail(detail)).add_device(&o.host);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    /// A training room and its account; new hires practise there, and a clerk takes the
    /// training account to their own desk. The batch account reads at a staff PC too.
    fn town() -> mamori_model::master::MasterData {
        office_with(|v| {
            v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":"KENSHU01","kind":"training","from":"2010-04-01","department":"D400"}));
            for host in ["KENSHU-01", "KENSHU-02", "KENSHU-03"] {
                v["terminals"].as_array_mut().unwrap().push(serde_json::json!({"host":host,"location":"4F研修室","kind":"training","agent":"yes","department":"D400"}));
            }
            v["terminals"].as_array_mut().unwrap().push(serde_json::json!({"host":"BATCH-01","location":"サーバ室","kind":"server","agent":"yes","department":"D800"}));
        })
    }

    fn update(account: &str, resident: &str, when: &str, host: &str) -> mamori_model::Event {
        let mut e = access("juki", account, resident, when, host);
        e.activity_id = 2;
        e
    }

    #[test]
    fn training_at_training_terminals_is_training_and_the_training_account_at_ones_desk_is_not() {
        // Three trainees at three training PCs update the same test resident: no crowd, no
        // unexplained change, no one raised.
        let lesson = [
            windows("e1", "logon", "2024-04-02T09:30:00", "KENSHU-01"),
            windows("e2", "logon", "2024-04-02T09:30:00", "KENSHU-02"),
            windows("e3", "logon", "2024-04-02T09:30:00", "KENSHU-03"),
            update("KENSHU01", "R7", "2024-04-02T10:00:00", "KENSHU-01"),
            update("KENSHU01", "R7", "2024-04-02T10:05:00", "KENSHU-02"),
            update("KENSHU01", "R7", "2024-04-02T10:10:00", "KENSHU-03"),
            update("KENSHU01", "R5", "2024-04-02T10:15:00", "KENSHU-01"),
        ];
        let f = run_in(&town(), crate::Config::default(), &lesson);
        assert!(f.is_empty(), "{:?}", rules(&f));
        // The training account at E1's own PC, in E1's session, on real residents.
        let desk = [windows("e1", "logon", "2024-04-03T08:30:00", "PC-E1"), access("juki", "KENSHU01", "R5", "2024-04-03T16:10:00", "PC-E1"), access("juki", "KENSHU01", "R3", "2024-04-03T16:15:00", "PC-E1")];
        let f = run_in(&town(), crate::Config::default(), &desk);
        let misuse = f.iter().find(|f| f.rule == "account_off_its_terminals").expect("the training account off the training room");
        assert_eq!((misuse.employees.as_slice(), misuse.severity, misuse.evidence.len()), (&["E1".to_owned()][..], mamori_model::Severity::High, 2));
        assert!(misuse.explanation_ja.contains("研修用アカウント KENSHU01 @ PC-E1"), "{}", misuse.explanation_ja);
        // And the rest of detection sees E1: R3 is E1's parent.
        assert!(f.iter().any(|f| f.rule == "relative_lookup" && f.employees == ["E1"]), "{:?}", rules(&f));
    }

    #[test]
    fn a_batch_account_at_a_staff_pc_is_the_person_there_and_at_the_server_a_batch() {
        let f = run_in(&town(), crate::Config::default(), &[access("juki", "9000", "R5", "2024-04-03T02:00:00", "BATCH-01"), access("juki", "9000", "R5", "2024-04-03T02:00:00", "sv-unlisted")]);
        assert!(f.is_empty(), "a batch at the server, or at a host master data does not list: {:?}", rules(&f));
        let f = run_in(&town(), crate::Config::default(), &[windows("e2", "logon", "2024-04-03T08:30:00", "PC-E2"), access("juki", "9000", "R3", "2024-04-03T11:00:00", "PC-E2")]);
        assert_eq!(rules(&f).iter().filter(|r| r.0 == "account_off_its_terminals").collect::<Vec<_>>(), [&("account_off_its_terminals", "E2", 1)], "{:?}", rules(&f));
    }

    /// A vendor's maintenance login declared for two Saturdays; used on a third day, at the
    /// IT administrator's desk.
    #[test]
    fn a_maintenance_account_used_off_its_declared_days_is_the_person_there() {
        let m = office_with(|v| {
            for day in ["2024-04-06", "2024-04-20"] {
                v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":"VENDOR01","kind":"admin","from":day,"to":day}));
            }
        });
        let on = run_in(&m, crate::Config::default(), &[windows("e2", "logon", "2024-04-06T08:30:00", "PC-E2"), access("juki", "VENDOR01", "R5", "2024-04-06T10:00:00", "PC-E2")]);
        assert!(on.iter().all(|f| f.rule != "account_outside_its_period"), "{:?}", rules(&on));
        let off = run_in(&m, crate::Config::default(), &[windows("e2", "logon", "2024-04-13T08:30:00", "PC-E2"), access("juki", "VENDOR01", "R5", "2024-04-13T10:00:00", "PC-E2")]);
        let f = off.iter().find(|f| f.rule == "account_outside_its_period").expect("off its days");
        assert_eq!((f.employees.as_slice(), f.severity), (&["E2".to_owned()][..], mamori_model::Severity::High));
        assert!(f.explanation_ja.contains("管理者アカウント VENDOR01") && f.explanation_ja.contains("2024-04-06"), "{}", f.explanation_ja);
    }
}
