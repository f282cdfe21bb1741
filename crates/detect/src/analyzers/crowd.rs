//! Curiosity about someone in the news: a resident's record looked up with no business by
//! several staff of the office within days — a local celebrity, a victim or suspect in a
//! reported case, a colleague's family in the news — whom no one put on the watch-list
//! (S3 is the mayor, whom someone did). One unexplained look-up is a question for its
//! employee's review; the same record opened by staff after staff, none with business, is
//! the pattern patient-privacy monitors call a "VIP by access".
//!
//! How many staff make a crowd is learned from the town's own log: unexplained look-ups
//! happen at some rate (telephone inquiries leave no visit or case), and falling on the
//! same resident by chance is rarer the more residents there are. The threshold is the
//! least number of staff (at least `min_staff`) that chance would bring together on any
//! resident within `window_days` less often than `chance` times a window, with the rate
//! and the population counted as the log goes. Staff of two or more departments is high;
//! one department's staff is medium (a team's unrecorded work looks like that), and so is
//! a crowd around a resident who had a visit or case with any section in the window (the
//! calls that follow a death or a move) — unless business is what most residents looked
//! up without business have anyway in that window (`business_share`), when it tells
//! nothing.
//!
//! Its state is keyed by resident, not employee: the pattern is many employees on one
//! record. Spread over machines, record accesses are routed to it by resident.

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::NaiveDate;
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, poisson_tail, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "crowd", build, rules: RULES };

const RULES: &[Rule] = &[Rule {
    id: "crowded_record",
    ja: "多数の職員による同一住民の照会",
    en: "One resident's record looked up by many staff with no business",
    incident: "S3",
    describe,
}];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、業務上の根拠なしに、他の職員も相次いで根拠なく照会している住民の記録を照会しました（{}）。", r.employee, r.details()),
        format!("Employee {} looked up, with no business, a resident whose record other staff were also looking up with no business.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// How many days of look-ups make one crowd.
    window_days: i64,
    /// The least number of distinct staff that is ever a crowd.
    min_staff: usize,
    /// How often per window chance may bring that many staff to some resident.
    chance: f64,
    /// Business elsewhere lowers a crowd to medium only while fewer than this share of the
    /// window's unexplained look-ups fall on residents who had business with the office in
    /// the window themselves. Where most do (a call centre that logs every call as a visit,
    /// a tax season with a case for nearly everyone), it says nothing about a crowd.
    business_share: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { window_days: 7, min_staff: 3, chance: 0.01, business_share: 0.5 }
    }
}

/// One unexplained look-up: when, its record number, its local day, who, their department.
#[derive(Clone, Serialize, Deserialize)]
struct Lookup {
    time: i64,
    seq: u64,
    day: NaiveDate,
    employee: String,
    department: String,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Resident → their unexplained look-ups within the window.
    by_resident: HashMap<String, VecDeque<Lookup>>,
    /// The times of every unexplained look-up within the window (the town's rate).
    town: VecDeque<i64>,
    /// The times of those among them whose resident had business with the office in the
    /// window (how common business is, against which a crowd's business is weighed).
    #[serde(default)]
    town_with_business: VecDeque<i64>,
    /// Residents whose crowd was raised, and until when it stands.
    raised: HashMap<String, i64>,
    /// Unexplained look-ups seen, to forget stale residents every so many.
    #[serde(default)]
    seen: u64,
}

struct Crowd {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let settings: Settings = settings(v)?;
    if settings.window_days < 1 || settings.min_staff < 2 || !(settings.chance > 0.0 && settings.chance < 1.0) || !(0.0..=1.0).contains(&settings.business_share) {
        return Err("crowd: window_days ≥ 1, min_staff ≥ 2, 0 < chance < 1 and 0 ≤ business_share ≤ 1".into());
    }
    Ok(Box::new(Crowd { settings, state: State::default() }))
}

const DAY_MS: i64 = 86_400_000;

/// Unexplained look-ups in the window before how common business is, is judged from them.
const MIN_SAMPLE: usize = 50;

/// The least number of staff, at least `min_staff`, that `lookups` unexplained look-ups
/// spread at random over `residents` bring to one resident less than `chance` times.
fn crowd_size(lookups: usize, residents: usize, min_staff: usize, chance: f64) -> usize {
    let residents = residents.max(1) as f64;
    let lambda = lookups as f64 / residents;
    (min_staff..64).find(|&k| residents * poisson_tail(lambda, k) <= chance).unwrap_or(64)
}

