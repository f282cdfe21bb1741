//! The Sigma rules mamori ships (`rules/sigma`), one by one, against what they must match
//! and what they must not: a single-event rule and each correlation type.

use mamori_enrich::Directory;
use mamori_model::master::MasterData;
use mamori_model::{Event, Finding};
use mamori_sigma::SigmaRules;
use serde_json::json;

fn office() -> MasterData {
    serde_json::from_value(json!({
        "departments": [{"code":"D100","name":"市民課"}],
        "employees": [{"id":"E1","name":"佐藤 一","hired":"2010-04-01"},{"id":"E2","name":"鈴木 二","hired":"2010-04-01"}],
        "assignments": [
            {"employee_id":"E1","department":"D100","role":"staff","from":"2010-04-01"},
            {"employee_id":"E2","department":"D100","role":"staff","from":"2010-04-01"}],
        "accounts": [
            {"system":"juki","account":"J1","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"juki","account":"J2","employee_id":"E2","kind":"personal","from":"2010-04-01"},
            {"system":"windows","account":"e1","employee_id":"E1","kind":"personal","from":"2010-04-01"},
            {"system":"mail","account":"e1@city.example.lg.jp","employee_id":"E1","kind":"personal","from":"2010-04-01"}],
        "holidays": [{"date":"2024-05-03","name":"憲法記念日"}]
    }))
    .unwrap()
}

fn rules_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma")
}

/// Runs one shipped rule file (and the pipeline) over the events; explained accesses
/// are those given an explanation.
fn run(file: &str, events: &[(Event, Option<&str>)]) -> Vec<Finding> {
    let master = office();
    let dir = Directory::new(&master);
    let text = std::fs::read_to_string(rules_dir().join(file)).unwrap();
    let pipeline = std::fs::read_to_string(rules_dir().join("pipeline.yml")).unwrap();
    let mut rules = SigmaRules::new(&dir, &[(file.to_owned(), text)], Some(&pipeline)).unwrap();
    for (i, (e, why)) in events.iter().enumerate() {
        rules.observe(i as u64, e, None, *why);
    }
    rules.findings()
}

fn ms(when: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("{when}+09:00")).unwrap().timestamp_millis()
}

