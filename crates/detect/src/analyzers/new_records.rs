//! S6 (Yao crematorium): an employee who reads records others have just registered, with no
//! business behind the reads — the permits a funeral-goods dealer pays for. Reads only
//! (extraction is reading; completing a new record is an update, and the registering
//! section's follow-ups are explained when learning finds that practice). The first such
//! read is noted at once (low), so that a habit is seen from its first step; a second day
//! is medium, and on `min_days` distinct days it is a habit (high). The household of a new
//! record counts too: a baby-goods dealer wants the newborn's mother, not the newborn.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "new_records", build, rules: RULES };

const RULES: &[Rule] = &[Rule {
    id: "new_record_extraction",
    ja: "他職員が登録した新規記録の読み出し",
    en: "Reading records others have just registered",
    incident: "S6",
    describe,
}];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、他の職員が登録して間もない記録を、業務上の根拠なしに読み出しました（{}）。", r.employee, r.details()),
        format!("Employee {} read records others had just registered, with no business behind the reads.", r.employee),
    )
}

/// OCSF Datastore activity 1: Read.
const READ: u8 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// How many days after its registration a record counts as new.
    fresh_days: i64,
    /// On how many distinct days such reads make a habit (high).
    min_days: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { fresh_days: 7, min_days: 3 }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Employee → the days they read others' new records without business.
    days: HashMap<String, BTreeSet<NaiveDate>>,
}

struct NewRecords {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(NewRecords { settings: settings(v)?, state: State::default() }))
}

const DAY_MS: i64 = 86_400_000;

impl Analyzer for NewRecords {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, _: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        // A colleague's case is not one's own business: a record a colleague registered,
        // read under the case the system writes on its screen, is what S6's reader did. A
        // visit or case naming the reader as its handler is, under whichever section's
        // name (a contractor serving a newcomer at the counter).
        if o.event.activity_id != READ || access.explanation.as_ref().is_some_and(|e| e.handled()) {
            return;
        }
        let fresh = |reg: &crate::observe::Registration| reg.by.as_deref() != Some(employee) && o.time - reg.time <= self.settings.fresh_days * DAY_MS;
        let detail = match (&access.registered, &access.household_registered) {
            (Some(reg), _) if fresh(reg) => format!("登録後{}日以内", self.settings.fresh_days),
            (_, Some((member, reg))) if fresh(reg) => format!("新規登録 {member} の世帯員（登録後{}日以内）", self.settings.fresh_days),
            _ => return,
        };
        let days = self.state.days.entry(employee.to_owned()).or_default();
        days.insert(o.day);
        let severity = match days.len() {
            n if n >= self.settings.min_days => Severity::High,
            1 => Severity::Low,
            _ => Severity::Medium,
        };
        out.note(Note::of(o, RULES[0].id, severity, employee).resident(&access.resident).detail(detail));
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use mamori_model::Severity;

    use crate::testing::*;

    #[test]
    fn s6_reading_others_new_permits_is_seen_from_the_first_read_and_a_habit_on_the_third_day() {
        let events = [
            permit("S1", "D1", "2024-05-01T10:00:00", 6, Some("P1")),
            permit("S1", "D2", "2024-05-02T10:00:00", 6, Some("P2")),
            permit("S1", "D3", "2024-05-06T10:00:00", 6, Some("P3")),
            permit("S2", "D1", "2024-05-01T17:40:00", 1, None),
            permit("S2", "D2", "2024-05-03T17:40:00", 1, None),
            permit("S2", "D3", "2024-05-07T17:40:00", 1, None),
        ];
        let first = run(&events[..4]);
        assert_eq!((rules(&first), first[0].severity), (vec![("new_record_extraction", "E2", 1)], Severity::Low), "the first step is told at once");
        let f = run(&events);
        assert_eq!(rules(&f), [("new_record_extraction", "E2", 3)]);
        assert_eq!(f[0].severity, Severity::High, "a habit on the third day");
        assert_eq!(f[0].detected_at, ms("2024-05-01T17:40:00"), "seen from its first step");
    }

    #[test]
    fn the_household_of_a_newborn_another_clerk_just_registered_is_a_new_record_too() {
        // R10, born to E1's household H1 (R1 and R2), registered by E2 through J2; E3 reads
        // R2, the mother, two days later with no business.
        let m = office_with(|v| {
            v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":"R10","name":"佐藤 赤","birth_date":"2024-05-01"}));
            v["households"].as_array_mut().unwrap().push(serde_json::json!({"resident_uid":"R10","household":"H1","relation":"子","address":"一丁目1番1号","from":"2024-05-01"}));
            v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":"J3","employee_id":"E3","kind":"personal","from":"2010-04-01"}));
        });
        let mut birth = access("juki", "J2", "R10", "2024-05-02T10:00:00", "PC-E2");
        birth.activity_id = 6;
        let mut read = access("juki", "J3", "R2", "2024-05-04T17:40:00", "PC-E3");
        read.activity_id = 1;
        let f = run_in(&m, crate::Config::default(), &[birth, read]);
        let n = f.iter().find(|f| f.rule == "new_record_extraction").expect("the mother of a newborn");
        assert_eq!(n.employees, ["E3"]);
        assert!(n.explanation_ja.contains("新規登録 R10 の世帯員"), "{}", n.explanation_ja);
    }

