//! Detection as a whole: who an event is charged to, what explains a record access and for
//! how long, what learning makes of a town's practice, the settings, and going on from a
//! saved state. Each analyzer's own tests are beside it.

use mamori_enrich::{Directory, Explanation, ExplanationSettings, Source};
use mamori_model::{Event, Severity};
use serde_json::json;

use crate::testing::*;
use crate::{Config, Detector, Learning};

fn verdict(master: &mamori_model::master::MasterData, events: &[Event]) -> crate::Verdict {
    let dir = Directory::new(master);
    let mut d = Detector::new(&dir);
    let mut last = None;
    for (i, e) in events.iter().enumerate() {
        last = Some(d.observe(i as u64, e));
    }
    last.expect("an event")
}

#[test]
fn access_after_a_transfer_is_judged_by_the_new_posting() {
    // E3 moved from 戸籍係 to 福祉課 on 1 April: 福祉課's consultation C3, in E3's hands
    // (a kind the town declares open for 30 days), explains a look-up of R5 after the move,
    // not before it.
    let after = verdict(&office(), &[access("koseki", "K3", "R5", "2024-04-02T10:00:00", "PC-E3")]);
    assert!(after.explanation.is_some(), "explained by 福祉課's case after the transfer");
    let before = verdict(&office(), &[access("koseki", "K3", "R5", "2024-03-20T10:00:00", "PC-E3")]);
    assert!(before.explanation.is_none(), "not explained while in 戸籍係");
}

#[test]
fn a_relative_on_a_colleagues_caseload_does_not_explain_ones_own_look_up() {
    // C2 is E2's welfare case for R5 (an ongoing caseload); E2's look-up is business, E1's is not.
    let mine = verdict(&office(), &[access("juki", "J2", "R5", "2024-03-01T10:00:00", "PC-E2")]);
    let theirs = verdict(&office(), &[access("juki", "J1", "R5", "2024-03-01T10:05:00", "PC-E1")]);
    assert_eq!(mine.explanation, Some(Explanation::Case { no: "C2".into(), kind: "生活保護".into(), direct: true, member: None, handled: false }));
    assert_eq!(theirs.explanation, None);
}

#[test]
fn batch_work_is_explained() {
    let master = office();
    let dir = Directory::new(&master);
    let mut d = Detector::new(&dir);
    let v = d.observe(0, &access("juki", "9000", "R9", "2024-03-01T02:00:00", "BATCH-01"));
    assert_eq!(v.explanation, Some(Explanation::Batch));
    assert!(d.findings().is_empty(), "a batch touching the mayor's record is not a VIP finding");
}

#[test]
fn an_unclosed_case_of_a_kind_that_closes_explains_no_longer_than_such_cases_stay_open() {
    // C4: a move-in notice left unclosed. Its handler's look-up that day is business, a look-up
    // three weeks later is not; declared as an ongoing kind, it would be.
    let open = |kinds: serde_json::Value| {
        office_with(|v| {
            v["cases"].as_array_mut().unwrap().push(json!({"case_no":"C4","kind":"転入届","received":"2024-03-01","department":"D300","handler":"E2","residents":["R7"]}));
            v["case_kinds"] = kinds;
        })
    };
    let plain = open(json!([]));
    assert!(verdict(&plain, &[access("juki", "J2", "R7", "2024-03-01T15:00:00", "PC-E2")]).explanation.is_some());
    assert!(verdict(&plain, &[access("juki", "J2", "R7", "2024-03-22T15:00:00", "PC-E2")]).explanation.is_none());
    let ongoing = open(json!([{"kind":"転入届","ongoing":"yes"}]));
    assert!(verdict(&ongoing, &[access("juki", "J2", "R7", "2024-03-22T15:00:00", "PC-E2")]).explanation.is_some());
}

