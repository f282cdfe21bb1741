//! Source adapters: each turns the records of one product's log into normalised
//! [`Event`]s, keeping the raw record and where it was (file, line).
//!
//! Adapters are line-oriented ([`LineAdapter`]): the import pipeline frames lines, keeps
//! offsets, hashes and dead letters, and hands each line here. An adapter answers with
//! an event, with nothing (a line that is not an event: a header, an event id mamori does
//! not map), or with a reason the line is bad. Adapters are configured per source in
//! TOML (`mamori.toml` or `sources/*.toml`, see `docs/sources.md`).
//!
//! This crate must not touch storage or hold detection logic; it reads text and returns
//! events. Japanese text handling (eras, folding) comes from `mamori-text`.

pub mod config;
mod cert;
mod csvline;
mod csvmap;
mod decode;
pub mod inspect;
mod mail;
mod ndjson;
mod samba;
mod squid;
mod windows;

pub use config::{Format, SourceConfig, SourcesFile, expand_paths, load_sources};
pub use decode::Encoding;
pub use inspect::ResidentIndex;
pub use mail::attachment_inspection_time;
pub use squid::http_activity;

use mamori_model::Event;

/// Where a line came from, for filling in an event's origin.
#[derive(Debug, Clone, Copy)]
pub struct LineContext<'a> {
    pub source: &'a str,
    pub file_name: &'a str,
    pub line: u64,
}

/// How a source's records are laid out in its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record a line.
    Lines,
    /// mbox: a record starts at each `From ` line that follows a blank line (or opens
    /// the file) and runs to the next.
    Mbox,
    /// The whole file is one record (a Maildir message).
    Message,
}

/// Reads one product's log, record by record.
pub trait LineAdapter: Send {
    /// How records are framed; lines unless said otherwise.
    fn framing(&self) -> Framing {
        Framing::Lines
    }

    /// Whether line 1 of every file is a header that must be read (even when an import
    /// resumes further down the file).
    fn has_header(&self) -> bool {
        false
    }

    /// Takes the header line.
    fn header(&mut self, _line: &[u8], _file_name: &str) -> Result<(), String> {
        Ok(())
    }

    /// Turns one record (a line without its ending, or a whole message) into an event,
    /// nothing, or the reason it is bad.
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String>;

    /// A second adapter for a second parse thread, from a source whose records are heavy
    /// (whole messages, their attachments opened) and parsed each on its own, keeping no
    /// state from one to the next. Line sources offer none: their writer, not their
    /// parsing, holds an import back.
    fn fork(&self) -> Option<Box<dyn LineAdapter>> {
        None
    }
}

/// What adapters may need beyond their own configuration.
#[derive(Debug, Clone, Default)]
pub struct AdapterContext {
    /// The town's residents, for matching the content of mail attachments.
    pub residents: std::sync::Arc<ResidentIndex>,
}

/// Builds the adapter a source is configured for.
pub fn adapter(name: &str, config: &SourceConfig, cx: &AdapterContext) -> Result<Box<dyn LineAdapter>, String> {
    let inner = format_adapter(name, config, cx)?;
    Ok(match &config.accounts {
        Some(system) => Box::new(DeclaredAccounts { inner, system: system.clone() }),
        None => inner,
    })
}

/// A source whose actors' account system is declared: every event says so
/// (`unmapped.account_system`), and detection looks the account up there.
struct DeclaredAccounts {
    inner: Box<dyn LineAdapter>,
    system: String,
}

impl LineAdapter for DeclaredAccounts {
    fn framing(&self) -> Framing {
        self.inner.framing()
    }

    fn has_header(&self) -> bool {
        self.inner.has_header()
    }

    fn header(&mut self, line: &[u8], file_name: &str) -> Result<(), String> {
        self.inner.header(line, file_name)
    }

    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let mut event = self.inner.parse(line, cx)?;
        if let Some(e) = event.as_mut() {
            e.unmapped.extra.insert("account_system".into(), self.system.clone().into());
        }
        Ok(event)
    }

    fn fork(&self) -> Option<Box<dyn LineAdapter>> {
        Some(Box::new(DeclaredAccounts { inner: self.inner.fork()?, system: self.system.clone() }))
    }
}

