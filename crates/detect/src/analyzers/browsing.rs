//! Browsing: record look-ups without business, a few a day, kept up for weeks — a
//! part-timer at the counter opening a resident or two a day out of curiosity, never
//! enough in one day for `lookup_volume`, never a relative, a neighbour or the watch-list.
//! What gives it away is the rate: over `window_days`, the employee's look-ups of distinct
//! residents with no business on file are far more than their own look-ups would bring at
//! their section's rate of unexplained look-ups (its other staff's), on at least `min_days`
//! days. A section with few look-ups of its own leans on the office's rate: the section's
//! weighs as much as the office's once its other staff made `section_prior` look-ups in the
//! window. A back office whose every look-up is recorded is judged at its own low rate,
//! not at the rate the telephone counters give the office.
//!
//! The rate is learned from the town's own log as it goes, per section and day: a section
//! whose work leaves look-ups unrecorded (telephone inquiries at a counter, a collector's
//! arrears list) has a high rate for all its staff, and none of them stands out for it. The
//! Poisson tail of the employee's count at that rate is the evidence: at `chance` or below
//! it is medium. It is not high by default (`chance_high = 0`): staff who take the
//! section's telephone inquiries look up more residents without records than their peers,
//! at rates no count tells apart from a curious clerk's (seen on the simulator's towns), so
//! it is a question for review. A town whose every look-up is recorded sets `chance_high`.
//!
//! The same measure, over changes (an update, a new entry, a deletion), is
//! `unexplained_change`: a record changed with no business on file is rare where business
//! is recorded at all (a tax assessment lowered for a friend), so one can be a question
//! (its tail at `change_chance`) and changes to `change_residents` residents are high —
//! unless the employee's section changes records without business as a matter of course,
//! which its learned rate says. Completing a record the section registered in the last
//! `follow_up_days` is its follow-up, not such a change.
//!
//! State: per employee, their look-ups per day and their unexplained ones in the window;
//! per section and for the office, look-ups per day (the learned baseline). Like the
//! crowd's, it needs every record access of the tenant: spread over machines, it runs
//! where all of a tenant's accesses go.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::NaiveDate;
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, poisson_tail, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation, changes_record};

pub const REGISTRATION: Registration = Registration { section: "browsing", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "unexplained_browsing", ja: "業務記録のない照会の継続", en: "Look-ups without business kept up over weeks, far above one's section's rate", incident: "S3", describe },
    Rule { id: "unexplained_change", ja: "業務記録のない記録の変更", en: "Records changed with no business on file", incident: "S1", describe: change },
    Rule { id: "unexplained_outside_practice", ja: "照会の少ない所属での業務記録のない照会", en: "Look-ups without business in a section whose staff seldom look anyone up", incident: "S1, S3", describe: outside_practice },
];

fn change(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、業務記録（申請・来庁・担当案件）のない住民記録を変更（更新・登録・削除）しました（{}）。", r.employee, r.details()),
        format!("Employee {} changed (updated, entered or deleted) records with no application, visit or case on file.", r.employee),
    )
}

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、業務記録のない住民記録の照会を数週間にわたり続けています。所属の同じ期間の割合から見込まれる件数を大きく超えています（{}）。", r.employee, r.details()),
        format!("Employee {} kept looking up records with no business on file for weeks, far more than their section's rate of such look-ups would bring.", r.employee),
    )
}

