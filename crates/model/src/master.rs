//! Master data: who works where, which accounts are whose, who lives with whom, and the
//! business that can explain an access. Anything that changes over time carries an
//! effective period so that enrichment can ask "as of this event's date".
//!
//! Every type here deserialises from one row of its documented CSV file (and from one
//! JSON object), see `docs/formats.md`.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

/// A period of validity, both ends inclusive; `to = None` means still in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    #[serde(deserialize_with = "cell")]
    pub from: NaiveDate,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub to: Option<NaiveDate>,
}

impl Period {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|to| day <= to)
    }
}

/// CSV gives an empty cell where JSON gives null or nothing; both mean "none".
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    // A stored row is JSON, where a number is a number; a CSV cell is always text.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
    }
    let s: Option<String> = Option::<Scalar>::deserialize(d)?.map(|v| match v {
        Scalar::Text(t) => t,
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
    });
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_cell(v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// An optional yes/no cell: empty is "not said".
fn opt_yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cell {
        Bool(bool),
        Text(String),
    }
    match Option::<Cell>::deserialize(d)? {
        None => Ok(None),
        Some(Cell::Bool(b)) => Ok(Some(b)),
        Some(Cell::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(Cell::Text(t)) => yes_no(serde::de::value::StrDeserializer::<D::Error>::new(&t)).map(Some),
    }
}

/// Parses a cell, naming the offending value in the error so that a loader can point at
/// the field that holds it.
fn parse_cell<T>(v: &str) -> Result<T, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    v.trim().parse().map_err(|e| format!("`{v}` is not valid here ({e}); dates are YYYY-MM-DD"))
}

fn cell<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s = String::deserialize(d)?;
    parse_cell(&s).map_err(serde::de::Error::custom)
}

/// A list cell: `a;b;c` in CSV, an array in JSON.
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cell {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Cell::deserialize(d)? {
        Cell::Text(s) => s.split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        Cell::List(v) => v,
    })
}

fn yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cell {
        Bool(bool),
        Text(String),
    }
    match Cell::deserialize(d)? {
        Cell::Bool(b) => Ok(b),
        Cell::Text(s) => match s.trim() {
            "1" | "true" | "yes" | "有" | "あり" => Ok(true),
            "0" | "false" | "no" | "無" | "なし" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!("`{other}` is not yes/no (true/false, 1/0, 有/無)"))),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub code: String,
    pub name: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kana: String,
    #[serde(deserialize_with = "cell")]
    pub hired: NaiveDate,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub retired: Option<NaiveDate>,
    /// The employee's own 宛名番号 when they live in the town: their own records and
    /// their household's are then recognisable.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub resident_uid: Option<String>,
    /// The employee they report to, when the HR system says.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<String>,
}

/// One posting of an employee: department and role over a period. Transfers (mostly on
/// 1 April) end one assignment and start the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub employee_id: String,
    pub department: String,
    pub role: String,
    #[serde(flatten)]
    pub period: Period,
    /// The team (係・班) within the department, when there is one: the closest peer group.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// One person's own account.
    Personal,
    /// An administrator account, possibly used by several people.
    Admin,
    /// A shared or service account (counter login, batch job).
    Shared,
    /// A batch job's account: its accesses are explained by being a batch, at a server
    /// (`terminals.csv` kind `server`) or a terminal master data does not list.
    Batch,
    /// A training account (研修用): its work at a `training` terminal is training; used
    /// anywhere else it is a person at a terminal under a name that is not theirs.
    Training,
}

/// An account in one system and whom it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The source system (`juki`, `zeimu`, `koseki`, `fukushi`, `windows`, `mail` …).
    pub system: String,
    /// The account as the system logs it (operator number, SAM name, address).
    pub account: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub employee_id: Option<String>,
    pub kind: AccountKind,
    #[serde(flatten)]
    pub period: Period,
    /// The department a shared or administrator account belongs to (a counter login of
    /// 市民課): whoever uses it works for that department's business.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    /// 宛名番号.
    pub uid: String,
    pub name: String,
    #[serde(default)]
    pub kana: String,
    #[serde(deserialize_with = "cell")]
    pub birth_date: NaiveDate,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub died: Option<NaiveDate>,
}

