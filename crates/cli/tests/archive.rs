//! The archive (docs/archive.md): a town's sealed segments copied to Parquet in object
//! storage, a resident's disclosure answered from it in process and through Spark equal to
//! the embedded store's, and an archive tampered with refused. The Spark engine needs
//! `pyspark` and a JDK (CI installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_journal::{Journal, SqliteJournal};

mod common;
use common::{Running, mamori};

/// A simulated town imported into a store of small segments (2^8 events), so that a town
/// of a few weeks seals many, and judged once.
fn town_store(dir: &Path, seed: &str) -> (PathBuf, PathBuf) {
    let (town, store) = (dir.join("town"), dir.join("store"));
    mamori(&store, &["simulate", "--out", town.to_str().unwrap(), "--residents", "300", "--employees", "30", "--days", "20", "--seed", seed]);
    mamori(&store, &["init", store.to_str().unwrap(), "--segment-shift", "8"]);
    mamori(&store, &["master", "load", town.join("master").to_str().unwrap()]);
    // The resident registry last, so that the open segment past the archive holds record
    // accesses too.
    let mut logs = mamori_sim::LOGS.to_vec();
    logs.rotate_left(1);
    for (name, file) in logs {
        let path = town.join("logs").join(file);
        mamori(&store, &["import", "--source", name, "--config", town.join("mamori.toml").to_str().unwrap(), path.to_str().unwrap()]);
    }
    mamori(&store, &["detect", "--rules", town.join("detect.toml").to_str().unwrap()]);
    (town, store)
}

