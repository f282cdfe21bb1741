//! Findings as analyzers build them: evidence noted per (employee, rule) into a
//! [`Rollup`], turned into a [`Finding`] with the rule's Japanese and English names and a
//! text that says how many distinct days, residents and events it covers.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use mamori_model::{Finding, Severity};
use serde::{Deserialize, Serialize};

use crate::observe::Observation;

/// One rule an analyzer raises: its id (stable, in findings and suppressions), its names,
/// the brief's incident it answers, and how its finding is told.
pub struct Rule {
    pub id: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
    /// The seed incidents it answers (`S1`), or `—`.
    pub incident: &'static str,
    /// The finding's sentence in Japanese and English; the counts are added after it.
    pub describe: fn(&Rollup) -> (String, String),
}

/// Everything noted for one (employee, rule).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rollup {
    pub rule: String,
    pub severity: Severity,
    pub employee: String,
    /// Other staff the finding involves (a mail's recipient, the owner of a terminal).
    pub related: Vec<String>,
    pub residents: BTreeSet<String>,
    pub mails: Vec<String>,
    pub devices: Vec<String>,
    pub files: Vec<String>,
    pub evidence: Vec<u64>,
    /// The distinct local days of the evidence.
    pub days: BTreeSet<NaiveDate>,
    pub from: i64,
    pub to: i64,
    /// When the finding was first raised (the event that made the evidence suffice).
    pub detected_at: i64,
    /// Things worth telling, with how often each was seen.
    pub detail: BTreeMap<String, usize>,
}

impl Rollup {
    pub fn n(&self) -> usize {
        self.evidence.len()
    }

    /// The details, `text ×count`, joined.
    pub fn details(&self) -> String {
        self.detail.iter().map(|(k, v)| if *v > 1 { format!("{k} ×{v}") } else { k.clone() }).collect::<Vec<_>>().join("、")
    }

    pub fn add_related(&mut self, other: &str) {
        if !other.is_empty() && other != self.employee && !self.related.iter().any(|o| o == other) {
            self.related.push(other.to_owned());
        }
    }

    pub fn add_device(&mut self, device: &str) {
        if !device.is_empty() && !self.devices.iter().any(|d| d == device) {
            self.devices.push(device.to_owned());
        }
    }

    pub fn add_file(&mut self, file: &str) {
        if !file.is_empty() && !self.files.iter().any(|d| d == file) {
            self.files.push(file.to_owned());
        }
    }

    pub fn add_mail(&mut self, mail: &str) {
        if !mail.is_empty() && !self.mails.iter().any(|d| d == mail) {
            self.mails.push(mail.to_owned());
        }
    }
}

/// One piece of evidence.
pub struct Note<'a> {
    pub rule: &'static str,
    pub severity: Severity,
    pub employee: &'a str,
    pub seq: u64,
    pub time: i64,
    pub day: NaiveDate,
    pub resident: &'a str,
    pub detail: Option<String>,
    /// The time of the event being judged: when the finding is raised (later than `time`
    /// for evidence held back until it sufficed).
    pub now: i64,
}

impl<'a> Note<'a> {
    /// Evidence of `rule` against `employee` from the observed event itself.
    pub fn of(o: &Observation, rule: &'static str, severity: Severity, employee: &'a str) -> Note<'a> {
        Note { rule, severity, employee, seq: o.seq, time: o.time, day: o.day, resident: "", detail: None, now: o.time }
    }

    pub fn resident(mut self, resident: &'a str) -> Self {
        self.resident = resident;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The findings so far, keyed by (employee, rule).
#[derive(Default, Serialize, Deserialize)]
pub struct Findings {
    #[serde(with = "crate::pairs")]
    rollups: BTreeMap<(String, String), Rollup>,
}

impl Findings {
    /// Adds evidence; the finding's severity is the highest noted.
    pub fn note(&mut self, n: Note) -> &mut Rollup {
        let r = self.rollups.entry((n.employee.to_owned(), n.rule.to_owned())).or_insert_with(|| Rollup {
            rule: n.rule.to_owned(),
            severity: n.severity,
            employee: n.employee.to_owned(),
            related: Vec::new(),
            residents: BTreeSet::new(),
            mails: Vec::new(),
            devices: Vec::new(),
            files: Vec::new(),
            evidence: Vec::new(),
            days: BTreeSet::new(),
            from: n.time,
            to: n.time,
            detected_at: n.now,
            detail: BTreeMap::new(),
        });
        r.severity = r.severity.max(n.severity);
        if !n.resident.is_empty() {
            r.residents.insert(n.resident.to_owned());
        }
        if !r.evidence.contains(&n.seq) {
            r.evidence.push(n.seq);
        }
        r.days.insert(n.day);
        r.from = r.from.min(n.time);
        r.to = r.to.max(n.time);
        r.detected_at = r.detected_at.min(n.now);
        if let Some(d) = n.detail {
            *r.detail.entry(d).or_default() += 1;
        }
        r
    }

    pub fn get_mut(&mut self, employee: &str, rule: &str) -> Option<&mut Rollup> {
        self.rollups.get_mut(&(employee.to_owned(), rule.to_owned()))
    }

    pub fn rollups(&self) -> impl Iterator<Item = &Rollup> {
        self.rollups.values()
    }
}

/// The rule behind a rule id, from every registered analyzer.
pub fn rule(id: &str) -> Option<&'static Rule> {
    crate::analyzers::REGISTRY.iter().flat_map(|r| r.rules.iter()).find(|r| r.id == id)
}

