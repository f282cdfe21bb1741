//! The purpose-of-use gate (利用目的の確認): a business system asks before it opens a
//! record, and mamori answers `allow`, `warn` (show the banner, let the user go on) or
//! `declare` (the user must state a purpose, and where the policy says a case number),
//! with the text to show and the reasons — from what detection already knows: the
//! account's holder and section, their relation to the resident, the watch-list, and
//! whether a visit, a case or a batch explains the access (docs/gate.md).
//!
//! Everything here is computed from the directory and explanation model held in memory:
//! a check never reads the journal, so it answers in microseconds and a counter never
//! waits on an audit query.

use anyhow::{Context, Result, bail};
use chrono::{NaiveDateTime, NaiveTime, Timelike};
use mamori_enrich::{Directory, ExplanationModel};
use mamori_model::master::AccountKind;
use serde::{Deserialize, Serialize};

/// What the business system is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Go on: the access has business behind it.
    Allow,
    /// Show the banner and let the user go on.
    Warn,
    /// The user must state a purpose (and a case number where the policy says).
    Declare,
}

/// The town's gate policy (`gate.toml`); every field has a default a town can adopt as is.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The employee's own record, their household, family, and neighbours: always this.
    pub relatives: Decision,
    /// A colleague's record (staff are residents too).
    pub colleagues: Decision,
    /// A watch-listed resident (VIP) with no business explaining the access.
    pub vip: Decision,
    /// No visit, case, batch or follow-up explains the access, in working hours.
    pub no_business_in_hours: Decision,
    /// The same after hours or on a day off.
    pub no_business_after_hours: Decision,
    /// Working hours, `HH:MM`.
    pub day_starts: String,
    pub day_ends: String,
    /// An account mamori does not know (not in accounts.csv).
    pub unknown_account: Decision,
    /// Purpose codes a declaration may give, with their Japanese names.
    pub purposes: Vec<(String, String)>,
    /// Purposes that need a case number (受付番号) with them.
    pub case_required_for: Vec<String>,
    /// The break-the-glass purpose: lets the user through at once, for an emergency, with
    /// a mandatory reason; every use is reviewed like a finding.
    pub break_glass: String,
    /// Minutes after a check that a declaration for it is taken (a check id cannot be kept
    /// and replayed later); how long a declaration explains accesses is detection's
    /// `[explanations] declared_minutes`.
    pub declaration_minutes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            relatives: Decision::Declare,
            colleagues: Decision::Declare,
            vip: Decision::Declare,
            no_business_in_hours: Decision::Warn,
            no_business_after_hours: Decision::Declare,
            day_starts: "08:30".into(),
            day_ends: "17:45".into(),
            unknown_account: Decision::Declare,
            purposes: [
                ("counter", "窓口での申請・届出"),
                ("case", "担当案件の処理"),
                ("inquiry", "電話・文書による照会への回答"),
                ("audit", "監査・点検"),
                ("emergency", "緊急（生命・身体の保護）"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
            case_required_for: vec!["case".into()],
            break_glass: "emergency".into(),
            declaration_minutes: 30,
        }
    }
}

impl Policy {
    /// Reads `gate.toml`; a wrong field is named.
    pub fn from_toml(text: &str) -> Result<Policy> {
        let policy: Policy = toml::from_str(text).with_context(|| crate::tr!("利用目的ゲートのポリシー", "gate policy"))?;
        for field in [&policy.day_starts, &policy.day_ends] {
            NaiveTime::parse_from_str(field, "%H:%M").with_context(|| crate::tr!("利用目的ゲートのポリシー: `{field}` は時刻（HH:MM）ではありません", "gate policy: `{field}` is not a time (HH:MM)"))?;
        }
        if !policy.purposes.iter().any(|(code, _)| *code == policy.break_glass) {
            bail!(crate::tr!("利用目的ゲートのポリシー: break_glass `{}` が利用目的のどれでもありません", "gate policy: break_glass `{}` is not one of the purposes", policy.break_glass));
        }
        Ok(policy)
    }

    /// The policy in `path`, or the default.
    pub fn load(path: Option<&std::path::Path>) -> Result<Policy> {
        match path {
            None => Ok(Policy::default()),
            Some(p) => Policy::from_toml(&std::fs::read_to_string(p).with_context(|| crate::tr!("{} を読めません", "reading {}", p.display()))?).with_context(|| p.display().to_string()),
        }
    }

