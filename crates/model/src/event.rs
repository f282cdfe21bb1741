//! The normalised event, aligned with OCSF 1.x.
//!
//! The serde representation *is* the OCSF JSON of the event: standard attribute names
//! (`class_uid`, `activity_id`, `time`, `actor.user.uid`, `device.hostname`, `file`,
//! `email`, `peripheral_device`, `metadata`, `raw_data`) where OCSF has them, and
//! mamori's own attributes (resident record, share, origin line) under `unmapped`, the
//! place OCSF reserves for attributes outside the schema. Exporting as OCSF is therefore
//! lossless by construction; `type_uid` and `category_uid` are derived on export.
//!
//! The canonical encoding (`Event::canonical_bytes`) is the compact JSON of this struct:
//! fields in declaration order, absent options omitted, maps sorted. It is what the
//! journal hashes; changing field order or names changes every leaf hash, so treat this
//! file's layout as a stored format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// OCSF event classes mamori stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum ClassUid {
    /// 1001 File System Activity: file shares, local files.
    FileSystemActivity,
    /// 1010 Peripheral Activity: USB and other removable devices.
    PeripheralActivity,
    /// 3002 Authentication: logon, logoff, lock, unlock.
    Authentication,
    /// 4002 HTTP Activity: web access (the CERT data set's http.csv).
    HttpActivity,
    /// 4009 Email Activity: journaled mail.
    EmailActivity,
    /// 5019 Device Config State Change: a change to what a device audits (Windows 4719).
    DeviceConfigStateChange,
    /// 6003 API Activity: calls to mamori itself and other APIs (auditors' own actions).
    ApiActivity,
    /// 6005 Datastore Activity: a business system's record access (住基, 税務, 戸籍 …).
    DatastoreActivity,
}

impl ClassUid {
    pub const fn uid(self) -> u32 {
        match self {
            ClassUid::FileSystemActivity => 1001,
            ClassUid::PeripheralActivity => 1010,
            ClassUid::Authentication => 3002,
            ClassUid::HttpActivity => 4002,
            ClassUid::EmailActivity => 4009,
            ClassUid::DeviceConfigStateChange => 5019,
            ClassUid::ApiActivity => 6003,
            ClassUid::DatastoreActivity => 6005,
        }
    }

    /// OCSF category: the thousands digit of the class.
    pub const fn category_uid(self) -> u32 {
        self.uid() / 1000
    }
}

impl From<ClassUid> for u32 {
    fn from(c: ClassUid) -> u32 {
        c.uid()
    }
}

impl TryFrom<u32> for ClassUid {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        Ok(match v {
            1001 => ClassUid::FileSystemActivity,
            1010 => ClassUid::PeripheralActivity,
            3002 => ClassUid::Authentication,
            4002 => ClassUid::HttpActivity,
            4009 => ClassUid::EmailActivity,
            5019 => ClassUid::DeviceConfigStateChange,
            6003 => ClassUid::ApiActivity,
            6005 => ClassUid::DatastoreActivity,
            other => {
                return Err(format!(
                    "class_uid {other} is not one mamori stores (1001, 1010, 3002, 4002, 4009, 5019, 6003, 6005)"
                ));
            }
        })
    }
}

/// OCSF `status_id`: the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum StatusId {
    #[default]
    Unknown,
    Success,
    Failure,
    Other,
}

impl From<StatusId> for u8 {
    fn from(s: StatusId) -> u8 {
        match s {
            StatusId::Unknown => 0,
            StatusId::Success => 1,
            StatusId::Failure => 2,
            StatusId::Other => 99,
        }
    }
}

impl TryFrom<u8> for StatusId {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => StatusId::Unknown,
            1 => StatusId::Success,
            2 => StatusId::Failure,
            99 => StatusId::Other,
            other => return Err(format!("status_id {other} is not an OCSF status (0, 1, 2, 99)")),
        })
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// OCSF `user`. `uid` is the account exactly as the source system gives it (an operator
/// number, a Windows SAM name …); `employee_uid` is the employee behind it once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_uid: Option<String>,
}

