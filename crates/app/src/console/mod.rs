//! What the console's pages read, scoped by who is reading and recorded in the log.
//!
//! A console user has one [`Role`]; each page is a [`View`] a role may or may not open
//! ([`Role::may`]), and within a view a manager sees only their own department's staff
//! ([`Reader::sees_employee`]). Every function here that shows personal data records the
//! viewing in the log under the reader's name before it returns, so that the auditors'
//! own looking is as traceable as the staff's.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use mamori_enrich::Directory;
use mamori_journal::{Journal, SqliteJournal};
use mamori_model::master::MasterData;
use mamori_model::{Finding, Severity};
use mamori_report::{OperatorPolicy, Table};
use serde::de::DeserializeOwned;

use crate::audit::{self, Action};

pub mod breach;
pub mod gate;
pub mod review;
pub mod sources;

/// The console's roles (docs/console.md). The list is closed: `user add` refuses others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Users, API keys and sources; no personal data.
    Administrator,
    /// Everything that concerns misuse; every view recorded.
    Auditor,
    /// Their own department's staff, findings and review sheets.
    Manager,
    /// Residents' disclosure requests and breach reports.
    PrivacyOfficer,
}

pub const ROLES: [&str; 4] = ["administrator", "auditor", "manager", "privacy-officer"];

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "administrator" => Role::Administrator,
            "auditor" => Role::Auditor,
            "manager" => Role::Manager,
            "privacy-officer" => Role::PrivacyOfficer,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        ROLES[self as usize]
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Role::Administrator, false) => "システム管理者",
            (Role::Auditor, false) => "監査担当",
            (Role::Manager, false) => "所属長",
            (Role::PrivacyOfficer, false) => "個人情報保護担当",
            (Role::Administrator, true) => "administrator",
            (Role::Auditor, true) => "auditor",
            (Role::Manager, true) => "manager",
            (Role::PrivacyOfficer, true) => "privacy officer",
        }
    }

    /// Whether this role may open `view` at all (a manager's is then narrowed to their
    /// department).
    pub fn may(self, view: View) -> bool {
        use View::*;
        match self {
            Role::Administrator => matches!(view, Dashboard | Sources | Admin),
            // Cases are the auditors' own work.
            Role::Auditor => true,
            Role::Manager => matches!(view, Dashboard | Findings | Employees | Review),
            Role::PrivacyOfficer => matches!(view, Dashboard | Disclosure | Breach),
        }
    }
}

/// The console's pages, as far as roles are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Dashboard,
    Findings,
    Employees,
    Disclosure,
    Breach,
    Review,
    Sources,
    Admin,
    Cases,
    /// A resident's history with the operators named: investigators only.
    Residents,
    /// The purpose-of-use gate's activity.
    Gate,
}

/// Who is reading: a signed-in console user.
#[derive(Debug, Clone)]
pub struct Reader {
    pub name: String,
    pub role: Role,
    /// A manager's department (`user add --department`).
    pub department: Option<String>,
}

impl Reader {
    /// The name the log records the reader's actions under.
    pub fn actor(&self) -> String {
        format!("console:{}", self.name)
    }

    /// Whether the reader may see `employee`'s records for the days `from`..=`to`: a
    /// manager only while the employee was posted in the manager's department.
    pub fn sees_employee(&self, staff: &Directory, employee: &str, from: NaiveDate, to: NaiveDate) -> bool {
        match self.role {
            Role::Auditor => true,
            Role::Manager => self.department.as_deref().is_some_and(|d| staff.posted_in(employee, d, from, to)),
            Role::Administrator | Role::PrivacyOfficer => false,
        }
    }

    /// Whether the reader may see a finding: every reader who may see findings sees it if
    /// they may see one of its employees over its period.
    pub fn sees_finding(&self, staff: &Directory, f: &Finding) -> bool {
        let (from, to) = (jst_day(f.from), jst_day(f.to));
        f.employees.iter().any(|e| self.sees_employee(staff, e, from, to))
    }
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("JST")
}

pub fn jst_day(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&jst()).date_naive()).unwrap_or_default()
}

pub fn jst_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// The staff side of the master data only (departments, employees, postings): enough to
/// scope a page by department without reading a town's residents.
pub fn staff_directory(j: &SqliteJournal) -> Result<(Directory, MasterData)> {
    fn rows<T: DeserializeOwned>(j: &SqliteJournal, kind: &str) -> Result<Vec<T>> {
        j.master_rows(kind)?.iter().map(|r| serde_json::from_str(r).with_context(|| crate::tr!("保存されている {kind} の行を読めません", "stored {kind} row"))).collect()
    }
    let master = MasterData {
        departments: rows(j, "departments")?,
        employees: rows(j, "employees")?,
        assignments: rows(j, "assignments")?,
        ..MasterData::default()
    };
    Ok((Directory::new(&master), master))
}

