//! Sigma rules over mamori's events: the rules users write and tune themselves, beside
//! the built-in analyzers. Each stored event is presented to the rules as a flat object
//! in mamori's Sigma taxonomy (`docs/sigma.md`: `Class`, `Employee`, `Department`,
//! `Resident`, `Explained`, `Relation`, `Vip`, `Hour`, `DayOff`, `PersonalRows` …,
//! enriched as of the event's own time); a processing pipeline (`field_name_mapping`)
//! lets rules written with other names run.
//! Rules are evaluated by `rsigma-eval`, correlations included (`event_count`,
//! `value_count`, `temporal`, `temporal_ordered`); every match becomes evidence of a
//! finding named `sigma:` + the rule's id, rolled up per employee.
//!
//! This crate parses rule text and evaluates; it never reads files or storage: the
//! caller hands it the rules' text and the events in time order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Timelike};
use mamori_enrich::Directory;
use mamori_model::{ClassUid, Event, Finding, Severity};
use rsigma_eval::{CorrelationConfig, CorrelationEngine, CorrelationEventMode, JsonEvent};
use rsigma_parser::Level;
use serde_json::{Value, json};

/// The rules mamori ships (`rules/sigma`), compiled into the binary: (file name, text).
pub const SHIPPED: [(&str, &str); 8] = [
    ("mamori_unexplained_lookup_on_day_off.yml", include_str!("../../../rules/sigma/mamori_unexplained_lookup_on_day_off.yml")),
    ("mamori_unexplained_lookup_late_at_night.yml", include_str!("../../../rules/sigma/mamori_unexplained_lookup_late_at_night.yml")),
    ("mamori_bulk_unexplained_lookups.yml", include_str!("../../../rules/sigma/mamori_bulk_unexplained_lookups.yml")),
    ("mamori_many_residents_unexplained.yml", include_str!("../../../rules/sigma/mamori_many_residents_unexplained.yml")),
    ("mamori_personal_data_out_and_usb_same_day.yml", include_str!("../../../rules/sigma/mamori_personal_data_out_and_usb_same_day.yml")),
    ("mamori_audit_off_then_usb.yml", include_str!("../../../rules/sigma/mamori_audit_off_then_usb.yml")),
    ("mamori_mail_many_outside_recipients_visible.yml", include_str!("../../../rules/sigma/mamori_mail_many_outside_recipients_visible.yml")),
    ("mamori_large_upload_to_cloud_or_file_sharing.yml", include_str!("../../../rules/sigma/mamori_large_upload_to_cloud_or_file_sharing.yml")),
];

/// The field-mapping pipeline mamori ships (`rules/sigma/pipeline.yml`).
pub const SHIPPED_PIPELINE: &str = include_str!("../../../rules/sigma/pipeline.yml");

/// Every field mamori offers rules (`docs/sigma.md`). A rule that names another field
/// (after the pipeline's mapping) would compile and never match: it is refused instead.
pub const TAXONOMY: &[&str] = &[
    "event_id",
    "Timestamp",
    "Class",
    "ActivityId",
    "Product",
    "Operation",
    "Status",
    "Account",
    "Employee",
    "EmployeeKnown",
    "Department",
    "Role",
    "Team",
    "LeavingInDays",
    "Host",
    "TerminalKind",
    "TerminalAgent",
    "Hour",
    "DayOff",
    "Resident",
    "RecordType",
    "Relation",
    "Vip",
    "Explained",
    "Explanation",
    "FilePath",
    "Share",
    "DeviceSerial",
    "Blocked",
    "DeviceApproved",
    "MailFrom",
    "MailTo",
    "MailExternal",
    "MailPersonal",
    "MailRecipientCount",
    "MailExternalCount",
    "MailVisibleExternalCount",
    "MailUntrusted",
    "MailAttachmentCount",
    "PersonalRows",
    "MyNumbers",
    "AuditReduced",
    "Url",
    "UrlHost",
    "UrlCategory",
    "HttpMethod",
    "HttpStatus",
    "BytesOut",
    "BytesIn",
];

