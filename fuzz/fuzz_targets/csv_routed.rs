#![no_main]
//! One endpoint export, several kinds of row: the CSV mapping routing each row to a class by
//! a coded field, with outcomes, page counts and device fields that only some classes have.
#[path = "common.rs"]
mod common;

const CONFIG: &str = r#"
format = "csv"
encoding = "auto"
accounts = "windows"
[columns]
datetime = "日時"
host = "コンピュータ名"
actor = "ログオンユーザー"
operation = "操作種別"
device_name = "デバイス名"
serial = "シリアル番号"
path = "ファイルパス"
pages = "ページ数"
status = "結果"
[codes.operation]
"C" = "copy-to-device"
"D" = "connect"
"P" = "print"
"O" = "open"
[route]
field = "operation"
classes = { "copy-to-device" = "usb", "connect" = "usb", "print" = "print", "open" = "file" }
[activity]
"copy-to-device" = 3
"connect" = 1
"open" = 2
[outcome]
"許可" = "success"
"遮断" = "failure"
"#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::feed_lines(CONFIG, data));
