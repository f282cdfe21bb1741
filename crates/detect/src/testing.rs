//! The office every analyzer's tests run in, and events as the source adapters write
//! them.

use mamori_model::master::MasterData;
use mamori_model::{Event, Finding};
use mamori_enrich::Directory;
use serde_json::json;

use crate::Detector;

/// A small office: E1 (福祉課) lives at 一丁目 with spouse R2 and has a parent R3 elsewhere;
/// E2 (福祉課) is E1's colleague; E3 (戸籍係) handles the family register; R9 is the mayor;
/// R5 shares E1's surname and nothing else. Accounts J1/J2/K3 are theirs, 9000 a batch.
pub fn office() -> MasterData {
    let m = json!({
        "departments": [{"code":"D300","name":"福祉課"},{"code":"D110","name":"戸籍係"},{"code":"D100","name":"市民課"},
            {"code":"D400","name":"人事課"},{"code":"D500","name":"総務課"},{"code":"D800","name":"情報政策課"}],
        "employees": [
            {"id":"E1","name":"佐藤 一","hired":"2010-04-01","resident_uid":"R1"},
            {"id":"E2","name":"鈴木 二","hired":"2010-04-01"},
            {"id":"E3","name":"高橋 三","hired":"2010-04-01"},
            {"id":"E4","name":"田中 四","hired":"2010-04-01"}],
        "assignments": [
            {"employee_id":"E1","department":"D300","role":"staff","from":"2010-04-01"},
            {"employee_id":"E2","department":"D300","role":"staff","from":"2010-04-01"},
            {"employee_id":"E3","department":"D110","role":"staff","from":"2010-04-01","to":"2024-03-31"},
            {"employee_id":"E3","department":"D300","role":"staff","from":"2024-04-01"},
            {"employee_id":"E4","department":"D100","role":"staff","from":"2010-04-01","to":"2023-03-31"},
            {"employee_id":"E4","department":"D800","role":"staff","from":"2023-04-01"}],
        "accounts": [
            {"system":"juki","account":"J1","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"juki","account":"J2","employee_id":"E2","kind":"personal","from":"2010-04-01"},
            {"system":"koseki","account":"K3","employee_id":"E3","kind":"personal","from":"2010-04-01"},
            {"system":"windows","account":"e1","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"windows","account":"e2","employee_id":"E2","kind":"personal","from":"2010-04-01"},
            {"system":"juki","account":"9000","kind":"batch","from":"2010-04-01"},
            {"system":"windows","account":"admin01","kind":"admin","from":"2010-04-01"},
            {"system":"windows","account":"e3","employee_id":"E3","kind":"personal","from":"2010-04-01"},
            {"system":"juki","account":"J4","employee_id":"E4","kind":"personal","from":"2010-04-01","to":"2023-03-31"},
            {"system":"windows","account":"e4","employee_id":"E4","kind":"personal","from":"2010-04-01"},
            {"system":"saijo","account":"S1","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"saijo","account":"S2","employee_id":"E2","kind":"personal","from":"2010-04-01"},
            {"system":"mail","account":"e1@city.example.lg.jp","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"mail","account":"e2@city.example.lg.jp","employee_id":"E2","kind":"personal","from":"2010-04-01"},
            {"system":"mail","account":"e4@city.example.lg.jp","employee_id":"E4","kind":"personal","from":"2010-04-01"}],
        "residents": [
            {"uid":"R1","name":"佐藤 一","birth_date":"1980-01-01"},
            {"uid":"R2","name":"佐藤 花","birth_date":"1982-01-01"},
            {"uid":"R3","name":"佐藤 父","birth_date":"1950-01-01"},
            {"uid":"R5","name":"佐藤 他","birth_date":"1970-01-01"},
            {"uid":"R6","name":"佐藤 隣","birth_date":"1940-01-01"},
            {"uid":"R7","name":"佐藤 遠","birth_date":"1941-01-01"},
            {"uid":"R9","name":"市長 太郎","birth_date":"1960-01-01"}],
        "households": [
            {"resident_uid":"R1","household":"H1","relation":"世帯主","address":"一丁目1番1号","from":"2000-01-01"},
            {"resident_uid":"R2","household":"H1","relation":"妻","address":"一丁目1番1号","from":"2000-01-01"},
            {"resident_uid":"R3","household":"H3","relation":"世帯主","address":"五丁目","from":"2000-01-01"},
            {"resident_uid":"R5","household":"H5","relation":"世帯主","address":"二丁目","from":"2000-01-01"},
            {"resident_uid":"R6","household":"H6","relation":"世帯主","address":"一丁目2番3号","from":"2000-01-01"},
            {"resident_uid":"R7","household":"H7","relation":"世帯主","address":"一丁目9番1号","from":"2000-01-01"},
            {"resident_uid":"R9","household":"H9","relation":"世帯主","address":"三丁目","from":"2000-01-01"}],
        "family_links": [{"resident_a":"R1","resident_b":"R3","relation":"child"}],
        "cases": [
            {"case_no":"C1","kind":"戸籍謄本請求","received":"2024-03-04","closed":"2024-03-04","department":"D110","handler":"E3","residents":["R9"]},
            {"case_no":"C2","kind":"生活保護","received":"2024-01-04","department":"D300","handler":"E2","residents":["R5"]},
            {"case_no":"C3","kind":"相談","received":"2024-04-01","department":"D300","handler":"E3","residents":["R5"]}],
        "case_kinds": [{"kind":"生活保護","ongoing":"yes"},{"kind":"相談","open_days":"30"}],
        "counter_visits": [{"visit_no":"V1","at":"2024-03-05T10:00:00","department":"D300","resident_uid":"R2","purpose":"相談"}],
        "terminals": [
            {"host":"PC-E1","location":"2F","kind":"staff","agent":"yes","department":"D300"},
            {"host":"PC-E2","location":"2F","kind":"staff","agent":"yes"},
            {"host":"UKETSUKE","location":"1F","kind":"reception","agent":"no"}],
        "devices": [{"serial":"SUSB-1","owner":"E1","kind":"secure-usb","from":"2020-04-01"}],
        "shares": [
            {"share":"jinji","path":"/srv/jinji","owner_department":"D400","classification":"restricted","granted":"","from":"2010-04-01"},
            {"share":"hikitsugi","path":"/srv/hikitsugi","owner_department":"D500","classification":"confidential","granted":"*","from":"2024-03-25","to":"2024-04-05"}],
        "vip": [{"resident_uid":"R9","reason":"市長","from":"2022-01-01"}]
    });
    serde_json::from_value(m).unwrap()
}

/// A record access at a JST time on a host.
pub fn access(product: &str, account: &str, resident: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":6005,"activity_id":1,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":host},
        "metadata":{"product":product},"unmapped":{"resident":{"uid":resident}}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn windows(user: &str, op: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"status_id":1,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"unmapped":{"operation":op}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn badge(employee: &str, dir: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"actor":{"user":{"uid":"C","employee_uid":employee}},
        "metadata":{"product":"badge"},"unmapped":{"operation":dir,"room":"2F"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn run(events: &[Event]) -> Vec<Finding> {
    run_in(&office(), crate::Config::default(), events)
}

pub fn rules(findings: &[Finding]) -> Vec<(&str, &str, usize)> {
    findings.iter().map(|f| (f.rule.as_str(), f.employees[0].as_str(), f.evidence.len())).collect()
}

pub fn usb(serial: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1010,"activity_id":1,"time":t,"actor":{"user":{"uid":format!("{host}$")}},"device":{"hostname":host},
        "peripheral_device":{"serial_number":serial},"metadata":{"product":"win-security"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn share_open(user: &str, path: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1001,"activity_id":2,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "file":{"path":path},"metadata":{"product":"samba"},"unmapped":{"share":"jinji"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn handover_open(user: &str, path: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1001,"activity_id":2,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":"pc"},
        "file":{"path":path},"metadata":{"product":"samba"},"unmapped":{"share":"hikitsugi"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

/// A journaled mail from `from` with an attachment naming `residents` (as the mail adapter
/// writes it: recipients outside the organisation and personal ones already sorted out).
pub fn mail(from: &str, to: &str, residents: &[&str], when: &str, encrypted: bool) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let external: Vec<&str> = [to].into_iter().filter(|a| !a.ends_with("@city.example.lg.jp")).collect();
    let personal: Vec<&str> = external.iter().copied().filter(|a| a.ends_with("@gmail.com")).collect();
    let rows = if encrypted { 0 } else { residents.len() };
    let v = json!({"class_uid":4009,"activity_id":1,"time":t,"actor":{"user":{"uid":from}},"metadata":{"product":"mail"},
        "email":{"from":from,"to":[to],"message_uid":format!("{when}@x")},
        "unmapped":{"external_recipients":external,"personal_recipients":personal,
            "personal_data":{"rows":rows,"items":["resident_id"],"my_numbers":0,"residents":if encrypted { vec![] } else { residents.to_vec() },"uninspectable":encrypted}}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn toml_config(text: &str) -> crate::Config {
    crate::Config::from_toml(text).unwrap()
}

/// A JST time as ms since the epoch.
pub fn ms(when: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis()
}

/// Runs `events` through a detector built from `master` and `config`.
pub fn run_in(master: &MasterData, config: crate::Config, events: &[Event]) -> Vec<Finding> {
    let dir = Directory::new(master);
    let mut d = Detector::with_config(&dir, config);
    for (i, e) in events.iter().enumerate() {
        d.observe(i as u64, e);
    }
    d.findings()
}

/// The office with changes: `edit` gets its JSON.
pub fn office_with(edit: impl FnOnce(&mut serde_json::Value)) -> MasterData {
    let mut v = serde_json::to_value(office()).unwrap();
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

pub fn policy(user: &str, host: &str, when: &str, reduced: bool) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":5019,"activity_id":1,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"unmapped":{"operation":"audit-policy-change","audit_reduced":reduced,
        "audit_changes":if reduced { "success removed, failure removed" } else { "success added" }}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn permit(account: &str, resident: &str, when: &str, activity: u8, case: Option<&str>) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let mut v = json!({"class_uid":6005,"activity_id":activity,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":"PC-E2"},
        "metadata":{"product":"saijo"},"unmapped":{"resident":{"uid":resident}}});
    if let Some(c) = case {
        v["unmapped"]["case_no"] = json!(c);
    }
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn copy(account: &str, when: &str, n: usize) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis() + n as i64 * 60_000;
    let v = json!({"class_uid":1010,"activity_id":3,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":"PC-E1"},
        "metadata":{"product":"endpoint"},"file":{"path":format!("E:\\\\f{n}.csv")},"peripheral_device":{"serial_number":"SUSB-1"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

pub fn agent_start(host: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"actor":{"user":{"uid":"e1"}},"device":{"hostname":host},
        "metadata":{"product":"endpoint-ops"},"unmapped":{"operation":"agent-start"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

/// Ten ordinary weekdays of look-ups by E1 and E2 (福祉課), with a case behind each.
pub fn ordinary_days() -> Vec<Event> {
    let mut out = Vec::new();
    for d in [9u32, 10, 11, 12, 15, 16, 17, 18, 19, 22] {
        for (acct, res) in [("J1", "R5"), ("J2", "R5")] {
            let mut e = access("juki", acct, res, &format!("2024-01-{d:02}T10:00:00"), "PC-1");
            e.unmapped.extra.insert("case_no".into(), "C2".into());
            out.push(e);
        }
    }
    out
}
