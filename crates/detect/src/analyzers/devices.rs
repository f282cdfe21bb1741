//! S7 (Hiratsuka): removable devices. An approved device recognised on a terminal without
//! the endpoint agent, where copies go unlogged; and any device that is not approved,
//! charged to the person at the terminal (the session truth), else to the owner of an
//! approved device connected there within the hour. A device the endpoint agent blocked is
//! a control that worked: told (low), not alarmed.

use std::collections::HashMap;

use mamori_model::{ClassUid, Severity, StatusId};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "devices", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule {
        id: "approved_device_on_unmanaged_terminal",
        ja: "承認済み媒体の管理外端末への接続",
        en: "Approved device on an unmanaged terminal",
        incident: "S7",
        describe: unmanaged,
    },
    Rule { id: "unapproved_device", ja: "未承認の外部記憶媒体の接続", en: "Unapproved removable device", incident: "S7", describe: unapproved },
    Rule { id: "unapproved_device_blocked", ja: "未承認媒体の接続（遮断済み）", en: "Unapproved device blocked by the agent", incident: "S7", describe: blocked },
];

fn unmanaged(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の承認済み外部記憶媒体が、管理ソフトの入っていない端末に接続されました（{}）。この端末での複写は記録されません。", r.employee, r.details()),
        format!("Employee {}'s approved removable device was connected to a terminal without the endpoint agent, where copies go unlogged.", r.employee),
    )
}

fn unapproved(r: &Rollup) -> (String, String) {
    (
        format!("承認されていない外部記憶媒体が接続されました（{}）。接続者の推定: {}（同じ端末のログオン、または直前に接続された承認済み媒体の所有者）。", r.details(), r.employee),
        format!("An unapproved removable device was connected; attributed to {} (the terminal's session, or the owner of an approved device connected there just before).", r.employee),
    )
}

fn blocked(r: &Rollup) -> (String, String) {
    (
        format!("承認されていない外部記憶媒体の接続を管理ソフトが遮断しました（{}）。接続者の推定: {}。", r.details(), r.employee),
        format!("The endpoint agent blocked an unapproved removable device; attributed to {}.", r.employee),
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Host → the owner of the approved device last connected there, and when.
    last_approved: HashMap<String, (String, i64)>,
}

struct Devices {
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let _: Settings = settings(v)?;
    Ok(Box::new(Devices { state: State::default() }))
}

/// Whether the endpoint agent says it blocked the device.
fn was_blocked(o: &Observation) -> bool {
    o.event.status_id == StatusId::Failure || o.operation().contains("block") || o.extra("blocked").and_then(|v| v.as_bool()) == Some(true)
}

impl Analyzer for Devices {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::PeripheralActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let Some(serial) = o.event.peripheral_device.as_ref().and_then(|d| d.serial_number.clone()) else { return };
        let what = format!("{serial} @ {}", o.host);
        match cx.dir.approved_device(&serial, o.day) {
            Some(owner) => {
                let owner = owner.unwrap_or("(所有者不明)").to_owned();
                self.state.last_approved.insert(o.host.clone(), (owner.clone(), o.time));
                if cx.dir.terminal_has_agent(&o.host) == Some(false) {
                    out.note(Note::of(o, RULES[0].id, Severity::High, &owner).detail(what)).add_device(&serial);
                }
            }
            None => {
                let recent = self.state.last_approved.get(&o.host).filter(|(_, t)| o.time - t <= 3_600_000).map(|(w, _)| w.clone());
                let who = o.actor.employee.clone().or(recent).unwrap_or_else(|| format!("(不明: {})", o.host));
                let (rule, severity) = if was_blocked(o) { (RULES[2].id, Severity::Low) } else { (RULES[1].id, Severity::High) };
                out.note(Note::of(o, rule, severity, &who).detail(what)).add_device(&serial);
            }
        }
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use mamori_model::{Event, Severity};
    use serde_json::json;

    use crate::testing::*;

    #[test]
    fn s7_approved_usb_on_an_unmanaged_terminal_and_a_personal_one_after_it_are_flagged() {
        let f = run(&[usb("SUSB-1", "2024-03-01T17:40:00", "UKETSUKE"), usb("PERSONAL-9", "2024-03-01T17:43:00", "UKETSUKE")]);
        assert_eq!(rules(&f), [("approved_device_on_unmanaged_terminal", "E1", 1), ("unapproved_device", "E1", 1)]);
        assert!(f[1].explanation_ja.contains("PERSONAL-9"));
    }

    #[test]
    fn an_approved_usb_on_its_owners_managed_pc_is_ordinary_work() {
        assert!(run(&[usb("SUSB-1", "2024-03-01T10:00:00", "PC-E1")]).is_empty());
    }

    #[test]
    fn a_personal_device_the_agent_blocked_is_told_not_alarmed() {
        let blocked = {
            let v = json!({"class_uid":1010,"activity_id":1,"time":ms("2024-03-01T10:00:00"),"status_id":2,"actor":{"user":{"uid":"e1"}},
                "device":{"hostname":"PC-E1"},"peripheral_device":{"serial_number":"PERSONAL-1"},"metadata":{"product":"endpoint"}});
            Event::from_json(v.to_string().as_bytes()).unwrap()
        };
        let f = run(&[blocked]);
        assert_eq!(rules(&f), [("unapproved_device_blocked", "E1", 1)]);
        assert_eq!(f[0].severity, Severity::Low);
    }
}