/// The findings list's filters, sort and page, as the findings page's form sends them.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct FindingFilter {
    /// low, medium, high, critical: this severity and above.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    /// A department code: findings about staff posted there during the finding.
    #[serde(default)]
    pub department: Option<String>,
    /// JST dates, inclusive: findings whose evidence falls in the period.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// raised (default: not set aside by a case), suppressed, or all.
    #[serde(default)]
    pub state: Option<String>,
    /// severity (default), time, rule, employee.
    #[serde(default)]
    pub sort: Option<String>,
    /// 1-based.
    #[serde(default)]
    pub page: Option<usize>,
}

pub const PAGE_SIZE: usize = 50;

/// One page of findings and what the filters left.
pub struct FindingsPage {
    pub findings: Vec<Finding>,
    /// Findings the reader may see that match the filters (all pages).
    pub matched: usize,
    pub page: usize,
    pub pages: usize,
    /// Rules to offer in the filters (of what the reader may see), and departments (filled
    /// in by [`findings`] from the master data).
    pub rules: Vec<(String, String, String)>,
    pub departments: Vec<(String, String)>,
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

fn parse_day(s: &Option<String>, field: &str) -> Result<Option<NaiveDate>> {
    match s.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => crate::timearg::day(field, d).map(Some),
    }
}

/// Chooses, sorts and pages the findings `reader` may see; pure, so the filters are
/// tested on tables of findings.
pub fn select_findings(all: Vec<Finding>, reader: &Reader, staff: &Directory, filter: &FindingFilter) -> Result<FindingsPage> {
    let min = match filter.severity.as_deref().filter(|s| !s.is_empty()) {
        None => 0,
        Some("low") => 0,
        Some("medium") => 1,
        Some("high") => 2,
        Some("critical") => 3,
        Some(other) => bail!(crate::tr!("severity: `{other}` は low、medium、high、critical のいずれでもありません", "severity: `{other}` is not one of low, medium, high, critical")),
    };
    let (from, to) = (parse_day(&filter.from, "from")?, parse_day(&filter.to, "to")?);
    let visible: Vec<Finding> = all.into_iter().filter(|f| reader.sees_finding(staff, f)).collect();
    let mut rules: Vec<(String, String, String)> = visible.iter().map(|f| (f.rule.clone(), f.title_ja.clone(), f.title_en.clone())).collect();
    rules.sort();
    rules.dedup_by(|a, b| a.0 == b.0);
    let department = filter.department.as_deref().filter(|s| !s.is_empty());
    let state = match filter.state.as_deref().unwrap_or("") {
        "" | "raised" => Some(false),
        "suppressed" => Some(true),
        "all" => None,
        other => bail!(crate::tr!("state: `{other}` は raised、suppressed、all のいずれでもありません", "state: `{other}` is not one of raised, suppressed, all")),
    };
    let mut chosen: Vec<Finding> = visible
        .into_iter()
        .filter(|f| state.is_none_or(|suppressed| f.suppressed.is_some() == suppressed))
        .filter(|f| severity_rank(f.severity) >= min)
        .filter(|f| filter.rule.as_deref().filter(|s| !s.is_empty()).is_none_or(|r| f.rule == r))
        .filter(|f| from.is_none_or(|d| jst_day(f.to) >= d) && to.is_none_or(|d| jst_day(f.from) <= d))
        .filter(|f| department.is_none_or(|d| f.employees.iter().any(|e| staff.posted_in(e, d, jst_day(f.from), jst_day(f.to)))))
        .collect();
    match filter.sort.as_deref().unwrap_or("severity") {
        "time" => chosen.sort_by(|a, b| b.from.cmp(&a.from).then(a.id.cmp(&b.id))),
        "rule" => chosen.sort_by(|a, b| a.rule.cmp(&b.rule).then(b.from.cmp(&a.from))),
        "employee" => chosen.sort_by(|a, b| a.employees.cmp(&b.employees).then(b.from.cmp(&a.from))),
        "severity" | "" => chosen.sort_by(|a, b| severity_rank(b.severity).cmp(&severity_rank(a.severity)).then(b.from.cmp(&a.from)).then(a.id.cmp(&b.id))),
        other => bail!(crate::tr!("sort: `{other}` は severity、time、rule、employee のいずれでもありません", "sort: `{other}` is not one of severity, time, rule, employee")),
    }
    let matched = chosen.len();
    let pages = matched.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.unwrap_or(1).clamp(1, pages);
    let findings = chosen.into_iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE).collect();
    Ok(FindingsPage { findings, matched, page, pages, rules, departments: Vec::new() })
}