/// A title written `日本語 (English)`, as the shipped rules are, in its two languages; any
/// other title in both.
fn split_title(title: &str) -> (&str, &str) {
    match title.strip_suffix(')').and_then(|t| t.rsplit_once(" (")) {
        Some((ja, en)) if !ja.trim().is_empty() && !en.trim().is_empty() => (ja.trim(), en.trim()),
        _ => (title, title),
    }
}

fn fields_of(d: &rsigma_parser::Detection, out: &mut Vec<String>) {
    use rsigma_parser::Detection as D;
    match d {
        D::AllOf(items) => out.extend(items.iter().filter_map(|i| i.field.name.clone())),
        D::AnyOf(ds) | D::And(ds) => ds.iter().for_each(|d| fields_of(d, out)),
        D::Keywords(_) => {}
        D::ArrayMatch { field, .. } => out.push(field.clone()),
        D::Conditional { named, .. } => named.values().for_each(|d| fields_of(d, out)),
    }
}

/// Refuses rules that name a field outside the taxonomy (after the pipeline's mapping),
/// by file, rule and field.
fn check_fields(file: &str, collection: &rsigma_parser::SigmaCollection, pipelines: &[rsigma_eval::pipeline::Pipeline]) -> Result<(), String> {
    let unknown = |f: &str| !TAXONOMY.contains(&f);
    for rule in &collection.rules {
        let mut mapped = rule.clone();
        rsigma_eval::pipeline::apply_pipelines(pipelines, &mut mapped).map_err(|e| format!("{file}: {e}"))?;
        let mut names = Vec::new();
        for d in mapped.detection.named.values() {
            fields_of(d, &mut names);
        }
        if let Some(f) = names.iter().find(|f| unknown(f)) {
            return Err(format!("{file}: rule \"{}\" uses field `{f}`, which mamori's Sigma taxonomy does not have (docs/sigma.md)", rule.title));
        }
    }
    for c in &collection.correlations {
        if let Some(f) = c.group_by.iter().find(|f| unknown(f)) {
            return Err(format!("{file}: correlation \"{}\" groups by `{f}`, which mamori's Sigma taxonomy does not have (docs/sigma.md)", c.title));
        }
    }
    Ok(())
}

/// What a rule says about itself, for the findings it raises.
struct RuleInfo {
    title: String,
    description: String,
    severity: Severity,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Rollup {
    key: String,
    rule: String,
    employee: String,
    evidence: BTreeSet<u64>,
    residents: BTreeSet<String>,
    /// The distinct local days of the evidence.
    #[serde(default)]
    days: BTreeSet<chrono::NaiveDate>,
    from: i64,
    to: i64,
    detected_at: i64,
}

/// What the rules' view of an event is enriched from.
struct Lens<'a> {
    dir: &'a Directory,
    /// The organisation's time zone, for `Hour` and `DayOff`.
    tz: chrono_tz::Tz,
    /// Web categories, for `UrlCategory`.
    web: mamori_enrich::WebCategories,
    /// Domains personal data may be mailed to (`[mail] trusted_domains`), for `MailUntrusted`.
    trusted: Vec<String>,
}

impl Lens<'_> {
    fn local(&self, ms: i64) -> NaiveDateTime {
        DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&self.tz).naive_local()
    }
}

pub struct SigmaRules<'a> {
    lens: Lens<'a>,
    engine: CorrelationEngine,
    rules: HashMap<String, RuleInfo>,
    rollups: BTreeMap<(String, String), Rollup>,
    /// Event id → (time, employee, resident), for turning correlation references back
    /// into evidence.
    seen: HashMap<u64, (i64, String, String)>,
}

fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Critical) => Severity::Critical,
        Some(Level::High) => Severity::High,
        Some(Level::Medium) => Severity::Medium,
        _ => Severity::Low,
    }
}


