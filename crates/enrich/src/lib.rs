//! Enrichment: what master data says about an event, as of the event's own time — whose
//! account it is, where that employee worked then, how the resident is related to them,
//! whether the resident is on the watch-list, and which counter visit or business case
//! explains the access (explanation-based auditing, after Fabbri & LeFevre, PVLDB 2011).
//!
//! Everything here is pure: a [`Directory`] is built once from [`MasterData`] into
//! in-memory indexes, and every question is answered from them. No I/O, no storage, no
//! decisions about what is suspicious (that is detection's).

mod explain;
mod learn;
mod relations;
mod web;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use mamori_model::master::{AccountKind, CaseKind, Classification, FileShare, MasterData, Period, TerminalKind};

pub use explain::{Access, Explanation, ExplanationModel, ExplanationSettings, KindWindow, Source, TemplateStat, activity_id};
pub use learn::{Learner, Sample, activity_name};
pub use relations::{Relation, RelationKind, Relations};
pub use web::{CATEGORIES as WEB_CATEGORIES, WebCategories, host_of};

/// A host name as every look-up compares it: the first DNS label (`pc-0001.city.local` →
/// `PC-0001`), upper case. An IP address is kept whole.
pub fn fold_host(host: &str) -> String {
    let host = host.trim();
    let first = host.split('.').next().unwrap_or(host);
    let name = if !first.is_empty() && first.chars().all(|c| c.is_ascii_digit()) { host } else { first };
    name.to_ascii_uppercase()
}

/// The account system a source's events are written for: sources are named freely, and
/// the simulator and examples name them after their system, except Windows.
pub fn account_system(product: &str) -> &str {
    match product {
        "win-security" | "windows" => "windows",
        other => other,
    }
}

/// The account system an event's actor is looked up in: the one its source declared
/// (`accounts = "windows"` in mamori.toml), else the product's own.
pub fn event_account_system(event: &mamori_model::Event) -> &str {
    event.unmapped.extra.get("account_system").and_then(|v| v.as_str()).unwrap_or_else(|| account_system(&event.metadata.product))
}

/// Account systems that hold no residents' records.
const NOT_RECORD_SYSTEMS: [&str; 4] = ["windows", "mail", "cert", "http"];

/// An account as master data has it: system, validity, employee, kind, department.
type AccountRow = (String, Period, Option<String>, AccountKind, Option<String>);

pub(crate) struct CaseRow {
    pub(crate) no: String,
    pub(crate) kind: String,
    pub(crate) received: NaiveDate,
    pub(crate) closed: Option<NaiveDate>,
    pub(crate) department: String,
    pub(crate) handler: Option<String>,
}

/// A counter visit: when, its number, the department, who served it.
type VisitRow = (NaiveDateTime, String, String, Option<String>);

/// Days a closed household row still counts as the household (see `with_household`).
const HOUSEHOLD_GRACE_DAYS: i64 = 7;

/// An account name as a fallback look-up compares it: Windows and directory exports write
/// `DOMAIN\\user`, `user@domain` (a UPN) and any case for the same sign-in name that
/// master data lists as `user`. Mail addresses are never folded (an outside address with a
/// staff member's local part is not theirs).
pub fn fold_account(account: &str) -> String {
    let a = account.trim();
    let a = a.rsplit('\\').next().unwrap_or(a);
    let a = match a.split_once('@') {
        Some((user, _)) if !user.is_empty() => user,
        _ => a,
    };
    a.to_lowercase()
}

