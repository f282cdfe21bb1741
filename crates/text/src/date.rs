//! Dates and times as Japanese business systems export them.
//!
//! Dates: era names (`令和6年5月8日`, `令和元年5月1日`), era initials (`R6.5.8`,
//! `H30/07/26`, `R06-05-08`), the 7-digit era code (`5060508`: era digit 1 明治 …
//! 5 令和, then two digits each of year, month, day), and Gregorian forms (`2024/05/08`,
//! `2024-05-08`, `20240508`, `2024年5月8日`). Full-width digits are accepted. A year past
//! its era's end (`平成32年`) or a day that does not exist (`2月30日`) is an error, not a
//! guess. Times: `10:03`, `10:03:00`, `100300`, `10時3分0秒`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError(pub String);

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateError {}

/// (name, initial, code digit, first Gregorian year, last year number of the era).
const ERAS: [(&str, char, u32, i32, u32); 5] = [
    ("明治", 'M', 1, 1868, 45),
    ("大正", 'T', 2, 1912, 15),
    ("昭和", 'S', 3, 1926, 64),
    ("平成", 'H', 4, 1989, 31),
    ("令和", 'R', 5, 2019, 99),
];

fn era_year(era: usize, year: u32, text: &str) -> Result<i32, DateError> {
    let (name, _, _, first, last) = ERAS[era];
    if year == 0 || year > last {
        return Err(DateError(format!("`{text}`: {name} has no year {year}")));
    }
    Ok(first + year as i32 - 1)
}

fn ymd(y: i32, m: u32, d: u32, text: &str) -> Result<NaiveDate, DateError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DateError(format!("`{text}` is not a day that exists")))
}

/// The first day of each era after 明治 (明治 before its sixth year kept the old calendar,
/// so its days are not checked).
const ERA_STARTS: [(usize, (i32, u32, u32)); 4] = [(1, (1912, 7, 30)), (2, (1926, 12, 25)), (3, (1989, 1, 8)), (4, (2019, 5, 1))];

/// An era date that falls outside its era (平成31年5月1日 is 令和元年; 昭和64年1月8日 is 平成元年).
fn in_era(era: usize, date: NaiveDate, text: &str) -> Result<NaiveDate, DateError> {
    let start = |e: usize| ERA_STARTS.iter().find(|s| s.0 == e).map(|s| NaiveDate::from_ymd_opt(s.1.0, s.1.1, s.1.2).expect("a real day"));
    if let Some(first) = start(era)
        && date < first
    {
        return Err(DateError(format!("`{text}`: {} began on {first}", ERAS[era].0)));
    }
    if let Some(next) = start(era + 1)
        && date >= next
    {
        return Err(DateError(format!("`{text}`: {} ended on {} ({date} is {})", ERAS[era].0, next.pred_opt().expect("a day before"), ERAS[era + 1].0)));
    }
    Ok(date)
}

/// `080302` → [8, 3, 2]: exactly six digits, two each of year, month and day.
fn yymmdd(s: &str) -> Option<Vec<u32>> {
    (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())).then(|| vec![s[..2].parse().unwrap_or(0), s[2..4].parse().unwrap_or(0), s[4..].parse().unwrap_or(0)])
}

fn numbers(s: &str) -> Option<Vec<u32>> {
    let parts: Vec<&str> = s.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).collect();
    parts.iter().map(|p| p.parse().ok()).collect()
}