/// OCSF `actor`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub user: User,
}

/// OCSF `device`: the terminal the action was taken on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// OCSF `file`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileObject {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// OCSF `email`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_uid: Option<String>,
}

/// OCSF `peripheral_device`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeripheralDevice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
}

/// OCSF `url`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Url {
    pub url_string: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// OCSF `http_request`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    pub url: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
}

/// OCSF `http_response`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// OCSF `traffic`: bytes sent and received.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
}

/// OCSF `metadata`: which product (source) reported the event and in which log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The configured source name (e.g. `juki`, `zeimu`, `win-security`).
    pub product: String,
    /// The file or stream the event was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// OCSF schema version the event claims.
    #[serde(default = "ocsf_version", skip_serializing_if = "is_ocsf_version")]
    pub version: String,
}

fn ocsf_version() -> String {
    "1.3.0".to_owned()
}
fn is_ocsf_version(v: &str) -> bool {
    v == "1.3.0"
}

/// A business-system record: which resident (宛名番号) and which kind of record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentRecord {
    /// 宛名番号 as the business system gives it.
    pub uid: String,
    /// Record type after the source's code table (e.g. `住民票`, `課税台帳`, `戸籍`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
}

/// Where in its source the raw record was: line (1-based) and/or byte offset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// mamori's attributes that OCSF has no place for, under OCSF's `unmapped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Unmapped {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<ResidentRecord>,
    /// The source's operation after its code table (照会, 更新, 発行 …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// File share name for file-server events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub origin: Origin,
    /// Anything else a source adapter wants to keep, by name.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The one normalised event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub class_uid: ClassUid,
    pub activity_id: u8,
    /// Milliseconds since the Unix epoch (UTC).
    pub time: i64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status_id: StatusId,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peripheral_device: Option<PeripheralDevice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_response: Option<HttpResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    pub metadata: Metadata,
    /// The record exactly as the source wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub unmapped: Unmapped,
}

/// Why an event is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventError {
    #[error("field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("not a valid event: {0}")]
    Json(String),
}

/// 2000-01-01 and 2100-01-01 in ms: a timestamp outside is a unit mistake (seconds or
/// microseconds), not a real access.
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 4_102_444_800_000;

impl Event {
    /// An event with the required fields set and everything else empty.
    pub fn new(class_uid: ClassUid, activity_id: u8, time: i64, actor_uid: &str, product: &str) -> Event {
        Event {
            class_uid,
            activity_id,
            time,
            status_id: StatusId::Unknown,
            actor: Actor { user: User { uid: actor_uid.to_owned(), ..Default::default() } },
            device: None,
            file: None,
            email: None,
            peripheral_device: None,
            http_request: None,
            http_response: None,
            traffic: None,
            metadata: Metadata { product: product.to_owned(), log_name: None, version: ocsf_version() },
            raw_data: None,
            unmapped: Unmapped::default(),
        }
    }

    /// Parses one event from its JSON and checks what serde cannot.
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventError> {
        let event: Event =
            serde_json::from_slice(bytes).map_err(|e| {
            // One event is one line: serde's "line 1" would only mislead.
            EventError::Json(e.to_string().replace(" at line 1 column ", " at column "))
        })?;
        event.validate()?;
        Ok(event)
    }

    pub fn validate(&self) -> Result<(), EventError> {
        let invalid = |field, reason: &str| EventError::Invalid { field, reason: reason.to_owned() };
        if !(EARLIEST_MS..LATEST_MS).contains(&self.time) {
            return Err(EventError::Invalid {
                field: "time",
                reason: match chrono::DateTime::from_timestamp_millis(self.time) {
                    Some(t) => format!("{} (UTC) is before 2000 or after 2100: no access log is from then", t.format("%Y-%m-%d %H:%M:%S")),
                    None => format!("{} is not milliseconds since the epoch between 2000 and 2100", self.time),
                },
            });
        }
        if self.actor.user.uid.trim().is_empty() {
            return Err(invalid("actor.user.uid", "is empty"));
        }
        if self.metadata.product.trim().is_empty() {
            return Err(invalid("metadata.product", "is empty (the source name)"));
        }
        match self.class_uid {
            ClassUid::DatastoreActivity if self.unmapped.resident.is_none() => {
                Err(invalid("unmapped.resident", "a record access (6005) needs the resident"))
            }
            ClassUid::FileSystemActivity if self.file.is_none() => {
                Err(invalid("file", "a file event (1001) needs the file"))
            }
            ClassUid::EmailActivity if self.email.is_none() => {
                Err(invalid("email", "a mail event (4009) needs the email"))
            }
            ClassUid::HttpActivity if self.http_request.is_none() => {
                Err(invalid("http_request", "a web event (4002) needs the request's URL"))
            }
            _ => Ok(()),
        }
    }

