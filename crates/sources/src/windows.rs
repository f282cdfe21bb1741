//! Windows Security events as evtx_dump writes them (`evtx_dump -o jsonl`): one record a
//! line, `{"Event":{"System":{…},"EventData":{…}}}`.
//!
//! Mapped: 4624 logon, 4625 failed logon, 4634 and 4647 logoff, 4800 lock and 4801 unlock
//! (Authentication 3002), 4663 object access (File System Activity 1001), 6416 new
//! external device (Peripheral Activity 1010), 4719 system audit policy changed (Device
//! Config State Change 5019: who turned which auditing off on which machine). Other event ids are not events mamori
//! uses: they are counted as ignored, not stored and not rejected.

use mamori_model::{ClassUid, Device, Event, FileObject, PeripheralDevice, StatusId};
use serde_json::Value;

use crate::config::SourceConfig;
use crate::{LineAdapter, LineContext, finish};

pub struct WindowsSecurity {
    product: String,
}

impl WindowsSecurity {
    pub fn new(name: &str, c: &SourceConfig) -> WindowsSecurity {
        WindowsSecurity { product: c.product.clone().unwrap_or_else(|| name.to_owned()) }
    }
}

/// A value that evtx_dump writes either plainly or as `{"#text": …, "#attributes": …}`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("#text").and_then(text),
        _ => None,
    }
    .filter(|s| !s.is_empty() && s != "-")
}

/// Access-mask bits of 4663 to OCSF File System activities (2 Read, 3 Update, 4 Delete).
fn file_activity(mask: &str) -> u8 {
    let bits = u64::from_str_radix(mask.trim_start_matches("0x"), 16).unwrap_or(0);
    if bits & 0x10000 != 0 {
        4
    } else if bits & 0x6 != 0 {
        3
    } else {
        2
    }
}

/// `USBSTOR\DISK&VEN_BUFFALO&PROD_USB_FLASH&REV_1.00\0123456789&0` → serial and vendor.
fn usb_identity(device_id: &str) -> (Option<String>, Option<String>) {
    let serial = device_id.rsplit('\\').next().map(|s| s.split('&').next().unwrap_or(s).to_owned()).filter(|s| !s.is_empty());
    let vendor = device_id
        .split(['\\', '&'])
        .find_map(|p| p.strip_prefix("VEN_").or_else(|| p.strip_prefix("Ven_")))
        .map(|v| v.replace('_', " "));
    (serial, vendor)
}

/// 4719's `AuditPolicyChanges` message codes, as Windows' msobjs.dll renders them.
fn audit_change(code: &str) -> &str {
    match code {
        "%%8448" => "success removed",
        "%%8449" => "success added",
        "%%8450" => "failure removed",
        "%%8451" => "failure added",
        other => other,
    }
}

/// The category and subcategory codes of 4719 that matter for who-read-what auditing.
fn audit_name(code: &str) -> String {
    match code {
        "%%8274" => "Object Access".into(),
        "%%8273" => "Logon/Logoff".into(),
        "%%12800" => "File System".into(),
        "%%12801" => "Registry".into(),
        "%%12802" => "Kernel Object".into(),
        "%%12808" => "File Share".into(),
        "%%12812" => "Detailed File Share".into(),
        "%%12814" => "Removable Storage".into(),
        "%%12544" => "Logon".into(),
        other => other.into(),
    }
}

impl LineAdapter for WindowsSecurity {
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
        let system = v.pointer("/Event/System").ok_or("no Event.System")?;
        let data = v.pointer("/Event/EventData").cloned().unwrap_or(Value::Null);
        let field = |name: &str| data.get(name).and_then(text);
        let id: u32 = system.get("EventID").and_then(text).and_then(|s| s.parse().ok()).ok_or("no Event.System.EventID")?;
        let when = system
            .pointer("/TimeCreated/#attributes/SystemTime")
            .and_then(Value::as_str)
            .ok_or("no Event.System.TimeCreated SystemTime")?;
        let time = chrono::DateTime::parse_from_rfc3339(when)
            .map_err(|e| format!("SystemTime `{when}`: {e}"))?
            .timestamp_millis();
        let computer = system.get("Computer").and_then(text);
        let host = computer.as_deref().map(|c| c.split('.').next().unwrap_or(c).to_owned());

