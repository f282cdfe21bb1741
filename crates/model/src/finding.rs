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
    /// The rule's name in Japanese and English (`親族等の記録の照会`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title_ja: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title_en: String,
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
    /// Distinct (local) days the evidence falls on.
    #[serde(default)]
    pub days: usize,
    /// Ids (log indexes) of the stored events that are the evidence.
    pub evidence: Vec<u64>,
    pub explanation_ja: String,
    pub explanation_en: String,
    /// Set when a closed case ruled findings like this a false alarm or legitimate and
    /// asked that they be set aside until a date: the finding is kept (and shown as
    /// suppressed), not raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// Why a finding is set aside: the case that ruled on findings like it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    pub case: String,
    /// JST date, inclusive: findings whose evidence starts later are raised again.
    pub until: String,
    pub reason: String,
}

/// Rules whose findings are about personal data leaving (OCSF Data Security Finding,
/// 2006); the others are Detection Findings (2004).
const DATA_SECURITY_RULES: [&str; 6] = [
    "personal_data_to_personal_address",
    "personal_data_to_outside_organisation",
    "personal_data_to_role_without_access",
    "uninspectable_attachment_outside",
    "approved_device_on_unmanaged_terminal",
    "unapproved_device",
];

impl Severity {
    /// OCSF `severity_id`: 2 Low, 3 Medium, 4 High, 5 Critical.
    pub fn ocsf_id(self) -> u8 {
        match self {
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }
}

impl Finding {
    /// The finding as an OCSF 1.4 Detection Finding (2004), or a Data Security Finding
    /// (2006) when it is about personal data leaving: `finding_info` names the rule as the
    /// analytic and the evidence as related events; mamori's own lists go in `unmapped`.
    pub fn ocsf(&self) -> serde_json::Value {
        let data = DATA_SECURITY_RULES.contains(&self.rule.as_str());
        let (class_uid, class_name) = if data { (2006, "Data Security Finding") } else { (2004, "Detection Finding") };
        let severity = match self.severity {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        };
        let mut v = serde_json::json!({
            "class_uid": class_uid,
            "class_name": class_name,
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": class_uid * 100 + 1,
            "time": self.detected_at,
            "start_time": self.from,
            "end_time": self.to,
            "count": self.evidence.len(),
            "severity_id": self.severity.ocsf_id(),
            "severity": severity,
            "status_id": 1,
            "status": "New",
            "message": self.explanation_en,
            "metadata": {"version": "1.4.0", "uid": self.id, "product": {"name": "mamori", "vendor_name": "mamori"}},
            "finding_info": {
                "uid": self.id,
                "title": if self.title_en.is_empty() { &self.rule } else { &self.title_en },
                "desc": self.explanation_ja,
                "types": [self.rule],
                "analytic": {"uid": self.rule, "name": self.rule, "type_id": 1, "type": "Rule"},
                "created_time": self.detected_at,
                "first_seen_time": self.from,
                "last_seen_time": self.to,
                "related_events": self.evidence.iter().map(|id| serde_json::json!({"uid": id.to_string()})).collect::<Vec<_>>(),
            },
            "actor": {"user": {"uid": self.employees.first().cloned().unwrap_or_default()}},
            "unmapped": {
                "employees": self.employees,
                "residents": self.residents,
                "files": self.files,
                "devices": self.devices,
                "mails": self.mails,
            },
        });
        if data {
            v["is_suspected_breach"] = true.into();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str) -> Finding {
        Finding {
            id: format!("{rule}:E1"),
            rule: rule.into(),
            title_ja: String::new(),
            title_en: String::new(),
            severity: Severity::High,
            employees: vec!["E1".into(), "E2".into()],
            residents: vec!["R1".into()],
            files: vec![],
            devices: vec![],
            mails: vec!["m@x".into()],
            from: 1,
            to: 5,
            detected_at: 3,
            days: 1,
            evidence: vec![7, 9],
            explanation_ja: "説明".into(),
            explanation_en: "why".into(),
            suppressed: None,
        }
    }

    #[test]
    fn a_mail_finding_is_an_ocsf_data_security_finding_and_a_lookup_a_detection_finding() {
        let mail = finding("personal_data_to_personal_address").ocsf();
        assert_eq!((mail["class_uid"].as_u64(), mail["type_uid"].as_u64()), (Some(2006), Some(200601)));
        assert_eq!(mail["is_suspected_breach"], true);
        assert_eq!(mail["finding_info"]["related_events"][1]["uid"], "9");
        assert_eq!(mail["severity_id"], 4);
        assert_eq!(mail["unmapped"]["mails"][0], "m@x");
        let lookup = finding("relative_lookup").ocsf();
        assert_eq!((lookup["class_uid"].as_u64(), lookup["category_uid"].as_u64()), (Some(2004), Some(2)));
        assert_eq!((lookup["time"].as_i64(), lookup["start_time"].as_i64(), lookup["end_time"].as_i64()), (Some(3), Some(1), Some(5)));
        assert!(lookup.get("is_suspected_breach").is_none());
    }
}
