//! A finding: what detection tells a reviewer. It names the employee(s), the records or
//! files, the time span, the rule, the evidence (ids of stored events, each provable
//! against the signed Merkle log) and a plain-language explanation in Japanese and
//! English, so that a reviewer can decide from the finding alone.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: the rule and the subject it is about.
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub employees: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub residents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mails: Vec<String>,
    /// First and last evidence time, ms since the epoch.
    pub from: i64,
    pub to: i64,
    /// The time of the event that first raised the finding (detection time in stream).
    pub detected_at: i64,
    /// Ids (log indexes) of the stored events that are the evidence.
    pub evidence: Vec<u64>,
    pub explanation_ja: String,
    pub explanation_en: String,
}
