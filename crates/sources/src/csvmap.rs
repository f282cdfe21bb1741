//! Business-system exports (and endpoint-product and badge CSVs) by declarative mapping:
//! which column holds which field, code tables for operation and record codes, the
//! operation's OCSF activity. Dates may be in any form `mamori-text` reads (Japanese
//! eras included) and are local time at the source's UTC offset; a time written as UNIX
//! seconds or milliseconds is UTC.
//!
//! A product that writes JSON Lines with keys of its own (`format = "json"`) is mapped the
//! same way: each column names a key path (`user.id`, `target.0.code`, or a JSON Pointer
//! `/user/id` for keys with dots in them), and the line's values at those paths become the
//! row the rest of this module reads.

use std::collections::BTreeMap;

use chrono::FixedOffset;
use mamori_model::{ClassUid, Device, Event, FileObject, PeripheralDevice, ResidentRecord, StatusId};

use crate::config::{Column, Format, RowClass, SourceConfig};
use crate::decode::Encoding;
use crate::{LineAdapter, LineContext, finish, local_ms};

pub struct CsvMapping {
    source: String,
    product: String,
    /// The class of rows the route does not name (or of every row without a route).
    class: Option<RowClass>,
    route: Option<crate::config::Route>,
    /// Splits each line (comma or tab), reused from line to line.
    splitter: crate::csvline::LineSplitter,
    /// For JSON Lines: the key path of each mapped field, in the order of `index`.
    json_keys: Option<Vec<Vec<String>>>,
    encoding: Encoding,
    offset: FixedOffset,
    has_header: bool,
    wanted: Vec<(String, Column)>,
    /// Field → its 0-based column indexes (several when cells are joined), known once the
    /// header is read.
    index: BTreeMap<String, Vec<usize>>,
    width: Option<usize>,
    codes: BTreeMap<String, BTreeMap<String, String>>,
    activity: BTreeMap<String, u8>,
    default_activity: Option<u8>,
    outcome: BTreeMap<String, String>,
    /// What a `subject` key is (`permit` …), for people who are not residents.
    subject_kind: String,
    resident_digits: Option<usize>,
}

const KNOWN: [&str; 26] = [
    "date", "time", "datetime", "actor", "actor_name", "employee", "host", "ip", "resident", "record_type",
    "operation", "status", "path", "file_name", "size", "share", "serial", "device_name", "vendor", "room",
    "direction", "recipient", "pages", "subject", "subject_name", "subject_birth",
];

/// More pages than any print job has (a page count past it is a corrupt field).
const MAX_PAGES: u64 = 100_000;

