//! A simulated town, the way the CERT insider-threat data set was made: a synthetic
//! municipality doing realistic work, with the brief's incidents injected and labelled.
//! Real logs of residents' records can never be shared; this is what mamori is built,
//! demonstrated and measured on.
//!
//! `simulate` writes, from one seed, byte for byte the same every time:
//! `master/*.csv` (the documented master-data formats), `logs/*` in the formats of the
//! products mamori reads (Shift_JIS CSV with era dates and code tables, TSV, 7-digit era
//! codes without a header, Windows Security JSON, badge CSV), `mamori.toml` defining those
//! sources, `truth.jsonl` (one line per injected incident, naming its events by file and
//! line) and `labels.csv` (whether each business-system access was justified).
//!
//! It must not depend on mamori's readers or detection: it writes what real systems
//! write, and the tests read it back through the real adapters.

mod behaviour;
mod mail;
mod names;
pub mod practice;
mod town;
mod write;

use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use practice::{BorrowShape, Practices, RelationPath};
use town::{DEPARTMENTS, Staff, Town};

/// The logs a simulated town writes under `logs/`: (source name in its `mamori.toml`,
/// file name).
pub const LOGS: [(&str, &str); 13] = [
    ("juki", "juki_access.csv"),
    ("zeimu", "zeimu_access.tsv"),
    ("koseki", "koseki_access.csv"),
    ("fukushi", "fukushi_access.log"),
    ("saijo", "saijo_permits.csv"),
    ("win-security", "security.jsonl"),
    ("badge", "badge.csv"),
    ("endpoint", "endpoint_usb.csv"),
    ("endpoint-ops", "endpoint_pcops.csv"),
    ("endpoint-print", "endpoint_print.csv"),
    ("samba", "fileserver_audit.log"),
    ("mail", "mail_journal.mbox"),
    ("proxy", "proxy_access.log"),
];

#[derive(Debug, Clone)]
pub struct Params {
    pub residents: usize,
    pub employees: usize,
    pub days: u32,
    pub seed: u64,
    pub start: NaiveDate,
}

impl Default for Params {
    fn default() -> Self {
        // Mid-January for 90 days: the tax season and the 1 April transfers fall inside.
        Params { residents: 20_000, employees: 300, days: 90, seed: 1, start: town::date(2024, 1, 15) }
    }
}

/// What a run wrote.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: Vec<(String, usize)>,
    pub incidents: usize,
    pub accesses: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum System {
    Juki,
    Zeimu,
    Koseki,
    Fukushi,
    /// The crematorium's permit system (火葬許可).
    Saijo,
}

/// Why an access happened: the ground truth behind its label.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    Visit(String),
    Case(String),
    Batch,
    /// Legitimate work that left no record mamori can see: a resident's telephone
    /// inquiry, a colleague's question. What explanation-based auditing cannot explain.
    Unrecorded(&'static str),
    Incident(usize),
}

/// `Access::resident` of someone who is not a resident of the town (a neighbouring town's
/// death at the shared crematorium): their record is known by its case number alone.
pub const NON_RESIDENT: usize = usize::MAX;

pub struct Access {
    pub at: NaiveDateTime,
    pub system: System,
    /// Operation code as the system writes it.
    pub op: &'static str,
    pub operator: String,
    pub host: String,
    pub resident: usize,
    pub record: &'static str,
    pub case_no: Option<String>,
    pub why: Why,
}

pub struct Logon {
    pub at: NaiveDateTime,
    pub user: String,
    pub host: String,
    pub event_id: u32,
    pub incident: Option<usize>,
}

/// A print job as the endpoint product logs it.
pub struct Print {
    pub at: NaiveDateTime,
    pub staff: usize,
    pub host: String,
    pub document: String,
    pub pages: u32,
    pub incident: Option<usize>,
}

/// The endpoint product's own record that its agent started on a PC (its daily sign of
/// life): (time, host, user).
pub struct AgentStart {
    pub at: NaiveDateTime,
    pub host: String,
    pub user: String,
}

/// A removable-device event: a copy logged by the endpoint agent, or a device recognised
/// by Windows (6416), which a terminal without the agent still reports.
pub struct Usb {
    pub at: NaiveDateTime,
    pub staff: usize,
    pub host: String,
    pub serial: String,
    /// `Some(path)`: a file copy seen by the endpoint agent; `None`: a device connected
    /// (Windows 6416, or the agent's own record when it blocked the device).
    pub copy: Option<String>,
    pub incident: Option<usize>,
    /// The endpoint agent blocked the device (logged by the agent only).
    pub blocked: bool,
}

/// A file opened on the file server, as Samba's full_audit logs it.
pub struct FileOpen {
    pub at: NaiveDateTime,
    /// The account as the server sees it (a staff member's, or the shared admin account).
    pub user: String,
    pub host: String,
    pub share: &'static str,
    pub path: String,
    /// The full_audit operation: `openat`, or `fset_nt_acl` for an ACL change.
    pub op: &'static str,
    pub incident: Option<usize>,
}

/// A change to what a terminal audits (Windows 4719).
pub struct PolicyChange {
    pub at: NaiveDateTime,
    pub user: String,
    pub host: String,
    /// Auditing turned off (success and failure removed), rather than added.
    pub reduced: bool,
    pub incident: Option<usize>,
}

pub struct Badge {
    pub at: NaiveDateTime,
    pub staff: usize,
    pub room: &'static str,
    pub entering: bool,
}

pub struct Incident {
    pub scenario: &'static str,
    pub summary: String,
    pub employees: Vec<String>,
    pub residents: Vec<String>,
    /// Message-IDs of the mails that carried the data.
    pub mails: Vec<String>,
    /// The shape this incident takes in this town (`former-household`, `owners-account` …).
    pub variant: String,
}

/// An event of the run, by its list and its index in the list over the whole run (the
/// events already written counted): what truth files point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ref {
    Access(usize),
    Logon(usize),
    Usb(usize),
    File(usize),
    Mail(usize),
    Web(usize),
}

/// Legitimate work that looks like misuse (a hard negative): detection must not raise it
/// high. Labelled by kind, with the staff doing it and the events.
pub struct Negative {
    pub kind: &'static str,
    pub summary: &'static str,
    pub employees: std::collections::BTreeSet<String>,
    pub events: Vec<Ref>,
}

/// The town as it runs: what it is and knows, and the events generated and not yet
/// written. `simulate` hands a working day's events to the writer when the day ends, so
/// the event lists hold one day there (and, after the working days, what is injected
/// across the period); `run` keeps the whole period in them.
pub struct World {
    pub params: Params,
    /// How this town works (chosen by the seed).
    pub practices: Practices,
    pub negatives: Vec<Negative>,
    /// Reading (kana) → the people who bear it: the namesakes a name search offers.
    pub kana_index: std::collections::HashMap<String, Vec<usize>>,
    pub town: Town,
    pub master: mamori_model::master::MasterData,
    /// How many events of each list went to the writer before those the lists hold: a
    /// `Ref`, a Message-ID and a Windows record number count from the run's first event.
    pub written: Written,
    pub accesses: Vec<Access>,
    pub logons: Vec<Logon>,
    pub badges: Vec<Badge>,
    pub usb: Vec<Usb>,
    pub files: Vec<FileOpen>,
    pub mails: Vec<mail::Mail>,
    /// Requests through the web proxy.
    pub web: Vec<behaviour::WebRequest>,
    pub policy: Vec<PolicyChange>,
    pub agent_starts: Vec<AgentStart>,
    pub prints: Vec<Print>,
    /// Person → their current row in `master.households` (moves add rows).
    pub household_row: Vec<usize>,
    /// Files recovered after an incident (the contents of a seized USB stick): incident,
    /// file name, the residents whose rows it holds. Written under `evidence/S…/`.
    pub evidence: Vec<(usize, String, Vec<usize>)>,
    pub incidents: Vec<Incident>,
    /// S7's endpoint agent stopped by hand. S7 is injected after the working days, when
    /// `simulate` has written them; the writer applies this to those days as it writes
    /// them again.
    pub stopped_agent: Option<StoppedAgent>,
}

/// The endpoint agent on `host` stopped on `days`: its starts there are missing, and the
/// logons there on those days are the incident's evidence.
pub struct StoppedAgent {
    pub host: String,
    pub days: Vec<NaiveDate>,
    pub incident: usize,
}

impl StoppedAgent {
    fn silent(&self, host: &str, at: NaiveDateTime) -> bool {
        host == self.host && self.days.contains(&at.date())
    }
}

/// How many events of each numbered list (see `World::written`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub accesses: usize,
    pub logons: usize,
    pub usb: usize,
    pub files: usize,
    pub mails: usize,
    pub web: usize,
    pub policy: usize,
}

/// Events of the run, each list in the order generated.
#[derive(Default)]
pub(crate) struct Events {
    pub accesses: Vec<Access>,
    pub logons: Vec<Logon>,
    pub badges: Vec<Badge>,
    pub usb: Vec<Usb>,
    pub files: Vec<FileOpen>,
    pub mails: Vec<mail::Mail>,
    pub web: Vec<behaviour::WebRequest>,
    pub policy: Vec<PolicyChange>,
    pub agent_starts: Vec<AgentStart>,
    pub prints: Vec<Print>,
}

