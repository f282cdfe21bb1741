//! Web proxy logs as Squid writes them, into OCSF HTTP Activity (4002) with the URL, host,
//! method, status and bytes.
//!
//! * `squid` — the native `logformat squid`:
//!   `time.ms elapsed client action/code size method URL user hierarchy/peer type`, the
//!   time in seconds since the epoch. `size` is what went to the client (bytes in). A town
//!   that wants uploads seen adds the request size (`%>st`) as a twelfth field:
//!   `logformat mamori %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt %>st`.
//! * `squid-combined` — `logformat combined`:
//!   `client ident user [08/May/2024:10:03:00 +0900] "GET URL HTTP/1.1" code size "referer" "agent" action:hierarchy`,
//!   with an optional request size appended after the action (`%>st`).
//!
//! The actor is the authenticated user (`%un`); where the proxy does not authenticate
//! (`-`), the client address, which the `accounts` master data may map to a terminal's user.

use chrono::DateTime;
use mamori_model::{ClassUid, Device, Event, HttpRequest, HttpResponse, StatusId, Traffic, Url};

use crate::config::SourceConfig;
use crate::{LineAdapter, LineContext, finish};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Native,
    Combined,
}

pub struct Squid {
    product: String,
    layout: Layout,
}

impl Squid {
    pub fn new(name: &str, c: &SourceConfig, layout: Layout) -> Squid {
        Squid { product: c.product.clone().unwrap_or_else(|| name.to_owned()), layout }
    }
}

/// Splits a combined-format line into fields, keeping `[…]` and `"…"` whole.
fn combined_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let close = match c {
            '[' => Some(']'),
            '"' => Some('"'),
            _ => None,
        };
        let mut field = String::new();
        match close {
            Some(end) => {
                chars.next();
                let mut escaped = false;
                loop {
                    let Some(ch) = chars.next() else { return Err(format!("unterminated `{c}…{end}` field")) };
                    if escaped {
                        field.push(ch);
                        escaped = false;
                    } else if ch == '\\' && end == '"' {
                        escaped = true;
                    } else if ch == end {
                        break;
                    } else {
                        field.push(ch);
                    }
                }
            }
            None => {
                while let Some(&ch) = chars.peek() {
                    if ch == ' ' {
                        break;
                    }
                    field.push(ch);
                    chars.next();
                }
            }
        }
        out.push(field);
    }
    Ok(out)
}

fn number(field: &str, what: &str) -> Result<Option<u64>, String> {
    if field == "-" || field.is_empty() {
        return Ok(None);
    }
    field.parse::<u64>().map(Some).map_err(|_| format!("field `{what}`: `{field}` is not a byte count"))
}

/// The URL as OCSF wants it: `CONNECT host:443` becomes `https://host/`.
fn url(method: &str, raw: &str) -> Url {
    let url_string = if method.eq_ignore_ascii_case("CONNECT") && !raw.contains("://") {
        format!("https://{}/", raw.trim_end_matches(":443"))
    } else {
        raw.to_owned()
    };
    let hostname = Some(mamori_text::host_of(&url_string)).filter(|h| !h.is_empty());
    Url { url_string, hostname }
}


impl LineAdapter for Squid {
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to() + 1))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let (time, client, user, method, raw_url, code, bytes_in, bytes_out, action) = match self.layout {
            Layout::Native => {
                let f: Vec<&str> = text.split_whitespace().collect();
                if f.len() < 10 {
                    return Err(format!("expected the 10 fields of squid's native log, found {}", f.len()));
                }
                let secs: f64 = f[0].parse().map_err(|_| format!("field `time`: `{}` is not seconds since the epoch", f[0]))?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(format!("field `time`: `{}` is not a time", f[0]));
                }
                let (action, code) = f[3].split_once('/').ok_or_else(|| format!("field `code`: `{}` is not ACTION/code", f[3]))?;
                let code = code.parse::<u16>().map_err(|_| format!("field `code`: `{code}` is not an HTTP status"))?;
                let bytes_out = match f.get(10) {
                    Some(v) => number(v, "request size")?,
                    None => None,
                };
                ((secs * 1000.0).round() as i64, f[2], f[7], f[5], f[6], code, number(f[4], "size")?, bytes_out, action.to_owned())
            }
            Layout::Combined => {
                let f = combined_fields(text)?;
                if f.len() < 7 {
                    return Err(format!("expected the fields of squid's combined log, found {}", f.len()));
                }
                let t = DateTime::parse_from_str(&f[3], "%d/%b/%Y:%H:%M:%S %z").map_err(|_| format!("field `time`: `{}` is not dd/Mon/yyyy:HH:MM:SS +zzzz", f[3]))?;
                let mut request = f[4].split(' ');
                let method = request.next().unwrap_or("");
                let url = request.next().ok_or_else(|| format!("field `request`: `{}` is not METHOD URL VERSION", f[4]))?;
                let code = f[5].parse::<u16>().map_err(|_| format!("field `code`: `{}` is not an HTTP status", f[5]))?;
                let action = f.get(9).map(|a| a.split(':').next().unwrap_or("").to_owned()).unwrap_or_default();
                let bytes_out = match f.get(10) {
                    Some(v) => number(v, "request size")?,
                    None => None,
                };
                let (user, client) = (if f[2] != "-" { f[2].as_str() } else { f[1].as_str() }, f[0].as_str());
                let (m, u) = (method.to_owned(), url.to_owned());
                return self.event(t.timestamp_millis(), client, user, &m, &u, code, number(&f[6], "size")?, bytes_out, &action, text, cx);
            }
        };
        self.event(time, client, user, method, raw_url, code, bytes_in, bytes_out, &action, text, cx)
    }
}

impl Squid {
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        time: i64,
        client: &str,
        user: &str,
        method: &str,
        raw_url: &str,
        code: u16,
        bytes_in: Option<u64>,
        bytes_out: Option<u64>,
        action: &str,
        text: &str,
        cx: &LineContext<'_>,
    ) -> Result<Option<Event>, String> {
        if DateTime::from_timestamp_millis(time).is_none() {
            return Err("field `time`: out of range".into());
        }
        let actor = if user == "-" || user.is_empty() { client } else { user };
        // Squid's own denials (TCP_DENIED) and HTTP errors are failures.
        let failed = action.contains("DENIED") || code >= 400 || code == 0;
        let mut event = Event::new(ClassUid::HttpActivity, http_activity(method), time, actor, &self.product);
        event.status_id = if failed { StatusId::Failure } else { StatusId::Success };
        event.device = Some(Device { hostname: None, ip: Some(client.to_owned()) });
        event.http_request = Some(HttpRequest { url: url(method, raw_url), http_method: Some(method.to_ascii_uppercase()) });
        event.http_response = Some(HttpResponse { code: Some(code) });
        event.traffic = Some(Traffic { bytes_out, bytes_in }).filter(|t| t.bytes_in.is_some() || t.bytes_out.is_some());
        if !action.is_empty() {
            event.unmapped.operation = Some(action.to_owned());
        }
        finish(event, text.to_owned(), cx)
    }
}

/// OCSF HTTP Activity `activity_id` by method: 1 Connect, 2 Delete, 3 Get, 4 Head,
/// 5 Options, 6 Post, 7 Put, 8 Trace, 99 other.
pub fn http_activity(method: &str) -> u8 {
    match method.to_ascii_uppercase().as_str() {
        "CONNECT" => 1,
        "DELETE" => 2,
        "GET" => 3,
        "HEAD" => 4,
        "OPTIONS" => 5,
        "POST" => 6,
        "PUT" => 7,
        "TRACE" => 8,
        _ => 99,
    }
}
