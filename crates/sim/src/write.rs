//! Writing a run: the master-data files, each product's log in its own format, the
//! sources file that reads them, and the ground truth. Every file is written in a fixed
//! order so that a seed gives the same bytes; the logs, the mail journal, the labels and
//! the cases and counter visits are appended to a working day at a time (`Writer`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use mamori_model::master::{BusinessCase, CounterVisit, Holiday, MasterData, Period};

use crate::behaviour::WebRequest;
use crate::mail::Mail;
use crate::{Access, AgentStart, Badge, Events, FileOpen, Logon, PolicyChange, Print, Ref, Summary, System, Usb, Why, World, Written};

/// The Cabinet Office's 国民の祝日・休日 for 2023–2026 (syukujitsu.csv).
const HOLIDAYS: &str = "2023/1/1,元日\n2023/1/2,休日\n2023/1/9,成人の日\n2023/2/11,建国記念の日\n2023/2/23,天皇誕生日\n2023/3/21,春分の日\n2023/4/29,昭和の日\n2023/5/3,憲法記念日\n2023/5/4,みどりの日\n2023/5/5,こどもの日\n2023/7/17,海の日\n2023/8/11,山の日\n2023/9/18,敬老の日\n2023/9/23,秋分の日\n2023/10/9,スポーツの日\n2023/11/3,文化の日\n2023/11/23,勤労感謝の日\n2024/1/1,元日\n2024/1/8,成人の日\n2024/2/11,建国記念の日\n2024/2/12,休日\n2024/2/23,天皇誕生日\n2024/3/20,春分の日\n2024/4/29,昭和の日\n2024/5/3,憲法記念日\n2024/5/4,みどりの日\n2024/5/5,こどもの日\n2024/5/6,休日\n2024/7/15,海の日\n2024/8/11,山の日\n2024/8/12,休日\n2024/9/16,敬老の日\n2024/9/22,秋分の日\n2024/9/23,休日\n2024/10/14,スポーツの日\n2024/11/3,文化の日\n2024/11/4,休日\n2024/11/23,勤労感謝の日\n2025/1/1,元日\n2025/1/13,成人の日\n2025/2/11,建国記念の日\n2025/2/23,天皇誕生日\n2025/2/24,休日\n2025/3/20,春分の日\n2025/4/29,昭和の日\n2025/5/3,憲法記念日\n2025/5/4,みどりの日\n2025/5/5,こどもの日\n2025/5/6,休日\n2025/7/21,海の日\n2025/8/11,山の日\n2025/9/15,敬老の日\n2025/9/23,秋分の日\n2025/10/13,スポーツの日\n2025/11/3,文化の日\n2025/11/23,勤労感謝の日\n2025/11/24,休日\n2026/1/1,元日\n2026/1/12,成人の日\n2026/2/11,建国記念の日\n2026/2/23,天皇誕生日\n2026/3/20,春分の日\n2026/4/29,昭和の日\n2026/5/3,憲法記念日\n2026/5/4,みどりの日\n2026/5/5,こどもの日\n2026/5/6,休日\n2026/7/20,海の日\n2026/8/11,山の日\n2026/9/21,敬老の日\n2026/9/22,休日\n2026/9/23,秋分の日\n2026/10/12,スポーツの日\n2026/11/3,文化の日\n2026/11/23,勤労感謝の日\n";

