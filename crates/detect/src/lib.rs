//! Detection. Events are observed in time order; each record access is explained (or
//! not) from master data as of its time, and analyzers named after the brief's incidents
//! turn what is unexplained or out of place into findings whose evidence is the ids of
//! stored events.
//!
//! Analyzers here, each named after the incident of the brief it answers (the full list
//! with severities is in `docs/detection.md`): relatives (S1), terminal borrowing (S2),
//! VIP look-ups (S3), restricted shares outside their owners (S4, S5), new-record
//! extraction (S6), removable devices (S7), personal data in mail to personal or outside
//! addresses and to staff whose role holds no records, audit turned off by an interested
//! party (S8, S10), and handover folders read outside one's succession (S9). Thresholds
//! come from [`Config`] (a `detect.toml`), not from code. State is kept per employee and
//! per terminal, so it can be split across machines by employee later.
//!
//! Detection never does I/O: the caller feeds events and takes findings.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use mamori_enrich::{Directory, Explanation, Relation};
use mamori_model::master::{AccountKind, TerminalKind};
use mamori_model::{ClassUid, Event, Finding, Severity};
use serde::{Deserialize, Serialize};

/// Detection thresholds and lists, read from `detect.toml`; every field has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub after_hours: AfterHoursConfig,
    pub privileged: PrivilegedConfig,
    pub endpoint: EndpointConfig,
    pub mail: MailConfig,
    pub new_records: NewRecordsConfig,
    pub risk: RiskConfig,
    pub volume: VolumeConfig,
}

/// Work outside hours, judged against one's own habit and one's section's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AfterHoursConfig {
    /// From this hour (JST) to `morning_hour` is after hours; days off are too.
    pub evening_hour: u32,
    pub morning_hour: u32,
    /// Unusual when at most this share of one's earlier working days had after-hours
    /// look-ups…
    pub own_max: f64,
    /// …and at most this share of one's section worked after hours in the last week.
    pub peer_max: f64,
    /// Working days of history before one is judged.
    pub min_days: usize,
    /// Busy seasons when after-hours work is the section's normal (確定申告期 for the tax
    /// section): `{ department = "D200", from = "02-16", to = "03-15" }`.
    pub seasons: Vec<Season>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Season {
    pub department: String,
    /// `MM-DD`, inclusive.
    pub from: String,
    pub to: String,
}

impl Default for AfterHoursConfig {
    fn default() -> Self {
        AfterHoursConfig { evening_hour: 19, morning_hour: 7, own_max: 0.1, peer_max: 0.3, min_days: 10, seasons: Vec::new() }
    }
}

impl AfterHoursConfig {
    fn in_season(&self, department: &str, day: NaiveDate) -> bool {
        let md = day.format("%m-%d").to_string();
        self.seasons.iter().any(|s| s.department == department && s.from.as_str() <= md.as_str() && md.as_str() <= s.to.as_str())
    }
}

/// The endpoint product's sign of life.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointConfig {
    /// Days with Windows logons on a terminal whose endpoint agent has reported before
    /// but not since, before it is a finding.
    pub silent_days: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig { silent_days: 2 }
    }
}

/// Where administrator accounts belong.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivilegedConfig {
    /// Departments whose terminals administrator and shared accounts may be used from
    /// (information policy, typically). Empty: not checked.
    pub admin_departments: Vec<String>,
}

/// Volume against the employee's own history: a day far above their usual.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// A day's file copies to removable devices above this many times the employee's
    /// largest earlier day (and above `usb_min`) is a spike.
    pub usb_factor: f64,
    pub usb_min: u32,
    /// A day's record look-ups above this many times the employee's 95th-percentile
    /// day (and above `lookups_min`), once they have `min_days` of history.
    pub lookups_factor: f64,
    pub lookups_min: u32,
    pub min_days: usize,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        VolumeConfig { usb_factor: 2.0, usb_min: 5, lookups_factor: 3.0, lookups_min: 60, min_days: 10 }
    }
}

/// An employee's daily counts of one kind of act: the finished days, and today.
#[derive(Default, Serialize, Deserialize)]
struct Daily {
    past: Vec<u32>,
    day: Option<NaiveDate>,
    today: u32,
    flagged: bool,
}

impl Daily {
    /// Counts one act on `day`; returns today's count.
    fn count(&mut self, day: NaiveDate) -> u32 {
        if self.day != Some(day) {
            if self.day.is_some() {
                self.past.push(self.today);
            }
            self.day = Some(day);
            self.today = 0;
            self.flagged = false;
        }
        self.today += 1;
        self.today
    }

