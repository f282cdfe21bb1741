#![no_main]
//! Record accesses whose subject may be a resident, another system's key (a permit number)
//! or a name and birth date in an era: the keys of people who are not residents.
#[path = "common.rs"]
mod common;

const CONFIG: &str = r#"
format = "csv"
encoding = "auto"
class = "record"
subject_kind = "permit"
[columns]
date = "受付日"
time = "時刻"
actor = "職員コード"
host = "端末"
resident = "宛名番号"
subject = "許可番号"
subject_name = "氏名"
subject_birth = "生年月日"
operation = "処理"
[activity]
"登録" = 6
"照会" = 1
"#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::feed_lines(CONFIG, data));
