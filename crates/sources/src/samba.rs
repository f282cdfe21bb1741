//! Samba `vfs_full_audit` lines as syslog writes them. The module logs
//! `PREFIX|operation|ok-or-fail|arguments…` where PREFIX is the configured
//! `full_audit:prefix` (default here `%u|%I|%m|%S`: user, client IP, client machine,
//! share). Syslog puts its own header in front: RFC 3339 (`2024-05-08T10:31:02+09:00 host
//! smbd_audit: …`) or BSD (`May  8 10:31:02 host smbd_audit: …`, whose year comes from
//! the source's `year`).
//!
//! File operations become File System Activity (1001): open/openat (read or write by its
//! flag), read, write, rename, unlink, mkdir, and ACL changes (fset_nt_acl). Session and other operations are ignored.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use mamori_model::{ClassUid, Device, Event, FileObject, StatusId};

use crate::config::SourceConfig;
use crate::{LineAdapter, LineContext, finish, local_ms};

pub struct FullAudit {
    product: String,
    prefix: Vec<char>,
    year: Option<i32>,
    offset: FixedOffset,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl FullAudit {
    pub fn new(name: &str, c: &SourceConfig) -> Result<FullAudit, String> {
        let prefix = c.prefix.clone().unwrap_or_else(|| "%u|%I|%m|%S".into());
        let mut letters = Vec::new();
        for part in prefix.split('|') {
            match part.strip_prefix('%').and_then(|p| p.chars().next()) {
                Some(l) if part.len() == 2 => letters.push(l),
                _ => return Err(format!("source `{name}`: prefix part `{part}` is not a %-variable; use e.g. %u|%I|%m|%S")),
            }
        }
        if !letters.contains(&'u') {
            return Err(format!("source `{name}`: the prefix must contain %u (the user)"));
        }
        Ok(FullAudit {
            product: c.product.clone().unwrap_or_else(|| name.to_owned()),
            prefix: letters,
            year: c.year,
            offset: c.offset().map_err(|e| format!("source `{name}`: {e}"))?,
        })
    }

    /// Splits the syslog header off; returns the time and the message.
    fn syslog<'a>(&self, line: &'a str) -> Result<(i64, &'a str), String> {
        let (head, message) = line.split_once(": ").ok_or("no `program: ` in the syslog line")?;
        let words: Vec<&str> = head.split_whitespace().collect();
        if let Some(first) = words.first()
            && let Ok(t) = chrono::DateTime::parse_from_rfc3339(first)
        {
            return Ok((t.timestamp_millis(), message));
        }
        // BSD: Mon dd hh:mm:ss host program
        let [mon, day, clock, ..] = words.as_slice() else { return Err("no syslog timestamp".into()) };
        let month = MONTHS.iter().position(|m| m == mon).ok_or_else(|| format!("`{mon}` is not a month"))? as u32 + 1;
        let year = self.year.ok_or("BSD syslog timestamps carry no year: set `year` for this source")?;
        let day: u32 = day.parse().map_err(|_| format!("`{day}` is not a day"))?;
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| format!("{year}-{month}-{day} does not exist"))?;
        let time = chrono::NaiveTime::parse_from_str(clock, "%H:%M:%S").map_err(|_| format!("`{clock}` is not a time"))?;
        Ok((local_ms(NaiveDateTime::new(date, time), self.offset)?, message))
    }
}

impl LineAdapter for FullAudit {
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to() + 1))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let (time, message) = self.syslog(text)?;
        let fields: Vec<&str> = message.split('|').collect();
        let n = self.prefix.len();
        if fields.len() < n + 2 {
            return Err(format!("expected the prefix ({n} fields), operation and result, found {} fields", fields.len()));
        }
        let var = |l: char| self.prefix.iter().position(|&p| p == l).map(|i| fields[i].to_owned()).filter(|s| !s.is_empty());
        let (op, result, args) = (fields[n], fields[n + 1], &fields[n + 2..]);
        let (activity, path, operation) = match (op, args) {
            ("open" | "openat", [flag, path, ..]) => (if flag.contains('w') { 3 } else { 2 }, *path, op),
            ("open" | "openat", [path]) => (2, *path, op),
            ("pread" | "pread_recv" | "pread_send" | "read", [path, ..]) => (2, *path, "read"),
            ("pwrite" | "pwrite_recv" | "pwrite_send" | "write", [path, ..]) => (3, *path, "write"),
            ("rename" | "renameat", [_, to, ..]) => (5, *to, "rename"),
            ("unlink" | "unlinkat", [path, ..]) => (4, *path, "unlink"),
            ("mkdir" | "mkdirat", [path, ..]) => (1, *path, "mkdir"),
            // OCSF activity 7, Set Security: who changed who may open it.
            ("fset_nt_acl" | "set_nt_acl", [path, ..]) => (7, *path, "set-acl"),
            _ => return Ok(None),
        };
        let user = var('u').ok_or("the %u field is empty")?;
        let mut event = Event::new(ClassUid::FileSystemActivity, activity, time, &user, &self.product);
        event.status_id = if result == "ok" { StatusId::Success } else { StatusId::Failure };
        event.device = Some(Device { hostname: var('m'), ip: var('I') });
        let name = path.rsplit('/').next().map(str::to_owned);
        event.file = Some(FileObject { path: path.to_owned(), name, size: None });
        event.unmapped.share = var('S');
        event.unmapped.operation = Some(operation.into());
        if let ("rename" | "renameat", [from, ..]) = (op, args) {
            event.unmapped.extra.insert("renamed_from".into(), (*from).into());
        }
        finish(event, text.to_owned(), cx)
    }
}
