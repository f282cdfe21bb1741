//! Enrichment: what master data says about an event, as of the event's own time — whose
//! account it is, where that employee worked then, how the resident is related to them,
//! whether the resident is on the watch-list, and which counter visit or business case
//! explains the access (explanation-based auditing, after Fabbri & LeFevre, PVLDB 2011).
//!
//! Everything here is pure: a [`Directory`] is built once from [`MasterData`] into
//! in-memory indexes, and every question is answered from them. No I/O, no storage, no
//! decisions about what is suspicious (that is detection's).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use mamori_model::master::{AccountKind, Classification, FileShare, MasterData, Period, TerminalKind};

/// The account system a source's events are written for: sources are named freely, and
/// the simulator and examples name them after their system, except Windows.
pub fn account_system(product: &str) -> &str {
    match product {
        "win-security" | "windows" => "windows",
        other => other,
    }
}

/// How a resident is related to the employee who looked them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The employee's own record.
    Own,
    /// A member of the employee's household.
    Household,
    /// A family-register relative.
    Family,
    /// Someone of the same surname (after folding) living at the same or the next block
    /// (番) of the same 丁目: a relative the register does not link, more often than not.
    SameSurnameNextDoor,
    /// Another member of staff's own record.
    Colleague,
}

/// Why an access is legitimate, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// A batch account's work.
    Batch,
    /// The access names a case that concerns the resident.
    DeclaredCase(String),
    /// A counter visit of the resident (or household) at the employee's department.
    Visit(String),
    /// A case concerning the resident (or household) handled by the employee's department.
    Case(String),
}

impl Explanation {
    pub fn code(&self) -> String {
        match self {
            Explanation::Batch => "batch".into(),
            Explanation::DeclaredCase(c) => format!("declared-case:{c}"),
            Explanation::Visit(v) => format!("visit:{v}"),
            Explanation::Case(c) => format!("case:{c}"),
        }
    }
}

/// How long before and after a counter visit its look-ups are expected (minutes).
const VISIT_BEFORE: i64 = 60;
const VISIT_AFTER: i64 = 120;
/// Work on a case that ran over days goes on for a while after it is closed (days); a
/// case opened and closed the same day (a certificate over the counter) explains that day
/// only, or a legitimate request would cover a month of snooping.
const CASE_TAIL_DAYS: u64 = 30;

/// Whether two addresses are the same block or the next one (番 ±1) of the same 丁目:
/// `本町3丁目12番5号` and `本町3丁目13番1号` are, `本町3丁目15番` is not. Addresses that do
/// not parse so are next door only when equal.
fn next_door(a: &str, b: &str) -> bool {
    fn split(s: &str) -> Option<(String, u32)> {
        let folded: String = s.chars().map(|c| if c.is_ascii_digit() { c } else { mamori_text::fold_name(&c.to_string()).chars().next().unwrap_or(c) }).collect();
        let (area, rest) = folded.split_once("丁目")?;
        let block: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some((area.to_owned(), block.parse().ok()?))
    }
    match (split(a), split(b)) {
        (Some((x, m)), Some((y, n))) => x == y && m.abs_diff(n) <= 1,
        _ => a == b,
    }
}

/// Account systems that hold no residents' records.
const NOT_RECORD_SYSTEMS: [&str; 4] = ["windows", "mail", "cert", "http"];

/// An account as master data has it: system, validity, employee, kind.
type AccountRow = (String, Period, Option<String>, AccountKind);

struct CaseRow {
    no: String,
    received: NaiveDate,
    closed: Option<NaiveDate>,
    department: String,
    handler: Option<String>,
}

