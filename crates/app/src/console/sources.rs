//! The sources page: per source, its last event, events per day, lines refused, whether
//! it went silent, and (on request, since it reads every event) the data-quality report
//! of `mamori check`. For administrators and auditors; nothing here names a resident.
//!
//! Silence is judged against the source's own rhythm, not a fixed number of days: a
//! badge reader quiet every weekend is not silent on Monday morning, a registry that has
//! logged every working day is silent after two. A source is silent when the days since
//! its last event (counted to the latest event of any source, so an old store is judged
//! as of its own end) exceed the longest gap it ever had before, and at least
//! [`MIN_SILENT_DAYS`].

use anyhow::{Result, bail};
use mamori_journal::{Journal, SqliteJournal};

use super::{Reader, Role, View};
use crate::audit::{self, Action};

/// Fewer days than this without events is never called silence.
pub const MIN_SILENT_DAYS: i64 = 2;
/// Days the per-day chart shows.
pub const CHART_DAYS: i64 = 60;

/// One source's activity.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceActivity {
    pub source: String,
    pub events: u64,
    pub first_day: String,
    pub last_day: String,
    /// Days from its last event to the latest event of any source.
    pub quiet_days: i64,
    /// The longest run of days without events between its first and last event.
    pub longest_gap: i64,
    pub silent: bool,
    /// The last [`CHART_DAYS`] days up to the latest event of any source: (date, events).
    pub per_day: Vec<(String, u64)>,
    pub dead_letters: u64,
}

fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0).map(|t| t.date_naive().format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// Activity of every source from the per-day counts (no event is read): what the
/// dashboard judges silence by. Silence is judged up to the latest event of any source,
/// so a store whose sources all stopped shows that in its latest event, not here.
pub fn activity(j: &SqliteJournal) -> Result<Vec<SourceActivity>> {
    // mamori's own actions (product `mamori`) are not a source: a console in use would
    // make every real source look silent beside them.
    let counts: Vec<_> = j.source_days()?.into_iter().filter(|c| c.0 != crate::audit::PRODUCT).collect();
    let dead: std::collections::BTreeMap<String, u64> = j.dead_letter_counts()?.into_iter().collect();
    Ok(judge(&counts, &dead))
}

/// [`activity`] from the counts: (source, JST day number, events) sorted by source and
/// day, and lines refused per source.
fn judge(counts: &[(String, i64, u64)], dead: &std::collections::BTreeMap<String, u64>) -> Vec<SourceActivity> {
    let Some(end) = counts.iter().map(|c| c.1).max() else {
        return dead.iter().map(|(s, n)| SourceActivity { source: s.clone(), events: 0, first_day: String::new(), last_day: String::new(), quiet_days: 0, longest_gap: 0, silent: false, per_day: Vec::new(), dead_letters: *n }).collect();
    };
    let mut out: Vec<SourceActivity> = Vec::new();
    for chunk in counts.chunk_by(|a, b| a.0 == b.0) {
        let source = chunk[0].0.clone();
        let (first, last) = (chunk[0].1, chunk[chunk.len() - 1].1);
        let longest_gap = chunk.windows(2).map(|w| w[1].1 - w[0].1 - 1).max().unwrap_or(0);
        let quiet_days = end - last;
        let per_day = (end - CHART_DAYS + 1..=end)
            .map(|d| (day_text(d), chunk.iter().find(|c| c.1 == d).map_or(0, |c| c.2)))
            .collect();
        out.push(SourceActivity {
            events: chunk.iter().map(|c| c.2).sum(),
            first_day: day_text(first),
            last_day: day_text(last),
            quiet_days,
            longest_gap,
            silent: quiet_days >= MIN_SILENT_DAYS && quiet_days > longest_gap,
            per_day,
            dead_letters: dead.get(&source).copied().unwrap_or(0),
            source,
        });
    }
    for (s, n) in dead {
        if !out.iter().any(|a| &a.source == s) {
            out.push(SourceActivity { source: s.clone(), events: 0, first_day: String::new(), last_day: String::new(), quiet_days: 0, longest_gap: 0, silent: false, per_day: Vec::new(), dead_letters: *n });
        }
    }
    out
}

/// The sources page: activity, the latest refused lines and, when `check` is asked for,
/// `mamori check`'s report. It only reads, so the server runs it on its reading
/// connection (a check reads every event, and ingest must not wait behind it); the
/// viewing is recorded after, with [`record_view`]. A refused line may quote personal
/// data, and an administrator sees none: for them the lines' reasons and the check's
/// resident examples are left out.
pub struct SourcesView {
    pub activity: Vec<SourceActivity>,
    /// (source, file, line, reason), newest first; the reason empty for an administrator.
    pub dead_letters: Vec<(String, String, u64, String)>,
    pub checks: Option<Vec<crate::check::SourceCheck>>,
}

/// The sources page; `products` (source name → product, [`crate::check::products`]) lets
/// the check count a source's refused lines under the product its events carry.
pub fn sources(j: &SqliteJournal, reader: &Reader, check: bool, products: &std::collections::BTreeMap<String, String>) -> Result<SourcesView> {
    if !reader.role.may(View::Sources) {
        bail!(crate::tr!("役割 {} はソースを見られません", "role {} may not see the sources", reader.role.as_str()));
    }
    let activity = activity(j)?;
    let personal = reader.role != Role::Administrator;
    let dead_letters = j
        .dead_letters(50)?
        .into_iter()
        .map(|d| (d.source, if personal { d.file } else { super::mask_numbers(&d.file) }, d.line, if personal { d.reason } else { String::new() }))
        .collect();
    let checks = if check {
        let master = crate::detect::master_from_store(j)?;
        let dir = mamori_enrich::Directory::new(&master);
        let limits = crate::check::Thresholds::default();
        let checks = crate::check::check(j, &dir, chrono_tz::Asia::Tokyo, None, products, limits)?;
        Some(if personal { checks } else { crate::check::without_personal_examples(checks, limits) })
    } else {
        None
    };
    Ok(SourcesView { activity, dead_letters, checks })
}

impl SourcesView {
    /// What the log says of this view.
    pub fn summary(&self) -> String {
        let what = if self.checks.is_some() { "sources checked" } else { "sources viewed" };
        format!("{what} ({} sources, {} refused lines shown)", self.activity.len(), self.dead_letters.len())
    }
}

/// Records that `reader` saw the sources page (refused lines can quote personal data).
pub fn record_view(j: &mut SqliteJournal, reader: &Reader, summary: &str) -> Result<()> {
    audit::record_by(j, &reader.actor(), Action::View, summary, &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(source: &str, ds: &[i64]) -> Vec<(String, i64, u64)> {
        ds.iter().map(|d| (source.to_owned(), *d, 10)).collect()
    }

    #[test]
    fn silence_is_judged_against_the_sources_own_rhythm() {
        // Day 100 is the latest event of any source.
        let weekdays: Vec<i64> = (60..=100).filter(|d| d % 7 < 5).collect();
        let every_day: Vec<i64> = (60..=97).collect();
        let mut counts = Vec::new();
        counts.extend(days("badge", &weekdays));
        counts.extend(days("registry", &every_day));
        counts.extend(days("tax", &(60..=100).collect::<Vec<_>>()));
        counts.extend(days("web", &[60, 61, 99]));
        let got = judge(&counts, &Default::default());
        let silent: Vec<(&str, bool)> = got.iter().map(|a| (a.source.as_str(), a.silent)).collect();
        // The registry logged every day and has said nothing for three: silent. The
        // badge reader's weekend gap is its rhythm; the web proxy's long gaps are too;
        // tax logged on the last day.
        assert_eq!(silent, [("badge", false), ("registry", true), ("tax", false), ("web", false)]);
        let registry = &got[1];
        assert_eq!((registry.quiet_days, registry.longest_gap, registry.per_day.len()), (3, 0, CHART_DAYS as usize));
        assert_eq!(registry.per_day.last().unwrap().1, 0);
    }

    #[test]
    fn a_source_that_only_refused_lines_is_listed() {
        let dead = [("squid".to_owned(), 4)].into_iter().collect();
        let got = judge(&days("tax", &[1, 2]), &dead);
        assert_eq!(got.iter().map(|a| (a.source.as_str(), a.dead_letters)).collect::<Vec<_>>(), [("tax", 0), ("squid", 4)]);
    }
}
