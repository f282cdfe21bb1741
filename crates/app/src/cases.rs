//! Cases: an auditor's investigation of one or more findings, from opening to a
//! disposition. A case has no table of its own: it is the sequence of its events in the
//! log (opened, noted, assigned, closed), each tagged `case` with the case's number, so
//! its whole history is as tamper-evident as the accesses it is about, and reading a case
//! is replaying those events.

use anyhow::{Context, Result, bail};
use mamori_journal::{Journal, SqliteJournal};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action};
use crate::console::{Reader, View};

/// The tag that names a case's events.
pub const CASE_TAG: &str = "case";

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Misuse confirmed: the findings were what they looked like.
    Misuse,
    /// The access had business behind it that mamori could not see.
    Legitimate,
    /// The finding was wrong (a rule or data problem).
    FalseAlarm,
}

impl Disposition {
    pub fn parse(s: &str) -> Option<Disposition> {
        Some(match s {
            "misuse" => Disposition::Misuse,
            "legitimate" => Disposition::Legitimate,
            "false-alarm" => Disposition::FalseAlarm,
            _ => return None,
        })
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Disposition::Misuse, false) => "不正利用",
            (Disposition::Legitimate, false) => "業務上正当",
            (Disposition::FalseAlarm, false) => "誤検知",
            (Disposition::Misuse, true) => "misuse",
            (Disposition::Legitimate, true) => "legitimate",
            (Disposition::FalseAlarm, true) => "false alarm",
        }
    }
}

/// One step of a case, as its event carries it (the event's `detail`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
enum Step {
    Open { case: String, title: String, findings: Vec<String> },
    Note { case: String, text: String },
    Assign { case: String, to: String },
    Close {
        case: String,
        disposition: Disposition,
        reason: String,
        /// Findings of the same rule about the same staff set aside until then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suppress: Option<Suppression>,
    },
}

/// What a case closed as a false alarm or legitimate sets aside: findings of `rule` about
/// any of `employees` whose evidence starts on or before `until` (a JST date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub rule: String,
    pub employees: Vec<String>,
    pub until: String,
}

/// The longest a suppression may last: a year, then the rule speaks again.
pub const MAX_SUPPRESS_DAYS: u64 = 366;

/// A case as its events tell it.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub number: String,
    pub title: String,
    pub findings: Vec<String>,
    pub opened_by: String,
    pub opened_at: String,
    pub assigned_to: String,
    /// (time, who, text), oldest first.
    pub notes: Vec<(String, String, String)>,
    pub closed: Option<(Disposition, String, String, String)>,
    /// What closing set aside, if anything.
    pub suppression: Vec<Suppression>,
    /// The ids of the case's events in the log.
    pub events: Vec<u64>,
}

/// The longest title, note or reason a case takes.
pub const MAX_TEXT: usize = 4000;

fn may(reader: &Reader) -> Result<()> {
    if !reader.role.may(View::Cases) {
        bail!(crate::tr!("役割 {} は事案を扱えません", "role {} may not work on cases", reader.role.as_str()));
    }
    Ok(())
}

fn record(j: &mut SqliteJournal, reader: &Reader, step: &Step, case: &str) -> Result<u64> {
    audit::record_by(j, &reader.actor(), Action::Case, &serde_json::to_string(step)?, &[(CASE_TAG, case)])
}

fn check_text(field: &str, text: &str, required: bool) -> Result<()> {
    if required && text.trim().is_empty() {
        bail!(crate::tr!("{field}: 入力してください", "{field}: required"));
    }
    if text.len() > MAX_TEXT {
        bail!(crate::tr!("{field}: {MAX_TEXT} バイト以内にしてください", "{field}: at most {MAX_TEXT} bytes"));
    }
    Ok(())
}

