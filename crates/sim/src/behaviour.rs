//! The web proxy and behaviour over weeks: the browsing of every working day, and the four
//! insider behaviours the behaviour issue names — a leaver who takes data before going
//! (B1), work at night (B2), uploads to a personal service (B3), a notice mailed with every
//! outside address visible (B4) — each in shapes chosen by the seed; with the legitimate
//! work that looks like them (the tax section's late season, the IT administrator's
//! installer stick at staff PCs, a section's notices to many outside addresses).
//!
//! It draws from its own generators, so the rest of the town is the same with or without it.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mail;
use crate::practice::{LeaverShape, NightShape};
use crate::town::DEPARTMENTS;
use crate::{Badge, Incident, Logon, Print, System, Usb, Why, World, at};

/// One request through the web proxy.
pub struct WebRequest {
    pub at: NaiveDateTime,
    pub staff: usize,
    /// The client terminal.
    pub host: String,
    /// `https://host/path` (a TLS-inspecting proxy logs it whole; one that does not sees
    /// only `CONNECT host:443`).
    pub url: String,
    /// `GET`, or `POST` for an upload.
    pub method: &'static str,
    pub status: u16,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub incident: Option<usize>,
}

/// Sites a town hall's staff use for work.
const WORK_SITES: [&str; 8] = [
    "https://www.e-gov.go.jp/law/",
    "https://www.soumu.go.jp/menu_seisaku/chihougyousei/",
    "https://www.j-lis.go.jp/spd/",
    "https://www.nta.go.jp/taxes/shiraberu/",
    "https://www.mhlw.go.jp/stf/seisakunitsuite/",
    "https://www.pref.example.lg.jp/soshiki/",
    "https://www.digital.go.jp/policies/",
    "https://www.city.example.lg.jp/kurashi/",
];
/// What they read at lunch.
const LUNCH_SITES: [&str; 5] = ["https://news.yahoo.co.jp/topics", "https://weather.yahoo.co.jp/weather/", "https://www3.nhk.or.jp/news/", "https://www.google.co.jp/search", "https://www.amazon.co.jp/gp/"];
const JOB_SITES: [&str; 5] = ["https://doda.jp/DodaFront/View/JobSearchList/", "https://www.bizreach.jp/job/", "https://tenshoku.mynavi.jp/list/", "https://next.rikunabi.com/lst/", "https://jp.indeed.com/jobs"];
/// Where files go, by category: (upload URL).
fn upload_url(service: &str) -> &'static str {
    match service {
        "cloud_storage" => "https://www.dropbox.com/upload",
        "webmail" => "https://mail.yahoo.co.jp/compose/attach",
        _ => "https://firestorage.jp/upload",
    }
}
/// Free-mail domains parents and citizens write from.
const FREE_MAIL: [&str; 6] = ["gmail.com", "yahoo.co.jp", "docomo.ne.jp", "ezweb.ne.jp", "icloud.com", "softbank.ne.jp"];

fn page(w: &mut World, t: NaiveDateTime, si: usize, url: &str, incident: Option<usize>, rng: &mut ChaCha8Rng) {
    let host = w.town.staff[si].pc.clone();
    w.web.push(WebRequest { at: t, staff: si, host, url: url.to_owned(), method: "GET", status: 200, bytes_out: rng.gen_range(400..1_500), bytes_in: rng.gen_range(8_000..400_000), incident });
}

fn upload(w: &mut World, t: NaiveDateTime, si: usize, service: &str, bytes: u64, incident: Option<usize>, rng: &mut ChaCha8Rng) {
    let host = w.town.staff[si].pc.clone();
    w.web.push(WebRequest { at: t, staff: si, host, url: upload_url(service).to_owned(), method: "POST", status: 200, bytes_out: bytes, bytes_in: rng.gen_range(1_000..6_000), incident });
}

