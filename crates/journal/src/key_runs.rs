//! Key runs: every resident's and account's entries of many sealed segments, in one table
//! sorted by key, so that a query by key costs one look-up per run rather than one per
//! segment (1,526 segments at 100 M events; ~9 µs each at 30 M, the part of a disclosure
//! that grew with the store).
//!
//! LSM-style levels, aligned: a level-1 run holds 16 sealed segments (`ev_` tables), a
//! level-2 run 16 level-1 runs (256 segments), and so on. A run is built in chunks of key
//! ranges, each merging its children's rows in key order and appending them, so every
//! chunk writes at the B-tree's right edge; the chunks are spread over appends
//! (`SqliteJournal::append` spends a budget proportional to its batch), so no append waits
//! for a whole merge. A run is used only when finished; finishing a level-1 run drops its
//! segments' resident and account indexes (the run answers for them), finishing a higher
//! one drops its children. Rows are (key, time, seq): keys are the dictionary's ids, which
//! are distinct across kinds, so one column holds actors and residents alike.
//!
//! Nothing here is trusted: `check` (run by `verify`) proves that each finished run holds
//! exactly its segments' entries, so a run with an entry removed, which would hide an
//! access from a disclosure, fails verification.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::JournalError;
use crate::sqlite::segment_table;

/// 16 children per run.
const FANOUT_SHIFT: u32 = 4;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS key_runs(id INTEGER PRIMARY KEY, level INTEGER NOT NULL, first_seg INTEGER NOT NULL,
                                    rows INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
                                    next_key INTEGER NOT NULL DEFAULT 0, end_key INTEGER NOT NULL);";

pub(crate) fn run_table(id: i64) -> String {
    format!("key_run_{id:06}")
}

/// Levels there can be: 16^15 segments is past any store.
const TOP_LEVEL: u32 = 15;

/// How many segments a run of `level` covers.
fn span(level: u32) -> u64 {
    1 << (FANOUT_SHIFT * level.min(TOP_LEVEL))
}

struct Run {
    id: i64,
    level: u32,
    first_seg: u64,
    rows: i64,
    done: bool,
    next_key: i64,
    end_key: i64,
}