#[test]
fn a_shared_counter_account_is_charged_to_the_person_in_the_terminals_session() {
    // MADO01 is 福祉課's shared counter login. E1 holds the Windows session on PC-E1 and
    // uses it to look up their own spouse: E1's relative look-up.
    let m = office_with(|v| {
        v["accounts"].as_array_mut().unwrap().push(json!({"system":"juki","account":"MADO01","kind":"shared","department":"D300","from":"2010-04-01"}));
    });
    let events = [windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"), access("juki", "MADO01", "R2", "2024-03-01T10:00:00", "PC-E1")];
    let v = verdict(&m, &events);
    assert_eq!(v.employee.as_deref(), Some("E1"));
    let f = run_in(&m, Config::default(), &events);
    assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
    // With no one known at the terminal, the shared account's section still explains a visit.
    let nobody = verdict(&m, &[access("juki", "MADO01", "R2", "2024-03-05T10:10:00", "PC-X")]);
    assert_eq!((nobody.employee, nobody.explanation.is_some()), (None, true));
}

#[test]
fn a_sanctioned_extract_explains_its_handlers_look_ups_of_anyone_while_open() {
    let m = office_with(|v| {
        v["cases"].as_array_mut().unwrap().push(json!({"case_no":"X1","kind":"一括抽出","received":"2024-03-01","closed":"2024-03-02","department":"D300","handler":"E2","residents":"*"}));
    });
    let v = verdict(&m, &[access("juki", "J2", "R7", "2024-03-02T10:00:00", "PC-E2")]);
    assert_eq!(v.explanation, Some(Explanation::Extract("X1".into())));
    assert!(verdict(&m, &[access("juki", "J1", "R7", "2024-03-02T10:00:00", "PC-E1")]).explanation.is_none(), "the handler's extract, not the section's");
    assert!(verdict(&m, &[access("juki", "J2", "R7", "2024-03-05T10:00:00", "PC-E2")]).explanation.is_none(), "closed");
}

#[test]
fn settings_are_checked_when_read_and_an_analyzer_can_be_switched_off() {
    assert!(Config::from_toml("[privileged]\nadmin_departments = []\n").unwrap_err().contains("privileged"));
    assert!(Config::from_toml("[mail]\ntrusted = []\n").unwrap_err().contains("trusted"));
    let off = toml_config("[vip]\nenabled = false\n");
    assert!(run_in(&office(), off, &[access("koseki", "K3", "R9", "2024-02-01T11:00:00", "PC-E3")]).is_empty());
}

#[test]
fn a_detector_resumed_from_its_saved_state_finds_what_one_run_finds() {
    let events = [
        windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
        badge("E2", "out", "2024-03-01T12:02:00"),
        access("juki", "J1", "R2", "2024-03-01T12:15:00", "PC-E2"),
        permit("S1", "D1", "2024-05-01T10:00:00", 6, Some("P1")),
        permit("S2", "D1", "2024-05-01T17:40:00", 1, None),
        access("juki", "J1", "R2", "2024-05-02T12:15:00", "PC-E1"),
    ];
    let master = office();
    let dir = Directory::new(&master);
    let whole = run(&events);
    let mut first = Detector::new(&dir);
    for (i, e) in events[..3].iter().enumerate() {
        first.observe(i as u64, e);
    }
    let saved: crate::DetectorState = serde_json::from_value(first.state()).unwrap();
    let mut second = Detector::resume(&dir, Config::default(), first.model().clone(), saved).unwrap();
    for (i, e) in events.iter().enumerate().skip(3) {
        second.observe(i as u64, e);
    }
    assert_eq!(second.findings(), whole);
}

/// A town where welfare staff cover each other's caseloads, clerks open namesakes in a
/// name search, and the section completes new records in the days after: learning keeps
/// each practice and its window; one person's habit is not kept.
#[test]
fn learning_finds_a_towns_practices_and_their_windows() {
    let mut v = serde_json::to_value(office()).unwrap();
    let staff = 6;
    for e in 0..staff {
        v["employees"].as_array_mut().unwrap().push(json!({"id":format!("W{e}"),"name":format!("職員 {e}"),"hired":"2010-04-01"}));
        v["assignments"].as_array_mut().unwrap().push(json!({"employee_id":format!("W{e}"),"department":"D300","role":"staff","from":"2010-04-01"}));
        v["accounts"].as_array_mut().unwrap().push(json!({"system":"fukushi","account":format!("F{e}"),"employee_id":format!("W{e}"),"kind":"personal","from":"2010-04-01"}));
    }
    let mut events = Vec::new();
    let mut n = 0;
    // 2,000 residents, a fifth of them with a case: most of the town has no business with
    // the section, as in a real one.
    for r in 0..2000 {
        let uid = format!("P{r:04}");
        v["residents"].as_array_mut().unwrap().push(json!({"uid":uid,"name":format!("住民 {r}"),"kana":format!("ジュウミン {r}"),"birth_date":"1970-01-01"}));
        v["households"].as_array_mut().unwrap().push(json!({"resident_uid":uid,"household":format!("HP{r}"),"relation":"世帯主","address":format!("七丁目{r}番"),"from":"2000-01-01"}));
    }
    for r in 0..400 {
        let uid = format!("P{r:04}");
        let handler = r % staff;
        let day = 1 + r % 20;
        v["cases"].as_array_mut().unwrap().push(json!({"case_no":format!("K{r}"),"kind":"介護認定","received":format!("2024-02-{day:02}"),"closed":format!("2024-02-{:02}", day + 2),"department":"D300","handler":format!("W{handler}"),"residents":[uid]}));
        // The handler on receipt, a colleague the next day (covering), the handler again
        // two to five days after closing (follow-up).
        for (who, offset) in [(handler, 0), ((handler + 1) % staff, 1), (handler, 4 + r % 4)] {
            let mut e = access("fukushi", &format!("F{who}"), &uid, &format!("2024-02-{:02}T10:{:02}:00", day + offset, r % 60), "PC-W");
            e.unmapped.extra.remove("case_no");
            e.activity_id = 2; // an update: completing the case
            events.push(e);
            n += 1;
        }
    }
    // One person's habit: W0 reads random records of others' cases weeks later.
    for r in (0..400).step_by(40) {
        let mut e = access("fukushi", "F0", &format!("P{r:04}"), "2024-03-25T16:00:00", "PC-W");
        e.activity_id = 2;
        events.push(e);
    }
    events.sort_by_key(|e| e.time);
    let master: mamori_model::master::MasterData = serde_json::from_value(v).unwrap();
    let dir = Directory::new(&master);
    let mut learning = Learning::new(&dir, Config::default());
    for (i, e) in events.iter().enumerate() {
        learning.observe(i as u64, e);
    }
    let model = learning.finish();
    assert_eq!(model.sampled, n + 10);
    let kind = model.kind("介護認定");
    // The covering colleagues update the records (activity 2): the section's practice is
    // to complete each other's cases, not to read them.
    assert_eq!(kind.team, [2], "colleagues covering is the section's practice: {kind:?} {:?}", model.templates);
    assert_eq!(kind.source, Source::Learned);
    assert!((5..=7).contains(&kind.tail_days), "follow-ups 2–5 days after closing: {kind:?}");
    // Weeks later is outside every window: the habit stays unexplained.
    let dir2 = Directory::new(&master);
    let mut d = Detector::with_model(&dir2, Config::default(), model.clone());
    let late = d.observe(0, &access("fukushi", "F0", "P0040", "2024-03-25T16:00:00", "PC-W"));
    assert!(late.explanation.is_none());
    // A colleague updating a case the next day is the section's work; reading it is not.
    let mut update = access("fukushi", "F1", "P0000", "2024-02-02T11:00:00", "PC-W");
    update.unmapped.extra.remove("case_no");
    update.activity_id = 2;
    let mut read = update.clone();
    read.activity_id = 1;
    assert!(d.observe(1, &update).explanation.is_some());
    assert!(d.observe(2, &read).explanation.is_none());
    // And the floors alone, with learning off, keep the windows as configured.
    let off = Config { explanations: ExplanationSettings { learn: false, ..ExplanationSettings::default() }, ..Config::default() };
    let mut learning = Learning::new(&dir, off);
    for (i, e) in events.iter().enumerate() {
        learning.observe(i as u64, e);
    }
    let floors = learning.finish();
    assert!(floors.kind("介護認定").team.is_empty() && floors.kind("介護認定").tail_days == 0);
    let _ = Severity::High;
}

/// The settings shown in docs/detection.md are the real ones: every section and key is
/// accepted, and every analyzer has a section there.
#[test]
fn the_documented_detect_toml_is_accepted_and_names_every_analyzer() {
    let doc = include_str!("../../../docs/detection.md");
    let block = doc.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).expect("a toml block in docs/detection.md");
    Config::from_toml(block).unwrap();
    for r in crate::REGISTRY {
        assert!(block.contains(&format!("[{}]", r.section)), "[{}] is documented", r.section);
        for rule in r.rules {
            assert!(doc.contains(&format!("`{}`", rule.id)) && doc.contains(rule.ja), "{} is documented with its name", rule.id);
        }
    }
}