/// The browsing of one working day: a few work sites each, news at lunch for some, and
/// now and then a job site (people look; it is no incident).
pub fn browse(rng: &mut ChaCha8Rng, w: &mut World, day: NaiveDate) {
    for si in 0..w.town.staff.len() {
        if w.town.dept_on(&w.town.staff[si], day).is_none() {
            continue;
        }
        for _ in 0..rng.gen_range(1..5) {
            let url = WORK_SITES.choose(rng).expect("sites");
            page(w, at(day, rng.gen_range(9 * 60 + 5..17 * 60)), si, url, None, rng);
        }
        if rng.gen_bool(0.3) {
            let url = LUNCH_SITES.choose(rng).expect("sites");
            page(w, at(day, rng.gen_range(12 * 60 + 5..12 * 60 + 50)), si, url, None, rng);
        }
        if rng.gen_bool(0.003) {
            let url = JOB_SITES.choose(rng).expect("sites");
            page(w, at(day, rng.gen_range(12 * 60 + 5..12 * 60 + 50)), si, url, None, rng);
        }
    }
}

/// Staff already in an incident (truth stays one incident per person) or cast in one.
fn taken(w: &World, also: &[usize]) -> Vec<usize> {
    (0..w.town.staff.len()).filter(|&i| also.contains(&i) || w.incidents.iter().any(|inc| inc.employees.contains(&w.town.staff[i].id))).collect()
}

fn incident(w: &mut World, scenario: &'static str, variant: &str, summary: String, si: usize) -> usize {
    w.incidents.push(Incident { scenario, summary, employees: vec![w.town.staff[si].id.clone()], residents: Vec::new(), mails: Vec::new(), variant: variant.into() });
    w.incidents.len() - 1
}

/// Days of `days` in `[from, to]`, `n` of them spread out (at random, in order).
fn some_days(rng: &mut ChaCha8Rng, days: &[NaiveDate], from: NaiveDate, to: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let pool: Vec<NaiveDate> = days.iter().copied().filter(|d| *d >= from && *d <= to).collect();
    let mut chosen: Vec<NaiveDate> = pool.choose_multiple(rng, n.min(pool.len())).copied().collect();
    chosen.sort();
    chosen
}