/// Opens a case about `findings` (ids of stored findings); returns its number
/// (`C-YYYY-NNNN`, counted per year in the log's order).
pub fn open(j: &mut SqliteJournal, reader: &Reader, title: &str, findings: &[String]) -> Result<String> {
    may(reader)?;
    check_text("title", title, true)?;
    let mut findings: Vec<String> = findings.to_vec();
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.clone()));
    if findings.is_empty() {
        bail!(crate::tr!("事案は 1 件以上の所見から開きます", "a case is opened from at least one finding"));
    }
    // Only findings the reader may see can start a case (one they may not is "no finding").
    let (staff, _) = crate::console::staff_directory(j)?;
    let visible: std::collections::HashSet<String> =
        crate::detect::stored_findings(j)?.into_iter().filter(|f| reader.sees_finding(&staff, f)).map(|f| f.id).collect();
    if let Some(unknown) = findings.iter().find(|f| !visible.contains(*f)) {
        bail!(crate::tr!("所見 `{unknown}` はありません", "no finding `{unknown}`"));
    }
    let year = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST")).format("%Y").to_string();
    let opened = j.tagged(CASE_TAG)?.into_iter().map(|(k, _)| k).filter(|k| k.starts_with(&format!("C-{year}-"))).collect::<std::collections::BTreeSet<_>>().len();
    let number = format!("C-{year}-{:04}", opened + 1);
    record(j, reader, &Step::Open { case: number.clone(), title: title.trim().to_owned(), findings }, &number)?;
    Ok(number)
}

pub fn note(j: &mut SqliteJournal, reader: &Reader, number: &str, text: &str) -> Result<()> {
    let case = get(j, reader, number)?.with_context(|| crate::tr!("事案 {number} はありません", "no case {number}"))?;
    check_text("note", text, true)?;
    if case.closed.is_some() {
        bail!(crate::tr!("事案 {number} は終結しています", "case {number} is closed"));
    }
    record(j, reader, &Step::Note { case: number.to_owned(), text: text.trim().to_owned() }, number).map(|_| ())
}

pub fn assign(j: &mut SqliteJournal, reader: &Reader, number: &str, to: &str) -> Result<()> {
    let case = get(j, reader, number)?.with_context(|| crate::tr!("事案 {number} はありません", "no case {number}"))?;
    if case.closed.is_some() {
        bail!(crate::tr!("事案 {number} は終結しています", "case {number} is closed"));
    }
    let user = j.user(to)?.with_context(|| crate::tr!("コンソール利用者 `{to}` はいません", "no console user `{to}`"))?;
    if crate::console::Role::parse(&user.role).is_none_or(|r| !r.may(View::Cases)) {
        bail!(crate::tr!("`{to}`（{}）は事案を扱えません", "`{to}` ({}) may not work on cases", user.role));
    }
    record(j, reader, &Step::Assign { case: number.to_owned(), to: to.to_owned() }, number).map(|_| ())
}

/// Closes a case. With `suppress_days`, a case closed as a false alarm or legitimate sets
/// aside findings of its findings' rules about the same staff for that many days (at most
/// [`MAX_SUPPRESS_DAYS`]); detection honours it from its next run and marks what it set
/// aside.
pub fn close(j: &mut SqliteJournal, reader: &Reader, number: &str, disposition: Disposition, reason: &str, suppress_days: u64) -> Result<()> {
    let case = get(j, reader, number)?.with_context(|| crate::tr!("事案 {number} はありません", "no case {number}"))?;
    check_text("reason", reason, true)?;
    if case.closed.is_some() {
        bail!(crate::tr!("事案 {number} はすでに終結しています", "case {number} is already closed"));
    }
    let suppress = if suppress_days == 0 {
        None
    } else {
        if disposition == Disposition::Misuse {
            bail!(crate::tr!("不正利用として終結する事案では、何も抑止できません", "a case closed as misuse suppresses nothing"));
        }
        if suppress_days > MAX_SUPPRESS_DAYS {
            bail!(crate::tr!("抑止は {MAX_SUPPRESS_DAYS} 日以内にしてください", "suppress for at most {MAX_SUPPRESS_DAYS} days"));
        }
        let stored = crate::detect::stored_findings(j)?;
        let of_case: Vec<&mamori_model::Finding> = stored.iter().filter(|f| case.findings.contains(&f.id)).collect();
        let mut rules: Vec<&str> = of_case.iter().map(|f| f.rule.as_str()).collect();
        rules.sort();
        rules.dedup();
        let [rule] = rules.as_slice() else { bail!(crate::tr!("事案の所見が {} 個のルールにわたっています: 抑止は 1 つのルールについて行います", "the case's findings are of {} rules: a suppression is for one rule", rules.len())) };
        let mut employees: Vec<String> = of_case.iter().flat_map(|f| f.employees.iter().cloned()).collect();
        employees.sort();
        employees.dedup();
        let today = crate::console::jst_day(chrono::Utc::now().timestamp_millis());
        Some(Suppression { rule: (*rule).to_owned(), employees, until: (today + chrono::Days::new(suppress_days)).format("%Y-%m-%d").to_string() })
    };
    record(j, reader, &Step::Close { case: number.to_owned(), disposition, reason: reason.trim().to_owned(), suppress }, number).map(|_| ())
}