/// A resident's membership of a household (世帯) at an address over a period, with their
/// relationship (続柄) to the head. Moves and household changes are new rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdMembership {
    pub resident_uid: String,
    /// 世帯番号.
    pub household: String,
    /// 続柄 as the registry writes it (世帯主, 妻, 子, 父, 母 …).
    pub relation: String,
    pub address: String,
    #[serde(flatten)]
    pub period: Period,
}

/// A family-register (戸籍) link between two residents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyLink {
    pub resident_a: String,
    pub resident_b: String,
    /// parent, child, spouse, sibling, grandparent … from a's side.
    pub relation: String,
}

/// A business case that justifies access: an application, a filing, a welfare case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCase {
    /// 受付番号.
    pub case_no: String,
    pub kind: String,
    #[serde(deserialize_with = "cell")]
    pub received: NaiveDate,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub closed: Option<NaiveDate>,
    pub department: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub handler: Option<String>,
    /// The residents the case concerns; `*` for a sanctioned extract of every record (a
    /// tax-notice run, a statistics request), which explains its handler's look-ups of
    /// anyone while it is open.
    #[serde(deserialize_with = "list")]
    pub residents: Vec<String>,
}

impl BusinessCase {
    /// Whether the case concerns every resident (`residents = *`).
    pub fn concerns_everyone(&self) -> bool {
        self.residents.iter().any(|r| r == "*")
    }
}

/// How a kind of case is worked, as the town declares it: how long after it is received
/// (while not closed) and after it is closed its look-ups are still its business, and
/// whether colleagues of the handling section work it too. What is not declared here is
/// learned from the town's own access log (`mamori explain learn`), within the bounds of
/// `detect.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseKind {
    /// The case kind as `cases.csv` writes it (`転居届`, `生活保護` …).
    pub kind: String,
    /// A caseload that stays open until closed (welfare, long-term care): an unclosed case
    /// explains its handler's look-ups for as long as it is open.
    #[serde(default, deserialize_with = "yes_no")]
    pub ongoing: bool,
    /// Days an unclosed case of a kind that is normally closed still explains look-ups.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub open_days: Option<u32>,
    /// Days after closing that follow-up look-ups are still explained.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub tail_days: Option<u32>,
    /// Whether the whole handling section works these cases (a team caseload), not only
    /// the named handler.
    #[serde(default, deserialize_with = "opt_yes_no", skip_serializing_if = "Option::is_none")]
    pub team: Option<bool>,
}