fn outside_practice(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、業務記録のない住民の照会を、所属の他の職員がほとんど行わない数だけ行いました。照会の少ない所属（選挙管理・秘書・水道など）での少数の狙いを定めた照会です（{}）。", r.employee, r.details()),
        format!("Employee {} looked up residents with no business on file, more of them than their section's other staff ever do: a few targeted look-ups from a section that seldom looks anyone up.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// The days over which look-ups are counted.
    window_days: i64,
    /// The least number of distinct residents looked up without business in the window.
    min_residents: usize,
    /// The least number of days with such look-ups in the window (a habit, not one day).
    min_days: usize,
    /// The Poisson tail at or below which the count is medium, and high (0: never).
    chance: f64,
    chance_high: f64,
    /// Changes without business: at or below `change_chance` (the tail at the section's
    /// rate of such changes) a question, and high once they reach `change_residents`
    /// distinct residents in the window.
    change_chance: f64,
    change_residents: usize,
    /// Changes to a record the employee's section registered within this many days are
    /// its follow-ups, not changes without business.
    follow_up_days: i64,
    /// Look-ups by the section's other staff in the window at which the section's own rate
    /// of unexplained look-ups weighs as much as the office's.
    section_prior: f64,
    /// Counted, not weighed by one's own look-ups: distinct residents looked up without
    /// business in the window, against how many the section's other staff each look up
    /// without business (never fewer than `rare_floor`: a slip, a misdialled number). A
    /// section that seldom looks anyone up (選挙管理, 秘書, 水道) gives its clerk no rate of
    /// their own to hide in. Medium at `rare_min_residents` residents with a Poisson tail at
    /// or below `rare_chance`. Someone alone in their section that month is weighed against
    /// the office's middle member of staff.
    rare_min_residents: usize,
    rare_chance: f64,
    rare_floor: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { window_days: 28, min_residents: 10, min_days: 5, chance: 1e-6, chance_high: 0.0, change_chance: 0.05, change_residents: 2, follow_up_days: 14, section_prior: 100.0, rare_min_residents: 4, rare_chance: 1e-4, rare_floor: 0.5 }
    }
}

/// One day's look-ups: all of them, and those with no business on file.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct Day {
    lookups: u32,
    unexplained: u32,
    #[serde(default)]
    changes: u32,
    #[serde(default)]
    unexplained_changes: u32,
}

/// One unexplained look-up: when, its record number, its local day, whose record.
#[derive(Clone, Serialize, Deserialize)]
struct Lookup {
    time: i64,
    seq: u64,
    day: NaiveDate,
    resident: String,
}

#[derive(Default, Serialize, Deserialize)]
struct Employee {
    days: BTreeMap<NaiveDate, Day>,
    unexplained: VecDeque<Lookup>,
    /// How many of `unexplained` fall on each resident and each day, kept as it changes
    /// (counted afresh at every look-up, a busy counter clerk's thousands would cost more
    /// than the rest of detection).
    #[serde(default)]
    by_resident: HashMap<String, u32>,
    #[serde(default)]
    by_day: BTreeMap<NaiveDate, u32>,
    /// Raised until then: each new look-up in the window is added as it comes.
    #[serde(default)]
    raised_until: i64,
    /// Whether what was raised is high already.
    #[serde(default)]
    raised_high: bool,
    /// Changes with no business in the window, and how strongly they were last raised.
    #[serde(default)]
    changes: VecDeque<Lookup>,
    #[serde(default)]
    changes_raised: Option<Severity>,
    /// `unexplained_outside_practice` raised until then.
    #[serde(default)]
    rare_raised_until: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    employees: HashMap<String, Employee>,
    /// Section → its staff's look-ups per day (the baseline).
    sections: HashMap<String, BTreeMap<NaiveDate, Day>>,
    /// The office's, the sum of the sections'.
    #[serde(default)]
    office: BTreeMap<NaiveDate, Day>,
    /// Section → its staff who looked up records → the last day they did.
    #[serde(default)]
    staff: HashMap<String, HashMap<String, NaiveDate>>,
}

struct Browsing {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let settings: Settings = settings(v)?;
    if settings.window_days < 1
        || settings.min_residents < 1
        || !(settings.chance_high >= 0.0 && settings.chance_high <= settings.chance && settings.chance > 0.0 && settings.chance < 1.0)
        || !(settings.change_chance > 0.0 && settings.change_chance < 1.0)
        || !(settings.rare_floor > 0.0 && settings.rare_chance > 0.0 && settings.rare_chance < 1.0)
        || settings.follow_up_days < 0
    {
        return Err("browsing: window_days ≥ 1, min_residents ≥ 1, 0 ≤ chance_high ≤ chance, 0 < chance < 1, 0 < change_chance < 1 and follow_up_days ≥ 0".into());
    }
    Ok(Box::new(Browsing { settings, state: State::default() }))
}

const DAY_MS: i64 = 86_400_000;