pub fn holidays() -> Vec<Holiday> {
    HOLIDAYS
        .lines()
        .filter_map(|l| {
            let (d, name) = l.split_once(',')?;
            Some(Holiday { date: NaiveDate::parse_from_str(d, "%Y/%m/%d").ok()?, name: name.into() })
        })
        .collect()
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn row(cells: &[String]) -> String {
    cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",") + "\n"
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn period(p: &Period) -> [String; 2] {
    [p.from.to_string(), opt(&p.to)]
}

const CASES_HEADER: &str = "case_no,kind,received,closed,department,handler,residents\n";
const VISITS_HEADER: &str = "visit_no,at,department,resident_uid,purpose,handler\n";

fn case_row(c: &BusinessCase) -> String {
    row(&[c.case_no.clone(), c.kind.clone(), c.received.to_string(), opt(&c.closed), c.department.clone(), opt(&c.handler), c.residents.join(";")])
}

fn visit_row(v: &CounterVisit) -> String {
    row(&[v.visit_no.clone(), v.at.format("%Y-%m-%dT%H:%M:%S").to_string(), v.department.clone(), v.resident_uid.clone(), v.purpose.clone(), opt(&v.handler)])
}

/// The master-data files in their order, each with its text; `None` for the two the
/// working days add to (cases and counter visits), which are written as the days go.
fn master_files(m: &MasterData) -> Vec<(&'static str, Option<String>)> {
    let mut files = Vec::new();
    let mut t = String::from("code,name,parent\n");
    m.departments.iter().for_each(|d| t.push_str(&row(&[d.code.clone(), d.name.clone(), opt(&d.parent)])));
    files.push(("departments.csv", Some(t)));
    let mut t = String::from("id,name,kana,hired,retired,resident_uid\n");
    m.employees.iter().for_each(|e| t.push_str(&row(&[e.id.clone(), e.name.clone(), e.kana.clone(), e.hired.to_string(), opt(&e.retired), opt(&e.resident_uid)])));
    files.push(("employees.csv", Some(t)));
    let mut t = String::from("employee_id,department,role,from,to\n");
    m.assignments.iter().for_each(|a| {
        let [f, to] = period(&a.period);
        t.push_str(&row(&[a.employee_id.clone(), a.department.clone(), a.role.clone(), f, to]))
    });
    files.push(("assignments.csv", Some(t)));
    let mut t = String::from("system,account,employee_id,kind,from,to,department\n");
    m.accounts.iter().for_each(|a| {
        let [f, to] = period(&a.period);
        let kind = serde_json::to_value(a.kind).expect("a kind").as_str().expect("a string").to_owned();
        t.push_str(&row(&[a.system.clone(), a.account.clone(), opt(&a.employee_id), kind, f, to, opt(&a.department)]))
    });
    files.push(("accounts.csv", Some(t)));
    let mut t = String::from("uid,name,kana,birth_date,died\n");
    m.residents.iter().for_each(|r| t.push_str(&row(&[r.uid.clone(), r.name.clone(), r.kana.clone(), r.birth_date.to_string(), opt(&r.died)])));
    files.push(("residents.csv", Some(t)));
    let mut t = String::from("resident_uid,household,relation,address,from,to\n");
    m.households.iter().for_each(|h| {
        let [f, to] = period(&h.period);
        t.push_str(&row(&[h.resident_uid.clone(), h.household.clone(), h.relation.clone(), h.address.clone(), f, to]))
    });
    files.push(("households.csv", Some(t)));
    let mut t = String::from("resident_a,resident_b,relation\n");
    m.family_links.iter().for_each(|l| t.push_str(&row(&[l.resident_a.clone(), l.resident_b.clone(), l.relation.clone()])));
    files.push(("family_links.csv", Some(t)));
    files.push(("cases.csv", None));
    files.push(("counter_visits.csv", None));
    let mut t = String::from("host,location,kind,agent,department,assigned\n");
    m.terminals.iter().for_each(|x| {
        let kind = serde_json::to_value(x.kind).expect("a kind").as_str().expect("a string").to_owned();
        t.push_str(&row(&[x.host.clone(), x.location.clone(), kind, if x.agent { "yes" } else { "no" }.into(), opt(&x.department), opt(&x.assigned)]))
    });
    files.push(("terminals.csv", Some(t)));
    let mut t = String::from("share,path,owner_department,classification,granted,from,to\n");
    m.shares.iter().for_each(|s| {
        let [f, to] = period(&s.period);
        let class = serde_json::to_value(s.classification).expect("a class").as_str().expect("a string").to_owned();
        t.push_str(&row(&[s.share.clone(), s.path.clone(), s.owner_department.clone(), class, s.granted.join(";"), f, to]))
    });
    files.push(("shares.csv", Some(t)));
    let mut t = String::from("serial,owner,kind,from,to\n");
    m.devices.iter().for_each(|d| {
        let [f, to] = period(&d.period);
        t.push_str(&row(&[d.serial.clone(), opt(&d.owner), d.kind.clone(), f, to]))
    });
    files.push(("devices.csv", Some(t)));
    let mut t = String::from("resident_uid,reason,from,to\n");
    m.vip.iter().for_each(|v| {
        let [f, to] = period(&v.period);
        t.push_str(&row(&[v.resident_uid.clone(), v.reason.clone(), f, to]))
    });
    files.push(("vip.csv", Some(t)));
    if !m.open_days.is_empty() {
        let mut t = String::from("date,department,note\n");
        m.open_days.iter().for_each(|o| t.push_str(&row(&[o.date.to_string(), opt(&o.department), o.note.clone()])));
        files.push(("open_days.csv", Some(t)));
    }
    files
}

fn reiwa(d: NaiveDate) -> u32 {
    (d.year() - 2018) as u32
}

fn hms(t: NaiveDateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}


/// The sources file for the logs this simulator writes.
/// The sources file's opening, and the parts that do not vary by town.
const SOURCES_HEAD: &str = r#"# Sources of the simulated town (written by `mamori simulate`).

"#;

const SOURCES_ZEIMU: &str = r#"[sources.zeimu]
format = "tsv"
encoding = "utf-8"
class = "record"
[sources.zeimu.columns]
datetime = "日時"
actor = "職員番号"
host = "端末"
resident = "宛名番号"
record_type = "税目"
operation = "操作"
case_no = "受付番号"
[sources.zeimu.activity]
"照会" = 1
"更新" = 2

[sources.koseki]
format = "csv"
encoding = "auto"
class = "record"
header = false
[sources.koseki.columns]
date = 1
time = 2
actor = 3
host = 4
resident = 5
operation = 6
case_no = 7
[sources.koseki.codes.operation]
"K01" = "戸籍照会"
"K02" = "謄本発行"
[sources.koseki.activity]
"戸籍照会" = 1
"謄本発行" = 1

"#;

const SOURCES_REST: &str = r#"[sources.saijo]
format = "csv"
encoding = "shift_jis"
class = "record"
# A neighbouring town's death has no 宛名番号 here: its permit number keeps the record.
subject_kind = "permit"
[sources.saijo.columns]
date = "受付日"
time = "時刻"
actor = "職員コード"
host = "端末"
case_no = "許可番号"
resident = "死亡者宛名番号"
subject = "許可番号"
operation = "処理"
[sources.saijo.activity]
"登録" = 6
"照会" = 1
"一覧出力" = 1
"訂正" = 2

[sources.win-security]
format = "windows-json"

[sources.samba]
format = "samba-full-audit"
accounts = "windows"
prefix = "%u|%I|%m|%S"

[sources.endpoint]
format = "csv"
accounts = "windows"
encoding = "shift_jis"
class = "usb"
[sources.endpoint.columns]
datetime = "日時"
host = "コンピュータ名"
actor = "ログオンユーザー"
operation = "操作"
device_name = "デバイス名"
serial = "シリアル番号"
path = "ファイルパス"
status = "結果"
[sources.endpoint.codes.operation]
"ファイルコピー(PC→USB)" = "copy-to-device"
"デバイス接続" = "connect"
[sources.endpoint.activity]
"copy-to-device" = 3
"connect" = 1
[sources.endpoint.outcome]
"許可" = "success"
"遮断" = "failure"

[sources.endpoint-ops]
format = "csv"
accounts = "windows"
encoding = "shift_jis"
class = "logon"
[sources.endpoint-ops.columns]
datetime = "日時"
host = "コンピュータ名"
actor = "ログオンユーザー"
operation = "操作"
[sources.endpoint-ops.codes.operation]
"PC起動" = "agent-start"

[sources.endpoint-print]
format = "csv"
accounts = "windows"
encoding = "shift_jis"
class = "print"
[sources.endpoint-print.columns]
datetime = "日時"
host = "コンピュータ名"
actor = "ログオンユーザー"
device_name = "プリンタ名"
path = "ドキュメント名"
pages = "ページ数"

[sources.badge]
format = "csv"
encoding = "utf-8"
class = "badge"
[sources.badge.columns]
datetime = "通過日時"
actor = "カード番号"
employee = "職員番号"
room = "部屋"
direction = "入退"
[sources.badge.codes.direction]
"入" = "in"
"出" = "out"

[sources.mail]
format = "mbox"
internal_domains = ["city.example.lg.jp"]
"#;

/// The residents' registry's export, in the layout this town's system writes: (header,
/// the `[sources.juki]` mapping).
fn juki_layout(layout: u8) -> (&'static str, &'static str) {
    match layout {
        1 => (
            "処理日時,端末ID,利用者コード,対象者宛名番号,処理内容,受付番号,帳票\n",
            r#"[sources.juki]
format = "csv"
encoding = "shift_jis"
class = "record"
[sources.juki.columns]
datetime = "処理日時"
host = "端末ID"
actor = "利用者コード"
resident = "対象者宛名番号"
operation = "処理内容"
case_no = "受付番号"
record_type = "帳票"
[sources.juki.activity]
"照会" = 1
"証明発行" = 1
"異動" = 2

"#,
        ),
        2 => (
            "",
            r#"[sources.juki]
format = "csv"
encoding = "shift_jis"
class = "record"
header = false
[sources.juki.columns]
date = 1
time = 2
actor = 3
resident = 4
host = 5
operation = 6
case_no = 7
[sources.juki.codes.operation]
"A1" = "照会"
"A2" = "証明書発行"
"B1" = "異動入力"
[sources.juki.activity]
"照会" = 1
"証明書発行" = 1
"異動入力" = 2

"#,
        ),
        _ => ("処理日,処理時刻,操作者番号,端末名,宛名番号,業務コード,処理区分,受付番号\n", r#"[sources.juki]
format = "csv"
encoding = "shift_jis"
class = "record"
[sources.juki.columns]
date = "処理日"
time = "処理時刻"
actor = "操作者番号"
host = "端末名"
resident = "宛名番号"
record_type = "業務コード"
operation = "処理区分"
case_no = "受付番号"
[sources.juki.codes.operation]
"01" = "照会"
"02" = "証明書発行"
"03" = "異動入力"
[sources.juki.codes.record_type]
"J1" = "住民票"
[sources.juki.activity]
"照会" = 1
"証明書発行" = 1
"異動入力" = 2

"#),
    }
}

/// The welfare system's export, in this town's layout: (header, the mapping).
fn fukushi_layout(layout: u8) -> (&'static str, &'static str) {
    match layout {
        1 => (
            "記録日時,担当者,対象者,端末名,区分,ケースNo,業務種別\n",
            r#"[sources.fukushi]
format = "csv"
encoding = "utf-8"
class = "record"
[sources.fukushi.columns]
datetime = "記録日時"
actor = "担当者"
resident = "対象者"
host = "端末名"
operation = "区分"
case_no = "ケースNo"
record_type = "業務種別"
[sources.fukushi.codes.operation]
"R" = "照会"
"U" = "更新"
[sources.fukushi.activity]
"照会" = 1
"更新" = 2

"#,
        ),
        2 => (
            "処理年月日,処理時刻,職員コード,端末,宛名番号,業務,操作,ケース番号\n",
            r#"[sources.fukushi]
format = "csv"
encoding = "shift_jis"
class = "record"
[sources.fukushi.columns]
date = "処理年月日"
time = "処理時刻"
actor = "職員コード"
host = "端末"
resident = "宛名番号"
record_type = "業務"
operation = "操作"
case_no = "ケース番号"
[sources.fukushi.activity]
"照会" = 1
"更新" = 2

"#,
        ),
        3 => (
            "",
            r#"[sources.fukushi]
# The vendor's package writes JSON Lines: UNIX seconds, the subject in a nested object.
format = "json"
class = "record"
[sources.fukushi.columns]
datetime = "eventTime"
actor = "operator.staffCode"
host = "terminal.name"
resident = "subject.atenaNo"
record_type = "screen"
operation = "action"
case_no = "caseNo"
[sources.fukushi.activity]
"VIEW" = 1
"UPDATE" = 2

"#,
        ),
        _ => ("日付,時刻,職員番号,端末,宛名番号,業務,操作,ケース番号\n", r#"[sources.fukushi]
format = "csv"
encoding = "utf-8"
class = "record"
[sources.fukushi.columns]
date = "日付"
time = "時刻"
actor = "職員番号"
host = "端末"
resident = "宛名番号"
record_type = "業務"
operation = "操作"
case_no = "ケース番号"
[sources.fukushi.activity]
"照会" = 1
"更新" = 2

"#),
    }
}

/// The sources file for the logs this town writes.
fn sources(w: &World) -> String {
    let layout = w.practices.layout;
    let proxy = if w.practices.proxy_combined {
        "\n[sources.proxy]\n# The proxy inspects TLS and logs whole URLs, with the request size appended (%>st).\nformat = \"squid-combined\"\naccounts = \"windows\"\n"
    } else {
        "\n[sources.proxy]\n# squid's native log with the request size appended (%>st); HTTPS is seen as CONNECT host:443.\nformat = \"squid\"\naccounts = \"windows\"\n"
    };
    let toml = format!("{SOURCES_HEAD}{}{SOURCES_ZEIMU}{}{SOURCES_REST}{proxy}", juki_layout(layout).1, fukushi_layout(w.practices.welfare_layout()).1);
    with_paths(&toml)
}

/// Each source's section names the log it reads (`paths`, relative to the file), so that
/// the town's nightly job is `mamori import --config mamori.toml` with no file named, as
/// docs/adoption.md shows it.
fn with_paths(toml: &str) -> String {
    let mut out = String::with_capacity(toml.len() + 64 * crate::LOGS.len());
    for line in toml.lines() {
        out.push_str(line);
        out.push('\n');
        let source = line.strip_prefix("[sources.").and_then(|l| l.strip_suffix(']'));
        if let Some((_, file)) = source.and_then(|s| crate::LOGS.iter().find(|(name, _)| *name == s)) {
            out.push_str(&format!("paths = [\"logs/{file}\"]\n"));
        }
    }
    out
}

/// One proxy request as this town's squid writes it.
fn proxy_line(w: &World, r: &crate::behaviour::WebRequest) -> String {
    let user = format!("e{:04}", w.town.staff[r.staff].number);
    let ip = format!("10.1.{}.{}", r.staff / 250, r.staff % 250 + 1);
    let host = r.url.split_once("://").map_or(r.url.as_str(), |(_, rest)| rest).split('/').next().unwrap_or_default();
    if w.practices.proxy_combined {
        let t = r.at.format("%d/%b/%Y:%H:%M:%S +0900");
        format!("{ip} - {user} [{t}] \"{} {} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\" TCP_MISS:HIER_DIRECT {}\n", r.method, r.url, r.status, r.bytes_in, r.bytes_out)
    } else {
        let utc = (r.at - chrono::Duration::hours(9)).and_utc();
        let elapsed = 40 + r.bytes_out / 50_000 + r.bytes_in / 200_000;
        format!("{}.{:03} {elapsed:>6} {ip} TCP_TUNNEL/{} {} CONNECT {host}:443 {user} HIER_DIRECT/203.0.113.{} - {}\n", utc.timestamp(), utc.timestamp_subsec_millis(), r.status, r.bytes_in, host.len() % 250, r.bytes_out)
    }
}

const DETECT: &str = r#"# Detection settings of the simulated town (written by `mamori simulate`).
[shares]
# Information policy administers the terminals and the file server.
admin_departments = ["D800"]

[after_hours]
# The tax section works late in the filing season (確定申告期).
seasons = [{ department = "D200", from = "02-16", to = "03-15" }]

[mail]
# Other public bodies, and the contractor that prints the tax notices.
trusted_domains = ["lg.jp", "go.jp", "print-center.example.co.jp"]
min_personal_rows = 1

[new_records]
fresh_days = 7
min_days = 3
"#;

fn access_line(w: &World, a: &Access) -> String {
    let p = if a.resident == crate::NON_RESIDENT { String::new() } else { w.town.people[a.resident].uid.clone() };
    let case = a.case_no.clone().unwrap_or_default();
    let d = a.at.date();
    let host = if w.practices.lower_case_hosts { a.host.to_lowercase() } else { a.host.clone() };
    let layout = w.practices.layout;
    match a.system {
        System::Fukushi if w.practices.welfare_json => {
            let subject = if p.is_empty() { serde_json::Value::Null } else { serde_json::json!({ "atenaNo": p }) };
            let utc = (a.at - chrono::Duration::hours(9)).and_utc().timestamp();
            let line = serde_json::json!({
                "eventTime": utc,
                "operator": { "staffCode": a.operator },
                "terminal": { "name": host },
                "subject": subject,
                "screen": a.record,
                "action": if a.op == "更新" { "UPDATE" } else { "VIEW" },
                "caseNo": a.case_no,
            });
            line.to_string() + "\n"
        }
        System::Juki if layout == 1 => {
            let op = match a.op {
                "01" => "照会",
                "02" => "証明発行",
                _ => "異動",
            };
            row(&[a.at.format("%Y/%m/%d %H:%M:%S").to_string(), host, a.operator.clone(), p.clone(), op.into(), case, "住民票".into()])
        }
        System::Juki if layout == 2 => {
            let op = match a.op {
                "01" => "A1",
                "02" => "A2",
                _ => "B1",
            };
            row(&[format!("5{:02}{:02}{:02}", reiwa(d), d.month(), d.day()), a.at.format("%H%M%S").to_string(), a.operator.clone(), p.clone(), host, op.into(), case])
        }
        System::Juki => row(&[format!("令和{}年{}月{}日", reiwa(d), d.month(), d.day()), hms(a.at), a.operator.clone(), host, p.clone(), a.record.into(), a.op.into(), case]),
        System::Fukushi if layout == 1 => {
            let op = if a.op == "更新" { "U" } else { "R" };
            row(&[a.at.format("%Y-%m-%dT%H:%M:%S").to_string(), a.operator.clone(), p.clone(), host, op.into(), case, a.record.into()])
        }
        System::Fukushi if layout == 2 => row(&[format!("令和{}年{}月{}日", reiwa(d), d.month(), d.day()), hms(a.at), a.operator.clone(), host, p.clone(), a.record.into(), a.op.into(), case]),
        System::Zeimu => [format!("R{}.{}.{} {}", reiwa(d), d.month(), d.day(), hms(a.at)), a.operator.clone(), host, p.clone(), a.record.into(), a.op.into(), case].join("\t") + "\n",
        System::Koseki => row(&[format!("5{:02}{:02}{:02}", reiwa(d), d.month(), d.day()), a.at.format("%H%M%S").to_string(), a.operator.clone(), host.clone(), p.clone(), a.op.into(), case]),
        System::Fukushi => row(&[d.format("%Y/%m/%d").to_string(), hms(a.at), a.operator.clone(), host.clone(), p.clone(), a.record.into(), a.op.into(), case]),
        System::Saijo => row(&[format!("R{}.{}.{}", reiwa(d), d.month(), d.day()), hms(a.at), a.operator.clone(), host, case, p.clone(), a.op.into()]),
    }
}

/// One Security event as evtx_dump writes it: the `System` block every event has, and
/// the event's own `EventData`.
fn evtx(l: &crate::Logon, record: usize, data: serde_json::Value) -> String {
    let utc = l.at - chrono::Duration::hours(9);
    serde_json::json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": l.event_id,
            "TimeCreated": {"#attributes": {"SystemTime": format!("{}Z", utc.format("%Y-%m-%dT%H:%M:%S%.3f"))}},
            "EventRecordID": record,
            "Channel": "Security",
            "Computer": format!("{}.city.local", l.host),
        },
        "EventData": data,
    }})
    .to_string()
        + "\n"
}

