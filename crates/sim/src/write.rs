//! Writing a run: the master-data files, each product's log in its own format, the
//! sources file that reads them, and the ground truth. Every file is written in a fixed
//! order so that a seed gives the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use mamori_model::master::{Holiday, MasterData, Period};

use crate::{Access, Ref, Summary, System, Why, World};

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

fn master_files(m: &MasterData) -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    let mut t = String::from("code,name,parent\n");
    m.departments.iter().for_each(|d| t.push_str(&row(&[d.code.clone(), d.name.clone(), opt(&d.parent)])));
    files.push(("departments.csv", t));
    let mut t = String::from("id,name,kana,hired,retired,resident_uid\n");
    m.employees.iter().for_each(|e| t.push_str(&row(&[e.id.clone(), e.name.clone(), e.kana.clone(), e.hired.to_string(), opt(&e.retired), opt(&e.resident_uid)])));
    files.push(("employees.csv", t));
    let mut t = String::from("employee_id,department,role,from,to\n");
    m.assignments.iter().for_each(|a| {
        let [f, to] = period(&a.period);
        t.push_str(&row(&[a.employee_id.clone(), a.department.clone(), a.role.clone(), f, to]))
    });
    files.push(("assignments.csv", t));
    let mut t = String::from("system,account,employee_id,kind,from,to,department\n");
    m.accounts.iter().for_each(|a| {
        let [f, to] = period(&a.period);
        let kind = serde_json::to_value(a.kind).expect("a kind").as_str().expect("a string").to_owned();
        t.push_str(&row(&[a.system.clone(), a.account.clone(), opt(&a.employee_id), kind, f, to, opt(&a.department)]))
    });
    files.push(("accounts.csv", t));
    let mut t = String::from("uid,name,kana,birth_date,died\n");
    m.residents.iter().for_each(|r| t.push_str(&row(&[r.uid.clone(), r.name.clone(), r.kana.clone(), r.birth_date.to_string(), opt(&r.died)])));
    files.push(("residents.csv", t));
    let mut t = String::from("resident_uid,household,relation,address,from,to\n");
    m.households.iter().for_each(|h| {
        let [f, to] = period(&h.period);
        t.push_str(&row(&[h.resident_uid.clone(), h.household.clone(), h.relation.clone(), h.address.clone(), f, to]))
    });
    files.push(("households.csv", t));
    let mut t = String::from("resident_a,resident_b,relation\n");
    m.family_links.iter().for_each(|l| t.push_str(&row(&[l.resident_a.clone(), l.resident_b.clone(), l.relation.clone()])));
    files.push(("family_links.csv", t));
    let mut t = String::from("case_no,kind,received,closed,department,handler,residents\n");
    m.cases.iter().for_each(|c| {
        t.push_str(&row(&[c.case_no.clone(), c.kind.clone(), c.received.to_string(), opt(&c.closed), c.department.clone(), opt(&c.handler), c.residents.join(";")]))
    });
    files.push(("cases.csv", t));
    let mut t = String::from("visit_no,at,department,resident_uid,purpose,handler\n");
    m.counter_visits.iter().for_each(|v| {
        t.push_str(&row(&[v.visit_no.clone(), v.at.format("%Y-%m-%dT%H:%M:%S").to_string(), v.department.clone(), v.resident_uid.clone(), v.purpose.clone(), opt(&v.handler)]))
    });
    files.push(("counter_visits.csv", t));
    let mut t = String::from("host,location,kind,agent,department,assigned\n");
    m.terminals.iter().for_each(|x| {
        let kind = serde_json::to_value(x.kind).expect("a kind").as_str().expect("a string").to_owned();
        t.push_str(&row(&[x.host.clone(), x.location.clone(), kind, if x.agent { "yes" } else { "no" }.into(), opt(&x.department), opt(&x.assigned)]))
    });
    files.push(("terminals.csv", t));
    let mut t = String::from("share,path,owner_department,classification,granted,from,to\n");
    m.shares.iter().for_each(|s| {
        let [f, to] = period(&s.period);
        let class = serde_json::to_value(s.classification).expect("a class").as_str().expect("a string").to_owned();
        t.push_str(&row(&[s.share.clone(), s.path.clone(), s.owner_department.clone(), class, s.granted.join(";"), f, to]))
    });
    files.push(("shares.csv", t));
    let mut t = String::from("serial,owner,kind,from,to\n");
    m.devices.iter().for_each(|d| {
        let [f, to] = period(&d.period);
        t.push_str(&row(&[d.serial.clone(), opt(&d.owner), d.kind.clone(), f, to]))
    });
    files.push(("devices.csv", t));
    let mut t = String::from("resident_uid,reason,from,to\n");
    m.vip.iter().for_each(|v| {
        let [f, to] = period(&v.period);
        t.push_str(&row(&[v.resident_uid.clone(), v.reason.clone(), f, to]))
    });
    files.push(("vip.csv", t));
    if !m.open_days.is_empty() {
        let mut t = String::from("date,department,note\n");
        m.open_days.iter().for_each(|o| t.push_str(&row(&[o.date.to_string(), opt(&o.department), o.note.clone()])));
        files.push(("open_days.csv", t));
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
    format!("{SOURCES_HEAD}{}{SOURCES_ZEIMU}{}{SOURCES_REST}{proxy}", juki_layout(layout).1, fukushi_layout(layout).1)
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

struct Log {
    source: &'static str,
    file: &'static str,
    /// (time, line, the run's event it writes, the incident it belongs to if not an access).
    lines: Vec<(NaiveDateTime, String, Option<Ref>, Option<usize>)>,
}

fn access_line(w: &World, a: &Access) -> String {
    let p = if a.resident == crate::NON_RESIDENT { String::new() } else { w.town.people[a.resident].uid.clone() };
    let case = a.case_no.clone().unwrap_or_default();
    let d = a.at.date();
    let host = if w.practices.lower_case_hosts { a.host.to_lowercase() } else { a.host.clone() };
    let layout = w.practices.layout;
    match a.system {
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

pub fn all(w: &World, out: &Path) -> std::io::Result<Summary> {
    let mut summary = Summary { incidents: w.incidents.len(), accesses: w.accesses.len(), ..Default::default() };
    let master_dir = out.join("master");
    let logs_dir = out.join("logs");
    std::fs::create_dir_all(&master_dir)?;
    std::fs::create_dir_all(&logs_dir)?;
    for (name, text) in master_files(&w.master) {
        summary.files.push((format!("master/{name}"), text.lines().count() - 1));
        std::fs::write(master_dir.join(name), text)?;
    }
    let hol = String::from("国民の祝日・休日月日,国民の祝日・休日名称\r\n") + &HOLIDAYS.replace('\n', "\r\n");
    std::fs::write(master_dir.join("holidays.csv"), encoding_rs::SHIFT_JIS.encode(&hol).0)?;

    // In `LOGS` order: the business systems in `System` order, then Windows, then badges.
    let mut logs: Vec<Log> = crate::LOGS.iter().map(|&(source, file)| Log { source, file, lines: Vec::new() }).collect();
    let mut labels = Vec::new();
    for (i, a) in w.accesses.iter().enumerate() {
        let log = a.system as usize;
        logs[log].lines.push((a.at, access_line(w, a), Some(Ref::Access(i)), None));
    }
    for (i, l) in w.logons.iter().enumerate() {
        logs[WINDOWS].lines.push((l.at, windows_line(l, 1000 + i), Some(Ref::Logon(i)), l.incident));
    }
    // Truth for non-access events: (log index, time, incident) → line, filled below.
    for (i, u) in w.usb.iter().enumerate() {
        let s = &w.town.staff[u.staff];
        match &u.copy {
            Some(path) => {
                let t = u.at.format("%Y/%m/%d %H:%M:%S").to_string();
                let cells = [t, u.host.clone(), format!("e{:04}", s.number), "ファイルコピー(PC→USB)".into(), "USB Flash".into(), u.serial.clone(), path.clone(), "許可".into()];
                logs[ENDPOINT].lines.push((u.at, row(&cells), Some(Ref::Usb(i)), u.incident));
                // Windows audits the write to removable storage as well (4663).
                let logon = crate::Logon { at: u.at, user: format!("e{:04}", s.number), host: u.host.clone(), event_id: 4663, incident: None };
                let data = serde_json::json!({
                    "SubjectUserName": logon.user, "SubjectDomainName": "CITY", "ObjectServer": "Security", "ObjectType": "File",
                    "ObjectName": path, "AccessMask": "0x2", "AccessList": "%%4417",
                });
                logs[WINDOWS].lines.push((u.at, evtx(&logon, 50_000_000 + i, data), None, u.incident));
            }
            None if u.blocked => {
                // The agent blocked it: only the agent's own log has it.
                let t = u.at.format("%Y/%m/%d %H:%M:%S").to_string();
                let cells = [t, u.host.clone(), format!("e{:04}", s.number), "デバイス接続".into(), "Android Phone".into(), u.serial.clone(), String::new(), "遮断".into()];
                logs[ENDPOINT].lines.push((u.at, row(&cells), Some(Ref::Usb(i)), u.incident));
            }
            None => {
                let logon = crate::Logon { at: u.at, user: format!("{}$", u.host), host: u.host.clone(), event_id: 6416, incident: None };
                logs[WINDOWS].lines.push((u.at, windows_usb_line(&logon, &u.serial, 5000 + i), Some(Ref::Usb(i)), u.incident));
            }
        }
    }
    for (i, f) in w.files.iter().enumerate() {
        let ts = f.at.format("%Y-%m-%dT%H:%M:%S+09:00");
        let args = if f.op == "openat" { format!("r|{}", f.path) } else { f.path.clone() };
        let line = format!("{ts} fs01 smbd_audit: {}|10.1.0.{}|{}|{}|{}|ok|{args}\n", f.user, f.host.len() * 7 % 250, f.host, f.share, f.op);
        logs[SAMBA].lines.push((f.at, line, Some(Ref::File(i)), f.incident));
    }
    for (i, p) in w.policy.iter().enumerate() {
        let l = crate::Logon { at: p.at, user: p.user.clone(), host: p.host.clone(), event_id: 4719, incident: None };
        logs[WINDOWS].lines.push((p.at, windows_policy_line(&l, p.reduced, 7000 + i), None, p.incident));
    }
    for p in &w.prints {
        let s = &w.town.staff[p.staff];
        let t = p.at.format("%Y/%m/%d %H:%M:%S").to_string();
        let cells = [t, p.host.clone(), format!("e{:04}", s.number), "PRN-2F-01".into(), p.document.clone(), p.pages.to_string()];
        logs[PRINT].lines.push((p.at, row(&cells), None, p.incident));
    }
    for a in &w.agent_starts {
        let t = a.at.format("%Y/%m/%d %H:%M:%S").to_string();
        logs[AGENT].lines.push((a.at, row(&[t, a.host.clone(), a.user.clone(), "PC起動".into()]), None, None));
    }
    for (i, r) in w.web.iter().enumerate() {
        logs[PROXY].lines.push((r.at, proxy_line(w, r), Some(Ref::Web(i)), r.incident));
    }
    for b in &w.badges {
        let s = &w.town.staff[b.staff];
        let t = b.at.format("%Y-%m-%d %H:%M:%S").to_string();
        logs[BADGE].lines.push((b.at, row(&[t, format!("C{:05}", s.number), s.id.clone(), b.room.into(), if b.entering { "入" } else { "出" }.into()]), None, None));
    }
    let mut incident_events: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
    let mut span: BTreeMap<usize, (NaiveDateTime, NaiveDateTime)> = BTreeMap::new();
    // Where each event of the run was written: for the hard negatives' truth.
    let mut where_is: std::collections::HashMap<Ref, serde_json::Value> = std::collections::HashMap::new();
    for log in logs.iter_mut().filter(|l| l.source != crate::LOGS[MAIL].0) {
        log.lines.sort_by_key(|l| l.0);
        let layout = w.practices.layout;
        let some = |h: &'static str| Some(h).filter(|h| !h.is_empty());
        let (header, shift_jis, bom) = match log.source {
            "juki" => (some(juki_layout(layout).0), true, false),
            "zeimu" => (Some("日時\t職員番号\t端末\t宛名番号\t税目\t操作\t受付番号\n"), false, true),
            "fukushi" => (some(fukushi_layout(layout).0), layout == 2, false),
            "badge" => (Some("通過日時,カード番号,職員番号,部屋,入退\n"), false, false),
            "endpoint" => (Some("日時,コンピュータ名,ログオンユーザー,操作,デバイス名,シリアル番号,ファイルパス,結果\n"), true, false),
            "saijo" => (Some("受付日,時刻,職員コード,端末,許可番号,死亡者宛名番号,処理\n"), true, false),
            "endpoint-ops" => (Some("日時,コンピュータ名,ログオンユーザー,操作\n"), true, false),
            "endpoint-print" => (Some("日時,コンピュータ名,ログオンユーザー,プリンタ名,ドキュメント名,ページ数\n"), true, false),
            _ => (None, false, false),
        };
        let mut text = String::new();
        if bom {
            text.push('\u{FEFF}');
        }
        let offset = if let Some(h) = header {
            text.push_str(h);
            1
        } else {
            0
        };
        for (n, (t, line, event, incident)) in log.lines.iter().enumerate() {
            text.push_str(line);
            let number = n + 1 + offset;
            if let Some(r) = event {
                where_is.insert(*r, serde_json::json!({"source": log.source, "file": format!("logs/{}", log.file), "line": number}));
            }
            let access = match event {
                Some(Ref::Access(i)) => Some(i),
                _ => None,
            };
            if let Some(k) = incident {
                incident_events.entry(*k).or_default().push(serde_json::json!({"source": log.source, "file": format!("logs/{}", log.file), "line": number}));
                let s = span.entry(*k).or_insert((*t, *t));
                s.0 = s.0.min(*t);
                s.1 = s.1.max(*t);
            }
            if let Some(i) = access {
                let a = &w.accesses[*i];
                let (justified, reason) = match &a.why {
                    Why::Visit(v) => (true, format!("visit {v}")),
                    Why::Case(c) => (true, format!("case {c}")),
                    Why::Batch => (true, "batch".to_owned()),
                    Why::Unrecorded(what) => (true, format!("unrecorded {what}")),
                    Why::Incident(k) => {
                        incident_events.entry(*k).or_default().push(serde_json::json!({"source": log.source, "file": format!("logs/{}", log.file), "line": number}));
                        let s = span.entry(*k).or_insert((*t, *t));
                        s.0 = s.0.min(*t);
                        s.1 = s.1.max(*t);
                        (false, format!("incident {}", w.incidents[*k].scenario))
                    }
                };
                labels.push(row(&[log.source.into(), format!("logs/{}", log.file), number.to_string(), if justified { "yes" } else { "no" }.into(), reason]));
            }
        }
        if log.source == "juki" {
            text = text.replace('\n', "\r\n");
        }
        let bytes = if shift_jis { encoding_rs::SHIFT_JIS.encode(&text).0.into_owned() } else { text.into_bytes() };
        summary.files.push((format!("logs/{}", log.file), log.lines.len()));
        std::fs::write(logs_dir.join(log.file), bytes)?;
    }
    // The mail journal: one message is many lines; truth names its `From ` line.
    let mut mbox = String::new();
    let mut line = 1;
    let file = format!("logs/{}", crate::LOGS[MAIL].1);
    for (i, m) in w.mails.iter().enumerate() {
        let text = crate::mail::mbox_message(&w.town, m, i);
        where_is.insert(Ref::Mail(i), serde_json::json!({"source": crate::LOGS[MAIL].0, "file": file, "line": line}));
        if let Some(k) = m.incident {
            incident_events.entry(k).or_default().push(serde_json::json!({"source": crate::LOGS[MAIL].0, "file": file, "line": line}));
            let s = span.entry(k).or_insert((m.at, m.at));
            s.0 = s.0.min(m.at);
            s.1 = s.1.max(m.at);
        }
        line += text.matches('\n').count();
        mbox.push_str(&text);
    }
    summary.files.push((file.clone(), w.mails.len()));
    std::fs::write(out.join(&file), mbox)?;
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
    let mut truth = String::new();
    let town = serde_json::json!({"town": {"seed": w.params.seed, "practices": w.practices.names(), "layout": w.practices.layout}});
    let _ = writeln!(truth, "{town}");
    for (k, inc) in w.incidents.iter().enumerate() {
        let (from, to) = span.get(&k).copied().unwrap_or_default();
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
            "events": incident_events.remove(&k).unwrap_or_default(),
        });
        let mut line = line;
        if let Some(dir) = evidence_dirs.get(&k) {
            line["evidence"] = dir.as_str().into();
        }
        let _ = writeln!(truth, "{line}");
    }
    for n in &w.negatives {
        let events: Vec<&serde_json::Value> = n.events.iter().filter_map(|r| where_is.get(r)).collect();
        let line = serde_json::json!({"hard_negative": true, "kind": n.kind, "summary": n.summary, "employees": n.employees, "events": events});
        let _ = writeln!(truth, "{line}");
    }
    std::fs::write(out.join("truth.jsonl"), truth)?;
    std::fs::write(out.join("labels.csv"), String::from("source,file,line,justified,reason\n") + &labels.concat())?;
    summary.files.push(("truth.jsonl".into(), w.incidents.len()));
    Ok(summary)
}