/// An open-plan office: a shared counter login used on a terminal no one holds while E1,
/// E2 and E3 are all in the room. A look-up of E1's spouse with no business behind it was
/// E1's; a stranger's look-up, or the spouse's with her visit on file, is no one's to charge.
#[test]
fn a_shared_login_used_in_a_crowded_room_to_look_up_one_persons_kin_is_charged_to_them() {
    let m = office_with(|v| v["accounts"].as_array_mut().unwrap().push(json!({"system":"juki","account":"MADO","kind":"shared","department":"D300","from":"2010-04-01"})));
    let room = [badge("E1", "in", "2024-03-04T08:20:00"), badge("E2", "in", "2024-03-04T08:21:00"), badge("E3", "in", "2024-03-04T08:22:00")];
    let run_with = |extra: Event| {
        let events: Vec<Event> = room.iter().cloned().chain([extra]).collect();
        run_in(&m, Config::default(), &events)
    };
    let f = run_with(access("juki", "MADO", "R2", "2024-03-04T10:00:00", "PC-E1"));
    assert_eq!(rules(&f), [("relative_lookup", "E1", 1)], "{f:?}");
    assert!(run_with(access("juki", "MADO", "R5", "2024-03-04T10:00:00", "PC-E1")).iter().all(|f| f.employees.iter().all(|e| e != "E1")));
    // 2024-03-05 10:00: R2's own visit to 福祉課 (V1) explains it; no one is charged.
    let room_next: Vec<Event> = [badge("E1", "in", "2024-03-05T08:20:00"), badge("E2", "in", "2024-03-05T08:21:00")].into();
    let events: Vec<Event> = room_next.into_iter().chain([access("juki", "MADO", "R2", "2024-03-05T10:10:00", "PC-E1")]).collect();
    assert!(run_in(&m, Config::default(), &events).is_empty());
}

