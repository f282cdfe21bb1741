//! S3 (Osaka, Taisho and Yodogawa): watch-listed residents (the mayor, council members)
//! looked up with no application, visit or case behind the look-up. Business of the
//! employee's section only (a colleague served the request) is a question, not an alarm.

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "vip", build, rules: RULES };

const RULES: &[Rule] = &[Rule { id: "vip_unexplained", ja: "要注意者（VIP）の記録の照会", en: "Look-up of a watch-listed resident", incident: "S3", describe }];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が要注意者リストの住民の記録を、業務上の根拠（申請書・来庁・案件）なしに閲覧しました（{}）。", r.employee, r.details()),
        format!("Employee {} viewed watch-listed residents' records with no supporting application, visit or case of their own.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Severity when only the section's business (a colleague's case or visit) explains it.
    section_only: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { section_only: Severity::Medium }
    }
}

struct Vip {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Vip { settings: settings(v)? }))
}

impl Analyzer for Vip {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        let Some(reason) = cx.dir.vip(&access.resident, o.day) else { return };
        let (severity, detail) = match &access.explanation {
            Some(e) if e.direct() => return,
            Some(e) => (self.settings.section_only, format!("{reason}（課内の業務のみ: {}）", e.text_ja())),
            None => (Severity::High, reason.to_owned()),
        };
        out.note(Note::of(o, RULES[0].id, severity, employee).resident(&access.resident).detail(detail));
    }

    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s3_vip_koseki_view_without_application_is_flagged() {
        let f = run(&[access("koseki", "K3", "R9", "2024-02-01T11:00:00", "PC-E3")]);
        assert_eq!(rules(&f), [("vip_unexplained", "E3", 1)]);
        assert!(f[0].explanation_ja.contains("市長"));
    }

    #[test]
    fn the_mayor_served_with_a_request_on_file_is_not_flagged_but_the_next_day_is() {
        // C1: the mayor's application handled on 2024-03-04. That day's view is business;
        // a same-day case does not cover the following days.
        assert!(run(&[access("koseki", "K3", "R9", "2024-03-04T11:00:00", "PC-E3")]).is_empty());
        let f = run(&[access("koseki", "K3", "R9", "2024-03-06T11:00:00", "PC-E3")]);
        assert_eq!(rules(&f), [("vip_unexplained", "E3", 1)]);
    }

    #[test]
    fn a_vip_looked_up_by_two_clerks_is_a_finding_for_each() {
        let f = run(&[access("koseki", "K3", "R9", "2024-02-01T11:00:00", "PC-E3"), access("juki", "J2", "R9", "2024-02-02T11:00:00", "PC-E2")]);
        assert_eq!(rules(&f), [("vip_unexplained", "E2", 1), ("vip_unexplained", "E3", 1)]);
    }
}
