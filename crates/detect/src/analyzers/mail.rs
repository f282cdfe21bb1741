//! S8 (Kamaishi) and S10 (an insurance agency): attachments carrying personal data mailed by
//! staff to a personal (free-mail, carrier) address, to an outside organisation not among
//! the trusted recipients, or inside the office to a colleague whose role that day holds no
//! residents' records (a transfer took it away); and attachments that could not be
//! inspected (encrypted, nested past the limit, a bomb guard tripped) sent outside.

use std::collections::BTreeMap;

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "mail", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule {
        id: "personal_data_to_personal_address",
        ja: "個人データの私用アドレスへの送信",
        en: "Personal data mailed to a personal address",
        incident: "S8",
        describe: personal,
    },
    Rule {
        id: "personal_data_to_outside_organisation",
        ja: "個人データの外部組織への送信",
        en: "Personal data mailed to an outside organisation",
        incident: "S10",
        describe: outside,
    },
    Rule {
        id: "personal_data_to_role_without_access",
        ja: "権限のない職員への個人データの送信",
        en: "Personal data mailed to staff whose role has no access",
        incident: "S8",
        describe: role,
    },
    Rule {
        id: "uninspectable_attachment_outside",
        ja: "検査できない添付ファイルの外部送信",
        en: "Uninspectable attachment sent outside",
        incident: "S8, S10",
        describe: uninspectable,
    },
];

fn personal(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、個人データを含む添付ファイルを個人のメールアドレスへ {} 通送信しました（{}）。", r.employee, r.mails.len(), r.details()),
        format!("Employee {} mailed attachments with personal data to personal addresses ({} mails).", r.employee, r.mails.len()),
    )
}

fn outside(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、個人データを含む添付ファイルを、業務上の送付先として登録されていない外部組織へ {} 通送信しました（{}）。", r.employee, r.mails.len(), r.details()),
        format!("Employee {} mailed attachments with personal data to an outside organisation not among the trusted recipients ({} mails).", r.employee, r.mails.len()),
    )
}

fn role(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、個人データを、現在の職務では住民記録の権限を持たない職員へメールで {} 回送りました（{}）。", r.employee, r.mails.len(), r.details()),
        format!("Employee {} mailed personal data {} times to staff whose present role holds no residents' records.", r.employee, r.mails.len()),
    )
}

fn uninspectable(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、中身を検査できない添付ファイルを信頼済みでない外部へ {} 通送信しました（{}）。", r.employee, r.mails.len(), r.details()),
        format!("Employee {} sent {} attachments that could not be inspected outside the trusted recipients.", r.employee, r.mails.len()),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Domains (and their subdomains) personal data may be mailed to in the course of
    /// business: other public bodies, contracted processors.
    trusted_domains: Vec<String>,
    /// Rows that look like people before an attachment counts as carrying personal data.
    min_personal_rows: u64,
    /// The kinds of data (`tax`, `welfare`, `family_register`, `health`) each records
    /// system holds: a colleague may be sent data of a kind only if they hold an account
    /// in a system of that kind. Systems not named hold residents' basic records.
    system_kinds: BTreeMap<String, Vec<String>>,
}

/// Where personal data may go unless `[mail] trusted_domains` says otherwise: other public
/// bodies.
pub const DEFAULT_TRUSTED_DOMAINS: [&str; 2] = ["lg.jp", "go.jp"];

impl Default for Settings {
    fn default() -> Self {
        let kinds = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let system_kinds = [
            ("zeimu", kinds(&["tax"])),
            ("tax", kinds(&["tax"])),
            ("fukushi", kinds(&["welfare", "health"])),
            ("welfare", kinds(&["welfare"])),
            ("koseki", kinds(&["family_register"])),
            ("kenshin", kinds(&["health"])),
            ("hoken", kinds(&["health"])),
        ]
        .into_iter()
        .map(|(s, k)| (s.to_owned(), k))
        .collect();
        Settings { trusted_domains: DEFAULT_TRUSTED_DOMAINS.iter().map(|d| (*d).to_owned()).collect(), min_personal_rows: 1, system_kinds }
    }
}