/// A day the office (or one department) is open although the calendar says it is a day
/// off: a Sunday counter opening (休日開庁), a tax-filing Sunday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDay {
    #[serde(deserialize_with = "cell")]
    pub date: NaiveDate,
    /// The department that opens; empty for the whole office.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A resident's visit to a counter (窓口).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterVisit {
    pub visit_no: String,
    /// Local (JST) date and time, `YYYY-MM-DDTHH:MM:SS`.
    #[serde(deserialize_with = "cell")]
    pub at: chrono::NaiveDateTime,
    pub department: String,
    pub resident_uid: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub handler: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminalKind {
    Staff,
    Counter,
    Reception,
    Shared,
    Server,
    /// An administrator's management terminal (情報政策課's maintenance PC): administrator
    /// accounts belong here.
    Admin,
    /// A training room's PC (研修室): training accounts belong here.
    Training,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminal {
    pub host: String,
    /// Room or floor, as the badge system names it.
    pub location: String,
    pub kind: TerminalKind,
    /// Whether the endpoint-management agent is installed (a terminal without one sends
    /// no USB or print logs).
    #[serde(deserialize_with = "yes_no")]
    pub agent: bool,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub department: Option<String>,
    /// The employee the terminal is assigned to (a staff PC's owner), when the asset
    /// register says.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
}

/// An approved removable device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovableDevice {
    pub serial: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub owner: Option<String>,
    /// e.g. `secure-usb`, `usb`, `sd`.
    pub kind: String,
    #[serde(flatten)]
    pub period: Period,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileShare {
    pub share: String,
    /// Path prefix on the file server, e.g. `/srv/hr`.
    pub path: String,
    pub owner_department: String,
    pub classification: Classification,
    /// Departments granted access besides the owner, `;`-separated; `*` for everyone
    /// (a handover folder opened at fiscal year-end).
    #[serde(default, deserialize_with = "list")]
    pub granted: Vec<String>,
    #[serde(flatten)]
    pub period: Period,
}

/// A resident on the watch-list: the mayor, council members, staff's own records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipEntry {
    pub resident_uid: String,
    pub reason: String,
    #[serde(flatten)]
    pub period: Period,
}

/// A score of an employee on a named trait (the CERT data set's psychometric Big Five
/// scores). Loaded so that a data set can be read whole; detection does not use them
/// (see docs/formats.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trait {
    pub employee_id: String,
    pub trait_name: String,
    #[serde(deserialize_with = "cell")]
    pub value: f64,
}

/// A public holiday (国民の祝日・休日).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    #[serde(deserialize_with = "cell")]
    pub date: NaiveDate,
    pub name: String,
}

/// Everything loaded from one master-data directory.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MasterData {
    pub departments: Vec<Department>,
    pub employees: Vec<Employee>,
    pub assignments: Vec<Assignment>,
    pub accounts: Vec<Account>,
    pub residents: Vec<Resident>,
    pub households: Vec<HouseholdMembership>,
    pub family_links: Vec<FamilyLink>,
    pub cases: Vec<BusinessCase>,
    pub counter_visits: Vec<CounterVisit>,
    pub terminals: Vec<Terminal>,
    pub devices: Vec<RemovableDevice>,
    pub shares: Vec<FileShare>,
    pub vip: Vec<VipEntry>,
    pub holidays: Vec<Holiday>,
    pub case_kinds: Vec<CaseKind>,
    pub open_days: Vec<OpenDay>,
    pub traits: Vec<Trait>,
}

impl MasterData {
    /// Whether `day` is a public holiday or a weekend (the business calendar) on which the
    /// office does not open.
    pub fn is_day_off(&self, day: NaiveDate) -> bool {
        use chrono::Datelike;
        let calendar = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) || self.holidays.iter().any(|h| h.date == day);
        calendar && !self.open_days.iter().any(|o| o.date == day && o.department.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ends_are_inclusive_and_open_end_is_forever() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let fiscal = Period { from: d("2024-04-01"), to: Some(d("2025-03-31")) };
        assert!(fiscal.covers(d("2024-04-01")));
        assert!(fiscal.covers(d("2025-03-31")));
        assert!(!fiscal.covers(d("2025-04-01")));
        assert!(Period { from: d("2024-04-01"), to: None }.covers(d("2099-01-01")));
    }

    #[test]
    fn case_residents_accept_csv_list_and_json_array() {
        let json = r#"{"case_no":"R6-1","kind":"転入","received":"2024-05-08","department":"住民課","residents":["1","2"]}"#;
        let c: BusinessCase = serde_json::from_str(json).unwrap();
        assert_eq!(c.residents, ["1", "2"]);
        let json = r#"{"case_no":"R6-1","kind":"転入","received":"2024-05-08","department":"住民課","residents":"1; 2"}"#;
        let c: BusinessCase = serde_json::from_str(json).unwrap();
        assert_eq!(c.residents, ["1", "2"]);
    }
}