fn add(days: &mut BTreeMap<NaiveDate, Day>, day: NaiveDate, unexplained: bool, change: bool, since: NaiveDate) {
    let d = days.entry(day).or_default();
    d.lookups += 1;
    d.unexplained += u32::from(unexplained);
    d.changes += u32::from(change);
    d.unexplained_changes += u32::from(change && unexplained);
    while days.first_key_value().is_some_and(|(d, _)| *d < since) {
        days.pop_first();
    }
}

/// Accesses and unexplained ones since `since`: all of them, or only changes.
fn total<'a>(days: impl IntoIterator<Item = (&'a NaiveDate, &'a Day)>, since: NaiveDate, changes: bool) -> (f64, f64) {
    days.into_iter().filter(|(d, _)| **d >= since).fold((0.0, 0.0), |(l, u), (_, d)| {
        let (all, unexplained) = if changes { (d.changes, d.unexplained_changes) } else { (d.lookups, d.unexplained) };
        (l + f64::from(all), u + f64::from(unexplained))
    })
}

/// How an employee's own accesses are weighed against their peers' without them.
enum Peers {
    /// Changes, which can be high at two: the office's rate (with half a change's allowance
    /// for a rate not yet seen), or the section's if higher (a section whose work leaves
    /// changes unrecorded) — never a lower bar than the office's.
    Higher,
    /// Look-ups: the section's rate, leaning on the office's by `prior` look-ups.
    Section { prior: f64 },
}

/// The employee's own accesses in the window, and the rate of unexplained ones among their
/// peers' (`Peers`).
fn peer_rate(state: &State, employee: &str, department: &str, since: NaiveDate, changes: bool, peers: Peers) -> (f64, f64) {
    let (own_all, own_unexplained) = state.employees.get(employee).map_or((0.0, 0.0), |me| total(&me.days, since, changes));
    let (section_all, section_unexplained) = total(state.sections.get(department).into_iter().flatten(), since, changes);
    let (office_all, office_unexplained) = total(&state.office, since, changes);
    let office = (office_unexplained - own_unexplained + 0.5) / (office_all - own_all + 1.0);
    let (others_all, others_unexplained) = ((section_all - own_all).max(0.0), (section_unexplained - own_unexplained).max(0.0));
    let rate = match peers {
        Peers::Higher => office.max(if others_all > 0.0 { others_unexplained / others_all } else { 0.0 }),
        Peers::Section { prior } => (others_unexplained + prior * office) / (others_all + prior),
    };
    (own_all, rate)
}

impl Analyzer for Browsing {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, _cx: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        if access.resident.is_empty() {
            return;
        }
        let s = &self.settings;
        let since_day = o.day - chrono::Duration::days(s.window_days - 1);
        let unexplained = access.explanation.is_none();
        // Completing a record the section registered in the last `follow_up_days` (a permit's
        // correction, a new resident's details) is the section's follow-up, whoever
        // registered it: not a change without business.
        let follow_up = access.registered.as_ref().is_some_and(|r| {
            !r.department.is_empty() && r.department == o.actor.department && r.by.as_deref() != Some(employee) && o.time - r.time <= s.follow_up_days * DAY_MS
        });
        let change = changes_record(o.event.activity_id) && !follow_up;
        let department = o.actor.department.as_str();
        add(self.state.sections.entry(department.to_owned()).or_default(), o.day, unexplained, change, since_day);
        add(&mut self.state.office, o.day, unexplained, change, since_day);
        self.state.staff.entry(department.to_owned()).or_default().insert(employee.to_owned(), o.day);
        let me = self.state.employees.entry(employee.to_owned()).or_default();
        add(&mut me.days, o.day, unexplained, change, since_day);
        // The same calendar days as the counts.
        while let Some(gone) = me.unexplained.front().filter(|l| l.day < since_day) {
            if let Some(n) = me.by_resident.get_mut(&gone.resident) {
                *n -= 1;
                if *n == 0 {
                    me.by_resident.remove(&gone.resident);
                }
            }
            if let Some(n) = me.by_day.get_mut(&gone.day) {
                *n -= 1;
                if *n == 0 {
                    me.by_day.remove(&gone.day);
                }
            }
            me.unexplained.pop_front();
        }
        while me.changes.front().is_some_and(|l| l.day < since_day) {
            me.changes.pop_front();
        }
        if me.changes.is_empty() {
            me.changes_raised = None;
        }
        if !unexplained {
            return;
        }
        let lookup = Lookup { time: o.time, seq: o.seq, day: o.day, resident: access.resident.clone() };
        if change {
            me.changes.push_back(lookup.clone());
            self.changed(o, employee, department, since_day, out);
        }
        self.browsed(o, employee, department, since_day, lookup, out);
    }

    state_field!();
}