fn windows_line(l: &crate::Logon, record: usize) -> String {
    evtx(l, record, serde_json::json!({"TargetUserName": l.user, "TargetDomainName": "CITY", "LogonType": 2}))
}

/// 4719: the audit policy of Object Access / File System changed on `l.host`.
fn windows_policy_line(l: &crate::Logon, reduced: bool, record: usize) -> String {
    let changes = if reduced { "%%8448, %%8450" } else { "%%8449" };
    evtx(
        l,
        record,
        serde_json::json!({
            "SubjectUserName": l.user, "SubjectDomainName": "CITY", "SubjectLogonId": "0x3e7",
            "CategoryId": "%%8274", "SubcategoryId": "%%12800",
            "SubcategoryGuid": "{0CCE921D-69AE-11D9-BED3-505054503030}", "AuditPolicyChanges": changes,
        }),
    )
}

fn windows_usb_line(l: &crate::Logon, serial: &str, record: usize) -> String {
    evtx(
        l,
        record,
        serde_json::json!({
            "SubjectUserName": l.user, "SubjectDomainName": "CITY",
            "DeviceId": format!("USBSTOR\\DISK&VEN_USB&PROD_FLASH_DISK&REV_1.00\\{serial}&0"),
            "DeviceDescription": "USB 大容量記憶装置", "ClassName": "DiskDrive",
        }),
    )
}