/// Every suppression closed cases asked for, with the case and its reason.
pub fn suppressions(j: &SqliteJournal) -> Result<Vec<(Suppression, mamori_model::Suppressed)>> {
    Ok(replay(j, None)?
        .into_iter()
        .flat_map(|c| {
            let reason = c.closed.as_ref().map(|x| x.1.clone()).unwrap_or_default();
            c.suppression.into_iter().map(move |s| {
                let why = mamori_model::Suppressed { case: c.number.clone(), until: s.until.clone(), reason: reason.clone() };
                (s, why)
            })
        })
        .collect())
}

/// Marks the findings a suppression covers: same rule, a shared employee, evidence
/// starting on or before its last day.
pub fn apply_suppressions(findings: &mut [mamori_model::Finding], suppressions: &[(Suppression, mamori_model::Suppressed)]) -> usize {
    let mut set_aside = 0;
    for f in findings.iter_mut() {
        let starts = crate::console::jst_day(f.from).format("%Y-%m-%d").to_string();
        f.suppressed = suppressions
            .iter()
            .find(|(s, _)| s.rule == f.rule && starts <= s.until && f.employees.iter().any(|e| s.employees.contains(e)))
            .map(|(_, why)| why.clone());
        set_aside += usize::from(f.suppressed.is_some());
    }
    set_aside
}

/// Replays the events of every case (or of `only`), in the log's order.
fn replay(j: &SqliteJournal, only: Option<&str>) -> Result<Vec<Case>> {
    let mut seqs: Vec<(String, u64)> = j.tagged(CASE_TAG)?.into_iter().filter(|(k, _)| only.is_none_or(|o| o == k)).collect();
    seqs.sort_by_key(|(_, seq)| *seq);
    let mut cases: Vec<Case> = Vec::new();
    for (number, seq) in seqs {
        let e = j.get(seq)?.with_context(|| crate::tr!("事案のタグが付いたイベントが見つかりません", "a tagged case event"))?.event()?;
        let detail = e.unmapped.extra.get("detail").and_then(|d| d.as_str()).unwrap_or_default();
        let step: Step = serde_json::from_str(detail).with_context(|| crate::tr!("事案のイベント {seq}", "case event {seq}"))?;
        let (at, who) = (crate::console::jst_time(e.time), e.actor.user.uid.trim_start_matches("console:").to_owned());
        match step {
            Step::Open { title, findings, .. } => cases.push(Case {
                number: number.clone(),
                title,
                findings,
                opened_by: who.clone(),
                opened_at: at,
                assigned_to: who,
                notes: Vec::new(),
                closed: None,
                suppression: Vec::new(),
                events: vec![seq],
            }),
            step => {
                let Some(case) = cases.iter_mut().find(|c| c.number == number) else { bail!(crate::tr!("事案 {number} のイベント {seq} がありますが、その事案は開かれていません", "case event {seq} for {number}, which was never opened")) };
                case.events.push(seq);
                match step {
                    Step::Note { text, .. } => case.notes.push((at, who, text)),
                    Step::Assign { to, .. } => case.assigned_to = to,
                    Step::Close { disposition, reason, suppress, .. } => {
                        case.closed = Some((disposition, reason, at, who));
                        case.suppression.extend(suppress);
                    }
                    Step::Open { .. } => unreachable!("handled above"),
                }
            }
        }
    }
    Ok(cases)
}