/// The findings page: the stored findings `reader` may see, filtered, sorted and paged;
/// the viewing is recorded.
pub fn findings(j: &mut SqliteJournal, reader: &Reader, filter: &FindingFilter) -> Result<FindingsPage> {
    if !reader.role.may(View::Findings) {
        bail!(crate::tr!("役割 {} は所見を見られません", "role {} may not see findings", reader.role.as_str()));
    }
    let (staff, master) = staff_directory(j)?;
    let mut page = select_findings(crate::detect::stored_findings(j)?, reader, &staff, filter)?;
    if reader.role != Role::Manager {
        page.departments = master.departments.iter().map(|d| (d.code.clone(), d.name.clone())).collect();
    } else if let Some(d) = master.departments.iter().find(|d| Some(&d.code) == reader.department.as_ref()) {
        page.departments = vec![(d.code.clone(), d.name.clone())];
    }
    let detail = format!("findings viewed: {} of {} matching (filters {})", page.findings.len(), page.matched, serde_json::to_string(filter)?);
    audit::record_by(j, &reader.actor(), Action::View, &detail, &[])?;
    Ok(page)
}

/// One evidence event of a finding, as the finding page shows it.
pub struct EvidenceRow {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub product: String,
    pub operation: String,
    pub resident: String,
    pub host: String,
    pub object: String,
    /// The event's inclusion in the signed tree, checked here: the tree size proved against.
    pub proved_at: Option<u64>,
}

pub struct FindingDetail {
    pub finding: Finding,
    pub evidence: Vec<EvidenceRow>,
    /// Evidence events not shown (a finding can rest on thousands).
    pub more: usize,
    /// (employee id, name) of the finding's employees.
    pub employees: Vec<(String, String)>,
}

/// Evidence rows shown on a finding's page; the rest are counted.
pub const EVIDENCE_SHOWN: usize = 200;

