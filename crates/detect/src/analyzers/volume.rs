//! Volume against one's own history and one's peers': a day of copies to removable devices
//! far above one's busiest earlier day (S7, Hiratsuka: found on the first day of the
//! copies), and a day of record look-ups *without business* far above one's usual day and
//! the peer group's (same department and role). Explained look-ups are counted apart and
//! only told: a counter's busy day or a sanctioned extract is work, not volume.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "volume", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "usb_copy_volume", ja: "外部媒体への大量複写", en: "Copies to removable devices far above one's usual", incident: "S7", describe: usb },
    Rule { id: "lookup_volume", ja: "業務記録のない照会の急増", en: "Look-ups without business far above one's usual", incident: "—", describe: lookups },
];

fn usb(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の外部記憶媒体への複写が、本人の過去の最多日を大きく超えました（{}）。", r.employee, r.details()),
        format!("Employee {}'s copies to removable devices far exceeded their own busiest earlier day.", r.employee),
    )
}

fn lookups(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の業務記録のない住民記録の照会が、本人と同じ課・職の職員の通常（95パーセンタイル）を大きく超えました（{}）。", r.employee, r.details()),
        format!("Employee {}'s look-ups with no business on file far exceeded their own and their peers' usual day.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Copies to removable devices: a day above `usb_factor` × one's busiest earlier day,
    /// and above `usb_min` (a first day above `usb_min` is novelty enough, once one has been
    /// seen at work on `min_days` days: a newcomer's first days say nothing).
    usb_factor: f64,
    usb_min: u32,
    /// Look-ups without business: a day above `lookups_factor` × the larger of one's own
    /// 95th-percentile day (once `min_days` exist) and the peers', and above `lookups_min`.
    lookups_factor: f64,
    lookups_min: u32,
    min_days: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { usb_factor: 2.0, usb_min: 5, lookups_factor: 3.0, lookups_min: 20, min_days: 10 }
    }
}

/// One employee's daily counts of one kind of act: the finished days, and today.
#[derive(Default, Serialize, Deserialize)]
struct Daily {
    /// Finished days: (acts counted, acts with business, told apart).
    past: Vec<(u32, u32)>,
    day: Option<NaiveDate>,
    today: (u32, u32),
    flagged: bool,
}

impl Daily {
    fn count(&mut self, day: NaiveDate, counted: bool) -> (u32, u32) {
        if self.day != Some(day) {
            if self.day.is_some() {
                self.past.push(self.today);
            }
            self.day = Some(day);
            self.today = (0, 0);
            self.flagged = false;
        }
        if counted {
            self.today.0 += 1;
        } else {
            self.today.1 += 1;
        }
        self.today
    }
}

fn percentile(mut v: Vec<u32>, p: f64) -> u32 {
    v.sort_unstable();
    v.get(((v.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(0)
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// (employee, `usb` | `lookups`) → daily counts.
    #[serde(with = "crate::pairs")]
    daily: HashMap<(String, String), Daily>,
    /// Department → the employees seen looking records up in it.
    members: HashMap<String, BTreeSet<String>>,
    /// `department/role/day` → the peer group's usual day (today's only).
    peer_cache: HashMap<String, u32>,
    /// Employee → (the last day seen at work, days seen at work).
    active: HashMap<String, (Option<NaiveDate>, usize)>,
}

struct Volume {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Volume { settings: settings(v)?, state: State::default() }))
}

impl Analyzer for Volume {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::Authentication, ClassUid::DatastoreActivity, ClassUid::PeripheralActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        if !o.actor.personal() {
            return;
        }
        let employee = o.actor.employee.as_deref().expect("personal");
        let active = self.state.active.entry(employee.to_owned()).or_default();
        if active.0 != Some(o.day) {
            *active = (Some(o.day), active.1 + 1);
        }
        match o.class() {
            // A file copied to a device (the endpoint product's log).
            ClassUid::PeripheralActivity if o.event.file.is_some() => self.usb(o, employee, out),
            ClassUid::DatastoreActivity => self.lookups(o, cx, employee, out),
            _ => {}
        }
    }

    state_field!();
}

impl Volume {
    fn usb(&mut self, o: &Observation, employee: &str, out: &mut Findings) {
        let c = &self.settings;
        // Days at work before today.
        let seen = self.state.active.get(employee).map_or(0, |a| a.1.saturating_sub(1));
        let d = self.state.daily.entry((employee.to_owned(), "usb".into())).or_default();
        let today = d.count(o.day, true).0;
        let busiest = d.past.iter().map(|p| p.0).max().unwrap_or(0);
        let limit = ((busiest as f64 * c.usb_factor).ceil() as u32).max(c.usb_min);
        if today <= limit || seen < c.min_days {
            return;
        }
        d.flagged = true;
        let detail = format!("{}: 外部媒体への複写 通常の上限 {limit} 件を超過", o.day);
        out.note(Note::of(o, RULES[0].id, Severity::Medium, employee).detail(detail));
    }

    fn lookups(&mut self, o: &Observation, cx: &Context, employee: &str, out: &mut Findings) {
        let unexplained = o.access.as_ref().is_some_and(|a| a.explanation.is_none());
        let department = o.actor.department.clone();
        self.state.members.entry(department.clone()).or_default().insert(employee.to_owned());
        let peer = self.peer_usual(cx, employee, &department, o.day);
        let c = &self.settings;
        let d = self.state.daily.entry((employee.to_owned(), "lookups".into())).or_default();
        let (today, explained) = d.count(o.day, unexplained);
        if !unexplained {
            return;
        }
        let own = (d.past.len() >= c.min_days).then(|| percentile(d.past.iter().map(|p| p.0).collect(), 0.95));
        let usual = match (own, peer) {
            (Some(o), p) => o.max(p),
            (None, p) => p,
        };
        let limit = ((usual as f64 * c.lookups_factor).ceil() as u32).max(c.lookups_min);
        if today <= limit {
            return;
        }
        d.flagged = true;
        let detail = format!("{}: 業務記録のない照会が通常の上限 {limit} 件を超過（業務記録のある照会 {explained} 件は別計上）", o.day);
        out.note(Note::of(o, RULES[1].id, Severity::Medium, employee).resident(o.resident()).detail(detail));
    }

