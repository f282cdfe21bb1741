//! Feeds a fuzzer's bytes to a source adapter as the import pipeline would: line by
//! line, the first line as the header when the adapter wants one.

use mamori_sources::{AdapterContext, LineContext, SourceConfig, adapter};

pub fn feed_lines(config: &str, data: &[u8]) {
    let config: SourceConfig = toml::from_str(config).expect("the fuzz target's configuration is valid");
    let mut adapter = adapter("fuzz", &config, &AdapterContext::default()).expect("the adapter builds");
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0 && adapter.has_header() {
            if adapter.header(line, "fuzz.csv").is_err() {
                return;
            }
            continue;
        }
        let cx = LineContext { source: "fuzz", file_name: "fuzz.csv", line: i as u64 + 1 };
        if let Ok(Some(event)) = adapter.parse(line, &cx) {
            // What an adapter returns must be storable.
            event.validate().expect("adapters return valid events");
            let _ = event.canonical_bytes();
        }
    }
}