impl Analyzer for Crowd {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        if access.explanation.is_some() || access.resident.is_empty() || cx.dir.vip(&access.resident, o.day).is_some() {
            return;
        }
        let window = self.settings.window_days * DAY_MS;
        let since = o.time - window;
        let town = &mut self.state.town;
        town.push_back(o.time);
        while town.front().is_some_and(|&t| t < since) {
            town.pop_front();
        }
        let with_business = &mut self.state.town_with_business;
        if cx.dir.had_business_with_office(&access.resident, o.at - chrono::Duration::days(self.settings.window_days), o.at) {
            with_business.push_back(o.time);
        }
        while with_business.front().is_some_and(|&t| t < since) {
            with_business.pop_front();
        }
        // Now and then, residents with nothing left in the window are forgotten, so the
        // state holds the window's look-ups, not every resident ever looked up.
        self.state.seen += 1;
        if self.state.seen % 4096 == 0 {
            self.state.by_resident.retain(|_, l| l.back().is_some_and(|x| x.time >= since));
            self.state.raised.retain(|_, until| *until >= o.time);
        }
        let lookups = self.state.by_resident.entry(access.resident.clone()).or_default();
        while lookups.front().is_some_and(|l| l.time < since) {
            lookups.pop_front();
        }
        lookups.push_back(Lookup { time: o.time, seq: o.seq, day: o.day, employee: employee.to_owned(), department: o.actor.department.clone() });
        let staff: BTreeSet<&str> = lookups.iter().map(|l| l.employee.as_str()).collect();
        let needed = crowd_size(self.state.town.len(), cx.dir.resident_count(), self.settings.min_staff, self.settings.chance);
        let raised = self.state.raised.get(&access.resident).is_some_and(|&until| until >= o.time);
        if staff.len() < needed && !raised {
            return;
        }
        let departments: BTreeSet<&str> = lookups.iter().map(|l| l.department.as_str()).filter(|d| !d.is_empty()).collect();
        // Business of the resident's with any section in the window (a visit about a
        // death, a move) makes calls from several sections plausible: a question, not an
        // alarm.
        let first = lookups.front().map_or(o.at, |l| o.at - chrono::Duration::milliseconds(o.time - l.time));
        let business = cx.dir.had_business_with_office(&access.resident, first - chrono::Duration::days(self.settings.window_days), o.at);
        // Until the window holds a sample (the first days of a log), business is taken to
        // be uncommon, as it is in most towns.
        let sampled = self.state.town.len();
        let business_common = sampled >= MIN_SAMPLE && self.state.town_with_business.len() as f64 >= self.settings.business_share * sampled as f64;
        let severity = if departments.len() >= 2 && (!business || business_common) { Severity::High } else { Severity::Medium };
        let detail = format!(
            "{} 日間に職員 {} 人・{} 所属が照会{}",
            self.settings.window_days,
            staff.len(),
            departments.len().max(1),
            match (business, business_common) {
                (true, false) => "、本人・世帯に他の所属での業務記録あり",
                (true, true) => "、本人・世帯に業務記録あり（当該期間、根拠なく照会された住民の多くに業務記録があり、判断材料としない）",
                _ => "",
            }
        );
        // Raised now: every look-up in the crowd is evidence against its own employee; after
        // that, each new one as it comes.
        let evidence: Vec<Lookup> = if raised { vec![lookups.back().expect("just pushed").clone()] } else { lookups.iter().cloned().collect() };
        for l in &evidence {
            out.note(Note { seq: l.seq, time: l.time, day: l.day, detail: Some(detail.clone()), ..Note::of(o, RULES[0].id, severity, &l.employee) }.resident(&access.resident));
        }
        self.state.raised.insert(access.resident.clone(), o.time + window);
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use mamori_model::master::MasterData;