/// The systems an employee of department `dept` has accounts in, and the account names.
pub(crate) fn accounts(s: &Staff, dept: usize) -> Vec<(&'static str, String)> {
    let n = s.number;
    let code = DEPARTMENTS[dept].0;
    let mut out = vec![("windows", format!("e{n:04}")), ("mail", format!("e{n:04}@city.example.lg.jp"))];
    let systems: &[&str] = match code {
        "D100" => &["juki"],
        "D110" => &["koseki", "juki"],
        "D200" => &["zeimu", "juki"],
        "D300" => &["fukushi", "juki", "zeimu"],
        "D310" => &["fukushi"],
        "D700" => &["saijo"],
        _ => &[],
    };
    for sys in systems {
        let prefix = match *sys {
            "juki" => "J",
            "zeimu" => "Z",
            "koseki" => "K",
            "saijo" => "S",
            _ => "F",
        };
        out.push((sys, format!("{prefix}{n:04}")));
    }
    out
}

fn account(s: &Staff, system: System) -> String {
    let prefix = match system {
        System::Juki => "J",
        System::Zeimu => "Z",
        System::Koseki => "K",
        System::Fukushi => "F",
        System::Saijo => "S",
    };
    format!("{prefix}{:04}", s.number)
}

fn at(day: NaiveDate, minutes: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).expect("a time of day"))
}

fn business_days(params: &Params, master: &mamori_model::master::MasterData) -> Vec<NaiveDate> {
    (0..params.days as u64)
        .map(|i| params.start + chrono::Days::new(i))
        .filter(|d| !master.is_day_off(*d))
        .collect()
}

/// Runs the town and writes everything into `out`.
pub fn simulate(params: &Params, out: &Path) -> std::io::Result<Summary> {
    simulate_observed(params, out, |_, _| {})
}

/// `simulate`, calling `after_day` with each working day and the world as the writer
/// leaves it once the day is on disk.
///
/// The period is run twice from the seed. The first run keeps no working day's events; it
/// learns what only the period's end knows: the events injected across the period after
/// the working days are generated (their draws follow the days'), S7's edits of earlier
/// days, and the town as it ends (mail attachments and the evidence show residents as they
/// are then). The second run writes each working day as it ends, with the injected events
/// that fall on it. Memory holds a day's events, not the period's.
pub fn simulate_observed(params: &Params, out: &Path, mut after_day: impl FnMut(NaiveDate, &World)) -> std::io::Result<Summary> {
    let afterwards = generate(params, Until::End, &mut |w, _| {
        // Dropped: the second run writes them.
        w.take_events();
        w.master.cases.clear();
        w.master.counter_visits.clear();
        Ok(())
    })?;
    let mut writer = write::Writer::create(out, afterwards)?;
    generate(params, Until::WorkingDays, &mut |w, day| {
        writer.day(w, day)?;
        after_day(day, w);
        Ok(())
    })?;
    writer.finish()
}

/// Runs the town in memory, keeping every event of the period in the world's lists, in the
/// order generated (for tests; `simulate` holds a day).
pub fn run(params: &Params) -> World {
    generate(params, Until::End, &mut |_, _| Ok(())).expect("keeping a day's events cannot fail")
}

#[derive(PartialEq, Eq)]
enum Until {
    /// Stop after the working days: the second run of `simulate`, whose first already
    /// produced what comes after them.
    WorkingDays,
    /// Go on to the Sunday openings and the incidents injected across the period.
    End,
}

