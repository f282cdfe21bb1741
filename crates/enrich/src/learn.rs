//! Mining explanation templates and their windows from the town's own access log, in the
//! manner of Fabbri & LeFevre (PVLDB 2011): for every sampled access, what in master data
//! could explain it and how far away in time it lies; for a random look-up by the same
//! person at the same moment (another resident), the same. A window is chosen where the
//! real accesses stop standing out from the random ones — the excess over chance — so a
//! template explains what the office's practice explains and not what any wide window
//! would catch by luck. Practices of a section (colleagues working each other's cases,
//! follow-ups of new records, namesakes opened in a name search) are kept only when
//! several employees show them: one person's habit is not a practice.

use std::collections::{HashMap, HashSet};

use crate::explain::{Access, ExplanationModel, ExplanationSettings, KindWindow, Source, TemplateStat};
use crate::Directory;

/// One record access offered to the learner.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub access: Access<'a>,
    /// A stable number for the access (its event id), to sample deterministically.
    pub id: u64,
    /// Days since the record was registered by another member of the same section, and
    /// whether the access's activity is one `follow_up_activities` lists.
    pub follow_up: Option<(u32, bool)>,
}

#[derive(Debug, Clone, Default)]
struct CaseFact {
    kind: u32,
    /// The employee is the handler (or no handler is named).
    handler: bool,
    /// Unclosed: days since receipt. Closed: days after closing (≤ 0 inside).
    open_age: Option<u32>,
    after_close: Option<i32>,
}

#[derive(Debug, Clone, Default)]
struct Facts {
    employee: u32,
    activity: u8,
    /// Batch, a declared case, a sanctioned extract: explained whatever the windows.
    fixed: bool,
    /// Minutes from the nearest visit at the section (negative: before it), and whether the
    /// employee served it.
    visit: Option<(i32, bool)>,
    cases: Vec<CaseFact>,
    /// Minutes from the nearest visit of a namesake at the section.
    namesake: Option<i32>,
    follow_up: Option<(u32, bool)>,
}

/// Collects facts from sampled accesses, then [`Learner::finish`] chooses the windows.
pub struct Learner<'d> {
    dir: &'d Directory,
    settings: ExplanationSettings,
    kinds: Vec<String>,
    kind_ids: HashMap<String, u32>,
    employees: HashMap<String, u32>,
    /// (real, random) fact pairs, a reservoir of at most `max_sample`.
    pairs: Vec<(Facts, Facts)>,
    seen: u64,
    state: u64,
}

