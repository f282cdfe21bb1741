//! Journaled mail: mbox files, or Maildir messages (one file each). Each message becomes
//! an Email Activity (4009): sender, To/Cc/Bcc, subject, Message-ID, which recipients are
//! outside the organisation and which of those are personal (free-mail) addresses, and
//! each attachment with its name, size, SHA-256, type and content inspection.
//!
//! The raw record kept is the message's header block; the whole message is identified
//! by its SHA-256 and size (and its line in the mbox), so that the stored event stays
//! small while the evidence can be matched to the journal copy byte for byte.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::borrow::Cow;

use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use mamori_model::{ClassUid, Email, Event, StatusId};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::SourceConfig;
use crate::inspect::{Inspection, ResidentIndex, inspect};
use crate::{Framing, LineAdapter, LineContext, finish};

/// Time this process spent inspecting attachments, in nanoseconds: the mail import's rate
/// is read with it apart (`mamori bench adapters`), since opening every XLSX, zip and CSV
/// is work no other source does.
static INSPECTING_NS: AtomicU64 = AtomicU64::new(0);

/// Time this process has spent inspecting attachments so far.
pub fn attachment_inspection_time() -> std::time::Duration {
    std::time::Duration::from_nanos(INSPECTING_NS.load(Ordering::Relaxed))
}

/// Free-mail and carrier domains: mail there is to a person, not an organisation.
const PERSONAL_DOMAINS: [&str; 16] = [
    "gmail.com", "googlemail.com", "yahoo.co.jp", "ymail.ne.jp", "icloud.com", "me.com", "outlook.com",
    "outlook.jp", "hotmail.com", "hotmail.co.jp", "live.jp", "docomo.ne.jp", "ezweb.ne.jp", "au.com",
    "softbank.ne.jp", "i.softbank.jp",
];

#[derive(Clone)]
pub struct MailJournal {
    product: String,
    framing: Framing,
    internal: Vec<String>,
    personal: Vec<String>,
    residents: Arc<ResidentIndex>,
}

impl MailJournal {
    pub fn new(name: &str, c: &SourceConfig, framing: Framing, residents: Arc<ResidentIndex>) -> Result<MailJournal, String> {
        if c.internal_domains.is_empty() {
            return Err(format!("source `{name}`: list the organisation's mail domains in `internal_domains`"));
        }
        let lower = |v: &[String]| v.iter().map(|d| d.trim_start_matches('@').to_ascii_lowercase()).collect();
        let mut personal: Vec<String> = PERSONAL_DOMAINS.iter().map(|d| d.to_string()).collect();
        personal.extend(lower(&c.personal_domains));
        Ok(MailJournal {
            product: c.product.clone().unwrap_or_else(|| name.to_owned()),
            framing,
            internal: lower(&c.internal_domains),
            personal,
            residents,
        })
    }
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    a.map(|a| a.iter().filter_map(|x| x.address()).map(|s| s.trim().to_ascii_lowercase()).collect()).unwrap_or_default()
}

/// An attachment's bytes as sent. mail-parser decodes `text/*` parts to UTF-8, which
/// would garble a Shift_JIS CSV sent without a charset (as mail clients do); for those the
/// raw body is taken and only its transfer encoding undone.
fn attachment_bytes<'a>(part: &'a MessagePart<'_>, message: &'a [u8]) -> Cow<'a, [u8]> {
    match part.body {
        PartType::Text(_) | PartType::Html(_) => {
            let raw = message.get(part.offset_body as usize..part.offset_end as usize).unwrap_or_default();
            let decoded = match part.encoding {
                mail_parser::Encoding::Base64 => mail_parser::decoders::base64::base64_decode(raw),
                mail_parser::Encoding::QuotedPrintable => mail_parser::decoders::quoted_printable::quoted_printable_decode(raw),
                mail_parser::Encoding::None => Some(raw.to_vec()),
            };
            decoded.map_or_else(|| Cow::Borrowed(part.contents()), Cow::Owned)
        }
        _ => Cow::Borrowed(part.contents()),
    }
}

/// The `From ` line's date (`From sender Wed May  8 18:02:00 2024`), read as UTC.
fn from_line_time(line: &str) -> Option<i64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let tail = words.get(words.len().checked_sub(5)?..)?.join(" ");
    chrono::NaiveDateTime::parse_from_str(&tail, "%a %b %e %H:%M:%S %Y").ok().map(|t| t.and_utc().timestamp_millis())
}

impl LineAdapter for MailJournal {
    fn framing(&self) -> Framing {
        self.framing
    }