/// A source that declares its actors' account system (`accounts = "windows"`) is looked
/// up there; undeclared, an account name that two systems hold charges no one.
#[test]
fn a_declared_account_system_names_the_actor_where_the_fallback_cannot() {
    let m = office_with(|v| v["accounts"].as_array_mut().unwrap().push(json!({"system":"juki","account":"e1","employee_id":"E2","kind":"personal","from":"2010-04-01"})));
    let dir = Directory::new(&m);
    let copy = |declared: bool| {
        let mut e = usb("X-1", "2024-03-04T10:00:00", "PC-E1");
        e.actor.user.uid = "e1".into();
        e.metadata.product = "endpoint".into();
        if declared {
            e.unmapped.extra.insert("account_system".into(), "windows".into());
        }
        e
    };
    let mut d = Detector::with_config(&dir, Config::default());
    assert_eq!(d.observe(0, &copy(false)).employee, None, "e1 is a Windows login and a registry operator: no one can say whose");
    assert_eq!(d.observe(1, &copy(true)).employee.as_deref(), Some("E1"));
}

/// Someone who is not a resident (a permit for a death elsewhere) is kept under the
/// source's key and explained by the case that is theirs.
#[test]
fn a_non_residents_record_is_kept_under_its_key_and_explained_by_its_own_case() {
    let m = office_with(|v| v["cases"].as_array_mut().unwrap().push(json!({"case_no":"P9","kind":"火葬許可","received":"2024-03-04","closed":"2024-03-06","department":"D300","handler":"E1","residents":[]})));
    let dir = Directory::new(&m);
    let mut d = Detector::with_config(&dir, Config::default());
    let mut own = access("juki", "J1", "permit:P9", "2024-03-05T10:00:00", "PC-E1");
    own.unmapped.extra.insert("case_no".into(), "P9".into());
    assert!(d.observe(0, &own).explanation.is_some(), "the permit's own case");
    let mut other = access("juki", "J1", "permit:P8", "2024-03-05T10:05:00", "PC-E1");
    other.unmapped.extra.insert("case_no".into(), "P9".into());
    assert!(d.observe(1, &other).explanation.is_none(), "another permit's case does not explain it");
    // A permit log that writes no case number: the permit's key is its case's number.
    let bare = access("juki", "J1", "permit:P9", "2024-03-05T10:10:00", "PC-E1");
    assert_eq!(d.observe(2, &bare).explanation.map(|e| e.code()), Some("declared-case:P9".into()));
    // Opened by a colleague (E2 in the same section): the section's business.
    let colleague = access("juki", "J2", "permit:P9", "2024-03-05T10:15:00", "PC-E2");
    assert_eq!(d.observe(3, &colleague).explanation.map(|e| e.code()), Some("colleague-declared-case:P9".into()));
}

