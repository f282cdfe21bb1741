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

mod mail;
mod names;
mod town;
mod write;

use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use town::{DEPARTMENTS, Staff, Town};

/// The logs a simulated town writes under `logs/`: (source name in its `mamori.toml`,
/// file name).
pub const LOGS: [(&str, &str); 12] = [
    ("juki", "juki_access.csv"),
    ("zeimu", "zeimu_access.tsv"),
    ("koseki", "koseki_access.csv"),
    ("fukushi", "fukushi_access.csv"),
    ("saijo", "saijo_permits.csv"),
    ("win-security", "security.jsonl"),
    ("badge", "badge.csv"),
    ("endpoint", "endpoint_usb.csv"),
    ("endpoint-ops", "endpoint_pcops.csv"),
    ("endpoint-print", "endpoint_print.csv"),
    ("samba", "fileserver_audit.log"),
    ("mail", "mail_journal.mbox"),
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
    /// `Some(path)`: a file copy seen by the endpoint agent; `None`: Windows 6416.
    pub copy: Option<String>,
    pub incident: Option<usize>,
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
}

/// Everything a run produces before it is written.
pub struct World {
    pub params: Params,
    pub town: Town,
    pub master: mamori_model::master::MasterData,
    pub accesses: Vec<Access>,
    pub logons: Vec<Logon>,
    pub badges: Vec<Badge>,
    pub usb: Vec<Usb>,
    pub files: Vec<FileOpen>,
    pub mails: Vec<mail::Mail>,
    pub policy: Vec<PolicyChange>,
    pub agent_starts: Vec<AgentStart>,
    pub prints: Vec<Print>,
    /// Person → their current row in `master.households` (moves add rows).
    pub household_row: Vec<usize>,
    /// Files recovered after an incident (the contents of a seized USB stick): incident,
    /// file name, the residents whose rows it holds. Written under `evidence/S…/`.
    pub evidence: Vec<(usize, String, Vec<usize>)>,
    pub incidents: Vec<Incident>,
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
    let world = run(params);
    write::all(&world, out)
}

