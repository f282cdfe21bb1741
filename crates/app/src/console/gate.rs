//! The gate page: what the purpose-of-use gate told staff and what they declared, over
//! the last days — warnings, requests to declare, declarations and broken glass — read
//! from the log (`gate.check` and `gate.declare` events of each system holding a gate
//! key). Broken glass is also a finding (`break_glass`), reviewed like any other.

use anyhow::{Result, bail};
use mamori_journal::{Journal, SqliteJournal, TimeRange};

use super::{Reader, View, jst_time};
use crate::audit::{self, Action};

/// One gate event as the page lists it.
pub struct GateRow {
    pub time: String,
    pub seq: u64,
    /// `check` or `declare`.
    pub kind: &'static str,
    pub system: String,
    pub account: String,
    pub employee: String,
    pub resident: String,
    /// What the gate said: allow, warn, declare.
    pub decision: String,
    pub purpose: String,
    pub case_no: String,
    pub reason: String,
    pub break_glass: bool,
}

/// The page: counts, and the latest rows (at most `limit`), newest first.
pub struct GateActivity {
    pub warnings: usize,
    pub declare_asked: usize,
    pub declarations: usize,
    pub break_glass: usize,
    pub rows: Vec<GateRow>,
}

pub fn activity(j: &mut SqliteJournal, reader: &Reader, days: i64, limit: usize) -> Result<GateActivity> {
    if !reader.role.may(View::Gate) {
        bail!(crate::tr!("役割 {} は利用目的ゲートの記録を見られません", "role {} may not see the gate's activity", reader.role.as_str()));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let range = TimeRange { from: now - days * 86_400_000, to: i64::MAX };
    let mut systems: Vec<String> = j.api_keys()?.into_iter().filter_map(|k| k.scope.strip_prefix(crate::admin::GATE_SCOPE).map(str::to_owned)).collect();
    systems.sort();
    systems.dedup();
    let mut rows = Vec::new();
    for system in &systems {
        for stored in j.by_actor(&format!("gate:{system}"), range)? {
            let e = stored.event()?;
            let kind = match e.unmapped.operation.as_deref() {
                Some("gate.check") => "check",
                Some("gate.declare") => "declare",
                _ => continue,
            };
            let Some(g) = e.unmapped.extra.get("gate") else { continue };
            let text = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            rows.push((e.time, GateRow {
                time: jst_time(e.time),
                seq: stored.seq,
                kind,
                system: text("system"),
                account: text("account"),
                employee: text("employee"),
                resident: text("resident"),
                decision: text("decision"),
                purpose: text("purpose"),
                case_no: text("case_no"),
                reason: text("reason"),
                break_glass: g.get("break_glass").and_then(|v| v.as_bool()).unwrap_or(false),
            }));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.seq.cmp(&a.1.seq)));
    let count = |f: &dyn Fn(&GateRow) -> bool| rows.iter().filter(|r| f(&r.1)).count();
    let page = GateActivity {
        warnings: count(&|r| r.kind == "check" && r.decision == "warn"),
        declare_asked: count(&|r| r.kind == "check" && r.decision == "declare"),
        declarations: count(&|r| r.kind == "declare" && !r.break_glass),
        break_glass: count(&|r| r.break_glass),
        rows: rows.into_iter().take(limit).map(|r| r.1).collect(),
    };
    audit::record_by(j, &reader.actor(), Action::View, &format!("gate activity viewed ({} rows)", page.rows.len()), &[])?;
    Ok(page)
}