/// `mamori ARGS` that must fail; what it said on standard error.
fn refused(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("--data").arg(data).args(args).output().unwrap();
    assert!(!out.status.success(), "mamori {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Record accesses per resident, and the first event not in a sealed segment.
fn residents_by_segment(store: &Path) -> (Vec<(String, usize, usize)>, u64) {
    let j = SqliteJournal::open(store).unwrap();
    let sealed = j.sealed_segments().unwrap();
    let through = sealed.len() as u64 * 256;
    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for seg in 0..=sealed.len() as u64 {
        j.for_each_in_segment(seg, |row| -> Result<(), mamori_journal::JournalError> {
            if let Some(r) = row.resident {
                let c = counts.entry(r).or_default();
                if row.seq < through { c.0 += 1 } else { c.1 += 1 }
            }
            Ok(())
        })
        .unwrap();
    }
    (counts.into_iter().map(|(r, (a, b))| (r, a, b)).collect(), through)
}

fn disclosure(store: &Path, resident: &str, range: &[&str], archive: Option<(&Path, &str)>) -> serde_json::Value {
    let out = store.parent().unwrap().join("disclosure.json");
    let mut args = vec!["report", "disclosure", "--resident", resident, "--format", "json", "--out", out.to_str().unwrap()];
    args.extend(range);
    if let Some((dir, engine)) = archive {
        args.extend(["--archive", dir.to_str().unwrap(), "--tenant", "town", "--engine", engine]);
    }
    mamori(store, &args);
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// The entries without their proofs, which are of the tree each checkpoint signs.
fn entries_without_proofs(d: &serde_json::Value) -> Vec<serde_json::Value> {
    d["entries"].as_array().unwrap().iter().map(|e| {
        let mut e = e.clone();
        e.as_object_mut().unwrap().remove("proof");
        e
    }).collect()
}

#[test]
fn a_resident_disclosure_from_the_parquet_archive_in_process_and_through_spark_equals_the_embedded_store_with_the_same_proofs() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, store) = town_store(tmp.path(), "71");
    let archive = tmp.path().join("archive");
    let said = mamori(&store, &["archive", "export", "--to", archive.to_str().unwrap(), "--tenant", "town", "--en"]);
    assert!(said.starts_with("archived "), "{said}");
    let manifest = archive.join("tenant=town/manifest.json");
    let first: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let archived_size = first["checkpoint_size"].as_u64().unwrap();
    assert!(first["segments"].as_array().unwrap().len() >= 10, "a town of 20 days seals many segments of 256");
    // Partitioned Hive-style by tenant and JST day, as Spark and DataFusion discover it.
    let file = first["segments"][0]["files"][0]["path"].as_str().unwrap();
    assert!(file.starts_with("date=20") && file.ends_with(".parquet"), "{file}");

    // Again: nothing new to copy. A copy killed before its manifest is written leaves files
    // no reader sees; the next one writes the same files and the same manifest.
    let before = std::fs::read(&manifest).unwrap();
    assert!(mamori(&store, &["archive", "export", "--to", archive.to_str().unwrap(), "--tenant", "town", "--en"]).starts_with("archived 0 segments"));
    assert!(std::fs::read(&manifest).unwrap() == before, "an export with nothing to copy changes nothing");
    std::fs::remove_file(&manifest).unwrap();
    std::fs::remove_file(archive.join("tenant=town").join(file)).unwrap();
    mamori(&store, &["archive", "export", "--to", archive.to_str().unwrap(), "--tenant", "town"]);
    let (residents, through) = residents_by_segment(&store);
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let (first_segments, again_segments) = (first["segments"].as_array().unwrap(), again["segments"].as_array().unwrap());
    // The same files, byte for byte (their SHA-256); the store's own audit records since may have sealed one more.
    assert_eq!(&again_segments[..first_segments.len()], &first_segments[..]);
    assert_eq!(again_segments.len() as u64 * 256, through);
    assert!(again["checkpoint_size"].as_u64().unwrap() > archived_size, "the store grew by its own audit records meanwhile");
    assert!(mamori(&store, &["archive", "verify", "--archive", archive.to_str().unwrap(), "--tenant", "town", "--en"]).contains("are the log's"));
    let status = mamori(&store, &["archive", "status", "--archive", archive.to_str().unwrap(), "--tenant", "town"]);
    assert!(status.contains("テナント town") && status.contains("バイト"), "{status}");

    // A resident with entries in the archive and in the store's open segment, over all
    // time and over a few days in the middle (the date partitions pruned), and the most
    // accessed one.
    let both = residents.iter().filter(|(_, a, b)| *a > 0 && *b > 0).max_by_key(|(_, a, b)| a + b).expect("a resident on both sides of the archive's end");
    let most = residents.iter().max_by_key(|(_, a, b)| a + b).unwrap();
    let mut dates: Vec<&str> = again_segments.iter().flat_map(|s| s["files"].as_array().unwrap()).map(|f| f["date"].as_str().unwrap()).collect();
    dates.sort();
    dates.dedup();
    let (from, to) = (dates[dates.len() / 3], dates[dates.len() * 2 / 3]);
    let middle = ["--from", from, "--to", to];

    let checkpoint_size = again["checkpoint_size"].as_u64().unwrap();
    let j = SqliteJournal::open(&store).unwrap();
    for (resident, range, engines) in [(&both.0, &[][..], &["parquet", "spark"][..]), (&both.0, &middle[..], &["parquet"][..]), (&most.0, &[][..], &["parquet"][..])] {
        let embedded = disclosure(&store, resident, range, None);
        assert!(!embedded["entries"].as_array().unwrap().is_empty(), "resident {resident} {range:?}");
        for engine in engines {
            let from_archive = disclosure(&store, resident, range, Some((&archive, engine)));
            assert_eq!(entries_without_proofs(&from_archive), entries_without_proofs(&embedded), "resident {resident} {range:?} through {engine}");
            // Proven against the store's latest checkpoint, as the embedded disclosure is:
            // each proof is the store's own at that size.
            let size: u64 = from_archive["checkpoint"].as_str().unwrap().lines().nth(1).unwrap().parse().unwrap();
            assert!(size > checkpoint_size);
            for e in from_archive["entries"].as_array().unwrap() {
                let id = e["event_id"].as_u64().unwrap();
                let proof = j.prove_inclusion(id, Some(size)).unwrap();
                assert_eq!(e["proof"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect::<Vec<_>>(), proof.proof, "resident {resident}, event {id}, {engine}");
                assert_eq!(e["leaf_hash"].as_str().unwrap(), proof.leaf_hash);
            }
        }
    }
    // An employee's back-search from the archive, as from the store.
    let employees = std::fs::read_to_string(tmp.path().join("town/master/employees.csv")).unwrap();
    let out = tmp.path().join("employee.json");
    let mut compared = 0;
    for id in employees.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).take(8) {
        let search = |archive: &[&str]| -> serde_json::Value {
            mamori(&store, &[&["report", "employee", "--employee", id.as_str(), "--format", "json", "--out", out.to_str().unwrap()][..], archive].concat());
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
        };
        let embedded = search(&[]);
        if embedded["entries"].as_array().unwrap().is_empty() {
            continue;
        }
        let from_archive = search(&["--archive", archive.to_str().unwrap(), "--tenant", "town"]);
        assert_eq!(entries_without_proofs(&from_archive), entries_without_proofs(&embedded), "employee {id}");
        compared += 1;
    }
    assert!(compared > 0, "an employee with accesses to compare");
    let counts = mamori(&store, &["archive", "counts", "--archive", archive.to_str().unwrap()]);
    let total: u64 = counts.lines().skip(1).map(|l| l.split('\t').nth(2).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, through, "counts by tenant and day add up to the archived events");
    // Counted again from the rows by a Spark job, each by its own JST day: the same.
    assert_eq!(mamori(&store, &["archive", "counts", "--archive", archive.to_str().unwrap(), "--engine", "spark"]), counts, "Spark's counts");
    // The archive and the counts name no resident.
    assert!(!counts.contains(&both.0));
}

/// Rewrites one archive file with `change` applied to its rows, and the manifest to match,
/// as an insider with write access to the object store would.
fn rewrite(archive: &Path, rel: &str, fix_manifest: bool, change: impl Fn(&mut Vec<arrow_array::RecordBatch>)) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use sha2::Digest;
    let dir = archive.join("tenant=town");
    let bytes = bytes::Bytes::from(std::fs::read(dir.join(rel)).unwrap());
    let original = bytes.len();
    let mut batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().map(Result::unwrap).collect();
    change(&mut batches);
    // Padded in the footer's metadata to the original's size, as a careful attacker would,
    // so that the file still reads at the size the manifest gives.
    let encode = |pad: usize| {
        let props = parquet::file::properties::WriterProperties::builder().set_compression(parquet::basic::Compression::ZSTD(Default::default())).set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new("pad".into(), "x".repeat(pad))])).build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batches[0].schema(), Some(props)).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        out
    };
    let mut pad = original.saturating_sub(encode(0).len());
    let mut out = encode(pad);
    for _ in 0..4 {
        if out.len() == original {
            break;
        }
        pad = (pad + original).saturating_sub(out.len());
        out = encode(pad);
    }
    assert_eq!(out.len(), original, "the rewritten file padded to the original's size");
    std::fs::write(dir.join(rel), &out).unwrap();
    if !fix_manifest {
        return;
    }
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for s in m["segments"].as_array_mut().unwrap() {
        for f in s["files"].as_array_mut().unwrap() {
            if f["path"] == rel {
                f["sha256"] = mamori_journal::hex_bytes(&sha2::Sha256::digest(&out)).into();
                f["bytes"] = (out.len() as u64).into();
            }
        }
    }
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
}

