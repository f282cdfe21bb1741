//! The journal through its public interface, on a real SQLite file with tiny segments so
//! that every path crosses segment and tile boundaries.

use mamori_journal::{
    Batch, DeadLetter, Journal, JournalError, PreparedEvent, SqliteJournal, StreamCursor, TimeRange, check_checkpoint,
    check_consistency, check_inclusion, leaf_hash, unhex,
};
use mamori_model::Event;

fn event(i: u64) -> Event {
    keyed_event(i, 5, 11)
}

/// Event `i` a minute after the one before, by one of `accounts` accounts; two in three
/// name one of `residents` residents.
fn keyed_event(i: u64, accounts: u64, residents: u64) -> Event {
    let json = serde_json::json!({
        "class_uid": if i.is_multiple_of(3) { 3002 } else { 6005 },
        "activity_id": 1,
        "time": 1_715_130_000_000i64 + (i as i64) * 60_000,
        "actor": {"user": {"uid": format!("op{:02}", i % accounts)}},
        "metadata": {"product": "juki"},
        "unmapped": if i.is_multiple_of(3) { serde_json::json!({}) } else { serde_json::json!({"resident": {"uid": format!("R{}", i % residents)}}) },
    });
    Event::from_json(json.to_string().as_bytes()).unwrap()
}

fn store_with(n: u64, batch: u64) -> (tempfile::TempDir, SqliteJournal) {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::init(dir.path(), "mamori.test/log", 8, &dir.path().join("checkpoint.key")).unwrap();
    let mut i = 0;
    while i < n {
        let events: Vec<_> = (i..(i + batch).min(n)).map(|k| PreparedEvent::new(&event(k))).collect();
        j.append(Batch { events: &events, ..Default::default() }).unwrap();
        i += batch;
    }
    (dir, j)
}

#[test]
fn appended_events_are_found_by_id_resident_actor_and_time_across_segments() {
    let (_dir, j) = store_with(1000, 170);
    assert_eq!(j.size().unwrap(), 1000);
    let e = j.get(777).unwrap().unwrap();
    assert_eq!(e.event().unwrap(), event(777));
    assert!(j.get(1000).unwrap().is_none());

    let r7: Vec<u64> = j.by_resident("R7", TimeRange::ALL).unwrap().iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (0..1000).filter(|i| i % 3 != 0 && i % 11 == 7).collect();
    assert_eq!(r7, expected);

    let t0 = 1_715_130_000_000i64;
    let window = TimeRange { from: t0 + 300 * 60_000, to: t0 + 600 * 60_000 };
    let op2: Vec<u64> = j.by_actor("op02", window).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(op2, (300..600).filter(|i| i % 5 == 2).collect::<Vec<_>>());

    let first = j.by_time(window, 10).unwrap();
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), (300..310).collect::<Vec<_>>());
    assert!(j.by_resident("nobody", TimeRange::ALL).unwrap().is_empty());
}

#[test]
fn reopened_store_continues_the_same_tree_and_verifies() {
    let (dir, j) = store_with(600, 100);
    let root_600 = j.latest_checkpoint().unwrap().unwrap().root;
    drop(j);
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    let more: Vec<_> = (600..900).map(|k| PreparedEvent::new(&event(k))).collect();
    let receipt = j.append(Batch { events: &more, ..Default::default() }).unwrap();
    assert_eq!((receipt.first_seq, receipt.tree_size), (600, 900));

    let (_d2, fresh) = store_with(900, 900);
    assert_eq!(fresh.latest_checkpoint().unwrap().unwrap().root, receipt.root, "same leaves, same root");
    let report = j.verify(&mut |_, _| {}).unwrap().unwrap();
    assert_eq!(report.events, 900);
    let proof = j.prove_consistency(600, 900).unwrap();
    let hashes: Vec<_> = proof.proof.iter().map(|h| unhex(h).unwrap()).collect();
    check_consistency(&hashes, 900, receipt.root, 600, root_600).unwrap();
}

