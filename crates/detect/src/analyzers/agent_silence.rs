//! S7 (Hiratsuka): a terminal whose endpoint agent has reported before (`agent-start`, the
//! product's PC-start record) but has fallen silent while people still log on there —
//! copies made there go unlogged. Found on the `silent_days`-th day with logons; those
//! logons are the evidence.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use mamori_model::{ClassUid, Severity, StatusId};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "agent_silence", build, rules: RULES };

const RULES: &[Rule] = &[Rule { id: "endpoint_agent_silent", ja: "端末管理ソフトの停止", en: "Endpoint agent silent while logons go on", incident: "S7", describe }];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("端末の管理ソフトからの記録が途絶えた後も、職員 {} のログオンが続いています（{}）。この間の外部媒体への複写は記録されていません。", r.employee, r.details()),
        format!("The endpoint agent on a terminal stopped reporting while employee {} kept logging on there; copies there went unlogged.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Days with Windows logons on a terminal whose agent has reported before but not
    /// since, before it is a finding.
    silent_days: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { silent_days: 2 }
    }
}

/// A terminal's agent: the last day it reported, the logons since (event id, time, day,
/// employee) not yet reported, and whether this silence has been reported.
#[derive(Default, Serialize, Deserialize)]
struct Agent {
    last: Option<NaiveDate>,
    held: Vec<(u64, i64, NaiveDate, Option<String>)>,
    reported: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    agents: HashMap<String, Agent>,
}

struct AgentSilence {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(AgentSilence { settings: settings(v)?, state: State::default() }))
}

impl Analyzer for AgentSilence {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::Authentication]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        if o.host.is_empty() {
            return;
        }
        match o.operation() {
            "agent-start" => {
                self.state.agents.insert(o.host.clone(), Agent { last: Some(o.day), held: Vec::new(), reported: false });
            }
            "logon" if o.event.status_id == StatusId::Success => {
                if cx.dir.terminal_has_agent(&o.host) != Some(true) {
                    return;
                }
                let need = self.settings.silent_days.max(1);
                let Some(agent) = self.state.agents.get_mut(&o.host) else { return };
                let Some(last) = agent.last.filter(|l| o.day > *l) else { return };
                agent.held.push((o.seq, o.time, o.day, o.actor.holder.clone()));
                let days: BTreeSet<NaiveDate> = agent.held.iter().map(|h| h.2).collect();
                if days.len() < need && !agent.reported {
                    return;
                }
                agent.reported = true;
                let detail = format!("{}（最終受信 {last}）", o.host);
                for (seq, time, day, who) in std::mem::take(&mut agent.held) {
                    let who = who.unwrap_or_else(|| format!("(不明: {})", o.host));
                    let note = Note { seq, time, day, detail: Some(detail.clone()), ..Note::of(o, RULES[0].id, Severity::High, &who) };
                    out.note(note).add_device(&o.host);
                }
            }
            _ => {}
        }
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s7_a_terminal_whose_endpoint_agent_falls_silent_while_logons_go_on_is_flagged_on_the_second_day() {
        let f = run(&[
            agent_start("PC-E1", "2024-03-04T08:30:00"),
            windows("e1", "logon", "2024-03-04T08:31:00", "PC-E1"),
            windows("e1", "logon", "2024-03-05T08:31:00", "PC-E1"), // silent day 1
            windows("e1", "logon", "2024-03-06T08:31:00", "PC-E1"), // silent day 2
            windows("e1", "logon", "2024-03-07T08:31:00", "PC-E1"), // and on
        ]);
        let silent = f.iter().find(|f| f.rule == "endpoint_agent_silent").expect("silence");
        assert_eq!((silent.employees[0].as_str(), silent.evidence.as_slice()), ("E1", &[2u64, 3, 4][..]));
        assert_eq!(silent.detected_at, ms("2024-03-06T08:31:00"), "found on the second silent day");
        assert_eq!(silent.devices, ["PC-E1"]);
        let reporting = run(&[
            agent_start("PC-E1", "2024-03-04T08:30:00"),
            windows("e1", "logon", "2024-03-04T08:31:00", "PC-E1"),
            agent_start("PC-E1", "2024-03-05T08:30:00"),
            windows("e1", "logon", "2024-03-05T08:31:00", "PC-E1"),
            windows("e1", "logon", "2024-03-06T08:31:00", "PC-E1"),
            windows("e2", "logon", "2024-03-06T08:31:00", "UKETSUKE"), // no agent there at all: not silence
        ]);
        assert!(reporting.iter().all(|f| f.rule != "endpoint_agent_silent"), "{reporting:?}");
    }
}