/// Parses a date in any of the forms above.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let s: String = text.nfkc().filter(|c| !c.is_whitespace()).collect();
    let bad = || DateError(format!("`{text}` is not a date (令和6年5月8日, R6.5.8, 5060508, 2024/05/08 …)"));
    if s.is_empty() {
        return Err(DateError("empty date".into()));
    }
    // 令和6年5月8日, 令和元年5月1日; 令和080302 (an era beside six digits YYMMDD, as a system
    // that keeps the era in a column of its own writes it, the two joined)
    if let Some(era) = ERAS.iter().position(|e| s.starts_with(e.0)) {
        let rest = &s[ERAS[era].0.len()..].replacen('元', "1", 1);
        let n = yymmdd(rest).or_else(|| numbers(rest).filter(|n| n.len() == 3)).ok_or_else(bad)?;
        return in_era(era, ymd(era_year(era, n[0], text)?, n[1], n[2], text)?, text);
    }
    // R6.5.8, H30/07/26, R080302
    let first = s.chars().next().expect("not empty").to_ascii_uppercase();
    if let Some(era) = ERAS.iter().position(|e| e.1 == first) {
        let n = yymmdd(&s[1..]).or_else(|| numbers(&s[1..]).filter(|n| n.len() == 3)).ok_or_else(bad)?;
        return in_era(era, ymd(era_year(era, n[0], text)?, n[1], n[2], text)?, text);
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return match s.len() {
            // 5060508: era code, YY, MM, DD
            7 => {
                let d: Vec<u32> = s.chars().map(|c| c.to_digit(10).expect("digits")).collect();
                let era = ERAS.iter().position(|e| e.2 == d[0]).ok_or_else(bad)?;
                let (y, m, dd) = (d[1] * 10 + d[2], d[3] * 10 + d[4], d[5] * 10 + d[6]);
                in_era(era, ymd(era_year(era, y, text)?, m, dd, text)?, text)
            }
            // 20240508
            8 => {
                let y: i32 = s[..4].parse().map_err(|_| bad())?;
                ymd(y, s[4..6].parse().map_err(|_| bad())?, s[6..].parse().map_err(|_| bad())?, text)
            }
            _ => Err(bad()),
        };
    }
    // 2024/05/08, 2024-05-08, 2024.5.8, 2024年5月8日
    let n = numbers(&s).filter(|n| n.len() == 3 && n[0] >= 1000).ok_or_else(bad)?;
    ymd(n[0] as i32, n[1], n[2], text)
}

/// Parses a time of day.
pub fn parse_time(text: &str) -> Result<NaiveTime, DateError> {
    let s: String = text.nfkc().filter(|c| !c.is_whitespace()).collect();
    let bad = || DateError(format!("`{text}` is not a time (10:03:00, 100300, 10時3分)"));
    // Only digits and the separators of a time of day: `-1:00:00` is not one o'clock.
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || matches!(c, ':' | '時' | '分' | '秒')) {
        return Err(bad());
    }
    let n: Vec<u32> = if s.chars().all(|c| c.is_ascii_digit()) && (s.len() == 4 || s.len() == 6) {
        (0..s.len()).step_by(2).map(|i| s[i..i + 2].parse().expect("digits")).collect()
    } else {
        numbers(&s).ok_or_else(bad)?
    };
    match n.as_slice() {
        [h, m] => NaiveTime::from_hms_opt(*h, *m, 0),
        [h, m, sec] => NaiveTime::from_hms_opt(*h, *m, *sec),
        _ => None,
    }
    .ok_or_else(bad)
}

/// Parses a date and time in one cell (`2024/05/08 10:03:00`, `R6.5.8 10:03`,
/// `2024-05-08T10:03:00`, `20240508100300`); a date alone is midnight. A cell that also
/// names its offset from UTC is refused here, since the wall-clock time alone would be
/// read in the source's zone: [`parse_date_time_zoned`] reads it.
pub fn parse_date_time(text: &str) -> Result<NaiveDateTime, DateError> {
    match parse_date_time_zoned(text)? {
        (local, None) => Ok(local),
        (_, Some(_)) => Err(DateError(format!("`{text}` names its offset from UTC; read it with its offset"))),
    }
}