/// A finding with its evidence, each event's inclusion proved against the latest signed
/// checkpoint; `None` when there is no such finding or the reader may not see it (the two
/// are not told apart). The viewing is recorded.
pub fn finding(j: &mut SqliteJournal, reader: &Reader, id: &str) -> Result<Option<FindingDetail>> {
    if !reader.role.may(View::Findings) {
        return Ok(None);
    }
    let (staff, master) = staff_directory(j)?;
    let Some(f) = crate::detect::stored_findings(j)?.into_iter().find(|f| f.id == id) else { return Ok(None) };
    if !reader.sees_finding(&staff, &f) {
        audit::record_by(j, &reader.actor(), Action::View, &format!("finding {id} refused: outside the reader's scope"), &[])?;
        return Ok(None);
    }
    let checkpoint = j.latest_checkpoint()?.with_context(|| crate::tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
    let mut evidence = Vec::new();
    for &seq in f.evidence.iter().take(EVIDENCE_SHOWN) {
        let Some(stored) = j.get(seq)? else { continue };
        let e = stored.event()?;
        let proved_at = if seq < checkpoint.size {
            let path = j.audit_path(seq, checkpoint.size)?;
            mamori_journal::check_inclusion(&path, checkpoint.size, checkpoint.root, seq, mamori_journal::leaf_hash(&stored.body)).ok().map(|_| checkpoint.size)
        } else {
            None
        };
        evidence.push(EvidenceRow {
            seq,
            at: jst_time(e.time),
            actor: e.actor.user.uid.clone(),
            product: crate::report::system_name(&e.metadata.product),
            operation: e.unmapped.operation.clone().unwrap_or_default(),
            resident: e.resident_uid().unwrap_or_default().to_owned(),
            host: e.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default(),
            object: e.file.as_ref().map(|x| x.path.clone()).or_else(|| e.http_request.as_ref().map(|h| h.url.url_string.clone())).unwrap_or_default(),
            proved_at,
        });
    }
    let employees = f.employees.iter().map(|e| (e.clone(), master.employees.iter().find(|x| &x.id == e).map(|x| x.name.clone()).unwrap_or_default())).collect();
    audit::record_by(j, &reader.actor(), Action::View, &format!("finding {id} viewed ({} evidence events)", f.evidence.len()), &[])?;
    Ok(Some(FindingDetail { more: f.evidence.len().saturating_sub(EVIDENCE_SHOWN), finding: f, evidence, employees }))
}

/// An employee's page: who they are, where they were posted, their accounts, each record
/// access in the period with its business (the back-search), their activity per day and
/// their findings.
pub struct EmployeeView {
    pub id: String,
    pub name: String,
    /// (from, to or "", department code, department name, role) per posting.
    pub postings: Vec<(String, String, String, String, String)>,
    pub accounts: Vec<String>,
    pub from: String,
    pub to: String,
    pub entries: Vec<mamori_report::BackSearchEntry>,
    /// (JST date, accesses, of which unexplained), oldest first.
    pub days: Vec<(String, usize, usize)>,
    pub findings: Vec<Finding>,
    /// The employee's risk score at each of the twelve month ends up to the period's end
    /// (the last point: the period's end), as `mamori risk` scores it: (date, score).
    pub risk: Vec<(String, f64)>,
    /// Entries left out because the employee was then posted outside the reader's scope.
    pub hidden: usize,
}

/// `employee`'s risk as it stood at the end of each of the twelve months up to `to`
/// (the last point `to` itself): the findings raised about them by then, each weighed
/// and faded as `mamori_detect::risk` does. Suppressed findings do not count.
pub fn risk_over_time(findings: &[Finding], employee: &str, to: NaiveDate, config: &mamori_detect::RiskConfig) -> Vec<(String, f64)> {
    let end_of = |d: NaiveDate| d.and_hms_opt(23, 59, 59).expect("a time").and_local_timezone(jst()).single().expect("JST has no gaps").timestamp_millis();
    let mut points = vec![to];
    let mut month_start = to.with_day(1).expect("day 1");
    while points.len() < 12 {
        let end = month_start - chrono::Days::new(1);
        points.push(end);
        month_start = end.with_day(1).expect("day 1");
    }
    points.reverse();
    points
        .into_iter()
        .map(|day| {
            let at = end_of(day);
            // A finding counts once its evidence has ended: the score fades from its end.
            let then: Vec<Finding> = findings.iter().filter(|f| f.suppressed.is_none() && f.to <= at && f.employees.first().is_some_and(|e| e == employee)).cloned().collect();
            let score = mamori_detect::risk(&then, at, config).into_iter().find(|r| r.employee == employee).map_or(0.0, |r| r.score);
            (day.format("%Y-%m-%d").to_string(), score)
        })
        .collect()
}

/// The employee's page for `reader`, over JST dates `from`..=`to` (default: the last 90
/// days of the log); `None` when there is no such employee or the reader may not see
/// them in the period (not told apart). The viewing is recorded.
/// What a page about one thing comes to for a reader.
pub enum Shown<T> {
    Shown(T),
    /// No such thing.
    Missing,
    /// It exists and is not the reader's to see (recorded): the page says so and shows
    /// nothing of it. Used where existence is no secret (staff are in the directory);
    /// a finding outside the reader's scope is [`Shown::Missing`], since its id names a
    /// resident.
    Refused,
}

pub fn employee(j: &mut SqliteJournal, reader: &Reader, id: &str, from: Option<&str>, to: Option<&str>, risk: &mamori_detect::RiskConfig) -> Result<Shown<EmployeeView>> {
    if !reader.role.may(View::Employees) {
        return Ok(Shown::Refused);
    }
    let (staff, master) = staff_directory(j)?;
    let Some(person) = master.employees.iter().find(|e| e.id == id) else { return Ok(Shown::Missing) };
    let refused = |j: &mut SqliteJournal| -> Result<Shown<EmployeeView>> {
        audit::record_by(j, &reader.actor(), Action::View, &format!("employee {id} refused: outside the reader's scope"), &[])?;
        Ok(Shown::Refused)
    };
    // Someone the reader may never see costs no back-search.
    if !reader.sees_employee(&staff, id, NaiveDate::MIN, NaiveDate::MAX) {
        return refused(j);
    }
    let day = crate::timearg::day;
    let (from, to) = (from.filter(|s| !s.is_empty()).map(|f| day("from", f)).transpose()?, to.filter(|s| !s.is_empty()).map(|t| day("to", t)).transpose()?);
    // Without a period: the 90 days up to the employee's latest record access (the log's
    // latest event may be anyone's, or the console's own).
    let range = crate::timearg::inclusive_range(from.map(|d| d.to_string()).as_deref(), to.map(|d| d.to_string()).as_deref())?;
    let search = crate::report::back_search(j, id, range, String::new(), String::new())?;
    let latest = search.entries.iter().filter_map(|e| NaiveDate::parse_from_str(e.at.get(..10)?, "%Y-%m-%d").ok()).max();
    let to_day = to.or(latest).unwrap_or_else(|| jst_day(chrono::Utc::now().timestamp_millis()));
    let from_day = from.unwrap_or(to_day - chrono::Days::new(89));
    if !reader.sees_employee(&staff, id, from_day, to_day) {
        return refused(j);
    }
    let (from_s, to_s) = (from_day.format("%Y-%m-%d").to_string(), to_day.format("%Y-%m-%d").to_string());
    let mut hidden = 0;
    let mut entries = Vec::new();
    for e in search.entries {
        let Some(day) = e.at.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else { continue };
        if day < from_day || day > to_day {
            continue;
        }
        if reader.sees_employee(&staff, id, day, day) {
            entries.push(e);
        } else {
            hidden += 1;
        }
    }
    let mut per_day: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    // Every day of the period gets its bar, quiet days too, so the chart shows a rhythm
    // (up to a year and a bit; a longer period shows the days with accesses).
    if (to_day - from_day).num_days() <= 400 {
        for d in from_day.iter_days().take_while(|d| *d <= to_day) {
            per_day.insert(d.format("%Y-%m-%d").to_string(), (0, 0));
        }
    }
    for e in &entries {
        let d = per_day.entry(e.at.get(..10).unwrap_or("").to_owned()).or_default();
        d.0 += 1;
        d.1 += usize::from(!e.explained);
    }
    let names: std::collections::HashMap<&str, &str> = master.departments.iter().map(|d| (d.code.as_str(), d.name.as_str())).collect();
    let mut postings: Vec<_> = master
        .assignments
        .iter()
        .filter(|a| a.employee_id == id)
        .map(|a| {
            let to = a.period.to.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
            (a.period.from.format("%Y-%m-%d").to_string(), to, a.department.clone(), names.get(a.department.as_str()).copied().unwrap_or("").to_owned(), a.role.clone())
        })
        .collect();
    postings.sort();
    let findings: Vec<Finding> = crate::detect::stored_findings(j)?.into_iter().filter(|f| f.employees.iter().any(|e| e == id) && reader.sees_finding(&staff, f)).collect();
    let view = EmployeeView {
        risk: risk_over_time(&findings, id, to_day, risk),
        id: id.to_owned(),
        name: person.name.clone(),
        postings,
        accounts: search.accounts,
        from: from_s,
        to: to_s,
        days: per_day.into_iter().map(|(d, (n, u))| (d, n, u)).collect(),
        entries,
        findings,
        hidden,
    };
    audit::record_by(
        j,
        &reader.actor(),
        Action::View,
        &format!("employee {id} viewed ({} to {}: {} accesses, {} findings)", view.from, view.to, view.entries.len(), view.findings.len()),
        &[],
    )?;
    Ok(Shown::Shown(view))
}

/// What needs attention today, as far as the reader may see.
pub struct Dashboard {
    /// High and critical findings, newest first (at most ten), and how many there are.
    pub urgent: Vec<Finding>,
    pub urgent_total: usize,
    /// Findings the reader may see, per severity (critical, high, medium, low).
    pub by_severity: [usize; 4],
    /// Review sheets of last month not signed off, and how many are overdue.
    pub reviews: Vec<crate::review::ReviewState>,
    /// The latest signed checkpoint: tree size.
    pub checkpoint_size: Option<u64>,
    pub events: u64,
    /// The latest event's time, JST.
    pub last_event: String,
    /// Sources that went silent (administrators and auditors).
    pub silent: Vec<sources::SourceActivity>,
    /// The last recorded `mamori verify --record`: time, and what it said.
    pub last_verify: Option<(String, String)>,
    /// Open cases, oldest first, with their age in days (auditors).
    pub open_cases: Vec<(crate::cases::Case, i64)>,
}

pub fn dashboard(j: &mut SqliteJournal, reader: &Reader, today: NaiveDate) -> Result<Dashboard> {
    let mut d = Dashboard {
        urgent: Vec::new(),
        urgent_total: 0,
        by_severity: [0; 4],
        reviews: Vec::new(),
        checkpoint_size: j.latest_checkpoint()?.map(|c| c.size),
        events: j.size()?,
        last_event: j.time_span()?.map(|(_, hi)| jst_time(hi)).unwrap_or_default(),
        silent: Vec::new(),
        last_verify: last_verify(j)?,
        open_cases: Vec::new(),
    };
    if reader.role.may(View::Cases) {
        d.open_cases = crate::cases::open_by_age(j, today)?;
    }
    if reader.role.may(View::Sources) {
        d.silent = sources::activity(j)?.into_iter().filter(|a| a.silent).collect();
    }
    if reader.role.may(View::Findings) {
        let (staff, _) = staff_directory(j)?;
        let mut visible: Vec<Finding> = crate::detect::stored_findings(j)?.into_iter().filter(|f| reader.sees_finding(&staff, f)).collect();
        for f in visible.iter().filter(|f| f.suppressed.is_none()) {
            d.by_severity[3 - severity_rank(f.severity) as usize] += 1;
        }
        visible.retain(|f| f.severity >= Severity::High && f.suppressed.is_none());
        visible.sort_by(|a, b| b.detected_at.cmp(&a.detected_at));
        d.urgent_total = visible.len();
        d.urgent = visible.into_iter().take(10).collect();
    }
    if reader.role.may(View::Review) {
        let last_month = (today.with_day(1).expect("day 1") - chrono::Days::new(1)).format("%Y-%m").to_string();
        d.reviews = crate::review::status(j, &[last_month], today, 10)?
            .into_iter()
            .filter(|r| r.state != "signed" && (reader.role != Role::Manager || reader.department.as_deref() == Some(r.department.as_str())))
            .collect();
    }
    if reader.role.may(View::Findings) {
        audit::record_by(j, &reader.actor(), Action::View, &format!("dashboard viewed ({} urgent findings)", d.urgent_total), &[])?;
    }
    Ok(d)
}

/// The latest verification recorded in the log (`mamori verify --record`): its time and
/// result.
pub fn last_verify(j: &SqliteJournal) -> Result<Option<(String, String)>> {
    let Some(seq) = j.tagged(audit::VERIFY_TAG)?.into_iter().map(|(_, seq)| seq).max() else { return Ok(None) };
    let Some(stored) = j.get(seq)? else { return Ok(None) };
    let e = stored.event()?;
    Ok(Some((jst_time(e.time), e.unmapped.extra.get("detail").and_then(|d| d.as_str()).unwrap_or_default().to_owned())))
}

/// One action of a console user or report reader, as the administration page lists it.
pub struct ActionRow {
    pub time: String,
    pub seq: u64,
    pub actor: String,
    pub operation: String,
    pub detail: String,
}

/// The console users' and report keys' own actions over the last `days` days, newest
/// first, at most `limit`: who looked at what. An administrator sees no personal data,
/// so for them every run of six or more digits (a 宛名番号) is masked.
pub fn console_actions(j: &mut SqliteJournal, reader: &Reader, days: i64, limit: usize) -> Result<Vec<ActionRow>> {
    if !reader.role.may(View::Admin) {
        bail!(crate::tr!("役割 {} はコンソールの操作記録を見られません", "role {} may not see the console's audit trail", reader.role.as_str()));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let range = mamori_journal::TimeRange { from: now - days * 86_400_000, to: i64::MAX };
    let mut actors: Vec<String> = j.users()?.into_iter().map(|u| format!("console:{}", u.name)).collect();
    actors.extend(j.api_keys()?.into_iter().filter(|k| k.scope == "@reports").map(|k| format!("api:{}", k.label)));
    actors.sort();
    actors.dedup();
    let mut rows = Vec::new();
    for actor in &actors {
        for stored in j.by_actor(actor, range)? {
            let e = stored.event()?;
            let detail = e.unmapped.extra.get("detail").and_then(|d| d.as_str()).unwrap_or_default().to_owned();
            rows.push((e.time, ActionRow {
                time: jst_time(e.time),
                seq: stored.seq,
                actor: actor.clone(),
                operation: e.unmapped.operation.clone().unwrap_or_default(),
                detail: if reader.role == Role::Administrator { mask_numbers(&detail) } else { detail },
            }));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.seq.cmp(&a.1.seq)));
    rows.truncate(limit);
    audit::record_by(j, &reader.actor(), Action::View, &format!("console audit trail viewed ({} actions)", rows.len()), &[])?;
    Ok(rows.into_iter().map(|r| r.1).collect())
}

/// Masks every run of six or more ASCII digits: resident numbers out of an administrator's sight.
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for ch in text.chars().chain(std::iter::once('\0')) {
        if ch.is_ascii_digit() {
            run.push(ch);
            continue;
        }
        if run.len() >= 6 {
            out.extend(std::iter::repeat_n('*', run.len()));
        } else {
            out.push_str(&run);
        }
        run.clear();
        if ch != '\0' {
            out.push(ch);
        }
    }
    out
}

/// A disclosure request as the API and the console take it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DisclosureQuery {
    pub resident: String,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub request_no: String,
    /// html (default), csv, csv-sjis, json.
    pub format: Option<String>,
}

