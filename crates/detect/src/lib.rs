//! Detection. Events are observed in time order. Each is charged to the person behind it
//! (the session truth: `presence`), each record access is explained (or not) from master
//! data as of its time under the explanation windows in force, and the resident's relation
//! to that person is named; then every analyzer that wants the event's class judges it and
//! notes evidence, which rolls up per (employee, rule) into findings whose evidence is the
//! ids of stored events.
//!
//! The analyzers (`analyzers/`, one module each, listed in `docs/detection.md`) are named
//! after the brief's incidents they answer. Thresholds come from [`Config`] (a
//! `detect.toml`), never from code; explanation windows from the floors there widened by
//! what the town's own log shows ([`learn`]). State is kept per employee and per terminal
//! and is serialisable, so that detection can go on from a saved state and be split across
//! machines by employee.
//!
//! Detection never does I/O: the caller feeds events and takes findings.

mod analyzers;
mod config;
mod findings;
mod observe;
mod presence;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use mamori_enrich::{Directory, Explanation, ExplanationModel, Learner, RelationKind, Sample};
use mamori_model::{Event, Finding, Severity};
use serde::{Deserialize, Serialize};

pub use analyzers::{Analyzer, REGISTRY, Registration};

/// A digest of the judging logic's source (`build.rs`): part of what a saved detection
/// state was made under, so that another build judges everything again.
pub const LOGIC_DIGEST: &str = env!("MAMORI_DETECT_LOGIC");
pub use config::{Config, OrganisationConfig, RiskConfig, WebConfig};
pub use findings::{Findings, Note, Rollup, Rule, finding, rule};
pub use observe::{Actor, Context, Observation, RecordAccess, Via};
pub use presence::Presence;

use observe::{Resolver, ResolverState};

const DAY_MS: i64 = 86_400_000;

/// What detection concluded about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The employee the event is charged to.
    pub employee: Option<String>,
    /// For a record access: the business that explains it.
    pub explanation: Option<Explanation>,
    /// For a record access: how the resident is related to the employee.
    pub relation: Option<RelationKind>,
    pub record_access: bool,
}

/// Everything detection remembers between events, to save after a run and restore for
/// the next (so `detect` reads only new events and `serve` detects as batches arrive).
#[derive(Default, Serialize, Deserialize)]
pub struct DetectorState {
    resolver: ResolverState,
    #[serde(default)]
    declarations: Declarations,
    analyzers: BTreeMap<String, serde_json::Value>,
    findings: Findings,
    accesses: u64,
    explained: u64,
}

/// Purposes declared at the purpose-of-use gate, by (system, account, resident) — the
/// system as the gate key names it, which must be the source its access log is imported
/// under (`metadata.product`), so one system's key explains only its own accesses:
/// when, the purpose and the check — each explains the same account's accesses to the
/// same resident for `[explanations] declared_minutes` after it.
#[derive(Default, Serialize, Deserialize)]
struct Declarations {
    #[serde(with = "pairs")]
    by: BTreeMap<(String, String, String), (i64, String, String)>,
}

impl Declarations {
    /// Notes a `gate.declare` event (mamori's own, class 6003).
    fn note(&mut self, event: &Event, window_ms: i64) {
        let Some(g) = event.unmapped.extra.get("gate") else { return };
        let text = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        self.by.insert((text("system"), text("account"), text("resident")), (event.time, text("purpose"), text("check_id")));
        // Declarations past their window explain nothing more.
        self.by.retain(|_, (t, _, _)| event.time - *t <= window_ms);
    }

    /// The declaration that explains `event` (an access to `resident`), if any.
    fn explaining(&self, event: &Event, resident: &str, window_ms: i64) -> Option<Explanation> {
        let key = (event.metadata.product.clone(), event.actor.user.uid.clone(), resident.to_owned());
        let (at, purpose, check) = self.by.get(&key)?;
        (0..=window_ms).contains(&(event.time - at)).then(|| Explanation::Declared { purpose: purpose.clone(), check: check.clone() })
    }
}

/// Whether `event` is a declaration made at the purpose-of-use gate.
pub fn is_gate_declaration(event: &Event) -> bool {
    event.class_uid == mamori_model::ClassUid::ApiActivity && event.unmapped.operation.as_deref() == Some("gate.declare")
}

