//! Behaviour against one's own habit and one's peers', for every kind of event — and weak
//! signals that add up. Insiders in town halls (and in the CERT data set) do the same
//! things before they go: work at hours they never worked, log on to machines that are not
//! theirs, start using removable media or use it far more, print far more, look for other
//! jobs, upload to cloud storage or leak sites, fetch spyware, mail many recipients — and
//! leave. No one of these is misuse; several in a few weeks are worth a look.
//!
//! Each deviation is a *signal* of a kind with a weight (`weights`), judged against the
//! employee's own history (once `min_days` active days exist) and their peer group's (team,
//! else department and role). A signal within `departure_days` of the employee's leaving
//! date counts `departure_factor` times. The score is the breadth of what was seen: for each
//! kind, its strongest signal, halved every `half_life_days`; repetition of one kind does
//! not add up, different kinds do. At `medium` the signals become a finding
//! (`behaviour_risk`) listing each step; at `high` it is high.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, Timelike};
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "behaviour", build, rules: RULES };

const RULES: &[Rule] = &[Rule { id: "behaviour_risk", ja: "複数の行動の変化（退職・異動前の兆候を含む）", en: "Several changes in behaviour", incident: "B1, B2, B3, CERT", describe }];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} に、普段と異なる行動が重なって見られます（{}）。一つ一つは不正ではありませんが、持ち出しの前兆として確認が必要です。", r.employee, r.details()),
        format!("Employee {} shows several departures from their own and their peers' usual behaviour; none is misuse alone, together they are worth a look.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Active days of an employee's history before their habits are judged.
    min_days: usize,
    /// An hour is usual for someone active at it on at least this share of their active
    /// days, or for their peers on `peer_hour_share` of theirs.
    hour_share: f64,
    peer_hour_share: f64,
    /// Removable media, prints and mail recipients: a day above `factor` × one's usual
    /// (devices: the median day with a device; prints: the 95th-percentile day; recipients:
    /// the most one has mailed) and above the floor is a signal.
    factor: f64,
    device_min: u32,
    print_min_pages: u32,
    recipients_min: u32,
    /// A day's mail attachments above `factor` × one's usual (95th-percentile day) and
    /// above this many bytes.
    mail_min_bytes: u64,
    /// Bytes uploaded in a day to cloud storage, file sharing or webmail that is a signal.
    upload_min_bytes: u64,
    /// Distinct hosts in one's history above which a new host is ordinary (administrators).
    roaming_hosts: usize,
    /// Another's account logged on at a terminal within this many minutes of one's own
    /// logoff there, at an hour its owner never works: the account was likely used by the
    /// one who had just left (a supervisor's account opened by a subordinate).
    takeover_minutes: i64,
    /// Signals this many days before one's leaving date count `departure_factor` times.
    departure_days: i64,
    departure_factor: f64,
    half_life_days: f64,
    medium: f64,
    high: f64,
    /// Weight of each kind of signal.
    weights: BTreeMap<String, f64>,
}

/// The kinds of signal, their Japanese names and default weights.
const KINDS: [(&str, &str, f64); 16] = [
    ("odd_hours", "普段働かない時間帯の活動", 1.0),
    ("new_host", "他人の端末へのログオン", 1.5),
    ("device_first_use", "初めての外部媒体の使用", 2.0),
    ("device_volume", "外部媒体の使用が普段より大幅に多い", 2.0),
    ("program_to_device", "外部媒体への実行ファイルの書き込み", 2.0),
    ("print_volume", "印刷が普段より大幅に多い", 2.0),
    ("mass_mail", "多数の宛先へのメール", 2.0),
    ("free_mail", "初めての個人アドレス（フリーメール）宛てのメール", 1.5),
    ("mail_volume", "メールの添付が普段より大幅に多い", 2.0),
    ("job_search", "求人・転職サイトの閲覧", 1.0),
    ("cloud_upload", "クラウドストレージへのアップロード", 2.0),
    ("file_sharing", "ファイル転送サービスの利用", 2.0),
    ("webmail_upload", "フリーメールへのアップロード", 2.0),
    ("leak_site", "暴露・貼り付けサイトへのアクセス", 3.0),
    ("spyware", "スパイウェア・キーロガーのサイトへのアクセス", 3.0),
    ("takeover", "自分が離れた直後の端末で、他人のアカウントが普段ない時間に使用", 3.0),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_days: 5,
            hour_share: 0.05,
            peer_hour_share: 0.2,
            factor: 3.0,
            device_min: 3,
            print_min_pages: 50,
            recipients_min: 20,
            mail_min_bytes: 10_000_000,
            upload_min_bytes: 10_000_000,
            roaming_hosts: 5,
            takeover_minutes: 15,
            departure_days: 30,
            departure_factor: 2.0,
            half_life_days: 30.0,
            medium: 5.0,
            high: 8.0,
            weights: KINDS.iter().map(|(k, _, w)| ((*k).to_owned(), *w)).collect(),
        }
    }
}

