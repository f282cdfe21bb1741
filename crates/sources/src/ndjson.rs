//! mamori's own normalised events, one JSON object a line.

use mamori_model::Event;

use crate::{LineAdapter, LineContext, finish};

pub struct Ndjson;

impl LineAdapter for Ndjson {
    fn parse(&mut self, line: &[u8], cx: &LineContext<'_>) -> Result<Option<Event>, String> {
        let event = Event::from_json(line).map_err(|e| e.to_string())?;
        // The line parsed as JSON, so it is UTF-8.
        finish(event, String::from_utf8_lossy(line).into_owned(), cx)
    }
}