/// Runs the town, handing the world to `day_done` at the end of each working day (the
/// lists then hold the day's events, and whatever it leaves there stays).
fn generate(params: &Params, until: Until, day_done: &mut dyn FnMut(&mut World, NaiveDate) -> std::io::Result<()>) -> std::io::Result<World> {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let town = town::generate(&mut rng, params.residents, params.employees, params.start, params.days);
    let mut master = town.master(params.start);
    master.holidays = write::holidays();
    let days = business_days(params, &master);
    let mut w = World { params: params.clone(), practices: Practices::for_seed(params.seed), negatives: Vec::new(), kana_index: Default::default(), town, master, written: Written::default(), accesses: Vec::new(), logons: Vec::new(), badges: Vec::new(), usb: Vec::new(), files: Vec::new(), mails: Vec::new(), web: Vec::new(), policy: Vec::new(), agent_starts: Vec::new(), prints: Vec::new(), household_row: Vec::new(), evidence: Vec::new(), incidents: Vec::new(), stopped_agent: None };
    w.household_row = (0..w.town.people.len()).collect();
    // Approved secure USB sticks for about one in ten staff.
    let owners: Vec<usize> = (0..w.town.staff.len()).filter(|i| i % 10 == 3).collect();
    for &i in &owners {
        let s = &w.town.staff[i];
        w.master.devices.push(mamori_model::master::RemovableDevice {
            serial: format!("SUSB-{:04}", s.number),
            owner: Some(s.id.clone()),
            kind: "secure-usb".into(),
            period: mamori_model::master::Period { from: town::date(params.start.year() - 1, 4, 1), to: None },
        });
    }

    // Incidents are planned first: they decide who is where on some days.
    let plan = plan_incidents(&mut rng, &mut w, &days);
    let cast = Cast::choose(&mut w, &owners);
    let s6 = cast.crematorium.map(|_| {
        w.incidents.push(Incident {
            scenario: "S6",
            summary: "斎場職員が登録間もない火葬許可の一覧を週2回業務外に出力（葬祭業者への提供）".into(),
            employees: Vec::new(),
            residents: Vec::new(),
            mails: Vec::new(),
            variant: String::new(),
        });
        w.incidents.len() - 1
    });
    let mut permits: Vec<(NaiveDate, usize, usize, String, bool)> = Vec::new();
    let mut case_seq = 0u32;
    let mut visit_seq = 0u32;
    // Welfare caseloads: open cases from before the period.
    let mut caseload: Vec<Vec<(usize, String)>> = vec![Vec::new(); w.town.staff.len()];
    for (i, s) in w.town.staff.iter().enumerate() {
        if DEPARTMENTS[s.dept].0 == "D300" {
            for _ in 0..20 {
                case_seq += 1;
                let r = rng.gen_range(0..w.town.people.len());
                let no = format!("F-{case_seq:06}");
                caseload[i].push((r, no.clone()));
                w.master.cases.push(mamori_model::master::BusinessCase {
                    case_no: no,
                    kind: "生活保護".into(),
                    received: params.start - chrono::Days::new(rng.gen_range(10..700)),
                    closed: None,
                    department: "D300".into(),
                    handler: Some(s.id.clone()),
                    residents: vec![w.town.people[r].uid.clone()],
                });
            }
        }
    }
    let mayor_day = days[days.len() / 2];
    // The practices draw from their own generator, so that the town itself is the same
    // whichever practices a seed turns on.
    let mut prng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7072_6163_7469_6365);
    // So is the browsing through the web proxy.
    let mut wrng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7765_6262_726f_7773);
    practices_in_master(&mut w, &days);
    let extractor = (0..w.town.staff.len()).find(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == "D200" && w.town.staff[i].transfer.is_none() && !w.town.staff[i].retires);
    let mut extract_months: Vec<u32> = Vec::new();
    for &day in &days {
        let season_end = if w.practices.season_overrun { 31 } else { 15 };
        let tax_season = (day.month() == 2 && day.day() >= 16) || (day.month() == 3 && day.day() <= season_end);
        let overrun = tax_season && day.month() == 3 && day.day() > 15;
        // Nightly batch: resident-record synchronisation.
        for _ in 0..100 {
            let r = rng.gen_range(0..w.town.people.len());
            w.accesses.push(Access {
                at: at(day, 120 + rng.gen_range(0..30)),
                system: System::Juki,
                op: "01",
                operator: "9000".into(),
                host: "BATCH-01".into(),
                resident: r,
                record: "J1",
                case_no: None,
                why: Why::Batch,
            });
        }
        // `si` indexes staff, the world and their caseloads in step; the world is mutated
        // inside, so an iterator over any one of them cannot be held.
        #[allow(clippy::needless_range_loop)]
        for si in 0..w.town.staff.len() {
            let Some(dept) = w.town.dept_on(&w.town.staff[si], day) else { continue };
            let code = DEPARTMENTS[dept].0;
            let room = DEPARTMENTS[dept].3;
            let arrive = 8 * 60 + 10 + rng.gen_range(0..35);
            let leave = if code == "D200" && tax_season { 19 * 60 + rng.gen_range(0..120) } else { 17 * 60 + 15 + rng.gen_range(0..75) };
            let forced = plan.lunch_unlocked.contains(&(day, si));
            let lunch_out = (forced || rng.gen_bool(0.7)) && !plan.lunch_in.contains(&(day, si));
            let locks = !forced && rng.gen_bool(0.9);
            let s = &w.town.staff[si];
            let (user, pc) = (format!("e{:04}", s.number), s.pc.clone());
            w.badges.push(Badge { at: at(day, arrive), staff: si, room, entering: true });
            w.agent_starts.push(AgentStart { at: at(day, arrive + 2), host: w.town.staff[si].pc.clone(), user: format!("e{:04}", w.town.staff[si].number) });
            // Now and then a document printed: meeting papers, a notice draft.
            if rng.gen_bool(0.08) {
                let document = ["会議資料.pdf", "通知文案.docx", "業務日誌.xlsx"][rng.gen_range(0..3)].to_owned();
                let t = at(day, rng.gen_range(arrive + 30..leave - 30));
                w.prints.push(Print { at: t, staff: si, host: w.town.staff[si].pc.clone(), document, pages: rng.gen_range(1..12), incident: None });
            }
            w.logons.push(Logon { at: at(day, arrive + 3), user: user.clone(), host: pc.clone(), event_id: 4624, incident: None });
            if lunch_out {
                w.badges.push(Badge { at: at(day, 12 * 60 + 2), staff: si, room, entering: false });
                w.badges.push(Badge { at: at(day, 12 * 60 + 52), staff: si, room, entering: true });
            }
            if locks {
                w.logons.push(Logon { at: at(day, 12 * 60), user: user.clone(), host: pc.clone(), event_id: 4800, incident: None });
                w.logons.push(Logon { at: at(day, 12 * 60 + 55), user: user.clone(), host: pc.clone(), event_id: 4801, incident: None });
            }
            w.logons.push(Logon { at: at(day, leave - 2), user, host: pc.clone(), event_id: 4634, incident: None });
            w.badges.push(Badge { at: at(day, leave), staff: si, room, entering: false });

            let work = |rng: &mut ChaCha8Rng, n: std::ops::Range<usize>| -> Vec<u32> {
                let n = rng.gen_range(n);
                let mut t: Vec<u32> = (0..n).map(|_| rng.gen_range(arrive + 10..leave - 15)).filter(|m| !(12 * 60..13 * 60).contains(m)).collect();
                t.sort();
                t
            };
            let s = &w.town.staff[si];
            match (code, s.role) {
                ("D100", "counter") => {
                    // Each clerk keeps their counter.
                    let slot = (0..si).filter(|&i| w.town.staff[i].role == "counter").count();
                    let host = w.town.counters[slot % w.town.counters.len()].clone();
                    if w.practices.shared_counter_account {
                        // The clerk's own Windows session on the counter PC; the registry
                        // is used there under the counter's shared login.
                        let user = format!("e{:04}", w.town.staff[si].number);
                        w.logons.push(Logon { at: at(day, arrive + 6), user: user.clone(), host: host.clone(), event_id: 4624, incident: None });
                        w.logons.push(Logon { at: at(day, leave - 4), user, host: host.clone(), event_id: 4634, incident: None });
                    }
                    for m in work(&mut rng, 25..45) {
                        visit_seq += 1;
                        let visit = format!("V-{visit_seq:07}");
                        let r = rng.gen_range(0..w.town.people.len());
                        counter_visit(&mut w, &mut rng, &mut prng, day, m, r, &visit, si, &host);
                    }
                }
                ("D100", _) => {
                    // Telephone inquiries: answered from the register, with no visit or case.
                    let pc = s.pc.clone();
                    for m in work(&mut rng, 0..3) {
                        let r = rng.gen_range(0..w.town.people.len());
                        if w.master.vip.iter().any(|v| v.resident_uid == w.town.people[r].uid) {
                            continue;
                        }
                        // A call about one's own family is passed to a colleague, as the
                        // rules of every office say.
                        let own_household = w.town.staff[si].resident.map(|p| w.town.people[p].household);
                        if own_household == Some(w.town.people[r].household) {
                            continue;
                        }
                        let operator = account(&w.town.staff[si], System::Juki);
                        let why = Why::Unrecorded("電話照会");
                        w.accesses.push(Access { at: at(day, m), system: System::Juki, op: "01", operator, host: pc.clone(), resident: r, record: "J1", case_no: None, why });
                    }
                    for m in work(&mut rng, 4..9) {
                        case_seq += 1;
                        let h = rng.gen_range(0..w.town.households.len());
                        // About one notice in a hundred is a birth (6–7 a year per thousand
                        // residents); the rest are moves within the town.
                        let (kind, members) = if rng.gen_bool(0.01) && w.town.households[h].members.len() >= 2 {
                            let baby = birth(&mut w, &mut rng, h, day);
                            ("出生届", vec![baby, w.town.households[h].members[0]])
                        } else {
                            moved(&mut w, &mut rng, h, day);
                            ("転居届", w.town.households[h].members.clone())
                        };
                        let no = new_case(&mut w, case_seq, kind, day, "D100", si, &members);
                        // Some sections leave move notices without a closing date.
                        if w.practices.unclosed_cases && kind == "転居届" && prng.gen_bool(0.3) {
                            w.master.cases.last_mut().expect("just added").closed = None;
                        }
                        for (k, &r) in members.iter().enumerate() {
                            for (j, op) in ["01", "03"].into_iter().enumerate() {
                                let t = at(day, m + 2 * k as u32 + j as u32);
                                push(&mut w, t, System::Juki, op, si, &pc, r, "J1", Some(&no));
                            }
                        }
                    }
                }
                ("D110", _) => {
                    for m in work(&mut rng, 3..8) {
                        case_seq += 1;
                        let r = rng.gen_range(0..w.town.people.len());
                        let no = new_case(&mut w, case_seq, "戸籍謄本請求", day, "D110", si, &[r]);
                        push(&mut w, at(day, m), System::Koseki, "K01", si, &pc, r, "", Some(&no));
                        push(&mut w, at(day, m + 3), System::Koseki, "K02", si, &pc, r, "", Some(&no));
                    }
                }
                ("D200", _) => {
                    let mut times = work(&mut rng, if tax_season { 18..28 } else { 8..15 });
                    if tax_season {
                        times.extend((0..4).map(|_| rng.gen_range(17 * 60 + 30..leave - 5)));
                    }
                    for m in times {
                        case_seq += 1;
                        let r = rng.gen_range(0..w.town.people.len());
                        let no = new_case(&mut w, case_seq, "申告受付", day, "D200", si, &[r]);
                        push(&mut w, at(day, m), System::Zeimu, "照会", si, &pc, r, "住民税", Some(&no));
                        // The season running on past what detect.toml says, the whole
                        // section working late.
                        if overrun && m >= 17 * 60 + 30 {
                            w.negative("season-overrun", "税務課の繁忙期が設定より長く続き、課全体で時間外に照会", si, w.last_access());
                        } else if tax_season && m >= 18 * 60 {
                            w.negative("busy-season", "税務課の確定申告期の残業（課全体で夜まで照会）", si, w.last_access());
                        }
                        if rng.gen_bool(0.6) {
                            push(&mut w, at(day, m + 4), System::Zeimu, "更新", si, &pc, r, "住民税", Some(&no));
                        }
                    }
                    // A sanctioned extract of every taxpayer, once a month, by one clerk.
                    if w.practices.bulk_extracts && extractor == Some(si) && !extract_months.contains(&day.month()) {
                        extract_months.push(day.month());
                        case_seq += 1;
                        let no = format!("抽-R{}-{case_seq:06}", day.year() - 2018);
                        w.master.cases.push(mamori_model::master::BusinessCase {
                            case_no: no.clone(),
                            kind: "一括抽出".into(),
                            received: day,
                            closed: Some(day),
                            department: "D200".into(),
                            handler: Some(w.town.staff[si].id.clone()),
                            residents: vec!["*".into()],
                        });
                        for k in 0..300u32 {
                            let r = prng.gen_range(0..w.town.people.len());
                            push(&mut w, at(day, 13 * 60 + k / 2), System::Zeimu, "照会", si, &pc, r, "住民税", None);
                            w.accesses.last_mut().expect("pushed").why = Why::Case(no.clone());
                            w.negative("bulk-extract", "承認済みの一括抽出（課税通知）", si, w.last_access());
                        }
                    }
                }
                ("D300", _) => {
                    let colleagues: Vec<usize> =
                        (0..w.town.staff.len()).filter(|&c| c != si && !caseload[c].is_empty() && w.town.dept_on(&w.town.staff[c], day) == Some(dept)).collect();
                    for m in work(&mut rng, 4..10) {
                        let Some((r, no)) = caseload[si].choose(&mut rng).cloned() else { break };
                        let op = if rng.gen_bool(0.7) { "照会" } else { "更新" };
                        push(&mut w, at(day, m), System::Fukushi, op, si, &pc, r, "生活保護", Some(&no));
                        if rng.gen_bool(0.2) {
                            push(&mut w, at(day, m + 2), System::Zeimu, "照会", si, &pc, r, "住民税", Some(&no));
                        }
                        // Covering a colleague's caseload: a case the section works as a team.
                        if w.practices.team_cases && !colleagues.is_empty() && prng.gen_bool(0.25) {
                            let c = colleagues[prng.gen_range(0..colleagues.len())];
                            if let Some((r, no)) = caseload[c].choose(&mut prng).cloned() {
                                push(&mut w, at(day, m + 1), System::Fukushi, "照会", si, &pc, r, "生活保護", None);
                                w.accesses.last_mut().expect("pushed").why = Why::Case(no);
                                w.negative("team-case", "同僚の担当ケースを課内で分担して照会", si, w.last_access());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Personal devices plugged in now and then, and blocked by the endpoint agent.
        if w.practices.blocked_devices {
            for si in 0..w.town.staff.len() {
                if w.town.dept_on(&w.town.staff[si], day).is_none() || !prng.gen_bool(0.01) {
                    continue;
                }
                let (serial, pc) = (format!("PHONE-{:05}", prng.gen_range(0..100_000)), w.town.staff[si].pc.clone());
                w.usb.push(Usb { at: at(day, prng.gen_range(9 * 60..17 * 60)), staff: si, host: pc, serial, copy: None, incident: None, blocked: true });
                w.negative("blocked-device", "私物端末の接続を管理ソフトが遮断", si, w.last_usb());
            }
        }
        // Approved sticks in legitimate use: plugged in on the owner's own PC, a few copies.
        for &i in &owners {
            if w.town.dept_on(&w.town.staff[i], day).is_none() || !rng.gen_bool(0.1) {
                continue;
            }
            let (serial, pc) = (format!("SUSB-{:04}", w.town.staff[i].number), w.town.staff[i].pc.clone());
            let m = rng.gen_range(9 * 60..16 * 60);
            w.usb.push(Usb { at: at(day, m), staff: i, host: pc.clone(), serial: serial.clone(), copy: None, incident: None, blocked: false });
            for k in 0..rng.gen_range(1..4) {
                let path = format!("E:\\業務\\会議資料_{}_{k}.pdf", day.format("%m%d"));
                w.usb.push(Usb { at: at(day, m + 1 + k), staff: i, host: pc.clone(), serial: serial.clone(), copy: Some(path), incident: None, blocked: false });
            }
        }
        // The file server: HR staff on their restricted share, general affairs on theirs.
        for si in 0..w.town.staff.len() {
            let Some(dept) = w.town.dept_on(&w.town.staff[si], day) else { continue };
            let share = match DEPARTMENTS[dept].0 {
                "D400" => "jinji",
                "D500" => "soumu",
                "D310" => "kenshin",
                _ => continue,
            };
            let (user, host) = (format!("e{:04}", w.town.staff[si].number), w.town.staff[si].pc.to_lowercase());
            for _ in 0..rng.gen_range(2..6) {
                let folder = match share {
                    "jinji" => "評価",
                    "kenshin" => "健診",
                    _ => "庶務",
                };
                let path = format!("{folder}/{:03}.xlsx", rng.gen_range(0..400));
                w.files.push(FileOpen { at: at(day, rng.gen_range(9 * 60..17 * 60)), user: user.clone(), host: host.clone(), share, path, op: "openat", incident: None });
            }
        }
        crematorium(&mut rng, &mut prng, &mut w, day, &mut case_seq, &mut permits, s6.zip(cast.crematorium));
        // The welfare section's shared PC: someone prints the day's benefit reports under
        // the shared account after lunch.
        let m = rng.gen_range(14 * 60..14 * 60 + 30);
        for (t, id) in [(m, 4624), (m + 20, 4634)] {
            w.logons.push(Logon { at: at(day, t), user: "fukushi-kyoyo".into(), host: "KYOYO-D300-01".into(), event_id: id, incident: None });
        }
        mail::day(&mut rng, &mut w, day);
        behaviour::browse(&mut wrng, &mut w, day);
        // Information policy staff adjust terminals' audit policy now and then (adding).
        if day.weekday() == chrono::Weekday::Mon
            && let Some(it) = cast.admin
        {
            let host = w.town.staff[rng.gen_range(0..w.town.staff.len())].pc.clone();
            let user = format!("e{:04}", w.town.staff[it].number);
            w.policy.push(PolicyChange { at: at(day, 8 * 60 + 45), user, host, reduced: false, incident: None });
        }
        // The mayor served at the counter and the family register, requests on file:
        // hard negatives for the VIP rules.
        if day == mayor_day {
            let mayor = w.town.mayor;
            if let Some(clerk) = w.town.staff.iter().position(|s| s.role == "counter" && w.town.dept_on(s, day).is_some()) {
                visit_seq += 1;
                let visit = format!("V-{visit_seq:07}");
                let host = w.town.counters[0].clone();
                counter_visit(&mut w, &mut rng, &mut prng, day, 10 * 60 + 5, mayor, &visit, clerk, &host);
            }
            if let Some(clerk) = w.town.staff.iter().position(|s| DEPARTMENTS[s.dept].0 == "D110" && w.town.dept_on(s, day).is_some()) {
                case_seq += 1;
                let no = new_case(&mut w, case_seq, "戸籍謄本請求", day, "D110", clerk, &[mayor]);
                let pc = w.town.staff[clerk].pc.clone();
                push(&mut w, at(day, 11 * 60), System::Koseki, "K01", clerk, &pc, mayor, "", Some(&no));
                push(&mut w, at(day, 11 * 60 + 4), System::Koseki, "K02", clerk, &pc, mayor, "", Some(&no));
            }
        }
        for (_, (who, r, kind)) in plan.cases.iter().filter(|c| c.0 == day).map(|c| (c.0, (c.2, c.1, c.3))) {
            // The insider's own business with a relative once, in a case left open.
            case_seq += 1;
            let no = new_case(&mut w, case_seq, kind, day, "D300", who, &[r]);
            w.master.cases.last_mut().expect("just added").closed = None;
            let pc = w.town.staff[who].pc.clone();
            push(&mut w, at(day, 10 * 60 + 30), System::Fukushi, "照会", who, &pc, r, "相談", Some(&no));
        }
        for (incident, who, host, system, op, r, m, login) in plan.accesses.iter().filter(|a| a.0 == day).map(|a| &a.1) {
            let record = if *system == System::Zeimu { "住民税" } else if *system == System::Juki { "J1" } else { "" };
            w.accesses.push(Access {
                at: at(day, *m),
                system: *system,
                op,
                operator: login.clone().unwrap_or_else(|| account(&w.town.staff[*who], *system)),
                host: host.clone(),
                resident: *r,
                record,
                case_no: None,
                why: Why::Incident(*incident),
            });
        }
        day_done(&mut w, day)?;
    }
    if until == Until::WorkingDays {
        return Ok(w);
    }
    if w.practices.open_sundays {
        for day in open_sundays(&w, &days) {
            sunday_counter(&mut rng, &mut prng, &mut w, day);
        }
    }
    inject_s7(&mut rng, &mut w, &days, &owners);
    inject_s4(&mut rng, &mut w, &days);
    handover(&mut rng, &mut w, &days);
    inject_s5(&mut rng, &mut w, &days, &cast);
    if let (Some(a), Some(b), Some(c)) = (cast.former_registry, cast.registry, cast.tax) {
        mail::inject_s8(&mut rng, &mut w, &days, a, b, c);
    }
    if let Some(e) = cast.secondee {
        mail::inject_s10(&mut rng, &mut w, &days, e);
    }
    let cast_staff: Vec<usize> = [cast.former_registry, cast.registry, cast.tax, cast.admin, cast.secondee, cast.crematorium].into_iter().flatten().collect();
    behaviour::inject(&mut w, &days, &cast_staff, cast.admin, &owners);
    Ok(w)
}

/// What the town's practices put in master data: namesakes by reading (for name
/// searches), the counters' shared registry logins, the Sundays the counter opens.
fn practices_in_master(w: &mut World, days: &[NaiveDate]) {
    if w.practices.name_search {
        for (p, person) in w.town.people.iter().enumerate() {
            w.kana_index.entry(person.kana.clone()).or_default().push(p);
        }
    }
    if w.practices.shared_counter_account {
        let since = town::date(w.params.start.year() - 3, 4, 1);
        for host in w.town.counters.clone() {
            w.master.accounts.push(mamori_model::master::Account {
                system: "juki".into(),
                account: counter_login(&host),
                employee_id: None,
                kind: mamori_model::master::AccountKind::Shared,
                period: mamori_model::master::Period { from: since, to: None },
                department: Some("D100".into()),
            });
        }
    }
    if w.practices.open_sundays {
        for day in open_sundays(w, days) {
            w.master.open_days.push(mamori_model::master::OpenDay { date: day, department: Some("D100".into()), note: "休日開庁".into() });
        }
    }
}

/// The last Sunday of each month of the period (the counter's Sunday opening).
fn open_sundays(w: &World, days: &[NaiveDate]) -> Vec<NaiveDate> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return Vec::new() };
    let mut out = Vec::new();
    let mut d = *first;
    while d <= *last {
        if d.weekday() == chrono::Weekday::Sun && (d + chrono::Days::new(7)).month() != d.month() && w.master.is_day_off(d) {
            out.push(d);
        }
        d = d.succ_opt().expect("a next day");
    }
    out
}

/// The counter's Sunday opening: a few counter clerks serve residents in the morning.
fn sunday_counter(rng: &mut ChaCha8Rng, prng: &mut ChaCha8Rng, w: &mut World, day: NaiveDate) {
    let clerks: Vec<usize> = (0..w.town.staff.len()).filter(|&i| w.town.staff[i].role == "counter" && w.town.dept_on(&w.town.staff[i], day).is_some()).take(3).collect();
    for (k, &si) in clerks.iter().enumerate() {
        let host = w.town.counters[k % w.town.counters.len()].clone();
        let (user, pc, room) = (format!("e{:04}", w.town.staff[si].number), w.town.staff[si].pc.clone(), DEPARTMENTS[w.town.staff[si].dept].3);
        w.badges.push(Badge { at: at(day, 8 * 60 + 40), staff: si, room, entering: true });
        w.logons.push(Logon { at: at(day, 8 * 60 + 45), user: user.clone(), host: pc.clone(), event_id: 4624, incident: None });
        if w.practices.shared_counter_account {
            w.logons.push(Logon { at: at(day, 8 * 60 + 47), user: user.clone(), host: host.clone(), event_id: 4624, incident: None });
        }
        let mut minutes: Vec<u32> = (0..rng.gen_range(10..18)).map(|_| rng.gen_range(9 * 60..12 * 60)).collect();
        minutes.sort();
        for (n, m) in minutes.into_iter().enumerate() {
            let visit = format!("VS-{}-{k}{n:02}", day.format("%m%d"));
            let r = rng.gen_range(0..w.town.people.len());
            let before = w.accesses.len();
            counter_visit(w, rng, prng, day, m, r, &visit, si, &host);
            for i in before..w.accesses.len() {
                w.negative("open-sunday", "休日開庁日の窓口業務", si, Ref::Access(w.written.accesses + i));
            }
        }
        w.logons.push(Logon { at: at(day, 12 * 60 + 30), user, host: pc, event_id: 4634, incident: None });
        w.badges.push(Badge { at: at(day, 12 * 60 + 35), staff: si, room, entering: false });
    }
}

/// The staff the later incidents need, chosen so that no one plays two parts: nobody
/// transferred or retiring in the period, nobody holding an approved USB stick (S7's
/// pool), and not the S9 reader (the first tax clerk who stays).
struct Cast {
    /// S8's employee A, moved last April from the residents' section to information policy.
    former_registry: Option<usize>,
    /// S8's employee B, still in the residents' section.
    registry: Option<usize>,
    /// S8's tax clerk who mails arrears to A.
    tax: Option<usize>,
    /// Information policy's administrator of terminals and shares (not A).
    admin: Option<usize>,
    /// S10's employee seconded from a systems company.
    secondee: Option<usize>,
    /// S6's crematorium employee.
    crematorium: Option<usize>,
}

impl Cast {
    fn choose(w: &mut World, owners: &[usize]) -> Cast {
        let staying = |w: &World, code: &str| -> Vec<usize> {
            (0..w.town.staff.len())
                .filter(|&i| {
                    let s = &w.town.staff[i];
                    DEPARTMENTS[s.dept].0 == code && s.transfer.is_none() && !s.retires && !owners.contains(&i) && s.role != "chief"
                })
                .collect()
        };
        let it = staying(w, "D800");
        let former_registry = it.first().copied();
        let admin = (0..w.town.staff.len()).find(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == "D800" && Some(i) != former_registry);
        let secondee = it.get(1).copied().or_else(|| staying(w, "D900").first().copied()).or_else(|| staying(w, "D600").first().copied());
        let residents_section = staying(w, "D100");
        let registry = residents_section.iter().copied().find(|&i| w.town.staff[i].role == "staff").or_else(|| residents_section.first().copied());
        let tax_section = staying(w, "D200");
        let tax = tax_section.last().copied().filter(|_| tax_section.len() > 1);
        // S6 needs a colleague who registers the permits the clerk then extracts.
        let crematorium_staff = w.town.staff.iter().filter(|s| DEPARTMENTS[s.dept].0 == "D700" && s.transfer.is_none() && !s.retires).count();
        let crematorium = staying(w, "D700").first().copied().filter(|_| crematorium_staff > 1);
        if let Some(a) = former_registry {
            w.past_transfer(a, "D100");
        }
        Cast { former_registry, registry, tax, admin, secondee, crematorium }
    }
}

impl World {
    /// Hands over the events the lists hold, with the counts written before them.
    pub(crate) fn take_events(&mut self) -> (Written, Events) {
        let before = self.written;
        let events = Events {
            accesses: std::mem::take(&mut self.accesses),
            logons: std::mem::take(&mut self.logons),
            badges: std::mem::take(&mut self.badges),
            usb: std::mem::take(&mut self.usb),
            files: std::mem::take(&mut self.files),
            mails: std::mem::take(&mut self.mails),
            web: std::mem::take(&mut self.web),
            policy: std::mem::take(&mut self.policy),
            agent_starts: std::mem::take(&mut self.agent_starts),
            prints: std::mem::take(&mut self.prints),
        };
        let w = &mut self.written;
        w.accesses += events.accesses.len();
        w.logons += events.logons.len();
        w.usb += events.usb.len();
        w.files += events.files.len();
        w.mails += events.mails.len();
        w.web += events.web.len();
        w.policy += events.policy.len();
        (before, events)
    }

    /// The access generated last, by its place in the run.
    fn last_access(&self) -> Ref {
        Ref::Access(self.written.accesses + self.accesses.len() - 1)
    }

    fn last_usb(&self) -> Ref {
        Ref::Usb(self.written.usb + self.usb.len() - 1)
    }

    fn last_mail(&self) -> Ref {
        Ref::Mail(self.written.mails + self.mails.len() - 1)
    }

    /// Labels the event `r` as legitimate work of `kind` that looks like misuse, done by
    /// staff member `si`.
    fn negative(&mut self, kind: &'static str, summary: &'static str, si: usize, r: Ref) {
        let id = self.town.staff[si].id.clone();
        let i = match self.negatives.iter().position(|n| n.kind == kind) {
            Some(i) => i,
            None => {
                self.negatives.push(Negative { kind, summary, employees: Default::default(), events: Vec::new() });
                self.negatives.len() - 1
            }
        };
        self.negatives[i].employees.insert(id);
        self.negatives[i].events.push(r);
    }

    /// Gives staff member `si` a posting in `from` (with its system accounts) until the
    /// last 1 April before the period, and their present one since.
    fn past_transfer(&mut self, si: usize, from: &str) {
        let start = self.params.start;
        let april = town::date(if start.month() >= 4 { start.year() } else { start.year() - 1 }, 4, 1);
        let until = april.pred_opt().expect("a day before");
        let s = &self.town.staff[si];
        let dept = DEPARTMENTS.iter().position(|d| d.0 == from).expect("a department");
        let mut since = None;
        for a in self.master.assignments.iter_mut().filter(|a| a.employee_id == s.id) {
            since = Some(a.period.from);
            a.period.from = april;
        }
        let since = since.unwrap_or(until);
        self.master.assignments.push(mamori_model::master::Assignment {
            employee_id: s.id.clone(),
            department: from.into(),
            role: "staff".into(),
            period: mamori_model::master::Period { from: since, to: Some(until) },
            team: None,
        });
        for (system, account) in accounts(s, dept).into_iter().filter(|(sys, _)| !["windows", "mail"].contains(sys)) {
            self.master.accounts.push(mamori_model::master::Account {
                system: system.into(),
                account,
                employee_id: Some(s.id.clone()),
                kind: mamori_model::master::AccountKind::Personal,
                period: mamori_model::master::Period { from: since, to: Some(until) },
                department: None,
            });
        }
    }
}

/// The crematorium's day: deaths registered as cremation permits (a case each, handled
/// by the registering clerk, closed after the cremation), a look-up the next working day;
/// and, for S6, twice a week after hours, one clerk's list export of the permits others
/// registered in the last four days.
#[allow(clippy::too_many_arguments)]
fn crematorium(
    rng: &mut ChaCha8Rng,
    prng: &mut ChaCha8Rng,
    w: &mut World,
    day: NaiveDate,
    case_seq: &mut u32,
    permits: &mut Vec<(NaiveDate, usize, usize, String, bool)>,
    s6: Option<(usize, usize)>,
) {
    let clerks: Vec<usize> = (0..w.town.staff.len()).filter(|&i| w.town.dept_on(&w.town.staff[i], day).is_some_and(|d| DEPARTMENTS[d].0 == "D700")).collect();
    if clerks.is_empty() {
        return;
    }
    for (_, r, handler, no, looked_up) in permits.iter_mut().filter(|p| p.0 < day && !p.4) {
        *looked_up = true;
        // The handler, or whoever took over from them (a transfer or retirement on 1 April
        // falls between a permit and its look-up).
        let who = if clerks.contains(handler) { *handler } else { clerks[*r % clerks.len()] };
        let pc = w.town.staff[who].pc.clone();
        push(w, at(day, 9 * 60 + 20 + (*r % 60) as u32), System::Saijo, "照会", who, &pc, *r, "火葬許可", Some(no));
        // A colleague completes the new permit (the cremation slot, the family's contact).
        if w.practices.follow_ups && clerks.len() > 1 && prng.gen_bool(0.6) {
            let others: Vec<usize> = clerks.iter().copied().filter(|c| c != handler).collect();
            let c = others[prng.gen_range(0..others.len())];
            let pc = w.town.staff[c].pc.clone();
            // A non-resident's permit is known only by its number, so the correction names it.
            let key = (*r == NON_RESIDENT).then_some(no.as_str());
            push(w, at(day, 10 * 60 + (*r % 50) as u32), System::Saijo, "訂正", c, &pc, *r, "火葬許可", key);
            w.accesses.last_mut().expect("pushed").why = Why::Unrecorded("登録後の補正");
            w.negative("follow-up", "課内の他職員が登録した新規記録を登録後数日以内に補正", c, w.last_access());
        }
    }
    let protected: Vec<usize> = w.town.staff.iter().filter_map(|s| s.resident).chain([w.town.mayor]).chain(w.town.council.iter().copied()).collect();
    // About 11 deaths a year per thousand residents, registered on working days; and a
    // crematorium serves its neighbours too (広域斎場), so a small town's sees a few a week.
    let expected = (w.town.people.len() as f64 * 0.011 / 245.0).max(0.6);
    let deaths = expected as usize + usize::from(rng.gen_bool(expected.fract()));
    for _ in 0..deaths {
        let elderly = w.town.people.len() / 4;
        // People are generated household by household, so a random one is as likely old
        // as any; draw until an elderly one comes up (a few draws).
        let Some(r) = (0..elderly).map(|_| rng.gen_range(0..w.town.people.len())).find(|&r| w.town.people[r].birth.year() <= 1955) else { continue };
        if protected.contains(&r) || w.master.residents[r].died.is_some() {
            continue;
        }
        w.master.residents[r].died = day.pred_opt();
        let handler = clerks[rng.gen_range(0..clerks.len())];
        let no = permit_case(w, day, case_seq, handler, vec![w.town.people[r].uid.clone()]);
        let pc = w.town.staff[handler].pc.clone();
        push(w, at(day, rng.gen_range(9 * 60..16 * 60)), System::Saijo, "登録", handler, &pc, r, "火葬許可", Some(&no));
        permits.push((day, r, handler, no, false));
    }
    // A neighbouring town's death now and then (広域斎場): the permit has no 宛名番号 here,
    // only its own number. Chosen by the day, not drawn, so the town's other events stay.
    if day.ordinal() % 3 == 0 {
        let handler = clerks[day.ordinal() as usize % clerks.len()];
        let no = permit_case(w, day, case_seq, handler, Vec::new());
        let pc = w.town.staff[handler].pc.clone();
        push(w, at(day, 14 * 60 + day.ordinal() % 60), System::Saijo, "登録", handler, &pc, NON_RESIDENT, "火葬許可", Some(&no));
        permits.push((day, NON_RESIDENT, handler, no, false));
    }
    let Some((incident, clerk)) = s6 else { return };
    let begins = w.params.start + chrono::Days::new(10);
    // A habit that starts slowly: on Tuesdays only for its first three weeks.
    let habit = if w.practices.s6_slow && day < begins + chrono::Days::new(21) {
        day.weekday() == chrono::Weekday::Tue
    } else {
        matches!(day.weekday(), chrono::Weekday::Tue | chrono::Weekday::Fri)
    };
    if !habit || !clerks.contains(&clerk) || day < begins {
        return;
    }
    w.incidents[incident].variant = if w.practices.s6_slow { "slow-start".into() } else { "twice-weekly".into() };
    let fresh: Vec<(usize, String)> = permits.iter().filter(|p| p.0 + chrono::Days::new(4) >= day && p.2 != clerk).map(|p| (p.1, p.3.clone())).collect();
    let pc = w.town.staff[clerk].pc.clone();
    if !fresh.is_empty() {
        // The list goes out on paper.
        let document = format!("火葬許可一覧_{}.pdf", day.format("%m%d"));
        w.prints.push(Print { at: at(day, 17 * 60 + 50), staff: clerk, host: pc.clone(), document, pages: 1, incident: Some(incident) });
    }
    for (k, (r, no)) in fresh.into_iter().enumerate() {
        w.accesses.push(Access {
            at: at(day, 17 * 60 + 35 + k as u32 / 4),
            system: System::Saijo,
            op: "一覧出力",
            operator: account(&w.town.staff[clerk], System::Saijo),
            host: pc.clone(),
            resident: r,
            record: "火葬許可",
            // A list row of a non-resident's permit carries the permit number, its only key.
            case_no: (r == NON_RESIDENT).then_some(no),
            why: Why::Incident(incident),
        });
        let uid = if r == NON_RESIDENT { String::new() } else { w.town.people[r].uid.clone() };
        let inc = &mut w.incidents[incident];
        if !uid.is_empty() && !inc.residents.contains(&uid) {
            inc.residents.push(uid);
        }
        if inc.employees.is_empty() {
            inc.employees.push(w.town.staff[clerk].id.clone());
        }
    }
}

/// A cremation permit registered on `day` by `handler`: its case (closed two days later)
/// in the master data, and its number.
fn permit_case(w: &mut World, day: NaiveDate, case_seq: &mut u32, handler: usize, residents: Vec<String>) -> String {
    *case_seq += 1;
    let no = format!("火-R{}-{:05}", day.year() - 2018, *case_seq);
    w.master.cases.push(mamori_model::master::BusinessCase {
        case_no: no.clone(),
        kind: "火葬許可".into(),
        received: day,
        closed: Some(day + chrono::Days::new(2)),
        department: "D700".into(),
        handler: Some(w.town.staff[handler].id.clone()),
        residents,
    });
    no
}

/// S5 (Okayama): the health section's restricted share, with the examinees' roster, is
/// opened to all staff by a mistaken ACL change for four days. Staff of other sections
/// read the notice on it, and some of them the roster itself.
fn inject_s5(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate], cast: &Cast) {
    let Some(it) = cast.admin else { return };
    let Some(&day) = days.get(days.len() / 4) else { return };
    let id = w.incidents.len();
    let it_pc = w.town.staff[it].pc.to_lowercase();
    let window: Vec<NaiveDate> = days.iter().copied().filter(|d| *d >= day && *d < day + chrono::Days::new(4)).collect();
    w.files.push(FileOpen { at: at(day, 8 * 60 + 50), user: "admin01".into(), host: it_pc.clone(), share: "kenshin", path: ".".into(), op: "fset_nt_acl", incident: None });
    let outsiders: Vec<usize> = (0..w.town.staff.len())
        .filter(|&i| w.town.dept_on(&w.town.staff[i], day).is_some_and(|d| !["D310", "D800"].contains(&DEPARTMENTS[d].0)))
        .collect();
    let how_many = rng.gen_range(6..12);
    let readers: Vec<usize> = outsiders.choose_multiple(rng, how_many).copied().collect();
    let roster = rng.gen_range(2..5).min(readers.len());
    let mut employees = Vec::new();
    for (k, &si) in readers.iter().enumerate() {
        let d = window[rng.gen_range(0..window.len())];
        let m = rng.gen_range(9 * 60..16 * 60);
        let (user, host) = (format!("e{:04}", w.town.staff[si].number), w.town.staff[si].pc.to_lowercase());
        w.files.push(FileOpen { at: at(d, m), user: user.clone(), host: host.clone(), share: "kenshin", path: "お知らせ/名簿の保存場所.txt".into(), op: "openat", incident: Some(id) });
        if k < roster {
            w.files.push(FileOpen { at: at(d, m + 2), user, host, share: "kenshin", path: "健診/受診者名簿.xlsx".into(), op: "openat", incident: Some(id) });
        }
        employees.push(w.town.staff[si].id.clone());
    }
    let end = *window.last().expect("the window has its first day") + chrono::Days::new(1);
    w.files.push(FileOpen { at: at(end, 9 * 60 + 10), user: "admin01".into(), host: it_pc, share: "kenshin", path: ".".into(), op: "fset_nt_acl", incident: None });
    w.incidents.push(Incident {
        scenario: "S5",
        summary: format!("保健課の健診名簿フォルダが設定誤りで全職員に{}日間開放され、他課職員{}人が閲覧、うち{roster}人が名簿ファイルを開いた", window.len(), readers.len()),
        employees,
        residents: Vec::new(),
        mails: Vec::new(),
        variant: String::new(),
    });
}

/// The fiscal year-end handover (S9, Kamaishi): the handover folder, one sub-folder per
/// section, is open to everyone from a week before 1 April to four days after. Staff who
/// move read their old and new sections' handover files; one employee who is not moving
/// reads other sections' as well.
fn handover(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate]) {
    let Some(april) = w.town.april else { return };
    let window: Vec<NaiveDate> = days.iter().copied().filter(|d| *d >= april - chrono::Days::new(7) && *d <= april + chrono::Days::new(4)).collect();
    if window.is_empty() {
        return;
    }
    let open = |w: &mut World, rng: &mut ChaCha8Rng, si: usize, dept: usize, incident: Option<usize>| {
        let day = window[rng.gen_range(0..window.len())];
        let s = &w.town.staff[si];
        let path = format!("{}/引継書_{:03}.docx", DEPARTMENTS[dept].0, rng.gen_range(0..60));
        let (user, host) = (format!("e{:04}", s.number), s.pc.to_lowercase());
        w.files.push(FileOpen { at: at(day, rng.gen_range(9 * 60..16 * 60 + 30)), user, host, share: "hikitsugi", path, op: "openat", incident });
    };
    for si in 0..w.town.staff.len() {
        if let Some(to) = w.town.staff[si].transfer {
            let from = w.town.staff[si].dept;
            for _ in 0..rng.gen_range(2..5) {
                let dept = if rng.gen_bool(0.5) { from } else { to };
                open(w, rng, si, dept, None);
            }
        }
    }
    let Some(reader) = w.town.staff.iter().position(|s| DEPARTMENTS[s.dept].0 == "D200" && s.transfer.is_none() && !s.retires) else { return };
    let id = w.incidents.len();
    let own = w.town.staff[reader].dept;
    let others: Vec<usize> = (0..DEPARTMENTS.len()).filter(|&d| d != own).collect();
    for k in 0..20 {
        open(w, rng, reader, others[k % 3], Some(id));
    }
    w.incidents.push(Incident {
        scenario: "S9",
        summary: "年度末に全職員へ開放された引継ぎフォルダで、異動のない職員が他課の引継書20件を閲覧".into(),
        employees: vec![w.town.staff[reader].id.clone()],
        residents: Vec::new(),
        mails: Vec::new(),
        variant: String::new(),
    });
}

/// S4 (Niigata): a general-affairs chief uses the administrator account from his own PC
/// to copy the HR share's confidential files, a few at a time, all through the period
/// (1,400 files over three years in the seed; here 15 a working day).
fn inject_s4(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate]) {
    let Some(chief) = w.town.staff.iter().position(|s| DEPARTMENTS[s.dept].0 == "D500" && s.role == "chief" && s.transfer.is_none() && !s.retires)
    else {
        return;
    };
    let id = w.incidents.len();
    let host = w.town.staff[chief].pc.to_lowercase();
    let mut n = 0;
    for &day in days.iter().filter(|d| w.town.dept_on(&w.town.staff[chief], **d).is_some()) {
        for _ in 0..15 {
            n += 1;
            let path = format!("人事評価/{}/{n:04}.xlsx", day.format("%Y"));
            // Late in the day, but while still logged on (nobody leaves before 17:15).
            let m = rng.gen_range(16 * 60 + 30..17 * 60 + 10);
            w.files.push(FileOpen { at: at(day, m), user: "admin01".into(), host: host.clone(), share: "jinji", path, op: "openat", incident: Some(id) });
        }
    }
    w.incidents.push(Incident {
        scenario: "S4",
        summary: format!("総務課長が管理者アカウントで人事課の共有フォルダから機密ファイル {n} 件を自席端末へ取得"),
        employees: vec![w.town.staff[chief].id.clone()],
        residents: Vec::new(),
        mails: Vec::new(),
        variant: String::new(),
    });
}