    #[test]
    fn chance_sets_the_crowd_higher_the_more_unexplained_look_ups_a_town_makes() {
        assert_eq!(crowd_size(50, 20_000, 3, 0.01), 3, "a small town's few phone inquiries");
        assert_eq!(crowd_size(4_200, 200_000, 3, 0.01), 4, "a city's many");
        assert!(crowd_size(200_000, 20_000, 3, 0.01) > 20, "a town that records no business at all");
        assert!((poisson_tail(1.0, 0) - 1.0).abs() < 1e-12 && (poisson_tail(1.0, 1) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
    }

    /// Four staff of two departments open R5's record within three days, none with
    /// business: each is charged, high; a fifth after it is charged as it comes.
    #[test]
    fn staff_of_several_sections_on_one_record_with_no_business_are_each_raised() {
        let m = office_with(|v| {
            let employees = v["employees"].as_array_mut().unwrap();
            employees.push(serde_json::json!({"id":"E6","name":"田中 六","hired":"2010-04-01"}));
            employees.push(serde_json::json!({"id":"E7","name":"高橋 七","hired":"2010-04-01"}));
            let assignments = v["assignments"].as_array_mut().unwrap();
            assignments.push(serde_json::json!({"employee_id":"E6","department":"D110","role":"staff","from":"2010-04-01"}));
            assignments.push(serde_json::json!({"employee_id":"E7","department":"D110","role":"staff","from":"2010-04-01"}));
            let accounts = v["accounts"].as_array_mut().unwrap();
            accounts.push(serde_json::json!({"system":"juki","account":"J6","employee_id":"E6","kind":"personal","from":"2010-04-01"}));
            accounts.push(serde_json::json!({"system":"juki","account":"J7","employee_id":"E7","kind":"personal","from":"2010-04-01"}));
        });
        let events = [
            access("juki", "J2", "R6", "2024-03-11T10:00:00", "PC-E2"),
            access("juki", "J6", "R6", "2024-03-12T11:00:00", "PC-E6"),
            access("juki", "J7", "R6", "2024-03-13T14:00:00", "PC-E7"),
            access("juki", "J1", "R6", "2024-03-15T09:30:00", "PC-E1"),
        ];
        // The office has seven residents, so chance would crowd them at once: the test
        // asks for the floor of three staff.
        let config = || toml_config("[crowd]\nchance = 0.5\n");
        let found = run_in(&m, config(), &events);
        let crowd: Vec<_> = found.iter().filter(|f| f.rule == "crowded_record").collect();
        let charged: BTreeSet<&str> = crowd.iter().flat_map(|f| f.employees.iter().map(String::as_str)).collect();
        assert_eq!(charged, BTreeSet::from(["E1", "E2", "E6", "E7"]), "{:?}", rules(&found));
        assert!(crowd.iter().all(|f| f.severity == Severity::High), "two departments");
        // The same crowd around R6's own visit to another section (about a death, a move):
        // the calls that follow are plausible, so a question.
        let visited = {
            let mut m = m.clone();
            m.counter_visits.push(serde_json::from_value(serde_json::json!({"visit_no":"V9","at":"2024-03-10T10:00:00","department":"D200","resident_uid":"R6","purpose":"死亡届"})).unwrap());
            m
        };
        let found = run_in(&visited, config(), &events);
        assert!(found.iter().filter(|f| f.rule == "crowded_record").all(|f| f.severity == Severity::Medium) && found.iter().any(|f| f.rule == "crowded_record"), "{:?}", rules(&found));
        // In a season when nearly every resident has a case (a tax declaration each), R6's own
        // case says nothing. A city of 2,000 more residents, sixty of whom E3 looks up without
        // business, each with a declaration open: business is what residents looked up
        // without business have anyway.
        let with_case = |m: &MasterData| {
            let mut m = m.clone();
            m.cases.push(serde_json::from_value(serde_json::json!({"case_no":"Z6","kind":"住民税申告","received":"2024-03-01","department":"D400","handler":"E4","residents":["R6"]})).unwrap());
            m
        };
        let found = run_in(&with_case(&m), config(), &events);
        assert!(found.iter().filter(|f| f.rule == "crowded_record").all(|f| f.severity == Severity::Medium), "R6's case, business uncommon: {:?}", rules(&found));
        let city = office_with(|v| {
            for i in 0..2000 {
                v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
                if i < 60 {
                    v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":format!("Z{i}"),"kind":"住民税申告","received":"2024-03-01","department":"D400","handler":"E4","residents":[format!("R{}", 1000 + i)]}));
                }
            }
        });
        let city = MasterData { employees: m.employees.clone(), assignments: m.assignments.clone(), accounts: m.accounts.clone(), ..city };
        let season: Vec<_> = (0..60).map(|i| access("koseki", "K3", &format!("R{}", 1000 + i), &format!("2024-03-10T{:02}:{:02}:00", 9 + i / 30, i % 30), "PC-E3")).chain(events.iter().cloned()).collect();
        let found = run_in(&with_case(&city), config(), &season);
        let crowd: Vec<_> = found.iter().filter(|f| f.rule == "crowded_record").collect();
        assert!(!crowd.is_empty() && crowd.iter().all(|f| f.severity == Severity::High), "business common: {:?}", rules(&found));
        assert!(crowd[0].explanation_ja.contains("判断材料としない"), "{}", crowd[0].explanation_ja);
        // Without the season's look-ups, the same city still weighs R6's case.
        let found = run_in(&with_case(&city), config(), &events);
        assert!(found.iter().filter(|f| f.rule == "crowded_record").all(|f| f.severity == Severity::Medium) && found.iter().any(|f| f.rule == "crowded_record"), "{:?}", rules(&found));
        // Spread beyond the window, the same look-ups are no crowd.
        let apart = [
            access("juki", "J2", "R6", "2024-03-01T10:00:00", "PC-E2"),
            access("juki", "J6", "R6", "2024-03-12T11:00:00", "PC-E6"),
            access("juki", "J7", "R6", "2024-03-25T14:00:00", "PC-E7"),
        ];
        assert!(run_in(&m, config(), &apart).iter().all(|f| f.rule != "crowded_record"));
        // The watch-list's residents are the vip analyzer's.
        let mayor: Vec<_> = events.iter().map(|e| { let mut e = e.clone(); e.unmapped.resident.as_mut().unwrap().uid = "R9".into(); e }).collect();
        assert!(run_in(&m, config(), &mayor).iter().all(|f| f.rule != "crowded_record"));
        assert!(run_in(&m, crate::Config::default(), &events).iter().all(|f| f.rule != "crowded_record"), "seven residents and four look-ups: chance, by default");
    }
}