/// SplitMix64: a small, fixed generator so that the same log learns the same model.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<'d> Learner<'d> {
    pub fn new(dir: &'d Directory, settings: &ExplanationSettings) -> Learner<'d> {
        Learner { dir, settings: settings.clone(), kinds: Vec::new(), kind_ids: HashMap::new(), employees: HashMap::new(), pairs: Vec::new(), seen: 0, state: 0x6d61_6d6f_7269 }
    }

    fn kind_id(&mut self, kind: &str) -> u32 {
        if let Some(&k) = self.kind_ids.get(kind) {
            return k;
        }
        let k = self.kinds.len() as u32;
        self.kinds.push(kind.to_owned());
        self.kind_ids.insert(kind.to_owned(), k);
        k
    }

    /// What could explain `a` at the widest windows the settings allow.
    fn facts(&mut self, a: &Access, employee: u32) -> Facts {
        let dir = self.dir;
        let bound = self.settings.max_visit_minutes as i64;
        let day = a.at.date();
        let mut f = Facts { employee, activity: a.activity, ..Facts::default() };
        if a.kind == mamori_model::master::AccountKind::Batch {
            f.fixed = true;
            return f;
        }
        let people = dir.with_household(a.resident, day);
        if let Some(no) = a.declared_case {
            f.fixed |= people.iter().any(|p| dir.cases_by_resident.get(*p).is_some_and(|cs| cs.iter().any(|&i| dir.cases[i].no == no && dir.cases[i].received <= day)));
        }
        f.fixed |= dir.everyone_cases.iter().any(|&i| {
            let c = &dir.cases[i];
            c.department == a.department && (c.handler.is_none() || c.handler.as_deref() == a.employee) && c.received <= day && c.closed.is_none_or(|x| day <= x)
        });
        for p in &people {
            for (t, _, dept, handler) in dir.visits.get(*p).into_iter().flatten() {
                let m = (a.at - *t).num_minutes();
                if dept == a.department && m.abs() <= bound && f.visit.is_none_or(|(v, _)| (v as i64).abs() > m.abs()) {
                    f.visit = Some((m as i32, handler.is_none() || handler.as_deref() == a.employee));
                }
            }
        }
        let mut cases = Vec::new();
        for p in &people {
            for &i in dir.cases_by_resident.get(*p).into_iter().flatten() {
                let c = &dir.cases[i];
                if c.department != a.department || day < c.received {
                    continue;
                }
                let handler = c.handler.is_none() || c.handler.as_deref() == a.employee;
                let (open_age, after_close) = match c.closed {
                    None => (Some((day - c.received).num_days() as u32), None),
                    Some(closed) => (None, Some((day - closed).num_days() as i32)),
                };
                cases.push((c.kind.clone(), handler, open_age, after_close));
            }
        }
        for (kind, handler, open_age, after_close) in cases {
            let kind = self.kind_id(&kind);
            f.cases.push(CaseFact { kind, handler, open_age, after_close });
        }
        for key in dir.name_keys(a.resident) {
            for other in dir.by_name.get(&key).into_iter().flatten().filter(|o| o.as_str() != a.resident) {
                for (t, _, dept, _) in dir.visits.get(other.as_str()).into_iter().flatten() {
                    let m = (a.at - *t).num_minutes();
                    if dept == a.department && m.abs() <= bound && f.namesake.is_none_or(|v| (v as i64).abs() > m.abs()) {
                        f.namesake = Some(m as i32);
                    }
                }
            }
        }
        f
    }

    /// Offers one access (in any order).
    pub fn observe(&mut self, s: &Sample) {
        self.seen += 1;
        let max = self.settings.max_sample.max(1);
        // Reservoir sampling (Algorithm R) with a fixed generator.
        let slot = if self.pairs.len() < max {
            None
        } else {
            self.state = mix(self.state ^ s.id);
            let j = self.state % self.seen;
            if j as usize >= max {
                return;
            }
            Some(j as usize)
        };
        let next = self.employees.len() as u32;
        let employee = *self.employees.entry(s.access.employee.unwrap_or("").to_owned()).or_insert(next);
        let mut real = self.facts(&s.access, employee);
        real.follow_up = s.follow_up;
        // The same person at the same moment looking up someone at random.
        let residents = self.dir.residents();
        let random = if residents.is_empty() {
            Facts::default()
        } else {
            let r = &residents[(mix(s.id ^ 0xa5a5) % residents.len() as u64) as usize];
            let fake = Access { resident: r, declared_case: None, ..s.access };
            self.facts(&fake, employee)
        };
        match slot {
            None => self.pairs.push((real, random)),
            Some(j) => self.pairs[j] = (real, random),
        }
    }

    /// Chooses every window and practice, and reports each template.
    pub fn finish(self) -> ExplanationModel {
        let s = &self.settings;
        let mut model = ExplanationModel::floors(s, self.dir);
        model.sampled = self.pairs.len();
        if !s.learn || self.pairs.is_empty() {
            return model;
        }
        let n = self.pairs.len() as f64;
        let stat = |template: String, w: Window, unit: &str, kept: bool, source: Source| TemplateStat {
            template,
            window: w.window,
            floor: w.floor,
            bound: w.bound,
            unit: unit.into(),
            support: w.support,
            chance: w.chance,
            employees: w.employees,
            coverage: w.support as f64 / n,
            kept,
            source,
        };
        // Visits: minutes after and before.
        let lags = |pick: &dyn Fn(&Facts) -> Option<i64>| -> (Vec<(i64, u32)>, Vec<i64>) {
            let real = self.pairs.iter().filter_map(|(r, _)| pick(r).map(|l| (l, r.employee))).collect();
            let random = self.pairs.iter().filter_map(|(_, f)| pick(f)).collect();
            (real, random)
        };
        let (after, after_random) = lags(&|f: &Facts| f.visit.map(|v| v.0 as i64).filter(|m| *m >= 0));
        let w = window(&after, &after_random, s.visit_after_minutes as i64, s.max_visit_minutes as i64, s);
        model.visit_after_minutes = w.window as u32;
        model.templates.push(stat("visit (after)".into(), w, "minutes", true, w.source()));
        let (before, before_random) = lags(&|f: &Facts| f.visit.map(|v| -(v.0 as i64)).filter(|m| *m >= 0));
        let w = window(&before, &before_random, s.visit_before_minutes as i64, s.max_visit_minutes as i64, s);
        model.visit_before_minutes = w.window as u32;
        model.templates.push(stat("visit (before)".into(), w, "minutes", true, w.source()));

        // Cases, kind by kind: how long unclosed ones stay open, the tail after closing —
        // learned from the accesses the floors leave unexplained (real and random alike).
        let floor_model = model.clone();
        let unexplained_at_floor = |f: &Facts| !explained(f, &floor_model, &self.kinds);
        let stats = self.dir.case_kind_stats();
        for (k, kind) in self.kinds.iter().enumerate() {
            let k = k as u32;
            let declared = model.kinds.get(kind).filter(|w| w.source == Source::Declared).cloned();
            let (cases, durations) = stats.get(kind.as_str()).cloned().unwrap_or_default();
            let unclosed = cases - durations.len();
            let ongoing = declared.as_ref().map_or(cases >= 5 && unclosed * 2 >= cases, |d| d.ongoing);
            let of = |f: &Facts, pick: &dyn Fn(&CaseFact) -> Option<i64>| f.cases.iter().filter(|c| c.kind == k && c.handler).filter_map(pick).min();
            let open = |c: &CaseFact| c.open_age.map(|a| a as i64);
            let tail = |c: &CaseFact| c.after_close.filter(|d| *d > 0).map(|d| d as i64);
            let pairs = &self.pairs;
            let collect = |pick: &dyn Fn(&CaseFact) -> Option<i64>| -> (Vec<(i64, u32)>, Vec<i64>) {
                (
                    pairs.iter().filter(|(r, _)| unexplained_at_floor(r)).filter_map(|(r, _)| of(r, pick).map(|l| (l, r.employee))).collect(),
                    pairs.iter().filter(|(_, f)| unexplained_at_floor(f)).filter_map(|(_, f)| of(f, pick)).collect(),
                )
            };
            let mut kw = declared.clone().unwrap_or(KindWindow { ongoing, ..model.default_kind.clone() });
            kw.ongoing = ongoing;
            if declared.as_ref().is_none_or(|d| d.open_days == s.open_case_days) && !ongoing {
                let (real, random) = collect(&open);
                // Closed cases of the kind show how long such cases stay open.
                let mut d = durations.clone();
                d.sort_unstable();
                let usual = d.get(((d.len() as f64 - 1.0) * 0.95).round().max(0.0) as usize).copied().unwrap_or(0);
                let w = window(&real, &random, s.open_case_days.max(usual.clamp(0, s.max_open_case_days as i64) as u32) as i64, s.max_open_case_days as i64, s);
                kw.open_days = w.window as u32;
                if w.support > 0 || unclosed > 0 {
                    model.templates.push(stat(format!("case:{kind} (unclosed)"), w, "days", true, w.source()));
                }
            }
            if declared.as_ref().is_none_or(|d| d.tail_days == s.case_tail_days) {
                let (real, random) = collect(&tail);
                let w = window(&real, &random, s.case_tail_days as i64, s.max_case_tail_days as i64, s);
                kw.tail_days = w.window as u32;
                model.templates.push(stat(format!("case:{kind} (after closing)"), w, "days", true, w.source()));
            }
            if declared.is_none() && (kw.ongoing || kw.open_days != s.open_case_days || kw.tail_days != s.case_tail_days) {
                kw.source = Source::Learned;
            }
            model.kinds.insert(kind.clone(), kw);
        }

        // What the windows now explain directly; the rest is where section practices show.
        let rest: Vec<&(Facts, Facts)> = self.pairs.iter().filter(|(r, _)| !explained(r, &model, &self.kinds)).collect();
        // Team practice per kind and per activity: completing each other's records is not
        // reading them.
        let activities: std::collections::BTreeSet<u8> = rest.iter().map(|(r, _)| r.activity).collect();
        for (k, kind) in self.kinds.iter().enumerate() {
            let kw = model.kind(kind).clone();
            if kw.source == Source::Declared && !kw.team.is_empty() {
                continue;
            }
            let mut team = Vec::new();
            for &activity in &activities {
                let hit = |f: &Facts| f.activity == activity && f.cases.iter().any(|c| c.kind == k as u32 && !c.handler && in_window(c, &kw));
                let real: Vec<u32> = rest.iter().filter(|(r, _)| hit(r)).map(|(r, _)| r.employee).collect();
                let random = rest.iter().filter(|(_, f)| hit(f)).count();
                let w = practice(&real, random, s);
                if w.kept {
                    team.push(activity);
                }
                if !real.is_empty() {
                    model.templates.push(stat(format!("team-case:{kind} ({})", activity_name(activity)), w.window, "", w.kept, if w.kept { Source::Learned } else { Source::Floor }));
                }
            }
            if let Some(entry) = model.kinds.get_mut(kind)
                && !team.is_empty()
            {
                entry.team = team;
                entry.source = Source::Learned;
            }
        }
        // Namesakes opened in a name search while their namesake was at the counter.
        let (before_w, after_w) = (model.visit_before_minutes as i64, model.visit_after_minutes as i64);
        let hit = |f: &Facts| f.namesake.is_some_and(|m| (m as i64) >= -before_w && (m as i64) <= after_w);
        let real: Vec<u32> = rest.iter().filter(|(r, _)| hit(r) && r.visit.is_none()).map(|(r, _)| r.employee).collect();
        let random = rest.iter().filter(|(_, f)| hit(f) && f.visit.is_none()).count();
        let w = practice(&real, random, s);
        model.search_candidates = w.kept;
        model.templates.push(stat("search-candidate".into(), w.window, "", w.kept, if w.kept { Source::Learned } else { Source::Floor }));
        // Follow-ups of records the section registered.
        let real: Vec<(i64, u32)> = rest.iter().filter_map(|(r, _)| r.follow_up.filter(|f| f.1).map(|f| (f.0 as i64, r.employee))).collect();
        let random: Vec<i64> = Vec::new();
        let w = window(&real, &random, 0, s.max_follow_up_days as i64, s);
        let distinct: HashSet<u32> = real.iter().filter(|(l, _)| *l <= w.window).map(|(_, e)| *e).collect();
        let kept = w.support >= s.min_support && distinct.len() >= s.min_employees;
        model.follow_up_days = if kept { w.window.max(1) as u32 } else { 0 };
        model.templates.push(stat("follow-up".into(), w, "days", kept, if kept { Source::Learned } else { Source::Floor }));
        model
    }
}