impl CsvMapping {
    pub fn new(name: &str, c: &SourceConfig) -> Result<CsvMapping, String> {
        let err = |msg: String| format!("source `{name}`: {msg}");
        if c.class.is_none() && c.route.is_none() {
            return Err(err("`class` is required for csv/tsv (record, file, usb, print, logon, badge), or a `route` by a field's value".into()));
        }
        if let Some(r) = &c.route
            && !c.columns.contains_key(&r.field)
        {
            return Err(err(format!("route: field `{}` is not mapped in [columns]", r.field)));
        }
        let has = |f: &str| c.columns.contains_key(f);
        if !(has("datetime") || has("date")) {
            return Err(err("map `date` (and `time`) or `datetime` in [columns]".into()));
        }
        let classes: Vec<RowClass> = c.class.into_iter().chain(c.route.iter().flat_map(|r| r.classes.values().copied())).collect();
        for &class in &classes {
            if !has("actor") && class != RowClass::Badge {
                return Err(err("map `actor` (the operator or account) in [columns]".into()));
            }
            // A record's subject: the 宛名番号, or for people who are not residents another key
            // (a permit or taxpayer number), or a name with a birth date.
            if class == RowClass::Record && !(has("resident") || has("subject") || (has("subject_name") && has("subject_birth"))) {
                return Err(err("a Record source needs `resident` (the 宛名番号), or `subject` (another key), or `subject_name` and `subject_birth` in [columns]".into()));
            }
            let needed: &[&str] = match class {
                RowClass::Record => &[],
                RowClass::File | RowClass::Print => &["path"],
                RowClass::Usb => &["serial"],
                RowClass::Badge => &["room"],
                RowClass::Logon => &[],
            };
            for f in needed {
                if !has(f) {
                    return Err(err(format!("a {class:?} source needs `{f}` in [columns]")));
                }
            }
        }
        let json = c.format == Format::Json;
        for (field, col) in &c.columns {
            let cells = col.cells();
            if cells.is_empty() || cells.iter().any(|cell| matches!(cell, Column::Joined(_))) {
                return Err(err(format!("`{field}`: a list of columns names each column once (`[\"元号\", \"年月日\"]`), not an empty or nested list")));
            }
            if json && cells.iter().any(|cell| matches!(cell, Column::Index(_))) {
                return Err(err(format!("a JSON source names each field's key (`user.id`), not a position (`{field}`)")));
            }
            if !json && !c.header && cells.iter().any(|cell| matches!(cell, Column::Name(_))) {
                return Err(err("without a header row, columns must be given by position (1, 2 …)".into()));
            }
        }
        for (field, values) in &c.outcome {
            if values != "success" && values != "failure" {
                return Err(err(format!("outcome `{field}` must be `success` or `failure`, not `{values}`")));
            }
        }
        let delimiter = match c.delimiter.as_deref() {
            None => if c.format == Format::Tsv { b'\t' } else { b',' },
            Some(d) if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") => d.as_bytes()[0],
            Some(d) => return Err(err(format!("delimiter `{d}`: one ASCII character other than a quote or a line break (`|`, `;`)"))),
        };
        let mut index = BTreeMap::new();
        for (field, col) in &c.columns {
            let mut at = Vec::new();
            for cell in col.cells() {
                if let Column::Index(i) = cell {
                    if *i == 0 {
                        return Err(err(format!("column positions start at 1 (`{field}` = 0)")));
                    }
                    at.push(i - 1);
                }
            }
            // Positions alone are known now; names once the header is read.
            if at.len() == col.cells().len() && !json {
                index.insert(field.clone(), at);
            }
        }
        // A JSON line becomes a row of the mapped keys' values, in the columns' order.
        let mut json_keys = None;
        if json {
            let mut keys = Vec::new();
            for (field, col) in &c.columns {
                let mut at = Vec::new();
                for cell in col.cells() {
                    let Column::Name(path) = cell else { unreachable!("refused above") };
                    let path = key_path(path);
                    if path.is_empty() {
                        return Err(err(format!("`{field}`: an empty key path")));
                    }
                    at.push(keys.len());
                    keys.push(path);
                }
                index.insert(field.clone(), at);
            }
            json_keys = Some(keys);
        }
        Ok(CsvMapping {
            source: name.to_owned(),
            product: c.product.clone().unwrap_or_else(|| name.to_owned()),
            class: c.class,
            route: c.route.clone(),
            encoding: c.encoding,
            offset: c.offset().map_err(err)?,
            has_header: c.header && !json,
            wanted: c.columns.iter().map(|(f, col)| (f.clone(), col.clone())).collect(),
            index,
            width: None,
            codes: c.codes.clone(),
            activity: c.activity.clone(),
            default_activity: c.default_activity,
            outcome: c.outcome.clone(),
            subject_kind: c.subject_kind.clone().unwrap_or_else(|| "subject".into()),
            resident_digits: c.resident_digits,
            splitter: crate::csvline::LineSplitter::new(delimiter),
            json_keys,
        })
    }

    fn record(&mut self, text: &str) -> Result<csv::StringRecord, String> {
        match &self.json_keys {
            None => self.splitter.split(text),
            Some(keys) => {
                let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a JSON line: {e}"))?;
                if !value.is_object() {
                    return Err("not a JSON object".into());
                }
                let mut record = csv::StringRecord::with_capacity(text.len(), keys.len());
                for path in keys {
                    let at = path.iter().try_fold(&value, |v, key| match v {
                        serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                        v => v.get(key.as_str()),
                    });
                    match at {
                        None | Some(serde_json::Value::Null) => record.push_field(""),
                        Some(serde_json::Value::String(s)) => record.push_field(s),
                        // A number, a flag, or an object kept whole as its JSON text.
                        Some(other) => record.push_field(&other.to_string()),
                    }
                }
                Ok(record)
            }
        }
    }