struct Mail {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let mut s: Settings = settings(v)?;
    // The town's own systems are added to the usual names, not put in their place.
    for (system, kinds) in Settings::default().system_kinds {
        s.system_kinds.entry(system).or_insert(kinds);
    }
    Ok(Box::new(Mail { settings: s }))
}

fn kind_ja(kind: &str) -> &'static str {
    match kind {
        "tax" => "税情報",
        "welfare" => "福祉情報",
        "family_register" => "戸籍情報",
        _ => "健康情報",
    }
}

fn list(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

impl Analyzer for Mail {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::EmailActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let Some(data) = o.extra("personal_data") else { return };
        let Some(email) = &o.event.email else { return };
        let Some(sender) = email.from.as_deref().and_then(|f| cx.dir.mail_owner(f, o.day)) else { return };
        let rows = data.get("rows").and_then(|v| v.as_u64()).unwrap_or(0);
        let residents = list(data.get("residents"));
        let external = list(o.extra("external_recipients"));
        let personal = list(o.extra("personal_recipients"));
        let my_numbers = data.get("my_numbers").and_then(|v| v.as_u64()).unwrap_or(0);
        let message = email.message_uid.clone().unwrap_or_default();
        let what = if my_numbers > 0 { "個人番号を含む" } else { "個人データ" };
        let trusted = |a: &String| mamori_text::mail_domain_in(a, &self.settings.trusted_domains);
        let mut note = |rule: &'static str, severity: Severity, detail: String, related: Option<&str>| {
            let r = out.note(Note::of(o, rule, severity, sender).detail(detail));
            r.residents.extend(residents.iter().cloned());
            r.add_mail(&message);
            if let Some(other) = related {
                r.add_related(other);
            }
        };
        if rows < self.settings.min_personal_rows {
            let outside: Vec<&String> = external.iter().filter(|a| !trusted(a)).collect();
            if data.get("uninspectable").and_then(|v| v.as_bool()) == Some(true) && !outside.is_empty() {
                let why = data.get("uninspectable_reason").and_then(|v| v.as_str()).unwrap_or("暗号化");
                note(RULES[3].id, Severity::Medium, format!("→ {}（{why}）", outside[0]), None);
            }
            return;
        }
        for to in &personal {
            note(RULES[0].id, Severity::High, format!("→ {to}（{what}）"), None);
        }
        for to in external.iter().filter(|a| !personal.contains(a) && !trusted(a)) {
            note(RULES[1].id, Severity::High, format!("→ {to}（{what}）"), None);
        }
        // The kinds of data beyond residents' basic records the attachment carries.
        let items = list(data.get("items"));
        let special: Vec<&str> = ["tax", "welfare", "family_register", "health"].into_iter().filter(|k| items.iter().any(|i| i == k)).collect();
        for to in email.to.iter().chain(&email.cc).chain(&email.bcc).filter(|a| !external.contains(a)) {
            let Some(recipient) = cx.dir.mail_owner(to, o.day) else { continue };
            let dept = cx.dir.posting(recipient, o.day).map(|p| p.0).unwrap_or("所属不明");
            let systems = cx.dir.record_systems(recipient, o.day);
            if systems.is_empty() {
                note(RULES[2].id, Severity::High, format!("→ {recipient}（{dept}、住民記録の権限なし、{what}）"), Some(recipient));
                continue;
            }
            let granted = |kind: &str| systems.iter().any(|s| self.settings.system_kinds.get(*s).is_some_and(|k| k.iter().any(|k| k == kind)));
            let missing: Vec<&str> = special.iter().copied().filter(|k| !granted(k)).map(kind_ja).collect();
            if !missing.is_empty() {
                note(RULES[2].id, Severity::High, format!("→ {recipient}（{dept}、{}の権限なし、{what}）", missing.join("・")), Some(recipient));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s8_resident_data_mailed_home_is_flagged_with_every_resident_involved() {
        let f = run(&[
            mail("e2@city.example.lg.jp", "kaori.55@gmail.com", &["R1", "R2"], "2024-05-01T19:00:00", false),
            mail("e2@city.example.lg.jp", "kaori.55@gmail.com", &["R2", "R5"], "2024-05-08T19:30:00", false),
        ]);
        assert_eq!(rules(&f), [("personal_data_to_personal_address", "E2", 2)]);
        assert_eq!(f[0].residents, ["R1", "R2", "R5"]);
        assert_eq!(f[0].mails.len(), 2);
    }

    #[test]
    fn s8_registry_extract_mailed_to_a_colleague_whose_new_role_has_no_records_is_flagged() {
        // E4 left the residents' section in 2023; E1 (福祉課, with records) is a fair recipient.
        let f = run(&[
            mail("e2@city.example.lg.jp", "e4@city.example.lg.jp", &["R1", "R3"], "2024-05-01T18:40:00", false),
            mail("e2@city.example.lg.jp", "e1@city.example.lg.jp", &["R5"], "2024-05-01T10:00:00", false),
        ]);
        assert_eq!(rules(&f), [("personal_data_to_role_without_access", "E2", 1)]);
        assert_eq!(f[0].employees, ["E2", "E4"], "the recipient is named in the finding");
    }

    #[test]
    fn s8_tax_arrears_mailed_to_a_colleague_who_holds_registry_but_no_tax_access_is_flagged() {
        // E1 holds the registry and the crematorium system, not the tax system: names and
        // addresses are theirs to receive, arrears are not.
        let arrears = |items: serde_json::Value| {
            let mut m = mail("e2@city.example.lg.jp", "e1@city.example.lg.jp", &["R5"], "2024-05-01T10:00:00", false);
            m.unmapped.extra.get_mut("personal_data").unwrap()["items"] = items;
            m
        };
        let f = run(&[arrears(serde_json::json!(["name", "address", "tax"]))]);
        assert_eq!(rules(&f), [("personal_data_to_role_without_access", "E2", 1)]);
        assert!(f[0].explanation_ja.contains("税情報の権限なし"), "{}", f[0].explanation_ja);
        assert!(run(&[arrears(serde_json::json!(["name", "address"]))]).is_empty());
        // A town says which of its systems hold tax data (here, oddly, the registry).
        let config = toml_config("[mail]\nsystem_kinds = { juki = [\"tax\"] }\n");
        assert!(run_in(&office(), config, &[arrears(serde_json::json!(["name", "tax"]))]).is_empty());
    }

    #[test]
    fn s10_personal_data_to_an_outside_company_is_flagged_and_to_another_public_body_is_not() {
        let f = run(&[
            mail("e1@city.example.lg.jp", "sales@nexus.example.co.jp", &["R1", "R2", "R3"], "2024-05-01T12:10:00", false),
            mail("e1@city.example.lg.jp", "hogo@pref.example.lg.jp", &["R5"], "2024-05-02T10:00:00", false),
            mail("e1@city.example.lg.jp", "nenkin@nenkin.go.jp", &["R5"], "2024-05-02T11:00:00", false),
        ]);
        assert_eq!(rules(&f), [("personal_data_to_outside_organisation", "E1", 1)]);
    }

    #[test]
    fn a_password_zip_to_a_trusted_office_is_ordinary_and_to_a_stranger_is_worth_a_look() {
        let f = run(&[
            mail("e1@city.example.lg.jp", "tantou@pref.example.lg.jp", &[], "2024-05-01T10:00:00", true),
            mail("e1@city.example.lg.jp", "x@unknown.example.com", &[], "2024-05-01T11:00:00", true),
        ]);
        assert_eq!(rules(&f), [("uninspectable_attachment_outside", "E1", 1)]);
        assert_eq!(f[0].severity, mamori_model::Severity::Medium);
    }

    #[test]
    fn trusted_mail_domains_come_from_the_config() {
        let config = toml_config("[mail]\ntrusted_domains = [\"lg.jp\", \"nexus.example.co.jp\"]\n");
        let f = run_in(&office(), config, &[mail("e1@city.example.lg.jp", "sales@nexus.example.co.jp", &["R1"], "2024-05-01T12:10:00", false)]);
        assert!(f.is_empty());
    }
}