impl Browsing {
    fn browsed(&mut self, o: &Observation, employee: &str, department: &str, since_day: NaiveDate, lookup: Lookup, out: &mut Findings) {
        let me = self.state.employees.get_mut(employee).expect("entered by observe");
        *me.by_resident.entry(lookup.resident.clone()).or_default() += 1;
        *me.by_day.entry(lookup.day).or_default() += 1;
        me.unexplained.push_back(lookup);
        let (residents, days) = (me.by_resident.len(), me.by_day.len());
        let raised = me.raised_until >= o.time;
        self.outside_practice(o, employee, department, since_day, out);
        let s = &self.settings;
        if !raised && (residents < s.min_residents || days < s.min_days) {
            return;
        }
        let (own_lookups, rate) = peer_rate(&self.state, employee, department, since_day, false, Peers::Section { prior: s.section_prior.max(1.0) });
        let expected = own_lookups * rate;
        let tail = poisson_tail(expected, residents);
        // Raised already: this look-up is added as it comes while the count still stands
        // out, at the strength it has now (a habit that goes on grows from medium to high);
        // once it no longer does, the finding stops growing and the window runs out.
        if tail > s.chance {
            return;
        }
        let severity = if tail <= s.chance_high { Severity::High } else { Severity::Medium };
        let detail = format!("{} 日間に {} 日・住民 {} 人（本人の照会 {} 件に、所属の他職員の根拠のない照会の割合 {:.2}% を当てれば {:.1} 人）", s.window_days, days, residents, own_lookups as u64, rate * 100.0, expected);
        let me = self.state.employees.get_mut(employee).expect("entered by observe");
        let resident = &me.unexplained.back().expect("just pushed").resident;
        if raised {
            // Told again only when it has grown to high; otherwise one more of the same.
            let grown = severity == Severity::High && !me.raised_high;
            let detail = if grown { detail } else { "その後も続く根拠のない照会".to_owned() };
            let severity = if me.raised_high || grown { Severity::High } else { Severity::Medium };
            me.raised_high |= grown;
            out.note(Note::of(o, RULES[0].id, severity, employee).resident(resident).detail(detail));
        } else {
            me.raised_high = severity == Severity::High;
            for l in &me.unexplained {
                out.note(Note { seq: l.seq, time: l.time, day: l.day, detail: Some(detail.clone()), ..Note::of(o, RULES[0].id, severity, employee) }.resident(&l.resident));
            }
        }
        me.raised_until = o.time + s.window_days * DAY_MS;
    }

    /// `unexplained_outside_practice`: the employee's distinct residents looked up without
    /// business in the window, against the section's other staff's unexplained look-ups each.
    fn outside_practice(&mut self, o: &Observation, employee: &str, department: &str, since_day: NaiveDate, out: &mut Findings) {
        let s = &self.settings;
        let me = self.state.employees.get(employee).expect("entered by observe");
        let residents = me.by_resident.len();
        if residents < s.rare_min_residents.max(1) {
            return;
        }
        let (_, own_unexplained) = total(&me.days, since_day, false);
        let (_, section_unexplained) = total(self.state.sections.get(department).into_iter().flatten(), since_day, false);
        let others = self.state.staff.get(department).map_or(0, |staff| staff.iter().filter(|(e, last)| e.as_str() != employee && **last >= since_day).count()) as f64;
        let each = if others > 0.0 {
            (section_unexplained - own_unexplained).max(0.0) / others
        } else {
            // Alone in the section that month (a one-person 選管 office): the office's middle
            // member of staff, whom counters' dozens do not move. (Counts of staff not seen
            // since may be a little stale: that only raises the bar.)
            let mut counts: Vec<usize> = self.state.employees.iter().filter(|(e, them)| e.as_str() != employee && them.days.last_key_value().is_some_and(|(d, _)| *d >= since_day)).map(|(_, them)| them.by_resident.len()).collect();
            if counts.is_empty() {
                return;
            }
            let middle = counts.len() / 2;
            *counts.select_nth_unstable(middle).1 as f64
        }
        .max(s.rare_floor);
        let tail = poisson_tail(each, residents);
        if tail > s.rare_chance {
            return;
        }
        let detail = format!("{} 日間に住民 {} 人（所属の他職員 {} 人は一人あたり {:.1} 件）", s.window_days, residents, others as u64, each);
        let me = self.state.employees.get_mut(employee).expect("entered by observe");
        let fresh = me.rare_raised_until < o.time;
        let noted: Vec<&Lookup> = if fresh { me.unexplained.iter().collect() } else { me.unexplained.back().into_iter().collect() };
        for l in noted {
            out.note(Note { seq: l.seq, time: l.time, day: l.day, detail: Some(detail.clone()), ..Note::of(o, RULES[2].id, Severity::Medium, employee) }.resident(&l.resident));
        }
        me.rare_raised_until = o.time + s.window_days * DAY_MS;
    }