pub struct Directory {
    accounts: HashMap<String, Vec<AccountRow>>,
    assignments: HashMap<String, Vec<(Period, String, String)>>,
    households: HashMap<String, Vec<(Period, String)>>,
    members: HashMap<String, Vec<(Period, String)>>,
    family: HashMap<String, Vec<String>>,
    vip: HashMap<String, Vec<(Period, String)>>,
    own_record: HashMap<String, String>,
    /// Resident → the employee whose own record it is.
    staff_record: HashMap<String, String>,
    /// Resident → folded surname (the name's first word).
    surnames: HashMap<String, String>,
    /// Resident → (period, address) as the households list it.
    addresses: HashMap<String, Vec<(Period, String)>>,
    cases: Vec<CaseRow>,
    cases_by_resident: HashMap<String, Vec<usize>>,
    visits: HashMap<String, Vec<(NaiveDateTime, String, String)>>,
    /// Host → (kind, whether the endpoint agent is installed).
    terminals: HashMap<String, (TerminalKind, bool)>,
    /// Host → where it stands (a room, as badge readers name rooms).
    locations: HashMap<String, String>,
    /// Host → the department it belongs to.
    terminal_departments: HashMap<String, String>,
    /// Approved removable devices: serial → (validity, owner).
    devices: HashMap<String, Vec<(Period, Option<String>)>>,
    shares: HashMap<String, Vec<FileShare>>,
    /// Employee → the periods they held a personal account in a records system (any
    /// system but Windows and mail).
    record_access: HashMap<String, Vec<Period>>,
    holidays: std::collections::HashSet<NaiveDate>,
}