fn format_adapter(name: &str, config: &SourceConfig, cx: &AdapterContext) -> Result<Box<dyn LineAdapter>, String> {
    Ok(match config.format {
        Format::Ndjson => Box::new(ndjson::Ndjson),
        Format::Csv | Format::Tsv | Format::Json => Box::new(csvmap::CsvMapping::new(name, config)?),
        Format::WindowsJson => Box::new(windows::WindowsSecurity::new(name, config)),
        Format::SambaFullAudit => Box::new(samba::FullAudit::new(name, config)?),
        Format::Mbox => Box::new(mail::MailJournal::new(name, config, Framing::Mbox, cx.residents.clone())?),
        Format::Maildir => Box::new(mail::MailJournal::new(name, config, Framing::Message, cx.residents.clone())?),
        Format::Cert => Box::new(cert::Cert::new(name, config)?),
        Format::Squid => Box::new(squid::Squid::new(name, config, squid::Layout::Native)),
        Format::SquidCombined => Box::new(squid::Squid::new(name, config, squid::Layout::Combined)),
    })
}

/// The adapter for mamori's own normalised NDJSON, which needs no configuration.
pub fn ndjson_adapter() -> Box<dyn LineAdapter> {
    Box::new(ndjson::Ndjson)
}

/// Fills in what every adapter records the same way: the log's name, the line, and the
/// raw record as read; and checks the event is one the journal can store (a timestamp
/// a source got wrong is the line's fault, not the store's).
pub(crate) fn finish(mut event: Event, raw: String, cx: &LineContext<'_>) -> Result<Option<Event>, String> {
    // mamori writes its operators' own actions as API Activity; one read from outside could
    // forge an auditor's sign-off or a master load into the same log.
    if event.class_uid == mamori_model::ClassUid::ApiActivity {
        return Err("class 6003 (API Activity) is reserved for mamori's own audit records and cannot be imported".into());
    }
    if event.metadata.log_name.is_none() {
        event.metadata.log_name = Some(cx.file_name.to_owned());
    }
    if event.unmapped.origin.line.is_none() && event.unmapped.origin.offset.is_none() {
        event.unmapped.origin.line = Some(cx.line);
    }
    if event.raw_data.is_none() {
        event.raw_data = Some(raw);
    }
    event.validate().map_err(|e| e.to_string())?;
    Ok(Some(event))
}

/// Milliseconds since the epoch of a local date-time at a fixed UTC offset.
pub(crate) fn local_ms(t: chrono::NaiveDateTime, offset: chrono::FixedOffset) -> Result<i64, String> {
    t.and_local_timezone(offset)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("{t} does not exist at offset {offset}"))
}

#[cfg(test)]
mod declared_accounts {
    use super::*;

    #[test]
    fn an_imported_line_claiming_to_be_an_operators_own_action_is_refused() {
        let line = br#"{"class_uid":6003,"activity_id":1,"time":1715130000000,"actor":{"user":{"uid":"auditor"}},"metadata":{"product":"mamori"},"unmapped":{"operation":"review.signoff"}}"#;
        let cx = LineContext { source: "ndjson", file_name: "replay.ndjson", line: 1 };
        let refused = ndjson_adapter().parse(line, &cx).unwrap_err();
        assert!(refused.contains("6003") && refused.contains("reserved"), "{refused}");
    }

    #[test]
    fn a_declared_account_system_is_written_on_every_event() {
        let config: SourceConfig = toml::from_str("format = \"squid\"\naccounts = \"windows\"\n").unwrap();
        let mut a = adapter("proxy", &config, &AdapterContext::default()).unwrap();
        let cx = LineContext { source: "proxy", file_name: "access.log", line: 1 };
        let line = b"1715130180.123    150 10.1.0.21 TCP_MISS/200 5432 GET http://www.city.example.lg.jp/ e0042 HIER_DIRECT/203.0.113.10 text/html";
        let e = a.parse(line, &cx).unwrap().unwrap();
        assert_eq!(e.unmapped.extra["account_system"], "windows");
    }
}