/// S7 (Hiratsuka): an employee moves resident files to their approved secure USB on their
/// own PC over several days, then takes it to the reception PC, which has no endpoint
/// agent, and plugs in a personal stick there as well. Only Windows still reports the
/// devices on that PC.
fn inject_s7(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate], owners: &[usize]) {
    let Some(&e) = owners.iter().find(|&&i| !w.town.staff[i].retires && w.town.staff[i].transfer.is_none()) else { return };
    let id = w.incidents.len();
    let serial = format!("SUSB-{:04}", w.town.staff[e].number);
    let personal = format!("PERSONAL-{:06}", rng.gen_range(0..1_000_000));
    let pc = w.town.staff[e].pc.clone();
    let start = days.len() / 3;
    let copy_days: Vec<NaiveDate> = days.iter().skip(start).take(5).copied().collect();
    let mut residents = std::collections::BTreeSet::new();
    for (k, day) in copy_days.iter().enumerate() {
        let m = rng.gen_range(16 * 60..17 * 60);
        for f in 0..8 {
            let name = format!("住民一覧_{k}_{f}.csv");
            let path = format!("E:\\移送\\{name}");
            w.usb.push(Usb { at: at(*day, m + f), staff: e, host: pc.clone(), serial: serial.clone(), copy: Some(path), incident: Some(id), blocked: false });
            // What was on the stick when it was recovered: each file a block of one district.
            let first = rng.gen_range(0..w.town.people.len());
            let rows: Vec<usize> = (first..w.town.people.len()).take(rng.gen_range(20..60)).collect();
            residents.extend(rows.iter().copied());
            w.evidence.push((id, name, rows));
        }
    }
    // After the copies the endpoint agent on the employee's own PC falls silent (stopped
    // by hand) for three working days, while Windows still logs the logons there.
    let silent: Vec<NaiveDate> = days.iter().skip(start + 5).take(3).copied().collect();
    let stopped = StoppedAgent { host: pc.clone(), days: silent, incident: id };
    // The events the lists still hold (all of the period's from `run`); `simulate` wrote
    // the working days already and applies `stopped` when it writes them again.
    w.agent_starts.retain(|a| !stopped.silent(&a.host, a.at));
    for l in w.logons.iter_mut().filter(|l| l.event_id == 4624 && stopped.silent(&l.host, l.at)) {
        l.incident = Some(id);
    }
    w.stopped_agent = Some(stopped);
    let day = days.get(start + 6).copied().unwrap_or(days[days.len() - 1]);
    let m = 17 * 60 + 40;
    w.usb.push(Usb { at: at(day, m), staff: e, host: "UKETSUKE-01".into(), serial: serial.clone(), copy: None, incident: Some(id), blocked: false });
    w.usb.push(Usb { at: at(day, m + 3), staff: e, host: "UKETSUKE-01".into(), serial: personal.clone(), copy: None, incident: Some(id), blocked: false });
    w.incidents.push(Incident {
        scenario: "S7",
        summary: "職員が住民情報ファイルを承認済みUSBへ複写し、自席端末の管理ソフトを停止、管理ソフト未導入の受付端末で私物USBへ移した".into(),
        employees: vec![w.town.staff[e].id.clone()],
        residents: residents.iter().map(|&p| w.town.people[p].uid.clone()).collect(),
        mails: Vec::new(),
        variant: String::new(),
    });
    let _ = personal;
}

