#![no_main]
//! A whole message through the MIME parser and the attachment inspector, and the same
//! bytes straight into the inspector under each file type it reads.
use mamori_sources::inspect::{ResidentIndex, inspect};
use mamori_sources::{AdapterContext, LineContext, SourceConfig, adapter};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let config: SourceConfig = toml::from_str("format = \"maildir\"\ninternal_domains = [\"city.example.lg.jp\"]").unwrap();
    let mut mail = adapter("fuzz", &config, &AdapterContext::default()).unwrap();
    let cx = LineContext { source: "fuzz", file_name: "fuzz.eml", line: 1 };
    if let Ok(Some(event)) = mail.parse(data, &cx) {
        event.validate().expect("adapters return valid events");
    }
    let residents = ResidentIndex::default();
    for name in ["a.csv", "a.tsv", "a.txt", "a.xlsx", "a.xlsb", "a.xls", "a.ods", "a.docx", "a.zip"] {
        let found = inspect(name, data, &residents);
        assert!(found.personal_rows <= found.rows, "{found:?}");
    }
});
