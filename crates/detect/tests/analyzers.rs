//! Each analyzer against the incident it is named after, and against the legitimate work
//! that must not drown reviewers (the brief's hard negatives).

use mamori_detect::Detector;
use mamori_enrich::Directory;
use mamori_model::master::MasterData;
use mamori_model::{Event, Finding};
use serde_json::json;

/// A small office: E1 (福祉課) lives at 一丁目 with spouse R2 and has a parent R3 elsewhere;
/// E2 (福祉課) is E1's colleague; E3 (戸籍係) handles the family register; R9 is the mayor;
/// R5 shares E1's surname and nothing else. Accounts J1/J2/K3 are theirs, 9000 a batch.
fn office() -> MasterData {
    let m = json!({
        "departments": [{"code":"D300","name":"福祉課"},{"code":"D110","name":"戸籍係"}],
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
            {"case_no":"C3","kind":"相談","received":"2024-01-04","department":"D300","handler":"E3","residents":["R5"]}],
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
fn access(product: &str, account: &str, resident: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":6005,"activity_id":2,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":host},
        "metadata":{"product":product},"unmapped":{"resident":{"uid":resident}}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn windows(user: &str, op: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"status_id":1,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"unmapped":{"operation":op}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn badge(employee: &str, dir: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"actor":{"user":{"uid":"C","employee_uid":employee}},
        "metadata":{"product":"badge"},"unmapped":{"operation":dir,"room":"2F"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn run(events: &[Event]) -> Vec<Finding> {
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    for (i, e) in events.iter().enumerate() {
        d.observe(i as u64, e);
    }
    d.findings()
}

fn rules(findings: &[Finding]) -> Vec<(&str, &str, usize)> {
    findings.iter().map(|f| (f.rule.as_str(), f.employees[0].as_str(), f.evidence.len())).collect()
}

#[test]
fn s1_relatives_looked_up_without_business_are_flagged_with_every_look_up_as_evidence() {
    let f = run(&[
        access("juki", "J1", "R2", "2024-03-01T10:00:00", "PC-E1"), // spouse, same household
        access("juki", "J1", "R3", "2024-03-02T10:00:00", "PC-E1"), // parent, family register
        access("juki", "J1", "R1", "2024-03-03T10:00:00", "PC-E1"), // own record
    ]);
    assert_eq!(rules(&f), [("relative_lookup", "E1", 3)]);
    assert_eq!(f[0].residents, ["R1", "R2", "R3"]);
    assert!(f[0].explanation_ja.contains("同一世帯") && f[0].explanation_ja.contains("親族"), "{}", f[0].explanation_ja);
}

#[test]
fn a_relative_served_with_a_visit_on_file_is_explained_not_flagged() {
    // E1 helps their own spouse at the 福祉課 counter: the visit explains the look-up.
    assert!(run(&[access("juki", "J1", "R2", "2024-03-05T10:20:00", "PC-E1")]).is_empty());
}

#[test]
fn a_shared_common_surname_alone_is_not_a_relation() {
    // R5 is a 佐藤 like E1, at another address, with no family link; E1 has no business
    // with R5 either, but that is not relative snooping.
    let f = run(&[access("juki", "J1", "R5", "2024-03-01T10:00:00", "PC-E1")]);
    assert!(f.iter().all(|x| x.rule != "relative_lookup"), "{f:?}");
}

#[test]
fn s3_vip_koseki_view_without_application_is_flagged() {
    let f = run(&[access("koseki", "K3", "R9", "2024-02-01T11:00:00", "PC-E3")]);
    assert_eq!(rules(&f), [("vip_unexplained", "E3", 1)]);
    assert!(f[0].explanation_ja.contains("市長"));
}

#[test]
fn the_mayor_served_with_a_request_on_file_is_not_flagged_but_the_next_day_is() {
    // C1: the mayor's application handled on 2024-03-04. That day's view is business;
    // a same-day case does not cover the following days.
    assert!(run(&[access("koseki", "K3", "R9", "2024-03-04T11:00:00", "PC-E3")]).is_empty());
    let f = run(&[access("koseki", "K3", "R9", "2024-03-06T11:00:00", "PC-E3")]);
    assert_eq!(rules(&f), [("vip_unexplained", "E3", 1)]);
}

#[test]
fn access_after_a_transfer_is_judged_by_the_new_posting() {
    // E3 moved from 戸籍係 to 福祉課 on 1 April: 福祉課's case C3, in E3's hands, explains
    // a look-up of R5 after the move, not before it.
    let before = run(&[access("juki", "K3", "R5", "2024-03-20T10:00:00", "PC-E3")]);
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    let after = d.observe(0, &access("koseki", "K3", "R5", "2024-04-02T10:00:00", "PC-E3")).unwrap();
    assert!(after.explanation.is_some(), "explained by 福祉課's case after the transfer");
    let mut d = Detector::new(&dir);
    let before_verdict = d.observe(0, &access("koseki", "K3", "R5", "2024-03-20T10:00:00", "PC-E3")).unwrap();
    assert!(before_verdict.explanation.is_none(), "not explained while in 戸籍係");
    assert!(before.iter().all(|f| f.rule != "relative_lookup"));
}

#[test]
fn a_relative_on_a_colleagues_caseload_does_not_explain_ones_own_look_up() {
    // C2 is E2's welfare case for R5; E2's look-up is business, E1's is not.
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    let mine = d.observe(0, &access("juki", "J2", "R5", "2024-03-01T10:00:00", "PC-E2")).unwrap();
    let theirs = d.observe(1, &access("juki", "J1", "R5", "2024-03-01T10:05:00", "PC-E1")).unwrap();
    assert_eq!(mine.explanation, Some(mamori_enrich::Explanation::Case("C2".into())));
    assert_eq!(theirs.explanation, None);
}

#[test]
fn batch_work_is_explained() {
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    let v = d.observe(0, &access("juki", "9000", "R9", "2024-03-01T02:00:00", "BATCH-01")).unwrap();
    assert_eq!(v.explanation, Some(mamori_enrich::Explanation::Batch));
    assert!(d.findings().is_empty(), "a batch touching the mayor's record is not a VIP finding");
}

#[test]
fn s2_work_on_a_colleagues_unlocked_terminal_while_they_are_out_is_flagged() {
    let f = run(&[
        windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
        badge("E2", "out", "2024-03-01T12:02:00"),
        access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E2"),
    ]);
    let borrowed: Vec<_> = f.iter().filter(|x| x.rule == "terminal_borrowing").collect();
    assert_eq!(borrowed.len(), 1, "{f:?}");
    assert_eq!(borrowed[0].devices, ["PC-E2"]);
    assert!(borrowed[0].explanation_ja.contains("離席中"));
}

#[test]
fn a_locked_terminal_or_ones_own_is_not_borrowing() {
    let f = run(&[
        windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
        windows("e2", "lock", "2024-03-01T12:00:00", "PC-E2"),
        windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"),
        access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E1"),
        access("juki", "J2", "R5", "2024-03-01T12:16:00", "PC-E2"),
    ]);
    assert!(f.iter().all(|x| x.rule != "terminal_borrowing"), "{f:?}");
}

fn usb(serial: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1010,"activity_id":1,"time":t,"actor":{"user":{"uid":format!("{host}$")}},"device":{"hostname":host},
        "peripheral_device":{"serial_number":serial},"metadata":{"product":"win-security"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s7_approved_usb_on_an_unmanaged_terminal_and_a_personal_one_after_it_are_flagged() {
    let f = run(&[usb("SUSB-1", "2024-03-01T17:40:00", "UKETSUKE"), usb("PERSONAL-9", "2024-03-01T17:43:00", "UKETSUKE")]);
    assert_eq!(rules(&f), [("approved_device_on_unmanaged_terminal", "E1", 1), ("unapproved_device", "E1", 1)]);
    assert!(f[1].explanation_ja.contains("PERSONAL-9"));
}

#[test]
fn an_approved_usb_on_its_owners_managed_pc_is_ordinary_work() {
    assert!(run(&[usb("SUSB-1", "2024-03-01T10:00:00", "PC-E1")]).is_empty());
}

fn share_open(user: &str, path: &str, when: &str, host: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1001,"activity_id":2,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "file":{"path":path},"metadata":{"product":"samba"},"unmapped":{"share":"jinji"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s4_a_restricted_share_read_through_the_admin_account_is_charged_to_the_sessions_owner() {
    let f = run(&[
        windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
        share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "pc-e2"),
        share_open("admin01", "人事評価/0002.xlsx", "2024-03-04T17:00:00", "pc-e2"),
        share_open("admin01", "人事評価/0002.xlsx", "2024-03-04T17:01:00", "pc-e2"),
    ]);
    assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 3)]);
    assert_eq!(f[0].files.len(), 2, "distinct files, not opens");
    assert!(f[0].explanation_ja.contains("admin01"));
}

#[test]
fn a_share_used_by_no_known_person_is_not_charged_to_anyone() {
    // No session on the terminal: the admin account's work cannot be charged to a person.
    assert!(run(&[share_open("admin01", "人事評価/0001.xlsx", "2024-03-01T17:00:00", "pc-x")]).is_empty());
}

fn handover_open(user: &str, path: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":1001,"activity_id":2,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":"pc"},
        "file":{"path":path},"metadata":{"product":"samba"},"unmapped":{"share":"hikitsugi"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s9_handover_files_of_other_sections_are_flagged_and_ones_own_succession_is_not() {
    // E3 moves from 戸籍係 (D110) to 福祉課 (D300) on 1 April: both folders are theirs to
    // read. E1 stays in 福祉課: D300 is theirs, 人事 (D400) is not.
    let f = run(&[
        handover_open("e3", "D110/引継書_001.docx", "2024-03-28T10:00:00"),
        handover_open("e3", "D300/引継書_002.docx", "2024-03-28T10:05:00"),
        handover_open("e1", "D300/引継書_002.docx", "2024-03-28T11:00:00"),
        handover_open("e1", "D400/引継書_009.docx", "2024-03-28T11:05:00"),
    ]);
    assert_eq!(rules(&f), [("broad_access_outside_need", "E1", 1)]);
}

/// A journaled mail from `from` with an attachment naming `residents` (as the mail adapter
/// writes it: recipients outside the organisation and personal ones already sorted out).
fn mail(from: &str, to: &str, residents: &[&str], when: &str, encrypted: bool) -> Event {
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

#[test]
fn s8_resident_data_mailed_home_is_flagged_with_every_resident_involved() {
    let f = run(&[
        mail("e2@city.example.lg.jp", "kaori.55@gmail.com", &["R1", "R2"], "2024-05-01T19:00:00", false),
        mail("e2@city.example.lg.jp", "kaori.55@gmail.com", &["R2", "R5"], "2024-05-08T19:30:00", false),
    ]);
    assert_eq!(rules(&f), [("personal_data_to_personal_address", "E2", 2)]);
    assert_eq!(f[0].residents, ["R1", "R2", "R5"]);
    assert_eq!(f[0].mails.len(), 2);
}

#[test]
fn s8_registry_extract_mailed_to_a_colleague_whose_new_role_has_no_records_is_flagged() {
    // E4 left the residents' section in 2023; E1 (福祉課, with records) is a fair recipient.
    let f = run(&[
        mail("e2@city.example.lg.jp", "e4@city.example.lg.jp", &["R1", "R3"], "2024-05-01T18:40:00", false),
        mail("e2@city.example.lg.jp", "e1@city.example.lg.jp", &["R5"], "2024-05-01T10:00:00", false),
    ]);
    assert_eq!(rules(&f), [("personal_data_to_role_without_access", "E2", 1)]);
    assert_eq!(f[0].employees, ["E2", "E4"], "the recipient is named in the finding");
}

#[test]
fn s10_personal_data_to_an_outside_company_is_flagged_and_to_another_public_body_is_not() {
    let f = run(&[
        mail("e1@city.example.lg.jp", "sales@nexus.example.co.jp", &["R1", "R2", "R3"], "2024-05-01T12:10:00", false),
        mail("e1@city.example.lg.jp", "hogo@pref.example.lg.jp", &["R5"], "2024-05-02T10:00:00", false),
        mail("e1@city.example.lg.jp", "nenkin@nenkin.go.jp", &["R5"], "2024-05-02T11:00:00", false),
    ]);
    assert_eq!(rules(&f), [("personal_data_to_outside_organisation", "E1", 1)]);
}

#[test]
fn a_password_zip_to_a_trusted_office_is_ordinary_and_to_a_stranger_is_worth_a_look() {
    let f = run(&[
        mail("e1@city.example.lg.jp", "tantou@pref.example.lg.jp", &[], "2024-05-01T10:00:00", true),
        mail("e1@city.example.lg.jp", "x@unknown.example.com", &[], "2024-05-01T11:00:00", true),
    ]);
    assert_eq!(rules(&f), [("uninspectable_attachment_outside", "E1", 1)]);
    assert_eq!(f[0].severity, mamori_model::Severity::Medium);
}

#[test]
fn trusted_mail_domains_come_from_the_config() {
    let master = office();
    let dir = Directory::new(&master);
    let config: mamori_detect::Config = toml_config("[mail]\ntrusted_domains = [\"lg.jp\", \"nexus.example.co.jp\"]\n");
    let mut d = Detector::with_config(&dir, config);
    d.observe(0, &mail("e1@city.example.lg.jp", "sales@nexus.example.co.jp", &["R1"], "2024-05-01T12:10:00", false));
    assert!(d.findings().is_empty());
}

fn toml_config(text: &str) -> mamori_detect::Config {
    toml::from_str(text).unwrap()
}

fn policy(user: &str, host: &str, when: &str, reduced: bool) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":5019,"activity_id":1,"time":t,"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"unmapped":{"operation":"audit-policy-change","audit_reduced":reduced,
        "audit_changes":if reduced { "success removed, failure removed" } else { "success added" }}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s8_auditing_turned_off_on_the_pc_of_someone_one_takes_personal_data_from_is_flagged_high() {
    let f = run(&[
        windows("e2", "logon", "2024-05-01T08:30:00", "PC-E2"),
        windows("e2", "logoff", "2024-05-01T17:30:00", "PC-E2"),
        mail("e2@city.example.lg.jp", "e4@city.example.lg.jp", &["R1"], "2024-05-01T18:40:00", false),
        policy("e4", "PC-E2", "2024-05-02T18:05:00", true),
    ]);
    let audit = f.iter().find(|f| f.rule.starts_with("audit")).expect("an audit finding");
    assert_eq!((audit.rule.as_str(), audit.severity), ("audit_reduced_by_interested_party", mamori_model::Severity::High));
    assert_eq!(audit.employees, ["E4", "E2"]);
}

#[test]
fn auditing_added_is_routine_and_turned_off_by_a_stranger_is_medium() {
    let f = run(&[
        windows("e1", "logon", "2024-05-01T08:30:00", "PC-E1"),
        policy("e4", "PC-E1", "2024-05-02T08:45:00", false),
        policy("e4", "PC-E1", "2024-05-03T08:45:00", true),
    ]);
    assert_eq!(rules(&f), [("audit_reduced", "E4", 1)]);
    assert_eq!(f[0].severity, mamori_model::Severity::Medium);
}

fn permit(account: &str, resident: &str, when: &str, activity: u8, case: Option<&str>) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let mut v = json!({"class_uid":6005,"activity_id":activity,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":"PC-E2"},
        "metadata":{"product":"saijo"},"unmapped":{"resident":{"uid":resident}}});
    if let Some(c) = case {
        v["unmapped"]["case_no"] = json!(c);
    }
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s6_reading_others_new_permits_on_three_days_is_flagged_when_the_third_day_comes() {
    let f = run(&[
        permit("S1", "D1", "2024-05-01T10:00:00", 6, Some("P1")),
        permit("S1", "D2", "2024-05-02T10:00:00", 6, Some("P2")),
        permit("S1", "D3", "2024-05-06T10:00:00", 6, Some("P3")),
        permit("S2", "D1", "2024-05-01T17:40:00", 1, None),
        permit("S2", "D2", "2024-05-03T17:40:00", 1, None),
        permit("S2", "D3", "2024-05-07T17:40:00", 1, None),
    ]);
    assert_eq!(rules(&f), [("new_record_extraction", "E2", 3)]);
    let third = chrono::DateTime::parse_from_rfc3339("2024-05-07T17:40:00+09:00").unwrap().timestamp_millis();
    assert_eq!(f[0].detected_at, third, "found when the habit shows, not back-dated to the first read");
}

#[test]
fn reading_a_new_record_twice_or_an_old_one_or_ones_own_is_not_extraction() {
    let f = run(&[
        permit("S1", "D1", "2024-05-01T10:00:00", 6, Some("P1")),
        permit("S2", "D2", "2024-05-01T10:00:00", 6, Some("P2")),
        permit("S2", "D1", "2024-05-01T17:40:00", 1, None),
        permit("S2", "D1", "2024-05-03T17:40:00", 1, None),
        permit("S2", "D1", "2024-05-20T17:40:00", 1, None), // past the fresh window
        permit("S2", "D2", "2024-05-04T17:40:00", 1, None), // registered it themself
    ]);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn s5_an_acl_change_is_not_a_read_and_outsiders_who_open_the_share_afterwards_are_flagged() {
    let acl = {
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T08:50:00+09:00").unwrap().timestamp_millis();
        let v = json!({"class_uid":1001,"activity_id":7,"time":t,"actor":{"user":{"uid":"admin01"}},"device":{"hostname":"pc-e1"},
            "metadata":{"product":"samba"},"file":{"path":"."},"unmapped":{"share":"jinji","operation":"set-acl"}});
        Event::from_json(v.to_string().as_bytes()).unwrap()
    };
    let f = run(&[
        windows("e1", "logon", "2024-05-01T08:30:00", "PC-E1"),
        acl,
        share_open("e2", "健診/名簿.xlsx", "2024-05-01T10:00:00", "pc-e2"),
    ]);
    assert_eq!(rules(&f), [("restricted_share_non_owner", "E2", 1)]);
}

#[test]
fn risk_rolls_findings_up_per_employee_and_old_findings_fade_by_the_half_life() {
    let day = 86_400_000i64;
    let finding = |id: &str, employee: &str, severity, evidence: usize, to: i64| Finding {
        id: id.into(),
        rule: id.into(),
        severity,
        employees: vec![employee.into()],
        residents: vec![],
        files: vec![],
        devices: vec![],
        mails: vec![],
        from: 0,
        to,
        detected_at: 0,
        evidence: (0..evidence as u64).collect(),
        explanation_ja: String::new(),
        explanation_en: String::new(),
    };
    use mamori_model::Severity::{High, Medium};
    let now = 100 * day;
    let findings = [
        finding("a", "E1", High, 1, now),
        finding("b", "E1", Medium, 1, now),
        finding("c", "E2", High, 1, now - 30 * day),
        finding("d", "E3", High, 100, now),
    ];
    let r = mamori_detect::risk(&findings, now, &mamori_detect::RiskConfig { half_life_days: 30.0 });
    let score = |e: &str| r.iter().find(|x| x.employee == e).unwrap().score;
    assert!((score("E1") - 13.0).abs() < 1e-9, "10 + 3: {}", score("E1"));
    assert!((score("E2") - 5.0).abs() < 1e-9, "one half-life ago counts half: {}", score("E2"));
    assert!(score("E3") > score("E1") && score("E3") < 10.0 * 7.0, "a hundred look-ups weigh more, not a hundred times more");
    assert_eq!(r.iter().map(|x| x.employee.as_str()).collect::<Vec<_>>(), ["E3", "E1", "E2"]);
    assert_eq!(r[1].findings[0].0, "a", "the strongest finding first");
}

#[test]
fn s1_the_same_surname_on_the_next_block_is_a_relation_and_further_down_the_street_is_not() {
    let f = run(&[
        access("juki", "J1", "R6", "2024-03-01T10:00:00", "PC-E1"), // 佐藤, 一丁目2番: next door
        access("juki", "J1", "R7", "2024-03-01T10:05:00", "PC-E1"), // 佐藤, 一丁目9番
    ]);
    assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
    assert_eq!(f[0].residents, ["R6"]);
    assert!(f[0].explanation_ja.contains("同姓・近隣"), "{}", f[0].explanation_ja);
}

#[test]
fn a_colleagues_own_record_looked_up_without_business_is_a_question_for_the_manager() {
    let f = run(&[access("juki", "J2", "R1", "2024-03-01T10:00:00", "PC-E2")]);
    assert_eq!(rules(&f), [("colleague_lookup", "E2", 1)]);
    assert_eq!(f[0].severity, mamori_model::Severity::Medium);
}

#[test]
fn s8_a_registry_account_closed_at_its_holders_transfer_still_used_is_flagged_on_the_holder() {
    // J4 was E4's until 31 March 2023, when E4 moved to information policy.
    let f = run(&[access("juki", "J4", "R5", "2024-05-01T19:00:00", "PC-E4"), access("juki", "J4", "R5", "2023-03-01T10:00:00", "PC-E4")]);
    let lapsed: Vec<_> = f.iter().filter(|f| f.rule == "access_after_transfer_or_retirement").collect();
    assert_eq!(lapsed.len(), 1, "{f:?}");
    assert_eq!((lapsed[0].employees[0].as_str(), lapsed[0].evidence.as_slice()), ("E4", &[0u64][..]), "only the access after the account ended");
    assert!(lapsed[0].explanation_ja.contains("2023-03-31"), "{}", lapsed[0].explanation_ja);
}

fn copy(account: &str, when: &str, n: usize) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis() + n as i64 * 60_000;
    let v = json!({"class_uid":1010,"activity_id":3,"time":t,"actor":{"user":{"uid":account}},"device":{"hostname":"PC-E1"},
        "metadata":{"product":"endpoint"},"file":{"path":format!("E:\\\\f{n}.csv")},"peripheral_device":{"serial_number":"SUSB-1"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s7_a_day_of_copies_far_above_ones_usual_is_flagged_and_the_usual_few_are_not() {
    let mut events: Vec<Event> = Vec::new();
    for (day, n) in [("2024-03-01", 2), ("2024-03-04", 3), ("2024-03-05", 1)] {
        events.extend((0..n).map(|i| copy("e1", &format!("{day}T10:00:00"), i)));
    }
    let quiet = run(&events);
    assert!(quiet.iter().all(|f| f.rule != "usb_copy_volume"), "{quiet:?}");
    events.extend((0..8).map(|i| copy("e1", "2024-03-06T16:00:00", i)));
    let f = run(&events);
    let spike = f.iter().find(|f| f.rule == "usb_copy_volume").expect("8 copies against a usual 3");
    assert_eq!(spike.evidence.len(), 2, "the copies past the limit of 6 (2 × 3) are the evidence");
    assert_eq!(spike.severity, mamori_model::Severity::Medium);
}

#[test]
fn record_look_ups_are_judged_against_ones_own_usual_day() {
    let mut events = Vec::new();
    // Ten ordinary days of 30 look-ups (with a case, so nothing else fires), then 100.
    for d in 0..11u32 {
        let n = if d < 10 { 30 } else { 100 };
        for i in 0..n {
            let mut e = access("juki", "J2", "R5", &format!("2024-01-{:02}T{:02}:{:02}:00", 10 + d, 9 + i / 60, i % 60), "PC-E2");
            e.unmapped.extra.insert("case_no".into(), "C2".into());
            events.push(e);
        }
    }
    let f = run(&events);
    let spike = f.iter().find(|f| f.rule == "lookup_volume").expect("100 against a usual 30");
    assert_eq!(spike.evidence.len(), 100 - 90, "past three times the usual 30");
    let ordinary = run(&events[..300]);
    assert!(ordinary.iter().all(|f| f.rule != "lookup_volume"));
}

#[test]
fn s2_the_finding_names_who_was_badged_into_the_room_and_that_the_employee_was_logged_on_elsewhere() {
    let f = run(&[
        windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
        windows("e1", "logon", "2024-03-01T08:35:00", "PC-E1"),
        badge("E1", "in", "2024-03-01T08:25:00"),
        badge("E3", "in", "2024-03-01T08:40:00"),
        badge("E2", "in", "2024-03-01T08:20:00"),
        badge("E2", "out", "2024-03-01T12:02:00"),
        access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E2"),
    ]);
    let borrowed = f.iter().find(|x| x.rule == "terminal_borrowing").expect("borrowing");
    assert!(borrowed.explanation_ja.contains("入室中: E1・E3"), "{}", borrowed.explanation_ja);
    assert!(borrowed.explanation_ja.contains("本人は PC-E1 にもログオン中"), "{}", borrowed.explanation_ja);
}

#[test]
fn s4_the_admin_account_used_from_a_terminal_outside_information_policy_is_flagged_when_configured() {
    let master = office();
    let dir = Directory::new(&master);
    let events = [windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"), share_open("admin01", "評価/a.xlsx", "2024-03-01T17:00:00", "pc-e1")];
    let run_with = |config: mamori_detect::Config| {
        let mut d = Detector::with_config(&dir, config);
        for (i, e) in events.iter().enumerate() {
            d.observe(i as u64, e);
        }
        d.findings().into_iter().map(|f| f.rule).collect::<Vec<_>>()
    };
    let unconfigured = run_with(mamori_detect::Config::default());
    assert!(!unconfigured.iter().any(|r| r == "privileged_account_outside_admin_terminals"), "{unconfigured:?}");
    let configured = run_with(toml_config("[privileged]\nadmin_departments = [\"D800\"]\n"));
    assert!(configured.iter().any(|r| r == "privileged_account_outside_admin_terminals"), "{configured:?}");
}

#[test]
fn s2_lock_policy_compliance_counts_leaving_a_session_locked_and_unlocked() {
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    let events = [
        windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"),
        windows("e1", "lock", "2024-03-01T12:00:00", "PC-E1"),
        badge("E1", "out", "2024-03-01T12:02:00"),
        badge("E1", "in", "2024-03-01T12:50:00"),
        windows("e1", "unlock", "2024-03-01T12:52:00", "PC-E1"),
        badge("E1", "out", "2024-03-01T15:00:00"),
        windows("e1", "logoff", "2024-03-01T17:30:00", "PC-E1"),
        badge("E1", "out", "2024-03-01T17:32:00"),
    ];
    for (i, e) in events.iter().enumerate() {
        d.observe(i as u64, e);
    }
    let c: Vec<_> = d.lock_compliance().collect();
    assert_eq!(c, [(&("E1".to_owned(), "2024-03".to_owned()), &(1, 1))], "locked at lunch, not at 15:00; logged off in the evening");
}

fn agent_start(host: &str, when: &str) -> Event {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis();
    let v = json!({"class_uid":3002,"activity_id":1,"time":t,"actor":{"user":{"uid":"e1"}},"device":{"hostname":host},
        "metadata":{"product":"endpoint-ops"},"unmapped":{"operation":"agent-start"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn s7_a_terminal_whose_endpoint_agent_falls_silent_while_logons_go_on_is_flagged_on_the_second_day() {
    let f = run(&[
        agent_start("PC-E1", "2024-03-04T08:30:00"),
        windows("e1", "logon", "2024-03-04T08:31:00", "PC-E1"),
        windows("e1", "logon", "2024-03-05T08:31:00", "PC-E1"), // silent day 1
        windows("e1", "logon", "2024-03-06T08:31:00", "PC-E1"), // silent day 2
        windows("e1", "logon", "2024-03-07T08:31:00", "PC-E1"), // and on
    ]);
    let silent = f.iter().find(|f| f.rule == "endpoint_agent_silent").expect("silence");
    assert_eq!((silent.employees[0].as_str(), silent.evidence.as_slice()), ("E1", &[2u64, 3, 4][..]));
    let third = chrono::DateTime::parse_from_rfc3339("2024-03-06T08:31:00+09:00").unwrap().timestamp_millis();
    assert_eq!(silent.detected_at, third, "found on the second silent day");
    assert_eq!(silent.devices, ["PC-E1"]);
    let reporting = run(&[
        agent_start("PC-E1", "2024-03-04T08:30:00"),
        windows("e1", "logon", "2024-03-04T08:31:00", "PC-E1"),
        agent_start("PC-E1", "2024-03-05T08:30:00"),
        windows("e1", "logon", "2024-03-05T08:31:00", "PC-E1"),
        windows("e1", "logon", "2024-03-06T08:31:00", "PC-E1"),
        windows("e2", "logon", "2024-03-06T08:31:00", "UKETSUKE"), // no agent there at all: not silence
    ]);
    assert!(reporting.iter().all(|f| f.rule != "endpoint_agent_silent"), "{reporting:?}");
}

/// Ten ordinary weekdays of look-ups by E1 and E2 (福祉課), with a case behind each.
fn ordinary_days() -> Vec<Event> {
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

#[test]
fn a_look_up_at_22_00_by_someone_who_never_works_late_is_flagged_and_in_the_busy_season_is_not() {
    let mut events = ordinary_days();
    let mut late = access("juki", "J1", "R5", "2024-01-23T22:10:00", "PC-1");
    late.unmapped.extra.insert("case_no".into(), "C2".into());
    events.push(late.clone());
    let f = run(&events);
    let odd = f.iter().find(|f| f.rule == "after_hours_unusual").expect("unusual");
    assert_eq!((odd.employees[0].as_str(), odd.severity), ("E1", mamori_model::Severity::Medium));
    let master = office();
    let dir = Directory::new(&master);
    let config = toml_config("[after_hours]\nseasons = [{ department = \"D300\", from = \"01-20\", to = \"01-31\" }]\n");
    let mut d = Detector::with_config(&dir, config);
    for (i, e) in events.iter().enumerate() {
        d.observe(i as u64, e);
    }
    assert!(d.findings().iter().all(|f| f.rule != "after_hours_unusual"), "the section's busy season");
}

#[test]
fn working_late_when_the_section_does_is_not_unusual() {
    let mut events = ordinary_days();
    for (acct, t) in [("J2", "2024-01-23T21:00:00"), ("J1", "2024-01-23T22:10:00")] {
        let mut e = access("juki", acct, "R5", t, "PC-1");
        e.unmapped.extra.insert("case_no".into(), "C2".into());
        events.push(e);
    }
    let f = run(&events);
    let flagged: Vec<&str> = f.iter().filter(|f| f.rule == "after_hours_unusual").map(|f| f.employees[0].as_str()).collect();
    assert_eq!(flagged, ["E2"], "the first to stay late is news; the second, with a colleague already there, is not");
}

#[test]
fn a_newcomers_look_ups_are_judged_against_their_peers_usual_day() {
    // E1 (福祉課 staff) has ten days of 30 look-ups; E2, the same role, arrives with 100.
    let mut events = Vec::new();
    for d in [9u32, 10, 11, 12, 15, 16, 17, 18, 19, 22] {
        for i in 0..30 {
            let mut e = access("juki", "J1", "R5", &format!("2024-01-{d:02}T{:02}:{:02}:00", 9 + i / 60, i % 60), "PC-1");
            e.unmapped.extra.insert("case_no".into(), "C2".into());
            events.push(e);
        }
    }
    for i in 0..100 {
        let mut e = access("juki", "J2", "R5", &format!("2024-01-23T{:02}:{:02}:00", 9 + i / 60, i % 60), "PC-2");
        e.unmapped.extra.insert("case_no".into(), "C2".into());
        events.push(e);
    }
    let f = run(&events);
    let spike = f.iter().find(|f| f.rule == "lookup_volume").expect("100 against the peers' usual 30");
    assert_eq!(spike.employees, ["E2"]);
    assert_eq!(spike.evidence.len(), 10, "past three times the peers' 30");
}