/// A household moves within the town on `day`: each member's registration at the old
/// address ends the day before, and one at the new address begins.
fn moved(w: &mut World, rng: &mut ChaCha8Rng, h: usize, day: NaiveDate) {
    let address = town::random_address(rng);
    let until = day.pred_opt().expect("a day before");
    for &p in &w.town.households[h].members {
        let row = w.household_row[p];
        if w.master.households[row].period.from >= day {
            continue;
        }
        let mut next = w.master.households[row].clone();
        w.master.households[row].period.to = Some(until);
        next.address = address.clone();
        next.period = mamori_model::master::Period { from: day, to: None };
        w.household_row[p] = w.master.households.len();
        w.master.households.push(next);
    }
    w.town.households[h].address = address;
}

/// A child is born into household `h` a week or two before the notice on `day`: a new
/// resident, registered in the household, linked to its head.
fn birth(w: &mut World, rng: &mut ChaCha8Rng, h: usize, day: NaiveDate) -> usize {
    let head = w.town.households[h].members[0];
    let born = day - chrono::Days::new(rng.gen_range(1..14));
    let (given, kana) = town::baby_name(rng);
    let surname = w.town.people[head].surname.clone();
    let family_kana = w.town.people[head].kana.split(' ').next().unwrap_or("").to_owned();
    let p = w.town.people.len();
    let uid = format!("{:09}", 100_000 + p * 7 + 3);
    w.town.people.push(town::Person {
        uid: uid.clone(),
        name: format!("{surname} {given}"),
        kana: format!("{family_kana} {kana}"),
        surname: surname.clone(),
        birth: born,
        household: h,
        relation: "子",
    });
    w.town.households[h].members.push(p);
    let person = &w.town.people[p];
    w.master.residents.push(mamori_model::master::Resident { uid: uid.clone(), name: person.name.clone(), kana: person.kana.clone(), birth_date: born, died: None });
    let mut row = w.master.households[w.household_row[head]].clone();
    row.resident_uid = uid.clone();
    row.relation = "子".into();
    row.period = mamori_model::master::Period { from: born, to: None };
    w.household_row.push(w.master.households.len());
    w.master.households.push(row);
    w.master.family_links.push(mamori_model::master::FamilyLink { resident_a: uid, resident_b: w.town.people[head].uid.clone(), relation: "parent".into() });
    p
}

