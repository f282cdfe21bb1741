#![no_main]
//! The declarative CSV mapping with era dates, code tables and encoding detection.
#[path = "common.rs"]
mod common;

const CONFIG: &str = r#"
format = "csv"
encoding = "auto"
class = "record"
[columns]
date = "処理日"
time = "処理時刻"
actor = "操作者番号"
host = "端末名"
resident = "宛名番号"
record_type = "業務コード"
operation = "処理区分"
size = "サイズ"
[codes.operation]
"01" = "照会"
[activity]
"照会" = 2
"#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::feed_lines(CONFIG, data));
