//! `mamori bench`: the figures BENCHMARKS.md reports, measured the same way every time.
//!
//! `ingest` writes a file of synthetic record accesses shaped like a municipality's
//! (200,000 residents, 3,000 accounts, 800 terminals, business-system raw lines) and
//! imports it into a fresh store through the normal import path, timing the whole and
//! the first and last fifth of the file (a store that slows as it grows shows there).
//! `query` times look-ups of one resident's and one account's history on that store.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use mamori_ingest::{ImportOptions, import_ndjson};
use mamori_journal::{Journal, SqliteJournal, TimeRange};

pub const RESIDENTS: u64 = 200_000;
pub const ACCOUNTS: u64 = 3_000;
const START_MS: u64 = 1_711_897_200_000; // 2024-04-01T00:00+09:00

/// splitmix64: a fixed, dependency-free stream so every run benchmarks the same bytes.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The `i`th synthetic record access of the bench stream, one NDJSON line without its
/// newline. `write_events` and the SQLite ceiling draw the same lines from the same seed.
fn event_line(i: u64, rng: &mut Mix) -> String {
    // ~8 accesses a second across the town, office hours compressed.
    event_line_at(i, START_MS + i * 125, rng)
}

fn event_line_at(i: u64, time: u64, rng: &mut Mix) -> String {
    let (draw, system) = (rng.below(10), rng.below(4));
    let (account, resident, host) = (rng.below(ACCOUNTS), rng.below(RESIDENTS), rng.below(800));
    access_line(i, time, draw, system, &format!("{account:04}"), resident, &format!("PC-{host:04}"))
}

/// One record access as a business system's log line comes out of normalisation: `draw`
/// (0–9) picks the operation, `system` (0–3) the system and its record type.
fn access_line(i: u64, time: u64, draw: u64, system: u64, account: &str, resident: u64, host: &str) -> String {
    const OPS: [(&str, u8); 3] = [("照会", 1), ("発行", 1), ("更新", 2)];
    const SYSTEMS: [(&str, &str); 4] = [("juki", "住民票"), ("zeimu", "課税台帳"), ("koseki", "戸籍"), ("fukushi", "福祉台帳")];
    let (op, activity) = OPS[(draw / 8) as usize];
    let (system, record) = SYSTEMS[system as usize];
    format!(
        "{{\"class_uid\":6005,\"activity_id\":{activity},\"time\":{time},\"status_id\":1,\
         \"actor\":{{\"user\":{{\"uid\":\"{account}\"}}}},\"device\":{{\"hostname\":\"{host}\"}},\
         \"metadata\":{{\"product\":\"{system}\",\"log_name\":\"{system}_access.csv\"}},\
         \"raw_data\":\"令和6年4月1日,{secs},{account},{host},{record}{op},{resident:09}\",\
         \"unmapped\":{{\"resident\":{{\"uid\":\"{resident:09}\",\"record_type\":\"{record}\"}},\
         \"operation\":\"{op}\",\"origin\":{{\"line\":{line_no}}}}}}}",
        secs = (time / 1000) % 86_400,
        line_no = i + 2,
    )
}

pub fn write_events(path: &Path, n: u64, seed: u64) -> Result<u64> {
    write_lines(path, 0..n, &mut Mix(seed))
}

/// Lines `range` of the bench stream, `rng` where the line before left it.
fn write_lines(path: &Path, range: std::ops::Range<u64>, rng: &mut Mix) -> Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut bytes = 0u64;
    for i in range {
        let line = event_line(i, rng);
        bytes += line.len() as u64 + 1;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(bytes)
}

/// The plain-SQLite ceiling a single-writer store on SQLite is held against
/// (`../shared/perf/ceiling`, embedded so the ratio comes out of one run): the same lines
/// from the same seed, each with a SHA-256 of its bytes computed in the loop, inserted by
/// one prepared statement into one table with no secondary index, WAL,
/// `synchronous=FULL`, the journal's page cache, `batch` rows per transaction.
/// Returns rows per second.
pub fn ceiling(db: &Path, events: u64, batch: usize) -> Result<f64> {
    use sha2::Digest;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY;
         CREATE TABLE ev(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, class INTEGER NOT NULL,
                         actor TEXT NOT NULL, resident TEXT, body BLOB NOT NULL, sha256 BLOB NOT NULL);",
    )?;
    let mut rng = Mix(42);
    let start = Instant::now();
    let mut i = 0u64;
    while i < events {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO ev(seq, time, class, actor, resident, body, sha256) VALUES (?1,?2,?3,?4,?5,?6,?7)")?;
            let end = (i + batch as u64).min(events);
            while i < end {
                let before = rng.0;
                let body = event_line(i, &mut rng);
                // The keys as the line carries them, without parsing it back.
                let mut keys = Mix(before);
                let (_, _, account, resident) = (keys.below(10), keys.below(4), keys.below(ACCOUNTS), keys.below(RESIDENTS));
                let digest: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
                insert.execute(rusqlite::params![
                    i as i64,
                    (START_MS + i * 125) as i64,
                    6005i64,
                    format!("{account:04}"),
                    format!("{resident:09}"),
                    body.as_bytes(),
                    &digest[..]
                ])?;
                i += 1;
            }
        }
        tx.commit()?;
    }
    let rate = events as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Ok(rate)
}

/// Peak resident set size of this process, from the kernel.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("self", "VmHWM:")
}

