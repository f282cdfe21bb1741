//! Loads master data from the files documented in `docs/formats.md`: one file per kind,
//! CSV (UTF-8, header row) or JSON Lines, plus the Cabinet Office holiday list in its
//! own Shift_JIS format.
//!
//! Loading never stops at the first bad row: every row that parses is kept, every row
//! that does not is reported with its file, line and field. Cross-file references
//! (an assignment to an unknown employee) are checked the same way.
//!
//! This crate reads files and returns values; it must not write to the store (the CLI
//! hands the result to `mamori-journal`) and must not hold any detection logic.

mod cert;

pub use cert::load_cert_ldap;

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
pub use mamori_model::master::MasterData;
use mamori_model::master::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One problem in one place of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: PathBuf,
    /// 1-based line in the file (the header is line 1 in a CSV).
    pub line: u64,
    pub reason: String,
}

impl RowError {
    /// Whether the error is the file's, not one row's: it could not be read at all (line
    /// 0), is not in the encoding it must be, or its header is unreadable.
    pub fn is_whole_file(&self) -> bool {
        self.line == 0 || self.reason.starts_with("not UTF-8") || self.reason.starts_with("bad header")
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: the whole file, or rows across files (a reference to no row).
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.reason),
            line => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
        }
    }
}

/// The kinds of master data and their file stems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Departments,
    Employees,
    Assignments,
    Accounts,
    Residents,
    Households,
    FamilyLinks,
    Cases,
    CounterVisits,
    Terminals,
    Devices,
    Shares,
    Vip,
    Holidays,
    CaseKinds,
    OpenDays,
    Traits,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Departments,
        Kind::Employees,
        Kind::Assignments,
        Kind::Accounts,
        Kind::Residents,
        Kind::Households,
        Kind::FamilyLinks,
        Kind::Cases,
        Kind::CounterVisits,
        Kind::Terminals,
        Kind::Devices,
        Kind::Shares,
        Kind::Vip,
        Kind::Holidays,
        Kind::CaseKinds,
        Kind::OpenDays,
        Kind::Traits,
    ];

    /// The file stem (`departments` → `departments.csv` or `departments.jsonl`).
    pub fn stem(self) -> &'static str {
        match self {
            Kind::Departments => "departments",
            Kind::Employees => "employees",
            Kind::Assignments => "assignments",
            Kind::Accounts => "accounts",
            Kind::Residents => "residents",
            Kind::Households => "households",
            Kind::FamilyLinks => "family_links",
            Kind::Cases => "cases",
            Kind::CounterVisits => "counter_visits",
            Kind::Terminals => "terminals",
            Kind::Devices => "devices",
            Kind::Shares => "shares",
            Kind::Vip => "vip",
            Kind::Holidays => "holidays",
            Kind::CaseKinds => "case_kinds",
            Kind::OpenDays => "open_days",
            Kind::Traits => "traits",
        }
    }
}

/// What a load produced: the data, the files read, and every rejected row.
#[derive(Debug, Default)]
pub struct Loaded {
    pub data: MasterData,
    pub files: Vec<PathBuf>,
    pub errors: Vec<RowError>,
    /// Rows kept that point at something no file defines (an account of an unknown
    /// employee): not rejected, since the row it names may come in a later load, but
    /// said, since until then its events are charged to no one the directory knows.
    pub unresolved: Vec<RowError>,
    /// Files that could not be read whole (unreadable, not UTF-8, a bad header): a load
    /// with any of them must change nothing, or a kind would be replaced by a part of it.
    pub unreadable: Vec<PathBuf>,
}

/// Rows per kind, for summaries.
pub fn counts(d: &MasterData) -> Vec<(Kind, usize)> {
    Kind::ALL
        .iter()
        .map(|&k| {
            let n = match k {
                Kind::Departments => d.departments.len(),
                Kind::Employees => d.employees.len(),
                Kind::Assignments => d.assignments.len(),
                Kind::Accounts => d.accounts.len(),
                Kind::Residents => d.residents.len(),
                Kind::Households => d.households.len(),
                Kind::FamilyLinks => d.family_links.len(),
                Kind::Cases => d.cases.len(),
                Kind::CounterVisits => d.counter_visits.len(),
                Kind::Terminals => d.terminals.len(),
                Kind::Devices => d.devices.len(),
                Kind::Shares => d.shares.len(),
                Kind::Vip => d.vip.len(),
                Kind::Holidays => d.holidays.len(),
                Kind::CaseKinds => d.case_kinds.len(),
                Kind::OpenDays => d.open_days.len(),
                Kind::Traits => d.traits.len(),
            };
            (k, n)
        })
        .collect()
}