pub struct Detector<'a> {
    dir: &'a Directory,
    config: Config,
    declarations: Declarations,
    web: mamori_enrich::WebCategories,
    model: ExplanationModel,
    resolver: ResolverState,
    analyzers: Vec<(&'static str, Box<dyn Analyzer>)>,
    findings: Findings,
    accesses: u64,
    explained: u64,
}

/// Maps with tuple keys as lists of pairs (JSON keys must be strings).
pub(crate) mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

impl<'a> Detector<'a> {
    /// A detector with the default settings and the explanation floors.
    pub fn new(dir: &'a Directory) -> Detector<'a> {
        Detector::with_config(dir, Config::default())
    }

    /// A detector with `config`, explaining under its floors (nothing learned).
    pub fn with_config(dir: &'a Directory, config: Config) -> Detector<'a> {
        let model = ExplanationModel::floors(&config.explanations, dir);
        Detector::with_model(dir, config, model)
    }

    /// A detector explaining under `model` (learned by [`learn`]).
    pub fn with_model(dir: &'a Directory, config: Config, model: ExplanationModel) -> Detector<'a> {
        let analyzers = REGISTRY.iter().map(|r| r.section).zip(config.build_analyzers().expect("the config was checked when it was read")).collect();
        let web = mamori_enrich::WebCategories::new(&config.web.categories);
        Detector { dir, config, declarations: Declarations::default(), web, model, resolver: ResolverState::default(), analyzers, findings: Findings::default(), accesses: 0, explained: 0 }
    }

    /// Goes on from a saved state; an error if it was saved by another version.
    pub fn resume(dir: &'a Directory, config: Config, model: ExplanationModel, state: DetectorState) -> Result<Detector<'a>, String> {
        let mut d = Detector::with_model(dir, config, model);
        d.resolver = state.resolver;
        d.declarations = state.declarations;
        d.findings = state.findings;
        d.accesses = state.accesses;
        d.explained = state.explained;
        for (section, a) in &mut d.analyzers {
            if let Some(v) = state.analyzers.get(*section) {
                a.restore(v.clone()).map_err(|e| format!("[{section}] state: {e}"))?;
            }
        }
        Ok(d)
    }

    /// The state to save for the next run.
    pub fn state(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Ref<'s> {
            resolver: &'s ResolverState,
            declarations: &'s Declarations,
            analyzers: BTreeMap<&'static str, serde_json::Value>,
            findings: &'s Findings,
            accesses: u64,
            explained: u64,
        }
        let analyzers = self.analyzers.iter().map(|(s, a)| (*s, a.save())).collect();
        serde_json::to_value(Ref { resolver: &self.resolver, declarations: &self.declarations, analyzers, findings: &self.findings, accesses: self.accesses, explained: self.explained })
            .expect("detector state serialises")
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn model(&self) -> &ExplanationModel {
        &self.model
    }

    /// How often each employee left a session locked and unlocked, per month:
    /// ((employee, `YYYY-MM`), (locked, unlocked)).
    pub fn lock_compliance(&self) -> impl Iterator<Item = (&(String, String), &(u32, u32))> {
        self.resolver.presence.lock_compliance()
    }

    /// Record accesses judged, and how many were explained.
    pub fn counts(&self) -> (u64, u64) {
        (self.accesses, self.explained)
    }

    /// Observes one stored event (id `seq`), in time order.
    pub fn observe(&mut self, seq: u64, event: &Event) -> Verdict {
        let mut resolver = Resolver { dir: self.dir, config: &self.config, s: std::mem::take(&mut self.resolver) };
        let mut o = resolver.observe(seq, event);
        self.resolver = resolver.s;
        self.charge_the_related_candidate(&mut o);
        let window_ms = self.config.explanations.declared_minutes as i64 * 60_000;
        if is_gate_declaration(event) {
            self.declarations.note(event, window_ms);
        }
        if let Some(access) = o.access.as_mut() {
            self.accesses += 1;
            access.explanation = explain(self.dir, &self.model, &o.actor, access, event, o.at);
            // A purpose declared at the gate explains what master data does not — except a
            // look-up of one's own kin, which stays for review with its declaration.
            if access.explanation.is_none() {
                let kin = o.actor.employee.as_deref().and_then(|e| self.dir.relation(e, &access.resident, o.day)).is_some_and(|r| r.kind.is_kin());
                if !kin {
                    access.explanation = self.declarations.explaining(event, &access.resident, window_ms);
                }
            }
        }
        self.charge_the_related_bystander(&mut o, event);
        if let Some(access) = o.access.as_mut() {
            if access.explanation.is_some() {
                self.explained += 1;
            }
            access.relation = o.actor.employee.as_deref().filter(|_| !access.resident.is_empty()).and_then(|e| self.dir.relation(e, &access.resident, o.day));
        }
        let cx = Context { dir: self.dir, presence: &self.resolver.presence, config: &self.config, web: &self.web };
        for (_, a) in &mut self.analyzers {
            if a.classes().contains(&o.class()) {
                a.observe(&o, &cx, &mut self.findings);
            }
        }
        let (explanation, relation) = match &o.access {
            Some(a) => (a.explanation.clone(), a.relation.as_ref().map(|r| r.kind)),
            None => (None, None),
        };
        Verdict { employee: o.actor.employee, explanation, relation, record_access: o.access.is_some() }
    }

    /// An absent owner's account used while several people were in the room: when just one
    /// of them is kin to the resident looked up, it was them.
    fn charge_the_related_candidate(&self, o: &mut Observation) {
        let (Via::Away { candidates, .. }, Some(access)) = (&o.actor.via, &o.access) else { return };
        if candidates.len() < 2 {
            return;
        }
        let kin: Vec<&String> = candidates.iter().filter(|c| self.dir.relation(c, &access.resident, o.day).is_some_and(|r| r.kind.is_kin())).collect();
        if let [one] = kin[..] {
            o.actor.employee = Some(one.clone());
            if let Some((dept, _)) = self.dir.posting(one, o.day) {
                o.actor.department = dept.to_owned();
            }
        }
    }

    /// A shared account at a terminal no one holds, with several people in the room, looking
    /// up a record no business explains: when just one of them is kin to the resident, it
    /// was them (an open-plan office's counter login used to look up one's own family).
    fn charge_the_related_bystander(&self, o: &mut Observation, event: &Event) {
        let (Via::Crowd { candidates, .. }, Some(access)) = (&o.actor.via, &o.access) else { return };
        if access.explanation.is_some() || access.resident.is_empty() {
            return;
        }
        let kin: Vec<&String> = candidates.iter().filter(|c| self.dir.relation(c, &access.resident, o.day).is_some_and(|r| r.kind.is_kin())).collect();
        let [one] = kin[..] else { return };
        o.actor.employee = Some(one.clone());
        if let Some((dept, _)) = self.dir.posting(one, o.day) {
            o.actor.department = dept.to_owned();
        }
        if let Some(access) = o.access.as_mut() {
            access.explanation = explain(self.dir, &self.model, &o.actor, access, event, o.at);
        }
    }

    /// The findings so far, most severe and most evidenced first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.findings.rollups().map(finding).collect();
        sort_findings(&mut out);
        out
    }
}

/// Most severe first, then most evidenced, then by id.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.evidence.len().cmp(&a.evidence.len())).then(a.id.cmp(&b.id)));
}

/// The business behind a record access under `model`: master data's, else a follow-up of a
/// record the employee's section registered (when the town's practice has one).
fn explain(dir: &Directory, model: &ExplanationModel, actor: &Actor, access: &RecordAccess, event: &Event, at: chrono::NaiveDateTime) -> Option<Explanation> {
    let kind = actor.kind?;
    let declared_case = event.unmapped.extra.get("case_no").and_then(|v| v.as_str());
    let host = event.hostname();
    let q = mamori_enrich::Access { kind, employee: actor.employee.as_deref(), department: &actor.department, resident: &access.resident, host, at, declared_case, activity: event.activity_id };
    if let Some(e) = dir.explain(model, &q) {
        return Some(e);
    }
    let reg = access.registered.as_ref()?;
    let days = (event.time - reg.time) / DAY_MS;
    (model.follow_up_days > 0
        && model.follow_up_activities.contains(&event.activity_id)
        && reg.department == actor.department
        && reg.by.is_some()
        && reg.by != actor.employee
        && days <= model.follow_up_days as i64)
        .then(|| Explanation::FollowUp { registered_by: reg.by.clone().unwrap_or_default(), days })
}

/// Learns the explanation windows from a town's events (fed in time order): see
/// `mamori-enrich`'s `Learner`. The same events give the same model.
pub struct Learning<'a> {
    config: Config,
    resolver: ResolverState,
    learner: Learner<'a>,
    dir: &'a Directory,
    activities: Vec<u8>,
    bound: i64,
}

impl<'a> Learning<'a> {
    pub fn new(dir: &'a Directory, config: Config) -> Learning<'a> {
        let activities = config.explanations.follow_up_activities.iter().filter_map(|a| mamori_enrich::activity_id(a)).collect();
        let bound = config.explanations.max_follow_up_days as i64;
        Learning { learner: Learner::new(dir, &config.explanations), config, resolver: ResolverState::default(), dir, activities, bound }
    }

    pub fn observe(&mut self, seq: u64, event: &Event) {
        let mut resolver = Resolver { dir: self.dir, config: &self.config, s: std::mem::take(&mut self.resolver) };
        let o = resolver.observe(seq, event);
        self.resolver = resolver.s;
        let Some(access) = &o.access else { return };
        if o.actor.kind.is_none() || access.resident.is_empty() {
            return;
        }
        let follow_up = access.registered.as_ref().and_then(|r| {
            let days = (o.time - r.time) / DAY_MS;
            (r.department == o.actor.department && r.by.is_some() && r.by != o.actor.employee && (0..=self.bound).contains(&days))
                .then_some((days as u32, self.activities.contains(&event.activity_id)))
        });
        let declared_case = event.unmapped.extra.get("case_no").and_then(|v| v.as_str());
        let access = mamori_enrich::Access {
            kind: o.actor.kind.expect("checked"),
            employee: o.actor.employee.as_deref(),
            department: &o.actor.department,
            resident: &access.resident,
            host: &o.host,
            at: o.at,
            declared_case,
            activity: event.activity_id,
        };
        self.learner.observe(&Sample { access, id: seq, follow_up });
    }

    pub fn finish(self) -> ExplanationModel {
        self.learner.finish()
    }
}

/// One employee's risk: the score and the findings behind it, strongest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Risk {
    pub employee: String,
    pub score: f64,
    pub findings: Vec<(String, f64)>,
}

/// Rolls findings up into a risk score per employee (the finding's subject), ranked:
/// each finding weighs by severity (low 1, medium 3, high 10, critical 30), grows with
/// the log of its evidence (ten look-ups are more than one, a thousand not a hundred
/// times more), and halves every `half_life_days` since its last evidence, so old
/// business fades unless it recurs.
pub fn risk(findings: &[Finding], as_of_ms: i64, config: &RiskConfig) -> Vec<Risk> {
    let mut by: BTreeMap<&str, Vec<(String, f64)>> = BTreeMap::new();
    for f in findings {
        let Some(employee) = f.employees.first() else { continue };
        let weight = match f.severity {
            Severity::Low => 1.0,
            Severity::Medium => 3.0,
            Severity::High => 10.0,
            Severity::Critical => 30.0,
        };
        let age_days = ((as_of_ms - f.to) as f64 / DAY_MS as f64).max(0.0);
        let decay = 0.5f64.powf(age_days / config.half_life_days.max(f64::MIN_POSITIVE));
        let score = weight * (1.0 + (f.evidence.len().max(1) as f64).ln()) * decay;
        by.entry(employee.as_str()).or_default().push((f.id.clone(), score));
    }
    let mut out: Vec<Risk> = by
        .into_iter()
        .map(|(employee, mut findings)| {
            findings.sort_by(|a, b| b.1.total_cmp(&a.1));
            Risk { employee: employee.to_owned(), score: findings.iter().map(|f| f.1).sum(), findings }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.employee.cmp(&b.employee)));
    out
}
