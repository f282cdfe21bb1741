//! Dates and times on the command line. Municipal staff think in JST dates, so a bare
//! date is midnight in Japan; RFC 3339 is accepted for anything precise.

use anyhow::{Result, bail};
use chrono::{DateTime, FixedOffset, NaiveDate};
use mamori_journal::TimeRange;

pub const JST_SECONDS: i32 = 9 * 3600;

pub fn parse_ms(s: &str) -> Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let jst = FixedOffset::east_opt(JST_SECONDS).expect("JST is a valid offset");
        let t = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_local_timezone(jst).single();
        if let Some(t) = t {
            return Ok(t.timestamp_millis());
        }
    }
    bail!("`{s}` is neither a date (2024-05-08, JST) nor an RFC 3339 time (2024-05-08T10:00:00+09:00)")
}

pub fn range(from: &Option<String>, to: &Option<String>) -> Result<TimeRange> {
    let from = from.as_deref().map(parse_ms).transpose()?.unwrap_or(i64::MIN);
    let to = to.as_deref().map(parse_ms).transpose()?.unwrap_or(i64::MAX);
    if from >= to {
        bail!("--from must be before --to");
    }
    Ok(TimeRange { from, to })
}

/// `--from` and an inclusive `--to` (JST dates or times) as a range of milliseconds: the
/// range ends at the midnight after `--to`.
pub fn inclusive_range(from: Option<&str>, to: Option<&str>) -> Result<mamori_journal::TimeRange> {
    let end = to.map(|t| parse_ms(t).map(|ms| ms + 86_400_000)).transpose()?;
    Ok(mamori_journal::TimeRange { from: from.map(parse_ms).transpose()?.unwrap_or(i64::MIN), to: end.unwrap_or(i64::MAX) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_date_is_midnight_in_japan() {
        // 2024-05-08T00:00+09:00 = 2024-05-07T15:00Z
        assert_eq!(parse_ms("2024-05-08").unwrap(), 1_715_094_000_000);
        assert_eq!(parse_ms("2024-05-08T00:00:00+09:00").unwrap(), 1_715_094_000_000);
        assert!(parse_ms("2024/05/08").is_err());
    }
}