    /// A newborn registered by a colleague under the birth's case, which that colleague
    /// handles: reading it with the case on the screen is not one's own business (S6's
    /// reader had the permits' numbers on the screen too); the handler's own read is.
    #[test]
    fn reading_a_colleagues_new_record_under_the_colleagues_case_is_still_extraction() {
        let m = office_with(|v| {
            v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":"R11","name":"鈴木 新","birth_date":"2024-05-01"}));
            v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":"B1","kind":"生活保護","received":"2024-05-01","department":"D300","handler":"E2","residents":["R11"]}));
        });
        let with_case = |account: &str, host: &str, when: &str, activity: u8| {
            let mut e = access("juki", account, "R11", when, host);
            e.activity_id = activity;
            e.unmapped.extra.insert("case_no".into(), "B1".into());
            e
        };
        let events = [with_case("J2", "PC-E2", "2024-05-02T10:00:00", 6), with_case("J2", "PC-E2", "2024-05-03T10:00:00", 1), with_case("J1", "PC-E1", "2024-05-03T17:40:00", 1)];
        let f = run_in(&m, crate::Config::default(), &events);
        let n: Vec<_> = f.iter().filter(|f| f.rule == "new_record_extraction").collect();
        assert_eq!(n.len(), 1, "{:?}", rules(&f));
        assert_eq!(n[0].employees, ["E1"], "the colleague's read, not the handler's");
    }

    /// 窓口委託: a contractor, posted in the contractor's own section, serves newcomers at
    /// another section's counter; the visit names them as its handler. Their read of the
    /// newcomer's record is their work; a read of another newcomer nobody brought to them
    /// is not.
    #[test]
    fn a_contractor_serving_a_newcomer_at_another_sections_counter_is_not_extracting() {
        let m = office_with(|v| {
            v["departments"].as_array_mut().unwrap().push(serde_json::json!({"code":"D990","name":"窓口委託"}));
            v["employees"].as_array_mut().unwrap().push(serde_json::json!({"id":"E5","name":"委託 五","hired":"2020-04-01"}));
            v["assignments"].as_array_mut().unwrap().push(serde_json::json!({"employee_id":"E5","department":"D990","role":"contractor","from":"2020-04-01"}));
            v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":"J5","employee_id":"E5","kind":"personal","from":"2020-04-01"}));
            v["counter_visits"].as_array_mut().unwrap().push(serde_json::json!({"visit_no":"V9","at":"2024-05-03T10:00:00","department":"D300","resident_uid":"R5","purpose":"住民票","handler":"E5"}));
        });
        let event = |account: &str, resident: &str, when: &str, host: &str, activity: u8| {
            let mut e = access("juki", account, resident, when, host);
            e.activity_id = activity;
            e
        };
        let events = [
            event("J2", "R5", "2024-05-02T10:00:00", "PC-E2", 6),
            event("J2", "R6", "2024-05-02T10:05:00", "PC-E2", 6),
            event("J5", "R5", "2024-05-03T10:03:00", "MADO-1", 1),
            event("J5", "R6", "2024-05-03T10:20:00", "MADO-1", 1),
        ];
        let f = run_in(&m, crate::Config::default(), &events);
        let n: Vec<_> = f.iter().filter(|f| f.rule == "new_record_extraction").collect();
        assert_eq!(n.len(), 1, "{:?}", rules(&f));
        assert_eq!((n[0].employees.as_slice(), n[0].residents.as_slice()), (&["E5".to_owned()][..], &["R6".to_owned()][..]), "only the newcomer nobody brought to the counter");
    }

    #[test]
    fn reading_an_old_record_or_ones_own_or_updating_a_new_one_is_not_extraction() {
        let f = run(&[
            permit("S1", "D1", "2024-05-01T10:00:00", 6, Some("P1")),
            permit("S2", "D2", "2024-05-01T10:00:00", 6, Some("P2")),
            permit("S2", "D1", "2024-05-20T17:40:00", 1, None), // past the fresh window
            permit("S2", "D2", "2024-05-04T17:40:00", 1, None), // registered it themself
            permit("S2", "D1", "2024-05-02T11:00:00", 2, None), // an update, not a read
        ]);
        assert!(f.iter().all(|x| x.rule != "new_record_extraction"), "{f:?}");
    }
}
