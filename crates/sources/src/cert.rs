//! The CERT Insider Threat Test Dataset (Carnegie Mellon SEI, releases r4.2 to r6.2), so
//! that mamori can be measured on the research benchmark: `logon.csv`, `device.csv`,
//! `file.csv`, `email.csv` and `http.csv`, each with a header row from which the table
//! and its release's columns are recognised. Dates are `MM/DD/YYYY HH:MM:SS` local time
//! at the source's UTC offset (the data set gives none; configure `utc_offset`).
//! The monthly `LDAP/*.csv` snapshots are master data: see `mamori-master`.
//!
//! The data set's licence forbids redistribution: none of it is in this repository; the
//! tests use rows written for them in its schema.

use mamori_model::{ClassUid, Device, Email, Event, FileObject, HttpRequest, PeripheralDevice, StatusId, Url};
use serde_json::Value;

use crate::config::SourceConfig;
use crate::{LineAdapter, LineContext, finish, local_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Logon,
    Device,
    File,
    Email,
    Http,
}

pub struct Cert {
    product: String,
    offset: chrono::FixedOffset,
    table: Option<Table>,
    columns: Vec<String>,
    splitter: crate::csvline::LineSplitter,
}

impl Cert {
    pub fn new(name: &str, c: &SourceConfig) -> Result<Cert, String> {
        Ok(Cert {
            product: c.product.clone().unwrap_or_else(|| name.to_owned()),
            offset: c.offset().map_err(|e| format!("source `{name}`: {e}"))?,
            table: None,
            columns: Vec::new(),
            splitter: crate::csvline::LineSplitter::new(b','),
        })
    }

