//! Record look-ups after hours or on a day off (in the organisation's time zone, on its
//! calendar with its open days) by someone who seldom works then, while their section did
//! not either. A section's busy season is its normal: configured (`seasons`), or seen in
//! the section itself — when `peer_min` colleagues, or `peer_max` of them, worked after
//! hours in the last week, late work is the season's, not the employee's habit changing.
//! Days found unusual in the last `recent_days` do not count as one's habit, so that a new
//! habit does not become its own baseline within weeks; look-ups with no business behind them on
//! `repeat_days` distinct such nights within a month are a pattern, and high.

use std::collections::{BTreeSet, HashMap};

use chrono::{NaiveDate, Timelike};
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "after_hours", build, rules: RULES };

const RULES: &[Rule] = &[Rule { id: "after_hours_unusual", ja: "普段と異なる時間外の照会", en: "Unusual after-hours look-ups", incident: "B2", describe }];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、普段は働かない時間外・休日に住民記録を照会しました。同じ課でもその週に時間外の照会はほとんどありません（{}）。", r.employee, r.details()),
        format!("Employee {} looked up records after hours or on a day off, which they seldom do and their section did not do that week.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// From this hour (local) to `morning_hour` is after hours; days off are too.
    evening_hour: u32,
    morning_hour: u32,
    /// Unusual when at most this share of one's earlier working days had after-hours
    /// look-ups…
    own_max: f64,
    /// …and fewer than `peer_min` colleagues, and at most `peer_max` of the section,
    /// worked after hours in the last week.
    peer_max: f64,
    peer_min: usize,
    /// Working days of history before one is judged.
    min_days: usize,
    /// Configured busy seasons: `{ department = "D200", from = "02-16", to = "03-15" }`.
    seasons: Vec<Season>,
    /// Unusual days this recent do not count as one's habit.
    recent_days: u64,
    /// Distinct unusual days with unexplained look-ups, within 30 days, that make it high.
    repeat_days: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Season {
    department: String,
    /// `MM-DD`, inclusive.
    from: String,
    to: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { evening_hour: 19, morning_hour: 7, own_max: 0.1, peer_max: 0.3, peer_min: 2, min_days: 10, seasons: Vec::new(), recent_days: 21, repeat_days: 3 }
    }
}

impl Settings {
    fn in_season(&self, department: &str, day: NaiveDate) -> bool {
        let md = day.format("%m-%d").to_string();
        self.seasons.iter().any(|s| s.department == department && s.from.as_str() <= md.as_str() && md.as_str() <= s.to.as_str())
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Employee → the days they looked up records, and the days they did so after hours.
    work_days: HashMap<String, (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)>,
    /// Department → the employees seen working in it.
    members: HashMap<String, BTreeSet<String>>,
    /// Employee → unusual after-hours days with a look-up no business explained.
    #[serde(default)]
    unexplained: HashMap<String, BTreeSet<NaiveDate>>,
    /// Employee → the days found unusual.
    #[serde(default)]
    unusual: HashMap<String, BTreeSet<NaiveDate>>,
}

struct AfterHours {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(AfterHours { settings: settings(v)?, state: State::default() }))
}

impl Analyzer for AfterHours {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        // One's own look-ups: under one's account, or a shared one at one's session (a
        // counter clerk's day is under the counter's login) — not a batch, not one's account
        // used while one was out.
        use crate::observe::Via;
        let charged = !o.actor.batch_job() && matches!(o.actor.via, Via::Holder | Via::Session(_) | Via::Room(_));
        let Some(employee) = o.actor.employee.as_deref().filter(|_| charged) else { return };
        let department = o.actor.department.as_str();
        let c = &self.settings;
        let day = o.day;
        let late = o.at.hour() >= c.evening_hour || o.at.hour() < c.morning_hour || cx.dir.is_day_off_for(day, Some(department));
        self.state.members.entry(department.to_owned()).or_default().insert(employee.to_owned());
        let (worked, late_days) = self.state.work_days.entry(employee.to_owned()).or_default();
        let history = worked.iter().filter(|d| **d < day).count();
        // One's habit: the late days so far, but those already found unusual in the last
        // `recent_days` — a change does not become its own baseline within weeks.
        let recent = day - chrono::Days::new(c.recent_days);
        let flagged = self.state.unusual.get(employee);
        let habit = late_days.iter().filter(|d| **d < day && !(**d >= recent && flagged.is_some_and(|f| f.contains(*d)))).count();
        let own = habit as f64 / history.max(1) as f64;
        worked.insert(day);
        if !late {
            return;
        }
        late_days.insert(day);
        if history < c.min_days || own > c.own_max || c.in_season(department, day) {
            return;
        }
        let week = day - chrono::Days::new(6);
        let peers: Vec<&String> = self.state.members.get(department).into_iter().flatten().filter(|p| p.as_str() != employee).collect();
        let busy = peers.iter().filter(|p| self.state.work_days.get(p.as_str()).is_some_and(|(_, l)| l.range(week..=day).next().is_some())).count();
        if !peers.is_empty() && (busy >= c.peer_min.max(1) || busy as f64 / peers.len() as f64 > c.peer_max) {
            return;
        }
        self.state.unusual.entry(employee.to_owned()).or_default().insert(day);
        let unexplained = o.access.as_ref().is_some_and(|a| a.explanation.is_none());
        let nights = self.state.unexplained.entry(employee.to_owned()).or_default();
        if unexplained {
            nights.insert(day);
        }
        let pattern = nights.range(day - chrono::Days::new(30)..=day).count();
        let severity = if unexplained && pattern >= c.repeat_days.max(1) { Severity::High } else { Severity::Medium };
        let why = if unexplained { format!("、業務記録なし（30日間で {pattern} 日）") } else { String::new() };
        let detail = format!("{day} {:02}時台（本人の時間外日 {:.0}%、課内 {busy}/{} 人{why}）", o.at.hour(), own * 100.0, peers.len());
        out.note(Note::of(o, RULES[0].id, severity, employee).resident(o.resident()).detail(detail));
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use mamori_model::Severity;
    use serde_json::json;