/// Parses a date and time in one cell as [`parse_date_time`], and also ISO 8601 as
/// exporters write it: fractions of a second (`10:03:00.250`) and an offset from UTC
/// (`Z`, `+09:00`, `+0900`, `-05`). Returns the wall-clock time and the offset in seconds
/// east of UTC when the cell names one.
pub fn parse_date_time_zoned(text: &str) -> Result<(NaiveDateTime, Option<i32>), DateError> {
    let trimmed = text.trim();
    // 20240508100300 / 202405081003: the compact form of one cell.
    let digits: String = trimmed.nfkc().collect();
    if digits.chars().all(|c| c.is_ascii_digit()) && (digits.len() == 14 || digits.len() == 12) {
        let bad = || DateError(format!("`{text}` is not a date and time (20240508100300)"));
        let date = parse_date(&digits[..8]).map_err(|_| bad())?;
        return Ok((date.and_time(parse_time(&digits[8..]).map_err(|_| bad())?), None));
    }
    // The date ends at a space or at ISO's `T`, but not at the first letter: `T15.5.8` is
    // a 大正 date.
    let is_split = |c: char| c.is_whitespace() || c == 'T' || c == '\u{3000}';
    let split = trimmed.char_indices().skip(1).find(|&(_, c)| is_split(c)).map(|(i, _)| i);
    let Some(i) = split else { return Ok((parse_date(trimmed)?.and_time(NaiveTime::MIN), None)) };
    let (d, t) = trimmed.split_at(i);
    let t = t.trim_start_matches(is_split);
    let (t, offset) = split_offset(t).ok_or_else(|| DateError(format!("`{text}`: the offset from UTC is not one (+09:00, Z)")))?;
    let (t, nanos) = split_fraction(t).ok_or_else(|| DateError(format!("`{text}`: the fraction of a second is not one")))?;
    let time = parse_time(t)?;
    let time = time.with_nanosecond(nanos).ok_or_else(|| DateError(format!("`{text}` is not a time")))?;
    Ok((parse_date(d)?.and_time(time), offset))
}

/// `10:03:00+09:00` → (`10:03:00`, 32400); `10:03:00Z` → (…, 0); none → (t, None).
/// `None` when what follows the time is not an offset.
fn split_offset(t: &str) -> Option<(&str, Option<i32>)> {
    if let Some(rest) = t.strip_suffix(['Z', 'z']) {
        return Some((rest, Some(0)));
    }
    let Some(at) = t.char_indices().skip(1).filter(|&(_, c)| c == '+' || c == '-').map(|(i, _)| i).last() else { return Some((t, None)) };
    let (time, offset) = t.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) || offset[1..].matches(':').count() > 1 {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    (hours <= 23 && minutes <= 59).then_some((time.trim_end(), Some(sign * (hours * 3600 + minutes * 60))))
}