/// One day's counts of an employee.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Day {
    #[serde(default)]
    date: Option<NaiveDate>,
    hours: u32,
    /// Removable devices connected, and whether any was used at all.
    devices: u32,
    #[serde(default)]
    used: bool,
    pages: u32,
    recipients: u32,
    upload: u64,
    /// Bytes attached to mail sent.
    #[serde(default)]
    mail_bytes: u64,
}

/// A signal kept for the score: (event id, time, day, kind, weight, what).
type Signal = (u64, i64, NaiveDate, String, f64, String);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Person {
    day: Option<NaiveDate>,
    today: Day,
    /// Finished active days, newest last (at most 120).
    past: Vec<Day>,
    /// Days seen active at each hour.
    hour_days: Vec<u32>,
    /// Host → active days there.
    hosts: BTreeMap<String, u32>,
    /// Days with any removable media.
    device_days: u32,
    /// Kinds signalled today (once a day each).
    signalled: BTreeSet<String>,
    /// Days with activity at an hour one never keeps.
    #[serde(default)]
    odd_days: BTreeSet<NaiveDate>,
    /// Mails sent to personal (free-mail) addresses so far.
    #[serde(default)]
    free_mails: u32,
    signals: Vec<Signal>,
    /// The severity already raised.
    raised: Option<Severity>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Group {
    person_days: u32,
    hour_days: Vec<u32>,
    device_days: u32,
    /// The last week's days: (day, person-days, person-days active at each hour) — the
    /// section's season, as it lives it.
    #[serde(default)]
    recent: Vec<(NaiveDate, u32, Vec<u32>)>,
}

/// Others' person-days in the last week below which their hours say nothing of a season.
const MIN_RECENT_PEER_DAYS: u32 = 10;

impl Group {
    /// The share of person-days at `hour`, over all history and — leaving out `own` recent
    /// days of the one judged — over the last week (0 when too few others worked).
    fn hour_shares(&self, hour: usize, own: &[&Day]) -> (f64, f64) {
        let all = self.hour_days.get(hour).copied().unwrap_or(0) as f64 / self.person_days.max(1) as f64;
        let (days, at) = self.recent.iter().fold((0, 0), |(d, a), r| (d + r.1, a + r.2.get(hour).copied().unwrap_or(0)));
        let own_days = own.iter().filter(|d| d.date.is_some_and(|date| self.recent.iter().any(|r| r.0 == date))).collect::<Vec<_>>();
        let others = days.saturating_sub(own_days.len() as u32);
        let others_at = at.saturating_sub(own_days.iter().filter(|d| d.hours & (1 << hour) != 0).count() as u32);
        (all, if others >= MIN_RECENT_PEER_DAYS { others_at as f64 / others as f64 } else { 0.0 })
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    people: HashMap<String, Person>,
    groups: HashMap<String, Group>,
    /// Host → who last logged off there, and when.
    #[serde(default)]
    left: HashMap<String, (String, i64)>,
    /// Host → (the one suspected at it, the account's owner) for a session that looks taken
    /// over, until its logoff: the owner's signals there are the suspect's too.
    #[serde(default)]
    taken_over: HashMap<String, (String, String)>,
}

struct Behaviour {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let mut s: Settings = settings(v)?;
    let defaults = Settings::default();
    if let Some(k) = s.weights.keys().find(|k| !defaults.weights.contains_key(*k)) {
        return Err(format!("weights: unknown signal `{k}` (known: {})", KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")));
    }
    for (k, w) in defaults.weights {
        s.weights.entry(k).or_insert(w);
    }
    Ok(Box::new(Behaviour { settings: s, state: State::default() }))
}

fn p95(v: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = v.collect();
    v.sort_unstable();
    v.get(((v.len().saturating_sub(1)) as f64 * 0.95).round() as usize).copied().unwrap_or(0)
}

const DAY_MS: f64 = 86_400_000.0;

/// Active days kept out of a baseline: a change builds up over weeks, and a baseline that
/// takes in the change's own days grows with it.
const RECENT_DAYS: usize = 20;

/// Whether a file name is a program or script (by its extension).
fn is_program(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    ["exe", "dll", "scr", "com", "bat", "cmd", "ps1", "vbs", "js", "msi", "jar"].contains(&ext.as_str())
}

/// The days a habit is judged against: one's history but its last `RECENT_DAYS` active
/// days, when enough older history remains.
fn baseline(past: &[Day], min_days: usize) -> &[Day] {
    if past.len() >= RECENT_DAYS + min_days { &past[..past.len() - RECENT_DAYS] } else { past }
}

impl Analyzer for Behaviour {
    fn classes(&self) -> &'static [ClassUid] {
        &[
            ClassUid::Authentication,
            ClassUid::DatastoreActivity,
            ClassUid::FileSystemActivity,
            ClassUid::PeripheralActivity,
            ClassUid::EmailActivity,
            ClassUid::HttpActivity,
        ]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        // A badge passing is where one is, not what one does; a logoff or a lock is not work,
        // but who logged off where is kept to see a session taken over.
        if o.class() == ClassUid::Authentication && (o.extra("room").is_some() || o.operation() != "logon") {
            if o.extra("room").is_none() && o.operation() == "logoff" && !o.host.is_empty() {
                self.state.taken_over.remove(&o.host);
                if let Some(e) = o.actor.employee.as_deref() {
                    self.state.left.insert(o.host.clone(), (e.to_owned(), o.time));
                }
            }
            return;
        }
        if o.class() == ClassUid::EmailActivity && o.event.activity_id != 1 {
            return;
        }
        let Some(employee) = o.actor.employee.as_deref() else { return };
        if o.actor.batch_job() {
            return;
        }
        let group = cx.dir.peer_group(employee, o.day).unwrap_or_else(|| o.actor.department.clone());
        self.roll_day(employee, &group, o.day);
        let mut signals: Vec<(&'static str, String)> = Vec::new();
        let mut weight_scale: BTreeMap<&'static str, f64> = BTreeMap::new();
        let s = &self.settings;
        // Whether who last left this terminal works at it most days (theirs, or shared).
        let leaver_works_here = self.state.left.get(&o.host).and_then(|(b, _)| self.state.people.get(b)).is_some_and(|b| b.hosts.get(&o.host).copied().unwrap_or(0) as usize * 2 >= b.past.len().max(1));
        let person = self.state.people.get_mut(employee).expect("rolled");
        let history = person.past.len();
        // The hour.
        let hour = o.at.hour();
        if person.today.hours & (1 << hour) == 0 {
            person.today.hours |= 1 << hour;
            let own = person.hour_days.get(hour as usize).copied().unwrap_or(0) as f64 / history.max(1) as f64;
            // Odd for the peers too: over their history, and in the last week (a season).
            let own_recent: Vec<&Day> = person.past.iter().rev().take(7).collect();
            let (peers, peers_lately) = self.state.groups.get(&group).map_or((0.0, 0.0), |g| g.hour_shares(hour as usize, &own_recent));
            if history >= s.min_days && own < s.hour_share && peers < s.peer_hour_share && peers_lately < s.peer_hour_share {
                // One odd night is nothing; the same on several days within the half-life
                // is a change of habit: up to twice the weight from the third.
                person.odd_days.insert(o.day);
                let horizon = o.day - chrono::Days::new(s.half_life_days as u64);
                person.odd_days.retain(|d| *d >= horizon);
                let nights = person.odd_days.len();
                weight_scale.insert("odd_hours", (1.0 + 0.5 * (nights as f64 - 1.0)).min(2.0));
                signals.push(("odd_hours", format!("{} {:02}時台（{nights} 日目）", o.day, hour)));
            }
        }
        // A logon to one's own terminal (where one works most days) right after someone
        // who seldom works there left it, at an hour the account's owner does not keep. A
        // terminal many people take turns at is no one's own.
        let mut suspect = None;
        if o.class() == ClassUid::Authentication && !o.host.is_empty() {
            self.state.taken_over.remove(&o.host);
            let own = person.hour_days.get(hour as usize).copied().unwrap_or(0) as f64 / history.max(1) as f64;
            let owners_terminal = person.hosts.get(&o.host).is_some_and(|&days| days as usize * 2 >= history);
            if let Some((before, off)) = self.state.left.get(&o.host)
                && before != employee
                && o.time - off <= s.takeover_minutes * 60_000
                && history >= s.min_days
                && own < s.hour_share
                && owners_terminal
                && !leaver_works_here
            {
                self.state.taken_over.insert(o.host.clone(), (before.clone(), employee.to_owned()));
                suspect = Some((before.clone(), format!("{} {} の {} 分後に {} のアカウント", o.host, before, (o.time - off) / 60_000, employee)));
            }
        } else if let Some((before, owner)) = self.state.taken_over.get(&o.host)
            && owner == employee
        {
            suspect = Some((before.clone(), String::new()));
        }
        // The terminal: one of one's own, or someone else's (by the asset register or
        // by who usually logs on there), for a logon or any work done on it.
        let hands_on = matches!(o.class(), ClassUid::Authentication | ClassUid::PeripheralActivity | ClassUid::FileSystemActivity | ClassUid::DatastoreActivity);
        if hands_on && !o.host.is_empty() && o.actor.via == crate::observe::Via::Holder {
            let roaming = person.hosts.len() > s.roaming_hosts;
            let someone_elses = cx.dir.terminal_owner(&o.host).is_some_and(|owner| owner != employee) || cx.presence.last_user(&o.host).is_some_and(|u| u != employee);
            if history >= s.min_days && !person.hosts.contains_key(&o.host) && !roaming && someone_elses {
                signals.push(("new_host", format!("{}（本人の端末ではない）", o.host)));
            }
            if person.signalled.insert(format!("host:{}", o.host)) {
                *person.hosts.entry(o.host.clone()).or_default() += 1;
            }
        }
        match o.class() {
            // A device connected, or a file written to it; not its removal, not a device the
            // endpoint agent blocked.
            ClassUid::PeripheralActivity if matches!(o.event.activity_id, 1 | 3) && o.event.status_id != mamori_model::StatusId::Failure => {
                // Connections are counted (a copy is the volume analyzer's); either is a use.
                let connect = o.event.activity_id == 1;
                person.today.devices += u32::from(connect);
                let first_today = !person.signalled.contains("device:used");
                person.signalled.insert("device:used".into());
                person.today.used = true;
                let peer_share = self.state.groups.get(&group).map_or(0.0, |g| g.device_days as f64 / g.person_days.max(1) as f64);
                // A first device after weeks without: the more the peers use them, the less
                // it says.
                if first_today && history >= s.min_days && person.device_days == 0 {
                    signals.push(("device_first_use", format!("{}（これまで使用なし、同僚の使用日 {:.0}%）", o.host, peer_share * 100.0)));
                    weight_scale.insert("device_first_use", (1.0 - peer_share).clamp(0.0, 1.0));
                }
                // Far more than on one's usual day with a device (the median of those days).
                let mut used: Vec<u64> = baseline(&person.past, s.min_days).iter().filter(|d| d.devices > 0).map(|d| d.devices as u64).collect();
                used.sort_unstable();
                let usual = used.get(used.len() / 2).copied().unwrap_or(0);
                if connect && history >= s.min_days && usual > 0 && person.today.devices as f64 > (usual as f64 * s.factor).max(s.device_min as f64) {
                    signals.push(("device_volume", format!("{} 件（使用日の通常 {usual} 件）", person.today.devices)));
                }
                // A program written to removable media: how malware and tools travel.
                if let Some(file) = o.event.file.as_ref().filter(|_| o.event.activity_id == 3)
                    && is_program(&file.path)
                {
                    signals.push(("program_to_device", format!("{} @ {}", file.name.as_deref().unwrap_or(&file.path), o.host)));
                }
            }
            ClassUid::FileSystemActivity if o.operation() == "print" => {
                let pages = o.extra("pages").and_then(|p| p.as_str().and_then(|s| s.parse::<u32>().ok()).or_else(|| p.as_u64().map(|n| n as u32))).unwrap_or(1);
                person.today.pages = person.today.pages.saturating_add(pages);
                let usual = p95(baseline(&person.past, s.min_days).iter().map(|d| d.pages as u64));
                if history >= s.min_days && person.today.pages as f64 > (usual as f64 * s.factor).max(s.print_min_pages as f64) {
                    signals.push(("print_volume", format!("{} 枚（通常 {usual} 枚）", person.today.pages)));
                }
            }
            ClassUid::EmailActivity => {
                if let Some(m) = &o.event.email {
                    let n = (m.to.len() + m.cc.len() + m.bcc.len()) as u32;
                    person.today.recipients = person.today.recipients.max(n);
                    let usual = baseline(&person.past, s.min_days).iter().map(|d| d.recipients).max().unwrap_or(0);
                    if history >= s.min_days && n as f64 > (usual as f64 * s.factor).max(s.recipients_min as f64) {
                        signals.push(("mass_mail", format!("宛先 {n} 件（これまでの最多 {usual} 件）")));
                    }
                    // A first mail to a personal address (free mail), after weeks with none.
                    let personal: Vec<&str> = o.extra("personal_recipients").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
                    if let Some(first) = personal.first() {
                        if history >= s.min_days && person.free_mails == 0 {
                            signals.push(("free_mail", format!("→ {first}")));
                        }
                        person.free_mails += 1;
                    }
                    // Far more attached than on one's usual day.
                    let attached: u64 = o.extra("attachments").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|x| x.get("size").and_then(|v| v.as_u64())).sum()).or_else(|| o.extra("message_size").and_then(|v| v.as_u64())).unwrap_or(0);
                    person.today.mail_bytes = person.today.mail_bytes.saturating_add(attached);
                    let usual = p95(baseline(&person.past, s.min_days).iter().map(|d| d.mail_bytes));
                    if history >= s.min_days && attached > 0 && person.today.mail_bytes as f64 > (usual as f64 * s.factor).max(s.mail_min_bytes as f64) {
                        signals.push(("mail_volume", format!("{} MB（通常 {} MB）", person.today.mail_bytes / 1_000_000, usual / 1_000_000)));
                    }
                }
            }
            ClassUid::HttpActivity => {
                if let Some(r) = &o.event.http_request {
                    let host = r.url.hostname.clone().unwrap_or_else(|| mamori_enrich::host_of(&r.url.url_string));
                    let bytes_out = o.event.traffic.as_ref().and_then(|t| t.bytes_out).unwrap_or(0);
                    let upload = bytes_out > 0 || r.http_method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("POST") || m.eq_ignore_ascii_case("PUT"));
                    match cx.web.category(&host) {
                        Some("job_search") => signals.push(("job_search", host.clone())),
                        Some("leak_site") => signals.push(("leak_site", host.clone())),
                        Some("spyware") => signals.push(("spyware", host.clone())),
                        Some("file_sharing") => signals.push(("file_sharing", host.clone())),
                        Some(c @ ("cloud_storage" | "webmail")) if upload => {
                            person.today.upload += bytes_out;
                            if person.today.upload >= s.upload_min_bytes || bytes_out == 0 {
                                let kind = if c == "webmail" { "webmail_upload" } else { "cloud_upload" };
                                signals.push((kind, format!("{host} {} MB", person.today.upload / 1_000_000)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        // What a taken-over session does is the suspect's as much as the owner's.
        if let Some((before, takeover)) = suspect {
            let group = cx.dir.peer_group(&before, o.day).unwrap_or_else(|| o.actor.department.clone());
            self.roll_day(&before, &group, o.day);
            if !takeover.is_empty() {
                self.signal(o, cx, &before, "takeover", 1.0, takeover, out);
            }
            for (kind, detail) in signals.iter().filter(|(k, _)| *k != "odd_hours") {
                let scale = weight_scale.get(kind).copied().unwrap_or(1.0);
                self.signal(o, cx, &before, kind, scale, format!("{detail}（{employee} のアカウントで）"), out);
            }
        }
        for (kind, detail) in signals {
            let scale = weight_scale.get(kind).copied().unwrap_or(1.0);
            self.signal(o, cx, employee, kind, scale, detail, out);
        }
    }

    state_field!();
}

impl Behaviour {
    /// Closes the employee's previous day (history, hours, peers) when a new one begins.
    fn roll_day(&mut self, employee: &str, group: &str, day: NaiveDate) {
        let person = self.state.people.entry(employee.to_owned()).or_default();
        if person.day == Some(day) {
            return;
        }
        if person.day.is_some() {
            let mut done = std::mem::take(&mut person.today);
            done.date = person.day;
            if person.hour_days.len() < 24 {
                person.hour_days.resize(24, 0);
            }
            let g = self.state.groups.entry(group.to_owned()).or_default();
            if g.hour_days.len() < 24 {
                g.hour_days.resize(24, 0);
            }
            g.person_days += 1;
            let finished = person.day.expect("a day in progress");
            g.recent.retain(|r| (finished - r.0).num_days() < 7);
            let slot = match g.recent.iter().position(|r| r.0 == finished) {
                Some(i) => i,
                None => {
                    g.recent.push((finished, 0, vec![0; 24]));
                    g.recent.len() - 1
                }
            };
            g.recent[slot].1 += 1;
            for h in 0..24 {
                if done.hours & (1 << h) != 0 {
                    person.hour_days[h] += 1;
                    g.hour_days[h] += 1;
                    g.recent[slot].2[h] += 1;
                }
            }
            if done.used || done.devices > 0 {
                person.device_days += 1;
                g.device_days += 1;
            }
            person.past.push(done);
            if person.past.len() > 120 {
                person.past.remove(0);
            }
        }
        person.day = Some(day);
        person.signalled.clear();
    }

    #[allow(clippy::too_many_arguments)]
    fn signal(&mut self, o: &Observation, cx: &Context, employee: &str, kind: &'static str, scale: f64, detail: String, out: &mut Findings) {
        let s = &self.settings;
        let person = self.state.people.get_mut(employee).expect("rolled");
        if !person.signalled.insert(kind.to_owned()) {
            return;
        }
        let mut weight = s.weights.get(kind).copied().unwrap_or(1.0) * scale;
        let name = KINDS.iter().find(|k| k.0 == kind).map_or(kind, |k| k.1);
        let mut what = format!("{name}: {detail}");
        // Within `departure_days` before the leaving date, or in the month after it (a
        // leaving date known only to the month — the CERT data set's — falls early).
        if let Some(leaving) = cx.dir.leaving(employee)
            && (-31..=s.departure_days).contains(&(leaving - o.day).num_days())
        {
            weight *= s.departure_factor;
            what.push_str(&format!("（{leaving} 退職・異動予定）"));
        }
        person.signals.push((o.seq, o.time, o.day, kind.to_owned(), weight, what));
        // Forget what has faded past counting.
        let horizon = o.time - (s.half_life_days * 5.0 * DAY_MS) as i64;
        person.signals.retain(|sig| sig.1 >= horizon);
        let decayed = |sig: &Signal| sig.4 * 0.5f64.powf((o.time - sig.1) as f64 / DAY_MS / s.half_life_days.max(f64::MIN_POSITIVE));
        let mut strongest: BTreeMap<&str, f64> = BTreeMap::new();
        for sig in &person.signals {
            let v = decayed(sig);
            let e = strongest.entry(sig.3.as_str()).or_default();
            *e = e.max(v);
        }
        let score: f64 = strongest.values().sum();
        let severity = if score >= s.high {
            Severity::High
        } else if score >= s.medium {
            Severity::Medium
        } else {
            return;
        };
        // The steps behind the finding: every signal still counting, once.
        let first = person.raised.is_none();
        person.raised = Some(person.raised.map_or(severity, |r| r.max(severity)));
        let steps: Vec<Signal> = if first { person.signals.clone() } else { vec![person.signals.last().expect("pushed").clone()] };
        for (seq, time, day, _, _, what) in steps {
            out.note(Note { seq, time, day, detail: Some(what), ..Note::of(o, RULES[0].id, severity, employee) });
        }
    }
}

#[cfg(test)]
mod tests {
    use mamori_model::{Event, Severity};
    use serde_json::json;

    use crate::testing::*;

    fn web(user: &str, url: &str, when: &str) -> Event {
        let v = json!({"class_uid":4002,"activity_id":3,"time":ms(when),"actor":{"user":{"uid":user}},"device":{"hostname":"PC-E1"},
            "http_request":{"url":{"url_string":url},"http_method":"GET"},"metadata":{"product":"proxy"}});
        Event::from_json(v.to_string().as_bytes()).unwrap()
    }

    /// Six ordinary working days of E1: a logon at 8:30 and look-ups through the day.
    fn habit() -> Vec<Event> {
        let mut v = Vec::new();
        for d in [4, 5, 6, 7, 8, 11] {
            v.push(windows("e1", "logon", &format!("2024-03-{d:02}T08:30:00"), "PC-E1"));
            for h in 9..18 {
                v.push(access("juki", "J1", "R5", &format!("2024-03-{d:02}T{h:02}:10:00"), "PC-E1"));
            }
        }
        v
    }

    #[test]
    fn job_sites_then_a_first_device_then_night_work_add_up_where_none_would_alone() {
        let job = web("e1", "https://www.monster.com/jobs", "2024-03-12T12:10:00");
        let alone = [habit(), vec![job.clone()]].concat();
        assert!(run(&alone).iter().all(|f| f.rule != "behaviour_risk"), "job browsing alone is not a finding");
        let mut events = [habit(), vec![job]].concat();
        events.push(usb("X-1", "2024-03-13T17:00:00", "PC-E1"));
        events.push(windows("e1", "logon", "2024-03-14T23:30:00", "PC-E1"));
        events.push(web("e1", "https://wikileaks.org/submit", "2024-03-14T23:40:00"));
        let f = run(&events);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk").expect("several kinds of change add up");
        assert_eq!(risk.employees[0], "E1");
        for step in ["求人", "初めての外部媒体", "普段働かない時間帯", "暴露"] {
            assert!(risk.explanation_ja.contains(step), "{step} in {}", risk.explanation_ja);
        }
        // Job search (1, a little faded) + a first device (2) + a night (1) + a leak site (3):
        // past 5, not yet 8.
        assert_eq!(risk.severity, Severity::Medium, "{}", risk.explanation_ja);
        assert!(!risk.explanation_ja.contains("12時台"), "office hours are not odd: {}", risk.explanation_ja);
    }

    #[test]
    fn leaving_soon_doubles_each_step() {
        // E1 retires on 31 March: the same job search and first device, within 30 days of it.
        let leaving = office_with(|v| {
            v["assignments"][0]["to"] = json!("2024-03-31");
        });
        let events = [habit(), vec![web("e1", "https://www.monster.com/jobs", "2024-03-12T12:10:00"), usb("X-1", "2024-03-13T17:00:00", "PC-E1")]].concat();
        assert!(run(&events).iter().all(|f| f.rule != "behaviour_risk"), "1 + 2 is not enough");
        let f = run_in(&leaving, crate::Config::default(), &events);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk").expect("(1 + 2) × 2 before leaving");
        assert!(risk.explanation_ja.contains("2024-03-31 退職・異動予定"), "{}", risk.explanation_ja);
    }

    #[test]
    fn an_administrator_roaming_over_many_terminals_and_a_section_working_late_are_ordinary() {
        let mut events = Vec::new();
        // E2 logs on to a different terminal every day (an IT administrator's week).
        for (i, d) in [4, 5, 6, 7, 8, 11, 12, 13].into_iter().enumerate() {
            events.push(windows("e2", "logon", &format!("2024-03-{d:02}T08:30:00"), &format!("PC-{i}")));
        }
        assert!(run(&events).iter().all(|f| f.rule != "behaviour_risk"));
        // A late hour the peers keep is not odd.
        let mut late = Vec::new();
        for d in [4, 5, 6, 7, 8, 11] {
            late.push(windows("e2", "logon", &format!("2024-03-{d:02}T21:00:00"), "PC-E2"));
            late.push(windows("e1", "logon", &format!("2024-03-{d:02}T08:30:00"), "PC-E1"));
        }
        late.push(windows("e1", "logon", "2024-03-12T21:10:00", "PC-E1"));
        late.push(web("e1", "https://wikileaks.org/", "2024-03-12T21:15:00"));
        late.push(usb("X-1", "2024-03-12T21:20:00", "PC-E1"));
        let f = run(&late);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk");
        assert!(risk.is_none_or(|r| !r.explanation_ja.contains("普段働かない時間帯")), "{risk:?}");
    }

    /// Six ordinary days of E1 and E2, each at their own terminal from 8:30 to 18:00.
    fn two_desks() -> Vec<Event> {
        let mut v = Vec::new();
        for d in [4, 5, 6, 7, 8, 11] {
            for (user, host) in [("e1", "PC-E1"), ("e2", "PC-E2")] {
                v.push(windows(user, "logon", &format!("2024-03-{d:02}T08:30:00"), host));
                v.push(windows(user, "logoff", &format!("2024-03-{d:02}T18:00:00"), host));
            }
        }
        v
    }

    #[test]
    fn a_supervisors_account_opened_at_night_right_after_a_subordinate_left_the_terminal_is_charged_to_both() {
        let mut events = two_desks();
        events.push(windows("e1", "logon", "2024-03-12T21:00:00", "PC-E2"));
        events.push(windows("e1", "logoff", "2024-03-12T21:10:00", "PC-E2"));
        events.push(windows("e2", "logon", "2024-03-12T21:14:00", "PC-E2"));
        let mut leak = web("e2", "https://wikileaks.org/submit", "2024-03-12T21:20:00");
        leak.device.as_mut().unwrap().hostname = Some("PC-E2".into());
        events.push(leak);
        let f = run(&events);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk" && f.employees[0] == "E1").expect("the one who had just left");
        assert!(risk.explanation_ja.contains("他人のアカウント"), "{}", risk.explanation_ja);
        assert!(risk.explanation_ja.contains("E2 のアカウントで"), "{}", risk.explanation_ja);
    }

    #[test]
    fn a_colleague_logging_on_at_their_usual_hour_after_one_left_is_no_takeover() {
        let mut events = two_desks();
        events.push(windows("e1", "logon", "2024-03-12T08:00:00", "PC-E2"));
        events.push(windows("e1", "logoff", "2024-03-12T08:25:00", "PC-E2"));
        events.push(windows("e2", "logon", "2024-03-12T08:30:00", "PC-E2"));
        let f = run(&events);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk");
        assert!(risk.is_none_or(|r| !r.explanation_ja.contains("他人のアカウント")), "{risk:?}");
    }

    #[test]
    fn hours_the_section_has_kept_this_last_week_are_its_season_not_odd() {
        // 福祉課: E1, E2 and W1–W3 keep 9–17 for two weeks; then all but E1 stay until 20:00
        // four days running (the section's busy week); E1 at 20:00 after that is the season.
        let m = office_with(|v| {
            for w in 1..=3 {
                v["employees"].as_array_mut().unwrap().push(serde_json::json!({"id":format!("W{w}"),"name":format!("福祉 {w}"),"hired":"2010-04-01"}));
                v["assignments"].as_array_mut().unwrap().push(serde_json::json!({"employee_id":format!("W{w}"),"department":"D300","role":"staff","from":"2010-04-01"}));
                v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"windows","account":format!("w{w}"),"employee_id":format!("W{w}"),"kind":"personal","from":"2010-04-01"}));
            }
        });
        let staff = [("e1", "PC-E1"), ("e2", "PC-E2"), ("w1", "PC-W1"), ("w2", "PC-W2"), ("w3", "PC-W3")];
        let mut events = Vec::new();
        for d in [4, 5, 6, 7, 8, 11, 12, 13, 14, 15] {
            for (user, host) in staff {
                events.push(windows(user, "logon", &format!("2024-03-{d:02}T09:00:00"), host));
            }
        }
        for d in [18, 19, 21, 22] {
            for (user, host) in staff {
                events.push(windows(user, "logon", &format!("2024-03-{d:02}T09:00:00"), host));
                if user != "e1" {
                    events.push(web(user, "https://www.e-gov.go.jp/", &format!("2024-03-{d:02}T20:05:00")));
                }
            }
        }
        let mut late = events.clone();
        late.push(web("e1", "https://wikileaks.org/", "2024-03-25T20:20:00"));
        late.push(usb("X-1", "2024-03-25T20:25:00", "PC-E1"));
        let f = run_in(&m, crate::Config::default(), &late);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk" && f.employees[0] == "E1");
        assert!(risk.is_none_or(|r| !r.explanation_ja.contains("20時台")), "{risk:?}");
        // The same evening after an ordinary week is odd.
        let mut odd: Vec<Event> = events.iter().filter(|e| e.class_uid != mamori_model::ClassUid::HttpActivity).cloned().collect();
        odd.push(web("e1", "https://wikileaks.org/", "2024-03-25T20:20:00"));
        odd.push(usb("X-1", "2024-03-25T20:25:00", "PC-E1"));
        let f = run_in(&m, crate::Config::default(), &odd);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk" && f.employees[0] == "E1").expect("odd hours, a first device, a leak site");
        assert!(risk.explanation_ja.contains("20時台"), "{}", risk.explanation_ja);
    }

    #[test]
    fn a_first_mail_to_a_free_mail_address_and_a_day_of_large_attachments_are_steps() {
        let mut events = habit();
        for d in [4, 5, 6, 7, 8, 11] {
            let mut m = mail("e1@city.example.lg.jp", "e2@city.example.lg.jp", &[], &format!("2024-03-{d:02}T11:00:00"), false);
            m.unmapped.extra.insert("attachments".into(), serde_json::json!([{"name":"a.pdf","size":200_000}]));
            events.push(m);
        }
        let mut home = mail("e1@city.example.lg.jp", "kaori.55@gmail.com", &[], "2024-03-12T18:40:00", false);
        home.unmapped.extra.insert("attachments".into(), serde_json::json!([{"name":"list.zip","size":25_000_000}]));
        events.push(home);
        events.push(web("e1", "https://wikileaks.org/", "2024-03-12T18:50:00"));
        let f = run(&events);
        let risk = f.iter().find(|f| f.rule == "behaviour_risk").expect("free mail (1.5) + attachments (2) + a leak site (3)");
        assert!(risk.explanation_ja.contains("フリーメール") && risk.explanation_ja.contains("添付"), "{}", risk.explanation_ja);
    }

    #[test]
    fn an_unknown_signal_weight_is_refused() {
        assert!(crate::Config::from_toml("[behaviour]\nweights = { sneezing = 1.0 }\n").unwrap_err().contains("sneezing"));
    }
}