impl<'a> SigmaRules<'a> {
    /// Loads rule files (name, YAML text; one or more documents each) and an optional
    /// processing pipeline. A rule that does not parse or compile is an error naming its
    /// file: a monitoring rule silently left out is worse than none.
    pub fn new(dir: &'a Directory, files: &[(String, String)], pipeline: Option<&str>) -> Result<SigmaRules<'a>, String> {
        let config = CorrelationConfig {
            timestamp_fields: vec!["Timestamp".into()],
            correlation_event_mode: CorrelationEventMode::Refs,
            max_correlation_events: 10_000,
            // Rules that only feed correlations say nothing on their own.
            emit_detections: false,
            ..CorrelationConfig::default()
        };
        let mut engine = CorrelationEngine::new(config);
        let mut pipelines = Vec::new();
        if let Some(p) = pipeline {
            let parsed = rsigma_eval::pipeline::parse_pipeline(p).map_err(|e| format!("pipeline: {e}"))?;
            pipelines.push(parsed.clone());
            engine.add_pipeline(parsed);
        }
        let mut rules = HashMap::new();
        // Rule id → the file that declared it: correlations name their parts by id, and two
        // rules under one id would silently take each other's place.
        let mut declared: HashMap<String, String> = HashMap::new();
        for (name, text) in files {
            let collection = rsigma_parser::parse_sigma_yaml(text).map_err(|e| format!("{name}: {e}"))?;
            if let Some(e) = collection.errors.first() {
                return Err(format!("{name}: {e}"));
            }
            check_fields(name, &collection, &pipelines)?;
            let ids = collection.rules.iter().map(|r| r.id.clone().unwrap_or_else(|| r.title.clone())).chain(collection.correlations.iter().map(|c| c.id.clone().unwrap_or_else(|| c.title.clone())));
            for id in ids {
                if let Some(first) = declared.insert(id.clone(), name.clone()) {
                    return Err(format!("{name}: rule id `{id}` is already used in {first}; give each rule its own id"));
                }
            }
            for r in &collection.rules {
                let id = r.id.clone().unwrap_or_else(|| r.title.clone());
                rules.insert(id, RuleInfo { title: r.title.clone(), description: r.description.clone().unwrap_or_default(), severity: severity(r.level) });
            }
            for c in &collection.correlations {
                let id = c.id.clone().unwrap_or_else(|| c.title.clone());
                rules.insert(id, RuleInfo { title: c.title.clone(), description: c.description.clone().unwrap_or_default(), severity: severity(c.level) });
            }
            engine.add_collection(&collection).map_err(|e| format!("{name}: {e}"))?;
        }
        let lens = Lens { dir, tz: chrono_tz::Asia::Tokyo, web: mamori_enrich::WebCategories::new(&BTreeMap::new()), trusted: Vec::new() };
        Ok(SigmaRules { lens, engine, rules, rollups: BTreeMap::new(), seen: HashMap::new() })
    }

    /// Everything the rules remember (correlation windows, findings so far), to save
    /// after a run.
    pub fn state(&self) -> Value {
        let rollups: Vec<(&(String, String), &Rollup)> = self.rollups.iter().collect();
        json!({"engine": self.engine.export_state(), "rollups": rollups, "seen": self.seen})
    }

    /// Goes on from a saved state; `false` if it was saved for other rules or another
    /// version and cannot be used (the caller then starts over).
    pub fn restore(&mut self, state: Value) -> bool {
        let Ok(engine) = serde_json::from_value(state["engine"].clone()) else { return false };
        let Ok(rollups) = serde_json::from_value::<Vec<((String, String), Rollup)>>(state["rollups"].clone()) else { return false };
        let Ok(seen) = serde_json::from_value(state["seen"].clone()) else { return false };
        if !self.engine.import_state(engine) {
            return false;
        }
        self.rollups = rollups.into_iter().collect();
        self.seen = seen;
        true
    }

    /// Judges hours and days off in `tz` (the organisation's time zone; Asia/Tokyo unless
    /// set).
    pub fn in_timezone(mut self, tz: chrono_tz::Tz) -> Self {
        self.lens.tz = tz;
        self
    }

    /// Categorises web hosts with `web` (the shipped list and the town's own).
    pub fn with_web(mut self, web: mamori_enrich::WebCategories) -> Self {
        self.lens.web = web;
        self
    }

    /// Takes `domains` as the places personal data may be mailed to (detect.toml's
    /// `[mail] trusted_domains`): `MailUntrusted` lists the external recipients outside them.
    pub fn with_trusted_domains(mut self, domains: Vec<String>) -> Self {
        self.lens.trusted = domains;
        self
    }

    pub fn rule_count(&self) -> usize {
        self.engine.detection_rule_count() + self.engine.correlation_rule_count()
    }

    /// The event as rules see it: every field of mamori's taxonomy, enriched as of the
    /// event's time, as one flat object (what `mamori events sigma-flat` writes).
    /// `employee` and `explanation` are detection's verdict on a record access.
    pub fn fields(&self, seq: u64, event: &Event, employee: Option<&str>, explanation: Option<&str>) -> Value {
        View::new(&self.lens, seq, event, employee, explanation).flat()
    }

    /// Presents one stored event (id `seq`), in time order, to every rule.
    pub fn observe(&mut self, seq: u64, event: &Event, employee: Option<&str>, explanation: Option<&str>) {
        let view = View::new(&self.lens, seq, event, employee, explanation);
        let results = self.engine.process_event_at(&view, event.time / 1000);
        if results.is_empty() {
            return;
        }
        let who = view.charged().0.clone();
        let resident = event.resident_uid().unwrap_or_default().to_owned();
        self.seen.insert(seq, (event.time, who.clone(), resident.clone()));
        for r in results {
            let id = r.header.rule_id.clone().unwrap_or_else(|| r.header.rule_title.clone());
            // Informational rules are parts of correlations and raise nothing themselves.
            if r.is_detection() && matches!(r.header.level, Some(Level::Informational)) {
                continue;
            }
            if r.is_detection() {
                self.note(&id, &who, seq, event.time, &resident, event.time);
            } else if let Some(c) = r.as_correlation() {
                let subject = c.group_key.iter().find(|(k, _)| k == "Employee").map(|(_, v)| v.clone()).unwrap_or_else(|| who.clone());
                let refs: Vec<u64> = c.event_refs.iter().flatten().filter_map(|e| e.id.as_deref()?.parse().ok()).collect();
                for s in refs.iter().chain([&seq]) {
                    let (t, _, res) = self.seen.get(s).cloned().unwrap_or((event.time, String::new(), String::new()));
                    self.note(&id, &subject, *s, t, &res, event.time);
                }
            }
        }
    }

    fn note(&mut self, rule: &str, employee: &str, seq: u64, time: i64, resident: &str, now: i64) {
        let day = self.lens.local(time).date();
        let r = self.rollups.entry((rule.to_owned(), employee.to_owned())).or_insert_with(|| Rollup {
            key: format!("sigma:{rule}:{employee}"),
            rule: format!("sigma:{rule}"),
            employee: employee.to_owned(),
            evidence: BTreeSet::new(),
            residents: BTreeSet::new(),
            days: BTreeSet::new(),
            from: time,
            to: time,
            detected_at: now,
        });
        r.evidence.insert(seq);
        r.days.insert(day);
        if !resident.is_empty() {
            r.residents.insert(resident.to_owned());
        }
        r.from = r.from.min(time);
        r.to = r.to.max(time);
    }

    /// The findings the rules raised.
    pub fn findings(&self) -> Vec<Finding> {
        self.rollups
            .iter()
            .map(|((rule, _), r)| {
                let info = self.rules.get(rule);
                let title = info.map_or(rule.as_str(), |i| i.title.as_str());
                let (title_ja, title_en) = split_title(title);
                let description = info.map_or("", |i| i.description.as_str());
                let n = r.evidence.len();
                Finding {
                    id: r.key.clone(),
                    rule: r.rule.clone(),
                    title_ja: title_ja.to_owned(),
                    title_en: title_en.to_owned(),
                    severity: info.map_or(Severity::Low, |i| i.severity),
                    employees: vec![r.employee.clone()],
                    residents: r.residents.iter().cloned().collect(),
                    files: Vec::new(),
                    devices: Vec::new(),
                    mails: Vec::new(),
                    from: r.from,
                    to: r.to,
                    detected_at: r.detected_at,
                    days: r.days.len(),
                    evidence: r.evidence.iter().copied().collect(),
                    explanation_ja: format!("Sigma ルール「{title_ja}」: 職員 {} の記録 {n} 件（{} 日間）。{description}", r.employee, r.days.len()),
                    explanation_en: format!("Sigma rule \"{title_en}\": {n} events of employee {} on {} distinct days. {description}", r.employee, r.days.len()),
                    suppressed: None,
                }
            })
            .collect()
    }
}

/// One event as the rules see it. Each field is worked out when a rule asks for it:
/// building the whole flat object for every event cost a fifth of detection's time, and a
/// rule set reads a handful of fields. `flat` is every field of the same view, so the
/// export and the rules cannot disagree.
struct View<'v> {
    lens: &'v Lens<'v>,
    seq: u64,
    event: &'v Event,
    employee: Option<&'v str>,
    explanation: Option<&'v str>,
    at: NaiveDateTime,
    /// The employee charged (or the unknown account's own label) and whether known.
    charged: std::cell::OnceCell<(String, bool)>,
}