#[test]
fn inclusion_proofs_verify_against_the_signed_checkpoint_and_fail_for_a_wrong_leaf() {
    let (_dir, j) = store_with(700, 64);
    let vkey = j.verifier_key().to_owned();
    for seq in [0u64, 1, 255, 256, 511, 699] {
        let p = j.prove_inclusion(seq, None).unwrap();
        let cp = check_checkpoint(&p.checkpoint, &vkey).unwrap();
        let hashes: Vec<_> = p.proof.iter().map(|h| unhex(h).unwrap()).collect();
        let leaf = leaf_hash(p.event.as_bytes());
        check_inclusion(&hashes, cp.size, cp.root, seq, leaf).unwrap();
        let other = leaf_hash(j.get((seq + 1) % 700).unwrap().unwrap().body.as_slice());
        assert!(check_inclusion(&hashes, cp.size, cp.root, seq, other).is_err(), "wrong leaf must fail");
        assert!(check_inclusion(&hashes, cp.size, cp.root, (seq + 1) % 700, leaf).is_err(), "wrong index must fail");
    }
    // Proofs against an older signed size work too.
    let p = j.prove_inclusion(10, Some(64)).unwrap();
    assert_eq!(p.tree_size, 64);
    assert!(j.prove_inclusion(10, Some(65)).unwrap_err().to_string().contains("signed sizes nearby: 64, 128"));
}

#[test]
fn proofs_read_tiles_middle_rows_a_store_without_them_still_proves_and_verify_catches_a_forged_row() {
    let (dir, j) = store_with(700, 64);
    let vkey = j.verifier_key().to_owned();
    let proofs = |j: &SqliteJournal| -> Vec<Vec<String>> { [0u64, 100, 255, 256, 600].iter().map(|&s| j.prove_inclusion(s, None).unwrap().proof).collect() };
    let with_rows = proofs(&j);
    let p = j.prove_inclusion(100, None).unwrap();
    let cp = check_checkpoint(&p.checkpoint, &vkey).unwrap();
    let hashes: Vec<_> = p.proof.iter().map(|h| unhex(h).unwrap()).collect();
    check_inclusion(&hashes, cp.size, cp.root, 100, leaf_hash(p.event.as_bytes())).unwrap();
    drop(j);
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    assert_eq!(conn.query_row("SELECT count(*) FROM tiles WHERE mid IS NOT NULL", [], |r| r.get::<_, i64>(0)).unwrap(), 2, "the two full tiles of 700 events");

    // A store written before tiles had middle rows gives the same proofs from their data.
    conn.execute("UPDATE tiles SET mid = NULL", []).unwrap();
    let j = SqliteJournal::open(dir.path()).unwrap();
    assert_eq!(proofs(&j), with_rows);
    assert!(verify_failure(&j).is_none());
    drop(j);

    // A forged middle row: proofs through it fail their check, and verify names the tile.
    let forged: Vec<u8> = (0..512).map(|i| i as u8).collect();
    conn.execute("UPDATE tiles SET mid = ?1 WHERE id = 1", [forged]).unwrap();
    let j = SqliteJournal::open(dir.path()).unwrap();
    let p = j.prove_inclusion(300, None).unwrap();
    let hashes: Vec<_> = p.proof.iter().map(|h| unhex(h).unwrap()).collect();
    assert!(check_inclusion(&hashes, cp.size, cp.root, 300, leaf_hash(p.event.as_bytes())).is_err());
    assert_eq!(verify_failure(&j).as_deref(), Some("verification failed: tile 0/1: its middle row does not match its hashes"));
}

#[test]
fn a_writer_refuses_to_grow_a_tree_whose_stored_tiles_do_not_give_the_signed_root() {
    let (dir, j) = store_with(700, 64);
    // A disclosure first: proofs keep right-edge hashes in memory; the writer must not use them.
    j.prove_inclusion(650, None).unwrap();
    drop(j);
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    // The partial level-0 tile (events 512..700) with one of its hashes changed.
    let mut data: Vec<u8> = conn.query_row("SELECT data FROM tiles WHERE id = 2", [], |r| r.get(0)).unwrap();
    data[40] ^= 1;
    conn.execute("UPDATE tiles SET data = ?1 WHERE id = 2", [data]).unwrap();
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    let more: Vec<_> = (700..710).map(|k| PreparedEvent::new(&event(k))).collect();
    let err = j.append(Batch { events: &more, ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("do not give the root signed at size 700"), "{err}");
    assert_eq!(j.latest_checkpoint().unwrap().unwrap().size, 700, "nothing signed");
}

#[test]
fn a_read_snapshot_that_panics_leaves_the_connection_free_to_append() {
    let (_dir, mut j) = store_with(100, 100);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), JournalError> = j.read_snapshot(|| panic!("a report's bug"));
    }));
    assert!(caught.is_err());
    let more: Vec<_> = (100..110).map(|k| PreparedEvent::new(&event(k))).collect();
    assert_eq!(j.append(Batch { events: &more, ..Default::default() }).unwrap().tree_size, 110);
}