    fn col<'a>(&self, row: &'a csv::StringRecord, name: &str) -> Option<&'a str> {
        let i = self.columns.iter().position(|c| c == name)?;
        row.get(i).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn list(v: Option<&str>) -> Vec<String> {
    v.map(|s| s.split(';').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

impl LineAdapter for Cert {
    fn has_header(&self) -> bool {
        true
    }

    fn header(&mut self, line: &[u8], file_name: &str) -> Result<(), String> {
        let text = std::str::from_utf8(line).map_err(|_| format!("{file_name}: the header is not UTF-8"))?;
        self.columns = text.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        let has = |c: &str| self.columns.iter().any(|x| x == c);
        if !(has("id") && has("date") && has("user") && has("pc")) {
            return Err(format!("{file_name}: not a CERT table (needs id, date, user, pc; has {})", self.columns.join(", ")));
        }
        self.table = Some(if has("url") {
            Table::Http
        } else if has("to") && has("from") {
            Table::Email
        } else if has("filename") {
            Table::File
        } else if file_name.to_ascii_lowercase().contains("device") {
            Table::Device
        } else if has("activity") {
            Table::Logon
        } else {
            return Err(format!("{file_name}: which CERT table is this? ({})", self.columns.join(", ")));
        });
        Ok(())
    }

    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let table = self.table.ok_or("the file's header row was not read")?;
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to() + 1))?;
        if text.is_empty() {
            return Ok(None);
        }
        let row = self.splitter.split(text)?;
        // The last column (content) may hold commas the data set does not quote.
        if row.len() < self.columns.len() {
            return Err(format!("expected {} fields as in the header, found {}", self.columns.len(), row.len()));
        }
        let date = self.col(&row, "date").ok_or("field `date` is empty")?;
        let local = chrono::NaiveDateTime::parse_from_str(date, "%m/%d/%Y %H:%M:%S")
            .map_err(|_| format!("field `date`: `{date}` is not MM/DD/YYYY HH:MM:SS"))?;
        let time = local_ms(local, self.offset)?;
        let user = self.col(&row, "user").ok_or("field `user` is empty")?;
        let activity = self.col(&row, "activity").unwrap_or("");
        // r4.2's file.csv has no activity and no removable-media flags: every row is a
        // file copied to removable media. r5 and later say so per row.
        let to_removable = match (table, self.col(&row, "to_removable_media")) {
            (Table::File, Some(v)) => v.eq_ignore_ascii_case("true"),
            (Table::File, None) => true,
            _ => false,
        };
        let (class, activity_id, operation) = match (table, activity) {
            // The session logic reads `logon` and `logoff`.
            (Table::Logon, "Logon") => (ClassUid::Authentication, 1, "logon"),
            (Table::Logon, "Logoff") => (ClassUid::Authentication, 2, "logoff"),
            (Table::Logon, other) => return Err(format!("field `activity`: `{other}` is neither Logon nor Logoff")),
            (Table::Device, "Connect") => (ClassUid::PeripheralActivity, 1, "connect"),
            (Table::Device, "Disconnect") => (ClassUid::PeripheralActivity, 2, "disconnect"),
            (Table::Device, other) => return Err(format!("field `activity`: `{other}` is neither Connect nor Disconnect")),
            // OCSF Peripheral Activity 3: a file written to the device.
            (Table::File, _) if to_removable => (ClassUid::PeripheralActivity, 3, "copy-to-device"),
            (Table::File, "File Write") => (ClassUid::FileSystemActivity, 3, "write"),
            (Table::File, "File Delete") => (ClassUid::FileSystemActivity, 4, "delete"),
            (Table::File, "File Copy") => (ClassUid::FileSystemActivity, 1, "copy"),
            (Table::File, _) => (ClassUid::FileSystemActivity, 2, "read"),
            (Table::Email, "Receive") => (ClassUid::EmailActivity, 2, "receive"),
            (Table::Email, "View") => (ClassUid::EmailActivity, 3, "view"),
            (Table::Email, _) => (ClassUid::EmailActivity, 1, "send"),
            (Table::Http, "WWW Upload") => (ClassUid::HttpActivity, crate::http_activity("POST"), "upload"),
            (Table::Http, "WWW Download") => (ClassUid::HttpActivity, crate::http_activity("GET"), "download"),
            (Table::Http, _) => (ClassUid::HttpActivity, crate::http_activity("GET"), "visit"),
        };
        let mut event = Event::new(class, activity_id, time, user, &self.product);
        event.status_id = StatusId::Success;
        event.device = self.col(&row, "pc").map(|pc| Device { hostname: Some(pc.to_owned()), ip: None });
        event.unmapped.operation = Some(operation.to_owned());
        if let Some(id) = self.col(&row, "id") {
            event.unmapped.extra.insert("record_id".into(), id.into());
        }
        match table {
            Table::Device => event.peripheral_device = Some(PeripheralDevice { name: Some("removable media".into()), ..Default::default() }),
            Table::File => {
                let path = self.col(&row, "filename").ok_or("field `filename` is empty")?.to_owned();
                let name = path.rsplit(['\\', '/']).next().map(str::to_owned);
                event.file = Some(FileObject { path, name, size: None });
                if class == ClassUid::PeripheralActivity {
                    event.peripheral_device = Some(PeripheralDevice { name: Some("removable media".into()), ..Default::default() });
                }
                if let Some(v) = self.col(&row, "from_removable_media") {
                    event.unmapped.extra.insert("from_removable_media".into(), Value::Bool(v.eq_ignore_ascii_case("true")));
                }
            }
            Table::Email => {
                event.email = Some(Email {
                    from: self.col(&row, "from").map(str::to_owned),
                    to: list(self.col(&row, "to")),
                    cc: list(self.col(&row, "cc")),
                    bcc: list(self.col(&row, "bcc")),
                    subject: None,
                    message_uid: self.col(&row, "id").map(str::to_owned),
                });
                if let Some(size) = self.col(&row, "size").and_then(|s| s.parse::<u64>().ok()) {
                    event.unmapped.extra.insert("message_size".into(), size.into());
                }
                // r4.2 counts the attachments; later releases list them (`name(size);…`).
                match self.col(&row, "attachments") {
                    Some(v) if v.chars().all(|c| c.is_ascii_digit()) => {
                        let n: u64 = v.parse().map_err(|_| format!("field `attachments`: `{v}` is too large"))?;
                        event.unmapped.extra.insert("attachment_count".into(), n.into());
                    }
                    v => {
                        let names = list(v);
                        event.unmapped.extra.insert("attachment_count".into(), (names.len() as u64).into());
                        if !names.is_empty() {
                            event.unmapped.extra.insert("attachments".into(), names.into());
                        }
                    }
                }
            }
            Table::Http => {
                let url = self.col(&row, "url").ok_or("field `url` is empty")?.to_owned();
                let host = mamori_text::host_of(&url);
                let method = if operation == "upload" { "POST" } else { "GET" };
                event.http_request = Some(HttpRequest { url: Url { url_string: url, hostname: Some(host).filter(|h| !h.is_empty()) }, http_method: Some(method.into()) });
            }
            Table::Logon => {}
        }
        finish(event, text.to_owned(), cx)
    }
}