    fn in_hours(&self, at: NaiveDateTime) -> bool {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map(|t| t.num_seconds_from_midnight()).unwrap_or(0);
        (t(&self.day_starts)..t(&self.day_ends)).contains(&at.time().num_seconds_from_midnight())
    }

    /// The purpose's Japanese name, if it is one of the policy's.
    pub fn purpose_name(&self, code: &str) -> Option<&str> {
        self.purposes.iter().find(|(c, _)| c == code).map(|(_, name)| name.as_str())
    }
}

/// A business system's question, as `POST /v1/access-check` takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Check {
    pub system: String,
    pub account: String,
    #[serde(default)]
    pub terminal: String,
    /// The 宛名番号 (or another subject key the system uses).
    pub resident: String,
    /// read, update, create, print …
    #[serde(default)]
    pub operation: String,
    /// When the user already stated them with the request.
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub case_no: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One reason behind a decision, in both languages, with a stable code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub code: String,
    pub ja: String,
    pub en: String,
}

/// The answer (without its check id, which the server gives).
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub decision: Decision,
    pub message_ja: String,
    pub message_en: String,
    pub reasons: Vec<Reason>,
    /// The employee behind the account, as mamori resolved it.
    #[serde(skip)]
    pub employee: Option<String>,
    /// A break-the-glass use: let through, to be reviewed.
    #[serde(skip)]
    pub break_glass: bool,
}

fn reason(code: &str, ja: String, en: String) -> Reason {
    Reason { code: code.into(), ja, en }
}

/// The gate's answer to `check` at local time `at`.
pub fn decide(dir: &Directory, model: &ExplanationModel, policy: &Policy, check: &Check, at: NaiveDateTime) -> Answer {
    let day = at.date();
    let system = mamori_enrich::account_system(&check.system);
    let mut decision = Decision::Allow;
    let mut reasons = Vec::new();
    let mut raise = |d: Decision, r: Reason, reasons: &mut Vec<Reason>| {
        decision = decision.max(d);
        reasons.push(r);
    };
    let Some((employee, kind)) = dir.account(system, &check.account, day) else {
        let mut answer = finish(Decision::Allow, Vec::new(), None, false);
        answer.decision = policy.unknown_account;
        answer.reasons.push(reason("unknown_account", format!("アカウント {} は職員の名簿にありません", check.account), format!("account {} is not in the staff's accounts", check.account)));
        return retell(answer);
    };
    if kind == AccountKind::Batch {
        return finish(Decision::Allow, vec![reason("batch", "一括処理のアカウントです".into(), "a batch account".into())], None, false);
    }
    let employee = employee.map(str::to_owned);
    let department = employee.as_deref().and_then(|e| dir.posting(e, day)).map(|(d, _)| d.to_owned()).unwrap_or_default();
    if let Some(e) = employee.as_deref()
        && let Some(r) = dir.relation(e, &check.resident, day)
    {
        use mamori_enrich::RelationKind;
        let (d, code, ja, en) = match r.kind {
            RelationKind::Own => (policy.relatives, "own", "職員本人の記録です".to_owned(), "the employee's own record".to_owned()),
            k @ (RelationKind::Colleague | RelationKind::ColleagueSameSection) => (policy.colleagues, "colleague", format!("この住民は{}です", k.ja()), format!("the resident is a {}", k.en())),
            k => (policy.relatives, "relative", format!("この住民は職員の{}です", k.ja()), format!("the resident is the employee's {}", k.en())),
        };
        raise(d, reason(code, ja, en), &mut reasons);
    }
    let access = mamori_enrich::Access {
        kind,
        employee: employee.as_deref(),
        department: &department,
        resident: &check.resident,
        // The gate is asked before the access, from no terminal it could vouch for.
        host: "",
        at,
        declared_case: check.case_no.as_deref(),
        // As detection names operations (OCSF activity ids): a read unless said otherwise.
        activity: mamori_enrich::activity_id(&check.operation).unwrap_or(1),
    };
    let explained = dir.explain(model, &access);
    match &explained {
        // Which visit or case is not said: the answer goes to the user being screened.
        Some(_) => reasons.push(reason("business", "業務の記録があります".into(), "business on file".into())),
        None => {
            // Nor why the resident is watched.
            if dir.vip(&check.resident, day).is_some() {
                raise(policy.vip, reason("vip", "要注意者（VIP）の記録です".into(), "the resident is on the watch-list".into()), &mut reasons);
            }
            let after_hours = !policy.in_hours(at) || dir.is_day_off_for(day, Some(&department));
            let d = if after_hours { policy.no_business_after_hours } else { policy.no_business_in_hours };
            let when = if after_hours { "（時間外・休日）" } else { "" };
            raise(d, reason("no_business", format!("来庁・案件の記録がありません{when}"), format!("no visit, case or batch on file{}", if after_hours { " (after hours)" } else { "" })), &mut reasons);
        }
    }
    // A purpose stated with the request: break-the-glass lets the user through at once
    // (reviewed later); any other purpose is a declaration to record, not a pass.
    let break_glass = check.purpose.as_deref() == Some(policy.break_glass.as_str()) && check.reason.as_deref().is_some_and(|r| !r.trim().is_empty());
    if break_glass {
        reasons.push(reason("break_glass", "緊急時の利用として記録し、後日点検します".into(), "an emergency use: recorded and reviewed".into()));
        return finish(Decision::Allow, reasons, employee, true);
    }
    finish(decision, reasons, employee, false)
}