        let (class, activity, status, who, operation) = match id {
            4624 => (ClassUid::Authentication, 1, StatusId::Success, "Target", "logon"),
            4625 => (ClassUid::Authentication, 1, StatusId::Failure, "Target", "logon"),
            4634 | 4647 => (ClassUid::Authentication, 2, StatusId::Success, "Target", "logoff"),
            4800 => (ClassUid::Authentication, 99, StatusId::Success, "Target", "lock"),
            4801 => (ClassUid::Authentication, 99, StatusId::Success, "Target", "unlock"),
            4663 => (ClassUid::FileSystemActivity, 0, StatusId::Success, "Subject", "object-access"),
            6416 => (ClassUid::PeripheralActivity, 1, StatusId::Success, "Subject", "device-recognised"),
            4719 => (ClassUid::DeviceConfigStateChange, 1, StatusId::Success, "Subject", "audit-policy-change"),
            _ => return Ok(None),
        };
        let user = field(&format!("{who}UserName")).ok_or_else(|| format!("event {id}: no {who}UserName"))?;
        let mut event = Event::new(class, activity, time, &user, &self.product);
        event.status_id = status;
        event.actor.user.domain = field(&format!("{who}DomainName"));
        let ip = field("IpAddress");
        if host.is_some() || ip.is_some() {
            event.device = Some(Device { hostname: host, ip });
        }
        event.unmapped.operation = Some(operation.into());
        event.unmapped.extra.insert("event_id".into(), id.into());
        if let Some(record) = system.get("EventRecordID").and_then(text) {
            event.unmapped.extra.insert("record_id".into(), record.into());
        }
        if let Some(t) = field("LogonType") {
            event.unmapped.extra.insert("logon_type".into(), t.parse::<u64>().map(Value::from).unwrap_or(t.into()));
        }
        if let Some(l) = field("TargetLogonId").or_else(|| field("SubjectLogonId")) {
            event.unmapped.extra.insert("logon_id".into(), l.into());
        }
        match id {
            4663 => {
                let path = field("ObjectName").ok_or("event 4663: no ObjectName")?;
                event.activity_id = file_activity(&field("AccessMask").unwrap_or_default());
                let name = path.rsplit(['\\', '/']).next().map(str::to_owned);
                event.file = Some(FileObject { path, name, size: None });
            }
            6416 => {
                let device_id = field("DeviceId").unwrap_or_default();
                let (serial, vendor) = usb_identity(&device_id);
                event.peripheral_device =
                    Some(PeripheralDevice { name: field("DeviceDescription"), serial_number: serial, vendor_name: vendor });
                if let Some(class_name) = field("ClassName") {
                    event.unmapped.extra.insert("device_class".into(), class_name.into());
                }
            }
            4719 => {
                let changes = field("AuditPolicyChanges").ok_or("event 4719: no AuditPolicyChanges")?;
                let words: Vec<&str> = changes.split(',').map(|c| audit_change(c.trim())).collect();
                let x = &mut event.unmapped.extra;
                x.insert("audit_reduced".into(), words.iter().any(|w| w.ends_with("removed")).into());
                x.insert("audit_changes".into(), words.join(", ").into());
                for (key, name) in [("audit_category", "CategoryId"), ("audit_subcategory", "SubcategoryId")] {
                    if let Some(v) = field(name) {
                        x.insert(key.into(), audit_name(&v).into());
                    }
                }
            }
            _ => {}
        }
        finish(event, String::from_utf8_lossy(line).into_owned(), cx)
    }
}