/// A welfare system writes the case's number on every screen of the case, whoever opens
/// it: a caseworker reading the case of her own parent that a colleague handles is not
/// doing her own business (S1: the case number is not a licence).
#[test]
fn a_colleagues_case_named_on_the_screen_does_not_cover_ones_own_relative() {
    let m = office_with(|v| v["cases"].as_array_mut().unwrap().push(json!({"case_no":"K7","kind":"生活保護","received":"2024-03-01","department":"D300","handler":"E2","residents":["R3"]})));
    let dir = Directory::new(&m);
    let mut d = Detector::with_config(&dir, Config::default());
    let mut parent = access("juki", "J1", "R3", "2024-03-05T10:00:00", "PC-E1");
    parent.unmapped.extra.insert("case_no".into(), "K7".into());
    let v = d.observe(0, &parent);
    assert_eq!(v.explanation.as_ref().map(|e| e.code()), Some("colleague-declared-case:K7".into()));
    let found = run_in(&m, Config::default(), &[parent.clone()]);
    assert!(found.iter().any(|f| f.rule == "relative_lookup" && f.employees == ["E1"] && f.severity == Severity::High), "{:?}", rules(&found));
    // The handler herself, on her own case: her business.
    let mut own = access("juki", "J2", "R3", "2024-03-05T10:30:00", "PC-E2");
    own.unmapped.extra.insert("case_no".into(), "K7".into());
    assert_eq!(d.observe(1, &own).explanation.map(|e| e.code()), Some("declared-case:K7".into()));
}