fn finish(decision: Decision, reasons: Vec<Reason>, employee: Option<String>, break_glass: bool) -> Answer {
    retell(Answer { decision, message_ja: String::new(), message_en: String::new(), reasons, employee, break_glass })
}

/// The banner's text for the decision.
fn retell(mut a: Answer) -> Answer {
    (a.message_ja, a.message_en) = match a.decision {
        Decision::Allow => (String::new(), String::new()),
        Decision::Warn => (
            "業務以外での利用は禁止されています。この照会は記録され、点検の対象になります。".into(),
            "Use for anything but business is prohibited. This look-up is recorded and reviewed.".into(),
        ),
        Decision::Declare => (
            "業務以外での利用は禁止されています。照会の目的を入力してください（記録され、点検の対象になります）。".into(),
            "Use for anything but business is prohibited. State the purpose of this look-up (it is recorded and reviewed).".into(),
        ),
    };
    a
}

/// A stated purpose, as `POST /v1/access-check/{id}/declare` takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Declaration {
    pub purpose: String,
    #[serde(default)]
    pub case_no: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Declaration {
    /// Whether the declaration is complete under `policy`: a known purpose, a case number
    /// where the purpose needs one, a reason for breaking the glass, bounded text.
    pub fn validate(&self, policy: &Policy) -> Result<()> {
        if policy.purpose_name(&self.purpose).is_none() {
            bail!(crate::tr!("purpose `{}`: {} のいずれかを指定してください", "purpose `{}`: one of {}", self.purpose, policy.purposes.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")));
        }
        let case = self.case_no.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if policy.case_required_for.contains(&self.purpose) && case.is_none() {
            bail!(crate::tr!("purpose `{}` には案件番号（case_no）が必要です", "purpose `{}` needs a case number (case_no)", self.purpose));
        }
        if self.purpose == policy.break_glass && self.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            bail!(crate::tr!("緊急時利用（ブレークグラス）には理由が必要です", "breaking the glass needs a reason"));
        }
        for (field, text) in [("case_no", self.case_no.as_deref()), ("reason", self.reason.as_deref())] {
            if text.is_some_and(|t| t.len() > 2000 || t.chars().any(|c| c.is_control() && c != '\n')) {
                bail!(crate::tr!("{field}: 2,000 バイト以内で、制御文字を含めないでください", "{field}: at most 2,000 bytes, no control characters"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// The example town (examples/town): E0001 (welfare, juki account 0101) whose spouse
    /// is 000000102; E0003 (counter, 0203) who served 000000305's visit on 2024-05-08;
    /// the mayor 000000401 on the watch-list.
    fn town(extra: impl FnOnce(&mut mamori_model::master::MasterData)) -> (Directory, ExplanationModel) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/town");
        let mut master = mamori_master::load_dir(&root).expect("the example town").data;
        extra(&mut master);
        let dir = Directory::new(&master);
        let model = ExplanationModel::floors(&mamori_enrich::ExplanationSettings::default(), &dir);
        (dir, model)
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn ask(account: &str, resident: &str) -> Check {
        Check { system: "juki".into(), account: account.into(), resident: resident.into(), operation: "read".into(), ..Check::default() }
    }

    fn codes(a: &Answer) -> Vec<&str> {
        a.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn the_brief_s_cases_get_the_answers_the_city_resolved_on() {
        let (dir, model) = town(|m| {
            // The mayor at the counter with a request on file.
            m.counter_visits.push(mamori_model::master::CounterVisit {
                visit_no: "V-20240509-0001".into(),
                at: at("2024-05-09 10:00"),
                department: "D100".into(),
                resident_uid: "000000401".into(),
                purpose: "住民票".into(),
                handler: Some("E0003".into()),
            });
        });
        let policy = Policy::default();
        let cases: &[(&str, &str, &str, Decision, &[&str])] = &[
            // A relative (the employee's spouse): always declare, even in hours.
            ("0101", "000000102", "2024-05-08 10:00", Decision::Declare, &["relative", "no_business"]),
            // A visit served at the counter: allow.
            ("0203", "000000305", "2024-05-08 10:03", Decision::Allow, &["business"]),
            // The mayor at the counter with a request on file: allow.
            ("0203", "000000401", "2024-05-09 10:05", Decision::Allow, &["business"]),
            // The mayor with no request: declare.
            ("0203", "000000401", "2024-05-08 11:00", Decision::Declare, &["vip", "no_business"]),
            // A colleague's record (000000204 is E0004's): declare.
            ("0203", "000000204", "2024-05-08 11:00", Decision::Declare, &["colleague", "no_business"]),
            // No business, in hours: warn; after hours: declare.
            ("0203", "000000103", "2024-05-08 11:00", Decision::Warn, &["no_business"]),
            ("0203", "000000103", "2024-05-08 21:00", Decision::Declare, &["no_business"]),
            // An account no one knows.
            ("9999", "000000204", "2024-05-08 11:00", Decision::Declare, &["unknown_account"]),
        ];
        for (account, resident, when, want, why) in cases {
            let a = decide(&dir, &model, &policy, &ask(account, resident), at(when));
            assert_eq!((a.decision, codes(&a)), (*want, why.to_vec()), "{account} → {resident} at {when}: {a:?}");
            assert_eq!(a.message_ja.is_empty(), *want == Decision::Allow);
        }
    }

    #[test]
    fn breaking_the_glass_lets_through_with_a_reason_only() {
        let (dir, model) = town(|_| {});
        let policy = Policy::default();
        let mut check = ask("0101", "000000102");
        check.purpose = Some("emergency".into());
        assert_eq!(decide(&dir, &model, &policy, &check, at("2024-05-08 22:00")).decision, Decision::Declare, "no reason, no pass");
        check.reason = Some("救急搬送の身元確認".into());
        let a = decide(&dir, &model, &policy, &check, at("2024-05-08 22:00"));
        assert!(a.decision == Decision::Allow && a.break_glass && codes(&a).contains(&"break_glass"), "{a:?}");
    }

    #[test]
    fn a_town_s_policy_is_read_and_checked() {
        let p = Policy::from_toml("relatives = \"warn\"\nday_ends = \"18:30\"\n").unwrap();
        assert_eq!((p.relatives, p.vip, p.day_ends.as_str()), (Decision::Warn, Decision::Declare, "18:30"));
        assert!(Policy::from_toml("day_ends = \"6pm\"").is_err());
        assert!(Policy::from_toml("relativs = \"warn\"").is_err(), "a misspelt field is named, not ignored");
        assert!(Policy::from_toml("break_glass = \"hurry\"").is_err());
        let policy = Policy::default();
        let declare = |purpose: &str, case: Option<&str>, reason: Option<&str>| Declaration { purpose: purpose.into(), case_no: case.map(str::to_owned), reason: reason.map(str::to_owned) }.validate(&policy);
        assert!(declare("counter", None, None).is_ok());
        assert!(declare("case", None, None).is_err() && declare("case", Some("R6-000123"), None).is_ok());
        assert!(declare("emergency", None, None).is_err() && declare("emergency", None, Some("搬送")).is_ok());
        assert!(declare("curiosity", None, None).is_err());
        let _ = NaiveDate::MIN;
    }
}
