//! A digest of the judging logic's source (this crate's, enrichment's and the Sigma
//! bridge's), so that a store judged by one build is judged again from scratch by a
//! build that judges differently: incremental detection must equal detection from scratch,
//! and saved state and findings from other logic would not.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dirs = [here.join("src"), here.join("../enrich/src"), here.join("../sigma/src")];
    let mut all = Vec::new();
    for dir in &dirs {
        println!("cargo:rerun-if-changed={}", dir.display());
        files(dir, &mut all);
    }
    all.sort();
    // SipHash with fixed keys: the same sources give the same digest on every machine
    // built with the same toolchain, which is all a fingerprint needs.
    let mut h = std::hash::DefaultHasher::new();
    for path in &all {
        path.strip_prefix(&here).unwrap_or(path).hash(&mut h);
        std::fs::read(path).expect("a source file").hash(&mut h);
    }
    println!("cargo:rustc-env=MAMORI_DETECT_LOGIC={:016x}", h.finish());
}