/// Loads every known file in `dir`. Missing files are simply absent kinds; a directory
/// that holds none of them is an error.
pub fn load_dir(dir: &Path) -> Result<Loaded, RowError> {
    let mut out = Loaded::default();
    for kind in Kind::ALL {
        let Some(path) = find_file(dir, kind) else { continue };
        out.files.push(path.clone());
        let before = out.errors.len();
        load_kind(kind, &path, &mut out);
        if out.errors[before..].iter().any(RowError::is_whole_file) {
            out.unreadable.push(path);
        }
    }
    if out.files.is_empty() {
        return Err(RowError {
            file: dir.to_path_buf(),
            line: 0,
            reason: "no master-data file found (expected e.g. employees.csv; see docs/formats.md)".into(),
        });
    }
    check_references(&mut out);
    Ok(out)
}

fn find_file(dir: &Path, kind: Kind) -> Option<PathBuf> {
    ["csv", "jsonl", "json"]
        .iter()
        .map(|ext| dir.join(format!("{}.{ext}", kind.stem())))
        .find(|p| p.is_file())
}

fn load_kind(kind: Kind, path: &Path, out: &mut Loaded) {
    let d = &mut out.data;
    let e = &mut out.errors;
    match kind {
        Kind::Departments => d.departments = read_rows(path, e),
        Kind::Employees => d.employees = read_rows(path, e),
        Kind::Assignments => d.assignments = read_rows(path, e),
        Kind::Accounts => d.accounts = read_rows(path, e),
        Kind::Residents => d.residents = read_rows(path, e),
        Kind::Households => d.households = read_rows(path, e),
        Kind::FamilyLinks => d.family_links = read_rows(path, e),
        Kind::Cases => d.cases = read_rows(path, e),
        Kind::CounterVisits => d.counter_visits = read_rows(path, e),
        Kind::Terminals => d.terminals = read_rows(path, e),
        Kind::Devices => d.devices = read_rows(path, e),
        Kind::Shares => d.shares = read_rows(path, e),
        Kind::Vip => d.vip = read_rows(path, e),
        Kind::Holidays => d.holidays = read_holidays(path, e),
        Kind::CaseKinds => d.case_kinds = read_rows(path, e),
        Kind::OpenDays => d.open_days = read_rows(path, e),
        Kind::Traits => d.traits = read_rows(path, e),
    }
}

/// Reads a CSV (header row) or JSON Lines file of `T`, keeping good rows.
pub fn read_rows<T: DeserializeOwned>(path: &Path, errors: &mut Vec<RowError>) -> Vec<T> {
    let err = |line: u64, reason: String| RowError { file: path.to_path_buf(), line, reason };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            errors.push(err(0, format!("cannot read: {e}")));
            return Vec::new();
        }
    };
    let is_json = path.extension().is_some_and(|x| x == "jsonl" || x == "json");
    if is_json {
        return read_json_lines(&bytes, path, errors);
    }
    let text = match std::str::from_utf8(strip_bom(&bytes)) {
        Ok(t) => t,
        Err(e) => {
            // Report the line of the first bad byte; rows before it are still read.
            let good = &bytes[..e.valid_up_to()];
            let line = 1 + good.iter().filter(|&&b| b == b'\n').count() as u64;
            errors.push(err(line, format!("not UTF-8 (byte {}); save the file as UTF-8", e.valid_up_to())));
            return Vec::new();
        }
    };
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            errors.push(err(1, format!("bad header: {e}")));
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                // Every cell goes in as text, exactly as written: `000123` stays a
                // 宛名番号, not the number 123, and CSV and JSON share one decoder.
                let object: serde_json::Map<String, serde_json::Value> =
                    headers.iter().zip(record.iter()).map(|(h, v)| (h.trim().to_owned(), v.into())).collect();
                match serde_json::from_value::<T>(object.into()) {
                    Ok(row) => rows.push(row),
                    Err(e) => errors.push(err(line, describe_error(&e.to_string(), &headers, &record))),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(err(line, e.to_string()));
                // A wrong field count leaves the reader in a good state; other errors
                // (I/O) do not, so stop there.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
    rows
}

