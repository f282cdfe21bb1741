//! The breach page: sizing a leak (漏えい等の規模) from a case or findings and drafting
//! the report to the PPC (個人情報保護委員会への報告) and the notice list, as
//! `mamori report breach` does, for the privacy officer (and auditors).
//!
//! Recovered files (`--evidence`) stay a command-line step: they are on the server, not
//! in a browser.

use anyhow::{Context, Result, bail};
use mamori_journal::SqliteJournal;

use super::{Reader, Role, View};
use crate::audit::{self, Action};

/// What the privacy officer asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct BreachAsk {
    /// A case number: its findings are sized.
    #[serde(default)]
    pub case: String,
    /// Finding ids, separated by spaces, commas or new lines.
    #[serde(default)]
    pub findings: String,
    /// Event numbers, likewise.
    #[serde(default)]
    pub events: String,
    #[serde(default)]
    pub title: String,
    /// YYYY-MM-DD: when the body became aware.
    #[serde(default)]
    pub aware: String,
    /// `on` when ticked.
    #[serde(default)]
    pub improper_purpose: Option<String>,
    /// html (the draft), notice-csv (who to notify), json.
    #[serde(default)]
    pub format: String,
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '、').filter(|w| !w.is_empty())
}

/// The most event numbers one sizing names.
pub const MAX_EVENTS: usize = 5_000;

/// The sizing as content type and bytes. Making it is recorded under the reader with
/// what it covered (the case, findings, events and how many people), a refusal too.
///
/// A privacy officer sizes from a case an auditor opened: the draft shows the findings'
/// evidence and the people named, which is what the report to the PPC needs; naming
/// findings or events directly is the auditors' (who see them anyway), so a privacy
/// officer cannot read the log event by event through this page.
pub fn breach(j: &mut SqliteJournal, reader: &Reader, ask: &BreachAsk) -> Result<(&'static str, Vec<u8>)> {
    let mut covered = String::new();
    let made = size(j, reader, ask, &mut covered);
    let detail = match &made {
        Ok((_, _, people)) => format!("breach sizing ({covered}) as {}: {people} people", if ask.format.is_empty() { "html" } else { &ask.format }),
        Err(e) => format!("breach sizing ({covered}) refused: {e:#}"),
    };
    audit::record_by(j, &reader.actor(), Action::Report, &detail, &[])?;
    made.map(|(kind, bytes, _)| (kind, bytes))
}

fn size(j: &mut SqliteJournal, reader: &Reader, ask: &BreachAsk, covered: &mut String) -> Result<(&'static str, Vec<u8>, usize)> {
    if !reader.role.may(View::Breach) {
        bail!(crate::tr!("役割 {} は漏えい等の規模を算定できません", "role {} may not size a breach", reader.role.as_str()));
    }
    let named: Vec<String> = words(&ask.findings).map(str::to_owned).collect();
    let events = words(&ask.events).map(|w| w.parse::<u64>().with_context(|| crate::tr!("イベント `{w}` が数字ではありません", "event `{w}` is not a number"))).collect::<Result<Vec<_>>>()?;
    let case = ask.case.trim();
    *covered = [
        (!case.is_empty()).then(|| format!("case {case}")),
        (!named.is_empty()).then(|| format!("findings {}", named.join(" "))),
        (!events.is_empty()).then(|| format!("events {}", events.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ");
    if reader.role == Role::PrivacyOfficer && (!named.is_empty() || !events.is_empty()) {
        bail!(crate::tr!("個人情報保護担当者は、監査担当者が開いた事案から規模を算定します。所見やイベントを指定するのは監査担当者です", "a privacy officer sizes a breach from a case an auditor opened; naming findings or events is the auditors'"));
    }
    if events.len() > MAX_EVENTS {
        bail!(crate::tr!("イベントが {} 件指定されています: 1 回の算定で指定できるのは {MAX_EVENTS} 件までです", "{} events named: at most {MAX_EVENTS} in one sizing", events.len()));
    }
    let mut findings = named.clone();
    if !case.is_empty() {
        findings.extend(crate::cases::findings_of(j, case)?.with_context(|| crate::tr!("事案 {case} はありません", "no case {case}"))?);
    }
    if findings.is_empty() && events.is_empty() {
        bail!(crate::tr!("漏えいしたものを、事案・所見・イベントのいずれかで指定してください", "name what left: a case, findings or events"));
    }
    let aware = crate::timearg::day("aware", &ask.aware).with_context(|| crate::tr!("漏えい等を知った日: YYYY-MM-DD で指定してください", "the day the body became aware: use YYYY-MM-DD"))?;
    let source = (!case.is_empty())
        .then(|| format!("事案 {case}"))
        .into_iter()
        .chain(named.iter().map(|f| format!("所見 {f}")))
        .chain((!events.is_empty()).then(|| format!("記録 {} 件", events.len())))
        .collect::<Vec<_>>()
        .join("、");
    let title = if ask.title.trim().is_empty() { "個人データの漏えい等".to_owned() } else { ask.title.trim().to_owned() };
    let facts = mamori_report::BreachFacts { title, aware, improper_purpose: ask.improper_purpose.is_some(), employees: Vec::new(), source };
    let b = crate::report::breach(j, crate::report::BreachRequest { findings, events, evidence: Vec::new(), facts })?;
    let (kind, bytes) = match ask.format.as_str() {
        "" | "html" => ("text/html; charset=utf-8", b.html().into_bytes()),
        "notice-csv" => ("text/csv; charset=utf-8", b.notice_csv()),
        "json" => ("application/json", b.json().into_bytes()),
        other => bail!(crate::tr!("format `{other}`: html、notice-csv、json のいずれかを指定してください", "format `{other}`: use html, notice-csv or json")),
    };
    Ok((kind, bytes, b.people))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_may_be_separated_as_staff_type_them() {
        assert_eq!(words("a, b\nc、d  e").collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
    }
}
