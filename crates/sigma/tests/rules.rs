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
        "holidays": [{"date":"2024-05-03","name":"憲法記念日"}],
        "devices": [{"serial":"SUSB-1","owner":"E1","kind":"secure-usb","from":"2020-04-01"}]
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
    let mut rules = SigmaRules::new(&dir, &[(file.to_owned(), text)], Some(&pipeline)).unwrap().with_trusted_domains(vec!["lg.jp".into()]);
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
    let mut approved = usb("e1", "PC-1", "2024-05-07T18:30:00");
    approved.peripheral_device.as_mut().unwrap().serial_number = Some("SUSB-1".into());
    let f = run("mamori_personal_data_out_and_usb_same_day.yml", &[(mail("2024-05-07T18:00:00", 40), None), (approved, None)]);
    assert!(f.is_empty(), "the approved secure stick is the sanctioned path: {f:?}");
    let mut to_another_office = mail("2024-05-07T18:00:00", 40);
    to_another_office.email.as_mut().unwrap().to = vec!["kokuho@pref.example.lg.jp".into()];
    to_another_office.unmapped.extra.insert("external_recipients".into(), json!(["kokuho@pref.example.lg.jp"]));
    let f = run("mamori_personal_data_out_and_usb_same_day.yml", &[(to_another_office, None), (usb("e1", "PC-1", "2024-05-07T18:30:00"), None)]);
    assert!(f.is_empty(), "a reply to another public body (a trusted domain) is business: {f:?}");
}