/// Names the field an error is about: decoders quote the offending value, and the row
/// tells which column holds it.
fn describe_error(message: &str, headers: &csv::StringRecord, record: &csv::StringRecord) -> String {
    let field = headers
        .iter()
        .zip(record.iter())
        .find(|(_, v)| !v.trim().is_empty() && message.contains(&format!("`{v}`")))
        .map(|(h, _)| h);
    match field {
        Some(name) => format!("field `{name}`: {message}"),
        None => message.to_owned(),
    }
}

fn read_json_lines<T: DeserializeOwned>(bytes: &[u8], path: &Path, errors: &mut Vec<RowError>) -> Vec<T> {
    let mut rows = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = strip_bom(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<T>(line) {
            Ok(row) => rows.push(row),
            Err(e) => errors.push(RowError { file: path.to_path_buf(), line: i as u64 + 1, reason: e.to_string() }),
        }
    }
    rows
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

/// Reads the holiday list in the Cabinet Office's `syukujitsu.csv` format
/// (header `国民の祝日・休日月日,国民の祝日・休日名称`, dates `1955/1/1`, Shift_JIS),
/// also accepting UTF-8 and ISO dates.
pub fn read_holidays(path: &Path, errors: &mut Vec<RowError>) -> Vec<Holiday> {
    let err = |line: u64, reason: String| RowError { file: path.to_path_buf(), line, reason };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            errors.push(err(0, format!("cannot read: {e}")));
            return Vec::new();
        }
    };
    let bytes = strip_bom(&bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => {
            let (t, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
            if had_errors {
                errors.push(err(0, "neither UTF-8 nor Shift_JIS".into()));
                return Vec::new();
            }
            t.into_owned()
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.trim();
        if line.is_empty() || (i == 0 && !line.starts_with(|c: char| c.is_ascii_digit())) {
            continue;
        }
        let Some((date, name)) = line.split_once(',') else {
            errors.push(err(line_no, "expected `date,name`".into()));
            continue;
        };
        match parse_slash_date(date.trim()) {
            Some(date) => out.push(Holiday { date, name: name.trim().to_owned() }),
            None => errors.push(err(line_no, format!("`{date}` is not a date (YYYY/M/D or YYYY-MM-DD)"))),
        }
    }
    out
}

fn parse_slash_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split(['/', '-']);
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Rows that point at things no file defines are reported (and kept: the reference may
/// be to data that arrives later, but the user must know).
fn check_references(out: &mut Loaded) {
    let d = &out.data;
    let employees: HashSet<&str> = d.employees.iter().map(|e| e.id.as_str()).collect();
    let departments: HashSet<&str> = d.departments.iter().map(|e| e.code.as_str()).collect();
    let mut problems = Vec::new();
    let file_of = |kind: Kind| {
        out.files.iter().find(|f| f.file_stem().is_some_and(|s| s == kind.stem())).cloned().unwrap_or_default()
    };
    if !employees.is_empty() {
        for a in &d.assignments {
            if !employees.contains(a.employee_id.as_str()) {
                problems.push((Kind::Assignments, format!("assignment names unknown employee `{}`", a.employee_id)));
            }
        }
        for a in &d.accounts {
            if let Some(e) = &a.employee_id
                && !employees.contains(e.as_str())
            {
                problems.push((Kind::Accounts, format!("account `{}` names unknown employee `{e}`", a.account)));
            }
        }
    }
    if !departments.is_empty() {
        for a in &d.assignments {
            if !departments.contains(a.department.as_str()) {
                problems.push((Kind::Assignments, format!("assignment names unknown department `{}`", a.department)));
            }
        }
    }
    for (kind, reason) in problems {
        out.unresolved.push(RowError { file: file_of(kind), line: 0, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &[u8]) {
        fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn bad_rows_are_reported_with_file_line_and_field_and_good_rows_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "employees.csv",
            "id,name,kana,hired,retired,resident_uid\n\
             E001,山田 太郎,ヤマダ タロウ,2010-04-01,,\n\
             E002,佐藤 花子,サトウ ハナコ,2024-13-01,,\n\
             E003,鈴木 一郎,スズキ イチロウ,2015-04-01,,000123\n\
             E004,髙橋 次郎\n"
                .as_bytes(),
        );
        let loaded = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = loaded.data.employees.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["E001", "E003"]);
        assert_eq!(loaded.errors.len(), 2, "{:?}", loaded.errors);
        let first = loaded.errors[0].to_string();
        assert!(first.contains("employees.csv:3:") && first.contains("field `hired`"), "{first}");
        assert!(loaded.errors[1].to_string().contains("employees.csv:5:"), "{}", loaded.errors[1]);
    }

    #[test]
    fn cabinet_office_holiday_csv_in_shift_jis_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let text = "国民の祝日・休日月日,国民の祝日・休日名称\r\n2024/1/1,元日\r\n2024/5/6,休日\r\n2024/2/30,うるう\r\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        write(dir.path(), "holidays.csv", &sjis);
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.data.holidays.len(), 2);
        assert_eq!(loaded.data.holidays[0].name, "元日");
        assert_eq!(loaded.errors.len(), 1);
        assert_eq!(loaded.errors[0].line, 4);
        let may6 = NaiveDate::from_ymd_opt(2024, 5, 6).unwrap();
        assert!(loaded.data.is_day_off(may6));
        assert!(!loaded.data.is_day_off(NaiveDate::from_ymd_opt(2024, 5, 7).unwrap()));
        assert!(loaded.data.is_day_off(NaiveDate::from_ymd_opt(2024, 5, 11).unwrap()), "a Saturday");
    }

    #[test]
    fn effective_dated_rows_and_references_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "departments.csv", "code,name,parent\nD10,住民課,\nD20,税務課,\n".as_bytes());
        write(dir.path(), "employees.csv", b"id,name,kana,hired,retired,resident_uid\nE001,A,,2010-04-01,,\n");
        write(
            dir.path(),
            "assignments.csv",
            b"employee_id,department,role,from,to\nE001,D10,staff,2020-04-01,2024-03-31\nE001,D20,staff,2024-04-01,\nE404,D10,staff,2024-04-01,\n",
        );
        write(
            dir.path(),
            "accounts.jsonl",
            br#"{"system":"juki","account":"0042","employee_id":"E001","kind":"personal","from":"2020-04-01","to":null}
{"system":"juki","account":"9000","kind":"batch","from":"2020-04-01"}
"#,
        );
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.data.assignments.len(), 3);
        assert_eq!(loaded.data.accounts.len(), 2);
        assert_eq!(loaded.data.assignments[1].period.to, None);
        // The assignment to E404 is kept, and said to name no one, without a line number
        // that does not exist.
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.unresolved.len(), 1, "{:?}", loaded.unresolved);
        let said = loaded.unresolved[0].to_string();
        assert!(said.contains("E404") && said.contains("assignments.csv: "), "{said}");
    }
}