    /// The canonical bytes the journal hashes and stores.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an Event always serialises")
    }

    /// The terminal the event was made from, as the log names it (empty when it names none).
    pub fn hostname(&self) -> &str {
        self.device.as_ref().and_then(|d| d.hostname.as_deref()).unwrap_or_default()
    }

    /// The resident the event concerns, if any.
    pub fn resident_uid(&self) -> Option<&str> {
        self.unmapped.resident.as_ref().map(|r| r.uid.as_str())
    }

    /// OCSF JSON for export: the stored form plus the derived `category_uid`, `type_uid`
    /// and `severity_id`.
    pub fn to_ocsf(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("an Event always serialises");
        let obj = v.as_object_mut().expect("an Event is an object");
        let class = self.class_uid.uid();
        obj.insert("category_uid".into(), self.class_uid.category_uid().into());
        obj.insert("type_uid".into(), (u64::from(class) * 100 + u64::from(self.activity_id)).into());
        obj.entry("severity_id").or_insert(1.into());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            class_uid: ClassUid::DatastoreActivity,
            activity_id: 2,
            time: 1_715_130_000_000,
            status_id: StatusId::Success,
            actor: Actor { user: User { uid: "op0042".into(), ..Default::default() } },
            device: Some(Device { hostname: Some("PC-JUMIN-07".into()), ip: None }),
            file: None,
            email: None,
            peripheral_device: None,
            http_request: None,
            http_response: None,
            traffic: None,
            metadata: Metadata {
                product: "juki".into(),
                log_name: Some("juki_access.csv".into()),
                version: ocsf_version(),
            },
            raw_data: Some("2024/05/08 10:00:00,0042,照会,000123".into()),
            unmapped: Unmapped {
                resident: Some(ResidentRecord { uid: "000123".into(), record_type: Some("住民票".into()) }),
                operation: Some("照会".into()),
                origin: Origin { line: Some(2), offset: None },
                ..Default::default()
            },
        }
    }

    #[test]
    fn canonical_bytes_round_trip_exactly() {
        let e = sample();
        let bytes = e.canonical_bytes();
        let back = Event::from_json(&bytes).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.canonical_bytes(), bytes);
    }

    #[test]
    fn ocsf_export_carries_derived_type_uid_and_keeps_every_field() {
        let e = sample();
        let v = e.to_ocsf();
        assert_eq!(v["type_uid"], 600502);
        assert_eq!(v["category_uid"], 6);
        assert_eq!(v["actor"]["user"]["uid"], "op0042");
        assert_eq!(v["unmapped"]["resident"]["uid"], "000123");
        assert_eq!(v["raw_data"], e.raw_data.clone().unwrap());
    }

    #[test]
    fn unknown_class_is_rejected_with_the_field_named() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["class_uid"] = 9999.into();
        let err = Event::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("class_uid 9999"), "{err}");
    }

    #[test]
    fn record_access_without_resident_is_invalid() {
        let mut e = sample();
        e.unmapped.resident = None;
        let err = e.validate().unwrap_err();
        assert!(err.to_string().contains("unmapped.resident"));
    }

    #[test]
    fn time_in_seconds_instead_of_ms_is_caught() {
        let mut e = sample();
        e.time = 1_715_130_000;
        assert!(e.validate().unwrap_err().to_string().contains("time"));
    }
}
