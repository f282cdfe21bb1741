#![no_main]
//! Windows Security events in evtx_dump's JSON shape.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::feed_lines("format = \"windows-json\"", data));