    /// A field's value after its code table (cells joined with a space); `None` if unmapped
    /// or empty.
    fn get<'a>(&'a self, record: &'a csv::StringRecord, field: &str, uncoded: &mut Vec<String>) -> Option<String> {
        let at = self.index.get(field)?;
        let joined;
        let raw = match at.as_slice() {
            [one] => record.get(*one)?.trim(),
            many => {
                joined = many.iter().filter_map(|&i| record.get(i)).map(str::trim).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" ");
                joined.as_str()
            }
        };
        if raw.is_empty() {
            return None;
        }
        match self.codes.get(field) {
            Some(table) => match table.get(raw) {
                Some(meant) => Some(meant.clone()),
                None => {
                    // Keep what the source wrote rather than drop or guess; say so.
                    uncoded.push(field.to_owned());
                    Some(raw.to_owned())
                }
            },
            None => Some(raw.to_owned()),
        }
    }

    fn time(&self, record: &csv::StringRecord, uncoded: &mut Vec<String>) -> Result<i64, String> {
        let local = if let Some(dt) = self.get(record, "datetime", uncoded) {
            if let Some(ms) = epoch_ms(&dt) {
                return Ok(ms);
            }
            match mamori_text::parse_date_time_zoned(&dt).map_err(|e| format!("field `datetime`: {e}"))? {
                (local, None) => local,
                // The cell says its own offset: that, not the source's zone.
                (local, Some(east)) => return Ok((local - chrono::Duration::seconds(i64::from(east))).and_utc().timestamp_millis()),
            }
        } else {
            let date = self.get(record, "date", uncoded).ok_or("field `date` is empty")?;
            let date = mamori_text::parse_date(&date).map_err(|e| format!("field `date`: {e}"))?;
            match self.get(record, "time", uncoded) {
                Some(t) => date.and_time(mamori_text::parse_time(&t).map_err(|e| format!("field `time`: {e}"))?),
                None if self.index.contains_key("time") => return Err("field `time` is empty".into()),
                None => date.and_time(chrono::NaiveTime::MIN),
            }
        };
        local_ms(local, self.offset)
    }
}

/// `user.id` → [user, id]; a JSON Pointer `/a.b/c` → [a.b, c] (`~1` is `/`, `~0` is `~`).
fn key_path(path: &str) -> Vec<String> {
    match path.strip_prefix('/') {
        Some(pointer) => pointer.split('/').map(|k| k.replace("~1", "/").replace("~0", "~")).collect(),
        None => path.split('.').filter(|k| !k.is_empty()).map(str::to_owned).collect(),
    }
}

/// UNIX time, UTC: ten digits of seconds (a fraction allowed) or thirteen of milliseconds.
/// No date form mamori reads is ten or thirteen bare digits (the compact forms are twelve
/// and fourteen), so a cell like this is never a date misread.
fn epoch_ms(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match whole.len() {
        10 => {
            let millis: String = fraction.chars().chain(std::iter::repeat('0')).take(3).collect();
            Some(whole.parse::<i64>().ok()? * 1000 + millis.parse::<i64>().ok()?)
        }
        13 if fraction.is_empty() => whole.parse().ok(),
        _ => None,
    }
}

impl LineAdapter for CsvMapping {
    fn has_header(&self) -> bool {
        self.has_header
    }

