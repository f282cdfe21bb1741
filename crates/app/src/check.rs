//! `mamori check`: does a town's mapping join up? After a master load and an import, per
//! source: whose actions its events are (and how each account was found: in the source's
//! own account system, through another by a unique name, or not at all), the hosts and
//! residents master data does not know, codes outside their code tables, the time covered
//! and its gaps, events per day, and the lines refused. Thresholds make it exit non-zero,
//! so that a mapping can be checked in a town's own CI; every shortfall says what to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;
use mamori_enrich::{Directory, account_system};
use mamori_journal::{Journal, SqliteJournal};
use mamori_model::{ClassUid, Event};
use serde::Serialize;

/// What must hold for the check to pass.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Share of a source's events whose actor is a known account or person.
    pub min_resolved: f64,
    /// Share of events naming a host whose host is in `terminals.csv`.
    pub min_known_hosts: f64,
    /// Share of record accesses whose 宛名番号 is in `residents.csv`.
    pub min_known_residents: f64,
    /// Dead letters as a share of a source's lines.
    pub max_dead_letters: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_resolved: 0.95, min_known_hosts: 0.9, min_known_residents: 0.95, max_dead_letters: 0.01 }
    }
}

/// Counts with a few examples, most frequent first.
#[derive(Debug, Default, Serialize)]
pub struct Tally {
    pub count: u64,
    pub examples: Vec<(String, u64)>,
}

fn tally(map: &BTreeMap<String, u64>) -> Tally {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Tally { count: map.values().sum(), examples: v.into_iter().take(5).collect() }
}

#[derive(Debug, Default, Serialize)]
pub struct SourceCheck {
    pub source: String,
    pub events: u64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// Days with events, and the median of events on them.
    pub days: usize,
    pub median_per_day: u64,
    /// The longest run of working days in the span with no event at all.
    pub longest_gap_working_days: usize,
    /// The account system the source's accounts are looked up in first.
    pub account_system: String,
    /// Events whose account is in that system, or names the person directly (badges).
    pub actors_in_own_system: u64,
    /// Accounts found only in another system, by its unique name there: system → events.
    pub actors_in_other_systems: BTreeMap<String, u64>,
    /// Windows computer accounts (`PC-1$`: a device event, charged by its host) and mail
    /// received from outside: not staff accounts, not counted either way.
    pub not_staff: u64,
    /// Accounts live in several systems, none the source's own: no one can be named.
    pub ambiguous_accounts: Tally,
    pub unknown_accounts: Tally,
    pub events_with_host: u64,
    pub unknown_hosts: Tally,
    pub record_accesses: u64,
    /// Record accesses of people who are not residents, by the source's own key
    /// (`permit:…`, `name:…/birth`).
    pub non_resident_subjects: u64,
    pub unknown_residents: Tally,
    /// Fields whose value was not in the source's code table: field → values.
    pub uncoded: BTreeMap<String, Tally>,
    pub dead_letters: Tally,
    /// What fell short, each with what to do about it (in Japanese, as `check` prints).
    pub problems: Vec<String>,
}

impl SourceCheck {
    fn resolved_share(&self) -> f64 {
        let resolved = self.actors_in_own_system + self.actors_in_other_systems.values().sum::<u64>();
        resolved as f64 / self.events.saturating_sub(self.not_staff).max(1) as f64
    }
}

#[derive(Default)]
struct Acc {
    check: SourceCheck,
    per_day: BTreeMap<NaiveDate, u64>,
    unknown_accounts: BTreeMap<String, u64>,
    ambiguous: BTreeMap<String, u64>,
    unknown_hosts: BTreeMap<String, u64>,
    unknown_residents: BTreeMap<String, u64>,
    uncoded: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A dead letter's reason with the values it quotes left out, so that lines refused for
/// one cause count together (`field \`date\`: \`…\` is not a date`) rather than one
/// line each; the names of fields and columns stay.
fn reason_kind(reason: &str) -> String {
    let mut kind = String::new();
    for (i, part) in reason.split('`').enumerate() {
        if i % 2 == 0 {
            kind.push_str(part);
        } else {
            let names_a_field = ["field ", "column ", "列 "].iter().any(|w| kind.ends_with(w));
            kind.push('`');
            kind.push_str(if names_a_field { part } else { "…" });
            kind.push('`');
        }
    }
    match kind.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &kind[..cut]),
        None => kind,
    }
}