/// `10:03:00.250` → (`10:03:00`, 250 ms in nanoseconds); no fraction → (t, 0).
fn split_fraction(t: &str) -> Option<(&str, u32)> {
    let Some(at) = t.find(['.', ',']) else { return Some((t, 0)) };
    let (time, fraction) = (&t[..at], &t[at + 1..]);
    if fraction.is_empty() || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nine: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some((time, nine.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn every_form_municipal_systems_write_parses_to_the_same_day() {
        let cases = [
            ("令和6年5月8日", d(2024, 5, 8)),
            ("令和６年５月８日", d(2024, 5, 8)),
            ("令和元年5月1日", d(2019, 5, 1)),
            ("平成30年7月26日", d(2018, 7, 26)),
            ("昭和64年1月7日", d(1989, 1, 7)),
            ("R6.5.8", d(2024, 5, 8)),
            ("r06.05.08", d(2024, 5, 8)),
            ("H30/07/26", d(2018, 7, 26)),
            ("S55-01-02", d(1980, 1, 2)),
            ("5060508", d(2024, 5, 8)),
            ("4300726", d(2018, 7, 26)),
            ("3550102", d(1980, 1, 2)),
            ("2024/05/08", d(2024, 5, 8)),
            ("2024-5-8", d(2024, 5, 8)),
            ("20240508", d(2024, 5, 8)),
            ("2024年5月8日", d(2024, 5, 8)),
            // An era column joined to six digits YYMMDD.
            ("令和 080302", d(2026, 3, 2)),
            ("令和080302", d(2026, 3, 2)),
            ("R080302", d(2026, 3, 2)),
            ("H300726", d(2018, 7, 26)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn impossible_dates_are_errors_not_guesses() {
        for text in ["令和6年2月30日", "平成32年1月1日", "昭和65年1月1日", "R0.1.1", "6060508", "5061301", "2024/13/01", "", "明日", "R6.5", "令和081302", "令和0803021", "R08032"] {
            assert!(parse_date(text).is_err(), "{text} must be rejected");
        }
    }

    #[test]
    fn a_day_outside_its_era_is_refused_with_the_era_it_belongs_to() {
        for (text, says) in [("平成31年5月1日", "令和"), ("H31.5.1", "令和"), ("4310501", "令和"), ("昭和64年1月8日", "平成"), ("平成元年1月7日", "began")] {
            let e = parse_date(text).expect_err(text);
            assert!(e.0.contains(says), "{text}: {e}");
        }
        assert_eq!(parse_date("平成31年4月30日"), Ok(d(2019, 4, 30)));
        assert_eq!(parse_date("平成元年1月8日"), Ok(d(1989, 1, 8)));
    }

    #[test]
    fn times_and_combined_cells() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s).unwrap();
        assert_eq!(parse_time("10:03:00"), Ok(t(10, 3, 0)));
        assert_eq!(parse_time("10:03"), Ok(t(10, 3, 0)));
        assert_eq!(parse_time("100300"), Ok(t(10, 3, 0)));
        assert_eq!(parse_time("10時3分5秒"), Ok(t(10, 3, 5)));
        assert!(parse_time("25:00").is_err());
        for bad in ["-1:00:00", "+10:00", "10:00pm", "1.5"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_date_time("R6.5.8 10:03:00"), Ok(d(2024, 5, 8).and_time(t(10, 3, 0))));
        assert_eq!(parse_date_time("2024-05-08T10:03:00"), Ok(d(2024, 5, 8).and_time(t(10, 3, 0))));
        assert_eq!(parse_date_time("令和6年5月8日　10時03分"), Ok(d(2024, 5, 8).and_time(t(10, 3, 0))));
        assert_eq!(parse_date_time("2024/05/08"), Ok(d(2024, 5, 8).and_time(t(0, 0, 0))));
    }

    #[test]
    fn one_cell_date_times_in_compact_and_iso_forms_with_their_offset() {
        let at = |y, mo, dd, h, mi, s, ms| d(y, mo, dd).and_time(NaiveTime::from_hms_milli_opt(h, mi, s, ms).unwrap());
        let cases = [
            ("20240201085936", at(2024, 2, 1, 8, 59, 36, 0), None),
            ("202402010859", at(2024, 2, 1, 8, 59, 0, 0), None),
            ("２０２４０２０１０８５９３６", at(2024, 2, 1, 8, 59, 36, 0), None),
            ("2024-02-01T08:59:36+09:00", at(2024, 2, 1, 8, 59, 36, 0), Some(9 * 3600)),
            ("2024-02-01T08:59:36.250+0900", at(2024, 2, 1, 8, 59, 36, 250), Some(9 * 3600)),
            ("2024-01-31T23:59:36Z", at(2024, 1, 31, 23, 59, 36, 0), Some(0)),
            ("2024-02-01 08:59:36,5 -05", at(2024, 2, 1, 8, 59, 36, 500), Some(-5 * 3600)),
            ("2024-02-01T08:59:36.123456", at(2024, 2, 1, 8, 59, 36, 123), None),
            ("T15.5.8 10:00", at(1926, 5, 8, 10, 0, 0, 0), None),
            ("2024年02月05日 09時12分", at(2024, 2, 5, 9, 12, 0, 0), None),
        ];
        for (text, want, offset) in cases {
            let (got, off) = parse_date_time_zoned(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((got.with_nanosecond(got.nanosecond() / 1_000_000 * 1_000_000).unwrap(), off), (want, offset), "{text}");
        }
        for bad in ["20241301085936", "2024-02-01T08:59:36+25:00", "2024-02-01T08:59:36+09:00:00", "2024-02-01T08:59:36.", "2024-02-01T08:59:36x", "2024-02-01 -1:00:00", "2024020108593"] {
            assert!(parse_date_time_zoned(bad).is_err(), "{bad} must be refused");
        }
        assert!(parse_date_time("2024-02-01T08:59:36+09:00").is_err(), "a wall-clock reader does not drop the offset silently");
    }
}