/// Indexes into `LOGS` of the logs that are not one business system's.
const WINDOWS: usize = 5;
const BADGE: usize = 6;
const ENDPOINT: usize = 7;
const AGENT: usize = 8;
const PRINT: usize = 9;
const SAMBA: usize = 10;
const MAIL: usize = 11;
const PROXY: usize = 12;

/// A line of a log: its time and text, the run's event it writes (the hard negatives name
/// events), the incident it belongs to if not an access, and an access's reason (its label).
struct Line {
    at: NaiveDateTime,
    text: String,
    event: Option<Ref>,
    incident: Option<usize>,
    why: Option<Why>,
}

/// One date's events, each with its place in its list over the whole run (what `Ref`s
/// and the Windows record numbers count): a working day's own, then those injected after
/// the working days, list by list, the order the whole period's lists had them in. Sorted
/// by time, stably, they are that date's lines as sorting the whole period gave them.
#[derive(Default)]
struct Batch {
    accesses: Vec<(usize, Access)>,
    logons: Vec<(usize, Logon)>,
    badges: Vec<Badge>,
    usb: Vec<(usize, Usb)>,
    files: Vec<(usize, FileOpen)>,
    mails: Vec<(usize, Mail)>,
    web: Vec<(usize, WebRequest)>,
    policy: Vec<(usize, PolicyChange)>,
    agent_starts: Vec<AgentStart>,
    prints: Vec<Print>,
}