/// Source name → the product its events carry, for [`check`]: a source's `product`, else
/// its own name.
pub fn products(sources: &BTreeMap<String, mamori_sources::SourceConfig>) -> BTreeMap<String, String> {
    sources.iter().map(|(name, c)| (name.clone(), c.product.clone().unwrap_or_else(|| name.clone()))).collect()
}

/// Checks every source in the store (or `only`) against master data. Events are counted
/// under the product they carry; a source configured with another `product` (`zeimu-tsv`
/// writing `zeimu`) leaves dead letters under its own name, which `products` (source name
/// → product, from mamori.toml) maps, so its lines and refusals are judged together.
pub fn check(j: &SqliteJournal, dir: &Directory, tz: chrono_tz::Tz, only: Option<&str>, products: &BTreeMap<String, String>, limits: Thresholds) -> Result<Vec<SourceCheck>> {
    let product_of = |source: &str| products.get(source).cloned().unwrap_or_else(|| source.to_owned());
    let only = only.map(product_of);
    let only = only.as_deref();
    let residents: BTreeSet<&str> = dir.residents().iter().map(String::as_str).collect();
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    crate::detect::each_event(j, i64::MIN, None, |_, e: &Event| {
        let source = e.metadata.product.clone();
        // mamori's own audit records are not a source's.
        if e.class_uid == ClassUid::ApiActivity || only.is_some_and(|o| o != source) {
            return;
        }
        let day = chrono::DateTime::from_timestamp_millis(e.time).unwrap_or_default().with_timezone(&tz).date_naive();
        let a = acc.entry(source.clone()).or_default();
        a.check.events += 1;
        *a.per_day.entry(day).or_default() += 1;
        let own = mamori_enrich::event_account_system(e);
        if a.check.account_system.is_empty() {
            a.check.account_system = own.to_owned();
        }
        let account = e.actor.user.uid.as_str();
        let inbound = e.unmapped.extra.get("direction").and_then(|d| d.as_str()) == Some("inbound");
        if e.actor.user.employee_uid.is_some() {
            a.check.actors_in_own_system += 1;
        } else if account.ends_with('$') || inbound {
            a.check.not_staff += 1;
        } else {
            let systems = dir.account_systems(account, day);
            match systems.as_slice() {
                s if s.contains(&own) => a.check.actors_in_own_system += 1,
                [other] => *a.check.actors_in_other_systems.entry((*other).to_owned()).or_default() += 1,
                [] => *a.unknown_accounts.entry(account.to_owned()).or_default() += 1,
                many => *a.ambiguous.entry(format!("{account} ({})", many.join(", "))).or_default() += 1,
            }
        }
        if let Some(host) = e.device.as_ref().and_then(|d| d.hostname.as_deref()).filter(|h| !h.is_empty()) {
            a.check.events_with_host += 1;
            if !dir.terminal_known(host) {
                *a.unknown_hosts.entry(host.to_owned()).or_default() += 1;
            }
        }
        if e.class_uid == ClassUid::DatastoreActivity {
            a.check.record_accesses += 1;
            let resident = e.resident_uid().unwrap_or_default();
            if resident.contains(':') {
                a.check.non_resident_subjects += 1;
            } else if !residents.contains(resident) {
                *a.unknown_residents.entry(if resident.is_empty() { "(空欄)".to_owned() } else { resident.to_owned() }).or_default() += 1;
            }
        }
        if let Some(fields) = e.unmapped.extra.get("uncoded").and_then(|v| v.as_array()) {
            for f in fields.iter().filter_map(|f| f.as_str()) {
                let value = match f {
                    "operation" | "activity" => e.unmapped.operation.clone().unwrap_or_default(),
                    other => e.unmapped.extra.get(other).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default(),
                };
                *a.uncoded.entry(f.to_owned()).or_default().entry(value).or_default() += 1;
            }
        }
    })?;
    let mut dead: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for d in j.dead_letters(usize::MAX)? {
        let source = product_of(&d.source);
        if only.is_some_and(|o| o != source) {
            continue;
        }
        *dead.entry(source).or_default().entry(reason_kind(&d.reason)).or_default() += 1;
    }
    for source in dead.keys() {
        acc.entry(source.clone()).or_default();
    }
    // A source asked for by name that left nothing at all: a check of it must not pass
    // by having nothing to find fault with (an import under the wrong --source).
    if let Some(o) = only {
        acc.entry(o.to_owned()).or_default();
    }
    let mut out = Vec::new();
    for (source, mut a) in acc {
        let c = &mut a.check;
        c.source = source.clone();
        if c.account_system.is_empty() {
            c.account_system = account_system(&source).to_owned();
        }
        c.first_day = a.per_day.keys().next().copied();
        c.last_day = a.per_day.keys().last().copied();
        c.days = a.per_day.len();
        let mut counts: Vec<u64> = a.per_day.values().copied().collect();
        counts.sort_unstable();
        c.median_per_day = counts.get(counts.len() / 2).copied().unwrap_or(0);
        if let (Some(first), Some(last)) = (c.first_day, c.last_day) {
            let (mut run, mut longest) = (0, 0);
            for day in first.iter_days().take_while(|d| *d <= last) {
                if a.per_day.contains_key(&day) {
                    run = 0;
                } else if !dir.is_day_off(day) {
                    run += 1;
                    longest = longest.max(run);
                }
            }
            c.longest_gap_working_days = longest;
        }
        c.unknown_accounts = tally(&a.unknown_accounts);
        c.ambiguous_accounts = tally(&a.ambiguous);
        c.unknown_hosts = tally(&a.unknown_hosts);
        c.unknown_residents = tally(&a.unknown_residents);
        c.uncoded = a.uncoded.iter().map(|(f, m)| (f.clone(), tally(m))).collect();
        c.dead_letters = tally(dead.get(&source).unwrap_or(&BTreeMap::new()));
        judge(c, limits);
        out.push(a.check);
    }
    Ok(out)
}