#[allow(clippy::too_many_arguments)]
fn push(w: &mut World, t: NaiveDateTime, system: System, op: &'static str, si: usize, host: &str, r: usize, record: &'static str, case: Option<&str>) {
    w.accesses.push(Access {
        at: t,
        system,
        op,
        operator: account(&w.town.staff[si], system),
        host: host.to_owned(),
        resident: r,
        record,
        case_no: case.map(str::to_owned),
        why: Why::Case(case.unwrap_or_default().to_owned()),
    });
}

fn new_case(w: &mut World, seq: u32, kind: &str, day: NaiveDate, dept: &str, si: usize, residents: &[usize]) -> String {
    let no = format!("R{}-{seq:06}", day.year() - 2018);
    w.master.cases.push(mamori_model::master::BusinessCase {
        case_no: no.clone(),
        kind: kind.into(),
        received: day,
        closed: Some(day),
        department: dept.into(),
        handler: Some(w.town.staff[si].id.clone()),
        residents: residents.iter().map(|&r| w.town.people[r].uid.clone()).collect(),
    });
    no
}

/// The registry login of a counter PC under the shared-counter practice (`MADO-01` →
/// `MADO01`).
fn counter_login(host: &str) -> String {
    host.replace('-', "")
}

#[allow(clippy::too_many_arguments)]
fn counter_visit(w: &mut World, rng: &mut ChaCha8Rng, prng: &mut ChaCha8Rng, day: NaiveDate, m: u32, r: usize, visit: &str, si: usize, host: &str) {
    w.master.counter_visits.push(mamori_model::master::CounterVisit {
        visit_no: visit.to_owned(),
        at: at(day, m),
        department: "D100".into(),
        resident_uid: w.town.people[r].uid.clone(),
        purpose: "住民票の写し".into(),
        handler: Some(w.town.staff[si].id.clone()),
    });
    let operator = if w.practices.shared_counter_account { counter_login(host) } else { account(&w.town.staff[si], System::Juki) };
    let access = |t: u32, op: &'static str, resident: usize, why: Why| Access {
        at: at(day, t),
        system: System::Juki,
        op,
        operator: operator.clone(),
        host: host.to_owned(),
        resident,
        record: "J1",
        case_no: None,
        why,
    };
    // A search by name offers namesakes; the clerk opens one or two before the right one.
    if w.practices.name_search && prng.gen_bool(0.3) {
        let key = w.town.people[r].kana.clone();
        let namesakes: Vec<usize> = w.kana_index.get(&key).into_iter().flatten().copied().filter(|&p| p != r).take(2).collect();
        for p in namesakes {
            w.accesses.push(access(m, "01", p, Why::Unrecorded("氏名検索の候補")));
            w.negative("name-search", "窓口の氏名検索で同姓同名の候補を開いた", si, w.last_access());
        }
    }
    w.accesses.push(access(m + 1, "01", r, Why::Visit(visit.to_owned())));
    if rng.gen_bool(0.7) {
        w.accesses.push(access(m + 4, "02", r, Why::Visit(visit.to_owned())));
    }
    if w.practices.shared_counter_account {
        w.negative("shared-counter-account", "窓口の共用ログインでの照会（端末のログオン者が担当）", si, w.last_access());
    }
}