/// A resident's disclosure (operators withheld) as content type and bytes, recorded in
/// the log as made by `actor` through `via` — a refused look-up too: asking whether
/// someone lives in the town is itself a look-up. `Err` is the asker's mistake, said
/// plainly.
pub fn disclosure(j: &mut SqliteJournal, actor: &str, via: &str, q: &DisclosureQuery) -> Result<(&'static str, Vec<u8>), String> {
    history(j, actor, via, q, OperatorPolicy::Withheld)
}

/// A resident's history as an investigator reads it: the disclosure's entries with each
/// operator named (the auditors' resident page). Recorded, a refused look-up too.
pub fn resident_history(j: &mut SqliteJournal, reader: &Reader, q: &DisclosureQuery) -> Result<(&'static str, Vec<u8>), String> {
    if !reader.role.may(View::Residents) {
        return Err(crate::tr!("役割 {} は住民の履歴を見られません", "role {} may not see a resident's history", reader.role.as_str()));
    }
    history(j, &reader.actor(), "the console's resident page (operators named)", q, OperatorPolicy::Name)
}

fn history(j: &mut SqliteJournal, actor: &str, via: &str, q: &DisclosureQuery, policy: OperatorPolicy) -> Result<(&'static str, Vec<u8>), String> {
    let made = (|| -> Result<(&'static str, Vec<u8>, usize)> {
        let range = crate::timearg::inclusive_range(q.from.as_deref(), q.to.as_deref())?;
        let request = crate::report::Request {
            resident: &q.resident,
            range,
            from: q.from.clone().unwrap_or_else(|| "（記録の最初から）".into()),
            to: q.to.clone().unwrap_or_else(|| "（現在まで）".into()),
            request_no: q.request_no.clone(),
            policy,
        };
        let d = crate::report::disclosure(j, &request)?;
        let (kind, bytes) = match q.format.as_deref().unwrap_or("html") {
            "html" => ("text/html; charset=utf-8", d.html().into_bytes()),
            "csv" => ("text/csv; charset=utf-8", d.csv_utf8()),
            "csv-sjis" => ("text/csv; charset=shift_jis", d.csv_shift_jis().map_err(anyhow::Error::msg)?),
            "json" => ("application/json", d.json().into_bytes()),
            other => bail!(crate::tr!("format `{other}`: html、csv、csv-sjis、json のいずれかを指定してください", "format `{other}`: use html, csv, csv-sjis or json")),
        };
        Ok((kind, bytes, d.entries.len()))
    })();
    let what = |p: OperatorPolicy| if p == OperatorPolicy::Withheld { "disclosure" } else { "history" };
    let detail = match &made {
        Ok(m) => format!("{} of resident {} (request {}) through {via}: {} entries", what(policy), q.resident, q.request_no, m.2),
        Err(e) => format!("{} of resident {} (request {}) through {via} refused: {e:#}", what(policy), q.resident, q.request_no),
    };
    audit::record_by(j, actor, Action::Report, &detail, &[]).map_err(|e| e.to_string())?;
    let made = made.map_err(|e| format!("{e:#}"))?;
    Ok((made.0, made.1))
}