/// The report for a reader who sees no personal data (an administrator): the 宛名番号 of
/// unknown residents and the reasons of refused lines (which quote the line) left out,
/// and the problems said again without them.
pub fn without_personal_examples(mut checks: Vec<SourceCheck>, limits: Thresholds) -> Vec<SourceCheck> {
    for c in &mut checks {
        c.unknown_residents.examples.clear();
        c.dead_letters.examples.clear();
        c.problems.clear();
        judge(c, limits);
    }
    checks
}

/// Names what falls short of `limits`, and the fix.
fn judge(c: &mut SourceCheck, limits: Thresholds) {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    if c.events == 0 && c.dead_letters.count == 0 {
        c.problems.push(format!(
            "ソース `{}` からのイベントも取り込めなかった行もありません: このソースでは何も取り込まれていません（各ログを取り込んだ --source を確認してください。別のソースとして取り込めなかった行は `mamori deadletter list` に出ます）",
            c.source
        ));
    }
    let resolved = c.resolved_share();
    if c.events > c.not_staff && resolved < limits.min_resolved {
        c.problems.push(format!(
            "操作者を職員に結び付けられたのはイベントの {}（{} 以上が必要）: アカウントはまずシステム `{}` で探します。accounts.csv に system = {} で登録してください（または、ソースの actor 列をシステムが記録するアカウントに対応付けてください）。不明: {}",
            pct(resolved),
            pct(limits.min_resolved),
            c.account_system,
            c.account_system,
            examples(&c.unknown_accounts)
        ));
    }
    // A records system's operators are its own accounts; found only under another
    // system's name, they resolve today by luck (the name is unique) and silently stop
    // the day another system has the same name.
    let elsewhere: u64 = c.actors_in_other_systems.values().sum();
    if c.record_accesses > 0 && elsewhere as f64 > 0.05 * c.events as f64 {
        c.problems.push(format!(
            "{} 件のイベントのアカウントが、この業務システムの `{}` ではなく {} で一意な名前として見つかりました: accounts.csv に system = {} で登録してください",
            elsewhere,
            c.account_system,
            c.actors_in_other_systems.keys().cloned().collect::<Vec<_>>().join(", "),
            c.account_system
        ));
    }
    if !c.ambiguous_accounts.examples.is_empty() {
        c.problems.push(format!(
            "{} 件のイベントのアカウントは複数の他システムにあり `{}` にはないため、職員を特定できません: accounts.csv にシステム {} で登録してください。{}",
            c.ambiguous_accounts.count,
            c.account_system,
            c.account_system,
            examples(&c.ambiguous_accounts)
        ));
    }
    let known_hosts = 1.0 - c.unknown_hosts.count as f64 / c.events_with_host.max(1) as f64;
    if c.events_with_host > 0 && known_hosts < limits.min_known_hosts {
        c.problems.push(format!(
            "端末名のあるイベントのうちマスタにある端末は {}（{} 以上が必要）: terminals.csv に端末を登録してください（端末名は大文字・小文字とドメインを区別せずに照合します）。不明: {}",
            pct(known_hosts),
            pct(limits.min_known_hosts),
            examples(&c.unknown_hosts)
        ));
    }
    let known_residents = 1.0 - c.unknown_residents.count as f64 / c.record_accesses.saturating_sub(c.non_resident_subjects).max(1) as f64;
    if c.record_accesses > 0 && known_residents < limits.min_known_residents {
        c.problems.push(format!(
            "住民記録の照会のうちマスタにある宛名番号は {}（{} 以上が必要）: `resident` 列が residents.csv と同じ宛名番号か（先頭のゼロを含めて）確認してください。不明: {}",
            pct(known_residents),
            pct(limits.min_known_residents),
            examples(&c.unknown_residents)
        ));
    }
    for (field, t) in &c.uncoded {
        if field == "activity" {
            // Neither a read nor a change: the analyzers that weigh one against the other
            // (extraction, changes without business) pass these rows by.
            c.problems.push(format!("{} 件の記録照会の操作が [activity] にありません（照会 = 1、更新 = 2、登録 = 6、削除 = 7 のように追加してください。ないと照会とも変更とも判断できません）: {}", t.count, examples(t)));
            continue;
        }
        c.problems.push(format!("{} 件のイベントの `{field}` がコード表 [codes.{field}] にありません。追加してください: {}", t.count, examples(t)));
    }
    let lines = c.events + c.dead_letters.count;
    let dead = c.dead_letters.count as f64 / lines.max(1) as f64;
    if c.dead_letters.count > 0 && dead > limits.max_dead_letters {
        c.problems.push(format!(
            "行の {} が取り込めませんでした（{} 以下が必要）: `mamori deadletter list` で各行と理由を確認できます。理由: {}",
            pct(dead),
            pct(limits.max_dead_letters),
            examples(&c.dead_letters)
        ));
    }
}