pub struct Directory {
    accounts: HashMap<String, Vec<AccountRow>>,
    /// Folded account name → the names master data lists (not the mail system's).
    folded_accounts: HashMap<String, Vec<String>>,
    assignments: HashMap<String, Vec<(Period, String, String, Option<String>)>>,
    households: HashMap<String, Vec<(Period, String)>>,
    members: HashMap<String, Vec<(Period, String)>>,
    vip: HashMap<String, Vec<(Period, String)>>,
    relations: Relations,
    residents: Vec<String>,
    /// Folded name or reading → residents who bear it (namesakes).
    pub(crate) by_name: HashMap<String, Vec<String>>,
    names: HashMap<String, (String, String)>,
    pub(crate) cases: Vec<CaseRow>,
    pub(crate) cases_by_resident: HashMap<String, Vec<usize>>,
    /// Cases that concern every resident (sanctioned extracts).
    pub(crate) everyone_cases: Vec<usize>,
    case_kinds: Vec<CaseKind>,
    pub(crate) visits: HashMap<String, Vec<VisitRow>>,
    /// Host (folded) → (kind, whether the endpoint agent is installed).
    terminals: HashMap<String, (TerminalKind, bool)>,
    /// Host → where it stands (a room, as badge readers name rooms).
    locations: HashMap<String, String>,
    /// Host → the department it belongs to.
    terminal_departments: HashMap<String, String>,
    /// Host → the employee it is assigned to.
    terminal_owners: HashMap<String, String>,
    /// Approved removable devices: serial → (validity, owner).
    devices: HashMap<String, Vec<(Period, Option<String>)>>,
    shares: HashMap<String, Vec<FileShare>>,
    /// Employee → the periods they held a personal account in a records system (any
    /// system but Windows and mail), and which system.
    record_access: HashMap<String, Vec<(Period, String)>>,
    holidays: std::collections::HashSet<NaiveDate>,
    /// Employee → the day they leave (or left).
    retired: HashMap<String, NaiveDate>,
    /// Days the office (department `None`) or one department opens although the
    /// calendar says otherwise.
    open_days: HashMap<NaiveDate, Vec<Option<String>>>,
    /// Departments: (code, folded code, folded name, parent).
    departments: Vec<(String, String, String, Option<String>)>,
}

impl Directory {
    pub fn new(m: &MasterData) -> Directory {
        let mut d = Directory {
            accounts: HashMap::new(),
            folded_accounts: HashMap::new(),
            assignments: HashMap::new(),
            households: HashMap::new(),
            members: HashMap::new(),
            vip: HashMap::new(),
            relations: Relations::new(m),
            residents: m.residents.iter().map(|r| r.uid.clone()).collect(),
            by_name: HashMap::new(),
            names: HashMap::new(),
            cases: Vec::new(),
            cases_by_resident: HashMap::new(),
            everyone_cases: Vec::new(),
            case_kinds: m.case_kinds.clone(),
            visits: HashMap::new(),
            terminals: HashMap::new(),
            locations: HashMap::new(),
            terminal_departments: HashMap::new(),
            terminal_owners: HashMap::new(),
            devices: HashMap::new(),
            shares: HashMap::new(),
            record_access: HashMap::new(),
            holidays: m.holidays.iter().map(|h| h.date).collect(),
            retired: m.employees.iter().filter_map(|e| Some((e.id.clone(), e.retired?))).collect(),
            open_days: HashMap::new(),
            departments: m.departments.iter().map(|d| (d.code.clone(), mamori_text::fold_name(&d.code).to_lowercase(), mamori_text::fold_name(&d.name), d.parent.clone())).collect(),
        };
        for o in &m.open_days {
            d.open_days.entry(o.date).or_default().push(o.department.clone());
        }
        for share in &m.shares {
            d.shares.entry(share.share.clone()).or_default().push(share.clone());
        }
        for a in &m.accounts {
            d.accounts.entry(a.account.clone()).or_default().push((a.system.clone(), a.period, a.employee_id.clone(), a.kind, a.department.clone()));
            if a.system != "mail" {
                let names = d.folded_accounts.entry(fold_account(&a.account)).or_default();
                if !names.contains(&a.account) {
                    names.push(a.account.clone());
                }
            }
            if let Some(e) = &a.employee_id
                && !NOT_RECORD_SYSTEMS.contains(&a.system.as_str())
            {
                d.record_access.entry(e.clone()).or_default().push((a.period, a.system.clone()));
            }
        }
        for a in &m.assignments {
            d.assignments.entry(a.employee_id.clone()).or_default().push((a.period, a.department.clone(), a.role.clone(), a.team.clone()));
        }
        for h in &m.households {
            d.households.entry(h.resident_uid.clone()).or_default().push((h.period, h.household.clone()));
            d.members.entry(h.household.clone()).or_default().push((h.period, h.resident_uid.clone()));
        }
        for r in &m.residents {
            let (name, kana) = (mamori_text::fold_name(&r.name), mamori_text::fold_name(&r.kana));
            for key in [name.clone(), kana.clone()] {
                if !key.is_empty() {
                    d.by_name.entry(key).or_default().push(r.uid.clone());
                }
            }
            d.names.insert(r.uid.clone(), (name, kana));
        }
        for v in &m.vip {
            d.vip.entry(v.resident_uid.clone()).or_default().push((v.period, v.reason.clone()));
        }
        for c in &m.cases {
            let i = d.cases.len();
            d.cases.push(CaseRow {
                no: c.case_no.clone(),
                kind: c.kind.clone(),
                received: c.received,
                closed: c.closed,
                department: c.department.clone(),
                handler: c.handler.clone(),
            });
            if c.concerns_everyone() {
                d.everyone_cases.push(i);
            }
            for r in c.residents.iter().filter(|r| *r != "*") {
                d.cases_by_resident.entry(r.clone()).or_default().push(i);
            }
        }
        for v in &m.counter_visits {
            d.visits.entry(v.resident_uid.clone()).or_default().push((v.at, v.visit_no.clone(), v.department.clone(), v.handler.clone()));
        }
        for t in &m.terminals {
            let host = fold_host(&t.host);
            d.terminals.insert(host.clone(), (t.kind, t.agent));
            d.locations.insert(host.clone(), t.location.clone());
            if let Some(dept) = &t.department {
                d.terminal_departments.insert(host.clone(), dept.clone());
            }
            if let Some(owner) = &t.assigned {
                d.terminal_owners.insert(host, owner.clone());
            }
        }
        for dev in &m.devices {
            d.devices.entry(dev.serial.clone()).or_default().push((dev.period, dev.owner.clone()));
        }
        d
    }