/// What the analyzers saw (the accounts, terminals, households, shares in `detail`) is
/// written into the Japanese sentence; an English sentence that does not name it gets it
/// after the counts, as recorded, so a reader in English loses no evidence.
fn seen_en(sentence: &str, r: &Rollup) -> String {
    let details = r.details();
    if details.is_empty() || sentence.contains(&details) { String::new() } else { format!("; seen: {details}") }
}

/// The finding a rollup becomes.
pub fn finding(r: &Rollup) -> Finding {
    let info = rule(&r.rule);
    let (ja, en) = info.map_or_else(|| (r.rule.clone(), r.rule.clone()), |i| (i.describe)(r));
    let span = match (r.days.first(), r.days.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}〜{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    };
    let residents = if r.residents.is_empty() { String::new() } else { format!("・住民 {} 人", r.residents.len()) };
    let residents_en = if r.residents.is_empty() { String::new() } else { format!(", {} residents", r.residents.len()) };
    Finding {
        id: format!("{}:{}", r.rule, r.employee),
        rule: r.rule.clone(),
        title_ja: info.map(|i| i.ja.to_owned()).unwrap_or_default(),
        title_en: info.map(|i| i.en.to_owned()).unwrap_or_default(),
        severity: r.severity,
        employees: std::iter::once(r.employee.clone()).chain(r.related.iter().cloned()).collect(),
        residents: r.residents.iter().cloned().collect(),
        devices: r.devices.clone(),
        files: r.files.clone(),
        mails: r.mails.clone(),
        from: r.from,
        to: r.to,
        detected_at: r.detected_at,
        days: r.days.len(),
        evidence: r.evidence.clone(),
        explanation_ja: format!("{ja}（{} 日間{residents}・記録 {} 件、{span}）", r.days.len(), r.n()),
        explanation_en: format!("{en} ({} distinct days{residents_en}, {} events, {span}){}.", r.days.len(), r.n(), seen_en(&en, r)),
        suppressed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered rule's finding tells in English what the Japanese tells: the
    /// accounts, terminals and households the analyzer noted, not only the counts.
    #[test]
    fn an_english_finding_names_what_the_japanese_one_names() {
        for rule in crate::analyzers::REGISTRY.iter().flat_map(|r| r.rules.iter()) {
            let day = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
            let r = Rollup {
                rule: rule.id.to_owned(),
                severity: Severity::High,
                employee: "E0051".into(),
                related: Vec::new(),
                residents: BTreeSet::from(["000000305".to_owned()]),
                mails: Vec::new(),
                devices: Vec::new(),
                files: Vec::new(),
                evidence: vec![1, 2],
                days: BTreeSet::from([day]),
                from: 0,
                to: 0,
                detected_at: 0,
                detail: BTreeMap::from([("元同一世帯: 元世帯 H001854（〜2023-09-16）".to_owned(), 2)]),
            };
            let f = finding(&r);
            if f.explanation_ja.contains("H001854") {
                assert!(f.explanation_en.contains("H001854（〜2023-09-16） ×2"), "{}: {}", rule.id, f.explanation_en);
            }
        }
    }
}