impl<'v> View<'v> {
    fn new(lens: &'v Lens<'v>, seq: u64, event: &'v Event, employee: Option<&'v str>, explanation: Option<&'v str>) -> View<'v> {
        View { lens, seq, event, employee, explanation, at: lens.local(event.time), charged: std::cell::OnceCell::new() }
    }

    fn day(&self) -> chrono::NaiveDate {
        self.at.date()
    }

    fn host(&self) -> &str {
        self.event.hostname()
    }

    fn resident(&self) -> &str {
        self.event.resident_uid().unwrap_or_default()
    }

    /// Correlations group by `Employee`: an event no one can be charged to is grouped by
    /// its own account, never with every other unknown account's.
    fn charged(&self) -> &(String, bool) {
        self.charged.get_or_init(|| {
            let e = self.event;
            let account = &e.actor.user.uid;
            let found = self.employee.map(str::to_owned).or_else(|| e.actor.user.employee_uid.clone()).or_else(|| {
                self.lens.dir.account(mamori_enrich::event_account_system(e), account, self.day()).and_then(|(e, _)| e.map(str::to_owned))
            });
            match found {
                Some(employee) => (employee, true),
                None => (format!("(不明: {}@{})", account, mamori_enrich::event_account_system(e)), false),
            }
        })
    }

    fn known_employee(&self) -> Option<&str> {
        let (employee, known) = self.charged();
        known.then_some(employee.as_str())
    }

    fn posting(&self) -> Option<(&str, &str)> {
        self.known_employee().and_then(|e| self.lens.dir.posting(e, self.day()))
    }

    fn external(&self) -> Vec<&str> {
        self.event.unmapped.extra.get("external_recipients").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default()
    }

    /// The field `name`, or `None` where the event has no such field (mail fields on a
    /// web request); a field the event could have but lacks is `null`.
    fn field(&self, name: &str) -> Option<Value> {
        let e = self.event;
        let x = &e.unmapped.extra;
        let personal = || x.get("personal_data");
        let nonempty = |key: &str| x.get(key).filter(|v| v.as_array().is_some_and(|a| !a.is_empty())).cloned().into();
        Some(match name {
            "event_id" => self.seq.to_string().into(),
            "Timestamp" => (e.time / 1000).into(),
            "Class" => match e.class_uid {
                ClassUid::DatastoreActivity => "record_access",
                ClassUid::EmailActivity => "email",
                ClassUid::FileSystemActivity => "file",
                ClassUid::PeripheralActivity => "device",
                ClassUid::Authentication => "authentication",
                ClassUid::DeviceConfigStateChange => "config_change",
                ClassUid::HttpActivity => "http",
                ClassUid::ApiActivity => "mamori",
            }
            .into(),
            "ActivityId" => e.activity_id.into(),
            "Product" => e.metadata.product.clone().into(),
            "Operation" => e.unmapped.operation.clone().into(),
            "Account" => e.actor.user.uid.clone().into(),
            "Employee" => self.charged().0.clone().into(),
            "EmployeeKnown" => self.charged().1.into(),
            "Department" => self.posting().map(|p| p.0).into(),
            "Role" => self.posting().map(|p| p.1).into(),
            "Host" => self.host().into(),
            "TerminalKind" => self.lens.dir.terminal_kind(self.host()).map(|k| format!("{k:?}").to_lowercase()).into(),
            "TerminalAgent" => self.lens.dir.terminal_has_agent(self.host()).into(),
            "Hour" => self.at.hour().into(),
            "DayOff" => self.lens.dir.is_day_off(self.day()).into(),
            "Resident" => self.resident().into(),
            "RecordType" => e.unmapped.resident.as_ref().and_then(|r| r.record_type.clone()).into(),
            "Relation" => self.known_employee().filter(|_| !self.resident().is_empty()).and_then(|emp| self.lens.dir.relation(emp, self.resident(), self.day())).map_or("none", |r| r.kind.code()).into(),
            "Vip" => (!self.resident().is_empty() && self.lens.dir.vip(self.resident(), self.day()).is_some()).into(),
            "FilePath" => e.file.as_ref().map(|f| f.path.clone()).into(),
            "Share" => e.unmapped.share.clone().into(),
            "DeviceSerial" => e.peripheral_device.as_ref().and_then(|d| d.serial_number.clone()).into(),
            // A device the endpoint agent blocked never carried anything.
            "Blocked" => (e.status_id == mamori_model::StatusId::Failure).into(),
            "DeviceApproved" => e.peripheral_device.as_ref().and_then(|d| d.serial_number.as_deref()).is_some_and(|s| self.lens.dir.approved_device(s, self.day()).is_some()).into(),
            "MailFrom" => e.email.as_ref().and_then(|m| m.from.clone()).into(),
            "MailTo" => e.email.as_ref().map(|m| m.to.iter().chain(&m.cc).chain(&m.bcc).cloned().collect::<Vec<_>>()).into(),
            "MailExternal" => nonempty("external_recipients"),
            "MailPersonal" => nonempty("personal_recipients"),
            "PersonalRows" => personal().and_then(|p| p.get("rows")).cloned().into(),
            "MyNumbers" => personal().and_then(|p| p.get("my_numbers")).cloned().into(),
            "AuditReduced" => x.get("audit_reduced").cloned().into(),
            "Status" => match e.status_id {
                mamori_model::StatusId::Success => "success",
                mamori_model::StatusId::Failure => "failure",
                mamori_model::StatusId::Other => "other",
                mamori_model::StatusId::Unknown => "unknown",
            }
            .into(),
            "Team" => self.known_employee().and_then(|emp| self.lens.dir.team(emp, self.day())).into(),
            "LeavingInDays" => self.known_employee().and_then(|emp| self.lens.dir.leaving(emp)).map(|d| (d - self.day()).num_days()).into(),
            "MailRecipientCount" => e.email.as_ref().map(|m| m.to.len() + m.cc.len() + m.bcc.len())?.into(),
            "MailExternalCount" => e.email.as_ref().map(|_| self.external().len())?.into(),
            // External addresses every recipient sees (To and Cc): a list sent without Bcc.
            "MailVisibleExternalCount" => e.email.as_ref().map(|m| self.external().iter().filter(|a| m.to.iter().chain(&m.cc).any(|t| t.eq_ignore_ascii_case(a))).count())?.into(),
            "MailUntrusted" => {
                e.email.as_ref()?;
                let untrusted: Vec<&str> = self.external().into_iter().filter(|a| !mamori_text::mail_domain_in(a, &self.lens.trusted)).collect();
                if untrusted.is_empty() {
                    return None;
                }
                untrusted.into()
            }
            "MailAttachmentCount" => {
                e.email.as_ref()?;
                let attachments = x.get("attachment_count").and_then(|v| v.as_u64()).or_else(|| x.get("attachments").and_then(|v| v.as_array()).map(|a| a.len() as u64));
                attachments.unwrap_or(0).into()
            }
            "Url" => e.http_request.as_ref()?.url.url_string.clone().into(),
            "UrlHost" => self.url_host()?.into(),
            "UrlCategory" => self.lens.web.category(&self.url_host()?).into(),
            "HttpMethod" => e.http_request.as_ref()?.http_method.clone().into(),
            "HttpStatus" => {
                e.http_request.as_ref()?;
                e.http_response.as_ref().and_then(|h| h.code).into()
            }
            "BytesOut" => {
                e.http_request.as_ref()?;
                e.traffic.as_ref().and_then(|t| t.bytes_out).into()
            }
            "BytesIn" => {
                e.http_request.as_ref()?;
                e.traffic.as_ref().and_then(|t| t.bytes_in).into()
            }
            "Explained" => (e.class_uid == ClassUid::DatastoreActivity).then_some(self.explanation.is_some())?.into(),
            "Explanation" => (e.class_uid == ClassUid::DatastoreActivity).then_some(self.explanation.unwrap_or(""))?.into(),
            _ => return None,
        })
    }

    fn url_host(&self) -> Option<String> {
        let r = self.event.http_request.as_ref()?;
        Some(r.url.hostname.clone().unwrap_or_else(|| mamori_enrich::host_of(&r.url.url_string)))
    }

    /// Every field the event has, as one flat object.
    fn flat(&self) -> Value {
        Value::Object(TAXONOMY.iter().filter_map(|name| Some(((*name).to_owned(), self.field(name)?))).collect())
    }
}

/// A field's value owned, as the engine takes it from a view that builds values on demand.
fn owned_value(v: &Value) -> rsigma_eval::EventValue<'static> {
    use rsigma_eval::EventValue;
    use std::borrow::Cow;
    match v {
        Value::String(s) => EventValue::Str(Cow::Owned(s.clone())),
        Value::Number(n) => n.as_i64().map_or_else(|| EventValue::Float(n.as_f64().unwrap_or(f64::NAN)), EventValue::Int),
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Null => EventValue::Null,
        Value::Array(a) => EventValue::Array(a.iter().map(owned_value).collect()),
        Value::Object(m) => EventValue::Map(m.iter().map(|(k, v)| (Cow::Owned(k.clone()), owned_value(v))).collect()),
    }
}

impl rsigma_eval::Event for View<'_> {
    fn get_field(&self, path: &str) -> Option<rsigma_eval::EventValue<'_>> {
        self.field(path).map(|v| owned_value(&v))
    }

    // Keyword rules (no field named) read every value: the whole object, rarely.
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        JsonEvent::borrow(&self.flat()).any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<std::borrow::Cow<'_, str>> {
        JsonEvent::borrow(&self.flat()).all_string_values().into_iter().map(|c| std::borrow::Cow::Owned(c.into_owned())).collect()
    }

    fn to_json(&self) -> Value {
        self.flat()
    }
}