fn numbered<T>(first: usize, list: Vec<T>) -> impl Iterator<Item = (usize, T)> {
    list.into_iter().enumerate().map(move |(i, x)| (first + i, x))
}

impl Batch {
    fn new(before: Written, e: Events) -> Batch {
        Batch {
            accesses: numbered(before.accesses, e.accesses).collect(),
            logons: numbered(before.logons, e.logons).collect(),
            badges: e.badges,
            usb: numbered(before.usb, e.usb).collect(),
            files: numbered(before.files, e.files).collect(),
            mails: numbered(before.mails, e.mails).collect(),
            web: numbered(before.web, e.web).collect(),
            policy: numbered(before.policy, e.policy).collect(),
            agent_starts: e.agent_starts,
            prints: e.prints,
        }
    }

    /// The events split by date.
    fn by_date(before: Written, e: Events) -> BTreeMap<NaiveDate, Batch> {
        let all = Batch::new(before, e);
        let mut out: BTreeMap<NaiveDate, Batch> = BTreeMap::new();
        all.accesses.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().accesses.push(x));
        all.logons.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().logons.push(x));
        all.badges.into_iter().for_each(|x| out.entry(x.at.date()).or_default().badges.push(x));
        all.usb.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().usb.push(x));
        all.files.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().files.push(x));
        all.mails.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().mails.push(x));
        all.web.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().web.push(x));
        all.policy.into_iter().for_each(|x| out.entry(x.1.at.date()).or_default().policy.push(x));
        all.agent_starts.into_iter().for_each(|x| out.entry(x.at.date()).or_default().agent_starts.push(x));
        all.prints.into_iter().for_each(|x| out.entry(x.at.date()).or_default().prints.push(x));
        out
    }

    fn append(&mut self, mut other: Batch) {
        self.accesses.append(&mut other.accesses);
        self.logons.append(&mut other.logons);
        self.badges.append(&mut other.badges);
        self.usb.append(&mut other.usb);
        self.files.append(&mut other.files);
        self.mails.append(&mut other.mails);
        self.web.append(&mut other.web);
        self.policy.append(&mut other.policy);
        self.agent_starts.append(&mut other.agent_starts);
        self.prints.append(&mut other.prints);
    }
}

/// A log file being appended to.
struct LogFile {
    source: &'static str,
    file: &'static str,
    out: BufWriter<File>,
    shift_jis: bool,
    /// Lines before the first event's (a header).
    offset: usize,
    /// Events written.
    events: usize,
}

impl LogFile {
    fn create(dir: &Path, source: &'static str, file: &'static str, practices: &crate::practice::Practices) -> std::io::Result<LogFile> {
        let layout = practices.layout;
        let some = |h: &'static str| Some(h).filter(|h| !h.is_empty());
        let (header, shift_jis, bom) = match source {
            "juki" => (some(juki_layout(layout).0), true, false),
            "zeimu" => (Some("日時\t職員番号\t端末\t宛名番号\t税目\t操作\t受付番号\n"), false, true),
            "fukushi" => (some(fukushi_layout(practices.welfare_layout()).0), practices.welfare_layout() == 2, false),
            "badge" => (Some("通過日時,カード番号,職員番号,部屋,入退\n"), false, false),
            "endpoint" => (Some("日時,コンピュータ名,ログオンユーザー,操作,デバイス名,シリアル番号,ファイルパス,結果\n"), true, false),
            "saijo" => (Some("受付日,時刻,職員コード,端末,許可番号,死亡者宛名番号,処理\n"), true, false),
            "endpoint-ops" => (Some("日時,コンピュータ名,ログオンユーザー,操作\n"), true, false),
            "endpoint-print" => (Some("日時,コンピュータ名,ログオンユーザー,プリンタ名,ドキュメント名,ページ数\n"), true, false),
            _ => (None, false, false),
        };
        let mut log = LogFile { source, file, out: BufWriter::new(File::create(dir.join(file))?), shift_jis, offset: usize::from(header.is_some()), events: 0 };
        let mut text = String::new();
        if bom {
            text.push('\u{FEFF}');
        }
        text.push_str(header.unwrap_or_default());
        log.append(text)?;
        Ok(log)
    }

    /// Appends lines in the log's encoding (and the residents' registry's CRLF).
    fn append(&mut self, text: String) -> std::io::Result<()> {
        let text = if self.source == "juki" { text.replace('\n', "\r\n") } else { text };
        if self.shift_jis { self.out.write_all(&encoding_rs::SHIFT_JIS.encode(&text).0) } else { self.out.write_all(text.as_bytes()) }
    }
}

/// A master-data file the working days add rows to.
struct Table {
    out: BufWriter<File>,
    rows: usize,
}

impl Table {
    fn create(path: &Path, header: &str) -> std::io::Result<Table> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(header.as_bytes())?;
        Ok(Table { out, rows: 0 })
    }

    fn append(&mut self, row: String) -> std::io::Result<()> {
        self.rows += 1;
        self.out.write_all(row.as_bytes())
    }
}