/// A memory figure (`VmRSS:`, `VmHWM:` …) of process `pid` (or `self`), from the kernel.
fn status_mib(pid: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One import of the bench file into a fresh store: the figures `bench ingest` reports.
pub struct IngestRun {
    pub rate: f64,
    pub first_fifth: f64,
    pub last_fifth: f64,
    pub bytes_per_event: f64,
}

/// Where `ingest_once` reads the bench stream from: one file written beforehand, or files
/// of `chunk` lines written one at a time (their writing not timed) and removed once
/// imported, so that a store can be made bigger than the disk's room for its whole input.
pub enum BenchInput<'a> {
    File { path: &'a Path, bytes: u64 },
    Chunks { dir: &'a Path, chunk: u64 },
}

/// Imports the bench stream's first `events` lines into a fresh store at `data` through
/// the normal import path, timing the whole and the first and last fifth of the input.
fn ingest_once(input: &BenchInput<'_>, data: &Path, events: u64, segment_shift: u32, batch: usize) -> Result<IngestRun> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    let mut journal = SqliteJournal::init(data, "mamori.bench/log", segment_shift, &data.join("checkpoint.key"))?;
    let options = ImportOptions { source: "bench".into(), batch_size: batch, ..Default::default() };
    // (bytes imported, time spent importing) after each batch.
    let mut marks: Vec<(u64, Duration)> = Vec::new();
    let (mut bytes, mut total, mut accepted) = (0u64, Duration::ZERO, 0u64);
    let mut import = |path: &Path, len: u64, marks: &mut Vec<(u64, Duration)>| -> Result<()> {
        let (base_bytes, base_time) = (bytes, total);
        let start = Instant::now();
        let summary = import_ndjson(&mut journal, path, &options, &mut |done, _| marks.push((base_bytes + done, base_time + start.elapsed())))?;
        total += start.elapsed();
        bytes += len;
        accepted += summary.accepted;
        Ok(())
    };
    match *input {
        BenchInput::File { path, bytes } => import(path, bytes, &mut marks)?,
        BenchInput::Chunks { dir, chunk } => {
            let mut rng = Mix(42);
            let (mut from, mut k) = (0u64, 0u32);
            while from < events {
                let to = (from + chunk.max(1)).min(events);
                // A name of its own: an import remembers each file it read, by name.
                let path = dir.join(format!("bench-chunk-{k:05}.ndjson"));
                let len = write_lines(&path, from..to, &mut rng)?;
                import(&path, len, &mut marks)?;
                std::fs::remove_file(&path)?;
                (from, k) = (to, k + 1);
            }
        }
    }
    drop(import);
    anyhow::ensure!(accepted == events, "imported {accepted} of {events}");
    let rate = |from: (u64, Duration), to: (u64, Duration)| {
        let share = (to.0 - from.0) as f64 / bytes as f64;
        share * events as f64 / (to.1 - from.1).as_secs_f64()
    };
    let at = |fraction: f64| {
        let target = (bytes as f64 * fraction) as u64;
        *marks.iter().find(|(b, _)| *b >= target).unwrap_or(marks.last().expect("one batch at least"))
    };
    drop(journal);
    let db = std::fs::metadata(data.join("journal.db"))?.len() + std::fs::metadata(data.join("journal.db-wal")).map_or(0, |m| m.len());
    Ok(IngestRun {
        rate: events as f64 / total.as_secs_f64(),
        first_fifth: rate((0, Duration::ZERO), at(0.2)),
        last_fifth: rate(at(0.8), (bytes, total)),
        bytes_per_event: db as f64 / events as f64,
    })
}

/// The minimum and the median of some runs' figures.
fn min_median(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

/// How `bench ingest` runs beyond its size: the input in chunks of `chunk` lines (0: one
/// file), and whether the plain-SQLite ceiling is measured in each round.
pub struct IngestShape {
    pub chunk: u64,
    pub ceiling: bool,
}

/// `bench ingest`: `runs` rounds, each the SQLite ceiling then mamori's import on the same
/// lines, so both see the same machine at nearly the same moment; every round printed, then
/// min / median of each and of mamori / ceiling. Returns the median rate and ratio.
pub fn ingest(dir: &Path, events: u64, segment_shift: u32, batch: usize, runs: usize, shape: IngestShape, out: &mut impl Write) -> Result<(f64, f64)> {
    anyhow::ensure!(events > 0 && runs > 0, "--events and --runs must be above zero");
    std::fs::create_dir_all(dir)?;
    let file = dir.join("bench-events.ndjson");
    let data = dir.join("store");
    let input = if shape.chunk > 0 {
        writeln!(out, "input: {events} record accesses, written {} at a time; segment size 2^{segment_shift}, batch {batch}", shape.chunk)?;
        BenchInput::Chunks { dir, chunk: shape.chunk }
    } else {
        let bytes = write_events(&file, events, 42)?;
        writeln!(out, "input: {events} record accesses, {:.0} MiB NDJSON; segment size 2^{segment_shift}, batch {batch}", bytes as f64 / 1048576.0)?;
        BenchInput::File { path: &file, bytes }
    };
    let (mut rates, mut ceilings, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=runs {
        let ceiling = if shape.ceiling { Some(ceiling(&dir.join("ceiling.db"), events, batch)?) } else { None };
        let run = ingest_once(&input, &data, events, segment_shift, batch)?;
        let against = ceiling.map_or_else(|| "ceiling not measured".to_owned(), |c| format!("SQLite ceiling {c:.0} rows/s"));
        writeln!(
            out,
            "round {round}: {against}; mamori {:.0} events/s (first fifth {:.0}/s, last fifth {:.0}/s){}",
            run.rate,
            run.first_fifth,
            run.last_fifth,
            ceiling.map_or_else(String::new, |c| format!(" = {:.2} of the ceiling", run.rate / c))
        )?;
        rates.push(run.rate);
        if let Some(c) = ceiling {
            ceilings.push(c);
            ratios.push(run.rate / c);
        }
        last = Some(run);
    }
    let (rate_min, rate_median) = min_median(&rates);
    let mut ratio_median = f64::NAN;
    if ceilings.is_empty() {
        writeln!(out, "mamori: min {rate_min:.0}, median {rate_median:.0} events/s")?;
    } else {
        let ((ceiling_min, ceiling_median), (ratio_min, median)) = (min_median(&ceilings), min_median(&ratios));
        ratio_median = median;
        writeln!(out, "mamori: min {rate_min:.0}, median {rate_median:.0} events/s; ceiling: min {ceiling_min:.0}, median {ceiling_median:.0} rows/s; mamori / ceiling: min {ratio_min:.2}, median {ratio_median:.2}")?;
    }
    writeln!(out, "peak RSS: {:.0} MiB", peak_rss_mib().unwrap_or(0.0))?;
    writeln!(out, "store: {:.0} bytes/event", last.expect("one round at least").bytes_per_event)?;
    if shape.chunk == 0 {
        std::fs::remove_file(&file)?;
    }
    Ok((rate_median, ratio_median))
}

pub fn query(data: &Path, lookups: u64, out: &mut impl Write) -> Result<()> {
    let journal = SqliteJournal::open(data)?;
    let mut rng = Mix(7);
    for (what, keys, fmt) in [("resident", RESIDENTS, 9usize), ("account", ACCOUNTS, 4usize)] {
        let mut times = Vec::with_capacity(lookups as usize);
        let mut found = 0usize;
        for _ in 0..lookups {
            let key = format!("{:0fmt$}", rng.below(keys));
            let start = Instant::now();
            let events = if what == "resident" {
                journal.by_resident(&key, TimeRange::ALL)?
            } else {
                journal.by_actor(&key, TimeRange::ALL)?
            };
            times.push(start.elapsed());
            found += events.len();
        }
        times.sort();
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        writeln!(
            out,
            "{what} history over all time: {lookups} look-ups, {:.1} events each, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            found as f64 / lookups as f64,
            pct(0.5),
            pct(0.99),
            pct(1.0)
        )?;
    }
    Ok(())
}

/// Master data shaped like the bench store's events: the 200,000 residents two to a
/// household, 3,000 employees each holding account `NNNN` in the four systems, and one
/// open case per resident handled by one of them.
fn store_bench_master(j: &mut SqliteJournal) -> Result<()> {
    use serde_json::json;
    let mut kinds = Vec::new();
    let mut put = |_: &mut SqliteJournal, kind: &str, rows: Vec<(serde_json::Value, Vec<String>)>| -> Result<()> {
        let rows: Vec<(String, Vec<String>)> = rows.into_iter().map(|(v, k)| (v.to_string(), k)).collect();
        kinds.push(mamori_journal::MasterKind { kind: kind.to_owned(), rows });
        Ok(())
    };
    let systems = ["juki", "zeimu", "koseki", "fukushi"];
    put(j, "departments", (0..4).map(|d| (json!({"code": format!("D{d}00"), "name": format!("課{d}")}), vec![])).collect())?;
    put(j, "employees", (0..ACCOUNTS).map(|e| (json!({"id": format!("E{e:04}"), "name": format!("職員 {e}"), "hired": "2010-04-01"}), vec![format!("E{e:04}")])).collect())?;
    put(
        j,
        "assignments",
        (0..ACCOUNTS).map(|e| (json!({"employee_id": format!("E{e:04}"), "department": format!("D{}00", e % 4), "role": "staff", "from": "2010-04-01"}), vec![format!("E{e:04}")])).collect(),
    )?;
    put(
        j,
        "accounts",
        (0..ACCOUNTS)
            .flat_map(|e| systems.iter().map(move |s| (json!({"system": s, "account": format!("{e:04}"), "employee_id": format!("E{e:04}"), "kind": "personal", "from": "2010-04-01"}), vec![format!("{e:04}")])))
            .collect(),
    )?;
    put(j, "residents", (0..RESIDENTS).map(|r| (json!({"uid": format!("{r:09}"), "name": format!("住民 {r}"), "birth_date": "1970-01-01"}), vec![format!("{r:09}")])).collect())?;
    put(
        j,
        "households",
        (0..RESIDENTS)
            .map(|r| {
                let h = format!("H{:06}", r / 2);
                (json!({"resident_uid": format!("{r:09}"), "household": h, "relation": "世帯員", "address": "本町1丁目", "from": "2000-01-01"}), vec![format!("{r:09}"), h])
            })
            .collect(),
    )?;
    put(
        j,
        "cases",
        (0..RESIDENTS)
            .map(|r| {
                let row = json!({"case_no": format!("C{r:07}"), "kind": "相談", "received": "2024-04-01", "department": format!("D{}00", r % 4),
                    "handler": format!("E{:04}", r % ACCOUNTS), "residents": format!("{r:09}")});
                (row, vec![format!("{r:09}")])
            })
            .collect(),
    )?;
    crate::audit::record_master_load(j, &kinds, &[], "bench master data")?;
    Ok(())
}

/// Times the disclosure of one resident's whole history on the bench store, as the CLI
/// and the API produce it: master data read by key, every access explained, every entry's
/// inclusion proof to the latest checkpoint.
pub fn disclosure(data: &Path, lookups: u64, out: &mut impl Write) -> Result<f64> {
    let mut journal = SqliteJournal::open(data)?;
    if journal.master_rows_by_key("accounts", &["0000".into()])?.is_none_or(|r| r.is_empty()) {
        let start = Instant::now();
        store_bench_master(&mut journal)?;
        writeln!(out, "bench master data stored in {:.1} s", start.elapsed().as_secs_f64())?;
    }
    let events = journal.latest_checkpoint()?.map_or(0, |c| c.size);
    let mut rng = Mix(11);
    let mut times = Vec::with_capacity(lookups as usize);
    let mut entries = 0usize;
    for _ in 0..lookups {
        let resident = format!("{:09}", rng.below(RESIDENTS));
        let request = bench_request(&resident);
        let start = Instant::now();
        let d = crate::report::disclosure(&journal, &request)?;
        let html = d.html();
        times.push(start.elapsed());
        entries += d.entries.len();
        std::hint::black_box(html);
    }
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    writeln!(
        out,
        "disclosure over {events} events: {lookups} residents, {:.1} entries each, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        entries as f64 / lookups as f64,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    )?;
    Ok(pct(0.99))
}

/// Times the purpose-of-use gate as a business system meets it: a fresh store under `dir`
/// with the bench master data (200,000 residents two to a household, 3,000 staff with
/// accounts in four systems, a case per resident), `mamori serve` started in this
/// process on loopback, and `rate` checks a second for `seconds`, open loop (each check
/// has its time slot; its latency runs from that slot, so a server that falls behind is
/// charged for the queue, not hidden by it), over kept-alive connections from `clients`
/// threads. The load and the server share the machine.
pub fn gate(dir: &Path, rate: u64, seconds: u64, clients: usize, out: &mut impl Write) -> Result<()> {
    anyhow::ensure!(!dir.exists(), "{} exists: give a new directory", dir.display());
    anyhow::ensure!(rate > 0 && seconds > 0 && clients > 0, "--rate, --seconds and --clients must be above zero");
    let key_path = dir.with_extension("signing.key");
    let mut j = SqliteJournal::init(dir, "mamori.bench/gate", mamori_journal::DEFAULT_SEGMENT_SHIFT, &key_path)?;
    let start = Instant::now();
    store_bench_master(&mut j)?;
    let (key, hash) = mamori_server::new_api_key();
    mamori_app::admin::create_api_key(&mut j, "bench", "@gate:juki", "bench", &hash)?;
    writeln!(out, "bench master data stored in {:.1} s", start.elapsed().as_secs_f64())?;
    let server = mamori_server::Server::new(j, Default::default(), Default::default())?.with_gate_policy(mamori_app::gate::Policy::default())?;
    let (ready, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || mamori_server::serve(server, "127.0.0.1:0".parse().expect("an address"), |a| ready.send(a).expect("the bench waits")));
    let addr = addr.recv()?;
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).http_status_as_error(false).build().into();
    let ask = |agent: &ureq::Agent, n: u64| -> Result<u16> {
        let mut mix = Mix(n);
        let body = serde_json::json!({"system": "juki", "account": format!("{:04}", mix.below(ACCOUNTS)), "terminal": "PC-1", "resident": format!("{:09}", mix.below(RESIDENTS)), "operation": "read"});
        let response = agent.post(format!("{base}/v1/access-check")).header("Authorization", &format!("Bearer {key}")).header("Content-Type", "application/json").send(body.to_string().as_bytes())?;
        let status = response.status().as_u16();
        std::hint::black_box(response.into_body().read_to_vec()?);
        Ok(status)
    };
    // The first check builds the directory in memory: timed apart.
    let warm = Instant::now();
    anyhow::ensure!(ask(&agent, 0)? == 200, "the gate did not answer the first check");
    writeln!(out, "directory of 200,000 residents built at the first check in {:.2} s", warm.elapsed().as_secs_f64())?;
    let total = rate * seconds;
    let next = std::sync::atomic::AtomicU64::new(1);
    let t0 = Instant::now() + Duration::from_millis(100);
    let results: Vec<(Vec<Duration>, u64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let (next, ask) = (&next, &ask);
                let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).http_status_as_error(false).build().into();
                scope.spawn(move || {
                    let (mut times, mut errors) = (Vec::new(), 0u64);
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n > total {
                            return (times, errors);
                        }
                        let slot = t0 + Duration::from_nanos((n - 1) * 1_000_000_000 / rate);
                        if let Some(wait) = slot.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        match ask(&agent, n) {
                            Ok(200) => times.push(slot.elapsed()),
                            _ => errors += 1,
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a bench client")).collect()
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    let mut times: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
    times.sort();
    anyhow::ensure!(!times.is_empty(), "no check was answered ({errors} errors)");
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    writeln!(
        out,
        "gate: {} checks in {elapsed:.1} s ({:.0}/s asked {rate}/s, {clients} clients), {errors} errors; latency from each check's slot: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; peak RSS {}",
        times.len(),
        times.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0),
        peak_rss_mib().map_or_else(|| "?".into(), |m| format!("{m:.0} MiB"))
    )?;
    Ok(())
}

/// Events of the day before `bench stream`'s stream.
const WARM_UP_EVENTS: u64 = 200_000;

/// `count` record accesses from the `first`th of a stream at `rate` a second beginning at
/// `start` (the `first`th at `start + first / rate`), NDJSON: mostly by the resident's case
/// handler at their own terminal (four share one), one in 200 by anyone, anywhere; the
/// last is a probe (account 0000, on a resident of its own cases, its operation marked),
/// so every probe lands in one finding.
fn access_lines(first: u64, count: u64, start: u64, rate: u64, rng: &mut Mix) -> String {
    let mut body = String::with_capacity(count as usize * 420);
    for i in first..first + count {
        let time = start + (i - first) * 1000 / rate;
        let (draw, system, resident, host, anyone) = (rng.below(10), rng.below(4), rng.below(RESIDENTS), rng.below(800), rng.below(200) == 0);
        let probe = i + 1 == first + count;
        let resident = if probe { resident - resident % ACCOUNTS } else { resident };
        let account = if anyone && !probe { rng.below(ACCOUNTS) } else { resident % ACCOUNTS };
        let host = if anyone { host } else { account * 800 / ACCOUNTS };
        let line = access_line(i, time, draw, system, &format!("{account:04}"), resident, &format!("PC-{host:04}"));
        body.push_str(&if probe { line.replacen("\"operation\":\"", &format!("\"operation\":\"{PROBE_OPERATION}"), 1) } else { line });
        body.push('\n');
    }
    body
}

/// The probe rule `bench stream` adds to the town's rules: one finding, its evidence every
/// probe event judged so far.
const PROBE_RULE: &str = "00000000-0000-4000-8000-5e7ea3000001";
/// What marks a probe: its operation begins so (an operation no analyzer keeps state on).
const PROBE_OPERATION: &str = "計測";

/// `bench stream`: streaming detection as a sender sees it. A fresh store under `dir` with
/// the bench master data and a day of history judged, `serve --detect` in a process of its
/// own with the shipped rules and a probe rule, and one sender posting a batch every `batch_ms` at `rate` events a second
/// for `seconds`, open loop: each batch is record accesses mostly by the resident's case
/// handler at their own terminal (one in 200 by anyone, anywhere), with times at the stream's own pace from 09:00, and
/// one probe access at its end. A watcher reads the store's findings every 10 ms; a
/// probe's latency is from its batch's acknowledgement (durable, 200) to the commit of the
/// finding that holds it, so it covers the whole batch before it. The server's resident
/// memory is sampled every second.
pub fn stream(dir: &Path, rate: u64, seconds: u64, batch_ms: u64, out: &mut impl Write) -> Result<StreamFigures> {
    use anyhow::Context;
    use rusqlite::OptionalExtension;
    anyhow::ensure!(!dir.exists(), "{} exists: give a new directory", dir.display());
    anyhow::ensure!(rate > 0 && seconds > 0 && (1..=10_000).contains(&batch_ms), "--rate and --seconds must be above zero, --batch-ms 1–10000");
    let per_batch = (rate * batch_ms / 1000).max(1);
    let batches = seconds * 1000 / batch_ms;
    let store = dir.join("store");
    let rules = dir.join("probe-rules");
    std::fs::create_dir_all(&rules)?;
    let mut j = SqliteJournal::init(&store, "mamori.bench/stream", mamori_journal::DEFAULT_SEGMENT_SHIFT, &dir.join("signing.key"))?;
    warm_up_probe_store(&mut j, &rules, dir, out)?;
    let (key, hash) = mamori_server::new_api_key();
    mamori_app::admin::create_api_key(&mut j, "bench", "bench", "bench", &hash)?;
    drop(j);
    // The server in a process of its own, as a town runs it, so its memory is its own.
    let config = dir.join("mamori.toml");
    std::fs::write(&config, "[sources.bench]\nformat = \"ndjson\"\n")?;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--data")
        .arg(&store)
        .args(["serve", "--listen", &addr.to_string(), "--detect", "--config"])
        .arg(&config)
        .arg("--sigma")
        .arg(&rules)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()?;
    let server = Child(child);
    let pid = server.0.id().to_string();
    let rss_mib = || status_mib(&pid, "VmRSS:");
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).http_status_as_error(false).build().into();
    wait_healthy(&agent, &base, &dir.join("serve.log"))?;
    let post = |name: &str, body: &str| -> Result<()> {
        let mut r = agent.post(format!("{base}/v1/ingest/bench")).header("Authorization", &format!("Bearer {key}")).header("Idempotency-Key", name).send(body.as_bytes())?;
        anyhow::ensure!(r.status().as_u16() == 200, "batch {name}: HTTP {}", r.status());
        std::hint::black_box(r.body_mut().read_to_vec()?);
        Ok(())
    };
    let conn = rusqlite::Connection::open_with_flags(store.join("journal.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let id = format!("sigma:{PROBE_RULE}:E0000");
    let probes = |conn: &rusqlite::Connection| -> Result<usize> {
        let body: Option<String> = conn.query_row("SELECT body FROM findings WHERE id = ?1", [&id], |r| r.get(0)).optional()?;
        Ok(body.map(|b| serde_json::from_str::<mamori_model::Finding>(&b)).transpose().context("the probe finding")?.map_or(0, |f| f.evidence.len()))
    };
    // One probe before the clock starts, judged once the server has loaded what detection
    // needs (master data, rules, state): a server is started before it is sent to.
    let day = START_MS + 86_400_000 + 9 * 3_600_000;
    let primed = Instant::now();
    let before = probes(&conn)?;
    post("prime", &access_lines(WARM_UP_EVENTS, 1, day - 60_000, rate, &mut Mix(5)))?;
    while probes(&conn)? <= before {
        anyhow::ensure!(primed.elapsed() < Duration::from_secs(300), "the server's detection judged nothing within five minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = probes(&conn)?;
    writeln!(out, "server up; its detection loaded and judging {:.1} s after the first batch", primed.elapsed().as_secs_f64())?;
    let done = std::sync::atomic::AtomicBool::new(false);
    let start = Instant::now();
    let (seen, rss, acked, post_times) = std::thread::scope(|scope| -> Result<(Vec<Instant>, Vec<f64>, Vec<Instant>, Vec<Duration>)> {
        // When the watcher first saw each probe judged, and the memory each second.
        let watcher = scope.spawn(|| -> Result<(Vec<Instant>, Vec<f64>)> {
            let conn = rusqlite::Connection::open_with_flags(store.join("journal.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let (mut seen, mut rss) = (Vec::<Instant>::new(), Vec::new());
            let mut sampled = Instant::now();
            let mut finished: Option<Instant> = None;
            loop {
                let judged = probes(&conn)?.saturating_sub(before);
                let now = Instant::now();
                while seen.len() < judged {
                    seen.push(now);
                }
                if sampled.elapsed() >= Duration::from_secs(1) {
                    rss.extend(rss_mib());
                    sampled = Instant::now();
                }
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    let since = *finished.get_or_insert_with(Instant::now);
                    if seen.len() as u64 >= batches || since.elapsed() > Duration::from_secs(120) {
                        return Ok((seen, rss));
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let mut rng = Mix(7);
        let (mut acked, mut post_times) = (Vec::new(), Vec::new());
        let mut failure = None;
        for b in 0..batches {
            let body = access_lines(WARM_UP_EVENTS + 1 + b * per_batch, per_batch, day + b * per_batch * 1000 / rate, rate, &mut rng);
            if let Some(wait) = (start + Duration::from_millis(b * batch_ms)).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let sent = Instant::now();
            if let Err(e) = post(&format!("stream-{b}"), &body) {
                failure = Some(e);
                break;
            }
            acked.push(Instant::now());
            post_times.push(sent.elapsed());
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (seen, rss) = watcher.join().expect("the watcher")?;
        failure.map_or(Ok((seen, rss, acked, post_times)), Err)
    })?;
    let sending = acked.last().map_or(0.0, |a| a.duration_since(start).as_secs_f64());
    anyhow::ensure!(seen.len() == acked.len(), "{} of {} probes were judged within two minutes of the last batch", seen.len(), acked.len());
    let mut latency: Vec<f64> = acked.iter().zip(&seen).map(|(a, s)| s.saturating_duration_since(*a).as_secs_f64() * 1000.0).collect();
    latency.sort_by(f64::total_cmp);
    let mut posts: Vec<f64> = post_times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    posts.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    let judged = acked.len() as u64 * per_batch;
    writeln!(out, "stream: {} batches of {per_batch} events every {batch_ms} ms ({rate} events/s asked), {judged} events in {sending:.1} s = {:.0} events/s acknowledged", acked.len(), judged as f64 / sending)?;
    writeln!(out, "POST (to durable 200): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", pct(&posts, 0.5), pct(&posts, 0.99), pct(&posts, 1.0))?;
    writeln!(out, "acknowledgement → finding committed: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", pct(&latency, 0.5), pct(&latency, 0.99), pct(&latency, 1.0))?;
    let fifth = (rss.len() / 5).max(1);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    writeln!(
        out,
        "server's resident memory: first fifth {:.0} MiB, last fifth {:.0} MiB, peak {:.0} MiB",
        mean(&rss[..fifth.min(rss.len())]),
        mean(&rss[rss.len().saturating_sub(fifth)..]),
        status_mib(&pid, "VmHWM:").unwrap_or(0.0)
    )?;
    let conn = rusqlite::Connection::open_with_flags(store.join("journal.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (verdicts, explained): (i64, i64) = conn.query_row("SELECT count(*), count(explanation) FROM explanations", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let findings: i64 = conn.query_row("SELECT count(*) FROM findings", [], |r| r.get(0))?;
    writeln!(out, "judged record accesses {verdicts}, explained {:.1} %; findings {findings}", 100.0 * explained as f64 / verdicts.max(1) as f64)?;
    Ok(StreamFigures { p99_ms: pct(&latency, 0.99), memory_first_mib: mean(&rss[..fifth.min(rss.len())]), memory_last_mib: mean(&rss[rss.len().saturating_sub(fifth)..]) })
}

/// What `bench stream` found, for `bench --quick`'s table.
pub struct StreamFigures {
    pub p99_ms: f64,
    pub memory_first_mib: f64,
    pub memory_last_mib: f64,
}

/// Writes `count` Sigma rules (documents) into `dir`, a fixed, varied set over mamori's
/// taxonomy for measuring detection beside another engine: field equalities, numeric
/// comparisons, substrings and lists over every event class, and a correlation in every
/// fifth file (`event_count` or `value_count`, grouped by employee) with its base rule.
/// The same count always gives the same rules.
pub fn sigma_rule_set(dir: &Path, count: usize) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    let products = ["juki", "zeimu", "koseki", "fukushi", "saijo"];
    let categories = ["cloud_storage", "file_sharing", "webmail", "job_search", "leak_site", "spyware"];
    let id = |n: usize| format!("00000000-0000-4000-8000-{n:012}");
    let mut written = 0;
    let mut file = 0;
    while written < count {
        let n = written;
        let level = ["low", "medium", "high"][n % 3];
        let head = |title: String, n: usize, level: &str| format!("title: bench {title}\nid: {}\nstatus: experimental\nlogsource:\n  product: mamori\nlevel: {level}\n", id(n));
        let text = match file % 10 {
            0 => head(format!("unexplained {}", products[n % 5]), n, level) + &format!("detection:\n  sel:\n    Class: record_access\n    Product: {}\n    Explained: false\n  condition: sel\n", products[n % 5]),
            1 => head(format!("record access before {}h", 5 + n % 4), n, level) + &format!("detection:\n  sel:\n    Class: record_access\n    Hour|lt: {}\n  condition: sel\n", 5 + n % 4),
            2 => head("vip without relation".into(), n, level) + "detection:\n  sel:\n    Class: record_access\n    Vip: true\n    Relation: none\n  filter:\n    Explained: true\n  condition: sel and not filter\n",
            3 => head(format!("upload to {}", categories[n % 6]), n, level) + &format!("detection:\n  sel:\n    Class: http\n    UrlCategory: {}\n    BytesOut|gte: {}\n  condition: sel\n", categories[n % 6], 100_000 * (1 + n % 5)),
            4 => head(format!("mail to {} outside", 3 + n % 7), n, level) + &format!("detection:\n  sel:\n    Class: email\n    MailExternalCount|gte: {}\n  condition: sel\n", 3 + n % 7),
            5 => head("unapproved device".into(), n, level) + "detection:\n  sel:\n    Class: device\n    DeviceApproved: false\n    Blocked: false\n  condition: sel\n",
            6 => head(format!("file path {}", n % 4), n, level) + &format!("detection:\n  sel:\n    Class: file\n    FilePath|contains:\n      - '{}'\n      - '.csv'\n  condition: sel\n", ["個人情報", "住民", "名簿", "export"][n % 4]),
            7 | 8 if written + 2 <= count => {
                let base = head(format!("base {n}"), n, "informational") + "detection:\n  sel:\n    Class: record_access\n    Explained: false\n  condition: sel\n";
                let correlation = if file % 10 == 7 {
                    format!("correlation:\n  type: event_count\n  rules:\n    - {}\n  group-by:\n    - Employee\n  timespan: 1h\n  condition:\n    gte: {}\n  generate: false\n", id(n), 10 + n % 20)
                } else {
                    format!("correlation:\n  type: value_count\n  rules:\n    - {}\n  group-by:\n    - Employee\n  timespan: 1d\n  condition:\n    field: Resident\n    gte: {}\n  generate: false\n", id(n), 20 + n % 30)
                };
                written += 1;
                format!("{base}---\ntitle: bench correlation {}\nid: {}\nstatus: experimental\nlevel: {level}\n{correlation}", n + 1, id(n + 1))
            }
            _ => head(format!("day off {}", products[n % 5]), n, level) + &format!("detection:\n  sel:\n    Class: record_access\n    DayOff: true\n    Product: {}\n  condition: sel\n", products[n % 5]),
        };
        std::fs::write(dir.join(format!("bench_{file:03}.yml")), text)?;
        written += 1;
        file += 1;
    }
    Ok(file)
}

/// `bench detect`: detection from scratch over the store of `data` — every event read,
/// enriched, judged by every analyzer and offered to the Sigma rules, findings committed —
/// beside the `rsigma` CLI (when given) evaluating the same rules with the same pipeline
/// over the same events as the rules see them (`mamori events sigma-flat`, written once
/// before the rounds, its time reported apart). Rounds alternate the two.
pub fn detect(data: &Path, rules: Option<&Path>, sigma: Option<&Path>, rsigma: Option<&Path>, runs: usize, out: &mut impl Write) -> Result<(f64, Option<f64>)> {
    use anyhow::Context;
    anyhow::ensure!(runs > 0, "--runs must be above zero");
    let mut j = SqliteJournal::open(data)?;
    let config = mamori_app::detect::load_config(rules)?;
    let work = std::env::temp_dir().join(format!("mamori-bench-detect-{}", std::process::id()));
    std::fs::create_dir_all(work.join("rules"))?;
    let flat = work.join("flat.jsonl");
    let start = Instant::now();
    let mut sink = BufWriter::new(std::fs::File::create(&flat)?);
    let events = mamori_app::detect::sigma_flat(&mut j, config.clone(), sigma, |v| Ok(writeln!(sink, "{v}")?))?;
    sink.flush()?;
    drop(sink);
    anyhow::ensure!(events > 0, "the store of {} holds no events", data.display());
    writeln!(out, "{events} events written as the rules see them ({:.0} MiB flat JSONL) in {:.1} s", std::fs::metadata(&flat)?.len() as f64 / 1048576.0, start.elapsed().as_secs_f64())?;
    let (files, pipeline) = mamori_app::detect::sigma_rules(sigma, config.sigma.shipped)?;
    let documents: usize = files.iter().map(|(_, t)| t.matches("\ntitle:").count() + usize::from(t.starts_with("title:"))).sum();
    for (i, (_, text)) in files.iter().enumerate() {
        std::fs::write(work.join("rules").join(format!("rule_{i:03}.yml")), text)?;
    }
    std::fs::write(work.join("pipeline.yml"), &pipeline)?;
    writeln!(out, "rules: {} files, {documents} rules (correlations and their parts counted)", files.len())?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=runs {
        let start = Instant::now();
        let summary = mamori_app::detect::run(&mut j, config.clone(), sigma, true)?;
        let mamori_rate = summary.judged as f64 / start.elapsed().as_secs_f64();
        ours.push(mamori_rate);
        let mut line = format!("round {round}: mamori {mamori_rate:.0} events/s ({} findings)", summary.findings.len());
        if let Some(rsigma) = rsigma {
            let matches = work.join("rsigma.out");
            let start = Instant::now();
            let status = std::process::Command::new(rsigma)
                .args(["engine", "eval", "--input-format", "json", "--timestamp-field", "Timestamp", "-r"])
                .arg(work.join("rules"))
                .arg("-p")
                .arg(work.join("pipeline.yml"))
                .arg("-e")
                .arg(format!("@{}", flat.display()))
                .stdout(std::fs::File::create(&matches)?)
                .stderr(std::process::Stdio::null())
                .status()
                .with_context(|| format!("running {}", rsigma.display()))?;
            anyhow::ensure!(status.success(), "{} eval failed: {status}", rsigma.display());
            let rate = events as f64 / start.elapsed().as_secs_f64();
            theirs.push(rate);
            let lines = std::fs::read_to_string(&matches)?.lines().count();
            line += &format!("; rsigma {rate:.0} events/s ({lines} matches, no enrichment) — mamori / rsigma {:.2}", mamori_rate / rate);
        }
        writeln!(out, "{line}")?;
    }
    let (min, median) = min_median(&ours);
    write!(out, "mamori: min {min:.0}, median {median:.0} events/s")?;
    let mut ratio = None;
    if !theirs.is_empty() {
        let (rmin, rmedian) = min_median(&theirs);
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
        let (qmin, qmedian) = min_median(&ratios);
        ratio = Some(qmedian);
        write!(out, "; rsigma: min {rmin:.0}, median {rmedian:.0} events/s; mamori / rsigma: min {qmin:.2}, median {qmedian:.2}")?;
    }
    writeln!(out, "; peak RSS {:.0} MiB", peak_rss_mib().unwrap_or(0.0))?;
    std::fs::remove_dir_all(&work)?;
    Ok((median, ratio))
}

/// `bench adapters`: each log of the simulated town in `town` imported through its
/// configured source into a fresh store, beside the synthetic NDJSON path on `synthetic`
/// events in the same round; rates in events (messages for mail) a second, and each as a
/// share of the synthetic rate. Mail includes inspecting every attachment (with no
/// residents to match, as `import` before master data).
pub fn adapters(town: &Path, synthetic: u64, runs: usize, out: &mut impl Write) -> Result<Vec<(String, f64, f64)>> {
    anyhow::ensure!(runs > 0 && synthetic > 0, "--runs and --synthetic must be above zero");
    let sources = mamori_sources::load_sources(&town.join("mamori.toml")).map_err(anyhow::Error::msg)?;
    let work = std::env::temp_dir().join(format!("mamori-bench-adapters-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let file = work.join("synthetic.ndjson");
    let bytes = write_events(&file, synthetic, 42)?;
    let mut rates: std::collections::BTreeMap<&str, Vec<(f64, f64)>> = Default::default();
    let mut synthetic_rates = Vec::new();
    // Per source that inspects attachments: (share of its time inspecting, share of the
    // synthetic rate with inspection apart, the same in bytes a second), each round.
    let mut inspection: std::collections::BTreeMap<&str, Vec<(f64, f64, f64)>> = Default::default();
    for round in 1..=runs {
        let base = ingest_once(&BenchInput::File { path: &file, bytes }, &work.join("synthetic-store"), synthetic, mamori_journal::DEFAULT_SEGMENT_SHIFT, 50_000)?.rate;
        synthetic_rates.push(base);
        write!(out, "round {round}: synthetic {base:.0}/s")?;
        for (source, log) in mamori_sim::LOGS {
            let path = town.join("logs").join(log);
            let Some(config) = sources.get(source) else { anyhow::bail!("{}: no source `{source}`", town.join("mamori.toml").display()) };
            let store = work.join(format!("store-{source}"));
            if store.exists() {
                std::fs::remove_dir_all(&store)?;
            }
            let mut j = SqliteJournal::init(&store, "mamori.bench/adapters", mamori_journal::DEFAULT_SEGMENT_SHIFT, &work.join(format!("{source}.key")))?;
            let adapter = mamori_sources::adapter(source, config, &mamori_sources::AdapterContext::default()).map_err(anyhow::Error::msg)?;
            // Mail parses on two threads: inspection time is summed over both.
            let parse_threads = if adapter.fork().is_some() { 2.0 } else { 1.0 };
            let options = ImportOptions { source: source.to_owned(), batch_size: 50_000, ..Default::default() };
            let (start, inspected) = (Instant::now(), mamori_sources::attachment_inspection_time());
            let summary = mamori_ingest::import_file(&mut j, &path, &options, adapter, &mut |_, _| {})?;
            let elapsed = start.elapsed().as_secs_f64();
            let rate = summary.accepted as f64 / elapsed;
            // Attachment inspection apart: its time on the parse threads, shared between
            // them, taken out of the wall time (parsing is what holds mail's import back).
            let inspecting = (mamori_sources::attachment_inspection_time() - inspected).as_secs_f64() / parse_threads;
            let apart = summary.accepted as f64 / (elapsed - inspecting).max(f64::EPSILON);
            rates.entry(source).or_default().push((rate, rate / base));
            if inspecting > 0.0 {
                // Messages are several times a log line's size: their bytes a second too.
                let bytes_apart = std::fs::metadata(&path)?.len() as f64 / (elapsed - inspecting).max(f64::EPSILON);
                inspection.entry(source).or_default().push((inspecting / elapsed, apart / base, bytes_apart / (base * bytes as f64 / synthetic as f64)));
                write!(out, ", {source} {rate:.0}/s (attachment inspection {inspecting:.2} of {elapsed:.2} s; {apart:.0}/s apart)")?;
            } else {
                write!(out, ", {source} {rate:.0}/s")?;
            }
            drop(j);
            std::fs::remove_dir_all(&store)?;
            std::fs::remove_file(work.join(format!("{source}.key")))?;
        }
        writeln!(out)?;
    }
    let (_, synthetic_median) = min_median(&synthetic_rates);
    writeln!(out, "synthetic NDJSON: median {synthetic_median:.0} events/s")?;
    let mut table = Vec::new();
    for (source, log) in mamori_sim::LOGS {
        let runs = &rates[source];
        let (min, median) = min_median(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
        let (_, share) = min_median(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
        writeln!(out, "{source:>15} ({log}): min {min:.0}, median {median:.0} /s = {share:.2} of synthetic")?;
        if let Some(apart) = inspection.get(source) {
            let (_, time_share) = min_median(&apart.iter().map(|a| a.0).collect::<Vec<_>>());
            let (_, share_apart) = min_median(&apart.iter().map(|a| a.1).collect::<Vec<_>>());
            let (_, bytes_apart) = min_median(&apart.iter().map(|a| a.2).collect::<Vec<_>>());
            writeln!(
                out,
                "{:>15}  attachment inspection: median {:.0} % of the import's time; with it apart {share_apart:.2} of synthetic in messages, {bytes_apart:.2} in bytes a second",
                "",
                time_share * 100.0
            )?;
        }
        table.push((source.to_owned(), median, share));
    }
    std::fs::remove_dir_all(&work)?;
    Ok(table)
}

/// `bench --quick`: the figures of BENCHMARKS.md's issue 16 table, small, in one run of a
/// few minutes under `dir`: ingest beside the SQLite ceiling (300,000 events, three
/// rounds), the default simulated town's logs through their adapters beside the synthetic
/// path, detection on that town beside the rsigma CLI when it is on PATH, and a
/// resident's disclosure on the ingest store. The town is made and imported by this same
/// binary's commands.
pub fn quick(dir: &Path, out: &mut impl Write) -> Result<()> {
    use anyhow::Context;
    anyhow::ensure!(!dir.exists(), "{} exists: give a new directory", dir.display());
    std::fs::create_dir_all(dir)?;
    let started = Instant::now();
    let exe = std::env::current_exe()?;
    let mamori = |args: &[&std::ffi::OsStr]| -> Result<()> {
        let done = std::process::Command::new(&exe).args(args).stdout(std::process::Stdio::null()).output().with_context(|| format!("running {}", exe.display()))?;
        anyhow::ensure!(done.status.success(), "mamori {:?}: {}", args, String::from_utf8_lossy(&done.stderr));
        Ok(())
    };
    writeln!(out, "== ingest: 300,000 synthetic events, three rounds beside the plain-SQLite ceiling ==")?;
    let (ingest_rate, ingest_ratio) = ingest(&dir.join("ingest"), 300_000, mamori_journal::DEFAULT_SEGMENT_SHIFT, 50_000, 3, IngestShape { chunk: 0, ceiling: true }, out)?;
    let town = dir.join("town");
    let store = dir.join("town-store");
    mamori(&["simulate".as_ref(), "--out".as_ref(), town.as_os_str(), "--seed".as_ref(), "1".as_ref()])?;
    writeln!(out, "== adapters: the default simulated town's logs (seed 1), one round ==")?;
    let table = adapters(&town, 300_000, 1, out)?;
    mamori(&["--data".as_ref(), store.as_os_str(), "init".as_ref(), store.as_os_str()])?;
    mamori(&["--data".as_ref(), store.as_os_str(), "master".as_ref(), "load".as_ref(), town.join("master").as_os_str()])?;
    for (source, log) in mamori_sim::LOGS {
        mamori(&["--data".as_ref(), store.as_os_str(), "import".as_ref(), "--source".as_ref(), source.as_ref(), "--config".as_ref(), town.join("mamori.toml").as_os_str(), town.join("logs").join(log).as_os_str()])?;
    }
    let rsigma = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("rsigma")).find(|p| p.is_file()));
    writeln!(out, "== detection: the town from scratch{} ==", if rsigma.is_some() { ", beside rsigma" } else { " (rsigma not on PATH: no comparison)" })?;
    let (detect_rate, detect_ratio) = detect(&store, Some(&town.join("detect.toml")), None, rsigma.as_deref(), 1, out)?;
    writeln!(out, "== disclosure: one resident's whole history with proofs, 300,000 events ==")?;
    let disclosure_p99 = disclosure(&dir.join("ingest").join("store"), 100, out)?;
    writeln!(out, "== streaming: serve --detect, 10,000 events/s for 20 s ==")?;
    let streaming = stream(&dir.join("stream"), 10_000, 20, 100, out)?;
    let (slowest, slowest_share) = table.iter().map(|(s, _, share)| (s.as_str(), *share)).min_by(|a, b| a.1.total_cmp(&b.1)).expect("thirteen sources");
    writeln!(out, "\n| figure | mamori | beside it | goal |\n|---|---|---|---|")?;
    writeln!(out, "| ingest | {ingest_rate:.0} events/s | {ingest_ratio:.2} of the plain-SQLite ceiling | ≥ 250,000/s and ≥ 0.50 |")?;
    writeln!(out, "| adapters | slowest {slowest} at {slowest_share:.2} of synthetic | mail includes attachment inspection | ≥ 0.50 |")?;
    writeln!(out, "| detection | {detect_rate:.0} events/s | {} | faster than rsigma |", detect_ratio.map_or("rsigma not on PATH".into(), |r| format!("{r:.2} × rsigma's rate")))?;
    writeln!(
        out,
        "| streaming | acknowledgement → finding p99 {:.0} ms at 10,000 events/s for 20 s | server memory {:.0} → {:.0} MiB (first → last fifth) | p99 < 1 s at 10,000/s, memory flat |",
        streaming.p99_ms, streaming.memory_first_mib, streaming.memory_last_mib
    )?;
    writeln!(out, "| disclosure | p99 {disclosure_p99:.1} ms at 300,000 events | — | p99 < 20 ms at 100 M |")?;
    writeln!(out, "whole run: {:.0} s", started.elapsed().as_secs_f64())?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// Waits up to a minute for `base`'s `/v1/health` to answer 200 (a server the bench
/// started, logging to `log`).
fn wait_healthy(agent: &ureq::Agent, base: &str, log: &Path) -> Result<()> {
    let up = Instant::now();
    while agent.get(format!("{base}/v1/health")).call().map_or(true, |r| r.status().as_u16() != 200) {
        anyhow::ensure!(up.elapsed() < Duration::from_secs(60), "the server did not answer within a minute (see {})", log.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A child process the bench started, killed however the bench ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bench cluster`: the clustered mode on this machine. A three-node JetStream cluster on
/// loopback (`nats-server`), `tenants` tenants with a fresh store each, and the front
/// (`serve --cluster`) in a process of its own. Then, one phase after the other:
/// - **publish**: a sender per tenant posts `batches` batches of `batch` record accesses
///   through the front, each answered after JetStream stored it on a majority of three
///   replicas: acknowledged events a second, and each POST's time;
/// - **import**: `workers` worker processes start on the published streams (no detection:
///   `bench detect` and `bench stream` measure that); from the first batch a worker
///   acknowledges to the last, events a second into the tenants' stores, lease pick-up
///   included;
/// - **bytes**: what the stream's replicas and the tenants' stores hold per event.
pub fn cluster(dir: &Path, tenants: usize, batches: u64, batch: u64, workers: usize, out: &mut impl Write) -> Result<()> {
    use anyhow::Context;
    anyhow::ensure!(!dir.exists(), "{} exists: give a new directory", dir.display());
    anyhow::ensure!(tenants > 0 && batches > 0 && batch > 0 && workers > 0, "--tenants, --batches, --batch and --workers must be above zero");
    let nats = mamori_cluster::local::LocalNats::start(&dir.join("nats"))?;
    let root = dir.join("root");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cluster = runtime.block_on(mamori_cluster::Cluster::connect(&nats.urls, "mamori-bench"))?;
    let mut keys = Vec::new();
    for t in 0..tenants {
        let name = format!("bench-{t}");
        let store = mamori_cluster::worker::tenant_dir(&root, &name);
        SqliteJournal::init(&store, &format!("mamori.bench/{name}"), mamori_journal::DEFAULT_SEGMENT_SHIFT, &dir.join(format!("{name}.signing.key")))?;
        std::fs::write(store.join("mamori.toml"), "[sources.bench]\nformat = \"ndjson\"\n")?;
        // JetStream elects its leaders a moment after the servers start.
        let up = Instant::now();
        while let Err(e) = runtime.block_on(cluster.add_tenant(&name, &["bench".to_owned()], 3, Duration::from_secs(3), Duration::ZERO)) {
            anyhow::ensure!(up.elapsed() < Duration::from_secs(60), "the cluster did not come up: {e:#}");
            std::thread::sleep(Duration::from_millis(300));
        }
        let (key, hash) = mamori_server::new_api_key();
        runtime.block_on(cluster.add_key(&hash, &mamori_cluster::KeyEntry { tenant: name, scope: "bench".into(), label: "bench".into() }))?;
        keys.push(key);
    }
    let (_front, base, agent) = start_cluster_front(dir, &nats.urls)?;
    // The batches are made before the clock starts: what is timed is the cluster.
    let bodies: Vec<Vec<String>> = (0..tenants).map(|t| (0..batches).map(|b| access_lines(b * batch, batch, START_MS + 9 * 3_600_000, 1000, &mut Mix(t as u64 * 1_000_003 + b))).collect()).collect();
    let started = Instant::now();
    let posts: Vec<Duration> = std::thread::scope(|s| -> Result<Vec<Duration>> {
        let senders: Vec<_> = bodies
            .iter()
            .zip(&keys)
            .map(|(bodies, key)| {
                let (agent, base) = (agent.clone(), base.clone());
                s.spawn(move || -> Result<Vec<Duration>> {
                    let mut times = Vec::new();
                    for (b, body) in bodies.iter().enumerate() {
                        let sent = Instant::now();
                        let mut r = agent.post(format!("{base}/v1/ingest/bench")).header("Authorization", &format!("Bearer {key}")).header("Idempotency-Key", &format!("b{b}")).send(body.as_bytes())?;
                        anyhow::ensure!(r.status().as_u16() == 200, "batch {b}: HTTP {}: {}", r.status(), r.body_mut().read_to_string().unwrap_or_default());
                        times.push(sent.elapsed());
                    }
                    Ok(times)
                })
            })
            .collect();
        let mut all = Vec::new();
        for s in senders {
            all.extend(s.join().expect("a sender")?);
        }
        Ok(all)
    })?;
    let publishing = started.elapsed().as_secs_f64();
    let events = tenants as u64 * batches * batch;
    let mut posts: Vec<f64> = posts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    posts.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    writeln!(
        out,
        "publish: {tenants} tenants × {batches} batches × {batch} events through the front, replicas 3: {events} events in {publishing:.1} s = {:.0} events/s acknowledged; POST p50 {:.0} ms, p99 {:.0} ms",
        events as f64 / publishing,
        pct(&posts, 0.5),
        pct(&posts, 0.99)
    )?;

    let _workers = start_cluster_workers(dir, &root, &nats.urls, workers, &["--fetch", "16"])?;
    let (mut first, started) = (None, Instant::now());
    loop {
        let status = runtime.block_on(cluster.status())?;
        let acknowledged: u64 = status.iter().map(|t| t.acknowledged).sum();
        if acknowledged > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if status.iter().all(|t| t.acknowledged == t.last_sequence) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "the workers did not finish within 30 minutes (see {})", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    let importing = first.context("a first acknowledgement")?.elapsed().as_secs_f64();
    writeln!(out, "import: {workers} worker(s), {events} events into {tenants} tenants' stores in {importing:.1} s = {:.0} events/s", events as f64 / importing)?;
    let mut stream_bytes = 0u64;
    for t in 0..tenants {
        let mut stream = runtime.block_on(cluster.jetstream().get_stream(mamori_cluster::ingest_stream(&format!("bench-{t}")))).map_err(|e| anyhow::anyhow!("{e}"))?;
        stream_bytes += runtime.block_on(stream.info()).map_err(|e| anyhow::anyhow!("{e}"))?.state.bytes;
    }
    let store_bytes: u64 = (0..tenants).map(|t| std::fs::metadata(mamori_cluster::worker::tenant_dir(&root, &format!("bench-{t}")).join("journal.db")).map_or(0, |m| m.len())).sum();
    writeln!(
        out,
        "bytes per event: stream {:.0} (each of 3 replicas), tenant store {:.0}",
        stream_bytes as f64 / events as f64,
        store_bytes as f64 / events as f64
    )?;
    Ok(())
}

/// The store a streaming bench starts from: the bench master data, the probe rule in
/// `rules`, and a day before the stream judged as a town's detection would have (the model
/// learned from it, every employee's habits in the state streaming detection goes on from).
fn warm_up_probe_store(j: &mut SqliteJournal, rules: &Path, dir: &Path, out: &mut impl Write) -> Result<()> {
    std::fs::create_dir_all(rules)?;
    std::fs::write(
        rules.join("probe.yml"),
        format!("title: bench stream probe\nid: {PROBE_RULE}\nstatus: experimental\nlogsource:\n  product: mamori\nlevel: low\ndetection:\n  sel:\n    Operation|startswith: '{PROBE_OPERATION}'\n  condition: sel\n"),
    )?;
    store_bench_master(j)?;
    let warm_up = dir.join("day-before.ndjson");
    std::fs::write(&warm_up, access_lines(0, WARM_UP_EVENTS, START_MS + 9 * 3_600_000, WARM_UP_EVENTS / (8 * 3600), &mut Mix(6)))?;
    import_ndjson(j, &warm_up, &ImportOptions { source: "bench".into(), ..Default::default() }, &mut |_, _| {})?;
    std::fs::remove_file(&warm_up)?;
    let warmed = mamori_app::detect::run(j, mamori_detect::Config::default(), Some(rules), false)?;
    writeln!(out, "day before: {WARM_UP_EVENTS} events judged ({:.1} % of record accesses explained), model learned", 100.0 * warmed.explained as f64 / warmed.accesses.max(1) as f64)?;
    Ok(())
}

/// Times event → finding through the cluster (docs/cluster.md): a three-node JetStream
/// cluster on loopback, one tenant with the bench master data and the probe rule in its
/// own `sigma/`, the front and WORKERS workers with `--detect` in processes of their own;
/// RATE events a second in a batch every BATCH_MS for SECONDS, each batch's last event a
/// probe. From each batch's acknowledgement by the front to the moment a subscriber of
/// `mamori.<tenant>.findings` receives the probe finding that includes it.
pub fn cluster_latency(dir: &Path, rate: u64, seconds: u64, batch_ms: u64, workers: usize, out: &mut impl Write) -> Result<()> {
    use futures_util::StreamExt;
    anyhow::ensure!(!dir.exists(), "{} exists: give a new directory", dir.display());
    anyhow::ensure!(rate > 0 && seconds > 0 && (1..=10_000).contains(&batch_ms) && workers > 0, "--rate, --seconds and --workers must be above zero, --batch-ms 1–10000");
    let (per_batch, batches) = ((rate * batch_ms / 1000).max(1), seconds * 1000 / batch_ms);
    let nats = mamori_cluster::local::LocalNats::start(&dir.join("nats"))?;
    let (root, tenant) = (dir.join("root"), "latency");
    let store = mamori_cluster::worker::tenant_dir(&root, tenant);
    let mut j = SqliteJournal::init(&store, "mamori.bench/latency", mamori_journal::DEFAULT_SEGMENT_SHIFT, &dir.join("signing.key"))?;
    warm_up_probe_store(&mut j, &store.join("sigma"), dir, out)?;
    drop(j);
    std::fs::write(store.join("mamori.toml"), "[sources.bench]\nformat = \"ndjson\"\n")?;
    // The subscriber is polled all along: a runtime with a thread of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let cluster = runtime.block_on(mamori_cluster::Cluster::connect(&nats.urls, "mamori-bench"))?;
    let up = Instant::now();
    while let Err(e) = runtime.block_on(cluster.add_tenant(tenant, &["bench".to_owned()], 3, Duration::from_secs(3), Duration::ZERO)) {
        anyhow::ensure!(up.elapsed() < Duration::from_secs(60), "the cluster did not come up: {e:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let (key, hash) = mamori_server::new_api_key();
    runtime.block_on(cluster.add_key(&hash, &mamori_cluster::KeyEntry { tenant: tenant.into(), scope: "bench".into(), label: "bench".into() }))?;
    // Each probe finding received: when, and how many probes it holds.
    let received: std::sync::Arc<std::sync::Mutex<Vec<(Instant, usize)>>> = Default::default();
    let mut findings = runtime.block_on(cluster.client().subscribe(mamori_cluster::findings_subject(tenant))).map_err(|e| anyhow::anyhow!("subscribing: {e}"))?;
    let probe_id = format!("sigma:{PROBE_RULE}:E0000");
    let sink = received.clone();
    runtime.spawn(async move {
        while let Some(m) = findings.next().await {
            let at = Instant::now();
            if let Ok(f) = serde_json::from_slice::<mamori_model::Finding>(&m.payload)
                && f.id == probe_id
            {
                sink.lock().expect("not poisoned").push((at, f.evidence.len()));
            }
        }
    });
    let (_front, base, agent) = start_cluster_front(dir, &nats.urls)?;
    let _workers = start_cluster_workers(dir, &root, &nats.urls, workers, &["--detect"])?;
    let post = |name: &str, body: &str| -> Result<()> {
        let mut r = agent.post(format!("{base}/v1/ingest/bench")).header("Authorization", &format!("Bearer {key}")).header("Idempotency-Key", name).send(body.as_bytes())?;
        anyhow::ensure!(r.status().as_u16() == 200, "batch {name}: HTTP {}", r.status());
        std::hint::black_box(r.body_mut().read_to_vec()?);
        Ok(())
    };
    let most = || received.lock().expect("not poisoned").iter().map(|(_, n)| *n).max().unwrap_or(0);
    // One probe before the clock starts: a worker has taken the tenant and loaded what
    // detection needs.
    let day = START_MS + 86_400_000 + 9 * 3_600_000;
    let primed = Instant::now();
    post("prime", &access_lines(WARM_UP_EVENTS, 1, day - 60_000, rate, &mut Mix(5)))?;
    let mut before = 0;
    while before == 0 || primed.elapsed() < Duration::from_secs(2) && most() > before {
        anyhow::ensure!(primed.elapsed() < Duration::from_secs(300), "no probe finding was published within five minutes (see {})", dir.display());
        std::thread::sleep(Duration::from_millis(50));
        before = most();
    }
    writeln!(out, "a worker took the tenant and published its first finding {:.1} s after the first batch", primed.elapsed().as_secs_f64())?;
    let start = Instant::now();
    let mut rng = Mix(7);
    let mut acked = Vec::new();
    for b in 0..batches {
        let body = access_lines(WARM_UP_EVENTS + 1 + b * per_batch, per_batch, day + b * per_batch * 1000 / rate, rate, &mut rng);
        if let Some(wait) = (start + Duration::from_millis(b * batch_ms)).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        post(&format!("stream-{b}"), &body)?;
        acked.push(Instant::now());
    }
    let sending = acked.last().map_or(0.0, |a| a.duration_since(start).as_secs_f64());
    let waited = Instant::now();
    while most() < before + batches as usize && waited.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let received = received.lock().expect("not poisoned").clone();
    let mut latency = Vec::new();
    for (b, a) in acked.iter().enumerate() {
        let seen = received.iter().filter(|(_, n)| *n >= before + b + 1).map(|(t, _)| *t).min().ok_or_else(|| anyhow::anyhow!("batch {b}'s probe finding was not received within two minutes of the last batch"))?;
        latency.push(seen.saturating_duration_since(*a).as_secs_f64() * 1000.0);
    }
    latency.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    writeln!(out, "stream: {batches} batches of {per_batch} events every {batch_ms} ms ({rate} events/s asked) in {sending:.1} s = {:.0} events/s acknowledged", (batches * per_batch) as f64 / sending.max(1e-9))?;
    writeln!(out, "acknowledgement by the front → probe finding received from mamori.{tenant}.findings: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", pct(&latency, 0.5), pct(&latency, 0.99), pct(&latency, 1.0))?;
    Ok(())
}

/// `serve --cluster` in a process of its own on a free loopback port, once it answers:
/// the process, its base URL, and a client for it.
fn start_cluster_front(dir: &Path, urls: &str) -> Result<(Child, String, ureq::Agent)> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let front = Child(
        std::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--cluster", urls, "--listen", &addr.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("front.log"))?)
            .spawn()?,
    );
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).http_status_as_error(false).build().into();
    wait_healthy(&agent, &base, &dir.join("front.log"))?;
    Ok((front, base, agent))
}

/// `count` `mamori worker` processes on the tenants under `root`, each logging to
/// `dir/worker-N.log`.
fn start_cluster_workers(dir: &Path, root: &Path, urls: &str, count: usize, extra: &[&str]) -> Result<Vec<Child>> {
    (0..count)
        .map(|w| -> Result<Child> {
            Ok(Child(
                std::process::Command::new(std::env::current_exe()?)
                    .arg("--data")
                    .arg(root)
                    .args(["worker", "--nats", urls, "--name", &format!("bench-worker-{w}")])
                    .args(extra)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::fs::File::create(dir.join(format!("worker-{w}.log")))?)
                    .spawn()?,
            ))
        })
        .collect()
}

/// Times the archive (docs/archive.md) on a year of a 200,000-resident town: EVENTS
/// synthetic record accesses spread evenly over 365 days imported into a fresh store under
/// DIR, its sealed segments exported to Parquet under DIR/archive, then LOOKUPS residents'
/// whole-year disclosures answered from the archive in process and from the embedded
/// store, and SPARK of them through the PySpark job, every entry proven.
pub fn archive(dir: &Path, events: u64, lookups: u64, spark: u64, out: &mut impl Write) -> Result<()> {
    use mamori_app::archive::Engine;
    let (file, data, location) = (dir.join("year.ndjson"), dir.join("store"), dir.join("archive"));
    let location = location.to_str().expect("UTF-8 path").to_owned();
    if !data.join("journal.db").is_file() {
        std::fs::create_dir_all(dir)?;
        let year_ms: u64 = 365 * 86_400_000;
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
        let mut rng = Mix(17);
        for i in 0..events {
            w.write_all(event_line_at(i, START_MS + i * (year_ms / events), &mut rng).as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        let mut journal = SqliteJournal::init(&data, "mamori.bench/log", mamori_journal::DEFAULT_SEGMENT_SHIFT, &data.join("checkpoint.key"))?;
        let start = Instant::now();
        let options = ImportOptions { source: "bench".into(), ..Default::default() };
        import_ndjson(&mut journal, &file, &options, &mut |_, _| {})?;
        writeln!(out, "imported {events} record accesses over 365 days in {:.1} s", start.elapsed().as_secs_f64())?;
        store_bench_master(&mut journal)?;
        std::fs::remove_file(&file)?;
    }
    let mut journal = SqliteJournal::open(&data)?;
    // Each run exports the whole store again, into an empty archive.
    if Path::new(&location).exists() {
        std::fs::remove_dir_all(&location)?;
    }
    let start = Instant::now();
    let report = mamori_app::archive::export(&mut journal, &location, "bench")?;
    let export_s = start.elapsed().as_secs_f64();
    let archive = mamori_archive::Archive::open(&location, "bench")?;
    let manifest = archive.manifest()?.ok_or_else(|| anyhow::anyhow!("nothing archived"))?;
    let db = std::fs::metadata(data.join("journal.db"))?.len() + std::fs::metadata(data.join("journal.db-wal")).map_or(0, |m| m.len());
    let stored = journal.latest_checkpoint()?.map_or(0, |c| c.size);
    writeln!(
        out,
        "export: {} segments ({} events) in {export_s:.1} s ({:.0} events/s); archive {} events in {} files, {:.1} MiB, {:.1} bytes/event in Parquet (store {:.1} bytes/event)",
        report.segments,
        report.events,
        report.events as f64 / export_s.max(1e-9),
        manifest.events(),
        manifest.files().count(),
        manifest.bytes() as f64 / 1048576.0,
        manifest.bytes() as f64 / manifest.events().max(1) as f64,
        db as f64 / stored.max(1) as f64,
    )?;
    let mut rng = Mix(23);
    let residents: Vec<String> = (0..lookups.max(spark)).map(|_| format!("{:09}", rng.below(RESIDENTS))).collect();
    let pct = |times: &mut Vec<f64>, p: f64| {
        times.sort_by(f64::total_cmp);
        times[((times.len() - 1) as f64 * p) as usize]
    };
    let (mut archived, mut embedded, mut entries, mut files_opened, mut groups_read) = (Vec::new(), Vec::new(), 0usize, 0u64, 0u64);
    for resident in residents.iter().take(lookups as usize) {
        let r = bench_request(resident);
        let start = Instant::now();
        let (d, answer) = mamori_app::archive::disclosure(&journal, &location, "bench", Engine::Parquet, &r)?;
        archived.push(start.elapsed().as_secs_f64() * 1000.0);
        let start = Instant::now();
        let e = crate::report::disclosure(&journal, &r)?;
        embedded.push(start.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(d.entries.len() == e.entries.len(), "resident {resident}: {} entries from the archive, {} from the store", d.entries.len(), e.entries.len());
        entries += d.entries.len();
        if let Some(s) = answer.stats {
            files_opened += s.files_opened;
            groups_read += s.row_groups_read;
        }
    }
    if lookups > 0 {
        let n = lookups as f64;
        writeln!(
            out,
            "disclosure of one resident's year, {lookups} residents, {:.1} entries each, proven: archive (in process) p50 {:.1} ms, p99 {:.1} ms; embedded store p50 {:.1} ms, p99 {:.1} ms; files opened {:.1} of {}, row groups read {:.1} per resident",
            entries as f64 / n,
            pct(&mut archived, 0.5),
            pct(&mut archived, 0.99),
            pct(&mut embedded, 0.5),
            pct(&mut embedded, 0.99),
            files_opened as f64 / n,
            manifest.files().count(),
            groups_read as f64 / n,
        )?;
    }
    let mut sparked = Vec::new();
    for resident in residents.iter().take(spark as usize) {
        let r = bench_request(resident);
        let start = Instant::now();
        let (d, _) = mamori_app::archive::disclosure(&journal, &location, "bench", Engine::Spark, &r)?;
        sparked.push(start.elapsed().as_secs_f64());
        let e = crate::report::disclosure(&journal, &r)?;
        anyhow::ensure!(d.entries.len() == e.entries.len(), "resident {resident}: {} entries through Spark, {} from the store", d.entries.len(), e.entries.len());
    }
    if spark > 0 {
        writeln!(out, "disclosure through the PySpark job (local[2], JVM start included), {spark} residents: min {:.1} s, median {:.1} s", pct(&mut sparked, 0.0), pct(&mut sparked, 0.5))?;
    }
    Ok(())
}

/// A whole-history disclosure request for the benches.
fn bench_request(resident: &str) -> crate::report::Request<'_> {
    crate::report::Request { resident, range: TimeRange::ALL, from: String::new(), to: String::new(), request_no: "BENCH".into(), policy: mamori_report::OperatorPolicy::Withheld }
}
