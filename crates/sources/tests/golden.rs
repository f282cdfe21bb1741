//! Golden files: every directory under `tests/data/sources/` holds a raw sample in a
//! source's real format (`input.*`), its configuration (`source.toml`) and what mamori
//! must make of each line (`expected.txt`). Run with `UPDATE_GOLDEN=1` to rewrite the
//! expected files after checking the difference by eye.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use mamori_sources::{AdapterContext, Framing, LineContext, ResidentIndex, SourceConfig, adapter};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sources");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn run(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_str().unwrap();
    let config: SourceConfig = toml::from_str(&std::fs::read_to_string(dir.join("source.toml")).unwrap()).unwrap();
    let mut context = AdapterContext::default();
    if let Ok(csv) = std::fs::read_to_string(dir.join("residents.csv")) {
        let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
        context.residents = std::sync::Arc::new(ResidentIndex::new(
            rows.iter().map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].parse().unwrap())),
        ));
    }
    let mut adapter = adapter(name, &config, &context).unwrap();
    let input = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy().starts_with("input")) && p.extension().is_some_and(|e| e != "py"))
        .expect("an input.* file");
    let file_name = input.file_name().unwrap().to_str().unwrap().to_owned();
    let bytes = std::fs::read(&input).unwrap();
    let mut out = String::new();
    if adapter.framing() == Framing::Mbox {
        // Messages start at a `From ` line after a blank line; numbered by their first line.
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with(b"From ") && (i == 0 || lines[i - 1].is_empty()) {
                records.push((i as u64 + 1, Vec::new()));
            }
            if let Some((_, r)) = records.last_mut() {
                r.extend_from_slice(line);
                r.push(b'\n');
            }
        }
        for (number, record) in records {
            let cx = LineContext { source: name, file_name: &file_name, line: number };
            match adapter.parse(&record, &cx) {
                Ok(Some(event)) => writeln!(out, "{number} {}", String::from_utf8(event.canonical_bytes()).unwrap()).unwrap(),
                Ok(None) => writeln!(out, "{number} ignored").unwrap(),
                Err(reason) => writeln!(out, "{number} rejected: {reason}").unwrap(),
            }
        }
        return out;
    }
    let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").unwrap_or(&bytes).split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let number = i as u64 + 1;
        if number == 1 && adapter.has_header() {
            match adapter.header(line, &file_name) {
                Ok(()) => writeln!(out, "{number} header").unwrap(),
                Err(e) => writeln!(out, "{number} header rejected: {e}").unwrap(),
            }
            continue;
        }
        let cx = LineContext { source: name, file_name: &file_name, line: number };
        match adapter.parse(line, &cx) {
            Ok(Some(event)) => writeln!(out, "{number} {}", String::from_utf8(event.canonical_bytes()).unwrap()).unwrap(),
            Ok(None) => writeln!(out, "{number} ignored").unwrap(),
            Err(reason) => writeln!(out, "{number} rejected: {reason}").unwrap(),
        }
    }
    out
}

#[test]
fn every_adapter_turns_its_raw_sample_into_the_expected_events() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for dir in cases() {
        let got = run(&dir);
        let expected_path = dir.join("expected.txt");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{}:\n--- expected\n{expected}--- got\n{got}", dir.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