/// Writes a run day by day: `create` with the world the first run ended with, `day` at the
/// end of each working day of the second, `finish` after the last. Each log, the mail
/// journal, the labels and the two growing master files are appended to as the days go;
/// what is kept across days is what the answer key needs (where the incidents' events and
/// the hard negatives' went) and the events injected after the working days, by date.
pub(crate) struct Writer {
    out: PathBuf,
    /// The first run's world at the end of the period: the town as it ends (attachments
    /// and evidence show residents as they are then), incidents, hard negatives, evidence.
    end: World,
    /// The events the first run injected after the working days, by date: each is written
    /// with its date's working-day events (or on its own, on a day off).
    injected: BTreeMap<NaiveDate, Batch>,
    /// Cases and counter visits of the events injected after the working days: they follow
    /// the working days' in their files.
    injected_cases: Vec<BusinessCase>,
    injected_visits: Vec<CounterVisit>,
    /// The master files in order with their rows; `None` for `cases` and `visits`.
    master: Vec<(&'static str, Option<usize>)>,
    cases: Table,
    visits: Table,
    /// In `LOGS` order, the mail journal's included.
    logs: Vec<LogFile>,
    /// The mail journal's next line (a message is many lines).
    mbox_line: usize,
    /// The labels of each business system's accesses, a file each until `finish` puts them
    /// one after another into labels.csv.
    labels: Vec<(PathBuf, BufWriter<File>)>,
    /// Where each event a hard negative names was written: (log, line).
    located: HashMap<Ref, Option<(u8, u32)>>,
    /// Each incident's events as written: (log, line).
    incident_lines: BTreeMap<usize, Vec<(usize, usize)>>,
    /// Each incident's first and last event.
    span: BTreeMap<usize, (NaiveDateTime, NaiveDateTime)>,
}

/// The order the truth file names an incident's events in (and the summary the files): the
/// logs in `LOGS` order, then the mail journal.
fn truth_rank(log: usize) -> usize {
    if log == MAIL { usize::MAX } else { log }
}

fn place(log: usize, line: usize) -> serde_json::Value {
    let (source, file) = crate::LOGS[log];
    serde_json::json!({"source": source, "file": format!("logs/{file}"), "line": line})
}

/// A hard negative's line of the truth file, its fields in the order serde_json writes a
/// map's keys, as the lines written from `json!` values around it. Written field by field
/// because a kind can name a million events.
#[derive(serde::Serialize)]
struct NegativeLine<'a> {
    employees: &'a std::collections::BTreeSet<String>,
    events: Located<'a>,
    hard_negative: bool,
    kind: &'a str,
    summary: &'a str,
}

struct Located<'a> {
    events: &'a [Ref],
    located: &'a HashMap<Ref, Option<(u8, u32)>>,
}

impl serde::Serialize for Located<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.events.iter().filter_map(|r| self.located.get(r).copied().flatten()).map(|(log, line)| place(log as usize, line as usize)))
    }
}

fn note(incident_lines: &mut BTreeMap<usize, Vec<(usize, usize)>>, span: &mut BTreeMap<usize, (NaiveDateTime, NaiveDateTime)>, k: usize, log: usize, line: usize, t: NaiveDateTime) {
    incident_lines.entry(k).or_default().push((log, line));
    let s = span.entry(k).or_insert((t, t));
    s.0 = s.0.min(t);
    s.1 = s.1.max(t);
}

impl Writer {
    /// Starts writing into `out`: the master files the working days do not add to, the
    /// logs' headers. `end` is the first run's world when the period ended.
    pub(crate) fn create(out: &Path, mut end: World) -> std::io::Result<Writer> {
        let master_dir = out.join("master");
        let logs_dir = out.join("logs");
        std::fs::create_dir_all(&master_dir)?;
        std::fs::create_dir_all(&logs_dir)?;
        // The first run kept only the cases and visits added after the working days.
        let injected_cases = std::mem::take(&mut end.master.cases);
        let injected_visits = std::mem::take(&mut end.master.counter_visits);
        let mut master = Vec::new();
        for (name, text) in master_files(&end.master) {
            let rows = text.as_ref().map(|t| t.lines().count() - 1);
            master.push((name, rows));
            if let Some(text) = text {
                std::fs::write(master_dir.join(name), text)?;
            }
        }
        // Written; the second run has its own.
        end.master = MasterData::default();
        let hol = String::from("国民の祝日・休日月日,国民の祝日・休日名称\r\n") + &HOLIDAYS.replace('\n', "\r\n");
        std::fs::write(master_dir.join("holidays.csv"), encoding_rs::SHIFT_JIS.encode(&hol).0)?;
        let cases = Table::create(&master_dir.join("cases.csv"), CASES_HEADER)?;
        let visits = Table::create(&master_dir.join("counter_visits.csv"), VISITS_HEADER)?;
        let (before, events) = end.take_events();
        let injected = Batch::by_date(before, events);
        let logs = crate::LOGS.iter().map(|&(source, file)| LogFile::create(&logs_dir, source, file, &end.practices)).collect::<std::io::Result<Vec<_>>>()?;
        let mut labels = Vec::new();
        for (source, _) in &crate::LOGS[..=System::Saijo as usize] {
            let path = out.join(format!(".labels-{source}.csv"));
            labels.push((path.clone(), BufWriter::new(File::create(path)?)));
        }
        let located = end.negatives.iter().flat_map(|n| n.events.iter()).map(|&r| (r, None)).collect();
        Ok(Writer {
            out: out.to_owned(),
            end,
            injected,
            injected_cases,
            injected_visits,
            master,
            cases,
            visits,
            logs,
            mbox_line: 1,
            labels,
            located,
            incident_lines: BTreeMap::new(),
            span: BTreeMap::new(),
        })
    }

    /// Writes a working day at its end: the events the world's lists hold (taken from them),
    /// with the injected events of that date and of the days off before it, and the cases
    /// and counter visits the day added.
    pub(crate) fn day(&mut self, w: &mut World, day: NaiveDate) -> std::io::Result<()> {
        let (before, events) = w.take_events();
        let mut batch = Batch::new(before, events);
        if let Some(stopped) = &self.end.stopped_agent {
            batch.agent_starts.retain(|a| !stopped.silent(&a.host, a.at));
            for (_, l) in batch.logons.iter_mut().filter(|(_, l)| l.event_id == 4624 && stopped.silent(&l.host, l.at)) {
                l.incident = Some(stopped.incident);
            }
        }
        let later = self.injected.split_off(&day);
        for (date, earlier) in std::mem::replace(&mut self.injected, later) {
            self.write(date, earlier)?;
        }
        if let Some(injected) = self.injected.remove(&day) {
            batch.append(injected);
        }
        self.write(day, batch)?;
        for c in w.master.cases.drain(..) {
            self.cases.append(case_row(&c))?;
        }
        for v in w.master.counter_visits.drain(..) {
            self.visits.append(visit_row(&v))?;
        }
        // On disk at the end of each day: a run stopped midway leaves whole days.
        for log in &mut self.logs {
            log.out.flush()?;
        }
        for (_, labels) in &mut self.labels {
            labels.flush()?;
        }
        self.cases.out.flush()?;
        self.visits.out.flush()
    }