#[cfg(test)]
mod example_town {
    use super::*;

    /// The example town shipped in `examples/town` is what `docs/formats.md` shows; it
    /// must load without a single rejected row, identifiers intact.
    #[test]
    fn shipped_example_town_loads_cleanly_and_keeps_leading_zeros() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/town");
        let loaded = load_dir(&dir).unwrap();
        assert!(loaded.errors.is_empty() && loaded.unresolved.is_empty(), "{:?} {:?}", loaded.errors, loaded.unresolved);
        // Every kind a town keeps (traits are a research data set's, not a town's).
        assert_eq!(loaded.files.len(), Kind::ALL.len() - 1);
        let case = &loaded.data.cases[0];
        assert_eq!(case.residents, ["000000305"], "宛名番号 must not be read as a number");
        assert_eq!(loaded.data.employees[0].resident_uid.as_deref(), Some("000000101"));
        assert!(loaded.data.terminals.iter().any(|t| t.host == "PC-UKETSUKE-01" && !t.agent));
        assert_eq!(loaded.data.holidays.len(), 40);
        assert!(loaded.data.case_kinds.iter().any(|k| k.kind == "児童手当認定" && k.ongoing && k.tail_days == Some(30)));
        assert_eq!(loaded.data.open_days[0].department.as_deref(), Some("D100"));
    }
}