/// Runs the town in memory.
pub fn run(params: &Params) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let town = town::generate(&mut rng, params.residents, params.employees, params.start, params.days);
    let mut master = town.master(params.start);
    master.holidays = write::holidays();
    let days = business_days(params, &master);
    let mut w = World { params: params.clone(), town, master, accesses: Vec::new(), logons: Vec::new(), badges: Vec::new(), usb: Vec::new(), files: Vec::new(), mails: Vec::new(), policy: Vec::new(), agent_starts: Vec::new(), prints: Vec::new(), household_row: Vec::new(), evidence: Vec::new(), incidents: Vec::new() };
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
    for &day in &days {
        let tax_season = (day.month() == 2 && day.day() >= 16) || (day.month() == 3 && day.day() <= 15);
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
        let mut counter_index = 0;
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
            let lunch_out = forced || rng.gen_bool(0.7);
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
                    let host = w.town.counters[counter_index % w.town.counters.len()].clone();
                    counter_index += 1;
                    for m in work(&mut rng, 25..45) {
                        visit_seq += 1;
                        let visit = format!("V-{visit_seq:07}");
                        let r = rng.gen_range(0..w.town.people.len());
                        counter_visit(&mut w, &mut rng, day, m, r, &visit, si, &host);
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
                        if rng.gen_bool(0.6) {
                            push(&mut w, at(day, m + 4), System::Zeimu, "更新", si, &pc, r, "住民税", Some(&no));
                        }
                    }
                }
                ("D300", _) => {
                    for m in work(&mut rng, 4..10) {
                        let Some((r, no)) = caseload[si].choose(&mut rng).cloned() else { break };
                        let op = if rng.gen_bool(0.7) { "照会" } else { "更新" };
                        push(&mut w, at(day, m), System::Fukushi, op, si, &pc, r, "生活保護", Some(&no));
                        if rng.gen_bool(0.2) {
                            push(&mut w, at(day, m + 2), System::Zeimu, "照会", si, &pc, r, "住民税", Some(&no));
                        }
                    }
                }
                _ => {}
            }
        }
        // Approved sticks in legitimate use: plugged in on the owner's own PC, a few copies.
        for &i in &owners {
            if w.town.dept_on(&w.town.staff[i], day).is_none() || !rng.gen_bool(0.1) {
                continue;
            }
            let (serial, pc) = (format!("SUSB-{:04}", w.town.staff[i].number), w.town.staff[i].pc.clone());
            let m = rng.gen_range(9 * 60..16 * 60);
            w.usb.push(Usb { at: at(day, m), staff: i, host: pc.clone(), serial: serial.clone(), copy: None, incident: None });
            for k in 0..rng.gen_range(1..4) {
                let path = format!("E:\\業務\\会議資料_{}_{k}.pdf", day.format("%m%d"));
                w.usb.push(Usb { at: at(day, m + 1 + k), staff: i, host: pc.clone(), serial: serial.clone(), copy: Some(path), incident: None });
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
        crematorium(&mut rng, &mut w, day, &mut case_seq, &mut permits, s6.zip(cast.crematorium));
        // The welfare section's shared PC: someone prints the day's benefit reports under
        // the shared account after lunch.
        let m = rng.gen_range(14 * 60..14 * 60 + 30);
        for (t, id) in [(m, 4624), (m + 20, 4634)] {
            w.logons.push(Logon { at: at(day, t), user: "fukushi-kyoyo".into(), host: "KYOYO-D300-01".into(), event_id: id, incident: None });
        }
        mail::day(&mut rng, &mut w, day);
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
                counter_visit(&mut w, &mut rng, day, 10 * 60 + 5, mayor, &visit, clerk, &host);
            }
            if let Some(clerk) = w.town.staff.iter().position(|s| DEPARTMENTS[s.dept].0 == "D110" && w.town.dept_on(s, day).is_some()) {
                case_seq += 1;
                let no = new_case(&mut w, case_seq, "戸籍謄本請求", day, "D110", clerk, &[mayor]);
                let pc = w.town.staff[clerk].pc.clone();
                push(&mut w, at(day, 11 * 60), System::Koseki, "K01", clerk, &pc, mayor, "", Some(&no));
                push(&mut w, at(day, 11 * 60 + 4), System::Koseki, "K02", clerk, &pc, mayor, "", Some(&no));
            }
        }
        for (incident, who, host, system, op, r, m) in plan.accesses.iter().filter(|a| a.0 == day).map(|a| &a.1) {
            let record = if *system == System::Zeimu { "住民税" } else if *system == System::Juki { "J1" } else { "" };
            w.accesses.push(Access {
                at: at(day, *m),
                system: *system,
                op,
                operator: account(&w.town.staff[*who], *system),
                host: host.clone(),
                resident: *r,
                record,
                case_no: None,
                why: Why::Incident(*incident),
            });
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
    w.mails.sort_by_key(|m| m.at);
    w
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
fn crematorium(
    rng: &mut ChaCha8Rng,
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
        let pc = w.town.staff[*handler].pc.clone();
        push(w, at(day, 9 * 60 + 20 + (*r % 60) as u32), System::Saijo, "照会", *handler, &pc, *r, "火葬許可", Some(no));
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
        *case_seq += 1;
        let no = format!("火-R{}-{:05}", day.year() - 2018, *case_seq);
        w.master.cases.push(mamori_model::master::BusinessCase {
            case_no: no.clone(),
            kind: "火葬許可".into(),
            received: day,
            closed: Some(day + chrono::Days::new(2)),
            department: "D700".into(),
            handler: Some(w.town.staff[handler].id.clone()),
            residents: vec![w.town.people[r].uid.clone()],
        });
        let pc = w.town.staff[handler].pc.clone();
        push(w, at(day, rng.gen_range(9 * 60..16 * 60)), System::Saijo, "登録", handler, &pc, r, "火葬許可", Some(&no));
        permits.push((day, r, handler, no, false));
    }
    let Some((incident, clerk)) = s6 else { return };
    let twice_a_week = matches!(day.weekday(), chrono::Weekday::Tue | chrono::Weekday::Fri);
    if !twice_a_week || !clerks.contains(&clerk) || day < w.params.start + chrono::Days::new(10) {
        return;
    }
    let fresh: Vec<usize> = permits.iter().filter(|p| p.0 + chrono::Days::new(4) >= day && p.2 != clerk).map(|p| p.1).collect();
    let pc = w.town.staff[clerk].pc.clone();
    if !fresh.is_empty() {
        // The list goes out on paper.
        let document = format!("火葬許可一覧_{}.pdf", day.format("%m%d"));
        w.prints.push(Print { at: at(day, 17 * 60 + 50), staff: clerk, host: pc.clone(), document, pages: 1, incident: Some(incident) });
    }
    for (k, r) in fresh.into_iter().enumerate() {
        w.accesses.push(Access {
            at: at(day, 17 * 60 + 35 + k as u32 / 4),
            system: System::Saijo,
            op: "一覧出力",
            operator: account(&w.town.staff[clerk], System::Saijo),
            host: pc.clone(),
            resident: r,
            record: "火葬許可",
            case_no: None,
            why: Why::Incident(incident),
        });
        let uid = w.town.people[r].uid.clone();
        let inc = &mut w.incidents[incident];
        if !inc.residents.contains(&uid) {
            inc.residents.push(uid);
        }
        if inc.employees.is_empty() {
            inc.employees.push(w.town.staff[clerk].id.clone());
        }
    }
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
            w.usb.push(Usb { at: at(*day, m + f), staff: e, host: pc.clone(), serial: serial.clone(), copy: Some(path), incident: Some(id) });
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
    w.agent_starts.retain(|a| !(a.host == pc && silent.contains(&a.at.date())));
    for l in w.logons.iter_mut().filter(|l| l.host == pc && l.event_id == 4624 && silent.contains(&l.at.date())) {
        l.incident = Some(id);
    }
    let day = days.get(start + 6).copied().unwrap_or(days[days.len() - 1]);
    let m = 17 * 60 + 40;
    w.usb.push(Usb { at: at(day, m), staff: e, host: "UKETSUKE-01".into(), serial: serial.clone(), copy: None, incident: Some(id) });
    w.usb.push(Usb { at: at(day, m + 3), staff: e, host: "UKETSUKE-01".into(), serial: personal.clone(), copy: None, incident: Some(id) });
    w.incidents.push(Incident {
        scenario: "S7",
        summary: "職員が住民情報ファイルを承認済みUSBへ複写し、自席端末の管理ソフトを停止、管理ソフト未導入の受付端末で私物USBへ移した".into(),
        employees: vec![w.town.staff[e].id.clone()],
        residents: residents.iter().map(|&p| w.town.people[p].uid.clone()).collect(),
        mails: Vec::new(),
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

#[allow(clippy::too_many_arguments)]
fn counter_visit(w: &mut World, rng: &mut ChaCha8Rng, day: NaiveDate, m: u32, r: usize, visit: &str, si: usize, host: &str) {
    w.master.counter_visits.push(mamori_model::master::CounterVisit {
        visit_no: visit.to_owned(),
        at: at(day, m),
        department: "D100".into(),
        resident_uid: w.town.people[r].uid.clone(),
        purpose: "住民票の写し".into(),
        handler: Some(w.town.staff[si].id.clone()),
    });
    let operator = account(&w.town.staff[si], System::Juki);
    let access = |t: u32, op: &'static str| Access {
        at: at(day, t),
        system: System::Juki,
        op,
        operator: operator.clone(),
        host: host.to_owned(),
        resident: r,
        record: "J1",
        case_no: None,
        why: Why::Visit(visit.to_owned()),
    };
    w.accesses.push(access(m + 1, "01"));
    if rng.gen_bool(0.7) {
        w.accesses.push(access(m + 4, "02"));
    }
}

/// Incident accesses by day: (incident, staff, host, system, op, resident, minute).
type Planned = (usize, usize, String, System, &'static str, usize, u32);

struct Plan {
    accesses: Vec<(NaiveDate, Planned)>,
    /// (day, staff) who go out at lunch leaving their terminal unlocked.
    lunch_unlocked: Vec<(NaiveDate, usize)>,
}

fn plan_incidents(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate]) -> Plan {
    let mut plan = Plan { accesses: Vec::new(), lunch_unlocked: Vec::new() };
    let staff_in = |code: &str| -> Vec<usize> {
        (0..w.town.staff.len())
            .filter(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == code && w.town.staff[i].transfer.is_none() && !w.town.staff[i].retires)
            .collect()
    };
    // S1 (Osaka, Ikuno ward): a welfare employee living in town looks up two relatives'
    // tax and resident records 7 times, 3 of them on colleagues' terminals while they are
    // away at lunch.
    let welfare = staff_in("D300");
    let insider = welfare.iter().copied().find(|&i| {
        w.town.staff[i].resident.is_some_and(|p| w.town.households[w.town.people[p].household].members.len() >= 2)
    });
    if let Some(e) = insider {
        let me = w.town.staff[e].resident.expect("checked");
        let relatives: Vec<usize> = w.town.households[w.town.people[me].household].members.iter().copied().filter(|&p| p != me).take(2).collect();
        let colleagues: Vec<usize> = welfare.iter().copied().filter(|&c| c != e).collect();
        let id = w.incidents.len();
        let mut chosen: Vec<NaiveDate> = days.choose_multiple(rng, 7).copied().collect();
        chosen.sort();
        for (k, day) in chosen.into_iter().enumerate() {
            let r = relatives[k % relatives.len()];
            // Look-ups 2, 4 and 6 of 7: three on colleagues' terminals, as in the seed.
            let borrowed = k % 2 == 1 && !colleagues.is_empty();
            let (host, minute) = if borrowed {
                let c = *colleagues.choose(rng).expect("not empty");
                plan.lunch_unlocked.push((day, c));
                (w.town.staff[c].pc.clone(), 12 * 60 + 10 + rng.gen_range(0..25))
            } else {
                (w.town.staff[e].pc.clone(), rng.gen_range(9 * 60..16 * 60))
            };
            // The look-ups on borrowed terminals are S2's evidence; the rest S1's.
            let incident = if borrowed { id + 1 } else { id };
            plan.accesses.push((day, (incident, e, host.clone(), System::Zeimu, "照会", r, minute)));
            plan.accesses.push((day, (incident, e, host, System::Juki, "01", r, minute + 1)));
        }
        let residents: Vec<String> = relatives.iter().map(|&r| w.town.people[r].uid.clone()).collect();
        w.incidents.push(Incident {
            scenario: "S1",
            summary: "福祉課職員が親族2名の税・住民情報を業務外に7回照会（うち3回は同僚の端末で: S2）".into(),
            employees: vec![w.town.staff[e].id.clone()],
            residents: residents.clone(),
            mails: Vec::new(),
        });
        w.incidents.push(Incident {
            scenario: "S2",
            summary: "福祉課職員が昼休みに離席した同僚の施錠されていない端末で親族の記録を3回照会".into(),
            employees: vec![w.town.staff[e].id.clone()],
            residents,
            mails: Vec::new(),
        });
    }
    // S3 (Osaka, Taisho and Yodogawa wards): two family-register clerks view the mayor's
    // koseki 10 times with no application behind any view.
    let clerks: Vec<usize> = staff_in("D110").into_iter().take(2).collect();
    if clerks.len() == 2 {
        let id = w.incidents.len();
        let mut chosen: Vec<NaiveDate> = days.choose_multiple(rng, 10).copied().collect();
        chosen.sort();
        for (k, day) in chosen.into_iter().enumerate() {
            let c = clerks[k % 2];
            let pc = w.town.staff[c].pc.clone();
            plan.accesses.push((day, (id, c, pc, System::Koseki, "K01", w.town.mayor, rng.gen_range(9 * 60..17 * 60))));
        }
        w.incidents.push(Incident {
            scenario: "S3",
            summary: "戸籍係職員2名が市長の戸籍を申請書なしに10回閲覧".into(),
            employees: clerks.iter().map(|&c| w.town.staff[c].id.clone()).collect(),
            residents: vec![w.town.people[w.town.mayor].uid.clone()],
            mails: Vec::new(),
        });
    }
    plan
}