    /// Writes one date's events, each log's sorted by time.
    fn write(&mut self, date: NaiveDate, b: Batch) -> std::io::Result<()> {
        let w = &self.end;
        let mut logs: Vec<Vec<Line>> = crate::LOGS.iter().map(|_| Vec::new()).collect();
        for (i, a) in b.accesses {
            let text = access_line(w, &a);
            logs[a.system as usize].push(Line { at: a.at, text, event: Some(Ref::Access(i)), incident: None, why: Some(a.why) });
        }
        for (i, l) in b.logons {
            logs[WINDOWS].push(Line { at: l.at, text: windows_line(&l, 1000 + i), event: Some(Ref::Logon(i)), incident: l.incident, why: None });
        }
        for (i, u) in b.usb {
            let s = &w.town.staff[u.staff];
            match &u.copy {
                Some(path) => {
                    let t = u.at.format("%Y/%m/%d %H:%M:%S").to_string();
                    let cells = [t, u.host.clone(), format!("e{:04}", s.number), "ファイルコピー(PC→USB)".into(), "USB Flash".into(), u.serial.clone(), path.clone(), "許可".into()];
                    logs[ENDPOINT].push(Line { at: u.at, text: row(&cells), event: Some(Ref::Usb(i)), incident: u.incident, why: None });
                    // Windows audits the write to removable storage as well (4663).
                    let logon = crate::Logon { at: u.at, user: format!("e{:04}", s.number), host: u.host.clone(), event_id: 4663, incident: None };
                    let data = serde_json::json!({
                        "SubjectUserName": logon.user, "SubjectDomainName": "CITY", "ObjectServer": "Security", "ObjectType": "File",
                        "ObjectName": path, "AccessMask": "0x2", "AccessList": "%%4417",
                    });
                    logs[WINDOWS].push(Line { at: u.at, text: evtx(&logon, 50_000_000 + i, data), event: None, incident: u.incident, why: None });
                }
                None if u.blocked => {
                    // The agent blocked it: only the agent's own log has it.
                    let t = u.at.format("%Y/%m/%d %H:%M:%S").to_string();
                    let cells = [t, u.host.clone(), format!("e{:04}", s.number), "デバイス接続".into(), "Android Phone".into(), u.serial.clone(), String::new(), "遮断".into()];
                    logs[ENDPOINT].push(Line { at: u.at, text: row(&cells), event: Some(Ref::Usb(i)), incident: u.incident, why: None });
                }
                None => {
                    let logon = crate::Logon { at: u.at, user: format!("{}$", u.host), host: u.host.clone(), event_id: 6416, incident: None };
                    logs[WINDOWS].push(Line { at: u.at, text: windows_usb_line(&logon, &u.serial, 5000 + i), event: Some(Ref::Usb(i)), incident: u.incident, why: None });
                }
            }
        }
        for (i, f) in b.files {
            let ts = f.at.format("%Y-%m-%dT%H:%M:%S+09:00");
            let args = if f.op == "openat" { format!("r|{}", f.path) } else { f.path.clone() };
            let text = format!("{ts} fs01 smbd_audit: {}|10.1.0.{}|{}|{}|{}|ok|{args}\n", f.user, f.host.len() * 7 % 250, f.host, f.share, f.op);
            logs[SAMBA].push(Line { at: f.at, text, event: Some(Ref::File(i)), incident: f.incident, why: None });
        }
        for (i, p) in b.policy {
            let l = crate::Logon { at: p.at, user: p.user.clone(), host: p.host.clone(), event_id: 4719, incident: None };
            logs[WINDOWS].push(Line { at: p.at, text: windows_policy_line(&l, p.reduced, 7000 + i), event: None, incident: p.incident, why: None });
        }
        for p in b.prints {
            let s = &w.town.staff[p.staff];
            let t = p.at.format("%Y/%m/%d %H:%M:%S").to_string();
            let cells = [t, p.host.clone(), format!("e{:04}", s.number), "PRN-2F-01".into(), p.document.clone(), p.pages.to_string()];
            logs[PRINT].push(Line { at: p.at, text: row(&cells), event: None, incident: p.incident, why: None });
        }
        for a in b.agent_starts {
            let t = a.at.format("%Y/%m/%d %H:%M:%S").to_string();
            logs[AGENT].push(Line { at: a.at, text: row(&[t, a.host.clone(), a.user.clone(), "PC起動".into()]), event: None, incident: None, why: None });
        }
        for (i, r) in b.web {
            logs[PROXY].push(Line { at: r.at, text: proxy_line(w, &r), event: Some(Ref::Web(i)), incident: r.incident, why: None });
        }
        for badge in b.badges {
            let s = &w.town.staff[badge.staff];
            let t = badge.at.format("%Y-%m-%d %H:%M:%S").to_string();
            let text = row(&[t, format!("C{:05}", s.number), s.id.clone(), badge.room.into(), if badge.entering { "入" } else { "出" }.into()]);
            logs[BADGE].push(Line { at: badge.at, text, event: None, incident: None, why: None });
        }
        for (log, mut lines) in logs.into_iter().enumerate().filter(|(log, _)| *log != MAIL) {
            // A stable sort: lines of the same second keep the order above.
            lines.sort_by_key(|l| l.at);
            self.append(log, date, lines)?;
        }
        // The mail journal: one message is many lines; truth names its `From ` line.
        let mut mails = b.mails;
        mails.sort_by_key(|(_, m)| m.at);
        let journal = &mut self.logs[MAIL];
        for (i, m) in mails {
            assert_eq!(m.at.date(), date, "a mail of {} written with {date}'s", m.at);
            // Numbered by its place in the journal, which is in time order.
            let text = crate::mail::mbox_message(&self.end.town, &m, journal.events);
            if let Some(slot) = self.located.get_mut(&Ref::Mail(i)) {
                *slot = Some((MAIL as u8, self.mbox_line as u32));
            }
            if let Some(k) = m.incident {
                note(&mut self.incident_lines, &mut self.span, k, MAIL, self.mbox_line, m.at);
            }
            self.mbox_line += text.matches('\n').count();
            journal.events += 1;
            journal.append(text)?;
        }
        Ok(())
    }