    fn percentile(&self, p: f64) -> u32 {
        let mut v = self.past.clone();
        v.sort_unstable();
        v.get(((v.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Days after which a finding counts half as much towards its employee's risk.
    pub half_life_days: f64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig { half_life_days: 30.0 }
    }
}

/// One employee's risk: the score and the findings behind it, strongest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Risk {
    pub employee: String,
    pub score: f64,
    pub findings: Vec<(String, f64)>,
}

/// Rolls findings up into a risk score per employee (the finding's subject), ranked:
/// each finding weighs by severity (low 1, medium 3, high 10, critical 30), grows with
/// the log of its evidence (ten look-ups are more than one, a thousand not a hundred
/// times more), and halves every `half_life_days` since its last evidence, so old
/// business fades unless it recurs.
pub fn risk(findings: &[Finding], as_of_ms: i64, config: &RiskConfig) -> Vec<Risk> {
    let mut by: BTreeMap<&str, Vec<(String, f64)>> = BTreeMap::new();
    for f in findings {
        let Some(employee) = f.employees.first() else { continue };
        let weight = match f.severity {
            Severity::Low => 1.0,
            Severity::Medium => 3.0,
            Severity::High => 10.0,
            Severity::Critical => 30.0,
        };
        let age_days = ((as_of_ms - f.to) as f64 / DAY_MS as f64).max(0.0);
        let decay = 0.5f64.powf(age_days / config.half_life_days.max(f64::MIN_POSITIVE));
        let score = weight * (1.0 + (f.evidence.len().max(1) as f64).ln()) * decay;
        by.entry(employee.as_str()).or_default().push((f.id.clone(), score));
    }
    let mut out: Vec<Risk> = by
        .into_iter()
        .map(|(employee, mut findings)| {
            findings.sort_by(|a, b| b.1.total_cmp(&a.1));
            Risk { employee: employee.to_owned(), score: findings.iter().map(|f| f.1).sum(), findings }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.employee.cmp(&b.employee)));
    out
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Domains (and their subdomains) personal data may be mailed to in the course of
    /// business: other public bodies, contracted processors.
    pub trusted_domains: Vec<String>,
    /// Rows that look like personal data before an attachment counts as carrying it.
    pub min_personal_rows: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewRecordsConfig {
    /// How many days after its registration a record counts as new.
    pub fresh_days: i64,
    /// On how many distinct days an employee must read others' new records without
    /// business before it is a finding (once is curiosity; a habit is extraction).
    pub min_days: usize,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig { trusted_domains: vec!["lg.jp".into(), "go.jp".into()], min_personal_rows: 1 }
    }
}

impl Default for NewRecordsConfig {
    fn default() -> Self {
        NewRecordsConfig { fresh_days: 7, min_days: 3 }
    }
}

/// What detection concluded about one record access.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub employee: Option<String>,
    pub explanation: Option<Explanation>,
}

#[derive(Default, Serialize, Deserialize)]
struct Session {
    employee: Option<String>,
    locked: bool,
}

#[derive(Serialize, Deserialize)]
struct Rollup {
    rule: String,
    severity: Severity,
    employee: String,
    /// Other staff the finding involves (a mail's recipient, the owner of a terminal).
    related: Vec<String>,
    residents: BTreeSet<String>,
    mails: Vec<String>,
    devices: Vec<String>,
    files: Vec<String>,
    evidence: Vec<u64>,
    from: i64,
    to: i64,
    /// When the evidence first sufficed: the first event, or the one that crossed a
    /// threshold.
    detected_at: i64,
    detail: BTreeMap<String, usize>,
}

/// A terminal's endpoint agent: the last day it reported, the logons since (event id,
/// time, day) not yet reported, and whether this silence has been reported.
type AgentSilence = (NaiveDate, Vec<(u64, i64, NaiveDate)>, bool);

/// The days an employee read others' new records, and the reads (event id, time,
/// resident) not yet reported.
type FreshReads = (BTreeSet<NaiveDate>, Vec<(u64, i64, String)>);

pub struct Detector<'a> {
    dir: &'a Directory,
    config: Config,
    s: DetectorState,
}

/// Everything detection remembers between events: per terminal, employee and record.
/// It is saved after a run and restored for the next, so that `detect` reads only new
/// events and `serve` detects as batches arrive.
#[derive(Default, Serialize, Deserialize)]
pub struct DetectorState {
    /// Host → the employee who last logged on there (a terminal's usual user).
    last_user: HashMap<String, String>,
    /// (sender, recipient) employees between whom personal data went by mail.
    data_mail: HashSet<(String, String)>,
    /// (system, resident) → when and by whom the record was registered.
    #[serde(with = "pairs")]
    registered: HashMap<(String, String), (i64, Option<String>)>,
    /// Employee → unexplained reads of others' new records: the days, and the evidence
    /// held back until there are enough days.
    fresh_reads: HashMap<String, FreshReads>,
    /// (employee, kind) → daily counts, for volume against one's own history.
    #[serde(with = "pairs")]
    daily: HashMap<(String, String), Daily>,
    sessions: HashMap<String, Session>,
    /// Host → the owner of the approved device last connected there, and when.
    last_approved: HashMap<String, (String, i64)>,
    /// Employee → whether badged in.
    present: HashMap<String, bool>,
    /// Employee → the room they last badged into, while in.
    rooms: HashMap<String, String>,
    /// Host → the last day its endpoint agent reported (`agent-start`), the logons
    /// (event id, time, day) seen there since and not yet reported, and whether this
    /// silence has been reported.
    agents: HashMap<String, AgentSilence>,
    /// Employee → the days they looked up records, and the days they did so after hours.
    work_days: HashMap<String, (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)>,
    /// Department → the employees seen working in it.
    members: HashMap<String, BTreeSet<String>>,
    /// `department/role/day` → the peer group's usual day of look-ups (today's only).
    peer_cache: HashMap<String, u32>,
    /// (employee, month `YYYY-MM`) → times they badged out leaving a Windows session
    /// (locked, unlocked): the lock policy as practised.
    #[serde(with = "pairs")]
    lock_compliance: BTreeMap<(String, String), (u32, u32)>,
    #[serde(with = "pairs")]
    rollups: BTreeMap<(String, String), Rollup>,
    accesses: u64,
    explained: u64,
}

/// Maps with tuple keys as lists of pairs (JSON keys must be strings).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

const JST: i32 = 9 * 3600;
const DAY_MS: i64 = 86_400_000;
/// OCSF Datastore Activity `activity_id` 6: Create (a record registered).
const CREATE: u8 = 6;
/// OCSF File System Activity `activity_id` 7: Set Security (an ACL change).
const SET_SECURITY: u8 = 7;

fn local(ms: i64) -> NaiveDateTime {
    let offset = chrono::FixedOffset::east_opt(JST).expect("JST");
    DateTime::from_timestamp_millis(ms).expect("a valid time").with_timezone(&offset).naive_local()
}