#[test]
fn a_batch_commits_events_dead_letters_and_cursor_together() {
    let (_dir, mut j) = store_with(10, 10);
    let events: Vec<_> = (10..20).map(|k| PreparedEvent::new(&event(k))).collect();
    let dead = [DeadLetter {
        source: "juki".into(),
        file: "a.ndjson".into(),
        line: 7,
        reason: "bad".into(),
        raw: vec![b'x'; 100_000],
    }];
    let cursor =
        StreamCursor { stream: "s".into(), offset: 99, line: 20, prefix_sha256: [1; 32], complete_sha256: Some([2; 32]) };
    j.append(Batch { events: &events, dead_letters: &dead, cursor: Some(&cursor), ..Default::default() }).unwrap();
    assert_eq!(j.cursor("s").unwrap().unwrap(), cursor);
    assert_eq!(j.streams_with_content(&[2; 32]).unwrap(), ["s"]);
    let letters = j.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].raw.len(), 64 * 1024, "raw kept up to the bound");
    // The batch's events, then the record of its dead letters, under the same checkpoint.
    assert_eq!(j.size().unwrap(), 21);
    let record = j.get(20).unwrap().unwrap().event().unwrap();
    assert_eq!(record.unmapped.operation.as_deref(), Some(mamori_journal::REJECTED_OPERATION));
    assert_eq!(record.unmapped.extra["dead_letters"]["count"], 1);
}

/// A refused line is evidence too (an attacker's malformed access may be the only trace
/// of it): the dead letters are counted and hashed by an event of the log, so deleting,
/// changing or adding one is caught by `verify`, like a changed event.
#[test]
fn dead_letters_deleted_changed_or_added_behind_the_log_fail_verify() {
    let dir = tempfile::tempdir().unwrap();
    let letter = |line: u64| DeadLetter { source: "juki".into(), file: "a.csv".into(), line, reason: "no 宛名番号".into(), raw: "0101,,照会".as_bytes().to_vec() };
    {
        let mut j = SqliteJournal::init(dir.path(), "mamori.test/log", 8, &dir.path().join("checkpoint.key")).unwrap();
        let events: Vec<_> = (0..5).map(|k| PreparedEvent::new(&event(k))).collect();
        j.append(Batch { events: &events, dead_letters: &[letter(3), letter(9)], ..Default::default() }).unwrap();
        // A batch of nothing but refused lines is recorded as well.
        j.append(Batch { dead_letters: &[letter(12)], ..Default::default() }).unwrap();
        assert_eq!(j.size().unwrap(), 7);
        assert!(j.verify(&mut |_, _| {}).unwrap().is_ok());
    }
    let cases = [
        ("DELETE FROM dead_letters WHERE line = 9", "were changed"),
        ("DELETE FROM dead_letters WHERE line = 12", "were removed"),
        ("UPDATE dead_letters SET reason = 'ok' WHERE line = 3", "were changed"),
        ("UPDATE dead_letters SET record_seq = NULL WHERE line = 12", "in no `import.rejected` record"),
        ("INSERT INTO dead_letters(source, file, line, reason, raw, record_seq) VALUES ('juki', 'b.csv', 1, 'x', x'00', 2)", "not an `import.rejected` record"),
    ];
    for (tamper, said) in cases {
        // Each on a copy of the untouched store.
        let copy = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), copy.path().join(f.file_name())).unwrap();
        }
        rusqlite::Connection::open(copy.path().join("journal.db")).unwrap().execute_batch(tamper).unwrap();
        let verdict = SqliteJournal::open(copy.path()).unwrap().verify(&mut |_, _| {}).unwrap();
        let reason = verdict.expect_err(tamper).reason;
        assert!(reason.contains(said), "{tamper}: {reason}");
    }
}