/// Whether `model`'s windows explain the access directly (its own business).
fn explained(f: &Facts, model: &ExplanationModel, kinds: &[String]) -> bool {
    f.fixed
        || f.visit.is_some_and(|(m, served)| served && (m as i64) >= -(model.visit_before_minutes as i64) && (m as i64) <= model.visit_after_minutes as i64)
        || f.cases.iter().any(|c| c.handler && in_window(c, model.kind(&kinds[c.kind as usize])))
}

/// An OCSF Datastore activity's name, for reports.
pub fn activity_name(activity: u8) -> &'static str {
    match activity {
        1 => "read",
        2 => "update",
        4 => "query",
        6 => "create",
        7 => "delete",
        _ => "other",
    }
}

fn in_window(c: &CaseFact, k: &KindWindow) -> bool {
    match (c.open_age, c.after_close) {
        (Some(_), _) if k.ongoing => true,
        (Some(age), _) => age <= k.open_days + k.tail_days,
        (_, Some(after)) => after <= k.tail_days as i32,
        _ => false,
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    window: i64,
    floor: i64,
    bound: i64,
    support: usize,
    chance: usize,
    employees: usize,
    learned: bool,
}

impl Window {
    fn source(&self) -> Source {
        if self.learned { Source::Learned } else { Source::Floor }
    }
}

/// The window (in lag units, `floor ..= bound`) that covers `settings.coverage` of the
/// real lags' excess over the random ones; the floor when the excess is below
/// `min_support`.
fn window(real: &[(i64, u32)], random: &[i64], floor: i64, bound: i64, settings: &ExplanationSettings) -> Window {
    let floor = floor.min(bound);
    let mut r = vec![0i64; bound as usize + 1];
    let mut f = vec![0i64; bound as usize + 1];
    for (l, _) in real.iter().filter(|(l, _)| (0..=bound).contains(l)) {
        r[*l as usize] += 1;
    }
    for l in random.iter().filter(|l| (0..=bound).contains(*l)) {
        f[*l as usize] += 1;
    }
    let (mut excess, mut best, mut cum) = (0i64, 0i64, Vec::with_capacity(r.len()));
    for d in 0..r.len() {
        excess += r[d] - f[d];
        best = best.max(excess);
        cum.push(excess);
    }
    let count = |w: i64| (real.iter().filter(|(l, _)| (0..=w).contains(l)).count(), random.iter().filter(|l| (0..=w).contains(*l)).count());
    let mut learned = best >= settings.min_support as i64;
    let mut chosen = floor;
    if learned {
        let goal = (best as f64 * settings.coverage).ceil() as i64;
        chosen = cum.iter().position(|e| *e >= goal).unwrap_or(0) as i64;
        // A window that explains chance about as well as practice is no explanation.
        let (support, chance) = count(chosen.max(floor));
        if chance as f64 > settings.max_chance_share * support as f64 {
            learned = false;
            chosen = floor;
        }
    }
    let window = chosen.max(floor);
    let (support, chance) = count(window);
    let employees = real.iter().filter(|(l, _)| (0..=window).contains(l)).map(|(_, e)| *e).collect::<HashSet<_>>().len();
    Window { window, floor, bound, support, chance, employees, learned: learned && window > floor }
}

struct Practice {
    window: Window,
    kept: bool,
}

/// Whether accesses that only a section practice would explain are that section's
/// practice: enough of them above chance, by enough different employees.
fn practice(real: &[u32], random: usize, settings: &ExplanationSettings) -> Practice {
    let employees = real.iter().collect::<HashSet<_>>().len();
    let excess = real.len().saturating_sub(random);
    let kept = excess >= settings.min_support && employees >= settings.min_employees && random as f64 <= settings.max_chance_share * real.len() as f64;
    Practice { window: Window { window: 0, floor: 0, bound: 0, support: real.len(), chance: random, employees, learned: kept }, kept }
}
