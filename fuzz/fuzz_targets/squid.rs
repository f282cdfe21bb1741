#![no_main]
//! Web proxy logs: squid's native and combined formats (the first byte picks which).
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let format = if first % 2 == 0 { "squid" } else { "squid-combined" };
    common::feed_lines(&format!("format = \"{format}\""), rest)
});