fn examples(t: &Tally) -> String {
    t.examples.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ")
}

pub fn print(checks: &[SourceCheck], out: &mut impl Write) -> Result<()> {
    for c in checks {
        let verdict = if c.problems.is_empty() { "OK" } else { "NG" };
        writeln!(out, "== {} [{verdict}]", c.source)?;
        let span = match (c.first_day, c.last_day) {
            (Some(a), Some(b)) => format!("{a} 〜 {b}"),
            _ => "（イベントなし）".into(),
        };
        writeln!(out, "  イベント {} 件, 期間 {span}, 記録のある日 {} 日（1 日の中央値 {} 件）, 記録のない最長の平日連続 {} 日", c.events, c.days, c.median_per_day, c.longest_gap_working_days)?;
        let other: u64 = c.actors_in_other_systems.values().sum();
        writeln!(
            out,
            "  操作者: 自システム `{}` で解決 {} 件, 他システムの一意な名前で解決 {} 件{}, 複数システムにあり特定不能 {} 件, 不明 {} 件（解決率 {:.1}%; 端末のコンピュータアカウント・外部からの受信 {} 件は除外）",
            c.account_system,
            c.actors_in_own_system,
            other,
            if c.actors_in_other_systems.is_empty() { String::new() } else { format!(" ({})", c.actors_in_other_systems.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", ")) },
            c.ambiguous_accounts.count,
            c.unknown_accounts.count,
            c.resolved_share() * 100.0,
            c.not_staff
        )?;
        if c.events_with_host > 0 {
            writeln!(out, "  端末: 端末名のあるイベント {} 件, マスタにない端末 {} 件", c.events_with_host, c.unknown_hosts.count)?;
        }
        if c.record_accesses > 0 {
            writeln!(out, "  住民記録の照会 {} 件（住民以外の記録 {} 件）, マスタにない宛名番号 {} 件", c.record_accesses, c.non_resident_subjects, c.unknown_residents.count)?;
        }
        writeln!(out, "  取り込めなかった行 {} 件", c.dead_letters.count)?;
        for p in &c.problems {
            writeln!(out, "  NG: {p}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_refused_for_one_cause_count_together_with_their_values_left_out() {
        let a = reason_kind("field `date`: `2024/02/28 10:26:00` is not a date (令和6年5月8日, R6.5.8, 5060508, 2024/05/08 …)");
        let b = reason_kind("field `date`: `2024/03/01 09:00:00` is not a date (令和6年5月8日, R6.5.8, 5060508, 2024/05/08 …)");
        assert_eq!(a, b);
        assert!(a.starts_with("field `date`: `…` is not a date"), "{a}");
        assert_ne!(reason_kind("field `time`: `x` is not a time"), reason_kind("field `date`: `x` is not a time"));
    }
}