/// An incident's record access, planned for a day: (incident, staff, host, system, op,
/// resident, minute, the account used when not the staff member's own).
type Planned = (usize, usize, String, System, &'static str, usize, u32, Option<String>);

struct Plan {
    accesses: Vec<(NaiveDate, Planned)>,
    /// (day, staff) who go out at lunch leaving their terminal unlocked.
    lunch_unlocked: Vec<(NaiveDate, usize)>,
    /// (day, staff) who stay in at lunch.
    lunch_in: Vec<(NaiveDate, usize)>,
    /// (day, resident, staff, case kind): legitimate business an incident relies on.
    cases: Vec<(NaiveDate, usize, usize, &'static str)>,
}

/// Moves `p` out of their household into one of their own at a new address, from `from`.
fn move_out(w: &mut World, rng: &mut ChaCha8Rng, p: usize, from: NaiveDate) {
    let old = w.town.people[p].household;
    w.town.households[old].members.retain(|&m| m != p);
    let h = w.town.households.len();
    let address = town::random_address(rng);
    w.town.households.push(town::Household { id: format!("H{:06}", h + 1), address: address.clone(), members: vec![p] });
    w.town.people[p].household = h;
    let row = w.household_row[p];
    let mut next = w.master.households[row].clone();
    w.master.households[row].period.to = from.pred_opt();
    next.household = format!("H{:06}", h + 1);
    next.relation = "世帯主".into();
    next.address = address;
    next.period = mamori_model::master::Period { from, to: None };
    w.household_row[p] = w.master.households.len();
    w.master.households.push(next);
}

/// Moves household `h` to the house next door to `address` (`…丁目Y番Z号` → `Z+1号`).
fn move_next_door(w: &mut World, h: usize, address: &str) -> bool {
    let Some((block, house)) = address.strip_suffix('号').and_then(|a| a.rsplit_once('番')) else { return false };
    let Ok(n) = house.parse::<u32>() else { return false };
    let next = format!("{block}番{}号", n + 1);
    w.town.households[h].address = next.clone();
    for &m in &w.town.households[h].members.clone() {
        let row = w.household_row[m];
        w.master.households[row].address = next.clone();
    }
    true
}

fn plan_incidents(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate]) -> Plan {
    let mut plan = Plan { accesses: Vec::new(), lunch_unlocked: Vec::new(), lunch_in: Vec::new(), cases: Vec::new() };
    let staff_in = |w: &World, code: &str| -> Vec<usize> {
        (0..w.town.staff.len())
            .filter(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == code && w.town.staff[i].transfer.is_none() && !w.town.staff[i].retires)
            .collect()
    };
    let protected: Vec<usize> = w.town.staff.iter().filter_map(|s| s.resident).chain([w.town.mayor]).chain(w.town.council.iter().copied()).collect();
    // S1 (Osaka, Ikuno ward): a welfare employee living in town looks up two relatives'
    // tax and resident records 7 times, 3 of them on colleagues' terminals while they are
    // away at lunch. Who the relatives are depends on the town: a household member, a
    // former spouse who moved out, a parent in the family register only, the neighbours,
    // a colleague.
    let welfare = staff_in(w, "D300");
    let shape = w.practices.s1_relation;
    let with_family = |w: &World, i: usize| w.town.staff[i].resident.is_some_and(|p| w.town.households[w.town.people[p].household].members.len() >= 2);
    let insider = welfare.iter().copied().find(|&i| with_family(w, i));
    if let Some(e) = insider {
        let me = w.town.staff[e].resident.expect("checked");
        let household: Vec<usize> = w.town.households[w.town.people[me].household].members.iter().copied().filter(|&p| p != me).collect();
        let before = w.params.start - chrono::Days::new(120);
        let relatives: Vec<usize> = match shape {
            RelationPath::Household => household.into_iter().take(2).collect(),
            RelationPath::FormerHousehold => {
                let spouse = household[0];
                move_out(w, rng, spouse, before);
                vec![spouse]
            }
            RelationPath::FamilyRegister => {
                let mut parents = Vec::new();
                while parents.len() < 2 {
                    let p = rng.gen_range(0..w.town.people.len());
                    if w.town.people[p].household != w.town.people[me].household && !protected.contains(&p) && w.town.people[p].birth.year() < 1960 && !parents.contains(&p) {
                        parents.push(p);
                    }
                }
                for &p in &parents {
                    w.master.family_links.push(mamori_model::master::FamilyLink { resident_a: w.town.people[me].uid.clone(), resident_b: w.town.people[p].uid.clone(), relation: "parent".into() });
                }
                parents
            }
            RelationPath::Neighbour => {
                let my_address = w.town.households[w.town.people[me].household].address.clone();
                let my_surname = w.town.people[me].surname.clone();
                let h = (0..w.town.households.len())
                    .find(|&h| {
                        let head = w.town.households[h].members.first().copied();
                        head.is_some_and(|p| w.town.people[p].surname != my_surname && !protected.contains(&p)) && h != w.town.people[me].household
                    })
                    .expect("a household of another surname");
                move_next_door(w, h, &my_address);
                w.town.households[h].members.iter().copied().take(2).collect()
            }
            RelationPath::Colleague => {
                w.town.staff.iter().enumerate().filter(|(i, s)| *i != e && s.resident.is_some()).filter_map(|(_, s)| s.resident).take(2).collect()
            }
        };
        let colleagues: Vec<usize> = welfare.iter().copied().filter(|&c| c != e).collect();
        let id = w.incidents.len();
        // After some weeks of ordinary work (a third of a short run), so that habits exist.
        let settle = 25.min(days.len() / 3);
        let mut chosen: Vec<NaiveDate> = days.iter().copied().skip(settle).collect::<Vec<_>>().choose_multiple(rng, 7).copied().collect();
        chosen.sort();
        // A case the insider once handled for a relative, never closed: it must not explain
        // the look-ups weeks later.
        if w.practices.unclosed_cases && let Some(&first) = chosen.first() {
            let day = *days.iter().rev().find(|d| **d + chrono::Days::new(20) <= first).unwrap_or(&days[0]);
            plan.cases.push((day, relatives[0], e, "相談受付"));
        }
        let owners_account = w.practices.s2_shape == BorrowShape::OwnersAccount;
        for (k, day) in chosen.into_iter().enumerate() {
            let r = relatives[k % relatives.len()];
            // Look-ups 2, 4 and 6 of 7: three on colleagues' terminals, as in the seed.
            let borrowed = k % 2 == 1 && !colleagues.is_empty();
            let (host, minute, owner) = if borrowed {
                let c = *colleagues.choose(rng).expect("not empty");
                plan.lunch_unlocked.push((day, c));
                plan.lunch_in.push((day, e));
                (w.town.staff[c].pc.clone(), 12 * 60 + 10 + rng.gen_range(0..25), owners_account.then_some(c))
            } else {
                (w.town.staff[e].pc.clone(), rng.gen_range(9 * 60..16 * 60), None)
            };
            // The look-ups on borrowed terminals are S2's evidence; the rest S1's.
            let incident = if borrowed { id + 1 } else { id };
            let login = |system| owner.map(|c| account(&w.town.staff[c], system));
            plan.accesses.push((day, (incident, e, host.clone(), System::Zeimu, "照会", r, minute, login(System::Zeimu))));
            plan.accesses.push((day, (incident, e, host, System::Juki, "01", r, minute + 1, login(System::Juki))));
        }
        let residents: Vec<String> = relatives.iter().map(|&r| w.town.people[r].uid.clone()).collect();
        w.incidents.push(Incident {
            scenario: "S1",
            summary: format!("福祉課職員が親族等{}名の税・住民情報を業務外に7回照会（うち3回は同僚の端末で: S2）", relatives.len()),
            employees: vec![w.town.staff[e].id.clone()],
            residents: residents.clone(),
            mails: Vec::new(),
            variant: shape.name().into(),
        });
        w.incidents.push(Incident {
            scenario: "S2",
            summary: if owners_account {
                "福祉課職員が昼休みに離席した同僚の施錠されていない端末で、同僚のログインのまま記録を3回照会".into()
            } else {
                "福祉課職員が昼休みに離席した同僚の施錠されていない端末で親族の記録を3回照会".into()
            },
            employees: vec![w.town.staff[e].id.clone()],
            residents,
            mails: Vec::new(),
            variant: if owners_account { "owners-account".into() } else { "own-account".into() },
        });
    }
    // S1 through a shared login: a counter clerk uses the counter's shared registry login,
    // in their own session on the counter PC, to look up their family.
    if w.practices.shared_counter_account {
        let counter_staff: Vec<usize> = (0..w.town.staff.len()).filter(|&i| w.town.staff[i].role == "counter").collect();
        let clerk = counter_staff.iter().position(|&i| with_family(w, i) && w.town.staff[i].transfer.is_none() && !w.town.staff[i].retires);
        if let Some(slot) = clerk {
            let c = counter_staff[slot];
            let me = w.town.staff[c].resident.expect("checked");
            let family: Vec<usize> = w.town.households[w.town.people[me].household].members.iter().copied().filter(|&p| p != me).take(2).collect();
            let host = w.town.counters[slot % w.town.counters.len()].clone();
            let id = w.incidents.len();
            let mut chosen: Vec<NaiveDate> = days.choose_multiple(rng, 4).copied().collect();
            chosen.sort();
            for (k, day) in chosen.into_iter().enumerate() {
                let r = family[k % family.len()];
                let m = 15 * 60 + 40 + rng.gen_range(0..20);
                plan.accesses.push((day, (id, c, host.clone(), System::Juki, "01", r, m, Some(counter_login(&host)))));
            }
            w.incidents.push(Incident {
                scenario: "S1",
                summary: "窓口職員が窓口の共用ログインで家族の住民記録を業務外に4回照会".into(),
                employees: vec![w.town.staff[c].id.clone()],
                residents: family.iter().map(|&r| w.town.people[r].uid.clone()).collect(),
                mails: Vec::new(),
                variant: "shared-account".into(),
            });
        }
    }
    // S3 (Osaka, Taisho and Yodogawa wards): family-register clerks view the mayor's koseki
    // 10 times with no application behind any view (two clerks in the seed; one in some towns).
    let want = w.practices.s3_clerks as usize;
    let clerks: Vec<usize> = staff_in(w, "D110").into_iter().take(want).collect();
    if clerks.len() == want {
        let id = w.incidents.len();
        let mut chosen: Vec<NaiveDate> = days.choose_multiple(rng, 10).copied().collect();
        chosen.sort();
        for (k, day) in chosen.into_iter().enumerate() {
            let c = clerks[k % clerks.len()];
            let pc = w.town.staff[c].pc.clone();
            plan.accesses.push((day, (id, c, pc, System::Koseki, "K01", w.town.mayor, rng.gen_range(9 * 60..17 * 60), None)));
        }
        w.incidents.push(Incident {
            scenario: "S3",
            summary: format!("戸籍係職員{}名が市長の戸籍を申請書なしに10回閲覧", clerks.len()),
            employees: clerks.iter().map(|&c| w.town.staff[c].id.clone()).collect(),
            residents: vec![w.town.people[w.town.mayor].uid.clone()],
            mails: Vec::new(),
            variant: if clerks.len() > 1 { "two-clerks".into() } else { "one-clerk".into() },
        });
    }
    plan
}
