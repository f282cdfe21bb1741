//! S3 (Osaka, Taisho and Yodogawa): watch-listed residents (the mayor, council members)
//! looked up with no application, visit or case behind the look-up. Business of the
//! employee's section only (a colleague served the request) is a question, not an alarm;
//! so is a household member's own visit or case (the mayor's spouse at the counter for
//! her own certificate does not open the mayor's records — unless she asked for the
//! household's, which a reviewer checks on the application).
//!
//! A resident under a DV support measure (住民基本台帳事務における支援措置: the address is
//! withheld from the perpetrator) is on the watch-list too. There the leak comes with
//! business on file: a certificate issued at the counter to the perpetrator or their
//! agent, under a visit that names her. So every access to such a record with business of
//! one's own is put to review (`protected_record_access`, medium): the reviewer checks on
//! the application who it went to. The measure's own case (a case whose kind names the
//! reason, 「DV等支援措置」) explains the support staff's work without review, and a
//! caseload the town declares ongoing (生活保護) the caseworker's.

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "vip", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "vip_unexplained", ja: "要注意者（VIP）の記録の照会", en: "Look-up of a watch-listed resident", incident: "S3", describe },
    Rule { id: "protected_record_access", ja: "支援措置対象者の記録の業務利用", en: "A protected resident's record used in business", incident: "S1, S3", describe: protected },
];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が要注意者リストの住民の記録を、業務上の根拠（申請書・来庁・案件）なしに閲覧しました（{}）。", r.employee, r.details()),
        format!("Employee {} viewed watch-listed residents' records with no supporting application, visit or case of their own.", r.employee),
    )
}

fn protected(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、住所の秘匿などの支援措置を受けている住民の記録を業務で扱いました。証明書の交付や回答の相手が本人または正当な請求者であったかを、申請書で確認してください（{}）。", r.employee, r.details()),
        format!("Employee {} handled, in business, the record of a resident under a support measure (address withheld): check on the application that the certificate or answer went to the resident or a rightful requester.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Severity when only the section's business (a colleague's case or visit) explains it.
    section_only: Severity,
    /// Severity when only a household member's visit or case explains it.
    household_only: Severity,
    /// Watch-list reasons (any part of the text) whose residents' records are put to review
    /// even with business of one's own: a support measure that withholds the address.
    review_reasons: Vec<String>,
    /// Severity of that review.
    review_severity: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { section_only: Severity::Medium, household_only: Severity::Medium, review_reasons: vec!["支援措置".into(), "住所秘匿".into()], review_severity: Severity::Medium }
    }
}

struct Vip {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Vip { settings: settings(v)? }))
}

impl Vip {
    /// Whether a watch-list reason (or a case kind) names a measure put to review.
    fn review(&self, text: &str) -> bool {
        self.settings.review_reasons.iter().any(|r| !r.is_empty() && text.contains(r.as_str()))
    }
}

impl Analyzer for Vip {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        let Some(reason) = cx.dir.vip(&access.resident, o.day) else { return };
        let (severity, detail) = match &access.explanation {
            Some(e) if e.direct() && e.member().is_some() => (self.settings.household_only, format!("{reason}（世帯員の業務のみ: {}）", e.text_ja())),
            Some(e) if e.direct() => {
                // The measure's own case is the support staff's work, and a caseload the town
                // declares ongoing (生活保護) the caseworker's; a batch and a sanctioned
                // extract of every record go to no requester: none of them is reviewed.
                let own_case = matches!(e, mamori_enrich::Explanation::Case { kind, .. } if self.review(kind) || cx.dir.case_kinds().iter().any(|k| k.ongoing && k.kind == *kind));
                if self.review(reason) && !own_case && !matches!(e, mamori_enrich::Explanation::Batch | mamori_enrich::Explanation::Extract(_)) {
                    out.note(Note::of(o, RULES[1].id, self.settings.review_severity, employee).resident(&access.resident).detail(format!("{reason}（{}）", e.text_ja())));
                }
                return;
            }
            Some(e) => (self.settings.section_only, format!("{reason}（本人の業務ではない: {}）", e.text_ja())),
            None => (Severity::High, reason.to_owned()),
        };
        out.note(Note::of(o, RULES[0].id, severity, employee).resident(&access.resident).detail(detail));
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
    fn the_mayor_looked_up_on_the_back_of_a_household_members_visit_is_a_question() {
        // R10, the mayor's spouse, at the 福祉課 counter served by E1; E1 also opens the
        // mayor's record. Her own record is business; the mayor's is a question.
        let m = office_with(|v| {
            v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":"R10","name":"市長 花子","birth_date":"1962-01-01"}));
            v["households"].as_array_mut().unwrap().push(serde_json::json!({"resident_uid":"R10","household":"H9","relation":"妻","address":"三丁目","from":"2000-01-01"}));
            v["counter_visits"].as_array_mut().unwrap().push(serde_json::json!({"visit_no":"V10","at":"2024-03-07T10:00:00","department":"D300","resident_uid":"R10","purpose":"印鑑登録証明書","handler":"E1"}));
        });
        let f = run_in(&m, crate::Config::default(), &[access("juki", "J1", "R10", "2024-03-07T10:05:00", "PC-E1"), access("juki", "J1", "R9", "2024-03-07T10:06:00", "PC-E1")]);
        assert_eq!(rules(&f), [("vip_unexplained", "E1", 1)]);
        assert_eq!(f[0].severity, mamori_model::Severity::Medium);
        assert!(f[0].explanation_ja.contains("世帯員 R10 の来庁"), "{}", f[0].explanation_ja);
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

    /// A DV-protected resident's certificate issued at the counter under a visit that names
    /// her: business on file, and still a question — to whom did it go? The support staff's
    /// own case and the caseworker's ongoing caseload are their work.
    #[test]
    fn a_protected_residents_record_used_in_business_is_put_to_review_but_the_measures_own_case_is_not() {
        let m = office_with(|v| {
            v["vip"].as_array_mut().unwrap().push(serde_json::json!({"resident_uid":"R5","reason":"DV等支援措置（住所秘匿）","from":"2023-01-01"}));
            v["counter_visits"].as_array_mut().unwrap().push(serde_json::json!({"visit_no":"V5","at":"2024-03-07T10:00:00","department":"D300","resident_uid":"R5","purpose":"住民票の写し","handler":"E1"}));
            v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":"DV1","kind":"DV等支援措置","received":"2024-01-10","department":"D300","handler":"E2","residents":["R5"]}));
            v["case_kinds"].as_array_mut().unwrap().push(serde_json::json!({"kind":"DV等支援措置","ongoing":"yes"}));
        });
        let f = run_in(&m, crate::Config::default(), &[access("juki", "J1", "R5", "2024-03-07T10:05:00", "PC-E1")]);
        assert_eq!(rules(&f), [("protected_record_access", "E1", 1)]);
        assert_eq!(f[0].severity, mamori_model::Severity::Medium);
        assert!(f[0].explanation_ja.contains("来庁記録 V5"), "{}", f[0].explanation_ja);
        let support = run_in(&m, crate::Config::default(), &[access("juki", "J2", "R5", "2024-03-08T14:00:00", "PC-E2")]);
        assert!(support.is_empty(), "{:?}", rules(&support));
        // The mayor served with a request on file is no such question.
        assert!(run(&[access("koseki", "K3", "R9", "2024-03-04T11:00:00", "PC-E3")]).is_empty());
    }
}