/// Every case, open ones first and newest first within each; the viewing is recorded.
pub fn list(j: &mut SqliteJournal, reader: &Reader) -> Result<Vec<Case>> {
    may(reader)?;
    let mut cases = replay(j, None)?;
    cases.sort_by(|a, b| a.closed.is_some().cmp(&b.closed.is_some()).then(b.number.cmp(&a.number)));
    audit::record_by(j, &reader.actor(), Action::View, &format!("cases viewed ({})", cases.len()), &[])?;
    Ok(cases)
}

/// One case, or `None`.
pub fn get(j: &mut SqliteJournal, reader: &Reader, number: &str) -> Result<Option<Case>> {
    may(reader)?;
    Ok(replay(j, Some(number))?.into_iter().next())
}

/// The findings a case was opened from, or `None` when there is no such case: what a
/// breach is sized from (the privacy officer names the case; the case itself stays the
/// auditors').
pub fn findings_of(j: &SqliteJournal, number: &str) -> Result<Option<Vec<String>>> {
    Ok(replay(j, Some(number))?.into_iter().next().map(|c| c.findings))
}

/// Open cases, oldest first, with their age in days on `today` (the dashboard's list).
pub fn open_by_age(j: &SqliteJournal, today: chrono::NaiveDate) -> Result<Vec<(Case, i64)>> {
    let mut open: Vec<(Case, i64)> = replay(j, None)?
        .into_iter()
        .filter(|c| c.closed.is_none())
        .map(|c| {
            let opened = c.opened_at.get(..10).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).unwrap_or(today);
            let age = (today - opened).num_days();
            (c, age)
        })
        .collect();
    open.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.number.cmp(&b.0.number)));
    Ok(open)
}

/// The open cases a finding is in (for the finding's page).
pub fn cases_of_finding(j: &SqliteJournal, finding: &str) -> Result<Vec<(String, bool)>> {
    Ok(replay(j, None)?.into_iter().filter(|c| c.findings.iter().any(|f| f == finding)).map(|c| (c.number, c.closed.is_some())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, employee: &str, day: &str) -> mamori_model::Finding {
        let ms = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().and_hms_opt(1, 0, 0).unwrap().and_utc().timestamp_millis();
        serde_json::from_value(serde_json::json!({
            "id": format!("{rule}:{employee}:{day}"), "rule": rule, "severity": "high", "employees": [employee],
            "from": ms, "to": ms, "detected_at": ms, "evidence": [], "explanation_ja": "", "explanation_en": ""
        }))
        .unwrap()
    }

    #[test]
    fn a_suppression_sets_aside_its_rule_for_its_staff_until_its_day_and_nothing_else() {
        let rule = |r: &str, e: &[&str], until: &str| {
            let why = mamori_model::Suppressed { case: "C-2024-0001".into(), until: until.into(), reason: "team caseload".into() };
            (Suppression { rule: r.into(), employees: e.iter().map(|s| s.to_string()).collect(), until: until.into() }, why)
        };
        let suppressions = [rule("after_hours_lookup", &["E1"], "2024-06-30")];
        let cases = [
            (finding("after_hours_lookup", "E1", "2024-06-01"), true),
            (finding("after_hours_lookup", "E1", "2024-06-30"), true),
            (finding("after_hours_lookup", "E1", "2024-07-01"), false),
            (finding("after_hours_lookup", "E2", "2024-06-01"), false),
            (finding("relative_lookup", "E1", "2024-06-01"), false),
        ];
        let mut findings: Vec<_> = cases.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(apply_suppressions(&mut findings, &suppressions), 2);
        for (f, (_, want)) in findings.iter().zip(&cases) {
            assert_eq!(f.suppressed.is_some(), *want, "{}", f.id);
        }
        // A run without the suppression raises them all again.
        assert_eq!(apply_suppressions(&mut findings, &[]), 0);
        assert!(findings.iter().all(|f| f.suppressed.is_none()));
    }

    #[test]
    fn dispositions_are_a_closed_list() {
        for (text, d) in [("misuse", Disposition::Misuse), ("legitimate", Disposition::Legitimate), ("false-alarm", Disposition::FalseAlarm)] {
            assert_eq!(Disposition::parse(text), Some(d));
        }
        assert_eq!(Disposition::parse("fine"), None);
    }
}