impl<'a> Detector<'a> {
    pub fn new(dir: &'a Directory) -> Detector<'a> {
        Detector::with_config(dir, Config::default())
    }

    pub fn with_config(dir: &'a Directory, config: Config) -> Detector<'a> {
        Detector { dir, config, s: DetectorState::default() }
    }

    /// Goes on from a saved state.
    pub fn resume(dir: &'a Directory, config: Config, state: DetectorState) -> Detector<'a> {
        Detector { dir, config, s: state }
    }

    /// The state to save for the next run.
    pub fn state(&self) -> &DetectorState {
        &self.s
    }

    /// How often each employee left a session locked and unlocked, per month:
    /// ((employee, `YYYY-MM`), (locked, unlocked)).
    pub fn lock_compliance(&self) -> impl Iterator<Item = (&(String, String), &(u32, u32))> {
        self.s.lock_compliance.iter()
    }

    /// Record accesses judged, and how many were explained.
    pub fn counts(&self) -> (u64, u64) {
        (self.s.accesses, self.s.explained)
    }

    fn employee(&self, event: &Event, at: NaiveDateTime) -> Option<(Option<String>, AccountKind)> {
        if let Some(e) = &event.actor.user.employee_uid {
            return Some((Some(e.clone()), AccountKind::Personal));
        }
        let (employee, kind) = self.dir.account(mamori_enrich::account_system(&event.metadata.product), &event.actor.user.uid, at.date())?;
        Some((employee.map(str::to_owned), kind))
    }

    /// Observes one stored event (id `seq`), in time order.
    pub fn observe(&mut self, seq: u64, event: &Event) -> Option<Verdict> {
        let at = local(event.time);
        match event.class_uid {
            ClassUid::Authentication => {
                let op = event.unmapped.operation.as_deref().unwrap_or("");
                if event.unmapped.extra.contains_key("room") {
                    if let Some((Some(e), _)) = self.employee(event, at) {
                        let room = event.unmapped.extra.get("room").and_then(|r| r.as_str()).unwrap_or("").to_owned();
                        if op == "in" {
                            self.s.rooms.insert(e.clone(), room);
                        } else {
                            self.s.rooms.remove(&e);
                            // Leaving with a session open: was it locked?
                            for session in self.s.sessions.values().filter(|s| s.employee.as_deref() == Some(e.as_str())) {
                                let c = self.s.lock_compliance.entry((e.clone(), at.format("%Y-%m").to_string())).or_default();
                                if session.locked {
                                    c.0 += 1;
                                } else {
                                    c.1 += 1;
                                }
                            }
                        }
                        self.s.present.insert(e, op == "in");
                    }
                    return None;
                }
                let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(str::to_ascii_uppercase)?;
                match op {
                    "agent-start" => {
                        self.s.agents.insert(host, (at.date(), Vec::new(), false));
                    }
                    "logon" if event.status_id == mamori_model::StatusId::Success => {
                        let employee = self.employee(event, at).and_then(|(e, _)| e);
                        self.agent_silence(seq, event.time, at.date(), &host, employee.as_deref());
                        if let Some(e) = &employee {
                            self.s.last_user.insert(host.clone(), e.clone());
                        }
                        self.s.sessions.insert(host, Session { employee, locked: false });
                    }
                    "logoff" => {
                        self.s.sessions.remove(&host);
                    }
                    "lock" | "unlock" => {
                        if let Some(s) = self.s.sessions.get_mut(&host) {
                            s.locked = op == "lock";
                        }
                    }
                    _ => {}
                }
                None
            }
            ClassUid::DatastoreActivity => Some(self.access(seq, event, at)),
            ClassUid::PeripheralActivity => {
                self.peripheral(seq, event, at);
                None
            }
            ClassUid::FileSystemActivity => {
                self.file(seq, event, at);
                None
            }
            ClassUid::EmailActivity => {
                self.mail(seq, event, at);
                None
            }
            ClassUid::DeviceConfigStateChange => {
                self.audit_policy(seq, event, at);
                None
            }
            _ => None,
        }
    }

    fn access(&mut self, seq: u64, event: &Event, at: NaiveDateTime) -> Verdict {
        self.s.accesses += 1;
        let resident = event.resident_uid().unwrap_or_default().to_owned();
        let Some((employee, kind)) = self.employee(event, at) else {
            // S8: an account closed at its holder's transfer or retirement, still used.
            let system = mamori_enrich::account_system(&event.metadata.product);
            if let Some((holder, ended)) = self.dir.lapsed_account(system, &event.actor.user.uid, at.date()) {
                let (holder, detail) = (holder.to_owned(), format!("{} {}（{} に廃止）", system, event.actor.user.uid, ended));
                self.note(seq, event.time, "access_after_transfer_or_retirement", Severity::High, &holder, &resident, Some(&detail));
            }
            return Verdict { employee: None, explanation: None };
        };
        // An employee with no posting that day (retired, or between postings) whose
        // account was left open.
        if let Some(e) = employee.as_deref()
            && kind == AccountKind::Personal
            && self.dir.posting(e, at.date()).is_none()
        {
            let detail = format!("{} 在籍・配属なし", event.actor.user.uid);
            let e = e.to_owned();
            self.note(seq, event.time, "access_after_transfer_or_retirement", Severity::High, &e, &resident, Some(&detail));
        }
        let department = employee.as_deref().and_then(|e| self.dir.posting(e, at.date())).map(|p| p.0.to_owned()).unwrap_or_default();
        if let Some(e) = employee.as_deref()
            && kind == AccountKind::Personal
        {
            let e = e.to_owned();
            self.after_hours(seq, event.time, at, &e, &department, &resident);
            self.volume(seq, event.time, at.date(), &e, "lookups", &resident);
        }
        let declared = event.unmapped.extra.get("case_no").and_then(|v| v.as_str());
        let explanation = self.dir.explain(kind, employee.as_deref(), &department, &resident, at, declared);
        if explanation.is_some() {
            self.s.explained += 1;
        }
        let Some(employee) = employee else { return Verdict { employee: None, explanation } };
        let host = event.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default();

        // S2: someone else's open session on a staff terminal, its owner away.
        if let Some(session) = self.s.sessions.get(&host.to_ascii_uppercase())
            && let Some(owner) = &session.employee
            && *owner != employee
            && !session.locked
            && self.dir.terminal_kind(&host) == Some(TerminalKind::Staff)
        {
            let away = self.s.present.get(owner) == Some(&false);
            let key = format!("{host} ({owner}{})", if away { ", 離席中" } else { "" });
            // Who could have been at the keyboard: those badged into the terminal's room.
            let mut in_room: Vec<String> = match self.dir.terminal_location(&host) {
                Some(room) => self.s.rooms.iter().filter(|(e, r)| r.as_str() == room && *e != owner).map(|(e, _)| e.clone()).collect(),
                None => Vec::new(),
            };
            in_room.sort();
            // And whether the employee was logged on elsewhere at the same time.
            let mut elsewhere: Vec<&String> = self.s.sessions.iter().filter(|(h, s)| s.employee.as_deref() == Some(employee.as_str()) && **h != host.to_ascii_uppercase()).map(|(h, _)| h).collect();
            elsewhere.sort();
            let context = format!(
                "{} 入室中: {}{}",
                host,
                if in_room.is_empty() { "（記録なし）".to_owned() } else { in_room.join("・") },
                elsewhere.first().map(|h| format!("、本人は {h} にもログオン中")).unwrap_or_default()
            );
            self.note(seq, event.time, "terminal_borrowing", Severity::High, &employee, &resident, Some(&key));
            if let Some(r) = self.s.rollups.get_mut(&(employee.clone(), "terminal_borrowing".to_owned())) {
                *r.detail.entry(context).or_default() += 1;
            }
        }
        // S6: who registered each record, so that reading others' new ones shows.
        let system = mamori_enrich::account_system(&event.metadata.product).to_owned();
        if event.activity_id == CREATE && !resident.is_empty() {
            self.s.registered.insert((system.clone(), resident.clone()), (event.time, Some(employee.clone())));
        } else if explanation.is_none()
            && let Some((when, by)) = self.s.registered.get(&(system, resident.clone()))
            && by.as_deref() != Some(employee.as_str())
            && event.time - when <= self.config.new_records.fresh_days * DAY_MS
        {
            self.fresh_read(seq, event.time, at.date(), &employee, &resident);
        }
        if explanation.is_none() {
            // S1: the employee's own record, their household, their relatives.
            match self.dir.relation(&employee, &resident, at.date()) {
                Some(Relation::Colleague) => {
                    // Looking up a colleague is worth a manager's question, not an alarm:
                    // staff are residents too, and some inquiries leave no record.
                    self.note(seq, event.time, "colleague_lookup", Severity::Medium, &employee, &resident, Some("同僚職員"));
                }
                Some(relation) => {
                    let what = match relation {
                        Relation::Own => "本人",
                        Relation::Household => "同一世帯",
                        Relation::Family => "親族(戸籍)",
                        _ => "同姓・近隣",
                    };
                    self.note(seq, event.time, "relative_lookup", Severity::High, &employee, &resident, Some(what));
                }
                None => {}
            }
            // S3: a watch-listed resident with no business on file.
            if let Some(reason) = self.dir.vip(&resident, at.date()) {
                let reason = reason.to_owned();
                self.note(seq, event.time, "vip_unexplained", Severity::High, &employee, &resident, Some(&reason));
            }
        }
        Verdict { employee: Some(employee), explanation }
    }

    fn fresh_read(&mut self, seq: u64, time: i64, day: NaiveDate, employee: &str, resident: &str) {
        let min_days = self.config.new_records.min_days;
        let (days, held) = self.s.fresh_reads.entry(employee.to_owned()).or_default();
        days.insert(day);
        held.push((seq, time, resident.to_owned()));
        if days.len() < min_days {
            return;
        }
        let detail = format!("登録後{}日以内", self.config.new_records.fresh_days);
        for (seq, t, r) in std::mem::take(held) {
            self.note(seq, t, "new_record_extraction", Severity::High, employee, &r, Some(&detail));
        }
        if let Some(r) = self.s.rollups.get_mut(&(employee.to_owned(), "new_record_extraction".to_owned()))
            && r.detected_at == r.from
        {
            r.detected_at = time;
        }
    }

    /// S8, S10: attachments carrying personal data, sent by staff to a personal address,
    /// to an organisation outside the trusted list, or to a colleague whose role holds no
    /// residents' records.
    fn mail(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        let x = &event.unmapped.extra;
        let Some(data) = x.get("personal_data") else { return };
        let Some(email) = &event.email else { return };
        let day = at.date();
        let Some(sender) = email.from.as_deref().and_then(|f| self.dir.mail_owner(f, day)).map(str::to_owned) else { return };
        let rows = data.get("rows").and_then(|v| v.as_u64()).unwrap_or(0);
        let list = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        let residents = list(data.get("residents"));
        let external = list(x.get("external_recipients"));
        let personal = list(x.get("personal_recipients"));
        let my_numbers = data.get("my_numbers").and_then(|v| v.as_u64()).unwrap_or(0);
        let subject = email.message_uid.clone().unwrap_or_default();
        let what = if my_numbers > 0 { "個人番号を含む" } else { "個人データ" };
        if rows < self.config.mail.min_personal_rows {
            let outside: Vec<&String> = external.iter().filter(|a| !mamori_text::mail_domain_in(a, &self.config.mail.trusted_domains)).collect();
            if data.get("uninspectable").and_then(|v| v.as_bool()) == Some(true) && !outside.is_empty() {
                let detail = format!("→ {}", outside[0]);
                self.note_mail(seq, event.time, "uninspectable_attachment_outside", Severity::Medium, &sender, &[], &subject, &detail, None);
            }
            return;
        }
        for to in &personal {
            let detail = format!("→ {to}（{what}）");
            self.note_mail(seq, event.time, "personal_data_to_personal_address", Severity::High, &sender, &residents, &subject, &detail, None);
        }
        let outside: Vec<&String> = external.iter().filter(|a| !personal.contains(a) && !mamori_text::mail_domain_in(a, &self.config.mail.trusted_domains)).collect();
        for to in outside {
            let detail = format!("→ {to}（{what}）");
            self.note_mail(seq, event.time, "personal_data_to_outside_organisation", Severity::High, &sender, &residents, &subject, &detail, None);
        }
        for to in email.to.iter().chain(&email.cc).chain(&email.bcc).filter(|a| !external.contains(a)) {
            let Some(recipient) = self.dir.mail_owner(to, day).map(str::to_owned) else { continue };
            self.s.data_mail.insert((sender.clone(), recipient.clone()));
            if !self.dir.holds_record_access(&recipient, day) {
                let dept = self.dir.posting(&recipient, day).map(|p| p.0).unwrap_or("所属不明");
                let detail = format!("→ {recipient}（{dept}、住民記録の権限なし、{what}）");
                self.note_mail(seq, event.time, "personal_data_to_role_without_access", Severity::High, &sender, &residents, &subject, &detail, Some(&recipient));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn note_mail(&mut self, seq: u64, time: i64, rule: &'static str, severity: Severity, employee: &str, residents: &[String], mail: &str, detail: &str, related: Option<&str>) {
        self.note(seq, time, rule, severity, employee, "", Some(detail));
        let r = self.s.rollups.get_mut(&(employee.to_owned(), rule.to_owned())).expect("just noted");
        r.residents.extend(residents.iter().cloned());
        if !mail.is_empty() && !r.mails.iter().any(|m| m == mail) {
            r.mails.push(mail.to_owned());
        }
        if let Some(other) = related
            && !r.related.iter().any(|o| o == other)
        {
            r.related.push(other.to_owned());
        }
    }

    /// S8: auditing turned off on a terminal. By its own user, or by someone who has been
    /// exchanging personal data by mail with its user, it is removing one's own work from
    /// the audit scope (high); otherwise it is a change to review (medium).
    fn audit_policy(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        if event.unmapped.extra.get("audit_reduced").and_then(|v| v.as_bool()) != Some(true) {
            return;
        }
        let Some((Some(changer), _)) = self.employee(event, at) else { return };
        let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(str::to_ascii_uppercase).unwrap_or_default();
        let changes = event.unmapped.extra.get("audit_changes").and_then(|v| v.as_str()).unwrap_or("");
        let user = self.s.last_user.get(&host).cloned();
        let interested = match &user {
            Some(u) if *u == changer => Some("本人の端末".to_owned()),
            Some(u) if self.s.data_mail.contains(&(u.clone(), changer.clone())) || self.s.data_mail.contains(&(changer.clone(), u.clone())) => {
                Some(format!("端末の利用者 {u} と個人データをメールで授受"))
            }
            _ => None,
        };
        let (rule, severity) = if interested.is_some() { ("audit_reduced_by_interested_party", Severity::High) } else { ("audit_reduced", Severity::Medium) };
        let detail = format!("{host}: {changes}{}", interested.map(|i| format!("（{i}）")).unwrap_or_default());
        self.note(seq, event.time, rule, severity, &changer, "", Some(&detail));
        if let (Some(u), Some(r)) = (user, self.s.rollups.get_mut(&(changer.clone(), rule.to_owned())))
            && u != changer
            && !r.related.contains(&u)
        {
            r.related.push(u);
        }
    }

    /// S4: a file on a confidential or restricted share opened by someone whose section
    /// neither owns it nor was granted it. An administrator or shared account is judged
    /// as whoever holds the Windows session on the terminal it was used from.
    fn file(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        let Some(share) = event.unmapped.share.as_deref() else { return };
        // An ACL change is an administrator's act on the share, not a read of its data;
        // whoever opens it afterwards is judged by the share's owner as master data has it.
        if event.activity_id == SET_SECURITY {
            return;
        }
        let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(str::to_ascii_uppercase).unwrap_or_default();
        let (employee, via) = match self.employee(event, at) {
            Some((Some(e), AccountKind::Personal)) => (e, None),
            found => {
                let session = self.s.sessions.get(&host).and_then(|s| s.employee.clone());
                let Some(e) = session else { return };
                let kind = found.map_or("不明なアカウント", |(_, k)| if k == AccountKind::Admin { "管理者アカウント" } else { "共用アカウント" });
                (e, Some(format!("{kind} {}", event.actor.user.uid)))
            }
        };
        // S9: a folder opened to everyone for a handover is for those handing over and
        // taking over: the sections one leaves and joins. Its sub-folders are sections.
        if let Some(window) = self.dir.open_to_all(share, at.date()) {
            let folder = event.file.as_ref().and_then(|f| f.path.split(['/', '\\']).find(|p| !p.is_empty())).unwrap_or("");
            let before = self.dir.posting(&employee, window.from).map(|p| p.0);
            let after = self.dir.posting(&employee, window.to.unwrap_or(at.date())).map(|p| p.0);
            if !folder.is_empty() && Some(folder) != before && Some(folder) != after {
                let detail = format!("{share}/{folder}");
                self.note(seq, event.time, "broad_access_outside_need", Severity::High, &employee, "", Some(&detail));
            }
            return;
        }
        // S4: an administrator or shared account used from a terminal outside the
        // departments that administer.
        if let Some(v) = &via
            && !self.config.privileged.admin_departments.is_empty()
            && let Some(dept) = self.dir.terminal_department(&host)
            && !self.config.privileged.admin_departments.iter().any(|d| d == dept)
        {
            let detail = format!("{v} @ {host}（{dept}の端末）");
            self.note(seq, event.time, "privileged_account_outside_admin_terminals", Severity::High, &employee, "", Some(&detail));
        }
        let department = self.dir.posting(&employee, at.date()).map(|p| p.0.to_owned()).unwrap_or_default();
        let Some((owner, _, allowed)) = self.dir.restricted_share(share, &department, at.date()) else { return };
        if allowed {
            return;
        }
        let detail = format!("{share}（所有: {owner}）{}", via.map(|v| format!(" {v}経由")).unwrap_or_default());
        self.note(seq, event.time, "restricted_share_non_owner", Severity::High, &employee, "", Some(&detail));
        if let (Some(file), Some(r)) = (&event.file, self.s.rollups.get_mut(&(employee.clone(), "restricted_share_non_owner".to_owned())))
            && !r.files.contains(&file.path)
        {
            r.files.push(file.path.clone());
        }
    }

    /// S7: an approved device on a terminal without the endpoint agent (where copies go
    /// unlogged), and any device that is not approved.
    /// Look-ups after hours or on a day off by someone who seldom works then, while their
    /// section does not either (outside its configured busy seasons).
    fn after_hours(&mut self, seq: u64, time: i64, at: NaiveDateTime, employee: &str, department: &str, resident: &str) {
        use chrono::Timelike;
        let c = &self.config.after_hours;
        let day = at.date();
        let late = at.hour() >= c.evening_hour || at.hour() < c.morning_hour || self.dir.is_day_off(day);
        self.s.members.entry(department.to_owned()).or_default().insert(employee.to_owned());
        let (worked, late_days) = self.s.work_days.entry(employee.to_owned()).or_default();
        let history = worked.iter().filter(|d| **d < day).count();
        let own = late_days.iter().filter(|d| **d < day).count() as f64 / history.max(1) as f64;
        worked.insert(day);
        if !late {
            return;
        }
        late_days.insert(day);
        if history < c.min_days || own > c.own_max || c.in_season(department, day) {
            return;
        }
        let week = day - chrono::Days::new(6);
        let peers: Vec<&String> = self.s.members.get(department).into_iter().flatten().filter(|p| p.as_str() != employee).collect();
        let busy = peers.iter().filter(|p| self.s.work_days.get(p.as_str()).is_some_and(|(_, l)| l.range(week..=day).next().is_some())).count();
        if !peers.is_empty() && busy as f64 / peers.len() as f64 > c.peer_max {
            return;
        }
        let detail = format!("{day} {:02}時台（本人の時間外日 {:.0}%、課内 {busy}/{} 人）", at.hour(), own * 100.0, peers.len());
        self.note(seq, time, "after_hours_unusual", Severity::Medium, employee, resident, Some(&detail));
    }

    /// S7: a terminal whose endpoint agent has reported before but not since, while
    /// people log on there: copies made there go unlogged. Found on the `silent_days`-th
    /// day with logons; those logons are the evidence.
    fn agent_silence(&mut self, seq: u64, time: i64, day: NaiveDate, host: &str, employee: Option<&str>) {
        if self.dir.terminal_has_agent(host) != Some(true) {
            return;
        }
        let need = self.config.endpoint.silent_days.max(1);
        let Some((last, held, reported)) = self.s.agents.get_mut(host) else { return };
        if day <= *last {
            return;
        }
        held.push((seq, time, day));
        let days: BTreeSet<NaiveDate> = held.iter().map(|h| h.2).collect();
        if days.len() < need && !*reported {
            return;
        }
        let first = !*reported;
        *reported = true;
        let detail = format!("{host}（最終受信 {last}）");
        let who = employee.map(str::to_owned).unwrap_or_else(|| format!("(不明: {host})"));
        for (s, t, _) in std::mem::take(held) {
            self.note(s, t, "endpoint_agent_silent", Severity::High, &who, "", Some(&detail));
        }
        if let Some(r) = self.s.rollups.get_mut(&(who.clone(), "endpoint_agent_silent".to_owned())) {
            if first {
                r.detected_at = r.detected_at.max(time);
            }
            if !r.devices.iter().any(|d| d == host) {
                r.devices.push(host.to_owned());
            }
        }
    }

    /// Volume against the employee's own history: once today's count passes the
    /// threshold, today's acts so far and the rest of the day are the evidence.
    fn volume(&mut self, seq: u64, time: i64, day: NaiveDate, employee: &str, kind: &'static str, resident: &str) {
        let c = &self.config.volume;
        // A device has no quiet history to wait for: more than `usb_min` copies on a first day
        // is novelty enough.
        let (factor, floor, min_days) = if kind == "usb" { (c.usb_factor, c.usb_min, 0) } else { (c.lookups_factor, c.lookups_min, c.min_days) };
        // The peer group's usual day (same department and role), for look-ups: a newcomer
        // is judged by it, and no one's own habit lowers the bar below it.
        let peer = if kind == "lookups" { self.peer_usual(employee, day) } else { 0 };
        let d = self.s.daily.entry((employee.to_owned(), kind.to_owned())).or_default();
        let today = d.count(day);
        let own = if d.past.len() >= min_days {
            Some(if kind == "usb" { d.past.iter().copied().max().unwrap_or(0) } else { d.percentile(0.95) })
        } else {
            None
        };
        let usual = match (own, peer) {
            (Some(o), p) => o.max(p),
            (None, p) if p > 0 => p,
            _ => return,
        };
        let limit = ((usual as f64 * factor).ceil() as u32).max(floor);
        if today <= limit {
            return;
        }
        let first = !d.flagged;
        d.flagged = true;
        let (rule, what) = if kind == "usb" { ("usb_copy_volume", "外部媒体への複写") } else { ("lookup_volume", "住民記録の照会") };
        let detail = format!("{day}: {what} 通常の上限 {limit} 件を超過");
        self.note(seq, time, rule, Severity::Medium, employee, resident, Some(&detail));
        if first && let Some(r) = self.s.rollups.get_mut(&(employee.to_owned(), rule.to_owned())) {
            r.detected_at = r.detected_at.max(time);
        }
    }

    /// The 95th-percentile day of look-ups among the employee's peers (same department
    /// and role on `day`, with history), computed once a day per group.
    fn peer_usual(&mut self, employee: &str, day: NaiveDate) -> u32 {
        let Some((dept, role)) = self.dir.posting(employee, day) else { return 0 };
        let key = format!("{dept}/{role}/{day}");
        if let Some(v) = self.s.peer_cache.get(&key) {
            return *v;
        }
        let mut days: Vec<u32> = Vec::new();
        for peer in self.s.members.get(dept).into_iter().flatten().filter(|p| p.as_str() != employee) {
            if self.dir.posting(peer, day).map(|p| p.1) != Some(role) {
                continue;
            }
            if let Some(d) = self.s.daily.get(&(peer.clone(), "lookups".to_owned())) {
                days.extend(d.past.iter().rev().take(60));
            }
        }
        days.sort_unstable();
        let v = days.get(((days.len().saturating_sub(1)) as f64 * 0.95).round() as usize).copied().unwrap_or(0);
        self.s.peer_cache.retain(|k, _| k.ends_with(&day.to_string()));
        self.s.peer_cache.insert(key, v);
        v
    }

    fn peripheral(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        // A file copied to a device (the endpoint product's log) counts towards the
        // employee's daily volume.
        if event.file.is_some()
            && let Some((Some(e), AccountKind::Personal)) = self.employee(event, at)
        {
            self.volume(seq, event.time, at.date(), &e, "usb", "");
        }
        let Some(serial) = event.peripheral_device.as_ref().and_then(|d| d.serial_number.clone()) else { return };
        let host = event.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default();
        let what = format!("{serial} @ {host}");
        match self.dir.approved_device(&serial, at.date()) {
            Some(owner) => {
                let owner = owner.unwrap_or("(所有者不明)").to_owned();
                self.s.last_approved.insert(host.clone(), (owner.clone(), event.time));
                if self.dir.terminal_has_agent(&host) == Some(false) {
                    self.note(seq, event.time, "approved_device_on_unmanaged_terminal", Severity::High, &owner, "", Some(&what));
                }
            }
            None => {
                // Who plugged it in: the session on that terminal, else the owner of an
                // approved device connected there within the hour.
                let session = self.s.sessions.get(&host.to_ascii_uppercase()).and_then(|s| s.employee.clone());
                let recent = self.s.last_approved.get(&host).filter(|(_, t)| event.time - t <= 3_600_000).map(|(o, _)| o.clone());
                let who = session.or(recent).unwrap_or_else(|| format!("(不明: {host})"));
                self.note(seq, event.time, "unapproved_device", Severity::High, &who, "", Some(&what));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn note(&mut self, seq: u64, time: i64, rule: &'static str, severity: Severity, employee: &str, resident: &str, detail: Option<&str>) {
        let r = self.s.rollups.entry((employee.to_owned(), rule.to_owned())).or_insert_with(|| Rollup {
            rule: rule.to_owned(),
            severity,
            employee: employee.to_owned(),
            related: Vec::new(),
            residents: BTreeSet::new(),
            mails: Vec::new(),
            devices: Vec::new(),
            files: Vec::new(),
            evidence: Vec::new(),
            from: time,
            to: time,
            detected_at: time,
            detail: BTreeMap::new(),
        });
        if !resident.is_empty() {
            r.residents.insert(resident.to_owned());
        }
        r.evidence.push(seq);
        r.from = r.from.min(time);
        r.to = r.to.max(time);
        if let Some(d) = detail {
            *r.detail.entry(d.to_owned()).or_default() += 1;
        }
        let device = match rule {
            "terminal_borrowing" => detail.and_then(|d| d.split(' ').next()),
            "approved_device_on_unmanaged_terminal" | "unapproved_device" => detail,
            _ => None,
        };
        if let Some(device) = device
            && !r.devices.iter().any(|x| x == device)
        {
            r.devices.push(device.to_owned());
        }
    }

    /// The findings so far, most severe and most evidenced first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.s.rollups.values().map(finding).collect();
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.evidence.len().cmp(&a.evidence.len())).then(a.id.cmp(&b.id)));
        out
    }
}

fn days(r: &Rollup) -> i64 {
    (r.to - r.from) / DAY_MS + 1
}

fn finding(r: &Rollup) -> Finding {
    let n = r.evidence.len();
    let detail: Vec<String> = r.detail.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let (ja, en) = match r.rule.as_str() {
        "relative_lookup" => (
            format!("職員 {} が本人・同一世帯・親族（同姓の近隣を含む）の記録 {} 件（{}人）を、対応する申請・来庁・案件の記録なしに照会しました（{}）。", r.employee, n, r.residents.len(), detail.join("、")),
            format!("Employee {} looked up {} records of themselves, their household or relatives ({} people) with no application, visit or case behind them.", r.employee, n, r.residents.len()),
        ),
        "colleague_lookup" => (
            format!("職員 {} が、他の職員本人の記録 {} 件（{}人）を業務上の根拠なしに照会しました。", r.employee, n, r.residents.len()),
            format!("Employee {} looked up {} records of other staff members ({} people) with no business on file.", r.employee, n, r.residents.len()),
        ),
        "vip_unexplained" => (
            format!("職員 {} が要注意者リストの住民の記録を、業務上の根拠（申請書・来庁・案件）なしに {} 回閲覧しました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} viewed watch-listed residents' records {} times with no supporting application, visit or case.", r.employee, n),
        ),
        "restricted_share_non_owner" => {
            let days = (r.to - r.from) / 86_400_000 + 1;
            (
                format!("職員 {} が、所属外の機密共有フォルダのファイルを {} 回、異なるファイル {} 件、{} 日にわたって開きました（{}）。", r.employee, n, r.files.len(), days, detail.join("、")),
                format!("Employee {} opened files on another section's confidential share {} times, {} distinct files, over {} days.", r.employee, n, r.files.len(), days),
            )
        }
        "broad_access_outside_need" => (
            format!("職員 {} が、全職員に一時開放された引継ぎフォルダで、自分の異動元・異動先ではない課のファイルを {} 回開きました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} opened {} files of sections they neither leave nor join in a handover folder temporarily open to all.", r.employee, n),
        ),
        "privileged_account_outside_admin_terminals" => (
            format!("職員 {} のログオン中の端末から、管理者・共用アカウントでファイルが {} 回操作されました。この端末は管理を担う部署のものではありません（{}）。", r.employee, n, detail.join("、")),
            format!("Administrator or shared accounts were used {} times from employee {}'s session on a terminal outside the administering departments.", n, r.employee),
        ),
        "after_hours_unusual" => (
            format!("職員 {} が、普段は働かない時間外・休日に住民記録を {} 件照会しました。同じ課でもその週に時間外の照会はほとんどありません（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} looked up {} records after hours or on a day off, which they seldom do and their section did not do that week.", r.employee, n),
        ),
        "endpoint_agent_silent" => (
            format!("端末の管理ソフトからの記録が途絶えた後も、職員 {} のログオンが続いています（{} 回、{}）。この間の外部媒体への複写は記録されていません。", r.employee, n, detail.join("、")),
            format!("The endpoint agent on a terminal stopped reporting while employee {} kept logging on there ({} logons); copies there went unlogged.", r.employee, n),
        ),
        "usb_copy_volume" => (
            format!("職員 {} の外部記憶媒体への複写が、本人の過去の最多日を大きく超えました（{} 件、{}）。", r.employee, n, detail.join("、")),
            format!("Employee {}'s copies to removable devices far exceeded their own busiest earlier day ({} copies).", r.employee, n),
        ),
        "lookup_volume" => (
            format!("職員 {} の住民記録の照会件数が、本人の通常（95パーセンタイル）を大きく超えました（{} 件、{}）。", r.employee, n, detail.join("、")),
            format!("Employee {}'s record look-ups far exceeded their usual day ({} look-ups).", r.employee, n),
        ),
        "access_after_transfer_or_retirement" => (
            format!("職員 {} の異動・退職で廃止されたはずのアカウント、または配属のない期間のアカウントで、住民記録が {} 回照会されました（{}）。", r.employee, n, detail.join("、")),
            format!("Records were accessed {} times through employee {}'s account after their transfer or retirement (closed or no posting).", n, r.employee),
        ),
        "new_record_extraction" => (
            format!("職員 {} が、他の職員が登録して間もない記録 {} 件（{}人）を、業務上の根拠なしに {} 日にわたり読み出しました（{}）。", r.employee, n, r.residents.len(), days(r), detail.join("、")),
            format!("Employee {} read {} records others had just registered ({} people) with no business behind them, on {} days.", r.employee, n, r.residents.len(), days(r)),
        ),
        "personal_data_to_personal_address" => (
            format!("職員 {} が、個人データ（住民{}人分）を含む添付ファイルを個人のメールアドレスへ {} 通送信しました（{}）。", r.employee, r.residents.len(), n, detail.join("、")),
            format!("Employee {} mailed attachments with personal data ({} residents) to personal addresses {} times.", r.employee, r.residents.len(), n),
        ),
        "personal_data_to_outside_organisation" => (
            format!("職員 {} が、個人データ（住民{}人分）を含む添付ファイルを、業務上の送付先として登録されていない外部組織へ {} 通送信しました（{}）。", r.employee, r.residents.len(), n, detail.join("、")),
            format!("Employee {} mailed attachments with personal data ({} residents) to an outside organisation not among the trusted recipients, {} times.", r.employee, r.residents.len(), n),
        ),
        "personal_data_to_role_without_access" => (
            format!("職員 {} が、個人データ（住民{}人分）を、現在の職務では住民記録の権限を持たない職員へメールで {} 回送りました（{}）。", r.employee, r.residents.len(), n, detail.join("、")),
            format!("Employee {} mailed personal data ({} residents) {} times to staff whose present role holds no residents' records.", r.employee, r.residents.len(), n),
        ),
        "uninspectable_attachment_outside" => (
            format!("職員 {} が、中身を検査できない（暗号化された）添付ファイルを信頼済みでない外部へ {} 通送信しました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} sent {} uninspectable (encrypted) attachments outside the trusted recipients.", r.employee, n),
        ),
        "audit_reduced_by_interested_party" => (
            format!("職員 {} が、利害関係のある端末の監査設定を無効にしました（{}）。監査対象から自分たちの作業を外す操作の疑いがあります。", r.employee, detail.join("、")),
            format!("Employee {} turned auditing off on a terminal of someone they are linked to; their work may have been taken out of the audit scope.", r.employee),
        ),
        "audit_reduced" => (
            format!("職員 {} が端末の監査設定を {} 回無効にしました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} turned auditing off on terminals {} times.", r.employee, n),
        ),
        "approved_device_on_unmanaged_terminal" => (
            format!("職員 {} の承認済み外部記憶媒体が、管理ソフトの入っていない端末に {} 回接続されました（{}）。この端末での複写は記録されません。", r.employee, n, detail.join("、")),
            format!("Employee {}'s approved removable device was connected {} times to a terminal without the endpoint agent, where copies go unlogged.", r.employee, n),
        ),
        "unapproved_device" => (
            format!("承認されていない外部記憶媒体が {} 回接続されました（{}）。接続者の推定: {}（同じ端末のログオン、または直前に接続された承認済み媒体の所有者）。", n, detail.join("、"), r.employee),
            format!("An unapproved removable device was connected {} times; attributed to {} (the terminal's session, or the owner of an approved device connected there just before).", n, r.employee),
        ),
        _ => (
            format!("職員 {} の操作が、別の職員がログオンしたまま施錠されていない端末で {} 回行われました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} worked {} times on a terminal where another employee's session was open and unlocked.", r.employee, n),
        ),
    };
    Finding {
        id: format!("{}:{}", r.rule, r.employee),
        rule: r.rule.to_owned(),
        severity: r.severity,
        employees: std::iter::once(r.employee.clone()).chain(r.related.iter().cloned()).collect(),
        residents: r.residents.iter().cloned().collect(),
        devices: r.devices.clone(),
        files: r.files.clone(),
        mails: r.mails.clone(),
        from: r.from,
        to: r.to,
        detected_at: r.detected_at,
        evidence: r.evidence.clone(),
        explanation_ja: ja,
        explanation_en: en,
    }
}