impl Directory {
    pub fn new(m: &MasterData) -> Directory {
        let mut d = Directory {
            accounts: HashMap::new(),
            assignments: HashMap::new(),
            households: HashMap::new(),
            members: HashMap::new(),
            family: HashMap::new(),
            vip: HashMap::new(),
            own_record: HashMap::new(),
            staff_record: HashMap::new(),
            surnames: HashMap::new(),
            addresses: HashMap::new(),
            cases: Vec::new(),
            cases_by_resident: HashMap::new(),
            visits: HashMap::new(),
            terminals: HashMap::new(),
            locations: HashMap::new(),
            terminal_departments: HashMap::new(),
            devices: HashMap::new(),
            shares: HashMap::new(),
            record_access: HashMap::new(),
            holidays: m.holidays.iter().map(|h| h.date).collect(),
        };
        for share in &m.shares {
            d.shares.entry(share.share.clone()).or_default().push(share.clone());
        }
        for a in &m.accounts {
            d.accounts.entry(a.account.clone()).or_default().push((a.system.clone(), a.period, a.employee_id.clone(), a.kind));
            if let Some(e) = &a.employee_id
                && !NOT_RECORD_SYSTEMS.contains(&a.system.as_str())
            {
                d.record_access.entry(e.clone()).or_default().push(a.period);
            }
        }
        for a in &m.assignments {
            d.assignments.entry(a.employee_id.clone()).or_default().push((a.period, a.department.clone(), a.role.clone()));
        }
        for h in &m.households {
            d.households.entry(h.resident_uid.clone()).or_default().push((h.period, h.household.clone()));
            d.members.entry(h.household.clone()).or_default().push((h.period, h.resident_uid.clone()));
            d.addresses.entry(h.resident_uid.clone()).or_default().push((h.period, h.address.clone()));
        }
        for l in &m.family_links {
            d.family.entry(l.resident_a.clone()).or_default().push(l.resident_b.clone());
            d.family.entry(l.resident_b.clone()).or_default().push(l.resident_a.clone());
        }
        for r in &m.residents {
            if let Some(surname) = r.name.split([' ', '\u{3000}']).find(|w| !w.is_empty()) {
                d.surnames.insert(r.uid.clone(), mamori_text::fold_name(surname));
            }
        }
        for v in &m.vip {
            d.vip.entry(v.resident_uid.clone()).or_default().push((v.period, v.reason.clone()));
        }
        for e in &m.employees {
            if let Some(r) = &e.resident_uid {
                d.own_record.insert(e.id.clone(), r.clone());
                d.staff_record.insert(r.clone(), e.id.clone());
            }
        }
        for c in &m.cases {
            let i = d.cases.len();
            d.cases.push(CaseRow {
                no: c.case_no.clone(),
                received: c.received,
                closed: c.closed,
                department: c.department.clone(),
                handler: c.handler.clone(),
            });
            for r in &c.residents {
                d.cases_by_resident.entry(r.clone()).or_default().push(i);
            }
        }
        for v in &m.counter_visits {
            d.visits.entry(v.resident_uid.clone()).or_default().push((v.at, v.visit_no.clone(), v.department.clone()));
        }
        for t in &m.terminals {
            d.terminals.insert(t.host.clone(), (t.kind, t.agent));
            d.locations.insert(t.host.clone(), t.location.clone());
            if let Some(dept) = &t.department {
                d.terminal_departments.insert(t.host.clone(), dept.clone());
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
        let rows = self.accounts.get(account)?;
        let live: Vec<_> = rows.iter().filter(|r| r.1.covers(day)).collect();
        let pick = live.iter().find(|r| r.0 == system).or_else(|| (live.len() == 1).then(|| &live[0]))?;
        Some((pick.2.as_deref(), pick.3))
    }

    /// Whether `day` is a weekend or a national holiday (from the holiday calendar).
    pub fn is_day_off(&self, day: NaiveDate) -> bool {
        use chrono::Datelike;
        matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) || self.holidays.contains(&day)
    }

    /// The staff member a mail address belongs to on `day` (the `mail` system's accounts).
    pub fn mail_owner(&self, address: &str, day: NaiveDate) -> Option<&str> {
        self.account("mail", &address.to_ascii_lowercase(), day).and_then(|(e, _)| e)
    }

    /// Whether `employee` holds a personal account in any records system on `day`: whether
    /// their role then gives them residents' records at all.
    pub fn holds_record_access(&self, employee: &str, day: NaiveDate) -> bool {
        self.record_access.get(employee).is_some_and(|ps| ps.iter().any(|p| p.covers(day)))
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

    /// Department and role of an employee on `day`.
    pub fn posting(&self, employee: &str, day: NaiveDate) -> Option<(&str, &str)> {
        self.assignments.get(employee)?.iter().find(|a| a.0.covers(day)).map(|a| (a.1.as_str(), a.2.as_str()))
    }

    fn household(&self, resident: &str, day: NaiveDate) -> Option<&str> {
        self.households.get(resident)?.iter().find(|h| h.0.covers(day)).map(|h| h.1.as_str())
    }

    /// The resident and the members of their household on `day`.
    fn with_household<'a>(&'a self, resident: &'a str, day: NaiveDate) -> Vec<&'a str> {
        let mut out = vec![resident];
        if let Some(h) = self.household(resident, day)
            && let Some(members) = self.members.get(h)
        {
            out.extend(members.iter().filter(|m| m.0.covers(day) && m.1 != resident).map(|m| m.1.as_str()));
        }
        out
    }

    /// How `resident` is related to `employee` on `day`, if at all. A shared surname alone
    /// is not a relation; a shared surname next door is.
    pub fn relation(&self, employee: &str, resident: &str, day: NaiveDate) -> Option<Relation> {
        let Some(own) = self.own_record.get(employee) else {
            return self.staff_record.get(resident).filter(|e| *e != employee).map(|_| Relation::Colleague);
        };
        if own == resident {
            return Some(Relation::Own);
        }
        if let (Some(a), Some(b)) = (self.household(own, day), self.household(resident, day))
            && a == b
        {
            return Some(Relation::Household);
        }
        if self.family.get(own).is_some_and(|f| f.iter().any(|r| r == resident)) {
            return Some(Relation::Family);
        }
        if let (Some(a), Some(b)) = (self.surnames.get(own), self.surnames.get(resident))
            && a == b
            && let (Some(x), Some(y)) = (self.address(own, day), self.address(resident, day))
            && next_door(x, y)
        {
            return Some(Relation::SameSurnameNextDoor);
        }
        self.staff_record.get(resident).filter(|e| *e != employee).map(|_| Relation::Colleague)
    }

    fn address(&self, resident: &str, day: NaiveDate) -> Option<&str> {
        self.addresses.get(resident)?.iter().find(|a| a.0.covers(day)).map(|a| a.1.as_str())
    }

    /// The watch-list reason for a resident on `day`.
    pub fn vip(&self, resident: &str, day: NaiveDate) -> Option<&str> {
        self.vip.get(resident)?.iter().find(|v| v.0.covers(day)).map(|v| v.1.as_str())
    }

    /// The department a terminal belongs to.
    pub fn terminal_department(&self, host: &str) -> Option<&str> {
        self.terminal_departments.get(host).map(String::as_str)
    }

    /// Where a terminal stands: its room.
    pub fn terminal_location(&self, host: &str) -> Option<&str> {
        self.locations.get(host).map(String::as_str)
    }

    pub fn terminal_kind(&self, host: &str) -> Option<TerminalKind> {
        self.terminals.get(host).map(|t| t.0)
    }

    /// Whether a known terminal has the endpoint agent (and so sends USB and print logs).
    pub fn terminal_has_agent(&self, host: &str) -> Option<bool> {
        self.terminals.get(host).map(|t| t.1)
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

    /// `Some(owner)` when `serial` is an approved device on `day`.
    pub fn approved_device(&self, serial: &str, day: NaiveDate) -> Option<Option<&str>> {
        self.devices.get(serial)?.iter().find(|d| d.0.covers(day)).map(|d| d.1.as_deref())
    }

    /// Why `employee` of `department` looking up `resident` at `at` was business, if it
    /// was; `declared_case` is a case number the access itself names.
    ///
    /// A same-day case (a certificate over the counter) explains any look-up by its
    /// section that day: colleagues help at the counter. A case that runs over days (a
    /// welfare caseload) explains its handler's look-ups only, or a relative on a
    /// colleague's caseload would cover anyone's snooping.
    pub fn explain(
        &self,
        kind: AccountKind,
        employee: Option<&str>,
        department: &str,
        resident: &str,
        at: NaiveDateTime,
        declared_case: Option<&str>,
    ) -> Option<Explanation> {
        if kind == AccountKind::Batch {
            return Some(Explanation::Batch);
        }
        let day = at.date();
        let people = self.with_household(resident, day);
        let case_fits = |i: usize| {
            let c = &self.cases[i];
            let tail = if c.closed == Some(c.received) { 0 } else { CASE_TAIL_DAYS };
            c.received <= day && c.closed.is_none_or(|closed| day <= closed + chrono::Days::new(tail))
        };
        if let Some(no) = declared_case {
            for p in &people {
                if let Some(i) = self.cases_by_resident.get(*p).and_then(|cs| cs.iter().find(|&&i| self.cases[i].no == no))
                    && case_fits(*i)
                {
                    return Some(Explanation::DeclaredCase(no.to_owned()));
                }
            }
        }
        for p in &people {
            if let Some(visits) = self.visits.get(*p) {
                let hit = visits.iter().find(|(t, _, dept)| {
                    let minutes = (at - *t).num_minutes();
                    dept == department && (-VISIT_BEFORE..=VISIT_AFTER).contains(&minutes)
                });
                if let Some((_, no, _)) = hit {
                    return Some(Explanation::Visit(no.clone()));
                }
            }
        }
        for p in &people {
            if let Some(cs) = self.cases_by_resident.get(*p)
                && let Some(&i) = cs.iter().find(|&&i| {
                    let c = &self.cases[i];
                    let same_day = c.closed == Some(c.received);
                    let theirs = same_day || c.handler.is_none() || c.handler.as_deref() == employee;
                    c.department == department && theirs && case_fits(i)
                })
            {
                return Some(Explanation::Case(self.cases[i].no.clone()));
            }
        }
        None
    }
}