#[test]
fn an_archive_tampered_with_is_refused_by_verify_and_by_disclosure() {
    use arrow_array::{Array, RecordBatch, StringArray};
    let tmp = tempfile::tempdir().unwrap();
    let (_, store) = town_store(tmp.path(), "72");
    let archive = tmp.path().join("archive");
    mamori(&store, &["archive", "export", "--to", archive.to_str().unwrap(), "--tenant", "town"]);
    let (residents, _) = residents_by_segment(&store);
    let resident = residents.iter().filter(|(_, a, _)| *a > 0).max_by_key(|(_, a, _)| *a).unwrap().0.clone();
    let arc = archive.to_str().unwrap();
    let dir = archive.join("tenant=town");
    let pristine = tmp.path().join("pristine");
    copy_dir(&dir, &pristine);
    let restore = || {
        std::fs::remove_dir_all(&dir).unwrap();
        copy_dir(&pristine, &dir);
    };
    // In English: the reasons asserted below are the archive's, and the language is not
    // what this test is about.
    let verify = ["--en", "archive", "verify", "--archive", arc, "--tenant", "town"];
    let disclose = ["--en", "report", "disclosure", "--resident", resident.as_str(), "--format", "json", "--archive", arc, "--tenant", "town"];

    // A tile every proof reads changed (level 1: above the leaves): the archive's tiles no
    // longer give the signed root. (Disclosures prove against the store's own tiles.)
    let top = dir.join("log/tile/8/1");
    let mut tile = top.clone();
    while tile.is_dir() {
        tile = std::fs::read_dir(&tile).unwrap().next().unwrap().unwrap().path();
    }
    let mut data = std::fs::read(&tile).unwrap();
    data[5] ^= 1;
    std::fs::write(&tile, &data).unwrap();
    assert!(refused(&store, &verify).contains("tiles"), "verify");
    restore();

    // The manifest changed in any way, by an insider who can write the object store: a
    // segment left out (hiding its events from every query), or a checkpoint swapped for
    // another store's. The store's log holds the digest of every manifest it exported.
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["segments"].as_array_mut().unwrap().pop();
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    assert!(refused(&store, &verify).contains("recorded"));
    assert!(refused(&store, &disclose).contains("recorded"));
    restore();
    let other = tmp.path().join("other");
    mamori(&other, &["init", other.to_str().unwrap(), "--origin", "mamori.local/log"]);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["checkpoint"] = mamori(&other, &["checkpoint"]).into();
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    assert!(refused(&store, &verify).contains("recorded"));
    assert!(refused(&store, &disclose).contains("recorded"));
    restore();

    // A file deleted from the object store.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let rel = m["segments"][1]["files"][0]["path"].as_str().unwrap().to_owned();
    std::fs::remove_file(dir.join(&rel)).unwrap();
    assert!(refused(&store, &verify).contains("not in the archive"));
    restore();

    // A row dropped and the manifest's digest for the file fixed: the manifest is no longer
    // the one exported.
    rewrite(&archive, &rel, true, |batches| {
        let b = batches[0].slice(1, batches[0].num_rows() - 1);
        batches[0] = b;
    });
    assert!(refused(&store, &verify).contains("recorded"));
    restore();

    // Another resident's access filed under this resident, the manifest left alone: the
    // query finds the row, and the disclosure refuses it, because its body names someone
    // else; verify sees the file is not the one listed.
    let target = resident.clone();
    rewrite(&archive, &rel, false, move |batches| {
        let b = &batches[0];
        let i = b.schema().index_of("resident").unwrap();
        let old = b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        let victim = (0..old.len()).find(|&k| old.is_valid(k) && old.value(k) != target).expect("a row of another resident");
        let moved: StringArray = (0..old.len()).map(|k| if k == victim { Some(target.as_str()) } else { old.is_valid(k).then(|| old.value(k)) }).collect();
        let mut columns = b.columns().to_vec();
        columns[i] = std::sync::Arc::new(moved);
        batches[0] = RecordBatch::try_new(b.schema(), columns).unwrap();
    });
    let said = refused(&store, &disclose);
    assert!(said.contains("which is not"), "disclosure: {said}");
    assert!(refused(&store, &verify).contains("SHA-256"));
    restore();

    // The resident's own access hidden from the search: its resident column changed in the
    // file (bloom filters and statistics follow), the manifest left alone. Every row the
    // search still returns proves; the store's index says one is missing.
    let files: Vec<String> = m["segments"].as_array().unwrap().iter().flat_map(|s| s["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned())).collect();
    let holding = files
        .iter()
        .find(|rel| {
            let bytes = bytes::Bytes::from(std::fs::read(dir.join(rel.as_str())).unwrap());
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().map(Result::unwrap).any(|b| {
                let column = b.column(b.schema().index_of("resident").unwrap()).as_any().downcast_ref::<StringArray>().unwrap().clone();
                (0..column.len()).any(|k| column.is_valid(k) && column.value(k) == resident)
            })
        })
        .expect("a file holding the resident's access")
        .clone();
    let target = resident.clone();
    rewrite(&archive, &holding, false, move |batches| {
        for b in batches.iter_mut() {
            let i = b.schema().index_of("resident").unwrap();
            let old = b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
            let hidden: StringArray = (0..old.len()).map(|k| old.is_valid(k).then(|| if old.value(k) == target { "000000000000" } else { old.value(k) })).collect();
            let mut columns = b.columns().to_vec();
            columns[i] = std::sync::Arc::new(hidden);
            *b = RecordBatch::try_new(b.schema(), columns).unwrap();
        }
    });
    let said = refused(&store, &disclose);
    assert!(said.contains("did not return event"), "disclosure: {said}");
    restore();
    mamori(&store, &verify);
    mamori(&store, &disclose);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_store_that_released_its_archived_segments_answers_every_query_as_the_whole_store_did() {
    use arrow_array::{Array, RecordBatch, StringArray};
    let tmp = tempfile::tempdir().unwrap();
    let (town, store) = town_store(tmp.path(), "73");
    let archive = tmp.path().join("archive");
    let arc = archive.to_str().unwrap();
    mamori(&store, &["archive", "export", "--to", arc, "--tenant", "town"]);
    let (residents, through) = residents_by_segment(&store);
    let both = residents.iter().filter(|(_, a, b)| *a > 0 && *b > 0).max_by_key(|(_, a, b)| a + b).expect("a resident on both sides of the archive's end").0.clone();
    let rules = town.join("detect.toml");
    let rules = rules.to_str().unwrap();
    let findings = |store: &Path| {
        mamori(store, &["detect", "--rebuild", "--rules", rules]);
        mamori(store, &["findings", "--json"])
    };
    let employee_search = |id: &str| -> serde_json::Value {
        let out = tmp.path().join("employee.json");
        mamori(&store, &["report", "employee", "--employee", id, "--format", "json", "--out", out.to_str().unwrap()]);
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let employees = std::fs::read_to_string(town.join("master/employees.csv")).unwrap();
    let employee = employees.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).find(|id| !employee_search(id)["entries"].as_array().unwrap().is_empty()).expect("an employee with accesses");
    let whole = (disclosure(&store, &both, &[], None), employee_search(&employee), findings(&store));

    let said = mamori(&store, &["archive", "release", "--archive", arc, "--tenant", "town", "--en"]);
    let sealed = through / 256;
    assert!(said.starts_with(&format!("released {sealed} segments ({through} events)")), "{said}");
    {
        let j = SqliteJournal::open(&store).unwrap();
        assert_eq!(j.released_segments().unwrap().len() as u64, sealed);
        assert!(j.kept_segments().unwrap() <= 2, "the store keeps only its open segment (and one its own audit records may have sealed since)");
        // Opened without its archive, a store says where its events went rather than answer short.
        let short = j.by_resident(&both, mamori_journal::TimeRange::ALL).unwrap_err().to_string();
        assert!(short.contains("released") && short.contains("opened without it"), "{short}");
    }
    assert!(mamori(&store, &["archive", "release", "--archive", arc, "--tenant", "town", "--en"]).starts_with("released 0 segments"), "releasing again releases nothing");

    // Every answer as the whole store gave it: the resident's disclosure, the employee's
    // back-search, detection rebuilt from the first event, and verify.
    let released = (disclosure(&store, &both, &[], None), employee_search(&employee), findings(&store));
    assert_eq!(entries_without_proofs(&released.0), entries_without_proofs(&whole.0));
    assert_eq!(entries_without_proofs(&released.1), entries_without_proofs(&whole.1));
    assert_eq!(released.2, whole.2, "findings rebuilt from the archive");
    mamori(&store, &["verify"]);
    mamori(&store, &["archive", "verify", "--archive", arc, "--tenant", "town"]);

    // One of the resident's accesses in a released segment's file given another event's
    // body, the manifest left alone (an insider who can write the object store): the store
    // checks each body against its own leaf, and the disclosure and verify refuse it.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(archive.join("tenant=town/manifest.json")).unwrap()).unwrap();
    let holds_resident = |rel: &str| -> bool {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let bytes = bytes::Bytes::from(std::fs::read(archive.join("tenant=town").join(rel)).unwrap());
        ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().map(Result::unwrap).any(|b| {
            let r = b.column_by_name("resident").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
            (0..r.len()).any(|k| r.is_valid(k) && r.value(k) == both)
        })
    };
    let (segment, rel) = m["segments"].as_array().unwrap().iter().flat_map(|s| s["files"].as_array().unwrap().iter().map(move |f| (s["id"].as_u64().unwrap(), f["path"].as_str().unwrap().to_owned()))).find(|(_, rel)| holds_resident(rel)).expect("a released file with the resident's accesses");
    let pristine = std::fs::read(archive.join("tenant=town").join(&rel)).unwrap();
    let target = both.clone();
    rewrite(&archive, &rel, false, move |batches| {
        let b = &batches[0];
        let residents = b.column(b.schema().index_of("resident").unwrap()).as_any().downcast_ref::<StringArray>().unwrap().clone();
        let i = b.schema().index_of("event").unwrap();
        let old = b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        let victim = (0..old.len()).find(|&k| residents.is_valid(k) && residents.value(k) == target).expect("the resident's row");
        let other = (victim + 1) % old.len();
        let changed: StringArray = (0..old.len()).map(|k| Some(old.value(if k == victim { other } else { k }))).collect();
        let mut columns = b.columns().to_vec();
        columns[i] = std::sync::Arc::new(changed);
        batches[0] = RecordBatch::try_new(b.schema(), columns).unwrap();
    });
    let out = tmp.path().join("d.json");
    let said = refused(&store, &["report", "disclosure", "--resident", both.as_str(), "--format", "json", "--out", out.to_str().unwrap()]);
    assert!(said.contains("is not the one the log holds"), "disclosure: {said}");
    let said = refused(&store, &["verify"]);
    assert!(said.contains(&format!("segment {segment}")), "verify: {said}");
    std::fs::write(archive.join("tenant=town").join(&rel), &pristine).unwrap();
    mamori(&store, &["verify"]);

    // The archive gone: the store says so, and answers nothing short.
    std::fs::rename(&archive, tmp.path().join("moved")).unwrap();
    let said = refused(&store, &["report", "disclosure", "--resident", both.as_str(), "--format", "json", "--out", out.to_str().unwrap()]);
    assert!(said.contains("reading the archive the store released segments to"), "{said}");
}

/// An S3 server on loopback: moto's (`pip install 'moto[server]'`; CI installs it), which
/// speaks the S3 API (signature v4, ranged reads, listing) as AWS and on-premises stores
/// do, with one bucket made through boto3.
fn s3_server(bucket: &str) -> (Running, Vec<(&'static str, String)>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Command::new("moto_server").args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("moto_server (pip install 'moto[server]')");
    let server = Running(server);
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = vec![("AWS_ENDPOINT", endpoint.clone()), ("AWS_ALLOW_HTTP", "true".into()), ("AWS_ACCESS_KEY_ID", "mamori-test".into()), ("AWS_SECRET_ACCESS_KEY", "mamori-test-secret".into()), ("AWS_REGION", "ap-northeast-1".into())];
    let make_bucket = format!("import boto3; boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='mamori-test', aws_secret_access_key='mamori-test-secret', region_name='ap-northeast-1').create_bucket(Bucket='{bucket}', CreateBucketConfiguration={{'LocationConstraint': 'ap-northeast-1'}})");
    let started = std::time::Instant::now();
    loop {
        let out = Command::new("python3").args(["-c", &make_bucket]).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "making the bucket: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    (server, env)
}

/// `mamori ARGS` with `env` set, which must succeed.
fn mamori_with(data: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("--data").arg(data).args(args).envs(env.iter().map(|(k, v)| (*k, v.as_str()))).output().unwrap();
    assert!(out.status.success(), "mamori {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_town_archived_to_s3_is_verified_released_and_disclosed_from_there_as_from_the_whole_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, store) = town_store(tmp.path(), "74");
    let (server, env) = s3_server("mamori-archive");
    let location = "s3://mamori-archive/prefecture";
    let said = mamori_with(&store, &env, &["archive", "export", "--to", location, "--tenant", "town", "--en"]);
    assert!(said.starts_with("archived ") && !said.starts_with("archived 0 "), "{said}");
    assert!(mamori_with(&store, &env, &["archive", "export", "--to", location, "--tenant", "town", "--en"]).starts_with("archived 0 segments"));
    assert!(mamori_with(&store, &env, &["archive", "verify", "--archive", location, "--tenant", "town", "--en"]).contains("are the log's"));
    let (residents, through) = residents_by_segment(&store);
    let counts = mamori_with(&store, &env, &["archive", "counts", "--archive", location]);
    let total: u64 = counts.lines().skip(1).map(|l| l.split('\t').nth(2).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, through, "counts listed from the bucket");

    let both = residents.iter().filter(|(_, a, b)| *a > 0 && *b > 0).max_by_key(|(_, a, b)| a + b).unwrap().0.clone();
    let out = tmp.path().join("d.json");
    let disclose = |extra: &[&str]| -> serde_json::Value {
        mamori_with(&store, &env, &[&["report", "disclosure", "--resident", both.as_str(), "--format", "json", "--out", out.to_str().unwrap()][..], extra].concat());
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let whole = disclose(&[]);
    assert_eq!(entries_without_proofs(&disclose(&["--archive", location, "--tenant", "town"])), entries_without_proofs(&whole), "read from the bucket in process");
    assert!(mamori_with(&store, &env, &["archive", "release", "--archive", location, "--tenant", "town", "--en"]).starts_with(&format!("released {} segments", through / 256)));
    assert_eq!(entries_without_proofs(&disclose(&[])), entries_without_proofs(&whole), "the store reads its released segments from the bucket");
    assert!(mamori_with(&store, &env, &["verify"]).starts_with("検証 OK:"));
    // The bucket out of reach: the store says so rather than answer short, and still takes
    // and verifies nothing it cannot read.
    drop(server);
    let gone = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("--data").arg(&store).args(["report", "disclosure", "--resident", both.as_str(), "--format", "json", "--out", out.to_str().unwrap()]).envs(env.iter().map(|(k, v)| (*k, v.as_str()))).output().unwrap();
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(!gone.status.success() && said.contains("reading the archive the store released segments to (s3://mamori-archive/prefecture"), "{said}");
}