    fn changed(&mut self, o: &Observation, employee: &str, department: &str, since_day: NaiveDate, out: &mut Findings) {
        let s = &self.settings;
        let (own_changes, rate) = peer_rate(&self.state, employee, department, since_day, true, Peers::Higher);
        let me = self.state.employees.get_mut(employee).expect("entered by observe");
        let residents = me.changes.iter().map(|l| l.resident.as_str()).collect::<BTreeSet<_>>().len();
        let expected = own_changes * rate;
        if poisson_tail(expected, residents) > s.change_chance {
            return;
        }
        let severity = if residents >= s.change_residents.max(1) { Severity::High } else { Severity::Medium };
        let detail = format!("{} 日間に住民 {} 人（本人の変更 {} 件に、所属の他職員（または全庁のうち高い方）の根拠のない変更の割合 {:.2}% を当てれば {:.2} 人）", s.window_days, residents, own_changes as u64, rate * 100.0, expected);
        // Raised now or grown to high: every change in the window is evidence; otherwise
        // this one is added.
        let fresh = me.changes_raised.is_none_or(|before| before < severity);
        me.changes_raised = Some(severity.max(me.changes_raised.unwrap_or(severity)));
        let noted = if fresh { me.changes.len() } else { 1 };
        for l in me.changes.iter().skip(me.changes.len() - noted) {
            out.note(Note { seq: l.seq, time: l.time, day: l.day, detail: Some(detail.clone()), ..Note::of(o, RULES[1].id, severity, employee) }.resident(&l.resident));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use mamori_model::Severity;

    use crate::testing::*;

    /// A welfare section of two where each clerk's look-ups are explained by a welfare case
    /// of their own (E2's R5, E1's R6), and E1 opens a few records a day of residents with no business, every working day for
    /// three weeks: E1 is raised, E2 is not.
    fn section(e1_strays_per_day: usize, days: usize) -> Vec<mamori_model::Event> {
        let mut events = Vec::new();
        for d in 0..days {
            let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap() + chrono::Duration::days(d as i64);
            for i in 0..20 {
                events.push(access("juki", "J2", "R5", &format!("{day}T{:02}:{:02}:00", 9 + i / 6, (i % 6) * 10), "PC-E2"));
                events.push(access("juki", "J1", "R6", &format!("{day}T{:02}:{:02}:05", 9 + i / 6, (i % 6) * 10), "PC-E1"));
            }
            for k in 0..e1_strays_per_day {
                let resident = format!("R{}", 1000 + d * e1_strays_per_day + k);
                events.push(access("juki", "J1", &resident, &format!("{day}T16:{:02}:00", 10 + k), "PC-E1"));
            }
        }
        events.sort_by_key(|e| e.time);
        events
    }

    fn town() -> mamori_model::master::MasterData {
        office_with(|v| {
            v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":"C6","kind":"生活保護","received":"2024-01-04","department":"D300","handler":"E1","residents":["R6"]}));
            for i in 0..200 {
                v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
            }
        })
    }

    #[test]
    fn a_clerk_who_opens_a_stranger_or_two_a_day_for_weeks_is_raised_and_the_colleague_is_not() {
        let found = run_in(&town(), crate::Config::default(), &section(2, 21));
        assert!(found.iter().any(|f| f.rule == "unexplained_browsing" && f.employees == ["E1"]) && found.iter().filter(|f| f.rule == "unexplained_browsing").all(|f| f.severity == Severity::Medium), "a question by default: {:?}", rules(&found));
        // A town whose every look-up is recorded raises it high once the count is far enough.
        let found = run_in(&town(), toml_config("[browsing]\nchance_high = 1e-12\n"), &section(2, 21));
        let browsing: Vec<_> = found.iter().filter(|f| f.rule == "unexplained_browsing").collect();
        let charged: BTreeSet<&str> = browsing.iter().flat_map(|f| f.employees.iter().map(String::as_str)).collect();
        assert_eq!(charged, BTreeSet::from(["E1"]), "{:?}", rules(&found));
        assert!(browsing.iter().any(|f| f.severity == Severity::High), "{:?}", rules(&found));
        assert!(browsing[0].explanation_ja.contains("住民"), "{}", browsing[0].explanation_ja);
        // One stranger on three days is not a habit yet.
        let found = run_in(&town(), crate::Config::default(), &section(1, 3));
        assert!(found.iter().all(|f| f.rule != "unexplained_browsing"), "{:?}", rules(&found));
    }

    /// A tax clerk lowers three friends' assessments with no case on file, among the
    /// section's ordinary corrections, each under its case: the first is a question, the
    /// second resident makes it high. A colleague's changes, all under cases, raise nothing.
    #[test]
    fn records_changed_with_no_business_are_a_question_at_once_and_high_for_a_second_resident() {
        // The office: the welfare section's two clerks, and the register's E3 with two hundred
        // corrections under cases.
        let m = office_with(|v| {
            for i in 0..240 {
                v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
                let (handler, department) = match i { 0..40 if i % 2 == 0 => ("E1", "D300"), 0..40 => ("E2", "D300"), _ => ("E3", "D110") };
                v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":format!("Z{i}"),"kind":"更正","received":"2024-03-01","closed":"2024-03-29","department":department,"handler":handler,"residents":[format!("R{}", 1000 + i)]}));
            }
            // E2 registers R1502 at the counter on 19 March.
            v["counter_visits"].as_array_mut().unwrap().push(serde_json::json!({"visit_no":"V1502","at":"2024-03-19T08:55:00","department":"D300","resident_uid":"R1502","purpose":"転入届","handler":"E2"}));
        });
        let change = |account: &str, resident: &str, when: &str, host: &str| {
            let mut e = access("zeimu", account, resident, when, host);
            e.activity_id = 2;
            e
        };
        let mut events: Vec<_> = (0..40).map(|i| change(if i % 2 == 0 { "J1" } else { "J2" }, &format!("R{}", 1000 + i), &format!("2024-03-{:02}T10:{:02}:00", 4 + i / 10, i % 10), if i % 2 == 0 { "PC-E1" } else { "PC-E2" })).collect();
        events.extend((40..240).map(|i| change("K3", &format!("R{}", 1000 + i), &format!("2024-03-{:02}T{:02}:{:02}:00", 4 + i / 40, 11 + (i % 40) / 10, i % 10), "PC-E3")));
        events.sort_by_key(|e| e.time);
        events.push(change("J1", "R1500", "2024-03-18T16:00:00", "PC-E1"));
        let once = run_in(&m, crate::Config::default(), &events);
        let first: Vec<_> = once.iter().filter(|f| f.rule == "unexplained_change").collect();
        assert_eq!((first.len(), first[0].employees.as_slice(), first[0].severity), (1, &["E1".to_owned()][..], Severity::Medium), "{:?}", rules(&once));
        events.push(change("J1", "R1501", "2024-03-21T16:00:00", "PC-E1"));
        let twice = run_in(&m, crate::Config::default(), &events);
        let second = twice.iter().find(|f| f.rule == "unexplained_change").expect("raised");
        assert_eq!((second.severity, second.residents.len()), (Severity::High, 2), "{:?}", rules(&twice));
        // A correction of a record the section registered days before is its follow-up
        // (without that, R1502 would be E1's second resident: high).
        let mut registered = change("J2", "R1502", "2024-03-19T09:00:00", "PC-E2");
        registered.activity_id = 6;
        let mut followed = events.clone();
        followed.push(registered);
        followed.push(change("J1", "R1502", "2024-03-21T16:00:00", "PC-E1"));
        followed.retain(|e| e.unmapped.resident.as_ref().is_none_or(|r| r.uid != "R1501"));
        followed.sort_by_key(|e| e.time);
        let f = run_in(&m, crate::Config::default(), &followed);
        assert!(f.iter().filter(|f| f.rule == "unexplained_change").all(|f| f.severity == Severity::Medium && !f.residents.contains(&"R1502".to_owned())), "{:?}", rules(&f));
        // The reads of the same records are no change.
        let reads: Vec<_> = events.iter().cloned().map(|mut e| { e.activity_id = 1; e }).collect();
        assert!(run_in(&m, crate::Config::default(), &reads).iter().all(|f| f.rule != "unexplained_change"));
    }

    /// Detection saved mid-habit and resumed (incremental `detect`, a worker's handover)
    /// finds what one run finds: the counts, the raised state and the office's baseline
    /// all travel in the saved state.
    #[test]
    fn browsing_resumed_from_saved_state_finds_what_one_run_finds() {
        let m = town();
        let events = section(2, 21);
        let whole = run_in(&m, crate::Config::default(), &events);
        assert!(whole.iter().any(|f| f.rule == "unexplained_browsing"), "{:?}", rules(&whole));
        let dir = mamori_enrich::Directory::new(&m);
        for split in [events.len() / 3, events.len() / 2, events.len() - 5] {
            let mut first = crate::Detector::with_config(&dir, crate::Config::default());
            for (i, e) in events[..split].iter().enumerate() {
                first.observe(i as u64, e);
            }
            let saved: crate::DetectorState = serde_json::from_value(first.state()).unwrap();
            let mut second = crate::Detector::resume(&dir, crate::Config::default(), first.model().clone(), saved).unwrap();
            for (i, e) in events.iter().enumerate().skip(split) {
                second.observe(i as u64, e);
            }
            assert_eq!(second.findings(), whole, "split at {split}");
        }
    }

    /// A section whose work leaves look-ups unrecorded (both clerks answer the telephone):
    /// E1 does no more of it than E2, so neither stands out.
    #[test]
    fn a_section_whose_every_clerk_looks_up_without_records_raises_no_one() {
        let mut events = section(2, 21);
        for d in 0..21 {
            let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap() + chrono::Duration::days(d);
            for k in 0..2 {
                let resident = format!("R{}", 1100 + d as usize * 2 + k);
                events.push(access("juki", "J2", &resident, &format!("{day}T16:{:02}:30", 10 + k), "PC-E2"));
            }
        }
        events.sort_by_key(|e| e.time);
        let found = run_in(&town(), crate::Config::default(), &events);
        assert!(found.iter().all(|f| f.rule != "unexplained_browsing"), "{:?}", rules(&found));
    }

    /// A back office whose look-ups are all recorded, in a town whose telephone counter
    /// looks up a third of its residents with no record: E1's strays are judged against the
    /// section's own rate (none), not the office's, and stand out; E2 is not raised. (The
    /// phone clerk, alone in their section and alone in the office in that practice, is a
    /// question too: nothing in the town does what they do.)
    #[test]
    fn a_back_office_is_judged_at_its_own_rate_not_at_the_telephone_counters() {
        let m = office_with(|v| {
            v["cases"].as_array_mut().unwrap().push(serde_json::json!({"case_no":"C6","kind":"生活保護","received":"2024-01-04","department":"D300","handler":"E1","residents":["R6"]}));
            v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":"J4b","employee_id":"E4","kind":"personal","from":"2023-04-01"}));
            for i in 0..800 {
                v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
            }
        });
        let mut events = section(4, 21);
        for d in 0..21 {
            let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap() + chrono::Duration::days(d);
            for k in 0..10 {
                let resident = format!("R{}", 1100 + (d as usize * 10 + k) % 600);
                events.push(access("juki", "J4b", &resident, &format!("{day}T{:02}:{:02}:30", 9 + k / 2, (k % 2) * 20), "PC-E4"));
            }
        }
        events.sort_by_key(|e| e.time);
        let found = run_in(&m, crate::Config::default(), &events);
        let raised: BTreeSet<&str> = found.iter().filter(|f| f.rule == "unexplained_browsing").flat_map(|f| f.employees.iter().map(String::as_str)).collect();
        assert!(raised.contains("E1") && !raised.contains("E2"), "{:?}", rules(&found));
    }

    /// 選挙管理委員会 (E7, with E5, E6 and E8 who look up the voters who come to their
    /// counter) has no rate of unexplained look-ups to speak of; E7 reads six strangers over
    /// three days. The welfare clerks E1 and E2, whose section answers the telephone and
    /// looks up a few strangers a day each, reading the same six is nothing. With E7 alone
    /// in the election office (the others in 人事), the office's middle member of staff is
    /// the measure, and it is a question still.
    #[test]
    fn a_few_targeted_look_ups_from_a_section_that_seldom_looks_anyone_up_are_a_question() {
        for alone in [false, true] {
        let quiet = if alone { "D400" } else { "D950" };
        let m = office_with(|v| {
            v["departments"].as_array_mut().unwrap().push(serde_json::json!({"code":"D950","name":"選挙管理委員会"}));
            for (e, a) in [("E5", "J5"), ("E6", "J6"), ("E7", "J7"), ("E8", "J8")] {
                v["employees"].as_array_mut().unwrap().push(serde_json::json!({"id":e,"name":"選管 職員","hired":"2010-04-01"}));
                v["assignments"].as_array_mut().unwrap().push(serde_json::json!({"employee_id":e,"department":if e == "E7" { "D950" } else { quiet },"role":"staff","from":"2010-04-01"}));
                v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"juki","account":a,"employee_id":e,"kind":"personal","from":"2010-04-01"}));
            }
            // Each voter E5 and E6 look up came to the election office's counter.
            for d in 0..14 {
                let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 8).unwrap() + chrono::Duration::days(d);
                for (handler, k) in [("E5", 0), ("E6", 1), ("E8", 2)] {
                    v["counter_visits"].as_array_mut().unwrap().push(serde_json::json!({"visit_no":format!("SV{d}-{k}"),"at":format!("{day}T13:55:00"),"department":quiet,"resident_uid":format!("R{}", 1200 + d as usize * 3 + k),"purpose":"選挙人名簿","handler":handler}));
                }
            }
            for i in 0..300 {
                v["residents"].as_array_mut().unwrap().push(serde_json::json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
            }
        });
        let mut events = Vec::new();
        for d in 0..14 {
            let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 8).unwrap() + chrono::Duration::days(d);
            // The welfare section's telephone: three strangers a day each, nothing on file.
            for k in 0..3 {
                events.push(access("juki", "J2", &format!("R{}", 1000 + (d as usize * 7 + k) % 300), &format!("{day}T10:{:02}:00", k * 5), "PC-E2"));
                events.push(access("juki", "J1", &format!("R{}", 1100 + (d as usize * 7 + k) % 200), &format!("{day}T11:{:02}:00", k * 5), "PC-E1"));
            }
            // The election office's register work, under its case.
            for (a, k) in [("J5", 0), ("J6", 1), ("J8", 2)] {
                events.push(access("juki", a, &format!("R{}", 1200 + d as usize * 3 + k), &format!("{day}T14:00:00"), "PC-E5"));
            }
        }
        let targets = ["R1250", "R1251", "R1252", "R1253", "R1254", "R1255"];
        for (i, r) in targets.iter().enumerate() {
            events.push(access("juki", "J7", r, &format!("2024-04-{:02}T16:{:02}:00", 16 + i / 2, i * 3), "PC-E7"));
            events.push(access("juki", "J1", r, &format!("2024-04-{:02}T16:{:02}:30", 16 + i / 2, i * 3), "PC-E1"));
        }
        events.sort_by_key(|e| e.time);
        let found = run_in(&m, crate::Config::default(), &events);
        let raised: BTreeSet<&str> = found.iter().filter(|f| f.rule == "unexplained_outside_practice").flat_map(|f| f.employees.iter().map(String::as_str)).collect();
        assert_eq!(raised, BTreeSet::from(["E7"]), "alone: {alone}: {:?}", rules(&found));
        let f = found.iter().find(|f| f.rule == "unexplained_outside_practice").unwrap();
        assert_eq!((f.severity, f.residents.len()), (Severity::Medium, 6));
        }
    }
}