    /// The employee behind an account on `day`, and the account's kind. The account is
    /// looked up in `system` first, then in any system where the name is unambiguous.
    pub fn account(&self, system: &str, account: &str, day: NaiveDate) -> Option<(Option<&str>, AccountKind)> {
        self.account_row(system, account, day).map(|r| (r.2.as_deref(), r.3))
    }

    /// The systems in which `account` is a live account on `day` (for checking a mapping:
    /// which system a source's accounts are really found in).
    pub fn account_systems(&self, account: &str, day: NaiveDate) -> Vec<&str> {
        let mut v: Vec<&str> = self.rows_named(account, true).into_iter().filter(|r| r.1.covers(day)).map(|r| r.0.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether a host (folded) is in the terminals master data.
    pub fn terminal_known(&self, host: &str) -> bool {
        self.terminals.contains_key(&fold_host(host))
    }

    /// The department a shared or administrator account belongs to, if master data says.
    pub fn account_department(&self, system: &str, account: &str, day: NaiveDate) -> Option<&str> {
        self.account_row(system, account, day)?.4.as_deref()
    }

    fn account_row(&self, system: &str, account: &str, day: NaiveDate) -> Option<&AccountRow> {
        let live: Vec<&AccountRow> = self.rows_named(account, system != "mail").into_iter().filter(|r| r.1.covers(day)).collect();
        live.iter().find(|r| r.0 == system).or_else(|| (live.len() == 1).then(|| &live[0])).copied()
    }

    /// The rows of `account` as written; when there are none and `fold`, those of the same
    /// sign-in name under a domain or in another case (never the mail system's: a mail
    /// address is matched only as written).
    fn rows_named(&self, account: &str, fold: bool) -> Vec<&AccountRow> {
        match self.accounts.get(account) {
            Some(rows) => rows.iter().collect(),
            None if fold => self.folded_accounts.get(&fold_account(account)).into_iter().flatten().flat_map(|n| self.accounts.get(n).into_iter().flatten()).filter(|r| r.0 != "mail").collect(),
            None => Vec::new(),
        }
    }

    /// Whether `day` is a weekend or a national holiday (from the holiday calendar) on
    /// which the office does not open.
    pub fn is_day_off(&self, day: NaiveDate) -> bool {
        self.is_day_off_for(day, None)
    }

    /// Whether `day` is a day off for `department`: a calendar day off on which neither
    /// the office nor the department opens (休日開庁).
    pub fn is_day_off_for(&self, day: NaiveDate, department: Option<&str>) -> bool {
        use chrono::Datelike;
        let calendar = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) || self.holidays.contains(&day);
        calendar && !self.open_days.get(&day).is_some_and(|o| o.iter().any(|d| d.is_none() || d.as_deref() == department))
    }

    /// The staff member a mail address belongs to on `day` (the `mail` system's accounts).
    pub fn mail_owner(&self, address: &str, day: NaiveDate) -> Option<&str> {
        self.account("mail", &address.to_ascii_lowercase(), day).and_then(|(e, _)| e)
    }

    /// Whether `employee` holds a personal account in any records system on `day`: whether
    /// their role then gives them residents' records at all.
    pub fn holds_record_access(&self, employee: &str, day: NaiveDate) -> bool {
        self.record_access.get(employee).is_some_and(|ps| ps.iter().any(|p| p.0.covers(day)))
    }

    /// The records systems `employee` holds a personal account in on `day`.
    pub fn record_systems(&self, employee: &str, day: NaiveDate) -> Vec<&str> {
        let mut v: Vec<&str> = self.record_access.get(employee).into_iter().flatten().filter(|p| p.0.covers(day)).map(|p| p.1.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The former holder of an account that has lapsed by `day` in `system` (closed at a
    /// transfer or retirement), and the day it ended; `None` if the account is live or
    /// unknown.
    pub fn lapsed_account(&self, system: &str, account: &str, day: NaiveDate) -> Option<(&str, NaiveDate)> {
        let rows = self.accounts.get(account)?;
        if rows.iter().any(|r| r.0 == system && r.1.covers(day)) {
            return None;
        }
        rows.iter().filter(|r| r.0 == system).filter_map(|r| Some((r.2.as_deref()?, r.1.to?))).filter(|(_, to)| *to < day).max_by_key(|(_, to)| *to)
    }

    /// An account of no one (shared, administrator, batch, training: a vendor's maintenance
    /// login declared for its work days) that master data lists in `system`, but not for
    /// `day`: its kind and the periods it is declared for.
    pub fn account_out_of_period(&self, system: &str, account: &str, day: NaiveDate) -> Option<(AccountKind, Vec<Period>)> {
        let rows: Vec<&AccountRow> = self.rows_named(account, system != "mail").into_iter().filter(|r| r.0 == system).collect();
        if rows.is_empty() || rows.iter().any(|r| r.1.covers(day) || r.2.is_some()) {
            return None;
        }
        Some((rows[0].3, rows.iter().map(|r| r.1).collect()))
    }

    /// Department and role of an employee on `day`.
    pub fn posting(&self, employee: &str, day: NaiveDate) -> Option<(&str, &str)> {
        self.assignments.get(employee)?.iter().find(|a| a.0.covers(day)).map(|a| (a.1.as_str(), a.2.as_str()))
    }

    /// Whether `employee` was posted in `department` at any time between `from` and `to`
    /// (inclusive): whose staff a manager may look at.
    pub fn posted_in(&self, employee: &str, department: &str, from: NaiveDate, to: NaiveDate) -> bool {
        self.assignments.get(employee).is_some_and(|rows| {
            rows.iter().any(|a| a.1 == department && a.0.from <= to && a.0.to.is_none_or(|end| end >= from))
        })
    }

    /// The team (係・班) of an employee on `day`, when master data gives one.
    pub fn team(&self, employee: &str, day: NaiveDate) -> Option<&str> {
        self.assignments.get(employee)?.iter().find(|a| a.0.covers(day)).and_then(|a| a.3.as_deref())
    }

    /// The group an employee's behaviour is compared with on `day`: their team, else their
    /// department and role.
    pub fn peer_group(&self, employee: &str, day: NaiveDate) -> Option<String> {
        let a = self.assignments.get(employee)?.iter().find(|a| a.0.covers(day))?;
        Some(a.3.clone().unwrap_or_else(|| format!("{}/{}", a.1, a.2)))
    }

    /// The day an employee leaves: their `retired` date, else the last day of their
    /// postings when none is open (a retirement, the end of a contract).
    pub fn leaving(&self, employee: &str) -> Option<NaiveDate> {
        if let Some(day) = self.retired.get(employee) {
            return Some(*day);
        }
        let postings = self.assignments.get(employee)?;
        if postings.iter().any(|a| a.0.to.is_none()) {
            return None;
        }
        postings.iter().filter_map(|a| a.0.to).max()
    }

    fn household(&self, resident: &str, day: NaiveDate) -> Option<&str> {
        self.households.get(resident)?.iter().find(|h| h.0.covers(day)).map(|h| h.1.as_str())
    }

    /// The other members of `resident`'s household on `day`.
    pub fn household_members(&self, resident: &str, day: NaiveDate) -> Vec<&str> {
        let Some(h) = self.household(resident, day) else { return Vec::new() };
        self.members.get(h).into_iter().flatten().filter(|m| m.0.covers(day) && m.1 != resident).map(|m| m.1.as_str()).collect()
    }

    /// The resident and the members of their household on `day` — or as it stood in the
    /// last `HOUSEHOLD_GRACE_DAYS`: a move notice is processed after the move, when the
    /// register already closed the household rows the clerk is working on.
    pub(crate) fn with_household<'a>(&'a self, resident: &'a str, day: NaiveDate) -> Vec<&'a str> {
        let mut out = vec![resident];
        let recent = |p: &Period| p.covers(day) || (p.from <= day && p.to.is_some_and(|to| to < day && (day - to).num_days() <= HOUSEHOLD_GRACE_DAYS));
        let household = self.household(resident, day).or_else(|| self.households.get(resident)?.iter().filter(|h| recent(&h.0)).max_by_key(|h| h.0.to).map(|h| h.1.as_str()));
        if let Some(h) = household
            && let Some(members) = self.members.get(h)
        {
            out.extend(members.iter().filter(|m| recent(&m.0) && m.1 != resident).map(|m| m.1.as_str()));
        }
        out
    }

    /// How `resident` is related to `employee` on `day`, if at all: kin and neighbours from
    /// the whole history of households, the family register and addresses, then
    /// colleagues (staff's own records), the same section's first. A shared surname alone
    /// is not a relation.
    pub fn relation(&self, employee: &str, resident: &str, day: NaiveDate) -> Option<Relation> {
        if let Some(r) = self.relations.kin_or_neighbour(employee, resident, day) {
            return Some(r);
        }
        let other = self.relations.staff_with_record(resident).filter(|e| *e != employee)?;
        let same_section = matches!((self.posting(employee, day), self.posting(other, day)), (Some(a), Some(b)) if a.0 == b.0);
        let kind = if same_section { RelationKind::ColleagueSameSection } else { RelationKind::Colleague };
        Some(Relation { kind, detail: format!("{} {other}", kind.ja()) })
    }

    /// Folded name and reading of a resident, for matching namesakes.
    pub(crate) fn name_keys(&self, resident: &str) -> Vec<String> {
        self.names.get(resident).map(|(n, k)| [n, k].into_iter().filter(|x| !x.is_empty()).cloned().collect()).unwrap_or_default()
    }

    /// Every resident's 宛名番号, in master-data order.
    pub fn residents(&self) -> &[String] {
        &self.residents
    }

    /// The case kinds the town declared.
    pub fn case_kinds(&self) -> &[CaseKind] {
        &self.case_kinds
    }

    /// Per case kind: how many cases, and how many were closed (for learning whether a
    /// kind is an ongoing caseload), and the days from receipt to closing of the closed.
    pub(crate) fn case_kind_stats(&self) -> HashMap<&str, (usize, Vec<i64>)> {
        let mut out: HashMap<&str, (usize, Vec<i64>)> = HashMap::new();
        for c in &self.cases {
            let e = out.entry(c.kind.as_str()).or_default();
            e.0 += 1;
            if let Some(closed) = c.closed {
                e.1.push((closed - c.received).num_days());
            }
        }
        out
    }

    /// The watch-list reason for a resident on `day`.
    pub fn vip(&self, resident: &str, day: NaiveDate) -> Option<&str> {
        self.vip.get(resident)?.iter().find(|v| v.0.covers(day)).map(|v| v.1.as_str())
    }

    /// The department a terminal belongs to.
    pub fn terminal_department(&self, host: &str) -> Option<&str> {
        self.terminal_departments.get(&fold_host(host)).map(String::as_str)
    }

    /// Where a terminal stands: its room.
    pub fn terminal_location(&self, host: &str) -> Option<&str> {
        self.locations.get(&fold_host(host)).map(String::as_str)
    }

    /// The employee a terminal is assigned to.
    pub fn terminal_owner(&self, host: &str) -> Option<&str> {
        self.terminal_owners.get(&fold_host(host)).map(String::as_str)
    }

    pub fn terminal_kind(&self, host: &str) -> Option<TerminalKind> {
        self.terminals.get(&fold_host(host)).map(|t| t.0)
    }

    /// Whether an account of `kind` is used where it does not belong: a batch account at a
    /// terminal master data lists as anything but a server, a training account at one it
    /// lists as anything but a training terminal. On a host master data does not list (or
    /// with none in the log) either is taken for what it says it is, so that a town that
    /// declares the kinds before listing every PC raises no one for it.
    pub fn account_misplaced(&self, kind: AccountKind, host: &str) -> bool {
        let listed_as = |wanted: TerminalKind| !host.is_empty() && self.terminal_kind(host).is_some_and(|k| k != wanted);
        match kind {
            AccountKind::Batch => listed_as(TerminalKind::Server),
            AccountKind::Training => listed_as(TerminalKind::Training),
            _ => false,
        }
    }

    /// Whether a known terminal has the endpoint agent (and so sends USB and print logs).
    pub fn terminal_has_agent(&self, host: &str) -> Option<bool> {
        self.terminals.get(&fold_host(host)).map(|t| t.1)
    }

    /// A share's owner and classification on `day`, if it is restricted to its owner and
    /// grantees (confidential or above), and whether `department` may use it.
    pub fn restricted_share(&self, share: &str, department: &str, day: NaiveDate) -> Option<(&str, Classification, bool)> {
        let s = self.shares.get(share)?.iter().find(|s| s.period.covers(day))?;
        if s.classification < Classification::Confidential {
            return None;
        }
        let allowed = s.owner_department == department || s.granted.iter().any(|g| g == "*" || g == department);
        Some((s.owner_department.as_str(), s.classification, allowed))
    }

    /// The period of a share opened to everyone (granted `*`) on `day`: a year-end
    /// handover folder, whose sub-folders belong to sections.
    pub fn open_to_all(&self, share: &str, day: NaiveDate) -> Option<Period> {
        self.shares.get(share)?.iter().find(|s| s.period.covers(day) && s.granted.iter().any(|g| g == "*")).map(|s| s.period)
    }

    /// The department a folder or label names, as towns name them: its code (`D220`), its
    /// name (`税務課`), or both (`D220_税務課`, `02-税務課`). The longest name found wins
    /// (`市民課` inside `市民課窓口`); `None` when it names none (`共通`).
    pub fn department_named(&self, text: &str) -> Option<&str> {
        let folded = mamori_text::fold_name(text);
        let lower = folded.to_lowercase();
        if let Some(d) = self.departments.iter().find(|d| d.1 == lower) {
            return Some(&d.0);
        }
        let tokens: Vec<&str> = lower.split(|c: char| "_-・.()（）[]【】 ".contains(c)).filter(|t| !t.is_empty()).collect();
        if let Some(d) = self.departments.iter().find(|d| tokens.contains(&d.1.as_str())) {
            return Some(&d.0);
        }
        self.departments.iter().filter(|d| d.2.chars().count() >= 2 && folded.contains(&d.2)).max_by_key(|d| d.2.chars().count()).map(|d| d.0.as_str())
    }

    /// The department `code` belongs to, if any.
    pub fn department_parent(&self, code: &str) -> Option<&str> {
        self.departments.iter().find(|d| d.0 == code).and_then(|d| d.3.as_deref())
    }

    /// The department that owns `share` on `day`.
    pub fn share_owner(&self, share: &str, day: NaiveDate) -> Option<&str> {
        self.shares.get(share)?.iter().find(|s| s.period.covers(day)).map(|s| s.owner_department.as_str())
    }

    /// Whether the resident or their household had business on file with any section of
    /// the office between `from` and `to`: a counter visit, or a case received or open
    /// then. A resident who came in about a death or a move is phoned about by several
    /// sections; someone in the news is not.
    pub fn had_business_with_office(&self, resident: &str, from: NaiveDateTime, to: NaiveDateTime) -> bool {
        self.with_household(resident, to.date()).iter().any(|p| {
            let visited = self.visits.get(*p).into_iter().flatten().any(|v| v.0 >= from && v.0 <= to);
            let case = self.cases_by_resident.get(*p).into_iter().flatten().any(|&i| {
                let c = &self.cases[i];
                c.received <= to.date() && c.closed.is_none_or(|closed| closed >= from.date())
            });
            visited || case
        })
    }

    /// How many residents master data lists (the population a look-up falls on).
    pub fn resident_count(&self) -> usize {
        self.residents.len()
    }

    /// The share of residents who are members of staff: how often a look-up of someone at
    /// random falls on a colleague.
    pub fn staff_share(&self) -> f64 {
        self.relations.staff_record_count() as f64 / self.residents.len().max(1) as f64
    }

    /// `Some(owner)` when `serial` is an approved device on `day`.
    pub fn approved_device(&self, serial: &str, day: NaiveDate) -> Option<Option<&str>> {
        self.devices.get(serial)?.iter().find(|d| d.0.covers(day)).map(|d| d.1.as_deref())
    }
}