    /// The 95th-percentile day of look-ups without business among the employee's peers
    /// (same department and role on `day`, their last 60 days), once a day per group.
    fn peer_usual(&mut self, cx: &Context, employee: &str, department: &str, day: NaiveDate) -> u32 {
        let Some((_, role)) = cx.dir.posting(employee, day) else { return 0 };
        let key = format!("{department}/{role}/{day}");
        if let Some(v) = self.state.peer_cache.get(&key) {
            return *v;
        }
        let mut days: Vec<u32> = Vec::new();
        for peer in self.state.members.get(department).into_iter().flatten().filter(|p| p.as_str() != employee) {
            if cx.dir.posting(peer, day).map(|p| p.1) != Some(role) {
                continue;
            }
            if let Some(d) = self.state.daily.get(&(peer.clone(), "lookups".to_owned())) {
                days.extend(d.past.iter().rev().take(60).map(|p| p.0));
            }
        }
        let v = percentile(days, 0.95);
        self.state.peer_cache.retain(|k, _| k.ends_with(&day.to_string()));
        self.state.peer_cache.insert(key, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use mamori_model::{Event, Severity};

    use crate::testing::*;

    #[test]
    fn s7_a_day_of_copies_far_above_ones_usual_is_flagged_and_the_usual_few_are_not() {
        // Ten days at work in February first: a newcomer's first days say nothing.
        let mut events: Vec<Event> = [5, 6, 7, 8, 9, 13, 14, 15, 16, 19].iter().map(|d| windows("e1", "logon", &format!("2024-02-{d:02}T08:30:00"), "PC-E1")).collect();
        let newcomer = run(&(0..8).map(|i| copy("e1", "2024-03-06T16:00:00", i)).collect::<Vec<_>>());
        assert!(newcomer.iter().all(|f| f.rule != "usb_copy_volume"), "{newcomer:?}");
        for (day, n) in [("2024-03-01", 2), ("2024-03-04", 3), ("2024-03-05", 1)] {
            events.extend((0..n).map(|i| copy("e1", &format!("{day}T10:00:00"), i)));
        }
        let quiet = run(&events);
        assert!(quiet.iter().all(|f| f.rule != "usb_copy_volume"), "{quiet:?}");
        events.extend((0..8).map(|i| copy("e1", "2024-03-06T16:00:00", i)));
        let f = run(&events);
        let spike = f.iter().find(|f| f.rule == "usb_copy_volume").expect("8 copies against a usual 3");
        assert_eq!(spike.evidence.len(), 2, "the copies past the limit of 6 (2 × 3) are the evidence");
        assert_eq!(spike.severity, Severity::Medium);
    }

    /// Ten days of `usual` look-ups by J2 of R7 (no business: telephone inquiries), then a
    /// day of `spike`, with `explained` look-ups of R5 under E2's case each day as well.
    fn days(usual: u32, spike: u32, explained: u32) -> Vec<Event> {
        let mut events = Vec::new();
        for d in 0..11u32 {
            let n = if d < 10 { usual } else { spike };
            for i in 0..(n + explained) {
                let resident = if i < n { "R7" } else { "R5" };
                let mut e = access("juki", "J2", resident, &format!("2024-01-{:02}T{:02}:{:02}:00", 10 + d, 9 + i / 60, i % 60), "PC-E2");
                if i >= n {
                    e.unmapped.extra.insert("case_no".into(), "C2".into());
                }
                events.push(e);
            }
        }
        events
    }

    #[test]
    fn look_ups_without_business_are_judged_against_ones_own_usual_day() {
        let f = run(&days(10, 40, 0));
        let spike = f.iter().find(|f| f.rule == "lookup_volume").expect("40 against a usual 10");
        assert_eq!(spike.evidence.len(), 40 - 30, "past three times the usual 10");
        assert!(run(&days(10, 10, 0)).iter().all(|f| f.rule != "lookup_volume"));
    }

    #[test]
    fn explained_look_ups_are_work_not_volume() {
        // A counter's busy day or a sanctioned extract: 300 explained look-ups in a day.
        let f = run(&days(2, 2, 300));
        assert!(f.iter().all(|f| f.rule != "lookup_volume"), "{f:?}");
    }

    #[test]
    fn a_newcomers_look_ups_are_judged_against_their_peers_usual_day() {
        // E1 (福祉課 staff) has ten days of 10 look-ups without business; E2, the same role,
        // arrives with 40.
        let mut events = Vec::new();
        for d in [9u32, 10, 11, 12, 15, 16, 17, 18, 19, 22] {
            events.extend((0..10).map(|i| access("juki", "J1", "R7", &format!("2024-01-{d:02}T{:02}:{:02}:00", 9 + i / 60, i % 60), "PC-1")));
        }
        events.extend((0..40).map(|i| access("juki", "J2", "R7", &format!("2024-01-23T{:02}:{:02}:00", 9 + i / 60, i % 60), "PC-2")));
        let f = run(&events);
        let spike = f.iter().find(|f| f.rule == "lookup_volume").expect("40 against the peers' usual 10");
        assert_eq!(spike.employees, ["E2"]);
        assert_eq!(spike.evidence.len(), 10, "past three times the peers' 10");
    }
}