    fn header(&mut self, line: &[u8], file_name: &str) -> Result<(), String> {
        let text = self.encoding.decode(line)?;
        let record = self.record(&text)?;
        let names: Vec<String> = record.iter().map(|h| h.trim().trim_start_matches('\u{FEFF}').to_owned()).collect();
        for (field, col) in &self.wanted {
            if !col.cells().iter().any(|cell| matches!(cell, Column::Name(_))) {
                continue;
            }
            let mut at = Vec::new();
            for cell in col.cells() {
                at.push(match cell {
                    Column::Name(name) => names.iter().position(|h| h == name).ok_or_else(|| {
                        format!(
                            "{file_name}: source `{}` maps `{field}` to column `{name}`, which the header lacks (it has: {})",
                            self.source,
                            names.join(", ")
                        )
                    })?,
                    Column::Index(i) => i - 1,
                    Column::Joined(_) => unreachable!("refused when the source was loaded"),
                });
            }
            self.index.insert(field.clone(), at);
        }
        self.width = Some(names.len());
        Ok(())
    }

    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        if self.has_header && self.width.is_none() {
            return Err("the file's header row was not read".into());
        }
        let text = self.encoding.decode(line)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let record = self.record(&text)?;
        if let Some(width) = self.width
            && record.len() != width
        {
            return Err(format!("expected {width} fields as in the header, found {}", record.len()));
        }
        let mut uncoded = Vec::new();
        // The row's class: by the route's field, else the source's.
        let row_class = match &self.route {
            Some(route) => self.get(&record, &route.field, &mut uncoded).and_then(|v| route.classes.get(&v).copied()).or(self.class),
            None => self.class,
        };
        let Some(row_class) = row_class else { return Ok(None) };
        let time = self.time(&record, &mut uncoded)?;
        let actor = self.get(&record, "actor", &mut uncoded);
        let operation = self.get(&record, "operation", &mut uncoded);
        let (class, mut activity) = match row_class {
            RowClass::Record => (ClassUid::DatastoreActivity, 99),
            RowClass::File => (ClassUid::FileSystemActivity, 2),
            RowClass::Print => (ClassUid::FileSystemActivity, 99),
            RowClass::Usb => (ClassUid::PeripheralActivity, 1),
            RowClass::Logon | RowClass::Badge => (ClassUid::Authentication, 1),
        };
        match operation.as_ref().and_then(|op| self.activity.get(op)).copied().or(self.default_activity) {
            Some(a) => activity = a,
            // A record access whose operation no `[activity]` entry names is neither a
            // read nor a change as far as anyone knows: Other (99), and `mamori check` says
            // which operations need an entry. (Taken as an update, every look-up of a town
            // that mapped no activities would be a change.)
            None if row_class == RowClass::Record => {
                activity = 99;
                uncoded.push("activity".to_owned());
            }
            None => {}
        }
        let direction = self.get(&record, "direction", &mut uncoded);
        if row_class == RowClass::Badge {
            activity = match direction.as_deref() {
                Some("in") => 1,
                Some("out") => 2,
                other => return Err(format!("field `direction`: `{}` is neither `in` nor `out` after its code table", other.unwrap_or(""))),
            };
        }
        // A badge reader logs a card; the card's holder is the actor.
        let actor = match (actor, row_class) {
            (Some(a), _) => a,
            (None, RowClass::Badge) => self.get(&record, "employee", &mut uncoded).ok_or("fields `actor` and `employee` are empty")?,
            (None, _) => return Err("field `actor` is empty".into()),
        };
        let mut event = Event::new(class, activity, time, &actor, &self.product);
        event.actor.user.name = self.get(&record, "actor_name", &mut uncoded);
        event.actor.user.employee_uid = self.get(&record, "employee", &mut uncoded);
        let host = self.get(&record, "host", &mut uncoded);
        let ip = self.get(&record, "ip", &mut uncoded);
        if host.is_some() || ip.is_some() {
            event.device = Some(Device { hostname: host, ip });
        }
        if let Some(status) = self.get(&record, "status", &mut uncoded) {
            event.status_id = match self.outcome.get(&status).map(String::as_str) {
                Some("success") => StatusId::Success,
                Some("failure") => StatusId::Failure,
                _ => StatusId::Other,
            };
            event.unmapped.extra.insert("status".into(), status.into());
        }
        // Whose record: a resident by 宛名番号; anyone else by the source's own key
        // (`permit:R6-00012`) or by name and birth date (`name:サトウハナコ/1950-01-01`), so
        // that they are kept, explained by the case that names them and disclosed by that key.
        let subject = match self.get(&record, "resident", &mut uncoded) {
            Some(uid) => Some(match self.resident_digits {
                Some(width) if uid.len() < width && uid.bytes().all(|b| b.is_ascii_digit()) => format!("{uid:0>width$}"),
                _ => uid,
            }),
            None => match self.get(&record, "subject", &mut uncoded) {
                Some(key) => Some(format!("{}:{key}", self.subject_kind)),
                None => match (self.get(&record, "subject_name", &mut uncoded), self.get(&record, "subject_birth", &mut uncoded)) {
                    (Some(name), Some(birth)) => {
                        let birth = mamori_text::parse_date(&birth).map_err(|e| format!("field `subject_birth`: {e}"))?;
                        Some(format!("name:{}/{birth}", mamori_text::fold_name(&name)))
                    }
                    _ => None,
                },
            },
        };
        if let Some(uid) = subject {
            let record_type = self.get(&record, "record_type", &mut uncoded);
            event.unmapped.resident = Some(ResidentRecord { uid, record_type });
        } else if row_class == RowClass::Record {
            return Err("no subject: `resident` (宛名番号) and the other keys are all empty".into());
        }
        if let Some(path) = self.get(&record, "path", &mut uncoded) {
            let size = match self.get(&record, "size", &mut uncoded) {
                Some(s) => Some(s.replace(',', "").parse::<u64>().map_err(|_| format!("field `size`: `{s}` is not a number"))?),
                None => None,
            };
            let name = self.get(&record, "file_name", &mut uncoded)
                .or_else(|| path.rsplit(['/', '\\']).next().map(str::to_owned));
            event.file = Some(FileObject { path, name, size });
        }
        let serial = self.get(&record, "serial", &mut uncoded);
        let device_name = self.get(&record, "device_name", &mut uncoded);
        let vendor = self.get(&record, "vendor", &mut uncoded);
        if serial.is_some() || device_name.is_some() || vendor.is_some() {
            event.peripheral_device = Some(PeripheralDevice { name: device_name, serial_number: serial, vendor_name: vendor });
        }
        event.unmapped.operation = match row_class {
            RowClass::Print => Some(operation.unwrap_or_else(|| "print".into())),
            RowClass::Badge => direction,
            _ => operation,
        };
        event.unmapped.share = self.get(&record, "share", &mut uncoded);
        if let Some(room) = self.get(&record, "room", &mut uncoded) {
            event.unmapped.extra.insert("room".into(), room.into());
        }
        if let Some(to) = self.get(&record, "recipient", &mut uncoded) {
            event.unmapped.extra.insert("recipient".into(), to.into());
        }
        if let Some(p) = self.get(&record, "pages", &mut uncoded) {
            // A print job's pages: a whole number a printer could print.
            let pages = p.trim().replace(',', "").parse::<u64>().ok().filter(|n| *n <= MAX_PAGES).ok_or_else(|| format!("field `pages`: `{p}` is not a page count (0–{MAX_PAGES})"))?;
            event.unmapped.extra.insert("pages".into(), pages.into());
        }
        for (field, _) in &self.wanted {
            if !KNOWN.contains(&field.as_str())
                && let Some(v) = self.get(&record, field, &mut uncoded)
            {
                event.unmapped.extra.insert(field.clone(), v.into());
            }
        }
        if !uncoded.is_empty() {
            uncoded.sort();
            uncoded.dedup();
            event.unmapped.extra.insert("uncoded".into(), uncoded.into());
        }
        if self.encoding != Encoding::Utf8 && std::str::from_utf8(line).is_err() {
            event.unmapped.extra.insert("raw_encoding".into(), "shift_jis".into());
        }
        finish(event, text, cx)
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn a_route_to_a_class_whose_fields_are_not_mapped_is_refused_at_once() {
        let text = "format = \"csv\"\n[columns]\ndatetime = \"日時\"\nactor = \"u\"\noperation = \"op\"\n[route]\nfield = \"operation\"\nclasses = { \"copy\" = \"usb\" }\n";
        let config: SourceConfig = toml::from_str(text).unwrap();
        let e = CsvMapping::new("ep", &config).err().expect("usb rows need a serial");
        assert!(e.contains("serial"), "{e}");
        let unmapped = text.replace("field = \"operation\"", "field = \"kind\"");
        let e = CsvMapping::new("ep", &toml::from_str(&unmapped).unwrap()).err().expect("the route's field must be mapped");
        assert!(e.contains("`kind`"), "{e}");
    }

    #[test]
    fn unix_times_are_read_and_dates_of_other_widths_are_not_taken_for_them() {
        for (text, ms) in [("1743466200", Some(1_743_466_200_000)), ("1743466200.5", Some(1_743_466_200_500)), ("1743466261500", Some(1_743_466_261_500)), ("20250401", None), ("202504010903", None), ("20250401090312", None), ("1743466261500.1", None), ("-1743466200", None), ("17434662OO", None)] {
            assert_eq!(epoch_ms(text), ms, "{text}");
        }
    }

    #[test]
    fn a_json_source_names_keys_by_path_or_pointer_and_never_by_position() {
        assert_eq!(key_path("user.loginId"), ["user", "loginId"]);
        assert_eq!(key_path("/client/host.name"), ["client", "host.name"]);
        assert_eq!(key_path("/a~1b/c~0d"), ["a/b", "c~d"]);
        let text = "format = \"json\"\nclass = \"record\"\n[columns]\ndatetime = \"ts\"\nactor = 2\nresident = \"r\"\n";
        let e = CsvMapping::new("vendor", &toml::from_str(text).unwrap()).err().expect("positions mean nothing in JSON");
        assert!(e.contains("`actor`") && e.contains("key"), "{e}");
    }
}