/// The four behaviour incidents and the practices that look like them. `cast` are staff
/// other incidents use; `admin` the IT administrator; `owners` hold approved sticks.
pub fn inject(w: &mut World, days: &[NaiveDate], cast: &[usize], admin: Option<usize>, owners: &[usize]) {
    let mut rng = ChaCha8Rng::seed_from_u64(w.params.seed ^ 0x6265_6861_7669_6f75);
    let (first, last) = (days[0], *days.last().expect("working days"));
    let busy = taken(w, cast);
    let free = |w: &World, i: usize, busy: &[usize]| !busy.contains(&i) && w.town.staff[i].role != "chief" && w.town.staff[i].transfer.is_none();
    let records = ["D100", "D200", "D300", "D310"];

    // B1: a leaver (retiring on 31 March) takes data in their last weeks, between looks at
    // job sites.
    let leavers: Vec<usize> = (0..w.town.staff.len()).filter(|&i| w.town.staff[i].retires && !busy.contains(&i) && records.contains(&DEPARTMENTS[w.town.staff[i].dept].0)).collect();
    let shape = w.practices.leaver;
    let leaver = match shape {
        LeaverShape::Device => leavers.iter().copied().find(|i| owners.contains(i)).or_else(|| leavers.first().copied()),
        _ => leavers.first().copied(),
    };
    if let Some(si) = leaver {
        let leaving = crate::town::date(first.year(), 3, 31);
        if first < leaving - chrono::Days::new(30) && last > leaving {
            let (variant, what) = match shape {
                LeaverShape::Device => ("device", "外部媒体へ複写"),
                LeaverShape::Print => ("print", "大量に印刷"),
                LeaverShape::Upload => ("upload", "ファイル転送サービスへ送信"),
            };
            let k = incident(w, "B1", variant, format!("3月末で退職する職員が、最後の数週間に転職サイトを閲覧しつつ業務データを{what}"), si);
            let window = some_days(&mut rng, days, leaving - chrono::Days::new(26), leaving - chrono::Days::new(2), 6);
            for d in window.iter().step_by(2) {
                let url = JOB_SITES.choose(&mut rng).expect("sites");
                page(w, at(*d, 12 * 60 + rng.gen_range(10..45)), si, url, Some(k), &mut rng);
            }
            let pc = w.town.staff[si].pc.clone();
            for d in window.iter().skip(1).step_by(2) {
                let t = 16 * 60 + rng.gen_range(0..40);
                match shape {
                    LeaverShape::Device => {
                        let serial = if owners.contains(&si) { format!("SUSB-{:04}", w.town.staff[si].number) } else { format!("USB-{:06}", rng.gen_range(0..1_000_000)) };
                        w.usb.push(Usb { at: at(*d, t), staff: si, host: pc.clone(), serial: serial.clone(), copy: None, incident: Some(k), blocked: false });
                        for n in 0..rng.gen_range(25..60u32) {
                            let path = format!("E:\\資料\\{}_{n:03}.xlsx", ["住民一覧", "課税台帳", "相談記録"][n as usize % 3]);
                            w.usb.push(Usb { at: at(*d, t + 1 + n / 20), staff: si, host: pc.clone(), serial: serial.clone(), copy: Some(path), incident: Some(k), blocked: false });
                        }
                    }
                    LeaverShape::Print => {
                        for (n, document) in ["住民一覧.xlsx", "滞納者一覧.pdf"].into_iter().enumerate() {
                            w.prints.push(Print { at: at(*d, t + n as u32 * 3), staff: si, host: pc.clone(), document: document.into(), pages: rng.gen_range(60..150), incident: Some(k) });
                        }
                    }
                    LeaverShape::Upload => {
                        for n in 0..rng.gen_range(3..6) {
                            upload(w, at(*d, t + n), si, "file_sharing", rng.gen_range(8_000_000..25_000_000), Some(k), &mut rng);
                        }
                    }
                }
            }
        }
    }

    // B2: work at night — back in the office after everyone left, four nights in three weeks.
    let busy = taken(w, cast);
    let night_shape = w.practices.night;
    let worker = (0..w.town.staff.len()).find(|&i| free(w, i, &busy) && !w.town.staff[i].retires && ["D100", "D300"].contains(&DEPARTMENTS[w.town.staff[i].dept].0) && !owners.contains(&i));
    if let Some(si) = worker {
        let (variant, what) = match night_shape {
            NightShape::Records => ("records", "業務記録のない住民記録を照会"),
            NightShape::Webmail => ("webmail", "業務ファイルをフリーメールへ送信し一覧を印刷"),
        };
        let k = incident(w, "B2", variant, format!("職員が夜間に4回登庁し、{what}"), si);
        let from = first + chrono::Days::new(28);
        let nights = some_days(&mut rng, days, from, from + chrono::Days::new(21), 4);
        let (user, pc) = (format!("e{:04}", w.town.staff[si].number), w.town.staff[si].pc.clone());
        let room = DEPARTMENTS[w.town.staff[si].dept].3;
        for d in nights {
            let arrive = 21 * 60 + rng.gen_range(20..50);
            w.badges.push(Badge { at: at(d, arrive), staff: si, room, entering: true });
            w.logons.push(Logon { at: at(d, arrive + 3), user: user.clone(), host: pc.clone(), event_id: 4624, incident: Some(k) });
            match night_shape {
                NightShape::Records => {
                    for n in 0..rng.gen_range(8..15) {
                        let r = rng.gen_range(0..w.town.people.len());
                        let operator = crate::account(&w.town.staff[si], System::Juki);
                        w.accesses.push(crate::Access { at: at(d, arrive + 6 + n * 3), system: System::Juki, op: "01", operator, host: pc.clone(), resident: r, record: "J1", case_no: None, why: Why::Incident(k) });
                        let uid = w.town.people[r].uid.clone();
                        if !w.incidents[k].residents.contains(&uid) {
                            w.incidents[k].residents.push(uid);
                        }
                    }
                }
                NightShape::Webmail => {
                    for n in 0..rng.gen_range(2..4) {
                        upload(w, at(d, arrive + 8 + n * 4), si, "webmail", rng.gen_range(3_000_000..9_000_000), Some(k), &mut rng);
                    }
                    w.prints.push(Print { at: at(d, arrive + 30), staff: si, host: pc.clone(), document: "ケース一覧.xlsx".into(), pages: rng.gen_range(40..90), incident: Some(k) });
                }
            }
            w.logons.push(Logon { at: at(d, arrive + 75), user: user.clone(), host: pc.clone(), event_id: 4634, incident: Some(k) });
            w.badges.push(Badge { at: at(d, arrive + 78), staff: si, room, entering: false });
        }
    }

    // B3: uploads to a personal service in office hours, on two days.
    let busy = taken(w, cast);
    let service = w.practices.upload_service;
    let uploader = (0..w.town.staff.len()).rev().find(|&i| free(w, i, &busy) && !w.town.staff[i].retires);
    if let Some(si) = uploader {
        let k = incident(w, "B3", service, format!("職員が業務ファイルを個人向けの外部サービス（{service}）へ送信"), si);
        let from = first + chrono::Days::new(35);
        for d in some_days(&mut rng, days, from, from + chrono::Days::new(14), 2) {
            let t = 14 * 60 + rng.gen_range(0..90);
            for n in 0..rng.gen_range(2..5) {
                upload(w, at(d, t + n * 2), si, service, rng.gen_range(10_000_000..40_000_000), Some(k), &mut rng);
            }
        }
    }

    // B4: a notice to parents or applicants with every outside address in To or Cc.
    let busy = taken(w, cast);
    let sender = (0..w.town.staff.len()).find(|&i| free(w, i, &busy) && DEPARTMENTS[w.town.staff[i].dept].0 == "D600");
    if let Some(si) = sender {
        let to_or_cc = if w.practices.visible_in_to { "to" } else { "cc" };
        let k = incident(w, "B4", to_or_cc, "職員が外部の多数の宛先を互いに見える形（To/Cc）で並べて案内メールを送信（メールアドレスの流出）".into(), si);
        let Some(&d) = some_days(&mut rng, days, first + chrono::Days::new(20), last, 1).first() else { return finish_practices(w, days, admin, sender, &mut rng) };
        let outside: Vec<String> = (0..rng.gen_range(15..40)).map(|n| format!("{}{}@{}", ["hogosha", "sanka", "k.tanaka", "m.suzuki"][n % 4], rng.gen_range(100..9999), FREE_MAIL[n % FREE_MAIL.len()])).collect();
        let from = mail::address(w.town.staff[si].number);
        let (to, cc) = if w.practices.visible_in_to { (outside, Vec::new()) } else { (vec![from.clone()], outside) };
        let id = mail::new_mail(w, at(d, 15 * 60 + 10), from, to, "説明会のご案内", "保護者の皆様へ。説明会のご案内をお送りします。", Vec::new(), Some(k));
        let m = w.mails.last_mut().expect("just sent");
        m.cc = cc;
        w.incidents[k].mails.push(id);
    }

    finish_practices(w, days, admin, sender, &mut rng);
}

