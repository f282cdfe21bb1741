//! S8 (Kamaishi): auditing turned off on a terminal (Windows 4719, success or failure
//! removed) by an interested party — the terminal's own user, or someone who has exchanged
//! personal data by mail with its user — takes their work out of the audit scope (high).
//! Turned off by anyone else it is a change to review (medium).

use std::collections::HashSet;

use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "audit_policy", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule {
        id: "audit_reduced_by_interested_party",
        ja: "利害関係者による監査設定の無効化",
        en: "Auditing turned off by an interested party",
        incident: "S8",
        describe: interested,
    },
    Rule { id: "audit_reduced", ja: "監査設定の無効化", en: "Auditing turned off", incident: "—", describe: reduced },
];

fn interested(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、利害関係のある端末の監査設定を無効にしました（{}）。監査対象から自分たちの作業を外す操作の疑いがあります。", r.employee, r.details()),
        format!("Employee {} turned auditing off on a terminal of someone they are linked to; their work may have been taken out of the audit scope.", r.employee),
    )
}

fn reduced(r: &Rollup) -> (String, String) {
    (format!("職員 {} が端末の監査設定を無効にしました（{}）。", r.employee, r.details()), format!("Employee {} turned auditing off on terminals.", r.employee))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// (sender, recipient) employees between whom personal data went by mail.
    data_mail: HashSet<(String, String)>,
}

struct AuditPolicy {
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let _: Settings = settings(v)?;
    Ok(Box::new(AuditPolicy { state: State::default() }))
}

impl Analyzer for AuditPolicy {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::EmailActivity, ClassUid::DeviceConfigStateChange]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        if o.class() == ClassUid::EmailActivity {
            self.mail(o, cx);
            return;
        }
        if o.extra("audit_reduced").and_then(|v| v.as_bool()) != Some(true) {
            return;
        }
        let Some(changer) = o.actor.employee.as_deref() else { return };
        let changes = o.extra("audit_changes").and_then(|v| v.as_str()).unwrap_or("");
        let user = cx.presence.last_user(&o.host).map(str::to_owned);
        let linked = |u: &str| self.state.data_mail.contains(&(u.to_owned(), changer.to_owned())) || self.state.data_mail.contains(&(changer.to_owned(), u.to_owned()));
        let interested = match &user {
            Some(u) if u == changer => Some("本人の端末".to_owned()),
            Some(u) if linked(u) => Some(format!("端末の利用者 {u} と個人データをメールで授受")),
            _ => None,
        };
        let (rule, severity) = if interested.is_some() { (RULES[0].id, Severity::High) } else { (RULES[1].id, Severity::Medium) };
        let detail = format!("{}: {changes}{}", o.host, interested.map(|i| format!("（{i}）")).unwrap_or_default());
        let r = out.note(Note::of(o, rule, severity, changer).detail(detail));
        r.add_device(&o.host);
        if let Some(u) = user {
            r.add_related(&u);
        }
    }

    state_field!();
}

impl AuditPolicy {
    /// Remembers who exchanged personal data with whom.
    fn mail(&mut self, o: &Observation, cx: &Context) {
        let Some(rows) = o.extra("personal_data").and_then(|d| d.get("rows")).and_then(|v| v.as_u64()) else { return };
        let Some(email) = &o.event.email else { return };
        if rows == 0 {
            return;
        }
        let Some(sender) = email.from.as_deref().and_then(|f| cx.dir.mail_owner(f, o.day)) else { return };
        for to in email.to.iter().chain(&email.cc).chain(&email.bcc) {
            if let Some(recipient) = cx.dir.mail_owner(to, o.day) {
                self.state.data_mail.insert((sender.to_owned(), recipient.to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mamori_model::Severity;

    use crate::testing::*;

    #[test]
    fn s8_auditing_turned_off_on_the_pc_of_someone_one_takes_personal_data_from_is_flagged_high() {
        let f = run(&[
            windows("e2", "logon", "2024-05-01T08:30:00", "PC-E2"),
            windows("e2", "logoff", "2024-05-01T17:30:00", "PC-E2"),
            mail("e2@city.example.lg.jp", "e4@city.example.lg.jp", &["R1"], "2024-05-01T18:40:00", false),
            policy("e4", "PC-E2", "2024-05-02T18:05:00", true),
        ]);
        let audit = f.iter().find(|f| f.rule.starts_with("audit")).expect("an audit finding");
        assert_eq!((audit.rule.as_str(), audit.severity), ("audit_reduced_by_interested_party", Severity::High));
        assert_eq!(audit.employees, ["E4", "E2"]);
    }

    #[test]
    fn auditing_added_is_routine_and_turned_off_by_a_stranger_is_medium() {
        let f = run(&[
            windows("e1", "logon", "2024-05-01T08:30:00", "PC-E1"),
            policy("e4", "PC-E1", "2024-05-02T08:45:00", false),
            policy("e4", "PC-E1", "2024-05-03T08:45:00", true),
        ]);
        assert_eq!(rules(&f), [("audit_reduced", "E4", 1)]);
        assert_eq!(f[0].severity, Severity::Medium);
    }
}
