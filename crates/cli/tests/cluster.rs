//! The clustered mode as a prefecture runs it (docs/cluster.md): a three-node NATS
//! JetStream cluster and two workers on loopback, three towns streamed at once through the
//! stateless front, a NATS node and a worker SIGKILLed mid-stream. Needs Debian's
//! `nats-server` (CI installs it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::{Running, mamori, post};

/// `mamori worker` on the cluster, its log kept in `log`.
fn start_worker(root: &Path, nats: &str, name: &str, log: &Path, archive: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    Running(
        Command::new(env!("CARGO_BIN_EXE_mamori"))
            .args(["--data", root.to_str().unwrap(), "worker", "--nats", nats, "--detect", "--name", name, "--fetch", "4", "--archive", archive.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// `cluster status`, or why it could not answer (electing new stream leaders after a node
/// died).
fn tenant_status(root: &Path, nats: &str) -> Result<Vec<serde_json::Value>, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).args(["--data", root.to_str().unwrap(), "cluster", "status", "--nats", nats, "--json"]).output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

/// The findings a store holds, without the event ids that point at their evidence (ids
/// are places in one store's log, and the cluster's log holds its own records besides).
fn findings_of(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = mamori(data, &["findings", "--json", "--limit", "100000"])
        .lines()
        .map(|l| {
            let mut f: serde_json::Value = serde_json::from_str(l).unwrap();
            f.as_object_mut().unwrap().remove("evidence");
            f.to_string()
        })
        .collect();
    v.sort();
    v
}

/// The events of a source a store holds, as sent (NDJSON), sorted.
fn events_of(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = mamori(data, &["events", "time", "--from", "2000-01-01", "--to", "2100-01-01", "--limit", "100000000"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
        .filter(|e| e["class_uid"] != 6003)
        .map(|e| e.to_string())
        .collect();
    v.sort();
    v
}

/// Whether the store took its events in the order sent: the replayed lines are in time
/// order, and so must be the events by their place in the log.
fn stored_in_order_sent(data: &Path) -> bool {
    let mut by_id: Vec<(u64, i64)> = mamori(data, &["events", "time", "--from", "2000-01-01", "--to", "2100-01-01", "--limit", "100000000"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"]["class_uid"] != 6003)
        .map(|v| (v["id"].as_u64().unwrap(), v["event"]["time"].as_i64().unwrap()))
        .collect();
    by_id.sort();
    by_id.windows(2).all(|w| w[0].1 <= w[1].1)
}

struct Town {
    name: String,
    town: PathBuf,
    chunks: Vec<String>,
    /// The first chunks, imported before the town joined the cluster.
    history: usize,
    key: String,
}

const REPLAY: &str = "[sources.replay]\nformat = \"ndjson\"\n";

/// `mamori import` of one NDJSON chunk into the store at `data` (written to `file` first).
fn import_chunk(data: &Path, file: &Path, chunk: &str) {
    std::fs::write(file, chunk).unwrap();
    let config = file.with_extension("toml");
    std::fs::write(&config, REPLAY).unwrap();
    mamori(data, &["import", "--source", "replay", "--config", config.to_str().unwrap(), file.to_str().unwrap()]);
}

/// Equal lists, or a failure that shows only what differs.
fn assert_same(left: &[String], right: &[String], what: &str) {
    let only = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>();
    assert!(left == right, "{what}: {} and {} items; only left: {:?}; only right: {:?}", left.len(), right.len(), only(left, right), only(right, left));
}

#[test]
fn three_towns_streamed_through_a_cluster_survive_a_node_and_a_worker_killed_and_match_the_embedded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut local = mamori_cluster::local::LocalNats::start(&tmp.path().join("nats")).unwrap();
    let nats = local.urls.clone();
    let root = tmp.path().join("root");

    // Three towns of their own seeds, each a tenant with its master data and settings.
    let mut towns = Vec::new();
    for (i, seed) in ["61", "62", "63"].iter().enumerate() {
        let name = format!("town-{i}");
        let (town, lines) = common::simulated_events(&tmp.path().join(&name), &["--residents", "300", "--employees", "30", "--days", "20", "--seed", seed]);
        let dir = root.join("tenants").join(&name);
        // Segments of 2^10 events, so that a town of a few weeks seals some for the archive.
        mamori(&dir, &["init", dir.to_str().unwrap(), "--segment-shift", "10"]);
        mamori(&dir, &["master", "load", town.join("master").to_str().unwrap()]);
        std::fs::write(dir.join("mamori.toml"), REPLAY).unwrap();
        std::fs::copy(town.join("detect.toml"), dir.join("detect.toml")).unwrap();
        // JetStream takes a moment to elect its leaders after the nodes start.
        let started = Instant::now();
        while Command::new(env!("CARGO_BIN_EXE_mamori"))
            .args(["--data", root.to_str().unwrap(), "cluster", "tenant-add", "--nats", &nats, "--tenant", &name, "--replicas", "3", "--lease-seconds", "3", "--keep-days", "400"])
            .output()
            .map(|o| !o.status.success())
            .unwrap()
        {
            assert!(started.elapsed() < Duration::from_secs(60), "the cluster came up");
            std::thread::sleep(Duration::from_millis(500));
        }
        let key = mamori(&root, &["cluster", "apikey", "--nats", &nats, "--tenant", &name, "--source", "replay", "--label", "replay"]).trim().to_owned();
        let chunks: Vec<String> = lines.chunks(300).map(|c| c.join("\n") + "\n").collect();
        // Onboarding: the town's history is imported and judged once, which learns its
        // explanation model; then its systems send through the cluster.
        let history = chunks.len() / 3;
        for (k, chunk) in chunks[..history].iter().enumerate() {
            import_chunk(&dir, &tmp.path().join(format!("{name}-history-{k}.ndjson")), chunk);
        }
        mamori(&dir, &["detect", "--rules", dir.join("detect.toml").to_str().unwrap()]);
        towns.push(Town { name, town, chunks, history, key });
    }

    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let archive = tmp.path().join("archive");
    let mut workers = vec![start_worker(&root, &nats, "w1", &logs.join("w1.log"), &archive), start_worker(&root, &nats, "w2", &logs.join("w2.log"), &archive)];
    let front = {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
            .args(["serve", "--cluster", &nats, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        let mut front_log = std::fs::File::create(logs.join("front.log")).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut front_log));
        let addr: SocketAddr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect(&line).parse().unwrap();
        (Running(child), addr)
    };
    let addr = front.1;

    // Keys: none, unknown, or for another source are refused before anything is sent.
    let first = towns[0].chunks[0].as_bytes();
    assert_eq!(post(addr, "/v1/ingest/replay", &[], first).unwrap().0, 401);
    assert_eq!(post(addr, "/v1/ingest/replay", &[("Authorization", "Bearer mamori_unknown")], first).unwrap().0, 401);
    assert_eq!(post(addr, "/v1/ingest/juki", &[("Authorization", &format!("Bearer {}", towns[0].key))], first).unwrap().0, 403);
    // Refusals are logged, the misused key's tenant named.
    let started = Instant::now();
    while !std::fs::read_to_string(logs.join("front.log")).unwrap().contains(&format!("tenant={}", towns[0].name)) {
        assert!(started.elapsed() < Duration::from_secs(10), "the front logs the refused key: {}", std::fs::read_to_string(logs.join("front.log")).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }

    // The three towns at once, each batch sent until acknowledged (a retry keeps its key).
    let sent = Arc::new(AtomicUsize::new(0));
    let total: usize = towns.iter().map(|t| t.chunks.len() - t.history).sum();
    let senders: Vec<_> = towns
        .iter()
        .map(|t| {
            let (chunks, key, name, sent) = (t.chunks[t.history..].to_vec(), t.key.clone(), t.name.clone(), sent.clone());
            std::thread::spawn(move || {
                for (k, chunk) in chunks.iter().enumerate() {
                    let batch_key = format!("{name}-{k}");
                    let started = Instant::now();
                    loop {
                        match post(addr, "/v1/ingest/replay", &[("Authorization", &format!("Bearer {key}")), ("Idempotency-Key", &batch_key)], chunk.as_bytes()) {
                            Ok((200, _)) => break,
                            other => {
                                assert!(started.elapsed() < Duration::from_secs(120), "batch {batch_key} acknowledged in time: {other:?}");
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    // A third of the way in: a NATS node and a worker die without a word.
    while sent.load(Ordering::SeqCst) < total / 3 {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The worker killed is one that holds a lease (w1 unless w2 took every tenant first:
    // which worker takes a free tenant is a race).
    const NAMES: [&str; 2] = ["w1", "w2"];
    let log_of = |w: &str| std::fs::read_to_string(logs.join(format!("{w}.log"))).unwrap_or_default();
    let started = Instant::now();
    let dead = loop {
        if let Some(i) = NAMES.iter().position(|w| log_of(w).contains("lease taken")) {
            break i;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "a worker took a tenant's lease: {} / {}", log_of("w1"), log_of("w2"));
        std::thread::sleep(Duration::from_millis(50));
    };
    let (dead_name, survivor) = (NAMES[dead], 1 - dead);
    local.nodes[0].kill().unwrap();
    workers[dead].kill().unwrap();
    for s in senders {
        s.join().unwrap();
    }

    // The surviving worker takes the dead one's tenants when their leases expire, and
    // works every stream to its end.
    let started = Instant::now();
    loop {
        let status = match tenant_status(&root, &nats) {
            Ok(s) => s,
            Err(why) => {
                assert!(started.elapsed() < Duration::from_secs(300), "cluster status: {why}");
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        // Findings too: a worker judges a batch after committing and acknowledging it, so a
        // tenant can be all acknowledged a moment before its findings are published.
        let done = status.len() == 3 && status.iter().all(|t| t["pending"] == 0 && t["unacknowledged"] == 0 && t["acknowledged"] == t["last_sequence"] && t["findings_published"].as_u64().unwrap_or(0) > 0);
        if done {
            for t in &status {
                assert_eq!(t["lease"], NAMES[survivor], "{t}");
                assert!(t["findings_published"].as_u64().unwrap() > 0, "findings published to mamori.{}.findings: {t}", t["tenant"]);
                assert_eq!(t["keep_days"], 400.0, "the ingest stream's age limit: {t}");
            }
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the workers caught up: {status:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Detection catches up with the last batches: wait until a tenant's findings stop
    // changing, then stop the worker.
    std::thread::sleep(Duration::from_secs(3));
    workers[survivor].kill().unwrap();
    let (died, lived) = (log_of(dead_name), log_of(NAMES[survivor]));
    assert!(died.contains("lease taken"), "{dead_name} worked a tenant before it was killed: {died}");
    assert!(lived.matches("lease taken").count() >= 2, "{} took over {dead_name}'s tenants: {lived}", NAMES[survivor]);

    for t in &towns {
        let tenant = root.join("tenants").join(&t.name);
        // The same input through one embedded store, batch by batch.
        let embedded = tmp.path().join(format!("embedded-{}", t.name));
        mamori(&embedded, &["init", embedded.to_str().unwrap()]);
        mamori(&embedded, &["master", "load", t.town.join("master").to_str().unwrap()]);
        let rules = t.town.join("detect.toml");
        for (k, chunk) in t.chunks.iter().enumerate() {
            import_chunk(&embedded, &tmp.path().join(format!("{}-embedded-{k}.ndjson", t.name)), chunk);
            if k + 1 == t.history {
                mamori(&embedded, &["detect", "--rules", rules.to_str().unwrap()]);
            }
        }
        mamori(&embedded, &["detect", "--rules", rules.to_str().unwrap()]);

        // Every acknowledged batch stored exactly once.
        assert_same(&events_of(&tenant), &events_of(&embedded), &format!("{}: the cluster stored each event once", t.name));
        assert!(stored_in_order_sent(&tenant), "{}: batches stored in the order sent, across the handover", t.name);
        // The log and its checkpoints hold across the handover.
        let verified = mamori(&tenant, &["verify"]);
        assert!(verified.starts_with("検証 OK:"), "{}: {verified}", t.name);
        // The workers copied sealed segments to the archive as they sealed, each under its
        // tenant's prefix, and what they copied is the log's.
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(archive.join(format!("tenant={}/manifest.json", t.name))).unwrap()).unwrap();
        assert!(!manifest["segments"].as_array().unwrap().is_empty(), "{}: sealed segments archived by the workers", t.name);
        // And released those detection had judged: the tenant's store keeps only its newest
        // segments, and reads the rest, as every check above did, from the archive.
        {
            let j = mamori_journal::SqliteJournal::open(&tenant).unwrap();
            let released = j.released_segments().unwrap();
            assert!(!released.is_empty(), "{}: archived segments released", t.name);
            assert!(released.iter().all(|s| manifest["segments"].as_array().unwrap().iter().any(|m| m["id"] == *s)), "{}: only archived segments released", t.name);
        }
        let arc = archive.to_str().unwrap();
        assert!(mamori(&tenant, &["archive", "verify", "--archive", arc, "--tenant", &t.name, "--en"]).contains("are the log's"), "{}", t.name);
        // Another tenant's archive is not this store's log.
        let other = &towns.iter().find(|o| o.name != t.name).unwrap().name;
        let out = Command::new(env!("CARGO_BIN_EXE_mamori")).args(["--data", tenant.to_str().unwrap(), "archive", "verify", "--archive", arc, "--tenant", other]).output().unwrap();
        assert!(!out.status.success(), "{}'s key verifies {other}'s archive", t.name);
        // The worker's streaming detection, finished where the kill left it, finds what one
        // embedded run finds.
        mamori(&tenant, &["detect", "--rules", rules.to_str().unwrap()]);
        let (clustered, single) = (findings_of(&tenant), findings_of(&embedded));
        assert!(!single.is_empty(), "{}: the town has findings to compare", t.name);
        assert_same(&clustered, &single, &format!("{}: cluster and embedded findings", t.name));
    }
}
