//! The purpose-of-use gate's declarations (docs/gate.md), judged as evidence: a case
//! number declared for a resident it does not concern (or that does not exist) is a false
//! declaration (high) — the user gave the gate a reason that master data contradicts — and
//! every broken glass (the emergency purpose) is a finding to review (medium), as the
//! city's rule asks.
//!
//! The declaration also explains the access that follows (the detector does that, before
//! any analyzer sees the access); this module only judges the declaration itself.

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rollup, Rule};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "gate", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "false_declaration", ja: "事実と異なる利用目的の申告", en: "A declared purpose master data contradicts", incident: "S1", describe: false_declaration },
    Rule { id: "break_glass", ja: "緊急時利用（ブレークグラス）", en: "Break-the-glass use", incident: "—", describe: break_glass },
];

fn false_declaration(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が照会の前に申告した受付番号は、照会した住民の案件ではありません（{}）。目的を偽って照会した疑いがあります。", r.employee, r.details()),
        format!("Employee {} declared case numbers that do not concern the residents looked up ({}).", r.employee, r.details()),
    )
}

fn break_glass(r: &Rollup) -> (String, String) {
    (format!("職員 {} が緊急時利用として照会しました（{}）。理由を確認してください。", r.employee, r.details()), format!("Employee {} broke the glass ({}): review the reason.", r.employee, r.details()))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// The purpose code that breaks the glass (as in `gate.toml`).
    break_glass: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { break_glass: "emergency".into() }
    }
}

struct Gate {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Gate { settings: settings(v)? }))
}

impl Analyzer for Gate {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::ApiActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        if !crate::is_gate_declaration(o.event) {
            return;
        }
        let Some(g) = o.extra("gate") else { return };
        let text = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let (employee, resident, case, purpose) = (text("employee"), text("resident"), text("case_no").trim(), text("purpose"));
        // A declaration by an account no one holds is the gate's `unknown_account`:
        // charged to the account, so it is not lost.
        let who = if employee.is_empty() { text("account") } else { employee };
        if !case.is_empty() && !cx.dir.case_concerns(case, resident, o.day) {
            let detail = format!("受付番号 {case} → 住民 {resident}（照会確認 {}）", text("check_id"));
            out.note(Note::of(o, RULES[0].id, Severity::High, who).resident(resident).detail(detail));
        }
        if purpose == self.settings.break_glass {
            let detail = format!("住民 {resident}: {}", text("reason"));
            out.note(Note::of(o, RULES[1].id, Severity::Medium, who).resident(resident).detail(detail));
        }
    }
}