    use crate::testing::*;

    fn late(acct: &str, t: &str) -> mamori_model::Event {
        let mut e = access("juki", acct, "R5", t, "PC-1");
        e.unmapped.extra.insert("case_no".into(), "C2".into());
        e
    }

    #[test]
    fn a_look_up_at_22_00_by_someone_who_never_works_late_is_flagged_and_in_the_busy_season_is_not() {
        let mut events = ordinary_days();
        events.push(late("J1", "2024-01-23T22:10:00"));
        let f = run(&events);
        let odd = f.iter().find(|f| f.rule == "after_hours_unusual").expect("unusual");
        assert_eq!((odd.employees[0].as_str(), odd.severity), ("E1", Severity::Medium));
        let config = toml_config("[after_hours]\nseasons = [{ department = \"D300\", from = \"01-20\", to = \"01-31\" }]\n");
        assert!(run_in(&office(), config, &events).iter().all(|f| f.rule != "after_hours_unusual"), "the section's busy season");
    }

    #[test]
    fn unexplained_look_ups_on_three_unusual_nights_are_a_pattern_and_high_and_the_new_habit_does_not_excuse_itself() {
        let mut events = ordinary_days();
        let night = |t: &str| access("juki", "J1", "R6", t, "PC-1");
        events.push(night("2024-01-23T22:10:00"));
        let once = run(&events);
        let f = once.iter().find(|f| f.rule == "after_hours_unusual").expect("unusual");
        assert_eq!(f.severity, Severity::Medium, "one night is not yet a pattern");
        events.push(night("2024-01-24T22:10:00"));
        events.push(night("2024-01-25T22:40:00"));
        let f = run(&events);
        let f = f.iter().find(|f| f.rule == "after_hours_unusual").expect("unusual");
        assert_eq!((f.severity, f.days), (Severity::High, 3), "{}", f.explanation_ja);
    }

    #[test]
    fn working_late_when_the_section_does_is_not_unusual() {
        let mut events = ordinary_days();
        events.push(late("J2", "2024-01-23T21:00:00"));
        events.push(late("J1", "2024-01-23T22:10:00"));
        let f = run(&events);
        let flagged: Vec<&str> = f.iter().filter(|f| f.rule == "after_hours_unusual").map(|f| f.employees[0].as_str()).collect();
        assert_eq!(flagged, ["E2"], "the first to stay late is news; the second, with a colleague already there, is not");
    }

    #[test]
    fn a_sunday_the_section_opens_is_a_working_day() {
        // 2024-01-28 is a Sunday; 福祉課 opens its counter that day (休日開庁).
        let mut events = ordinary_days();
        events.push(late("J1", "2024-01-28T10:10:00"));
        let closed = run(&events);
        assert!(closed.iter().any(|f| f.rule == "after_hours_unusual"), "a Sunday look-up by someone who never works Sundays");
        let open = office_with(|v| v["open_days"] = json!([{"date":"2024-01-28","department":"D300","note":"休日開庁"}]));
        assert!(run_in(&open, crate::Config::default(), &events).iter().all(|f| f.rule != "after_hours_unusual"));
    }

    #[test]
    fn hours_are_judged_in_the_organisations_time_zone() {
        // 03:10 in Tokyo is 07:10 in Auckland (summer time), and the ordinary 10:00 look-ups
        // are 14:00 there: the same look-up is office hours in Auckland.
        let mut events = ordinary_days();
        events.push(late("J1", "2024-01-24T03:10:00"));
        assert!(run(&events).iter().any(|f| f.rule == "after_hours_unusual"), "after hours in Tokyo");
        let auckland = toml_config("[organisation]\ntimezone = \"Pacific/Auckland\"\n");
        assert!(run_in(&office(), auckland, &events).iter().all(|f| f.rule != "after_hours_unusual"));
        assert!(crate::Config::from_toml("[organisation]\ntimezone = \"Mars/Olympus\"\n").unwrap_err().contains("Mars/Olympus"));
    }
}