    /// Appends a date's lines, in order, to log `index` (not the mail journal's), with
    /// their labels and what the truth file needs of them.
    fn append(&mut self, index: usize, date: NaiveDate, lines: Vec<Line>) -> std::io::Result<()> {
        let Writer { end, logs, labels, located, incident_lines, span, .. } = self;
        let log = &mut logs[index];
        let mut text = String::new();
        for line in lines {
            // Days are written one after another: a line of another date would be out of order.
            assert_eq!(line.at.date(), date, "a line of {} in {} written with {date}'s", line.at, log.file);
            text.push_str(&line.text);
            log.events += 1;
            let number = log.events + log.offset;
            if let Some(r) = line.event
                && let Some(slot) = located.get_mut(&r)
            {
                *slot = Some((index as u8, number as u32));
            }
            if let Some(k) = line.incident {
                note(incident_lines, span, k, index, number, line.at);
            }
            let Some(why) = line.why else { continue };
            let (justified, reason) = match why {
                Why::Visit(v) => (true, format!("visit {v}")),
                Why::Case(c) => (true, format!("case {c}")),
                Why::Batch => (true, "batch".to_owned()),
                Why::Unrecorded(what) => (true, format!("unrecorded {what}")),
                Why::Incident(k) => {
                    note(incident_lines, span, k, index, number, line.at);
                    (false, format!("incident {}", end.incidents[k].scenario))
                }
            };
            let label = row(&[log.source.into(), format!("logs/{}", log.file), number.to_string(), if justified { "yes" } else { "no" }.into(), reason]);
            labels[index].1.write_all(label.as_bytes())?;
        }
        log.append(text)
    }

    /// Writes what follows the last working day: the injected events after it, the
    /// evidence, the sources and detection files, the labels and the truth file.
    pub(crate) fn finish(mut self) -> std::io::Result<Summary> {
        for (date, injected) in std::mem::take(&mut self.injected) {
            self.write(date, injected)?;
        }
        for c in std::mem::take(&mut self.injected_cases) {
            self.cases.append(case_row(&c))?;
        }
        for v in std::mem::take(&mut self.injected_visits) {
            self.visits.append(visit_row(&v))?;
        }
        self.cases.out.flush()?;
        self.visits.out.flush()?;
        for log in &mut self.logs {
            log.out.flush()?;
        }
        let (w, out) = (&self.end, &self.out);
        let mut summary = Summary { incidents: w.incidents.len(), accesses: w.written.accesses, ..Default::default() };
        for &(name, rows) in &self.master {
            let rows = rows.unwrap_or(if name == "cases.csv" { self.cases.rows } else { self.visits.rows });
            summary.files.push((format!("master/{name}"), rows));
        }
        let mut logs: Vec<usize> = (0..self.logs.len()).collect();
        logs.sort_by_key(|&log| truth_rank(log));
        summary.files.extend(logs.into_iter().map(|log| (format!("logs/{}", self.logs[log].file), self.logs[log].events)));
        let mut labels = BufWriter::new(File::create(out.join("labels.csv"))?);
        labels.write_all(b"source,file,line,justified,reason\n")?;
        for (path, part) in std::mem::take(&mut self.labels) {
            drop(part.into_inner().map_err(|e| e.into_error())?);
            std::io::copy(&mut File::open(&path)?, &mut labels)?;
            std::fs::remove_file(&path)?;
        }
        labels.flush()?;
        let mut evidence_dirs: BTreeMap<usize, String> = BTreeMap::new();
        for (k, name, rows) in &w.evidence {
            let dir = format!("evidence/{}", w.incidents[*k].scenario);
            std::fs::create_dir_all(out.join(&dir))?;
            let content = crate::mail::Content::Residents { rows: rows.clone(), my_number: false };
            let text = crate::mail::csv(&crate::mail::table(&w.town, &content));
            std::fs::write(out.join(&dir).join(name), encoding_rs::SHIFT_JIS.encode(&text).0)?;
            evidence_dirs.insert(*k, dir);
        }
        std::fs::write(out.join("mamori.toml"), sources(w))?;
        std::fs::write(out.join("detect.toml"), DETECT)?;
        // The truth file (docs/eval.md): the town's practices, one line per incident, one per
        // kind of hard negative.
        let mut truth = BufWriter::new(File::create(out.join("truth.jsonl"))?);
        let town = serde_json::json!({"town": {"seed": w.params.seed, "practices": w.practices.names(), "layout": w.practices.layout}});
        writeln!(truth, "{town}")?;
        for (k, inc) in w.incidents.iter().enumerate() {
            let (from, to) = self.span.get(&k).copied().unwrap_or_default();
            let mut lines = self.incident_lines.remove(&k).unwrap_or_default();
            lines.sort_by_key(|&(log, _)| truth_rank(log));
            let line = serde_json::json!({
                "id": format!("{}-{k}", inc.scenario),
                "scenario": inc.scenario,
                "variant": inc.variant,
                "summary": inc.summary,
                "employees": inc.employees,
                "residents": inc.residents,
                "files": [], "devices": [], "mails": inc.mails,
                "from": format!("{}+09:00", from.format("%Y-%m-%dT%H:%M:%S")),
                "to": format!("{}+09:00", to.format("%Y-%m-%dT%H:%M:%S")),
                "events": lines.into_iter().map(|(log, line)| place(log, line)).collect::<Vec<_>>(),
            });
            let mut line = line;
            if let Some(dir) = evidence_dirs.get(&k) {
                line["evidence"] = dir.as_str().into();
            }
            writeln!(truth, "{line}")?;
        }
        for n in &w.negatives {
            let line = NegativeLine { employees: &n.employees, events: Located { events: &n.events, located: &self.located }, hard_negative: true, kind: n.kind, summary: n.summary };
            serde_json::to_writer(&mut truth, &line)?;
            truth.write_all(b"\n")?;
        }
        truth.flush()?;
        summary.files.push(("truth.jsonl".into(), w.incidents.len()));
        Ok(summary)
    }
}