    /// Each message is parsed on its own: a copy parses on a second thread.
    fn fork(&self) -> Option<Box<dyn LineAdapter>> {
        Some(Box::new(self.clone()))
    }

    fn parse(&mut self, record: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let (from_line, message) = match record.strip_prefix(b"From ") {
            Some(_) => {
                let end = record.iter().position(|&b| b == b'\n').map_or(record.len(), |i| i + 1);
                (Some(String::from_utf8_lossy(&record[..end]).trim().to_owned()), &record[end..])
            }
            None => (None, record),
        };
        let parsed = MessageParser::default().parse(message).ok_or("not a MIME message")?;
        let time = match parsed.date() {
            Some(d) => d.to_timestamp() * 1000,
            None => from_line.as_deref().and_then(from_line_time).ok_or("no Date header and no date on the From line")?,
        };
        let sender = addresses(parsed.from()).into_iter().next().ok_or("no From address")?;
        let (to, cc, bcc) = (addresses(parsed.to()), addresses(parsed.cc()), addresses(parsed.bcc()));
        if to.is_empty() && cc.is_empty() && bcc.is_empty() {
            return Err("no recipient (To, Cc or Bcc)".into());
        }
        let outbound = mamori_text::mail_domain_in(&sender, &self.internal);
        let mut event = Event::new(ClassUid::EmailActivity, if outbound { 1 } else { 2 }, time, &sender, &self.product);
        event.status_id = StatusId::Success;
        let external: BTreeSet<String> =
            to.iter().chain(&cc).chain(&bcc).filter(|a| !mamori_text::mail_domain_in(a, &self.internal)).cloned().collect();
        let personal: BTreeSet<&String> = external.iter().filter(|a| mamori_text::mail_domain_in(a, &self.personal)).collect();
        event.email = Some(Email {
            from: Some(sender.clone()),
            to,
            cc,
            bcc,
            subject: parsed.subject().map(str::to_owned),
            message_uid: parsed.message_id().map(str::to_owned),
        });
        let mut attachments = Vec::new();
        let mut total = Inspection::default();
        for part in parsed.attachments() {
            let name = part.attachment_name().unwrap_or("(no name)").to_owned();
            let contents = attachment_bytes(part, message);
            let contents = contents.as_ref();
            let content_type = part
                .content_type()
                .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or("")))
                .unwrap_or_default();
            let started = std::time::Instant::now();
            let found = inspect(&name, contents, &self.residents);
            INSPECTING_NS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            total.rows += found.rows;
            total.personal_rows += found.personal_rows;
            total.my_numbers += found.my_numbers;
            total.items.extend(found.items.iter().copied());
            total.residents.extend(found.residents.iter().cloned());
            total.encrypted |= found.encrypted;
            // An attachment not read whole (nested past the limit, a bomb, an archive of a
            // kind not opened, a damaged file) makes the message uninspectable, and says why.
            if total.uninspectable.is_none() {
                total.uninspectable = found.uninspectable.as_ref().map(|why| format!("{name}: {why}"));
            }
            attachments.push(json!({
                "name": name,
                "size": contents.len(),
                "sha256": format!("{:x}", Sha256::digest(contents)),
                "content_type": content_type,
                "inspection": found,
            }));
        }
        let u = &mut event.unmapped;
        u.extra.insert("direction".into(), if outbound { "outbound" } else { "inbound" }.into());
        u.extra.insert("external_recipients".into(), json!(external));
        u.extra.insert("personal_recipients".into(), json!(personal));
        u.extra.insert("message_sha256".into(), format!("{:x}", Sha256::digest(record)).into());
        u.extra.insert("message_size".into(), record.len().into());
        if !attachments.is_empty() {
            u.extra.insert("attachments".into(), attachments.into());
            u.extra.insert(
                "personal_data".into(),
                json!({
                    "rows": total.personal_rows,
                    "items": total.items,
                    "my_numbers": total.my_numbers,
                    "residents": total.residents,
                    "uninspectable": total.encrypted || total.uninspectable.is_some(),
                }),
            );
            if let Some(why) = &total.uninspectable {
                if let Some(data) = u.extra.get_mut("personal_data") {
                    data["uninspectable_reason"] = why.clone().into();
                }
            }
        }
        let header_end = message.windows(2).position(|w| w == b"\n\n").map_or(message.len(), |i| i + 1);
        let headers = String::from_utf8_lossy(&message[..header_end]).into_owned();
        finish(event, headers, cx)
    }
}