/// Records a console user's sign-in, failed sign-in or sign-out.
pub fn record_session(j: &mut SqliteJournal, actor: &str, action: Action, detail: &str) -> Result<()> {
    audit::record_by(j, actor, action, detail, &[]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_model::master::{Assignment, Department, Period};

    fn staff() -> Directory {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let posting = |e: &str, d: &str, from: &str, to: Option<&str>| Assignment {
            employee_id: e.into(),
            department: d.into(),
            role: "staff".into(),
            team: None,
            period: Period { from: day(from), to: to.map(day) },
        };
        Directory::new(&MasterData {
            departments: vec![Department { code: "D100".into(), name: "市民課".into(), parent: None }, Department { code: "D200".into(), name: "税務課".into(), parent: None }],
            assignments: vec![
                posting("E1", "D100", "2020-04-01", None),
                posting("E2", "D200", "2020-04-01", None),
                // Moved from tax to the citizens' section on 2024-04-01.
                posting("E3", "D200", "2020-04-01", Some("2024-03-31")),
                posting("E3", "D100", "2024-04-01", None),
            ],
            ..MasterData::default()
        })
    }

    fn finding(id: &str, severity: Severity, employee: &str, day: &str) -> Finding {
        let ms = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().and_hms_opt(1, 0, 0).unwrap().and_utc().timestamp_millis();
        Finding {
            id: id.into(),
            rule: format!("R-{id}"),
            title_ja: String::new(),
            title_en: String::new(),
            severity,
            employees: vec![employee.into()],
            residents: vec![],
            files: vec![],
            devices: vec![],
            mails: vec![],
            from: ms,
            to: ms,
            detected_at: ms,
            days: 1,
            evidence: vec![],
            explanation_ja: String::new(),
            explanation_en: String::new(),
            suppressed: None,
        }
    }

    fn reader(role: Role, department: Option<&str>) -> Reader {
        Reader { name: "u".into(), role, department: department.map(str::to_owned) }
    }

    fn ids(page: &FindingsPage) -> Vec<&str> {
        page.findings.iter().map(|f| f.id.as_str()).collect()
    }

    fn all() -> Vec<Finding> {
        vec![
            finding("a", Severity::High, "E1", "2024-05-01"),
            finding("b", Severity::Medium, "E2", "2024-05-02"),
            finding("c", Severity::Critical, "E3", "2024-02-01"),
            finding("d", Severity::Low, "E3", "2024-06-01"),
        ]
    }

    #[test]
    fn a_manager_sees_only_findings_about_staff_posted_in_their_department_at_the_time() {
        let page = select_findings(all(), &reader(Role::Manager, Some("D100")), &staff(), &FindingFilter::default()).unwrap();
        // E3's February finding was made while E3 was in tax: the citizens' section's
        // manager does not see it; the June one they do.
        assert_eq!(ids(&page), ["a", "d"]);
        let tax = select_findings(all(), &reader(Role::Manager, Some("D200")), &staff(), &FindingFilter::default()).unwrap();
        assert_eq!(ids(&tax), ["c", "b"]);
        let none = select_findings(all(), &reader(Role::Manager, None), &staff(), &FindingFilter::default()).unwrap();
        assert!(none.findings.is_empty(), "a manager with no department sees nothing");
    }

    #[test]
    fn roles_without_findings_see_none_and_auditors_see_all() {
        for role in [Role::Administrator, Role::PrivacyOfficer] {
            assert!(!role.may(View::Findings));
            assert!(select_findings(all(), &reader(role, None), &staff(), &FindingFilter::default()).unwrap().findings.is_empty());
        }
        assert_eq!(ids(&select_findings(all(), &reader(Role::Auditor, None), &staff(), &FindingFilter::default()).unwrap()), ["c", "a", "b", "d"]);
        assert!(!Role::Administrator.may(View::Disclosure) && Role::PrivacyOfficer.may(View::Disclosure) && !Role::Manager.may(View::Disclosure));
    }

    #[test]
    fn findings_filter_by_severity_rule_department_and_period_and_sort() {
        let auditor = reader(Role::Auditor, None);
        let cases: &[(FindingFilter, &[&str])] = &[
            (FindingFilter { severity: Some("high".into()), ..Default::default() }, &["c", "a"]),
            (FindingFilter { rule: Some("R-b".into()), ..Default::default() }, &["b"]),
            (FindingFilter { department: Some("D100".into()), ..Default::default() }, &["a", "d"]),
            (FindingFilter { department: Some("D200".into()), ..Default::default() }, &["c", "b"]),
            (FindingFilter { from: Some("2024-05-01".into()), to: Some("2024-05-31".into()), ..Default::default() }, &["a", "b"]),
            (FindingFilter { sort: Some("time".into()), ..Default::default() }, &["d", "b", "a", "c"]),
            (FindingFilter { state: Some("suppressed".into()), ..Default::default() }, &[]),
            (FindingFilter { state: Some("all".into()), ..Default::default() }, &["c", "a", "b", "d"]),
        ];
        for (filter, want) in cases {
            assert_eq!(ids(&select_findings(all(), &auditor, &staff(), filter).unwrap()), *want, "{filter:?}");
        }
        for bad in [FindingFilter { severity: Some("urgent".into()), ..Default::default() }, FindingFilter { from: Some("May".into()), ..Default::default() }] {
            assert!(select_findings(all(), &auditor, &staff(), &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_administrator_sees_actions_with_resident_numbers_masked() {
        assert_eq!(mask_numbers("disclosure of resident 000000305 (request R6-12) at 2024"), "disclosure of resident ********* (request R6-12) at 2024");
        assert_eq!(mask_numbers("123456"), "******");
    }

    #[test]
    fn risk_over_time_rises_with_a_finding_and_fades_after_it() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut gone = finding("s", Severity::Critical, "E1", "2024-03-01");
        gone.suppressed = Some(mamori_model::Suppressed { case: "C-2024-0001".into(), until: "2024-12-31".into(), reason: "false alarm".into() });
        let findings = [finding("a", Severity::High, "E1", "2024-05-01"), finding("b", Severity::High, "E2", "2024-05-01"), gone];
        let risk = risk_over_time(&findings, "E1", day("2024-06-30"), &mamori_detect::RiskConfig::default());
        let dates: Vec<&str> = risk.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(dates.len(), 12);
        assert_eq!((dates[0], dates[10], dates[11]), ("2023-07-31", "2024-05-31", "2024-06-30"));
        assert!(risk[..10].iter().all(|r| r.1 == 0.0), "nothing before the finding, the suppressed one not at all: {risk:?}");
        let (may, june) = (risk[10].1, risk[11].1);
        assert!(may > 4.0 && may < 10.0 && june < may / 1.9 && june > 0.0, "a high finding (10) halves every 30 days: {may} then {june}");
    }

    #[test]
    fn findings_are_paged() {
        let many: Vec<Finding> = (0..120).map(|i| finding(&format!("f{i:03}"), Severity::Medium, "E1", "2024-05-01")).collect();
        let page = |n| select_findings(many.clone(), &reader(Role::Auditor, None), &staff(), &FindingFilter { page: Some(n), ..Default::default() }).unwrap();
        let (first, last) = (page(1), page(3));
        assert_eq!((first.findings.len(), first.pages, first.matched), (PAGE_SIZE, 3, 120));
        assert_eq!((last.findings.len(), last.page), (20, 3));
        assert_eq!(page(99).page, 3, "a page past the end shows the last");
    }
}