#[test]
fn a_store_without_its_private_key_reads_but_refuses_to_append() {
    let (dir, j) = store_with(5, 5);
    drop(j);
    std::fs::remove_file(dir.path().join("checkpoint.key")).unwrap();
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    assert_eq!(j.size().unwrap(), 5);
    assert!(j.verify(&mut |_, _| {}).unwrap().is_ok());
    let events = [PreparedEvent::new(&event(5))];
    let err = j.append(Batch { events: &events, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn init_refuses_an_existing_store() {
    let (dir, _j) = store_with(1, 1);
    let err = SqliteJournal::init(dir.path(), "mamori.test/log", 8, &dir.path().join("checkpoint.key")).err().unwrap();
    assert!(err.to_string().contains("already holds"), "{err}");
}

/// The sources page's per-day counts are kept as events are appended (JST days), and a
/// store made before they were kept gets them counted at its first open.
#[test]
fn events_are_counted_per_source_and_jst_day_and_old_stores_are_counted_at_open() {
    // From 2024-05-08 10:00 JST, one a minute: 840 that day, the rest the next.
    let (dir, j) = store_with(2000, 300);
    let day = |s: &str| chrono_day(s);
    let want = vec![("juki".to_owned(), day("2024-05-08"), 840), ("juki".to_owned(), day("2024-05-09"), 1160)];
    assert_eq!(j.source_days().unwrap(), want);
    drop(j);
    let db = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    db.execute_batch("DROP TABLE source_days").unwrap();
    drop(db);
    let j = SqliteJournal::open(dir.path()).unwrap();
    assert_eq!(j.source_days().unwrap(), want, "counted again from the events");
}

fn chrono_day(s: &str) -> i64 {
    let (y, m, d): (i64, i64, i64) = (s[0..4].parse().unwrap(), s[5..7].parse().unwrap(), s[8..10].parse().unwrap());
    // Days since 1970-01-01 (civil calendar, Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A detection run's own record, as the app makes it: mamori's action, the digests.
fn detection_record(digests: serde_json::Value) -> PreparedEvent {
    let json = serde_json::json!({
        "class_uid": 6003, "activity_id": 1, "time": 1_715_200_000_000i64,
        "actor": {"user": {"uid": "mamori"}}, "metadata": {"product": "mamori"},
        "unmapped": {"operation": "detect", "detection": digests},
    });
    PreparedEvent::new(&Event::from_json(json.to_string().as_bytes()).unwrap())
}

fn verdicts(seqs: std::ops::Range<u64>, word: &str) -> Vec<(u64, Option<String>, Option<String>)> {
    seqs.map(|s| (s, Some(format!("op{:02}", s % 5)), (s % 7 != 0).then(|| format!("{word}{s}")))).collect()
}

fn verify_failure(j: &SqliteJournal) -> Option<String> {
    j.verify(&mut |_, _| {}).unwrap().err().map(|f| f.to_string())
}

#[test]
fn explanations_kept_by_chunk_verify_after_streaming_steps_and_a_changed_verdict_is_caught() {
    let (dir, mut j) = store_with(10_000, 1000);
    // A run from scratch, then steps across chunk boundaries (4,096 ids), some saving no
    // state, one judging earlier events again (a restart from an older saved state).
    j.commit_detection(&[], &verdicts(0..3000, "case:"), true, Some((2999, 0, "f", "{}")), &detection_record).unwrap();
    j.commit_detection(&[("x".into(), "{}".into())], &verdicts(3000..5000, "case:"), false, None, &detection_record).unwrap();
    j.commit_detection(&[], &verdicts(4000..9000, "visit:"), false, None, &detection_record).unwrap();
    j.commit_detection(&[], &verdicts(9000..10_000, "case:"), false, Some((9999, 0, "f", "{\"n\":1}")), &detection_record).unwrap();
    assert_eq!(verify_failure(&j), None);
    drop(j);
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    conn.execute("UPDATE explanations SET explanation = 'case:forged' WHERE seq = 8191", []).unwrap();
    let j = SqliteJournal::open(dir.path()).unwrap();
    let failure = verify_failure(&j).expect("a changed verdict is caught");
    assert!(failure.contains("`explanations` table differs"), "{failure}");
}

#[test]
fn a_store_whose_last_run_recorded_one_flat_digest_still_verifies_and_is_chunked_at_its_next_run() {
    use sha2::Digest;
    let (dir, mut j) = store_with(6000, 1000);
    let rows = verdicts(0..6000, "case:");
    // The digest runs recorded before the explanations were chunked: every row in id order.
    let mut h = sha2::Sha256::new();
    for (seq, employee, explanation) in &rows {
        h.update([0x02]);
        h.update((*seq as i64).to_be_bytes());
        h.update([0x1f]);
        for text in [employee, explanation] {
            match text {
                Some(t) => {
                    h.update([0x01]);
                    h.update(t.as_bytes());
                }
                None => h.update([0x00]),
            }
            h.update([0x1f]);
        }
        h.update([0x1e]);
    }
    let flat = serde_json::json!({"rows": rows.len(), "sha256": h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()});
    let as_before = |mut digests: serde_json::Value| {
        digests["explanations"] = flat.clone();
        detection_record(digests)
    };
    j.commit_detection(&[], &rows, true, Some((5999, 0, "f", "{}")), &as_before).unwrap();
    drop(j);
    // A store made before the chunks were kept has neither the table's rows nor the mark.
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    conn.execute_batch("DELETE FROM explanation_chunks; DELETE FROM meta WHERE key = 'explanation_chunks';").unwrap();
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    assert_eq!(verify_failure(&j), None, "the flat digest is recomputed as recorded");
    let more: Vec<_> = (6000..6100).map(|k| PreparedEvent::new(&event(k))).collect();
    j.append(Batch { events: &more, ..Default::default() }).unwrap();
    j.commit_detection(&[], &verdicts(6000..6100, "case:"), false, None, &detection_record).unwrap();
    assert_eq!(verify_failure(&j), None, "the next run digests every chunk, old rows included");
}

#[test]
fn two_writers_appending_in_turn_share_one_key_dictionary() {
    let (dir, mut first) = store_with(10, 10);
    let mut second = SqliteJournal::open(dir.path()).unwrap();
    let resident = |i: u64, who: &str| {
        let json = serde_json::json!({"class_uid": 6005, "activity_id": 1, "time": 1_715_130_000_000i64 + i as i64,
            "actor": {"user": {"uid": "op01"}}, "metadata": {"product": "juki"}, "unmapped": {"resident": {"uid": who}}});
        PreparedEvent::new(&Event::from_json(json.to_string().as_bytes()).unwrap())
    };
    // Each writer's dictionary is read once; a key the other added since is found, not
    // added twice, and one neither knew is added by whichever writes first.
    first.append(Batch { events: &[resident(0, "NEW-A")], ..Default::default() }).unwrap();
    second.append(Batch { events: &[resident(1, "NEW-A"), resident(2, "NEW-B")], ..Default::default() }).unwrap();
    first.append(Batch { events: &[resident(3, "NEW-B"), resident(4, "NEW-A")], ..Default::default() }).unwrap();
    second.append(Batch { events: &[resident(5, "NEW-B")], ..Default::default() }).unwrap();
    for (who, seqs) in [("NEW-A", vec![10, 11, 14]), ("NEW-B", vec![12, 13, 15])] {
        let found: Vec<u64> = first.by_resident(who, TimeRange::ALL).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(found, seqs, "{who}");
    }
    assert_eq!(verify_failure(&first), None);
}

/// Master rows read by key are kept between calls (a disclosure asks for the same staff's
/// rows as the one before): a load by another connection must show at the next call.
#[test]
fn master_rows_by_key_come_in_load_order_once_each_and_a_load_elsewhere_shows_at_the_next_read() {
    let (dir, mut j) = store_with(3, 3);
    let load = |rows: &[(&str, &[&str])]| {
        [mamori_journal::MasterKind { kind: "employees".into(), rows: rows.iter().map(|(body, keys)| (body.to_string(), keys.iter().map(|k| k.to_string()).collect())).collect() }]
    };
    let first = load(&[(r#"{"id":"E1"}"#, &["E1", "D1"]), (r#"{"id":"E2"}"#, &["E2", "D1"]), (r#"{"id":"E3"}"#, &["E3"])]);
    j.append(Batch { events: &[PreparedEvent::new(&event(3))], master: &first, ..Default::default() }).unwrap();
    let reader = SqliteJournal::open(dir.path()).unwrap();
    let by = |keys: &[&str]| reader.master_rows_by_key("employees", &keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()).unwrap().unwrap();
    assert_eq!(by(&["E3", "D1", "E1"]), [r#"{"id":"E1"}"#, r#"{"id":"E2"}"#, r#"{"id":"E3"}"#]);
    assert_eq!(by(&["E2", "nobody"]), [r#"{"id":"E2"}"#]);
    let second = load(&[(r#"{"id":"E2","moved":true}"#, &["E2"])]);
    j.append(Batch { events: &[PreparedEvent::new(&event(4))], master: &second, ..Default::default() }).unwrap();
    assert_eq!(by(&["E2", "E1"]), [r#"{"id":"E2","moved":true}"#]);
    assert_eq!(by(&["D1"]), Vec::<String>::new());
}

#[test]
fn a_master_load_moves_the_master_generation_and_other_appends_do_not() {
    let (_dir, mut j) = store_with(3, 3);
    assert_eq!(j.master_generation().unwrap(), None);
    let kinds = [mamori_journal::MasterKind { kind: "residents".into(), rows: vec![("{}".into(), vec!["R1".into()])] }];
    let receipt = j.append(Batch { events: &[PreparedEvent::new(&event(3))], master: &kinds, ..Default::default() }).unwrap();
    assert_eq!(j.master_generation().unwrap(), Some(receipt.first_seq));
    j.append(Batch { events: &[PreparedEvent::new(&event(4))], ..Default::default() }).unwrap();
    assert_eq!(j.master_generation().unwrap(), Some(receipt.first_seq));
}

/// Two writers importing the same stream at once (a cluster worker that outlived its lease
/// beside the next holder): both read the cursor before writing, and only the first batch
/// from that place commits; the second is refused whole, so no line is stored twice.
#[test]
fn a_batch_whose_stream_another_writer_moved_meanwhile_is_refused_whole() {
    let (dir, mut first) = store_with(2, 2);
    let mut second = SqliteJournal::open(dir.path()).unwrap();
    let cursor = |offset: u64| StreamCursor { stream: "cluster:juki:batch-7".into(), offset, line: offset / 10, prefix_sha256: [offset as u8; 32], complete_sha256: None };
    let (a, b) = ([PreparedEvent::new(&event(2))], [PreparedEvent::new(&event(3))]);
    first.append(Batch { events: &a, cursor: Some(&cursor(100)), cursor_from: Some(0), ..Default::default() }).unwrap();
    let refused = second.append(Batch { events: &b, cursor: Some(&cursor(100)), cursor_from: Some(0), ..Default::default() });
    assert!(matches!(refused, Err(JournalError::Conflict(_))), "{refused:?}");
    assert_eq!(second.size().unwrap(), 3, "nothing of the refused batch is stored");
    // From where the stream stands, the next batch goes on.
    second.append(Batch { events: &b, cursor: Some(&cursor(200)), cursor_from: Some(100), ..Default::default() }).unwrap();
    assert_eq!(first.cursor("cluster:juki:batch-7").unwrap().unwrap().offset, 200);
    assert_eq!(verify_failure(&first), None);
}

#[test]
fn a_read_snapshot_does_not_see_an_event_appended_meanwhile_to_a_day_it_already_read() {
    // Detection reads a day at a time; an event of an early day appended while a later
    // day was read would otherwise be skipped for good (its id below the last one read).
    let (dir, reader) = store_with(20, 20);
    let mut writer = SqliteJournal::open(dir.path()).unwrap();
    let early = TimeRange { from: 0, to: 1_715_130_000_000 + 10 * 60_000 };
    let late = TimeRange { from: early.to, to: i64::MAX };
    let seen = reader
        .read_snapshot(|| -> Result<_, JournalError> {
            let first = reader.by_time(early, usize::MAX)?.len();
            writer.append(Batch { events: &[PreparedEvent::new(&event(0))], ..Default::default() }).unwrap();
            let rest = reader.by_time(late, usize::MAX)?.len();
            Ok((first, rest, reader.by_time(early, usize::MAX)?.len()))
        })
        .unwrap();
    assert_eq!(seen, (10, 10, 10), "the snapshot holds from its first read");
    assert_eq!(reader.by_time(early, usize::MAX).unwrap().len(), 11, "after it, the appended event is seen");
    // An error inside ends the read transaction too.
    assert!(reader.read_snapshot(|| -> Result<(), JournalError> { Err(JournalError::Usage("stop".into())) }).is_err());
    assert_eq!(reader.by_time(TimeRange::ALL, usize::MAX).unwrap().len(), 21);
}

/// Many residents and accounts, so that runs are built in several chunks over several
/// appends (`key_runs`).
fn town_event(i: u64) -> Event {
    keyed_event(i, 37, 4999)
}

#[test]
fn key_runs_over_two_levels_answer_as_the_segments_do_and_verify_catches_an_entry_removed_or_added() {
    // 272 sealed segments of 256: a level-2 run over the first 256, a level-1 run over
    // the next 16, and the open segment read on its own.
    let n = 272 * 256 + 100;
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::init(dir.path(), "mamori.test/log", 8, &dir.path().join("checkpoint.key")).unwrap();
    let expect_resident = |r: u64, seqs: std::ops::Range<u64>| -> Vec<u64> { seqs.filter(|i| i % 3 != 0 && i % 4999 == r).collect() };
    let t0 = 1_715_130_000_000i64;
    let check_answers = |j: &SqliteJournal| {
        for r in [7u64, 4998] {
            let got: Vec<u64> = j.by_resident(&format!("R{r}"), TimeRange::ALL).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(got, expect_resident(r, 0..n));
            assert!(j.by_resident(&format!("R{r}"), TimeRange::ALL).unwrap().iter().all(|e| e.event().unwrap() == town_event(e.seq)));
        }
        // A window across the level-2 run's end, the level-1 run and the open segment.
        let window = TimeRange { from: t0 + 60_000 * 60_000, to: t0 + (n as i64 - 10) * 60_000 };
        let op3: Vec<u64> = j.by_actor("op03", window).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(op3, (60_000..n - 10).filter(|i| i % 37 == 3).collect::<Vec<_>>());
        let later: Vec<u64> = j.by_key_from(true, "R7", TimeRange::ALL, 30_000).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(later, expect_resident(7, 30_000..n));
        assert_eq!(j.key_seqs_before(true, "R7", TimeRange::ALL, 67_000).unwrap(), expect_resident(7, 0..67_000));
    };
    let mut i = 0;
    while i < n {
        let events: Vec<_> = (i..(i + 3000).min(n)).map(|k| PreparedEvent::new(&town_event(k))).collect();
        j.append(Batch { events: &events, ..Default::default() }).unwrap();
        i += 3000;
        if i == 69_000 {
            // Appends build the runs a share at a time: the level-2 run is being built now,
            // and queries read the finished level-1 runs meanwhile.
            let runs = j.key_runs().unwrap();
            assert!(runs.iter().any(|&(level, _, _, building)| level == 2 && building == 1), "{runs:?}");
            let got: Vec<u64> = j.by_resident("R7", TimeRange::ALL).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(got, expect_resident(7, 0..i));
        }
    }
    assert!(j.compaction_error().is_none());
    j.compact().unwrap();
    let runs: Vec<(u32, u64, u64)> = j.key_runs().unwrap().into_iter().map(|(l, d, _, b)| (l, d, b)).collect();
    assert_eq!(runs, vec![(1, 1, 0), (2, 1, 0)], "level 1 over segments 256..272, level 2 over 0..256; the level-1 runs it was made of are gone");
    check_answers(&j);
    assert!(verify_failure(&j).is_none());
    drop(j);

    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    let level2: String = conn.query_row("SELECT printf('key_run_%06d', id) FROM key_runs WHERE level = 2", [], |r| r.get(0)).unwrap();
    let r7: i64 = conn.query_row("SELECT id FROM keys WHERE text = 'R7'", [], |r| r.get(0)).unwrap();
    // Removing an entry hides an access from a disclosure: verify names the run.
    let (time, seq): (i64, i64) = conn.query_row(&format!("SELECT time, seq FROM {level2} WHERE key = ?1 LIMIT 1"), [r7], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    conn.execute(&format!("DELETE FROM {level2} WHERE key = ?1 AND seq = ?2"), [r7, seq]).unwrap();
    let j = SqliteJournal::open(dir.path()).unwrap();
    assert!(!j.by_resident("R7", TimeRange::ALL).unwrap().iter().any(|e| e.seq == seq as u64));
    let failure = verify_failure(&j).unwrap();
    assert!(failure.contains("level 2, segments 0..=255") && failure.contains("lacks 1 of segment"), "{failure}");
    drop(j);
    // An entry that no event has is caught too.
    conn.execute(&format!("INSERT INTO {level2}(key, time, seq) VALUES (?1, ?2, ?3)"), [r7, time, seq]).unwrap();
    conn.execute(&format!("INSERT INTO {level2}(key, time, seq) VALUES (?1, ?2, 5)"), [r7, time]).unwrap();
    let j = SqliteJournal::open(dir.path()).unwrap();
    let failure = verify_failure(&j).unwrap();
    assert!(failure.contains("it lists events that are not there"), "{failure}");
    drop(j);
    // A run removed by someone: queries fall back to the segments, and the next
    // compaction builds it again.
    conn.execute(&format!("DELETE FROM {level2} WHERE seq = 5"), []).unwrap();
    conn.execute("DELETE FROM key_runs WHERE level = 2", []).unwrap();
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    check_answers(&j);
    j.compact().unwrap();
    check_answers(&j);
    assert!(verify_failure(&j).is_none());
}

#[test]
fn bodies_are_stored_compressed_once_segments_seal_read_back_byte_for_byte_and_a_forged_body_or_dictionary_fails_verify() {
    // Segments of 256: the batch that ends at 4,500 seals the 17th, and the 4,352 sealed
    // bodies train the dictionary; the bodies appended after it are stored compressed.
    let (dir, j) = store_with(6000, 500);
    drop(j);
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
    let stored = |seq: u64| -> Vec<u8> { conn.query_row(&format!("SELECT body FROM ev_{:06} WHERE seq = ?1", seq >> 8), [seq as i64], |r| r.get(0)).unwrap() };
    assert_eq!(stored(4499).first(), Some(&b'{'), "appended before the dictionary: as it was");
    let raw: usize = (4500..6000).map(|s| PreparedEvent::new(&event(s)).body.len()).sum();
    let compressed: usize = (4500..6000).map(|s| stored(s).len()).sum();
    assert!((4500..6000).all(|s| stored(s)[0] == 1), "every body after it is compressed");
    assert!(compressed * 3 < raw, "{compressed} bytes stored for {raw}");

    // A reader that never wrote reads them as the writer appended them.
    let mut j = SqliteJournal::open(dir.path()).unwrap();
    assert_eq!(j.get(5999).unwrap().unwrap().event().unwrap(), event(5999));
    let r7: Vec<_> = j.by_resident("R7", TimeRange::ALL).unwrap();
    assert_eq!(r7.iter().map(|e| e.seq).collect::<Vec<_>>(), (0..6000).filter(|i| i % 3 != 0 && i % 11 == 7).collect::<Vec<_>>());
    assert!(r7.iter().all(|e| e.event().unwrap() == event(e.seq)));
    let t0 = 1_715_130_000_000i64;
    let late = j.by_time(TimeRange { from: t0 + 5990 * 60_000, to: i64::MAX }, 100).unwrap();
    assert_eq!(late.iter().map(|e| (e.seq, e.event().unwrap())).collect::<Vec<_>>(), (5990..6000).map(|s| (s, event(s))).collect::<Vec<_>>());
    let mut in_segment = Vec::new();
    j.for_each_in_segment::<JournalError>(20, |row| {
        in_segment.push(row.body);
        Ok(())
    })
    .unwrap();
    assert_eq!(in_segment, (20 * 256..21 * 256).map(|s| PreparedEvent::new(&event(s)).body).collect::<Vec<_>>());
    // A writer that reopened the store keeps compressing with the stored dictionary.
    let more: Vec<_> = (6000..6100).map(|k| PreparedEvent::new(&event(k))).collect();
    j.append(Batch { events: &more, ..Default::default() }).unwrap();
    assert_eq!(stored(6099)[0], 1);
    assert!(verify_failure(&j).is_none());
    drop(j);

    // A byte changed inside a compressed body.
    let body = stored(5000);
    let mut forged = body.clone();
    *forged.last_mut().unwrap() ^= 0x55;
    conn.execute("UPDATE ev_000019 SET body = ?1 WHERE seq = 5000", [&forged]).unwrap();
    let failure = verify_failure(&SqliteJournal::open(dir.path()).unwrap()).unwrap();
    assert!(failure.contains("5000"), "{failure}");
    conn.execute("UPDATE ev_000019 SET body = ?1 WHERE seq = 5000", [&body]).unwrap();
    assert!(verify_failure(&SqliteJournal::open(dir.path()).unwrap()).is_none());
    // The dictionary swapped for another: no body it compressed reads back as the log's.
    conn.execute("UPDATE body_dictionaries SET dict = zeroblob(length(dict))", []).unwrap();
    let failure = verify_failure(&SqliteJournal::open(dir.path()).unwrap()).unwrap();
    assert!(failure.contains("4500"), "{failure}");
}