fn access(account: &str, resident: &str, when: &str) -> Event {
    let v = json!({"class_uid":6005,"activity_id":1,"time":ms(when),"actor":{"user":{"uid":account}},"device":{"hostname":"PC-1"},
        "metadata":{"product":"juki"},"unmapped":{"resident":{"uid":resident}}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn usb(user: &str, host: &str, when: &str) -> Event {
    let v = json!({"class_uid":1010,"activity_id":1,"time":ms(when),"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"peripheral_device":{"serial_number":"X1"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn mail(when: &str, rows: u64) -> Event {
    let v = json!({"class_uid":4009,"activity_id":1,"time":ms(when),"actor":{"user":{"uid":"e1@city.example.lg.jp"}},"metadata":{"product":"mail"},
        "email":{"from":"e1@city.example.lg.jp","to":["x@gmail.com"]},
        "unmapped":{"external_recipients":["x@gmail.com"],"personal_recipients":["x@gmail.com"],"personal_data":{"rows":rows,"residents":[]}}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn audit_off(user: &str, host: &str, when: &str) -> Event {
    let v = json!({"class_uid":5019,"activity_id":1,"time":ms(when),"actor":{"user":{"uid":user}},"device":{"hostname":host},
        "metadata":{"product":"win-security"},"unmapped":{"audit_reduced":true}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn ids(f: &[Finding]) -> Vec<(String, String, usize)> {
    f.iter().map(|f| (f.rule.clone(), f.employees[0].clone(), f.evidence.len())).collect()
}

#[test]
fn a_look_up_without_business_on_a_holiday_is_flagged_and_on_a_weekday_or_with_a_case_is_not() {
    let f = run(
        "mamori_unexplained_lookup_on_day_off.yml",
        &[
            (access("J1", "R1", "2024-05-03T10:00:00"), None),          // 憲法記念日
            (access("J1", "R2", "2024-05-04T10:00:00"), Some("case:1")), // Saturday, with a case
            (access("J1", "R3", "2024-05-07T10:00:00"), None),          // Tuesday
        ],
    );
    assert_eq!(ids(&f), [("sigma:5f0a7a2e-3c1d-4a57-9d0e-1b2a6c7d8e01".into(), "E1".into(), 1)]);
    assert_eq!(f[0].residents, ["R1"]);
    assert_eq!(f[0].severity, mamori_model::Severity::Medium);
    assert!(f[0].explanation_ja.contains("休日の業務記録なし照会"));
}

#[test]
fn a_look_up_without_business_at_22_00_is_flagged_and_at_20_00_is_not() {
    let f = run(
        "mamori_unexplained_lookup_late_at_night.yml",
        &[(access("J1", "R1", "2024-05-07T22:10:00"), None), (access("J1", "R2", "2024-05-07T20:00:00"), None)],
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].residents, ["R1"]);
}

#[test]
fn event_count_thirty_unexplained_look_ups_in_a_day_are_flagged_and_twenty_nine_are_not() {
    let day = |n: usize, account: &str, date: &str| -> Vec<(Event, Option<&'static str>)> {
        (0..n).map(|i| (access(account, &format!("R{}", i % 5), &format!("{date}T{:02}:{:02}:00", 9 + i / 60, i % 60)), None)).collect()
    };
    let mut events = day(30, "J1", "2024-05-07");
    events.extend(day(29, "J2", "2024-05-07"));
    let f = run("mamori_bulk_unexplained_lookups.yml", &events);
    assert_eq!(ids(&f), [("sigma:5f0a7a2e-3c1d-4a57-9d0e-1b2a6c7d8e11".into(), "E1".into(), 30)], "the thirty are its evidence");
    assert_eq!(f[0].severity, mamori_model::Severity::High);
}

#[test]
fn look_ups_by_accounts_no_one_can_be_charged_to_are_counted_per_account_not_together() {
    // Twenty unknown accounts, two unexplained look-ups each: forty look-ups that belong to
    // twenty people, not one person's thirty.
    let events: Vec<(Event, Option<&str>)> =
        (0..40).map(|i| (access(&format!("X{}", i % 20), &format!("R{i}"), &format!("2024-05-07T10:{:02}:00", i % 60)), None)).collect();
    let f = run("mamori_bulk_unexplained_lookups.yml", &events);
    assert!(f.is_empty(), "unknown accounts grouped together: {:?}", ids(&f));
}

#[test]
fn value_count_twenty_different_residents_are_flagged_and_many_look_ups_of_a_few_are_not() {
    let mut events: Vec<(Event, Option<&str>)> = (0..20).map(|i| (access("J1", &format!("R{i}"), &format!("2024-05-07T10:{i:02}:00")), None)).collect();
    events.extend((0..25).map(|i| (access("J2", &format!("R{}", i % 4), &format!("2024-05-07T11:{i:02}:00")), None)));
    let f = run("mamori_many_residents_unexplained.yml", &events);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].employees, ["E1"]);
    assert_eq!(f[0].residents.len(), 20);
}

#[test]
fn temporal_personal_data_mailed_out_and_a_usb_the_same_day_are_flagged_and_mail_alone_is_not() {
    let alone = run("mamori_personal_data_out_and_usb_same_day.yml", &[(mail("2024-05-07T18:00:00", 40), None)]);
    assert!(alone.is_empty(), "{alone:?}");
    let f = run(
        "mamori_personal_data_out_and_usb_same_day.yml",
        &[(mail("2024-05-07T18:00:00", 40), None), (usb("e1", "PC-1", "2024-05-07T18:30:00"), None)],
    );
    assert_eq!(ids(&f), [("sigma:5f0a7a2e-3c1d-4a57-9d0e-1b2a6c7d8e32".into(), "E1".into(), 2)]);
    let empty_mail = run(
        "mamori_personal_data_out_and_usb_same_day.yml",
        &[(mail("2024-05-07T18:00:00", 0), None), (usb("e1", "PC-1", "2024-05-07T18:30:00"), None)],
    );
    assert!(empty_mail.is_empty(), "a mail with no personal data is not half of it");
    let mut blocked = usb("e1", "PC-1", "2024-05-07T18:30:00");
    blocked.status_id = mamori_model::StatusId::Failure;
    let f = run("mamori_personal_data_out_and_usb_same_day.yml", &[(mail("2024-05-07T18:00:00", 40), None), (blocked, None)]);
    assert!(f.is_empty(), "a device the agent blocked carried nothing: {f:?}");
}

#[test]
fn temporal_ordered_auditing_off_then_a_usb_on_that_terminal_is_flagged_and_the_other_order_is_not() {
    let f = run(
        "mamori_audit_off_then_usb.yml",
        &[(audit_off("e2", "PC-B", "2024-05-07T18:05:00"), None), (usb("e1", "PC-B", "2024-05-09T17:00:00"), None)],
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].evidence.len(), 2);
    let reversed = run(
        "mamori_audit_off_then_usb.yml",
        &[(usb("e1", "PC-C", "2024-05-07T17:00:00"), None), (audit_off("e2", "PC-C", "2024-05-09T18:05:00"), None)],
    );
    assert!(reversed.is_empty(), "{reversed:?}");
}

#[test]
fn the_pipeline_lets_a_rule_in_windows_field_names_run_and_a_broken_rule_is_an_error_naming_its_file() {
    let master = office();
    let dir = Directory::new(&master);
    let pipeline = std::fs::read_to_string(rules_dir().join("pipeline.yml")).unwrap();
    let rule = "title: Reception PC\nid: t-1\nlogsource:\n  product: mamori\ndetection:\n  sel:\n    Computer|startswith: 'UKETSUKE'\n  condition: sel\nlevel: high\n";
    let mut rules = SigmaRules::new(&dir, &[("reception.yml".into(), rule.into())], Some(&pipeline)).unwrap();
    rules.observe(1, &usb("e1", "UKETSUKE-01", "2024-05-07T17:40:00"), None, None);
    rules.observe(2, &usb("e1", "PC-1", "2024-05-07T17:41:00"), None, None);
    let f = rules.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence, [1]);
    let err = SigmaRules::new(&dir, &[("broken.yml".into(), "title: x\ndetection: [\n".into())], None).err().expect("an error");
    assert!(err.contains("broken.yml"), "{err}");
}

#[test]
fn hard_negatives_counter_volume_and_tax_season_overtime_with_business_on_file_raise_nothing() {
    // A counter clerk's 300 look-ups of a day, every one with its visit; and tax staff
    // working to 20:45 in March on filings.
    let mut events: Vec<(Event, Option<&str>)> =
        (0..300).map(|i| (access("J1", &format!("R{i}"), &format!("2024-03-04T{:02}:{:02}:00", 9 + i / 40, i % 40)), Some("visit:V1"))).collect();
    events.extend((0..20).map(|i| (access("J2", &format!("R{i}"), &format!("2024-03-04T20:{:02}:00", i * 2)), Some("case:R6-1"))));
    for file in SHIPPED_FILES {
        let f = run(file, &events);
        assert!(f.is_empty(), "{file}: {f:?}");
    }
}

const SHIPPED_FILES: [&str; 6] = [
    "mamori_unexplained_lookup_on_day_off.yml",
    "mamori_unexplained_lookup_late_at_night.yml",
    "mamori_bulk_unexplained_lookups.yml",
    "mamori_many_residents_unexplained.yml",
    "mamori_personal_data_out_and_usb_same_day.yml",
    "mamori_audit_off_then_usb.yml",
];
