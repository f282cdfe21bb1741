//! Dates and times on the command line. Municipal staff think in JST dates, so a bare
//! date is midnight in Japan; RFC 3339 is accepted for anything precise.

use anyhow::{Result, bail};
use chrono::{DateTime, FixedOffset, NaiveDate};

pub const JST_SECONDS: i32 = 9 * 3600;

/// The years a date may name: the records of a municipality, not the calendar's ends
/// (chrono panics on arithmetic near those, and a request must never panic the server).
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2999;

/// A date as `YYYY-MM-DD` in [`YEARS`]; `field` names it in the error.
pub fn day(field: &str, text: &str) -> Result<NaiveDate> {
    match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        Ok(d) if YEARS.contains(&chrono::Datelike::year(&d)) => Ok(d),
        Ok(_) => bail!(crate::tr!("{field}: `{text}` は対象の年（{}–{}）の範囲外です", "{field}: `{text}` is outside the years {}–{}", YEARS.start(), YEARS.end())),
        Err(_) => bail!(crate::tr!("{field}: `{text}` は日付（YYYY-MM-DD）ではありません", "{field}: `{text}` is not a date (YYYY-MM-DD)")),
    }
}

pub fn parse_ms(s: &str) -> Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        if !YEARS.contains(&chrono::Datelike::year(&t)) {
            bail!(crate::tr!("`{s}` は対象の年（{}–{}）の範囲外です", "`{s}` is outside the years {}–{}", YEARS.start(), YEARS.end()));
        }
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if !YEARS.contains(&chrono::Datelike::year(&d)) {
            bail!(crate::tr!("`{s}` は対象の年（{}–{}）の範囲外です", "`{s}` is outside the years {}–{}", YEARS.start(), YEARS.end()));
        }
        let jst = FixedOffset::east_opt(JST_SECONDS).expect("JST is a valid offset");
        let t = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_local_timezone(jst).single();
        if let Some(t) = t {
            return Ok(t.timestamp_millis());
        }
    }
    bail!(crate::tr!("`{s}` は日付（2024-05-08、日本時間）でも RFC 3339 の時刻（2024-05-08T10:00:00+09:00）でもありません", "`{s}` is neither a date (2024-05-08, JST) nor an RFC 3339 time (2024-05-08T10:00:00+09:00)"))
}

/// `--from` and an inclusive `--to` as a range of milliseconds, the same for every command
/// (events, reports): a bare JST date as `--to` takes that whole day (the range ends at
/// the midnight after it); an RFC 3339 time ends the range at that instant.
pub fn inclusive_range(from: Option<&str>, to: Option<&str>) -> Result<mamori_journal::TimeRange> {
    let end = to.map(end_of).transpose()?;
    let range = mamori_journal::TimeRange { from: from.map(parse_ms).transpose()?.unwrap_or(i64::MIN), to: end.unwrap_or(i64::MAX) };
    // A reversed period would give an answer of no records that reads as a true one.
    if range.from >= range.to {
        bail!(crate::tr!("--from（{}）が --to（{}）より後です", "--from ({}) is after --to ({})", from.unwrap_or_default(), to.unwrap_or_default()));
    }
    Ok(range)
}

/// Where a period given up to `to` ends: the midnight after a date, the instant of a time.
fn end_of(to: &str) -> Result<i64> {
    let whole_day = NaiveDate::parse_from_str(to.trim(), "%Y-%m-%d").is_ok();
    Ok(parse_ms(to)? + if whole_day { 86_400_000 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inclusive_period_of_one_day_is_taken_and_a_reversed_one_refused() {
        let day = inclusive_range(Some("2024-03-01"), Some("2024-03-01")).unwrap();
        assert_eq!(day.to - day.from, 86_400_000);
        let err = inclusive_range(Some("2024-04-01"), Some("2024-03-01")).unwrap_err().to_string();
        assert!(err.contains("is after --to") || err.contains("--to（2024-03-01）より後です"), "{err}");
        assert!(inclusive_range(None, None).is_ok());
        // A time ends the period where it says, not a day later.
        let morning = inclusive_range(Some("2024-03-01"), Some("2024-03-01T10:00:00+09:00")).unwrap();
        assert_eq!(morning.to - morning.from, 10 * 3_600_000);
    }

    #[test]
    fn a_bare_date_is_midnight_in_japan() {
        // 2024-05-08T00:00+09:00 = 2024-05-07T15:00Z
        assert_eq!(parse_ms("2024-05-08").unwrap(), 1_715_094_000_000);
        assert_eq!(parse_ms("2024-05-08T00:00:00+09:00").unwrap(), 1_715_094_000_000);
        assert!(parse_ms("2024/05/08").is_err());
    }

    /// A year chrono parses but cannot add a day to once panicked a console request and
    /// poisoned the journal's lock; every date a user types is held to [`YEARS`].
    #[test]
    fn dates_outside_the_records_years_are_refused_not_panicked_on() {
        for text in ["+262142-12-31", "-262143-01-01", "1899-12-31", "3000-01-01"] {
            assert!(day("aware", text).is_err() && parse_ms(text).is_err(), "{text}");
        }
        assert_eq!(day("aware", "2024-05-10").unwrap(), NaiveDate::from_ymd_opt(2024, 5, 10).unwrap());
        assert!(crate::review::month_bounds("+262142-12").is_err() && crate::review::month_bounds("-262143-01").is_err());
        assert!(crate::review::month_bounds("2024-12").is_ok());
    }
}
