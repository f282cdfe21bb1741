//! mamori's own normalised events, one JSON object a line.

use mamori_model::Event;

use crate::{LineAdapter, LineContext, finish};

pub struct Ndjson;

impl LineAdapter for Ndjson {
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        // A file saved by a Windows editor starts with a UTF-8 byte-order mark.
        let line = if cx.line == 1 { line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line) } else { line };
        let event = Event::from_json(line).map_err(|e| e.to_string())?;
        // The line parsed as JSON, so it is UTF-8.
        finish(event, String::from_utf8_lossy(line).into_owned(), cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_not_part_of_the_event() {
        let line = br#"{"class_uid":3002,"activity_id":1,"time":1715130000000,"actor":{"user":{"uid":"u1"}},"metadata":{"product":"win"}}"#;
        let with_bom = [&b"\xEF\xBB\xBF"[..], &line[..]].concat();
        let cx = LineContext { source: "t", file_name: "t.ndjson", line: 1 };
        assert!(Ndjson.parse(&with_bom, &cx).unwrap().is_some());
        let later = LineContext { line: 2, ..cx };
        assert!(Ndjson.parse(&with_bom, &later).is_err(), "only a file's first bytes may be a BOM");
    }
}