/// The legitimate work that looks like the behaviour incidents: a section's notices to many
/// outside addresses, the IT administrator's work stick.
fn finish_practices(w: &mut World, days: &[NaiveDate], admin: Option<usize>, sender: Option<usize>, rng: &mut ChaCha8Rng) {
    let first = days[0];
    // The practices that look like them.
    if w.practices.mail_merge {
        // The board of education's monthly notice to its outside contacts: one mail each
        // (a mail merge) in one month, one mail in Bcc the next.
        let clerks: Vec<usize> = (0..w.town.staff.len()).filter(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == "D600" && Some(i) != sender).collect();
        let contacts: Vec<String> = (0..30).map(|n| format!("renraku{n:02}@{}", FREE_MAIL[n % FREE_MAIL.len()])).collect();
        let mut month = 0;
        for &d in days {
            if d.month() == month || clerks.is_empty() {
                continue;
            }
            month = d.month();
            let si = clerks[month as usize % clerks.len()];
            let from = mail::address(w.town.staff[si].number);
            if month % 2 == 0 {
                for (n, c) in contacts.iter().enumerate() {
                    mail::new_mail(w, at(d, 10 * 60 + n as u32 / 10), from.clone(), vec![c.clone()], "月例のお知らせ", "今月のお知らせです。", Vec::new(), None);
                    w.negative("mail-merge", "課の月例のお知らせを外部の多数の宛先へ個別送信・Bcc で送信", si, w.last_mail());
                }
            } else {
                mail::new_mail(w, at(d, 10 * 60), from.clone(), vec![from.clone()], "月例のお知らせ", "今月のお知らせです。", Vec::new(), None);
                w.mails.last_mut().expect("just sent").bcc = contacts.clone();
                w.negative("mail-merge", "課の月例のお知らせを外部の多数の宛先へ個別送信・Bcc で送信", si, w.last_mail());
            }
        }
    }
    if w.practices.it_admin_devices
        && let Some(it) = admin
    {
        // The administrator's registered work stick: on Mondays installers are put on it at
        // their own PC (programs written to removable media); twice a week it collects
        // diagnostics at a staff PC, under their own logon there.
        let serial = format!("KIT-{:04}", w.town.staff[it].number);
        w.master.devices.push(mamori_model::master::RemovableDevice {
            serial: serial.clone(),
            owner: Some(w.town.staff[it].id.clone()),
            kind: "it-kit".into(),
            period: mamori_model::master::Period { from: crate::town::date(first.year() - 1, 4, 1), to: None },
        });
        let user = format!("e{:04}", w.town.staff[it].number);
        let summary = "情報政策課の管理者が登録済みの作業用媒体でソフトの準備と職員端末のログ回収";
        for &d in days {
            if w.town.dept_on(&w.town.staff[it], d).is_none() {
                continue;
            }
            let t = 9 * 60 + 40 + rng.gen_range(0..90);
            let (pc, files): (String, Vec<String>) = match d.weekday() {
                chrono::Weekday::Mon => (w.town.staff[it].pc.clone(), vec!["E:\\install\\setup.msi".into(), "E:\\install\\patch.exe".into()]),
                chrono::Weekday::Tue | chrono::Weekday::Thu => {
                    let pc = w.town.staff[rng.gen_range(0..w.town.staff.len())].pc.clone();
                    w.logons.push(Logon { at: at(d, t), user: user.clone(), host: pc.clone(), event_id: 4624, incident: None });
                    w.logons.push(Logon { at: at(d, t + 12), user: user.clone(), host: pc.clone(), event_id: 4634, incident: None });
                    let file = format!("E:\\回収\\{pc}_eventlog.zip");
                    (pc, vec![file])
                }
                _ => continue,
            };
            w.usb.push(Usb { at: at(d, t + 1), staff: it, host: pc.clone(), serial: serial.clone(), copy: None, incident: None, blocked: false });
            w.negative("it-admin-device", summary, it, w.last_usb());
            for (n, file) in files.into_iter().enumerate() {
                w.usb.push(Usb { at: at(d, t + 2 + n as u32), staff: it, host: pc.clone(), serial: serial.clone(), copy: Some(file), incident: None, blocked: false });
                w.negative("it-admin-device", summary, it, w.last_usb());
            }
        }
    }
}
