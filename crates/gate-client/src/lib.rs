//! A business system's client for mamori's purpose-of-use gate (docs/gate.md).
//!
//! ```no_run
//! use mamori_gate_client::{Gate, Check, Decision};
//! let gate = Gate::new("https://mamori.example.lg.jp:8443", "mamori_…");
//! let answer = gate.check(&Check { system: "juki".into(), account: "0101".into(), terminal: "PC-1".into(), resident: "000000102".into(), operation: "read".into(), ..Check::default() });
//! match answer.decision {
//!     Decision::Allow => {}
//!     Decision::Warn => println!("{}", answer.message_ja),
//!     Decision::Declare => { /* ask the user, then */ let _ = gate.declare(&answer.check_id, "counter", None, Some("本人の依頼")); }
//! }
//! ```
//!
//! The gate must never stop a counter: [`Gate::check`] never fails. When mamori cannot be
//! reached within the timeout (2 s by default), or answers anything but a decision, the
//! answer is [`Decision::Warn`] with the standard banner and [`Answer::fallback`] set.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the system is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Warn,
    Declare,
}

/// A check: who is about to open whose record, and how.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Check {
    pub system: String,
    pub account: String,
    pub terminal: String,
    pub resident: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One reason behind the answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Reason {
    pub code: String,
    pub ja: String,
    pub en: String,
}

/// The gate's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// Empty when the answer is the fall-back.
    pub check_id: String,
    pub decision: Decision,
    pub message_ja: String,
    pub message_en: String,
    pub reasons: Vec<Reason>,
    /// mamori was not reached (or answered nothing usable): this is the client's own warn,
    /// and why.
    #[serde(skip)]
    pub fallback: Option<String>,
}

/// The banner shown when mamori cannot be reached.
pub const FALLBACK_JA: &str = "業務以外での利用は禁止されています。この照会は記録され、点検の対象になります。";
pub const FALLBACK_EN: &str = "Use for anything but business is prohibited. This look-up is recorded and reviewed.";

/// A connection to the gate with one system's key.
pub struct Gate {
    base: String,
    key: String,
    agent: ureq::Agent,
}

impl Gate {
    /// The gate at `base` (`https://host:port`), with the system's gate key, waiting at
    /// most two seconds for an answer.
    pub fn new(base: &str, key: &str) -> Gate {
        Gate::with_timeout(base, key, Duration::from_secs(2))
    }

    pub fn with_timeout(base: &str, key: &str, timeout: Duration) -> Gate {
        let agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Gate { base: base.trim_end_matches('/').to_owned(), key: key.to_owned(), agent }
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> Result<(u16, String), String> {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    /// Asks before opening a record. Never fails: see the crate's documentation.
    pub fn check(&self, check: &Check) -> Answer {
        let asked = serde_json::to_value(check).expect("a check serialises");
        let why = match self.post("/v1/access-check", &asked) {
            Ok((200, text)) => match serde_json::from_str::<Answer>(&text) {
                Ok(answer) => return answer,
                Err(e) => format!("an answer that is not the gate's: {e}"),
            },
            Ok((status, text)) => format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()),
            Err(e) => e,
        };
        Answer { check_id: String::new(), decision: Decision::Warn, message_ja: FALLBACK_JA.into(), message_en: FALLBACK_EN.into(), reasons: Vec::new(), fallback: Some(why) }
    }

    /// Records the purpose the user stated for check `check_id`; the event's number in
    /// mamori's log. Retrying after an error is safe.
    pub fn declare(&self, check_id: &str, purpose: &str, case_no: Option<&str>, reason: Option<&str>) -> Result<u64, String> {
        if check_id.is_empty() {
            return Err("a fall-back answer has no check to declare for".into());
        }
        let body = serde_json::json!({"purpose": purpose, "case_no": case_no, "reason": reason});
        match self.post(&format!("/v1/access-check/{check_id}/declare"), &body)? {
            (200, text) => serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["event"].as_u64()).ok_or_else(|| format!("an answer that is not the gate's: {text}")),
            (status, text) => Err(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gate no one answers at: the counter goes on with the banner.
    #[test]
    fn an_unreachable_gate_answers_warn_with_the_banner() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let gate = Gate::with_timeout(&format!("http://{closed}"), "mamori_x", Duration::from_millis(500));
        let a = gate.check(&Check { system: "juki".into(), account: "0101".into(), resident: "000000102".into(), ..Check::default() });
        assert_eq!(a.decision, Decision::Warn);
        assert_eq!(a.message_ja, FALLBACK_JA);
        assert!(a.fallback.is_some() && a.check_id.is_empty());
        assert!(gate.declare(&a.check_id, "counter", None, None).is_err());
    }
}