/// A mail from E1 to `n` outside addresses, in To or in Bcc.
fn mail_to_many(n: usize, bcc: bool) -> Event {
    let outside: Vec<String> = (0..n).map(|i| format!("parent{i}@example{}.ne.jp", i % 4)).collect();
    let (to, hidden) = if bcc { (vec!["e1@city.example.lg.jp".to_owned()], outside.clone()) } else { (outside.clone(), Vec::new()) };
    let v = json!({"class_uid":4009,"activity_id":1,"time":ms("2024-05-07T16:00:00"),"actor":{"user":{"uid":"e1@city.example.lg.jp"}},"metadata":{"product":"mail"},
        "email":{"from":"e1@city.example.lg.jp","to":to,"bcc":hidden},"unmapped":{"external_recipients":outside}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn a_notice_with_a_dozen_outside_addresses_in_to_is_flagged_and_the_same_in_bcc_or_nine_are_not() {
    let file = "mamori_mail_many_outside_recipients_visible.yml";
    let f = run(file, &[(mail_to_many(12, false), None)]);
    assert_eq!(ids(&f), [("sigma:5f0a7a2e-3c1d-4a57-9d0e-1b2a6c7d8e50".into(), "E1".into(), 1)]);
    assert_eq!(f[0].title_ja, "外部の多数の宛先が互いに見えるメール（BCC 漏れ）");
    assert_eq!(f[0].title_en, "many outside recipients visible to each other");
    assert!(run(file, &[(mail_to_many(12, true), None)]).is_empty(), "Bcc hides them from each other");
    assert!(run(file, &[(mail_to_many(9, false), None)]).is_empty());
}

#[test]
fn value_sum_twenty_megabytes_to_file_sharing_in_a_day_is_flagged_and_less_or_to_the_towns_own_site_is_not() {
    let file = "mamori_large_upload_to_cloud_or_file_sharing.yml";
    let up = |url: &str, mb: u64, when: &str| (web("e1", url, "POST", mb * 1_000_000, when), None);
    let f = run(file, &[up("https://gigafile.nu/upload", 8, "2024-05-07T10:00:00"), up("https://gigafile.nu/upload", 8, "2024-05-07T10:05:00"), up("https://gigafile.nu/upload", 8, "2024-05-07T10:10:00")]);
    assert_eq!(ids(&f).len(), 1, "{f:?}");
    assert_eq!(f[0].severity, mamori_model::Severity::Medium);
    assert!(run(file, &[up("https://gigafile.nu/upload", 8, "2024-05-07T10:00:00"), up("https://gigafile.nu/upload", 8, "2024-05-07T10:05:00")]).is_empty());
    assert!(run(file, &[up("https://www.city.example.lg.jp/cms/upload", 50, "2024-05-07T10:00:00")]).is_empty(), "not a personal service");
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

const SHIPPED_FILES: [&str; 8] = [
    "mamori_unexplained_lookup_on_day_off.yml",
    "mamori_unexplained_lookup_late_at_night.yml",
    "mamori_bulk_unexplained_lookups.yml",
    "mamori_many_residents_unexplained.yml",
    "mamori_personal_data_out_and_usb_same_day.yml",
    "mamori_audit_off_then_usb.yml",
    "mamori_mail_many_outside_recipients_visible.yml",
    "mamori_large_upload_to_cloud_or_file_sharing.yml",
];

fn web(user: &str, url: &str, method: &str, bytes_out: u64, when: &str) -> Event {
    let v = json!({"class_uid":4002,"activity_id":3,"time":ms(when),"actor":{"user":{"uid":user}},"device":{"hostname":"PC-1"},
        "http_request":{"url":{"url_string":url},"http_method":method},"http_response":{"code":200},"traffic":{"bytes_out":bytes_out},
        "metadata":{"product":"proxy"}});
    Event::from_json(v.to_string().as_bytes()).unwrap()
}

fn one_rule(rule: &str, events: &[Event]) -> Result<Vec<Finding>, String> {
    let master = office();
    let dir = Directory::new(&master);
    let mut rules = SigmaRules::new(&dir, &[("web.yml".into(), rule.into())], None)?;
    for (i, e) in events.iter().enumerate() {
        rules.observe(i as u64, e, None, None);
    }
    Ok(rules.findings())
}

#[test]
fn web_fields_match_uploads_to_a_category_and_a_rule_naming_an_unknown_field_is_refused() {
    let rule = "title: upload to cloud storage\nid: web-1\nlogsource: {product: mamori}\nlevel: high\n\
        detection:\n  sel:\n    Class: http\n    UrlCategory: cloud_storage\n    HttpMethod: POST\n    BytesOut|gte: 1000000\n  condition: sel\n";
    let f = one_rule(
        rule,
        &[
            web("e1", "https://www.dropbox.com/upload", "POST", 5_000_000, "2024-05-07T10:00:00"),
            web("e1", "https://www.dropbox.com/home", "GET", 300, "2024-05-07T10:01:00"),
            web("e1", "https://www.city.example.lg.jp/upload", "POST", 5_000_000, "2024-05-07T10:02:00"),
        ],
    )
    .unwrap();
    assert_eq!(ids(&f), [("sigma:web-1".into(), "E1".into(), 1)]);
    let typo = rule.replace("UrlCategory", "UrlCategry");
    let err = one_rule(&typo, &[]).err().expect("refused");
    assert!(err.contains("UrlCategry") && err.contains("web.yml"), "{err}");
}

#[test]
fn every_field_offered_to_rules_is_in_the_documented_taxonomy() {
    let master = office();
    let dir = Directory::new(&master);
    let rules = SigmaRules::new(&dir, &[], None).unwrap();
    let doc = std::fs::read_to_string(rules_dir().join("../../docs/sigma.md")).unwrap();
    let events = [access("J1", "R1", "2024-05-07T10:00:00"), usb("e1", "PC-1", "2024-05-07T10:00:00"), mail("2024-05-07T10:00:00", 3), web("e1", "https://x.example/", "GET", 1, "2024-05-07T10:00:00")];
    for e in &events {
        let v = rules.fields(1, e, None, Some("visit:V1"));
        for key in v.as_object().unwrap().keys() {
            assert!(mamori_sigma::TAXONOMY.contains(&key.as_str()), "{key} is offered but not in TAXONOMY");
        }
    }
    for f in mamori_sigma::TAXONOMY.iter().filter(|f| **f != "event_id") {
        assert!(doc.contains(&format!("`{f}`")), "{f} is documented in docs/sigma.md");
    }
}

#[test]
fn two_rules_with_one_id_are_refused_naming_both_files() {
    let master = office();
    let dir = Directory::new(&master);
    let rule = "title: a\nid: same-1\nlogsource: {product: mamori}\nlevel: high\ndetection:\n  sel:\n    Class: email\n  condition: sel\n";
    let err = SigmaRules::new(&dir, &[("one.yml".into(), rule.into()), ("two.yml".into(), rule.replace("title: a", "title: b"))], None).err().expect("refused");
    assert!(err.contains("same-1") && err.contains("one.yml") && err.contains("two.yml"), "{err}");
    // The shipped rules among themselves.
    let files: Vec<(String, String)> = mamori_sigma::SHIPPED.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())).collect();
    let mut rules = SigmaRules::new(&dir, &files, Some(mamori_sigma::SHIPPED_PIPELINE)).unwrap();
    rules.observe(0, &mail_to_many(12, false), None, None);
    assert_eq!(rules.findings().len(), 1, "every shipped rule loaded together still fires");
}