fn runs(conn: &Connection) -> Result<Vec<Run>, JournalError> {
    let mut stmt = conn.prepare_cached("SELECT id, level, first_seg, rows, done, next_key, end_key FROM key_runs ORDER BY level, first_seg")?;
    let rows = stmt.query_map([], |r| {
        Ok(Run {
            id: r.get(0)?,
            level: r.get::<_, i64>(1)? as u32,
            first_seg: r.get::<_, i64>(2)? as u64,
            rows: r.get(3)?,
            done: r.get::<_, i64>(4)? == 1,
            next_key: r.get(5)?,
            end_key: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn finished(all: &[Run]) -> HashMap<(u32, u64), i64> {
    all.iter().filter(|r| r.done && (1..=TOP_LEVEL).contains(&r.level) && r.first_seg.is_multiple_of(span(r.level))).map(|r| ((r.level, r.first_seg), r.id)).collect()
}

/// Where a query by key reads: a finished run, or one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Run(i64),
    Segment(u64),
}

/// The units that hold every entry of `segments` (ids, ascending), each once: the
/// highest-level finished run holding a segment, else the segment itself.
pub(crate) fn cover(conn: &Connection, segments: &[u64]) -> Result<Vec<Unit>, JournalError> {
    let done = finished(&runs(conn)?);
    let top = done.keys().map(|&(level, _)| level).max().unwrap_or(0);
    let mut units = Vec::new();
    let mut covered_until = 0u64;
    for &seg in segments {
        if seg < covered_until {
            continue;
        }
        let run = (1..=top).rev().find_map(|level| {
            let first = seg - seg % span(level);
            done.get(&(level, first)).map(|&id| (id, first + span(level)))
        });
        match run {
            Some((id, end)) => {
                units.push(Unit::Run(id));
                covered_until = end;
            }
            None => units.push(Unit::Segment(seg)),
        }
    }
    Ok(units)
}

/// What a run is built from.
fn children(run: &Run, done: &HashMap<(u32, u64), i64>) -> Option<Vec<Unit>> {
    let n = span(run.level - 1);
    (0..1u64 << FANOUT_SHIFT)
        .map(|i| {
            let first = run.first_seg + i * n;
            if run.level == 1 { Some(Unit::Segment(first)) } else { done.get(&(run.level - 1, first)).map(|&id| Unit::Run(id)) }
        })
        .collect()
}

/// The run to work on next: one begun, else the lowest-level block of `sealed` (segments
/// 0..sealed are sealed) whose children are all there and that no finished run holds.
fn next_job(conn: &Connection, sealed: u64) -> Result<Option<(Run, Vec<Unit>)>, JournalError> {
    let all = runs(conn)?;
    let done = finished(&all);
    if let Some(begun) = all.into_iter().find(|r| !r.done && (1..=TOP_LEVEL).contains(&r.level)) {
        return Ok(match children(&begun, &done) {
            Some(c) => Some((begun, c)),
            // Its children went (a higher run finished meanwhile cannot, since it would need
            // this one): nothing to build it from; dropping it lets the levels go on.
            None => {
                conn.execute("DELETE FROM key_runs WHERE id = ?1", [begun.id])?;
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", run_table(begun.id)))?;
                None
            }
        });
    }
    let held = |level: u32, first: u64| (level..=TOP_LEVEL).any(|l| done.contains_key(&(l, first - first % span(l))));
    let mut level = 1;
    while level <= TOP_LEVEL && span(level) <= sealed {
        for b in 0..sealed / span(level) {
            let first = b * span(level);
            if held(level, first) {
                continue;
            }
            let run = Run { id: 0, level, first_seg: first, rows: 0, done: false, next_key: 0, end_key: 0 };
            if let Some(c) = children(&run, &done) {
                let end_key: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM keys", [], |r| r.get(0))?;
                conn.execute("INSERT INTO key_runs(level, first_seg, end_key) VALUES (?1, ?2, ?3)", params![level, first as i64, end_key])?;
                let id = conn.last_insert_rowid();
                // A table of the same name may be left by a run whose row someone removed.
                conn.execute_batch(&format!(
                    "DROP TABLE IF EXISTS {0}; CREATE TABLE {0}(key INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(key, time, seq)) WITHOUT ROWID;",
                    run_table(id)
                ))?;
                if level == 1 {
                    // Indexes a segment dropped when a run it was in finished come back to
                    // build a new run (only after someone removed that run).
                    for seg in first..first + span(1) {
                        ensure_segment_key_indexes(conn, seg)?;
                    }
                }
                return Ok(Some((Run { id, end_key, ..run }, c)));
            }
        }
        level += 1;
    }
    Ok(None)
}

/// A segment's resident and account indexes (made with the segment; dropped when a
/// finished level-1 run answers for it).
pub(crate) fn ensure_segment_key_indexes(conn: &Connection, seg: u64) -> Result<(), JournalError> {
    let t = segment_table(seg);
    conn.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS {t}_resident ON {t}(resident, time) WHERE resident IS NOT NULL;
         CREATE INDEX IF NOT EXISTS {t}_actor ON {t}(actor, time);"
    ))?;
    Ok(())
}

/// The rows of `units` with keys in [?1, ?2), as (key, time, seq).
fn rows_sql(units: &[Unit]) -> String {
    units
        .iter()
        .map(|u| match *u {
            Unit::Segment(s) => {
                let t = segment_table(s);
                format!(
                    "SELECT actor, time, seq FROM {t} WHERE actor >= ?1 AND actor < ?2 \
                     UNION ALL SELECT resident, time, seq FROM {t} WHERE resident >= ?1 AND resident < ?2"
                )
            }
            Unit::Run(id) => format!("SELECT key, time, seq FROM {} WHERE key >= ?1 AND key < ?2", run_table(id)),
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Rows a chunk aims at: a few tenths of a second of work.
const CHUNK_ROWS: u64 = 1 << 17;

/// Builds runs for about `budget` rows inside the write transaction `conn` is in.
/// `sealed`: segments 0..sealed are sealed. Returns whether work remains.
pub(crate) fn compact_step(conn: &Connection, sealed: u64, segment_shift: u32, budget: u64) -> Result<bool, JournalError> {
    let mut spent = 0u64;
    while spent < budget {
        let Some((mut run, units)) = next_job(conn, sealed)? else { return Ok(false) };
        let child_rows: u64 = if run.level == 1 {
            // An estimate: every event has an actor, most a resident.
            (2u64 << segment_shift) * units.len() as u64
        } else {
            let (from, to) = (run.first_seg as i64, (run.first_seg + span(run.level)) as i64);
            let total: i64 = conn.query_row(
                "SELECT COALESCE(SUM(rows), 0) FROM key_runs WHERE done = 1 AND level = ?1 AND first_seg >= ?2 AND first_seg < ?3",
                params![run.level - 1, from, to],
                |r| r.get(0),
            )?;
            total.max(1) as u64
        };
        // Keys per chunk, from the rows per key so far; corrected after each chunk. A chunk
        // is no bigger than the step's budget, so an append's share stays its share.
        let target = CHUNK_ROWS.min(budget).max(1024) as f64;
        let mut keys = (target * run.end_key as f64 / child_rows as f64).ceil().max(1.0) as i64;
        let insert = format!("INSERT INTO {}(key, time, seq) SELECT * FROM ({}) ORDER BY 1, 2, 3", run_table(run.id), rows_sql(&units));
        let mut stmt = conn.prepare(&insert)?;
        while run.next_key < run.end_key && spent < budget {
            let to = run.next_key.saturating_add(keys).min(run.end_key);
            let n = stmt.execute(params![run.next_key, to])? as u64;
            spent += n.max(1);
            run.rows += n as i64;
            run.next_key = to;
            keys = ((keys as f64) * target / n.max(1) as f64).clamp(1.0, (keys as f64) * 4.0) as i64;
        }
        drop(stmt);
        let finished_now = run.next_key >= run.end_key;
        conn.execute("UPDATE key_runs SET rows = ?2, next_key = ?3, done = ?4 WHERE id = ?1", params![run.id, run.rows, run.next_key, finished_now as i64])?;
        if finished_now {
            for unit in &units {
                match *unit {
                    // The run answers for the segment's keys now; its time index stays.
                    Unit::Segment(s) => {
                        let t = segment_table(s);
                        conn.execute_batch(&format!("DROP INDEX IF EXISTS {t}_resident; DROP INDEX IF EXISTS {t}_actor;"))?;
                    }
                    Unit::Run(id) => {
                        conn.execute("DELETE FROM key_runs WHERE id = ?1", [id])?;
                        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", run_table(id)))?;
                    }
                }
            }
        }
    }
    Ok(true)
}

/// Runs by level: (level, finished runs, rows in them, runs being built).
pub(crate) fn summary(conn: &Connection) -> Result<Vec<(u32, u64, u64, u64)>, JournalError> {
    let mut by_level: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
    for r in runs(conn)? {
        let e = by_level.entry(r.level).or_default();
        if r.done {
            e.0 += 1;
            e.1 += r.rows.max(0) as u64;
        } else {
            e.2 += 1;
        }
    }
    Ok(by_level.into_iter().map(|(l, (d, rows, b))| (l, d, rows, b)).collect())
}

/// Why the finished runs do not hold exactly their segments' entries, if they do not.
/// `sealed`: segments 0..sealed are sealed. Each segment's own columns were checked
/// against its events before this is called.
pub(crate) fn check(conn: &Connection, sealed: u64) -> Result<Option<String>, JournalError> {
    for run in runs(conn)?.into_iter().filter(|r| r.done) {
        let n = span(run.level);
        let (first, last) = (run.first_seg, run.first_seg.saturating_add(n - 1));
        let name = format!("key run {} (level {}, segments {first}..={last})", run.id, run.level);
        if !(1..=TOP_LEVEL).contains(&run.level) || !first.is_multiple_of(n) || last >= sealed {
            return Ok(Some(format!("{name} does not cover whole sealed segments")));
        }
        let table = run_table(run.id);
        let held: Option<i64> = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).optional().ok().flatten();
        let Some(held) = held else { return Ok(Some(format!("{name} is recorded but its table is gone"))) };
        let mut expected = 0i64;
        for seg in first..=last {
            let t = segment_table(seg);
            let (events, with_resident): (i64, i64) = conn.query_row(&format!("SELECT count(*), count(resident) FROM {t}"), [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            expected += events + with_resident;
            let missing: i64 = conn.query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM {t} s WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.key = s.actor AND r.time = s.time AND r.seq = s.seq))
                          + (SELECT count(*) FROM {t} s WHERE s.resident IS NOT NULL
                               AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.key = s.resident AND r.time = s.time AND r.seq = s.seq))"
                ),
                [],
                |r| r.get(0),
            )?;
            if missing > 0 {
                return Ok(Some(format!(
                    "{name} lacks {missing} of segment {seg}'s resident and account entries: queries by resident or account would miss those events"
                )));
            }
        }
        if held != expected {
            return Ok(Some(format!("{name} holds {held} entries where its segments have {expected}: it lists events that are not there")));
        }
    }
    Ok(None)
}
