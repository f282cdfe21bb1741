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
pub const SHIPPED: [(&str, &str); 6] = [
    ("mamori_unexplained_lookup_on_day_off.yml", include_str!("../../../rules/sigma/mamori_unexplained_lookup_on_day_off.yml")),
    ("mamori_unexplained_lookup_late_at_night.yml", include_str!("../../../rules/sigma/mamori_unexplained_lookup_late_at_night.yml")),
    ("mamori_bulk_unexplained_lookups.yml", include_str!("../../../rules/sigma/mamori_bulk_unexplained_lookups.yml")),
    ("mamori_many_residents_unexplained.yml", include_str!("../../../rules/sigma/mamori_many_residents_unexplained.yml")),
    ("mamori_personal_data_out_and_usb_same_day.yml", include_str!("../../../rules/sigma/mamori_personal_data_out_and_usb_same_day.yml")),
    ("mamori_audit_off_then_usb.yml", include_str!("../../../rules/sigma/mamori_audit_off_then_usb.yml")),
];

/// The field-mapping pipeline mamori ships (`rules/sigma/pipeline.yml`).
pub const SHIPPED_PIPELINE: &str = include_str!("../../../rules/sigma/pipeline.yml");

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

pub struct SigmaRules<'a> {
    dir: &'a Directory,
    engine: CorrelationEngine,
    rules: HashMap<String, RuleInfo>,
    rollups: BTreeMap<(String, String), Rollup>,
    /// Event id → (time, employee, resident), for turning correlation references back
    /// into evidence.
    seen: HashMap<u64, (i64, String, String)>,
    /// The organisation's time zone, for `Hour` and `DayOff`.
    tz: chrono_tz::Tz,
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
        if let Some(p) = pipeline {
            engine.add_pipeline(rsigma_eval::pipeline::parse_pipeline(p).map_err(|e| format!("pipeline: {e}"))?);
        }
        let mut rules = HashMap::new();
        for (name, text) in files {
            let collection = rsigma_parser::parse_sigma_yaml(text).map_err(|e| format!("{name}: {e}"))?;
            if let Some(e) = collection.errors.first() {
                return Err(format!("{name}: {e}"));
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
        Ok(SigmaRules { dir, engine, rules, rollups: BTreeMap::new(), seen: HashMap::new(), tz: chrono_tz::Asia::Tokyo })
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
        self.tz = tz;
        self
    }

    fn local(&self, ms: i64) -> NaiveDateTime {
        DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&self.tz).naive_local()
    }

    pub fn rule_count(&self) -> usize {
        self.engine.detection_rule_count() + self.engine.correlation_rule_count()
    }

    /// The event as rules see it: mamori's taxonomy, enriched as of the event's time.
    /// `employee` and `explanation` are detection's verdict on a record access.
    pub fn fields(&self, seq: u64, event: &Event, employee: Option<&str>, explanation: Option<&str>) -> Value {
        let at = self.local(event.time);
        let day = at.date();
        let host = event.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default();
        let account = event.actor.user.uid.clone();
        let employee = employee.map(str::to_owned).or_else(|| event.actor.user.employee_uid.clone()).or_else(|| {
            self.dir.account(mamori_enrich::account_system(&event.metadata.product), &account, day).and_then(|(e, _)| e.map(str::to_owned))
        });
        let posting = employee.as_deref().and_then(|e| self.dir.posting(e, day));
        let resident = event.resident_uid().unwrap_or_default().to_owned();
        let relation = employee.as_deref().filter(|_| !resident.is_empty()).and_then(|e| self.dir.relation(e, &resident, day)).map_or("none", |r| r.kind.code());
        // Correlations group by `Employee`: an event no one can be charged to is grouped by
        // its own account, never with every other unknown account's.
        let known = employee.is_some();
        let employee = employee.unwrap_or_else(|| format!("(不明: {}@{})", account, mamori_enrich::account_system(&event.metadata.product)));
        let class = match event.class_uid {
            ClassUid::DatastoreActivity => "record_access",
            ClassUid::EmailActivity => "email",
            ClassUid::FileSystemActivity => "file",
            ClassUid::PeripheralActivity => "device",
            ClassUid::Authentication => "authentication",
            ClassUid::DeviceConfigStateChange => "config_change",
            ClassUid::HttpActivity => "http",
            ClassUid::ApiActivity => "mamori",
        };
        let x = &event.unmapped.extra;
        let personal = x.get("personal_data");
        let mut v = json!({
            "event_id": seq.to_string(),
            "Timestamp": event.time / 1000,
            "Class": class,
            "ActivityId": event.activity_id,
            "Product": event.metadata.product,
            "Operation": event.unmapped.operation,
            "Account": account,
            "Employee": employee,
            "EmployeeKnown": known,
            "Department": posting.map(|p| p.0),
            "Role": posting.map(|p| p.1),
            "Host": host,
            "TerminalKind": self.dir.terminal_kind(&host).map(|k| format!("{k:?}").to_lowercase()),
            "TerminalAgent": self.dir.terminal_has_agent(&host),
            "Hour": at.hour(),
            "DayOff": self.dir.is_day_off(day),
            "Resident": resident,
            "RecordType": event.unmapped.resident.as_ref().and_then(|r| r.record_type.clone()),
            "Relation": relation,
            "Vip": !resident.is_empty() && self.dir.vip(&resident, day).is_some(),
            "FilePath": event.file.as_ref().map(|f| f.path.clone()),
            "Share": event.unmapped.share,
            "DeviceSerial": event.peripheral_device.as_ref().and_then(|d| d.serial_number.clone()),
            // A device the endpoint agent blocked never carried anything.
            "Blocked": event.status_id == mamori_model::StatusId::Failure,
            "MailFrom": event.email.as_ref().and_then(|m| m.from.clone()),
            "MailTo": event.email.as_ref().map(|m| m.to.iter().chain(&m.cc).chain(&m.bcc).cloned().collect::<Vec<_>>()),
            "MailExternal": x.get("external_recipients").filter(|v| v.as_array().is_some_and(|a| !a.is_empty())),
            "MailPersonal": x.get("personal_recipients").filter(|v| v.as_array().is_some_and(|a| !a.is_empty())),
            "PersonalRows": personal.and_then(|p| p.get("rows")),
            "MyNumbers": personal.and_then(|p| p.get("my_numbers")),
            "AuditReduced": x.get("audit_reduced"),
        });
        if event.class_uid == ClassUid::DatastoreActivity {
            v["Explained"] = explanation.is_some().into();
            v["Explanation"] = explanation.unwrap_or("").into();
        }
        v
    }

    /// Presents one stored event (id `seq`), in time order, to every rule.
    pub fn observe(&mut self, seq: u64, event: &Event, employee: Option<&str>, explanation: Option<&str>) {
        let fields = self.fields(seq, event, employee, explanation);
        let who = fields["Employee"].as_str().unwrap_or_default().to_owned();
        let resident = fields["Resident"].as_str().unwrap_or("").to_owned();
        let results = self.engine.process_event_at(&JsonEvent::borrow(&fields), event.time / 1000);
        if results.is_empty() {
            return;
        }
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
        let day = self.local(time).date();
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
                let description = info.map_or("", |i| i.description.as_str());
                let n = r.evidence.len();
                Finding {
                    id: r.key.clone(),
                    rule: r.rule.clone(),
                    title_ja: title.to_owned(),
                    title_en: title.to_owned(),
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
                    explanation_ja: format!("Sigma ルール「{title}」: 職員 {} の記録 {n} 件（{} 日間）。{description}", r.employee, r.days.len()),
                    explanation_en: format!("Sigma rule \"{title}\": {n} events of employee {} on {} distinct days. {description}", r.employee, r.days.len()),
                }
            })
            .collect()
    }
}