/// Business that names an employee as its handler is theirs wherever it sits, as far as
/// the posting goes: an election-register extract of the 選挙管理委員会 handled by a welfare
/// clerk on a concurrent posting there is hers; without that posting (a contractor, night
/// duty taking a 市民課 registration) it is business, but the section's, which covers no
/// one's kin and no one on the watch-list. A case of that section with another handler is
/// not hers at all.
#[test]
fn a_case_or_visit_handled_by_the_employee_is_their_business_under_another_sections_name() {
    let town = |concurrent: bool| {
        office_with(|v| {
            v["departments"].as_array_mut().unwrap().push(json!({"code":"D950","name":"選挙管理委員会"}));
            if concurrent {
                v["assignments"].as_array_mut().unwrap().push(json!({"employee_id":"E1","department":"D950","role":"staff","from":"2024-01-01"}));
            }
            let cases = v["cases"].as_array_mut().unwrap();
            cases.push(json!({"case_no":"SK1","kind":"定時登録","received":"2024-03-01","closed":"2024-03-08","department":"D950","handler":"E1","residents":["*"]}));
            cases.push(json!({"case_no":"SK2","kind":"相談","received":"2024-03-01","department":"D950","handler":"E2","residents":["R6"]}));
            v["counter_visits"].as_array_mut().unwrap().push(json!({"visit_no":"V8","at":"2024-03-09T22:10:00","department":"D100","resident_uid":"R7","purpose":"死亡届","handler":"E1"}));
        })
    };
    let code = |m: &mamori_model::master::MasterData, e: &Event| {
        let dir = Directory::new(m);
        let mut d = Detector::with_config(&dir, Config::default());
        d.observe(0, e).explanation.map(|x| x.code())
    };
    let (posted, contracted) = (town(true), town(false));
    let extract = access("juki", "J1", "R5", "2024-03-04T10:00:00", "PC-E1");
    assert_eq!(code(&posted, &extract), Some("extract:SK1".into()));
    assert_eq!(code(&contracted, &extract), Some("team-case:SK1".into()));
    let night = access("juki", "J1", "R7", "2024-03-09T22:20:00", "PC-E1");
    assert_eq!(code(&contracted, &night), Some("section-visit:V8".into()));
    // Under the contract, the watch-list's mayor is still an unexplained look-up for hers.
    let mayor = access("juki", "J1", "R9", "2024-03-04T10:05:00", "PC-E1");
    assert!(run_in(&contracted, Config::default(), std::slice::from_ref(&mayor)).iter().any(|f| f.rule == "vip_unexplained"));
    assert!(run_in(&posted, Config::default(), &[mayor]).iter().all(|f| f.rule != "vip_unexplained"));
    // After the extract closed, and another handler's case of that section: not hers.
    let after = code(&posted, &access("juki", "J1", "R5", "2024-03-20T10:00:00", "PC-E1"));
    assert!(after.as_deref().is_none_or(|c| !c.contains("SK1")), "{after:?}");
    assert_eq!(code(&posted, &access("juki", "J1", "R6", "2024-03-20T10:30:00", "PC-E1")), None);
}

#[test]
fn an_account_written_under_a_domain_or_in_another_case_is_the_one_master_data_lists() {
    let dir = mamori_enrich::Directory::new(&crate::testing::office());
    let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 1).unwrap();
    for written in ["e1", "CITY\\e1", "city\\E1", "e1@city.local", "E1"] {
        assert_eq!(dir.account("windows", written, day).and_then(|a| a.0), Some("E1"), "{written}");
    }
    assert_eq!(dir.account_systems("AOBA\\e2", day), ["windows"], "and check finds it where detection does");
    // A mail address is its owner's only as written: another domain's `e1` is not E1.
    assert_eq!(dir.mail_owner("e1@city.example.lg.jp", day), Some("E1"));
    assert_eq!(dir.mail_owner("e1@gmail.com", day), None);
    assert!(dir.account("windows", "CITY\\PC-0001$", day).is_none(), "a computer account is nobody's");
}

/// A contractor (or night duty) serving a visitor at another section's counter, whose name
/// search offers a watch-listed namesake: the candidate is explained as the section's
/// business, as the visit is, so the watch-list look-up is a question (medium), not an
/// alarm; with no such visitor it stays high.
#[test]
fn a_namesake_offered_by_a_name_search_for_a_visitor_one_served_at_another_sections_counter_is_not_an_alarm() {
    let m = office_with(|v| {
        v["residents"].as_array_mut().unwrap().push(json!({"uid":"R19","name":"市長 太郎","birth_date":"1990-05-05"}));
        v["counter_visits"].as_array_mut().unwrap().push(json!({"visit_no":"V19","at":"2024-03-06T10:00:00","department":"D100","resident_uid":"R19","purpose":"住民票","handler":"E1"}));
    });
    let dir = Directory::new(&m);
    let vip = |when: &str| {
        let config = Config::default();
        let model = mamori_enrich::ExplanationModel { search_candidates: true, ..mamori_enrich::ExplanationModel::floors(&config.explanations, &dir) };
        let mut d = Detector::with_model(&dir, config, model);
        d.observe(0, &access("juki", "J1", "R9", when, "PC-E1"));
        d.findings().into_iter().find(|f| f.rule == "vip_unexplained").map(|f| f.severity)
    };
    assert_eq!(vip("2024-03-06T10:03:00"), Some(Severity::Medium), "offered while serving the namesake");
    assert_eq!(vip("2024-03-07T15:00:00"), Some(Severity::High), "no visitor of that name then");
}
