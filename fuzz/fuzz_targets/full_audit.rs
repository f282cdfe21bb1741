#![no_main]
//! Samba vfs_full_audit syslog lines.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::feed_lines("format = \"samba-full-audit\"\nyear = 2024", data));
