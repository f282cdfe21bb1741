//! The embedded journal: one SQLite database (WAL) in the data directory.
//!
//! Events live in segment tables of 2^k consecutive sequence numbers (`ev_000000`,
//! `ev_000001` …). Each segment has its own small indexes (resident, actor, time) on
//! integer keys from a dictionary table, so an append dirties only the current
//! segment's index pages and the insert rate does not fall as the store grows (see
//! `../shared/MEASUREMENTS.md` for the figures behind this layout). Sealed segments'
//! resident and account entries are merged into key runs (`key_runs`), so a query by key
//! does one look-up per run and per segment not yet in one, not one per segment.
//!
//! The Merkle tree's hashes are stored as C2SP tiles (`tiles`), and every append ends
//! with a signed checkpoint (`checkpoints`), in the same transaction as the events,
//! their dead letters and the stream cursor: a crash leaves either all of a batch or
//! none of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tlog_tiles::{prove_record, prove_tree};

use crate::checkpoint::{CheckpointKey, SignedCheckpoint, check_checkpoint};
use crate::body_codec::{self, BodyDecoder, BodyEncoder};
use crate::key_runs::{self, Unit};
use crate::merkle::{Frontier, KnownHashes, StoredTile, TILE_HEIGHT, TILE_WIDTH, TileBuilder, TileHashReader, hex, hex_bytes, leaf_hash, mid_row, sha256_hex, tile_key, unhex};
use crate::{
    ApiKeyRow, UserRow, WitnessEntry,
    Batch, ConsistencyProof, DeadLetter, InclusionProof, IndexKeys, Journal, JournalError, Receipt,
    PreparedEvent, SegmentRow, StoredEvent, StreamCursor, TimeRange, VerifyFailure, VerifyReport,
};

/// The store's database file inside its directory.
pub const DB_FILE: &str = "journal.db";
const KEY_FILE: &str = "checkpoint.key";
/// The environment variable naming the signing key's file, over the path kept at `init`.
pub const KEY_ENV: &str = "MAMORI_SIGNING_KEY";
const SCHEMA_VERSION: &str = "1";
/// 2^16 events per segment. The insert rate depends on the written segment's indexes
/// staying cache-sized: measured on 1 M events, 2^16 ran at ~93k events/s, 2^18 at ~60k,
/// 2^20 at ~47k (BENCHMARKS.md). The price is query fan-out: one index look-up per
/// segment overlapping the queried time range.
pub const DEFAULT_SEGMENT_SHIFT: u32 = 16;
/// Key-run rows merged per event appended: each event has about two (its account, most
/// also a resident) at each of the levels 100 M events need (three), so eight keeps pace.
const COMPACTION_ROWS_PER_EVENT: u64 = 8;

const KEY_ACTOR: i64 = 1;
const KEY_RESIDENT: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE segments(id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, count INTEGER NOT NULL,
                      min_time INTEGER NOT NULL, max_time INTEGER NOT NULL);
CREATE TABLE keys(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, text TEXT NOT NULL, UNIQUE(kind, text));
CREATE TABLE tiles(id INTEGER PRIMARY KEY, data BLOB NOT NULL, mid BLOB);
CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE dead_letters(id INTEGER PRIMARY KEY, source TEXT NOT NULL, file TEXT NOT NULL,
                          line INTEGER NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL, record_seq INTEGER);
CREATE TABLE cursors(stream TEXT PRIMARY KEY, offset INTEGER NOT NULL, line INTEGER NOT NULL,
                     prefix_sha256 BLOB NOT NULL, complete_sha256 BLOB);
CREATE INDEX cursors_by_content ON cursors(complete_sha256) WHERE complete_sha256 IS NOT NULL;
CREATE TABLE master(kind TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(kind, seq));
";

/// Tables added after schema 1 was first released; created when missing at open.
const ADDITIONS: &str = "
CREATE TABLE IF NOT EXISTS api_keys(key_sha256 BLOB PRIMARY KEY, source TEXT NOT NULL, created INTEGER NOT NULL,
                                    label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS findings(id TEXT PRIMARY KEY, rank INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS explanations(seq INTEGER PRIMARY KEY, employee TEXT, explanation TEXT);
CREATE TABLE IF NOT EXISTS explanation_chunks(chunk INTEGER PRIMARY KEY, rows INTEGER NOT NULL, sha256 BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tags(kind TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(kind, key, seq));
CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, phc TEXT NOT NULL, role TEXT NOT NULL, created INTEGER NOT NULL,
                                 department TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS detect_state(id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL,
                                        watermark INTEGER NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS master_keys(kind TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(kind, key, seq));
CREATE TABLE IF NOT EXISTS witnesses(name TEXT PRIMARY KEY, vkey TEXT NOT NULL, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosignatures(witness TEXT NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL, PRIMARY KEY(witness, size));
";

/// Adds one row to a digest, every column typed (NULL apart from "").
fn hash_row(h: &mut sha2::Sha256, r: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<()> {
    use sha2::Digest;
    for i in 0..columns {
        match r.get_ref(i)? {
            rusqlite::types::ValueRef::Null => h.update([0x00]),
            rusqlite::types::ValueRef::Integer(v) => {
                h.update([0x02]);
                h.update(v.to_be_bytes());
            }
            rusqlite::types::ValueRef::Real(v) => {
                h.update([0x03]);
                h.update(v.to_bits().to_be_bytes());
            }
            rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                h.update([0x01]);
                h.update(t);
            }
        }
        h.update([0x1f]);
    }
    h.update([0x1e]);
    Ok(())
}

/// Row count and SHA-256 of a query's rows, every column as text (NULL apart from "").
fn table_digest(conn: &Connection, sql: &str) -> Result<serde_json::Value, JournalError> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    let mut stmt = conn.prepare(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        n += 1;
        hash_row(&mut h, r, columns)?;
    }
    Ok(serde_json::json!({"rows": n, "sha256": hex_bytes(&h.finalize())}))
}

/// The explanations table is digested in chunks of 2^this event ids: a detection step
/// re-hashes the chunks its verdicts fall in, and the digest it records is the hash of
/// every chunk's (number, rows, SHA-256) — a streaming step costs its own verdicts, not
/// the whole table's. `verify` recomputes it from the rows.
const EXPLANATION_CHUNK_SHIFT: u32 = 12;
const EXPLANATION_ROWS: &str = "SELECT seq, employee, explanation FROM explanations";

/// The recorded form of the chunked explanations digest, from (chunk, rows, SHA-256) in
/// chunk order.
fn chunked_digest(chunks: impl Iterator<Item = (i64, u64, [u8; 32])>) -> serde_json::Value {
    use sha2::Digest;
    let (mut top, mut total) = (sha2::Sha256::new(), 0u64);
    for (chunk, rows, sha) in chunks {
        top.update(chunk.to_be_bytes());
        top.update(rows.to_be_bytes());
        top.update(sha);
        total += rows;
    }
    serde_json::json!({"rows": total, "sha256": hex_bytes(&top.finalize()), "chunk_shift": EXPLANATION_CHUNK_SHIFT})
}

/// The chunked explanations digest recomputed from every row (what `verify` trusts).
fn explanations_digest_from_rows(conn: &Connection) -> Result<serde_json::Value, JournalError> {
    use sha2::Digest;
    let mut stmt = conn.prepare(&format!("{EXPLANATION_ROWS} ORDER BY seq"))?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut chunks: Vec<(i64, u64, [u8; 32])> = Vec::new();
    let mut current: Option<(i64, u64, sha2::Sha256)> = None;
    while let Some(r) = rows.next()? {
        let chunk = r.get::<_, i64>(0)? >> EXPLANATION_CHUNK_SHIFT;
        if current.as_ref().is_some_and(|c| c.0 != chunk)
            && let Some((c, n, h)) = current.take()
        {
            chunks.push((c, n, h.finalize().into()));
        }
        let c = current.get_or_insert_with(|| (chunk, 0, sha2::Sha256::new()));
        c.1 += 1;
        hash_row(&mut c.2, r, columns)?;
    }
    if let Some((c, n, h)) = current {
        chunks.push((c, n, h.finalize().into()));
    }
    Ok(chunked_digest(chunks.into_iter()))
}

/// Re-hashes the given explanation chunks into `explanation_chunks` (a chunk left with
/// no rows is removed).
fn rehash_explanation_chunks(tx: &Connection, chunks: impl Iterator<Item = i64>) -> Result<(), JournalError> {
    use sha2::Digest;
    let mut read = tx.prepare_cached(&format!("{EXPLANATION_ROWS} WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"))?;
    let mut put = tx.prepare_cached("INSERT OR REPLACE INTO explanation_chunks(chunk, rows, sha256) VALUES (?1, ?2, ?3)")?;
    let mut drop = tx.prepare_cached("DELETE FROM explanation_chunks WHERE chunk = ?1")?;
    for chunk in chunks {
        let columns = read.column_count();
        let mut rows = read.query(params![chunk << EXPLANATION_CHUNK_SHIFT, (chunk + 1) << EXPLANATION_CHUNK_SHIFT])?;
        let (mut h, mut n) = (sha2::Sha256::new(), 0i64);
        while let Some(r) = rows.next()? {
            n += 1;
            hash_row(&mut h, r, columns)?;
        }
        if n == 0 {
            drop.execute([chunk])?;
        } else {
            put.execute(params![chunk, n, h.finalize().as_slice()])?;
        }
    }
    Ok(())
}

/// What a detection run records of the tables it wrote: the findings and the state
/// whole, the explanations from their chunks' digests (kept current by the run).
fn detection_digests(conn: &Connection) -> Result<serde_json::Value, JournalError> {
    let mut stmt = conn.prepare_cached("SELECT chunk, rows, sha256 FROM explanation_chunks ORDER BY chunk")?;
    let chunks = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, Vec<u8>>(2)?)))?
        .map(|row| row.map(|(c, n, sha)| (c, n, <[u8; 32]>::try_from(sha.as_slice()).unwrap_or_default())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({
        "findings": table_digest(conn, "SELECT id, rank, body FROM findings ORDER BY rank, id")?,
        "explanations": chunked_digest(chunks.into_iter()),
        "state": table_digest(conn, "SELECT last_seq, watermark, fingerprint, state FROM detect_state")?,
    }))
}

/// The same digests recomputed from the rows themselves, in the form `recorded` has
/// (runs before the explanations were chunked recorded one flat digest).
fn detection_digests_recomputed(conn: &Connection, recorded: Option<&serde_json::Value>) -> Result<serde_json::Value, JournalError> {
    let chunked = recorded.is_none_or(|r| r["explanations"].get("chunk_shift").is_some());
    Ok(serde_json::json!({
        "findings": table_digest(conn, "SELECT id, rank, body FROM findings ORDER BY rank, id")?,
        "explanations": if chunked { explanations_digest_from_rows(conn)? } else { table_digest(conn, &format!("{EXPLANATION_ROWS} ORDER BY seq"))? },
        "state": table_digest(conn, "SELECT last_seq, watermark, fingerprint, state FROM detect_state")?,
    }))
}

/// A checkpoint's size and root, its signature not yet checked.
fn read_checkpoint(note: &str) -> Result<SignedCheckpoint, String> {
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
    let body = tlog_tiles::Checkpoint::from_bytes(parsed.text()).map_err(|e| format!("not a checkpoint: {e}"))?;
    Ok(SignedCheckpoint { size: body.size(), root: *body.hash(), note: note.to_owned() })
}

pub(crate) fn segment_table(id: u64) -> String {
    format!("ev_{id:06}")
}

/// Writer-side state, loaded on the first append and dropped on any failed one so that
/// it is re-read from what was actually committed.
struct WriterState {
    tiles: TileBuilder,
    frontier: Frontier,
    /// Dictionary of index keys, one map per kind (actor, resident). foldhash, seeded per
    /// process: SipHash was a twentieth of the writer's time, and keys come from logs an
    /// insider can shape, so an unseeded hash would let them collide on purpose.
    keys: [KeyMap; 2],
    segments: HashSet<u64>,
    /// Compresses bodies once the store has a dictionary (`body_codec`).
    encoder: Option<BodyEncoder>,
}

pub struct SqliteJournal {
    conn: Connection,
    dir: PathBuf,
    key: Option<CheckpointKey>,
    verifier_key: String,
    segment_shift: u32,
    writer: Option<WriterState>,
    /// Where the bodies of released segments' events are read from (`attach_archive`).
    archive: Option<Box<dyn ReleasedSegments>>,
    /// Complete subtrees' hashes kept between proofs (see `KnownHashes`).
    known_hashes: KnownHashes,
    /// Whether key runs may have work to do (`key_runs`); checked at the first append.
    compaction_pending: bool,
    compaction_error: Option<String>,
    /// Decompresses stored bodies (`body_codec`).
    bodies: BodyDecoder,
    /// Master rows read by key, kept between calls (see `MasterRowsKept`).
    master_rows_kept: std::cell::RefCell<MasterRowsKept>,
}

/// Master rows read by key (`master_rows_by_key`), kept between calls: a disclosure asks
/// for the account, employee and assignments of every member of staff who touched the
/// resident's records, the same few thousand rows disclosure after disclosure (29 % of a
/// disclosure's time at 10 M events, 22 % at 100 M, before they were kept). Kept only
/// while the master load they were read after is the latest (`master_generation`, read in
/// the caller's snapshot); a store that has not recorded one keeps nothing. Emptied past
/// `MASTER_ROWS_KEPT_AT_MOST` keys.
#[derive(Default)]
struct MasterRowsKept {
    generation: Option<u64>,
    rows: HashMap<(String, String), Vec<(i64, String)>>,
}

/// ~300 bytes a row: ~20 MB at most.
const MASTER_ROWS_KEPT_AT_MOST: usize = 1 << 16;

/// Where a store reads the bodies of the events of segments it released to its archive
/// (`SqliteJournal::release_segment`). A released segment keeps its rows, with their
/// time, class, actor and resident indexed, in the store: every query finds the same
/// events as before, and only their bodies come from here. A body is used only if it
/// hashes to the leaf the store's own tiles hold at its place; one missing is an error.
pub trait ReleasedSegments: Send {
    /// The bodies of the events `wanted` (id, time) of released segment `seg`, in any order.
    fn bodies(&self, journal: &SqliteJournal, seg: u64, wanted: &[(u64, i64)]) -> Result<Vec<(u64, Vec<u8>)>, JournalError>;
}

fn corrupt(msg: impl Into<String>) -> JournalError {
    JournalError::Corrupt(msg.into())
}

impl SqliteJournal {
    /// Creates a new store in `dir` with a fresh signing key for `origin`.
    /// Makes a new store in `dir`, its signing key at `key_path` (0600; keep it outside
    /// the data directory, on storage of its own: whoever holds it can sign).
    pub fn init(dir: &Path, origin: &str, segment_shift: u32, key_path: &Path) -> Result<SqliteJournal, JournalError> {
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(JournalError::Usage(format!("{} already holds a mamori store", dir.display())));
        }
        if !(8..=40).contains(&segment_shift) {
            return Err(JournalError::Usage("segment shift must be between 8 and 40".into()));
        }
        // Checked before anything is made, so a refused init leaves nothing behind: a key
        // is never overwritten, since the checkpoints it signed are only as good as it.
        if key_path.exists() {
            return Err(JournalError::Usage(format!(
                "{}: a signing key is already there and is never overwritten; give the new store's key another path (--key), or move the old one away if no store uses it",
                key_path.display()
            )));
        }
        std::fs::create_dir_all(dir)?;
        let (key, skey) = CheckpointKey::generate(origin).map_err(JournalError::Usage)?;
        write_private(key_path, &skey)?;
        let key_path = std::path::absolute(key_path)?;
        // Personal data and password hashes: the directory and the database (SQLite gives
        // its -wal and -shm files the database's mode) for the service user alone.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&db)?;
        }
        let conn = Connection::open(&db)?;
        configure(&conn)?;
        conn.execute_batch(SCHEMA)?;
        let empty = key.sign(0, tlog_tiles::EMPTY_HASH).map_err(JournalError::Merkle)?;
        {
            let mut put = conn.prepare("INSERT INTO meta(key, value) VALUES (?1, ?2)")?;
            put.execute(params!["schema_version", SCHEMA_VERSION])?;
            put.execute(params!["origin", key.origin()])?;
            put.execute(params!["verifier_key", key.verifier_key()])?;
            put.execute(params!["initial_verifier_key", key.verifier_key()])?;
            put.execute(params!["key_path", key_path.to_string_lossy()])?;
            put.execute(params!["segment_shift", segment_shift.to_string()])?;
        }
        conn.execute("INSERT INTO checkpoints(size, note) VALUES (0, ?1)", params![empty.note])?;
        drop(conn);
        SqliteJournal::open(dir)
    }

    /// Opens an existing store. Without the private key file it opens for reading only.
    pub fn open(dir: &Path) -> Result<SqliteJournal, JournalError> {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(JournalError::Usage(format!(
                "{} holds no mamori store (run `mamori init {}` first)",
                dir.display(),
                dir.display()
            )));
        }
        let conn = Connection::open(&db)?;
        configure(&conn)?;
        conn.execute_batch(ADDITIONS)?;
        conn.execute_batch(key_runs::SCHEMA)?;
        conn.execute_batch(body_codec::SCHEMA)?;
        // Columns added after their tables: a manager's department; a segment whose events'
        // bodies were released to the archive (`release_segment`); a full tile's middle row
        // (`merkle::FullTile::mid`; tiles stored before it have none).
        add_column(&conn, "users", "department", "TEXT NOT NULL DEFAULT ''")?;
        add_column(&conn, "segments", "released", "INTEGER NOT NULL DEFAULT 0")?;
        add_column(&conn, "tiles", "mid", "BLOB")?;
        // The `import.rejected` event that counts and hashes a dead letter (`rejection_record`).
        add_column(&conn, "dead_letters", "record_seq", "INTEGER")?;
        let meta = |k: &str| -> Result<String, JournalError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()?
                .ok_or_else(|| corrupt(format!("meta `{k}` missing")))
        };
        let version = meta("schema_version")?;
        if version != SCHEMA_VERSION {
            return Err(corrupt(format!("schema version {version}, this mamori reads {SCHEMA_VERSION}")));
        }
        // Stores made before `source_days` predate compressed bodies (`body_codec`): the
        // bodies it counts from are canonical.
        ensure_source_days(&conn)?;
        let verifier_key = meta("verifier_key")?;
        let segment_shift: u32 = meta("segment_shift")?.parse().map_err(|_| corrupt("bad segment_shift"))?;
        // Where the signing key is: the environment (a service's unit file), the path given
        // at `init`, or inside the directory as stores made before keys moved out.
        let key_path = match std::env::var_os(KEY_ENV) {
            Some(p) => PathBuf::from(p),
            None => match conn.query_row("SELECT value FROM meta WHERE key = 'key_path'", [], |r| r.get::<_, String>(0)).optional()? {
                Some(p) => PathBuf::from(p),
                None => dir.join(KEY_FILE),
            },
        };
        let key = if key_path.is_file() {
            let skey = std::fs::read_to_string(&key_path)?;
            Some(CheckpointKey::from_private(&skey, &verifier_key).map_err(JournalError::Usage)?)
        } else {
            None
        };
        Ok(SqliteJournal { conn, dir: dir.to_path_buf(), key, verifier_key, segment_shift, writer: None, archive: None, known_hashes: Default::default(), compaction_pending: true, compaction_error: None, bodies: BodyDecoder::default(), master_rows_kept: Default::default() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the store holds its signing key and so can append (else it is open read-only:
    /// a copy, or a reader kept away from the key).
    pub fn can_sign(&self) -> bool {
        self.key.is_some()
    }

    /// The public key in signed-note verifier format.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    fn load_writer(&self, keys: Option<[KeyMap; 2]>, encoder: Option<BodyEncoder>) -> Result<WriterState, JournalError> {
        let size = self.size()?;
        let load = |level: u8, index: u64| -> Result<Option<Vec<u8>>, String> {
            self.load_tile(tile_key(level, index)).map_err(|e| e.to_string())
        };
        let tiles = TileBuilder::resume(size, load).map_err(corrupt)?;
        // From the stored tiles alone, not the hashes proofs keep between them (those come
        // from tiles nobody has checked since), and checked against the last signed root:
        // a writer must never sign a tree grown from forged tiles.
        let reader = TileHashReader { known: None, ..self.hash_reader() };
        let indexes = tlog_tiles::sub_tree_index(0, size, vec![]);
        let hashes = tlog_tiles::HashReader::read_hashes(&reader, &indexes).map_err(|e| corrupt(e.to_string()))?;
        let frontier = Frontier::from_subtrees(size, hashes);
        // Parsed, not checked against the current key: after a rotation the last checkpoint
        // is the old key's (`verify` checks every signature with the key then in force).
        if let Some(last) = self.last_checkpoint_note()?.map(|note| read_checkpoint(&note).map_err(corrupt)).transpose()?
            && last.size == size
            && last.root != frontier.root()
        {
            return Err(corrupt(format!("the stored tiles do not give the root signed at size {size}: nothing is appended; run `mamori verify`")));
        }
        let keys = match keys {
            Some(k) => k,
            None => {
                let mut keys: [KeyMap; 2] = Default::default();
                let mut stmt = self.conn.prepare("SELECT id, kind, text FROM keys")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
                for row in rows {
                    let (id, kind, text) = row?;
                    let map = keys.get_mut((kind - 1) as usize).ok_or_else(|| corrupt(format!("key kind {kind}")))?;
                    map.insert(text, id);
                }
                keys
            }
        };
        let segments = self.segment_ids()?.into_iter().collect();
        let encoder = match encoder {
            Some(e) => Some(e),
            None => BodyEncoder::load(&self.conn)?,
        };
        Ok(WriterState { tiles, frontier, keys, segments, encoder })
    }

    /// The writer's state for the head as committed: the cached one if no one else has
    /// appended since, else re-read — all but the key dictionary, which another writer's
    /// appends only add to (`intern`), and which is the bulk of it (a connection that
    /// commits beside another, like streaming detection beside imports, read the whole
    /// dictionary at every commit). Called inside the write transaction.
    fn current_writer(&self, cached: Option<WriterState>) -> Result<WriterState, JournalError> {
        let size = self.size()?;
        match cached {
            Some(w) if w.tiles.size() == size => Ok(w),
            Some(w) => self.load_writer(Some(w.keys), w.encoder),
            None => self.load_writer(None, None),
        }
    }

    /// Segments every one of whose `2^segment_shift` places is filled: nothing is ever
    /// appended to them again, so they can be copied to the archive. (first seq, count) by id.
    pub fn sealed_segments(&self) -> Result<Vec<(u64, u64)>, JournalError> {
        let full = 1i64 << self.segment_shift;
        let mut stmt = self.conn.prepare_cached("SELECT id, first_seq FROM segments WHERE count = ?1 ORDER BY id")?;
        let rows = stmt.query_map([full], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many segments are sealed: they fill from the first, so these are 0..n.
    fn sealed_count(&self) -> Result<u64, JournalError> {
        Ok(self.conn.query_row("SELECT count(*) FROM segments WHERE count = ?1", [1i64 << self.segment_shift], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Every event of segment `seg` in log order, with the keys it is indexed by, handed
    /// to `each` one at a time so that a segment of millions never sits in memory. The
    /// walk stops at the first error `each` returns.
    pub fn for_each_in_segment<E: From<JournalError>>(&self, seg: u64, mut each: impl FnMut(SegmentRow) -> Result<(), E>) -> Result<(), E> {
        let sql = format!(
            "SELECT e.seq, e.time, e.class, a.text, r.text, e.body FROM {} e JOIN keys a ON a.id = e.actor LEFT JOIN keys r ON r.id = e.resident ORDER BY e.seq",
            segment_table(seg)
        );
        let read = |r: &rusqlite::Row<'_>| Ok(SegmentRow { seq: r.get::<_, i64>(0)? as u64, time: r.get(1)?, class_uid: r.get::<_, i64>(2)? as u32, actor: r.get(3)?, resident: r.get(4)?, body: r.get(5)? });
        let mut stmt = self.conn.prepare(&sql).map_err(JournalError::from)?;
        let rows = stmt.query_map([], read).map_err(JournalError::from)?;
        if self.released_segments()?.contains(&seg) {
            // Its bodies come from the archive, fetched together.
            let mut rows = rows.collect::<Result<Vec<_>, _>>().map_err(JournalError::from)?;
            self.canonical_bodies(rows.iter_mut().map(|r| (r.seq, r.time, &mut r.body)))?;
            for row in rows {
                each(row)?;
            }
            return Ok(());
        }
        for row in rows {
            let mut row = row.map_err(JournalError::from)?;
            row.body = self.bodies.decode(&self.conn, row.seq, std::mem::take(&mut row.body))?;
            each(row)?;
        }
        Ok(())
    }

    /// The stored Merkle tile at `level`, `index` (height 8): full, or as wide as the log
    /// is now if it is the rightmost.
    pub fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, JournalError> {
        self.load_tile(tile_key(level, index))
    }

    pub fn segment_shift(&self) -> u32 {
        self.segment_shift
    }

    /// `by_resident` (`by_actor`: `by_resident` false) from event `first_seq` on: what the
    /// store adds to an answer read from the archive up to there.
    pub fn by_key_from(&self, by_resident: bool, value: &str, range: TimeRange, first_seq: u64) -> Result<Vec<StoredEvent>, JournalError> {
        let (kind, column) = key_column(by_resident);
        self.by_key(kind, value, column, range, first_seq)
    }

    /// The events the store's own index lists as `value`'s (a resident's, or with
    /// `by_resident` false an account's) in `range` before event `before_seq`, their ids
    /// only: what an answer read from the archive must hold, no more and no fewer (a search
    /// over files someone else can write cannot prove itself complete; this index is
    /// covered by `verify`).
    pub fn key_seqs_before(&self, by_resident: bool, value: &str, range: TimeRange, before_seq: u64) -> Result<Vec<u64>, JournalError> {
        let (kind, column) = key_column(by_resident);
        Ok(self.key_rows(kind, value, column, range, 0..before_seq)?.into_iter().map(|(_, seq)| seq).collect())
    }

    /// (time, id) of the events of one dictionary key (resident or actor) in `range` with
    /// ids in `seqs`, oldest first: from the finished key runs where they hold the
    /// segments, else from each segment's own index (`key_runs`). One read snapshot, so a
    /// run that finishes meanwhile (dropping the runs it was made from) is not half seen.
    fn key_rows(&self, kind: i64, text: &str, column: &str, range: TimeRange, seqs: std::ops::Range<u64>) -> Result<Vec<(i64, u64)>, JournalError> {
        self.read_snapshot(|| {
            let Some(id) = self.key_id(kind, text)? else { return Ok(Vec::new()) };
            let shift = self.segment_shift;
            let segments: Vec<u64> = self
                .segments_overlapping(range)?
                .into_iter()
                .filter(|&seg| (seg + 1) << shift > seqs.start && seg << shift < seqs.end)
                .collect();
            let (lo, hi) = (seqs.start.min(i64::MAX as u64) as i64, seqs.end.min(i64::MAX as u64) as i64);
            let mut rows = Vec::new();
            for unit in key_runs::cover(&self.conn, &segments)? {
                let (table, key_column) = match unit {
                    Unit::Run(run) => (key_runs::run_table(run), "key"),
                    Unit::Segment(seg) => (segment_table(seg), column),
                };
                let sql = format!("SELECT time, seq FROM {table} WHERE {key_column} = ?1 AND time >= ?2 AND time < ?3 AND seq >= ?4 AND seq < ?5");
                let mut stmt = self.conn.prepare_cached(&sql)?;
                for row in stmt.query_map(params![id, range.from, range.to, lo, hi], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))? {
                    rows.push(row?);
                }
            }
            rows.sort_unstable();
            Ok(rows)
        })
    }

    /// Runs `read` inside one read transaction, so that every query it makes sees the
    /// store as it was at its first: appends committed meanwhile are not seen (they get
    /// ids above every id read). Inside a transaction already, `read` just runs in it.
    pub fn read_snapshot<T, E: From<JournalError>>(&self, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        if !self.conn.is_autocommit() {
            return read();
        }
        self.conn.execute_batch("BEGIN DEFERRED").map_err(JournalError::from)?;
        // Ends the transaction however `read` ends, a panic included (the server lives on
        // after one): a connection left inside it would refuse every later append, answer
        // later reads from the old snapshot and keep the WAL from being reset.
        struct EndOnDrop<'c>(&'c Connection);
        impl Drop for EndOnDrop<'_> {
            fn drop(&mut self) {
                if !self.0.is_autocommit() {
                    let _ = self.0.execute_batch("ROLLBACK");
                }
            }
        }
        let guard = EndOnDrop(&self.conn);
        let result = read();
        // A read transaction: ending it cannot lose anything, whatever `read` returned.
        let ended = self.conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        drop(guard);
        let value = result?;
        ended.map_err(JournalError::from)?;
        Ok(value)
    }

    /// Builds key runs (`key_runs`) for about `budget` index rows in one write
    /// transaction; whether work remains.
    fn compact_some(&mut self, budget: u64) -> Result<bool, JournalError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let more = key_runs::compact_step(&tx, self.sealed_count()?, self.segment_shift, budget)?;
        tx.commit()?;
        Ok(more)
    }

    /// Trains the bodies' dictionary from the sealed segments, if the store has none and
    /// they hold enough bodies (`body_codec`).
    fn train_body_dictionary(&mut self) -> Result<Option<BodyEncoder>, JournalError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let tables: Vec<String> = (0..self.sealed_count()?).rev().map(segment_table).collect();
        let encoder = body_codec::train(&tx, &tables)?;
        tx.commit()?;
        Ok(encoder)
    }

    /// Finishes every key run the sealed segments allow (appends do this a little at a
    /// time); the index rows written.
    pub fn compact(&mut self) -> Result<(), JournalError> {
        if self.key.is_none() {
            return Err(JournalError::Usage(format!("{} is open read-only: compaction writes the store", self.dir.display())));
        }
        while self.compact_some(1 << 22)? {}
        self.compaction_pending = false;
        Ok(())
    }

    /// The key runs by level: (level, finished runs, index rows in them, runs being built).
    pub fn key_runs(&self) -> Result<Vec<(u32, u64, u64, u64)>, JournalError> {
        key_runs::summary(&self.conn)
    }

    /// Why building key runs after an append last failed, if it did.
    pub fn compaction_error(&self) -> Option<&str> {
        self.compaction_error.as_deref()
    }

    /// Segments whose events' bodies were released to the archive.
    pub fn released_segments(&self) -> Result<HashSet<u64>, JournalError> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM segments WHERE released = 1")?;
        let ids = stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().map(|i| i as u64).collect())
    }

    /// Segments whose events the store holds whole.
    pub fn kept_segments(&self) -> Result<u64, JournalError> {
        Ok(self.conn.query_row("SELECT count(*) FROM segments WHERE released = 0", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// The archive the store released segments to, as `release_segment` recorded it.
    pub fn archive_ref(&self) -> Result<Option<String>, JournalError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = 'archive'", [], |r| r.get(0)).optional()?)
    }

    /// Whether released segments' bodies can be read (`attach_archive`).
    pub fn has_archive(&self) -> bool {
        self.archive.is_some()
    }

    /// Reads released segments' bodies through `archive` from now on.
    pub fn attach_archive(&mut self, archive: Box<dyn ReleasedSegments>) {
        self.archive = Some(archive);
    }

    /// Releases sealed segment `seg`'s bodies: they are emptied in the store, which keeps
    /// every event's place, time, class, actor and resident, indexed, and its Merkle
    /// tiles; bodies are read from the archive from then on (`attach_archive`). The caller
    /// has checked that the archive holds them byte for byte; `archive` names it. One
    /// transaction: a kill leaves the segment either whole or released.
    pub fn release_segment(&mut self, seg: u64, archive: &str) -> Result<(), JournalError> {
        let full = 1i64 << self.segment_shift;
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let state: Option<(i64, i64)> = tx.query_row("SELECT count, released FROM segments WHERE id = ?1", [seg as i64], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        match state {
            None => return Err(JournalError::Usage(format!("the store has no segment {seg}"))),
            Some((_, 1)) => return Ok(()),
            Some((count, _)) if count != full => return Err(JournalError::Usage(format!("segment {seg} is not sealed ({count} of {full} events): only sealed segments are released"))),
            Some(_) => {}
        }
        tx.execute_batch(&format!("UPDATE {} SET body = x''", segment_table(seg)))?;
        tx.execute("UPDATE segments SET released = 1 WHERE id = ?1", [seg as i64])?;
        tx.execute("INSERT INTO meta(key, value) VALUES ('archive', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [archive])?;
        tx.commit()?;
        Ok(())
    }

    /// Turns stored bodies into the canonical ones the log hashes: decompresses those
    /// stored compressed (`body_codec`), and fills in from the archive those a released
    /// segment no longer holds (empty: no event's canonical form is), each checked to hash
    /// to the leaf this store's tiles hold at its place. A body the archive lacks or that
    /// is not the log's is an error, never a short answer.
    fn canonical_bodies<'a>(&self, rows: impl Iterator<Item = (u64, i64, &'a mut Vec<u8>)>) -> Result<(), JournalError> {
        let mut by_segment: BTreeMap<u64, Vec<(u64, i64, &'a mut Vec<u8>)>> = BTreeMap::new();
        for (seq, time, body) in rows {
            if body.is_empty() {
                by_segment.entry(seq >> self.segment_shift).or_default().push((seq, time, body));
            } else {
                *body = self.bodies.decode(&self.conn, seq, std::mem::take(body))?;
            }
        }
        if by_segment.is_empty() {
            return Ok(());
        }
        let archive = self.archive.as_deref().ok_or_else(|| {
            JournalError::Usage(format!(
                "events of this store were released to its archive ({}), and it was opened without it",
                self.archive_ref().ok().flatten().unwrap_or_else(|| "not recorded".into())
            ))
        })?;
        let mut tile = (-1i64, Vec::new());
        for (seg, rows) in by_segment {
            let wanted: Vec<(u64, i64)> = rows.iter().map(|(seq, time, _)| (*seq, *time)).collect();
            let mut found: HashMap<u64, Vec<u8>> = archive.bodies(self, seg, &wanted)?.into_iter().collect();
            for (seq, _, body) in rows {
                let got = found.remove(&seq).ok_or_else(|| corrupt(format!("the archive lacks event {seq}, released from segment {seg}")))?;
                if self.stored_leaf(seq, &mut tile)? != Some(leaf_hash(&got).0) {
                    return Err(corrupt(format!("the archive's event {seq} is not the one the log holds at its place")));
                }
                *body = got;
            }
        }
        Ok(())
    }

    /// The leaf the store's tiles hold for event `seq`, if any; `tile` keeps the last
    /// level-0 tile read, for walks in log order.
    fn stored_leaf(&self, seq: u64, tile: &mut (i64, Vec<u8>)) -> Result<Option<[u8; 32]>, JournalError> {
        let key = tile_key(0, seq >> TILE_HEIGHT);
        if tile.0 != key {
            *tile = (key, self.load_tile(key)?.unwrap_or_default());
        }
        let at = ((seq as usize) & ((1 << TILE_HEIGHT) - 1)) * 32;
        Ok(tile.1.get(at..at + 32).and_then(|l| l.try_into().ok()))
    }

    fn load_tile(&self, key: i64) -> Result<Option<Vec<u8>>, JournalError> {
        Ok(self.conn.query_row("SELECT data FROM tiles WHERE id = ?1", [key], |r| r.get(0)).optional()?)
    }

    fn hash_reader(&self) -> TileHashReader<'_, impl Fn(i64) -> Result<Option<StoredTile>, String> + '_> {
        TileHashReader { load: move |k| self.load_tile_for_proofs(k).map_err(|e| e.to_string()), known: Some(&self.known_hashes) }
    }

    /// A tile with its middle row, for proofs.
    fn load_tile_for_proofs(&self, key: i64) -> Result<Option<StoredTile>, JournalError> {
        Ok(self
            .conn
            .prepare_cached("SELECT data, mid FROM tiles WHERE id = ?1")?
            .query_row([key], |r| Ok(StoredTile { data: r.get(0)?, mid: r.get(1)? }))
            .optional()?)
    }

    fn segment_ids(&self) -> Result<Vec<u64>, JournalError> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM segments ORDER BY id")?;
        let ids = stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().map(|i| i as u64).collect())
    }

    /// The segments that can hold events after `seq`.
    fn segments_after(&self, seq: u64) -> Result<Vec<u64>, JournalError> {
        Ok(self.segment_ids()?.into_iter().filter(|seg| (seg + 1) << self.segment_shift > seq + 1).collect())
    }

    fn segments_overlapping(&self, range: TimeRange) -> Result<Vec<u64>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM segments WHERE max_time >= ?1 AND min_time < ?2 ORDER BY id")?;
        let ids = stmt.query_map([range.from, range.to], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().map(|i| i as u64).collect())
    }

    fn key_id(&self, kind: i64, text: &str) -> Result<Option<i64>, JournalError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM keys WHERE kind = ?1 AND text = ?2")?
            .query_row(params![kind, text], |r| r.get(0))
            .optional()?)
    }

    /// Events of one dictionary key (resident or actor) in a range, oldest first, from
    /// event `first_seq` on.
    fn by_key(&self, kind: i64, text: &str, column: &str, range: TimeRange, first_seq: u64) -> Result<Vec<StoredEvent>, JournalError> {
        self.read_snapshot(|| {
            let mut rows = Vec::new();
            for (time, seq) in self.key_rows(kind, text, column, range, first_seq..u64::MAX)? {
                let sql = format!("SELECT body FROM {} WHERE seq = ?1", segment_table(seq >> self.segment_shift));
                let body: Vec<u8> = self.conn.prepare_cached(&sql)?.query_row([seq as i64], |r| r.get(0))?;
                rows.push((time, seq, body));
            }
            self.canonical_bodies(rows.iter_mut().map(|(time, seq, body)| (*seq, *time, body)))?;
            Ok(rows.into_iter().map(|(_, seq, body)| StoredEvent { seq, body }).collect())
        })
    }

    /// The note of the largest tree signed, its signature not checked.
    fn last_checkpoint_note(&self) -> Result<Option<String>, JournalError> {
        Ok(self.conn.query_row("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1", [], |r| r.get(0)).optional()?)
    }

    fn checkpoint_note(&self, size: u64) -> Result<Option<String>, JournalError> {
        Ok(self
            .conn
            .query_row("SELECT note FROM checkpoints WHERE size = ?1", [size as i64], |r| r.get(0))
            .optional()?)
    }

    /// The error for a size no checkpoint was signed at, naming the signed sizes around it.
    fn no_checkpoint(&self, size: u64) -> JournalError {
        let near = |sql: &str| -> Option<i64> { self.conn.query_row(sql, [size as i64], |r| r.get(0)).ok().flatten() };
        let below = near("SELECT MAX(size) FROM checkpoints WHERE size < ?1");
        let above = near("SELECT MIN(size) FROM checkpoints WHERE size > ?1");
        let around: Vec<String> = [below, above].into_iter().flatten().map(|s| s.to_string()).collect();
        JournalError::Usage(format!(
            "no checkpoint was signed at tree size {size}; signed sizes nearby: {}",
            if around.is_empty() { "none".into() } else { around.join(", ") }
        ))
    }

    fn append_in_tx(
        tx: &rusqlite::Transaction<'_>,
        w: &mut WriterState,
        shift: u32,
        key: &CheckpointKey,
        batch: &Batch<'_>,
    ) -> Result<Receipt, JournalError> {
        let first_seq = w.tiles.size();
        let mut full_tiles = BTreeMap::new();
        // Per segment: (count added, min time, max time).
        let mut touched: BTreeMap<u64, (u64, i64, i64)> = BTreeMap::new();
        let mut insert: Option<(u64, rusqlite::CachedStatement<'_>)> = None;
        let mut per_source_day: HashMap<(&str, i64), i64> = HashMap::new();
        // Dead letters are recorded by an event after the batch's own, in the same commit.
        let rejected = (!batch.dead_letters.is_empty()).then(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            crate::rejection_record(batch.dead_letters, now)
        });
        let record_seq = first_seq + batch.events.len() as u64;
        for ev in batch.events.iter().chain(rejected.as_ref()) {
            *per_source_day.entry((ev.source.as_str(), jst_day_number(ev.keys.time))).or_default() += 1;
            let seq = w.tiles.size();
            let seg = seq >> shift;
            if w.segments.insert(seg) {
                create_segment(tx, seg, seq)?;
            }
            let actor = intern(tx, &mut w.keys, KEY_ACTOR, &ev.keys.actor)?;
            let resident = match &ev.keys.resident {
                Some(r) => Some(intern(tx, &mut w.keys, KEY_RESIDENT, r)?),
                None => None,
            };
            if insert.as_ref().is_none_or(|(s, _)| *s != seg) {
                let sql = format!(
                    "INSERT INTO {}(seq, time, class, actor, resident, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    segment_table(seg)
                );
                insert = Some((seg, tx.prepare_cached(&sql)?));
            }
            let (_, stmt) = insert.as_mut().expect("prepared above");
            let plain;
            let body: &[u8] = match w.encoder.as_mut() {
                Some(encoder) => encoder.encode(&ev.body)?,
                None => {
                    plain = body_codec::encode_plain(&ev.body)?;
                    &plain
                }
            };
            stmt.execute(params![
                seq as i64,
                ev.keys.time,
                ev.keys.class_uid,
                actor,
                resident,
                body
            ])?;
            w.tiles.push(ev.leaf, &mut full_tiles);
            w.frontier.push(ev.leaf);
            let t = touched.entry(seg).or_insert((0, i64::MAX, i64::MIN));
            t.0 += 1;
            t.1 = t.1.min(ev.keys.time);
            t.2 = t.2.max(ev.keys.time);
        }
        for (seg, (count, min, max)) in touched {
            tx.prepare_cached(
                "UPDATE segments SET count = count + ?2, min_time = MIN(min_time, ?3), max_time = MAX(max_time, ?4)
                 WHERE id = ?1",
            )?
            .execute(params![seg as i64, count as i64, min, max])?;
        }
        {
            let mut count = tx.prepare_cached(
                "INSERT INTO source_days(source, day, events) VALUES (?1, ?2, ?3) ON CONFLICT(source, day) DO UPDATE SET events = events + ?3",
            )?;
            for ((source, day), n) in per_source_day {
                count.execute(params![source, day, n])?;
            }
        }
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO tiles(id, data, mid) VALUES (?1, ?2, ?3)")?;
            for (k, tile) in &full_tiles {
                put.execute(params![k, tile.data, tile.mid])?;
            }
            for (k, data) in w.tiles.partial_tiles() {
                put.execute(params![k, data, None::<Vec<u8>>])?;
            }
        }
        if !batch.dead_letters.is_empty() {
            let mut put = tx.prepare_cached(
                "INSERT INTO dead_letters(source, file, line, reason, raw, record_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for d in batch.dead_letters {
                put.execute(params![d.source, d.file, d.line as i64, d.reason, d.stored_raw(), record_seq as i64])?;
            }
        }
        if let (Some(c), Some(from)) = (batch.cursor, batch.cursor_from) {
            let stored: Option<i64> = tx.query_row("SELECT offset FROM cursors WHERE stream = ?1", [&c.stream], |r| r.get(0)).optional()?;
            if stored.unwrap_or(0) as u64 != from {
                return Err(JournalError::Conflict(format!("stream {} was imported to byte {} by another writer meanwhile; this batch from byte {from} is not stored", c.stream, stored.unwrap_or(0))));
            }
        }
        if let Some(c) = batch.cursor {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO cursors(stream, offset, line, prefix_sha256, complete_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                c.stream,
                c.offset as i64,
                c.line as i64,
                c.prefix_sha256.as_slice(),
                c.complete_sha256.as_ref().map(|h| h.as_slice())
            ])?;
        }
        if !batch.tags.is_empty() && !batch.events.is_empty() {
            let mut put = tx.prepare_cached("INSERT OR IGNORE INTO tags(kind, key, seq) VALUES (?1, ?2, ?3)")?;
            for (kind, key) in batch.tags {
                put.execute(params![kind, key, first_seq as i64])?;
            }
        }
        if !batch.master.is_empty() {
            // What a reader that keeps master data in memory looks at to know it is current,
            // instead of hashing every row (`master_generation`).
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('master_load', ?1)", [first_seq.to_string()])?;
        }
        for m in batch.master {
            tx.execute("DELETE FROM master WHERE kind = ?1", [&m.kind])?;
            tx.execute("DELETE FROM master_keys WHERE kind = ?1", [&m.kind])?;
            let mut put = tx.prepare_cached("INSERT INTO master(kind, seq, body) VALUES (?1, ?2, ?3)")?;
            let mut key = tx.prepare_cached("INSERT OR IGNORE INTO master_keys(kind, key, seq) VALUES (?1, ?2, ?3)")?;
            for (i, (body, keys)) in m.rows.iter().enumerate() {
                put.execute(params![m.kind, i as i64, body])?;
                for k in keys {
                    key.execute(params![m.kind, k, i as i64])?;
                }
            }
        }
        let size = w.tiles.size();
        let root = w.frontier.root();
        if size > first_seq {
            let cp = key.sign(size, root).map_err(JournalError::Merkle)?;
            tx.prepare_cached("INSERT INTO checkpoints(size, note) VALUES (?1, ?2)")?
                .execute(params![size as i64, cp.note])?;
        }
        Ok(Receipt { first_seq, count: size - first_seq, tree_size: size, root })
    }

    /// Replaces the signing key: `record(old, new)` is the rotation's event, signed (in its
    /// checkpoint) by the old key; the new key, written to `new_path`, signs from then on.
    /// The event and the switch commit together.
    pub fn rotate_key(&mut self, new_path: &Path, record: &dyn Fn(&str, &str) -> PreparedEvent) -> Result<Receipt, JournalError> {
        let Some(old) = &self.key else {
            return Err(JournalError::Usage(format!("{} is open read-only: the current signing key is needed to rotate it", self.dir.display())));
        };
        let origin: String = self.conn.query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| r.get(0))?;
        let (new_key, skey) = CheckpointKey::generate(&origin).map_err(JournalError::Usage)?;
        write_private(new_path, &skey)?;
        let new_path = std::path::absolute(new_path)?;
        let event = record(old.verifier_key(), new_key.verifier_key());
        let cached = self.writer.take();
        // The write lock first, then the head as committed: another process (the CLI
        // beside a running server) may have appended since this one last wrote.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut writer = self.current_writer(cached)?;
        let receipt = Self::append_in_tx(&tx, &mut writer, self.segment_shift, old, &Batch { events: std::slice::from_ref(&event), ..Default::default() })?;
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('verifier_key', ?1)", [new_key.verifier_key()])?;
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('key_path', ?1)", [new_path.to_string_lossy()])?;
        tx.commit()?;
        self.verifier_key = new_key.verifier_key().to_owned();
        self.key = Some(new_key);
        self.writer = Some(writer);
        Ok(receipt)
    }

    /// Adds a witness to ask (its name is its key's); the caller records the event.
    pub fn add_witness(&mut self, name: &str, vkey: &str, url: &str) -> Result<(), JournalError> {
        self.conn.execute("INSERT OR REPLACE INTO witnesses(name, vkey, url) VALUES (?1, ?2, ?3)", params![name, vkey, url])?;
        Ok(())
    }

    pub fn witnesses(&self) -> Result<Vec<WitnessEntry>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT name, vkey, url FROM witnesses ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok(WitnessEntry { name: r.get(0)?, vkey: r.get(1)?, url: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a checkpoint as a witness cosigned it.
    pub fn add_cosignature(&mut self, witness: &str, size: u64, note: &str) -> Result<(), JournalError> {
        self.conn.execute("INSERT OR REPLACE INTO cosignatures(witness, size, note) VALUES (?1, ?2, ?3)", params![witness, size as i64, note])?;
        Ok(())
    }

    /// The cosigned checkpoints kept: (witness, size, note), newest size first per witness.
    pub fn cosignatures(&self) -> Result<Vec<(String, u64, String)>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT witness, size, note FROM cosignatures ORDER BY witness, size DESC")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The signed checkpoint at `size`, if one was signed there.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, JournalError> {
        self.checkpoint_note(size)
    }

    /// Each stored master kind's row count and digest (`MasterKind::digest`), recomputed
    /// from the tables.
    pub fn master_kind_digests(&self) -> Result<BTreeMap<String, (u64, String)>, JournalError> {
        let mut keys: HashMap<(String, i64), Vec<String>> = HashMap::new();
        {
            let mut stmt = self.conn.prepare("SELECT kind, seq, key FROM master_keys ORDER BY kind, seq, key")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                keys.entry((r.get(0)?, r.get(1)?)).or_default().push(r.get(2)?);
            }
        }
        let mut out: BTreeMap<String, (u64, crate::MasterDigest)> = BTreeMap::new();
        let mut stmt = self.conn.prepare("SELECT kind, seq, body FROM master ORDER BY kind, seq")?;
        let mut rows = stmt.query([])?;
        let mut expected_seq: HashMap<String, i64> = HashMap::new();
        while let Some(r) = rows.next()? {
            let (kind, seq, body): (String, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            // Rows are numbered from 0 in load order; a gap is a deleted row.
            let next = expected_seq.entry(kind.clone()).or_insert(0);
            if seq != *next {
                return Err(corrupt(format!("master data `{kind}`: row {next} is missing (found {seq})")));
            }
            *next += 1;
            let k = keys.remove(&(kind.clone(), seq)).unwrap_or_default();
            let entry = out.entry(kind).or_default();
            entry.0 += 1;
            entry.1.row(&body, k.iter().map(String::as_str));
        }
        if let Some(((kind, seq), _)) = keys.into_iter().next() {
            return Err(corrupt(format!("master data `{kind}`: a search key points at row {seq}, which does not exist")));
        }
        Ok(out.into_iter().map(|(k, (n, d))| (k, (n, d.finish()))).collect())
    }

    /// The master rows of `kind` found by any of `keys`, as JSON, in load order; `None`
    /// when that kind was stored without keys (by a version before keys were kept).
    pub fn master_rows_by_key(&self, kind: &str, keys: &[String]) -> Result<Option<Vec<String>>, JournalError> {
        let keyed: bool = self.conn.query_row("SELECT EXISTS(SELECT 1 FROM master_keys WHERE kind = ?1)", [kind], |r| r.get(0))?;
        if !keyed {
            let any: bool = self.conn.query_row("SELECT EXISTS(SELECT 1 FROM master WHERE kind = ?1)", [kind], |r| r.get(0))?;
            return Ok(if any { None } else { Some(Vec::new()) });
        }
        let generation = self.master_generation()?;
        let mut kept = self.master_rows_kept.borrow_mut();
        // Nothing is kept under no generation, so a store without one always reads afresh.
        if kept.generation != generation || kept.rows.len() >= MASTER_ROWS_KEPT_AT_MOST {
            *kept = MasterRowsKept { generation, rows: HashMap::new() };
        }
        // Rows by their place in the load: a row two keys find is given once, in load order.
        let mut found = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached("SELECT m.seq, m.body FROM master_keys k JOIN master m ON m.kind = k.kind AND m.seq = k.seq WHERE k.kind = ?1 AND k.key = ?2")?;
        for k in keys {
            let place = (kind.to_owned(), k.clone());
            if let Some(rows) = kept.rows.get(&place) {
                found.extend(rows.iter().cloned());
                continue;
            }
            let rows = stmt.query_map(params![kind, k], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
            found.extend(rows.iter().cloned());
            if generation.is_some() {
                kept.rows.insert(place, rows);
            }
        }
        Ok(Some(found.into_values().collect()))
    }

    /// Stores the SHA-256 of a new API key for one source.
    pub fn add_api_key(&mut self, key_sha256: &[u8; 32], source: &str, label: &str, now_ms: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO api_keys(key_sha256, source, created, label) VALUES (?1, ?2, ?3, ?4)",
            params![key_sha256.as_slice(), source, now_ms, label],
        )?;
        Ok(())
    }

    /// The source an API key (by its SHA-256) may send to, and its label.
    pub fn api_key_source(&self, key_sha256: &[u8; 32]) -> Result<Option<(String, String)>, JournalError> {
        Ok(self
            .conn
            .query_row("SELECT source, label FROM api_keys WHERE key_sha256 = ?1", [key_sha256.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Adds a console user, or replaces their password hash (a PHC string: mamori keeps
    /// Argon2id hashes only), role and department (a manager's; empty otherwise).
    pub fn put_user(&mut self, name: &str, phc: &str, role: &str, department: &str, now_ms: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO users(name, phc, role, department, created) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(name) DO UPDATE SET phc = excluded.phc, role = excluded.role, department = excluded.department",
            params![name, phc, role, department, now_ms],
        )?;
        Ok(())
    }

    /// A console user's password hash, role and department.
    pub fn user(&self, name: &str) -> Result<Option<UserRow>, JournalError> {
        Ok(self
            .conn
            .query_row("SELECT name, phc, role, department, created FROM users WHERE name = ?1", [name], |r| {
                Ok(UserRow { name: r.get(0)?, phc: r.get(1)?, role: r.get(2)?, department: r.get(3)?, created: r.get(4)? })
            })
            .optional()?)
    }

    /// Every console user, by name.
    pub fn users(&self) -> Result<Vec<UserRow>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT name, phc, role, department, created FROM users ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok(UserRow { name: r.get(0)?, phc: r.get(1)?, role: r.get(2)?, department: r.get(3)?, created: r.get(4)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Removes a console user; whether there was one.
    pub fn remove_user(&mut self, name: &str) -> Result<bool, JournalError> {
        Ok(self.conn.execute("DELETE FROM users WHERE name = ?1", [name])? > 0)
    }

    /// Every API key: its id (the first 12 hex digits of its SHA-256), scope, label and
    /// creation time; the keys themselves are not kept.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRow>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT key_sha256, source, label, created FROM api_keys ORDER BY created")?;
        let rows = stmt
            .query_map([], |r| {
                let hash: Vec<u8> = r.get(0)?;
                Ok(ApiKeyRow { id: hex_bytes(&hash)[..12].to_owned(), key_sha256: hex_bytes(&hash), scope: r.get(1)?, label: r.get(2)?, created: r.get(3)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Removes the API key whose SHA-256 is `key_sha256` (hex); whether there was one.
    pub fn revoke_api_key(&mut self, key_sha256: &str) -> Result<bool, JournalError> {
        let Some(hash) = unhex(key_sha256) else { return Ok(false) };
        let hash: [u8; 32] = hash.0;
        Ok(self.conn.execute("DELETE FROM api_keys WHERE key_sha256 = ?1", [hash.as_slice()])? > 0)
    }

    /// Stores detection's results of an incremental run: all findings (replaced), the
    /// new accesses' verdicts (added), and the state to go on from when given (streaming
    /// detection saves it now and then: a run that goes on from an older state judges the
    /// events since again, to the same verdicts) — with the run's own
    /// record, made by `record` from the digests of the tables as written (which `verify`
    /// recomputes), in one transaction: a crash leaves the previous run's results, state
    /// and record, never a mix, and nothing is stored that the log does not vouch for.
    pub fn commit_detection(
        &mut self,
        findings: &[(String, String)],
        verdicts: &[(u64, Option<String>, Option<String>)],
        rebuild: bool,
        state: Option<(u64, i64, &str, &str)>,
        record: &dyn Fn(serde_json::Value) -> PreparedEvent,
    ) -> Result<Receipt, JournalError> {
        let Some(key) = &self.key else {
            return Err(JournalError::Usage(format!("{} is open read-only: its signing key is not at the path given at init (or in ${KEY_ENV})", self.dir.display())));
        };
        let cached = self.writer.take();
        // The write lock first, then the head as committed: another process (the CLI
        // beside a running server) may have appended since this one last wrote.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut writer = self.current_writer(cached)?;
        tx.execute_batch("DELETE FROM findings;")?;
        if rebuild {
            tx.execute_batch("DELETE FROM explanations; DELETE FROM explanation_chunks;")?;
        }
        {
            let mut put = tx.prepare("INSERT INTO findings(id, rank, body) VALUES (?1, ?2, ?3)")?;
            for (rank, (id, body)) in findings.iter().enumerate() {
                put.execute(params![id, rank as i64, body])?;
            }
            let mut put = tx.prepare("INSERT OR REPLACE INTO explanations(seq, employee, explanation) VALUES (?1, ?2, ?3)")?;
            for (seq, employee, explanation) in verdicts {
                put.execute(params![*seq as i64, employee, explanation])?;
            }
        }
        // The chunks' digests, whole once for a store that has none yet (made before they
        // were kept), else those of the chunks this run's verdicts fall in.
        let kept: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM meta WHERE key = 'explanation_chunks')", [], |r| r.get(0))?;
        if kept {
            let touched: std::collections::BTreeSet<i64> = verdicts.iter().map(|v| (v.0 as i64) >> EXPLANATION_CHUNK_SHIFT).collect();
            rehash_explanation_chunks(&tx, touched.into_iter())?;
        } else {
            tx.execute_batch("DELETE FROM explanation_chunks;")?;
            let all: Vec<i64> = tx.prepare("SELECT DISTINCT seq >> ?1 FROM explanations")?.query_map([EXPLANATION_CHUNK_SHIFT], |r| r.get(0))?.collect::<Result<_, _>>()?;
            rehash_explanation_chunks(&tx, all.into_iter())?;
            tx.execute("INSERT INTO meta(key, value) VALUES ('explanation_chunks', ?1)", [EXPLANATION_CHUNK_SHIFT.to_string()])?;
        }
        if let Some(state) = state {
            tx.execute(
                "INSERT OR REPLACE INTO detect_state(id, last_seq, watermark, fingerprint, state) VALUES (1, ?1, ?2, ?3, ?4)",
                params![state.0 as i64, state.1, state.2, state.3],
            )?;
        }
        let event = record(detection_digests(&tx)?);
        let result = Self::append_in_tx(&tx, &mut writer, self.segment_shift, key, &Batch { events: std::slice::from_ref(&event), ..Default::default() })
            .and_then(|r| {
                tx.commit()?;
                Ok(r)
            });
        if result.is_ok() {
            self.writer = Some(writer);
        }
        result
    }

    /// The saved detection state: (last event id judged, latest event time judged,
    /// fingerprint of the rules and master data it was made with, the state).
    pub fn detect_state(&self) -> Result<Option<(u64, i64, String, String)>, JournalError> {
        Ok(self
            .conn
            .query_row("SELECT last_seq, watermark, fingerprint, state FROM detect_state WHERE id = 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?)
    }

    /// The earliest time among events after `seq` that are not mamori's own actions
    /// (class 6003): whether new events can be judged after those already judged.
    pub fn min_time_after(&self, seq: u64) -> Result<Option<i64>, JournalError> {
        let mut min: Option<i64> = None;
        for seg in self.segments_after(seq)? {
            let sql = format!("SELECT MIN(time) FROM {} WHERE seq > ?1 AND class != 6003", segment_table(seg));
            let t: Option<i64> = self.conn.query_row(&sql, [seq as i64], |r| r.get(0))?;
            min = match (min, t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(min)
    }

    /// (time, id) of the events after `seq` at `from` or later, in time order: what an
    /// incremental detection step judges. One range read of the ids per segment that holds
    /// any, so it costs what was appended, however far the times reach (walking the log day
    /// by day cost a query per day between the oldest new event and the newest).
    pub fn times_after(&self, seq: u64, from: i64) -> Result<Vec<(i64, u64)>, JournalError> {
        let mut found = Vec::new();
        for seg in self.segments_after(seq)? {
            let mut stmt = self.conn.prepare_cached(&format!("SELECT time, seq FROM {} WHERE seq > ?1 AND time >= ?2", segment_table(seg)))?;
            for row in stmt.query_map(params![seq as i64, from], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))? {
                found.push(row?);
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    /// The event that last replaced master data (`None`: none since this was recorded,
    /// which stores made before it lack until their next load): one row read, where
    /// `master_digest` reads them all.
    pub fn master_generation(&self) -> Result<Option<u64>, JournalError> {
        let value: Option<String> = self.conn.query_row("SELECT value FROM meta WHERE key = 'master_load'", [], |r| r.get(0)).optional()?;
        Ok(value.and_then(|v| v.parse().ok()))
    }

    /// The saved detection state's last event judged and fingerprint, without the state.
    pub fn detect_state_head(&self) -> Result<Option<(u64, String)>, JournalError> {
        Ok(self.conn.query_row("SELECT last_seq, fingerprint FROM detect_state WHERE id = 1", [], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))).optional()?)
    }

    /// A SHA-256 over all master rows: whether master data changed since a state was saved.
    pub fn master_digest(&self) -> Result<String, JournalError> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let mut stmt = self.conn.prepare("SELECT kind, body FROM master ORDER BY kind, seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            h.update(r.get_ref(0)?.as_bytes().unwrap_or_default());
            h.update([0]);
            h.update(r.get_ref(1)?.as_bytes().unwrap_or_default());
            h.update([1]);
        }
        Ok(hex_bytes(&h.finalize()))
    }

    /// Stored findings as JSON, in rank order.
    pub fn findings(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT body FROM findings ORDER BY rank")?;
        let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The events tagged `kind` when appended: (key, event id), by key then id.
    pub fn tagged(&self, kind: &str) -> Result<Vec<(String, u64)>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT key, seq FROM tags WHERE kind = ?1 ORDER BY key, seq")?;
        let rows = stmt.query_map([kind], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Every record access's explanation code (`None`: unexplained), by event id.
    pub fn explanations(&self) -> Result<HashMap<u64, Option<String>>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT seq, explanation FROM explanations")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The explanation detection stored for access `seq`, if any.
    pub fn explanation_of(&self, seq: u64) -> Result<Option<String>, JournalError> {
        Ok(self.conn.prepare_cached("SELECT explanation FROM explanations WHERE seq = ?1")?.query_row([seq as i64], |r| r.get::<_, Option<String>>(0)).optional()?.flatten())
    }

    /// Earliest and latest event time stored (ms), if any.
    pub fn time_span(&self) -> Result<Option<(i64, i64)>, JournalError> {
        let span: (Option<i64>, Option<i64>) =
            self.conn.query_row("SELECT MIN(min_time), MAX(max_time) FROM segments WHERE count > 0", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(span.0.zip(span.1))
    }

    /// Events per source and JST day (days since 1970-01-01), oldest first: what the
    /// sources page charts and the dashboard judges silence by, kept as events are
    /// appended (a derived count, not evidence: `verify` does not need it).
    pub fn source_days(&self) -> Result<Vec<(String, i64, u64)>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT source, day, events FROM source_days ORDER BY source, day")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether the dead-letter table holds exactly what the log's rejection records
    /// (`rejected`: event → count, SHA-256) say: the reason when not. Read in id order,
    /// a record's letters one run (a batch's rows are inserted together), hashed as they
    /// stream: the table may hold millions of lines.
    fn dead_letters_against(&self, rejected: &BTreeMap<u64, (u64, String)>) -> Result<Option<String>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT record_seq, source, file, line, reason, raw FROM dead_letters ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut seen: HashSet<u64> = HashSet::new();
        let mut run: Option<(u64, crate::DeadLettersDigest)> = None;
        let close = |run: Option<(u64, crate::DeadLettersDigest)>| -> Option<String> {
            let (seq, digest) = run?;
            let (count, sha256) = digest.finish();
            match rejected.get(&seq) {
                None => Some(format!("{count} dead letters name event {seq} as their record, which is not an `{}` record", crate::REJECTED_OPERATION)),
                Some((n, d)) if (*n, d) != (count, &sha256) => Some(format!("the dead letters recorded by event {seq} were changed: {n} recorded, {count} stored, or their contents differ")),
                Some(_) => None,
            }
        };
        while let Some(r) = rows.next()? {
            let Some(seq) = r.get::<_, Option<i64>>(0)?.map(|s| s as u64) else {
                let (file, line): (String, i64) = (r.get(2)?, r.get(3)?);
                return Ok(Some(format!("a dead letter ({file} line {line}) is in no `{}` record of the log", crate::REJECTED_OPERATION)));
            };
            if run.as_ref().is_none_or(|(s, _)| *s != seq) {
                if let Some(reason) = close(run.take()) {
                    return Ok(Some(reason));
                }
                if !seen.insert(seq) {
                    return Ok(Some(format!("the dead letters recorded by event {seq} were changed: they are no longer together in the table")));
                }
                run = Some((seq, crate::DeadLettersDigest::default()));
            }
            let digest = &mut run.as_mut().expect("a run was opened above").1;
            let (source, file, reason): (String, String, String) = (r.get(1)?, r.get(2)?, r.get(4)?);
            digest.add(&source, &file, r.get::<_, i64>(3)? as u64, &reason, r.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?);
        }
        if let Some(reason) = close(run.take()) {
            return Ok(Some(reason));
        }
        if let Some((seq, (count, _))) = rejected.iter().find(|(seq, (count, _))| *count > 0 && !seen.contains(*seq)) {
            return Ok(Some(format!("the {count} dead letters recorded by event {seq} were removed")));
        }
        Ok(None)
    }

    /// Lines refused per source, as the sources page counts them.
    pub fn dead_letter_counts(&self) -> Result<Vec<(String, u64)>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT source, count(*) FROM dead_letters GROUP BY source ORDER BY source")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The stored master rows of one kind, as JSON.
    pub fn master_rows(&self, kind: &str) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT body FROM master WHERE kind = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([kind], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

fn configure(conn: &Connection) -> Result<(), JournalError> {
    // WAL with FULL sync: a commit is on disk when `append` returns, which is what
    // "acknowledged" means to every caller. The batch size keeps fsyncs rare.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -131072;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.busy_handler(Some(wait_for_lock))?;
    // A query over all time prepares one statement per segment (1,526 at 100 M events).
    // With rusqlite's default of 16 kept, a cyclic walk over more segments than that
    // re-prepares every one of them on every query: a tenth of a disclosure at 10 M.
    conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    Ok(())
}

/// Adds a column to a table made before it existed. Two processes opening an old store at
/// once may both try; the one that finds the column already added carries on.
fn add_column(conn: &Connection, table: &str, column: &str, declaration: &str) -> Result<(), JournalError> {
    let has: bool = conn.query_row(&format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |r| r.get::<_, i64>(0))? > 0;
    if has {
        return Ok(());
    }
    match conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}")) {
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.starts_with("duplicate column name") => Ok(()),
        other => Ok(other?),
    }
}

/// Prepared statements a connection keeps (a few kilobytes each, made only when used).
const STATEMENTS_KEPT: usize = 4096;

/// How long a connection waits for another's write lock before giving up.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// Waits for a write lock by polling every millisecond, up to [`LOCK_WAIT`]. SQLite's
/// own `busy_timeout` sleeps 1, 2, 5 … 100 ms between tries, so a writer that found the
/// lock held for a moment woke 180 or 330 ms later (measured with `bench stream`: the
/// detection thread's commits beside batch imports); writers here hold the lock for
/// milliseconds, and a waiter should take it when it is free.
fn wait_for_lock(attempt: i32) -> bool {
    std::thread::sleep(LOCK_POLL);
    (attempt as u128) < LOCK_WAIT.as_millis() / LOCK_POLL.as_millis()
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), JournalError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let named = |e: std::io::Error| JournalError::Usage(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(named)?;
    f.write_all(text.as_bytes()).map_err(named)?;
    f.sync_all().map_err(named)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), JournalError> {
    std::fs::write(path, text)?;
    Ok(())
}

fn create_segment(tx: &rusqlite::Transaction<'_>, seg: u64, first_seq: u64) -> Result<(), JournalError> {
    let t = segment_table(seg);
    tx.execute_batch(&format!(
        "CREATE TABLE {t}(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, class INTEGER NOT NULL,
                          actor INTEGER NOT NULL, resident INTEGER, body BLOB NOT NULL);
         CREATE INDEX {t}_time ON {t}(time);"
    ))?;
    key_runs::ensure_segment_key_indexes(tx, seg)?;
    tx.execute(
        "INSERT INTO segments(id, first_seq, count, min_time, max_time) VALUES (?1, ?2, 0, ?3, ?4)",
        params![seg as i64, first_seq as i64, i64::MAX, i64::MIN],
    )?;
    Ok(())
}

type KeyMap = HashMap<String, i64, foldhash::fast::RandomState>;

/// The dictionary id of `text`: from the writer's map, else the table (another writer may
/// have added it since the map was read: ids are never changed or reused, so the map
/// stays true across their appends and is only added to), else a new one.
fn intern(
    tx: &rusqlite::Transaction<'_>,
    keys: &mut [KeyMap; 2],
    kind: i64,
    text: &str,
) -> Result<i64, JournalError> {
    let map = &mut keys[(kind - 1) as usize];
    if let Some(&id) = map.get(text) {
        return Ok(id);
    }
    let id = if tx.prepare_cached("INSERT OR IGNORE INTO keys(kind, text) VALUES (?1, ?2)")?.execute(params![kind, text])? == 1 {
        tx.last_insert_rowid()
    } else {
        tx.prepare_cached("SELECT id FROM keys WHERE kind = ?1 AND text = ?2")?.query_row(params![kind, text], |r| r.get(0))?
    };
    map.insert(text.to_owned(), id);
    Ok(id)
}

/// The key kind and segment column a resident's (or else an account's) rows are found by.
fn key_column(by_resident: bool) -> (i64, &'static str) {
    if by_resident { (KEY_RESIDENT, "resident") } else { (KEY_ACTOR, "actor") }
}

/// A time (ms) as its JST day number (days since 1970-01-01 in JST).
pub fn jst_day_number(ms: i64) -> i64 {
    (ms + 9 * 3_600_000).div_euclid(86_400_000)
}

/// Makes `source_days` and fills it from the events of a store made before it was kept:
/// in one transaction under the write lock, so that no append slips between the count
/// and the table, and a crash leaves no half-filled table (the next open fills it).
fn ensure_source_days(conn: &Connection) -> Result<(), JournalError> {
    let exists = |c: &Connection| -> Result<bool, JournalError> {
        Ok(c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'source_days'", [], |r| r.get::<_, i64>(0))? > 0)
    };
    if exists(conn)? {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    // Another process may have made it while this one waited for the lock.
    if exists(&tx)? {
        return Ok(());
    }
    tx.execute_batch("CREATE TABLE source_days(source TEXT NOT NULL, day INTEGER NOT NULL, events INTEGER NOT NULL, PRIMARY KEY(source, day));")?;
    let segments: Vec<i64> = tx.prepare("SELECT id FROM segments")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut counts: HashMap<(String, i64), i64> = HashMap::new();
    for seg in segments {
        let mut stmt = tx.prepare(&format!("SELECT time, body FROM {}", segment_table(seg as u64)))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let body: Vec<u8> = r.get(1)?;
            let source = mamori_model::Event::from_json(&body).map(|e| e.metadata.product).unwrap_or_default();
            *counts.entry((source, jst_day_number(r.get(0)?))).or_default() += 1;
        }
    }
    {
        let mut put = tx.prepare("INSERT INTO source_days(source, day, events) VALUES (?1, ?2, ?3)")?;
        for ((source, day), n) in &counts {
            put.execute(params![source, day, n])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn to_hash32(v: Vec<u8>) -> Result<[u8; 32], JournalError> {
    v.try_into().map_err(|_| corrupt("stored hash is not 32 bytes"))
}

impl Journal for SqliteJournal {
    fn append(&mut self, batch: Batch<'_>) -> Result<Receipt, JournalError> {
        let Some(key) = &self.key else {
            return Err(JournalError::Usage(format!(
                "{} is open read-only: its signing key is not at the path given at init (or in ${KEY_ENV})",
                self.dir.display()
            )));
        };
        let cached = self.writer.take();
        // The write lock first, then the head as committed: another process (the CLI
        // beside a running server) may have appended since this one last wrote.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut writer = self.current_writer(cached)?;
        let result = Self::append_in_tx(&tx, &mut writer, self.segment_shift, key, &batch).and_then(|r| {
            tx.commit()?;
            Ok(r)
        });
        if let Ok(receipt) = &result {
            // On failure the state stays dropped and is re-read from what was committed.
            self.writer = Some(writer);
            // The key runs keep pace with the log: a few index rows' worth of merging per
            // event appended, in a transaction of its own after the batch is committed. A
            // failure there loses nothing (the runs are derived, and a query falls back to
            // the segments); it is kept for `compaction_error` and tried again later.
            let sealed_one = receipt.first_seq >> self.segment_shift != receipt.tree_size >> self.segment_shift;
            // The first sealed segments train the bodies' dictionary; from then on bodies
            // are stored compressed. Failing to train costs bytes, never events.
            if sealed_one && self.writer.as_ref().is_some_and(|w| w.encoder.is_none()) {
                match self.train_body_dictionary() {
                    Ok(encoder) => {
                        if let Some(w) = self.writer.as_mut() {
                            w.encoder = encoder;
                        }
                    }
                    Err(e) => self.compaction_error = Some(format!("body dictionary: {e}")),
                }
            }
            if self.compaction_pending || sealed_one {
                match self.compact_some(COMPACTION_ROWS_PER_EVENT * receipt.count.max(1024)) {
                    Ok(more) => self.compaction_pending = more,
                    Err(e) => {
                        self.compaction_pending = false;
                        self.compaction_error = Some(e.to_string());
                    }
                }
            }
        }
        result
    }

    fn size(&self) -> Result<u64, JournalError> {
        let n: i64 = self.conn.query_row("SELECT COALESCE(MAX(size), 0) FROM checkpoints", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredEvent>, JournalError> {
        let seg = seq >> self.segment_shift;
        if !self.segment_ids()?.contains(&seg) {
            return Ok(None);
        }
        let sql = format!("SELECT time, body FROM {} WHERE seq = ?1", segment_table(seg));
        let row: Option<(i64, Vec<u8>)> = self.conn.prepare_cached(&sql)?.query_row([seq as i64], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        let Some((time, mut body)) = row else { return Ok(None) };
        self.canonical_bodies(std::iter::once((seq, time, &mut body)))?;
        Ok(Some(StoredEvent { seq, body }))
    }

    fn by_resident(&self, resident: &str, range: TimeRange) -> Result<Vec<StoredEvent>, JournalError> {
        self.by_key(KEY_RESIDENT, resident, "resident", range, 0)
    }

    fn by_actor(&self, actor: &str, range: TimeRange) -> Result<Vec<StoredEvent>, JournalError> {
        self.by_key(KEY_ACTOR, actor, "actor", range, 0)
    }

    fn by_time(&self, range: TimeRange, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        let mut rows = Vec::new();
        for seg in self.segments_overlapping(range)? {
            let sql = format!(
                "SELECT time, seq, body FROM {} WHERE time >= ?1 AND time < ?2 ORDER BY time, seq LIMIT ?3",
                segment_table(seg)
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let found = stmt.query_map(params![range.from, range.to, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, Vec<u8>>(2)?))
            })?;
            for row in found {
                rows.push(row?);
            }
        }
        rows.sort_by_key(|&(time, seq, _)| (time, seq));
        rows.truncate(limit);
        self.canonical_bodies(rows.iter_mut().map(|(time, seq, body)| (*seq, *time, body)))?;
        Ok(rows.into_iter().map(|(_, seq, body)| StoredEvent { seq, body }).collect())
    }

    fn cursor(&self, stream: &str) -> Result<Option<StreamCursor>, JournalError> {
        let row = self
            .conn
            .query_row(
                "SELECT offset, line, prefix_sha256, complete_sha256 FROM cursors WHERE stream = ?1",
                [stream],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((offset, line, prefix, complete)) = row else { return Ok(None) };
        Ok(Some(StreamCursor {
            stream: stream.to_owned(),
            offset: offset as u64,
            line: line as u64,
            prefix_sha256: to_hash32(prefix)?,
            complete_sha256: complete.map(to_hash32).transpose()?,
        }))
    }

    fn streams_with_content(&self, sha256: &[u8; 32]) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare_cached("SELECT stream FROM cursors WHERE complete_sha256 = ?1 ORDER BY rowid")?;
        let streams = stmt.query_map([sha256.as_slice()], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(streams)
    }

    fn any_complete_stream_of_length(&self, len: u64) -> Result<bool, JournalError> {
        // A whole import's cursor stands at the file's end: its offset is the length.
        Ok(self.conn.query_row("SELECT EXISTS(SELECT 1 FROM cursors WHERE complete_sha256 IS NOT NULL AND offset = ?1)", [len as i64], |r| r.get(0))?)
    }

    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, JournalError> {
        let mut stmt =
            self.conn.prepare("SELECT source, file, line, reason, raw FROM dead_letters ORDER BY id LIMIT ?1")?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(DeadLetter {
                    source: r.get(0)?,
                    file: r.get(1)?,
                    line: r.get::<_, i64>(2)? as u64,
                    reason: r.get(3)?,
                    raw: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, JournalError> {
        self.last_checkpoint_note()?.map(|n| check_checkpoint(&n, &self.verifier_key).map_err(corrupt)).transpose()
    }

    fn prove_inclusion(&self, seq: u64, tree_size: Option<u64>) -> Result<InclusionProof, JournalError> {
        let tree_size = match tree_size {
            Some(t) => t,
            None => self.size()?,
        };
        if seq >= tree_size {
            return Err(JournalError::Usage(format!("event {seq} is not in a tree of size {tree_size}")));
        }
        let checkpoint = self.checkpoint_note(tree_size)?.ok_or_else(|| self.no_checkpoint(tree_size))?;
        let event = self.get(seq)?.ok_or_else(|| corrupt(format!("event {seq} is missing")))?;
        let proof = self.audit_path(seq, tree_size)?;
        Ok(InclusionProof {
            index: seq,
            tree_size,
            leaf_hash: hex(&leaf_hash(&event.body)),
            event: String::from_utf8(event.body).map_err(|_| corrupt(format!("event {seq} is not UTF-8")))?,
            proof: proof.iter().map(hex).collect(),
            checkpoint,
        })
    }

    fn audit_path(&self, seq: u64, tree_size: u64) -> Result<Vec<tlog_tiles::Hash>, JournalError> {
        prove_record(tree_size, seq, &self.hash_reader()).map_err(|e| JournalError::Merkle(e.to_string()))
    }

    fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof, JournalError> {
        if old_size > new_size {
            return Err(JournalError::Usage(format!("old size {old_size} is larger than new size {new_size}")));
        }
        let note = |size| self.checkpoint_note(size)?.ok_or_else(|| self.no_checkpoint(size));
        let (old_checkpoint, new_checkpoint) = (note(old_size)?, note(new_size)?);
        let proof = if old_size == 0 {
            Vec::new()
        } else {
            prove_tree(new_size, old_size, &self.hash_reader()).map_err(|e| JournalError::Merkle(e.to_string()))?
        };
        Ok(ConsistencyProof {
            old_size,
            new_size,
            proof: proof.iter().map(hex).collect(),
            old_checkpoint,
            new_checkpoint,
        })
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Result<VerifyReport, VerifyFailure>, JournalError> {
        self.verify_at(&std::collections::BTreeSet::new(), progress)
    }
}

impl SqliteJournal {
    /// `verify`, also giving the roots recomputed from the events at `sizes` (the sizes
    /// witnesses cosigned), in `VerifyReport::roots`.
    pub fn verify_at(
        &self,
        sizes: &std::collections::BTreeSet<u64>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Result<VerifyReport, VerifyFailure>, JournalError> {
        let fail = |leaf: Option<u64>, reason: String| Ok(Err(VerifyFailure { leaf, reason }));
        let mut roots: BTreeMap<u64, String> = BTreeMap::new();
        if sizes.contains(&0) {
            roots.insert(0, hex(&tlog_tiles::EMPTY_HASH));
        }
        let mut witnesses_added: BTreeMap<String, (String, String)> = BTreeMap::new();
        // What the log says the side tables hold: tags by event, users and API keys by the
        // events that made them, detection's tables by its newest run.
        let mut tags_in_log: std::collections::BTreeSet<(String, String, u64)> = Default::default();
        let mut users_in_log: BTreeMap<String, (String, String, String)> = BTreeMap::new();
        let mut keys_in_log: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut detection_in_log: Option<(u64, serde_json::Value)> = None;
        // Each `import.rejected` record: its event → (lines refused, their SHA-256).
        let mut rejected_in_log: BTreeMap<u64, (u64, String)> = BTreeMap::new();
        // Events per source and JST day, as `source_days` (the sources page's silences,
        // `check`'s days) must hold them.
        let mut days_in_log: HashMap<String, BTreeMap<i64, u64>> = HashMap::new();

        // 1. Every checkpoint is signed by the log's key and names this log.
        let mut checkpoints: Vec<SignedCheckpoint> = Vec::new();
        {
            let mut stmt = self.conn.prepare("SELECT size, note FROM checkpoints ORDER BY size")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (size, note) = row?;
                // Signatures are checked in the walk below, each with the key in force at
                // its size (a rotation is an event in the log).
                match read_checkpoint(&note) {
                    Ok(cp) if cp.size == size as u64 => checkpoints.push(cp),
                    Ok(cp) => return fail(None, format!("checkpoint row {size} is signed for size {}", cp.size)),
                    Err(e) => return fail(None, format!("checkpoint at size {size}: {e}")),
                }
            }
        }
        if let Some(key) = &self.key
            && key.verifier_key() != self.verifier_key
        {
            return fail(None, "the stored public key does not match the signing key".into());
        }
        let stored_key = self.verifier_key.clone();
        let tree_size = checkpoints.last().map_or(0, |c| c.size);

        // 2. Recompute every leaf from the stored events, in order, and the tree over them.
        let names: HashMap<i64, String> = {
            let mut stmt = self.conn.prepare("SELECT id, text FROM keys")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        let mut frontier = Frontier::default();
        let mut next_cp = checkpoints.iter().peekable();
        let initial_key: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'initial_verifier_key'", [], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| self.verifier_key.clone());
        let mut key_in_force = initial_key.clone();
        let mut chain = vec![initial_key.clone()];
        // A rotation at event s: checkpoints after size s + 1 are signed by the new key.
        let mut rotation: Option<(u64, String)> = None;
        let signed_by = |cp: &SignedCheckpoint, key: &str| -> Result<(), String> {
            check_checkpoint(&cp.note, key).map(|_| ()).map_err(|e| format!("checkpoint at size {}: {e}", cp.size))
        };
        while next_cp.peek().is_some_and(|c| c.size == 0) {
            let cp = next_cp.next().expect("peeked");
            if let Err(e) = signed_by(cp, &key_in_force) {
                return fail(None, e);
            }
            if cp.root != tlog_tiles::EMPTY_HASH {
                return fail(None, "the checkpoint of the empty tree has a non-empty root".into());
            }
        }
        let mut tile: (i64, Vec<u8>) = (-1, Vec::new());
        let mut expected_seq = 0u64;
        let mut last_good_cp = 0u64;
        // What the newest master-data load recorded for each kind: (event, rows, digest).
        let mut master_loads: BTreeMap<String, (u64, u64, String)> = BTreeMap::new();
        let released = self.released_segments()?;
        for seg in self.segment_ids()? {
            // A segment's recorded span and count steer every time-range query; they are
            // recomputed here, never trusted (a shrunk span hides accesses from a disclosure).
            let (first_seq, count, min_time, max_time): (i64, i64, i64, i64) = self.conn.query_row(
                "SELECT first_seq, count, min_time, max_time FROM segments WHERE id = ?1",
                [seg as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let (mut n, mut lo, mut hi) = (0i64, i64::MAX, i64::MIN);
            let sql = format!("SELECT seq, time, class, actor, resident, body FROM {} ORDER BY seq", segment_table(seg));
            let mut stmt = self.conn.prepare(&sql)?;
            let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
            let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<SegmentRow> {
                Ok(SegmentRow { seq: r.get::<_, i64>(0)? as u64, time: r.get(1)?, class_uid: r.get::<_, i64>(2)? as u32, actor: name(r.get(3)?), resident: r.get::<_, Option<i64>>(4)?.map(name), body: r.get(5)? })
            };
            // A released segment's bodies come from the archive, each checked against its
            // leaf as it is read; its indexed columns are the store's own, checked below.
            let rows: Box<dyn Iterator<Item = Result<SegmentRow, JournalError>>> = if released.contains(&seg) {
                let mut rows = stmt.query_map([], read)?.collect::<Result<Vec<_>, _>>()?;
                match self.canonical_bodies(rows.iter_mut().map(|r| (r.seq, r.time, &mut r.body))) {
                    Ok(()) => Box::new(rows.into_iter().map(Ok)),
                    Err(JournalError::Corrupt(reason)) => return fail(None, format!("segment {seg}, released to the archive: {reason}")),
                    Err(e) => return Err(e),
                }
            } else {
                Box::new(stmt.query_map([], read)?.map(|r| r.map_err(JournalError::from)))
            };
            for row in rows {
                let row = row?;
                let seq = row.seq;
                if seq != expected_seq {
                    let what = if seq > expected_seq { "is missing" } else { "is out of order" };
                    return fail(Some(expected_seq), format!("event {expected_seq} {what} (found {seq} in its place)"));
                }
                let body = match self.bodies.decode(&self.conn, seq, row.body) {
                    Ok(body) => body,
                    Err(JournalError::Corrupt(reason)) => return fail(Some(seq), reason),
                    Err(e) => return Err(e),
                };
                let leaf = leaf_hash(&body);
                match self.stored_leaf(seq, &mut tile)? {
                    Some(stored) if stored == leaf.0 => {}
                    Some(_) => return fail(Some(seq), "the stored event does not hash to its leaf in the log".into()),
                    None => return fail(Some(seq), "the log has no leaf for this event".into()),
                }
                let indexed = IndexKeys { time: row.time, class_uid: row.class_uid, actor: row.actor, resident: row.resident };
                match mamori_model::Event::from_json(&body) {
                    Ok(ev) if IndexKeys::of(&ev) == indexed => {
                        let day = jst_day_number(ev.time);
                        match days_in_log.get_mut(ev.metadata.product.as_str()) {
                            Some(days) => *days.entry(day).or_default() += 1,
                            None => {
                                days_in_log.insert(ev.metadata.product.clone(), BTreeMap::from([(day, 1)]));
                            }
                        }
                        if ev.class_uid == mamori_model::ClassUid::ApiActivity {
                            let extra = &ev.unmapped.extra;
                            let field = |k: &str| extra.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                            for tag in extra.get("tags").and_then(|t| t.as_array()).into_iter().flatten() {
                                if let Some([kind, key]) = tag.as_array().map(Vec::as_slice) {
                                    tags_in_log.insert((kind.as_str().unwrap_or_default().to_owned(), key.as_str().unwrap_or_default().to_owned(), seq));
                                }
                            }
                            match ev.unmapped.operation.as_deref() {
                                Some("init") if seq == 0 && extra.contains_key("vkey") && field("vkey") != initial_key => {
                                    return fail(Some(0), "the store's first key is not the one its first event was made with".into());
                                }
                                Some("key.rotate") => {
                                    if field("old_vkey") != key_in_force {
                                        return fail(Some(seq), "a key rotation names an old key that was not the one in force".into());
                                    }
                                    rotation = Some((seq + 1, field("new_vkey")));
                                    chain.push(field("new_vkey"));
                                }
                                Some("user.add") => {
                                    users_in_log.insert(field("user"), (field("role"), field("phc_sha256"), field("department")));
                                }
                                Some("user.remove") => {
                                    users_in_log.remove(&field("user"));
                                }
                                Some("apikey.create") => {
                                    keys_in_log.insert(field("key_sha256"), (field("scope"), field("label")));
                                }
                                Some("apikey.revoke") => {
                                    keys_in_log.remove(&field("key_sha256"));
                                }
                                Some("detect") if extra.contains_key("detection") => detection_in_log = Some((seq, extra["detection"].clone())),
                                Some(crate::REJECTED_OPERATION) => {
                                    let recorded = &extra.get("dead_letters").cloned().unwrap_or_default();
                                    rejected_in_log.insert(seq, (recorded["count"].as_u64().unwrap_or(0), recorded["sha256"].as_str().unwrap_or_default().to_owned()));
                                }
                                _ => {}
                            }
                        }
                        if ev.class_uid == mamori_model::ClassUid::ApiActivity
                            && ev.unmapped.operation.as_deref() == Some("witness.add")
                        {
                            let field = |k: &str| ev.unmapped.extra.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                            witnesses_added.insert(field("witness"), (field("vkey"), field("url")));
                        }
                        if ev.class_uid == mamori_model::ClassUid::ApiActivity
                            && ev.unmapped.operation.as_deref() == Some("master.load")
                            && let Some(kinds) = ev.unmapped.extra.get("master").and_then(|m| m.as_object())
                        {
                            for (kind, m) in kinds {
                                let rows = m.get("rows").and_then(|v| v.as_u64()).unwrap_or(0);
                                let digest = m.get("sha256").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                                master_loads.insert(kind.clone(), (seq, rows, digest));
                            }
                        }
                    }
                    Ok(_) => return fail(Some(seq), "the indexed columns disagree with the stored event".into()),
                    Err(e) => return fail(Some(seq), format!("the stored event does not parse: {e}")),
                }
                n += 1;
                lo = lo.min(indexed.time);
                hi = hi.max(indexed.time);
                frontier.push(leaf);
                expected_seq += 1;
                if sizes.contains(&expected_seq) {
                    roots.insert(expected_seq, hex(&frontier.root()));
                }
                while let Some(cp) = next_cp.peek() {
                    if cp.size != expected_seq {
                        break;
                    }
                    if let Some((after, new_key)) = &rotation
                        && cp.size > *after
                    {
                        key_in_force = new_key.clone();
                        rotation = None;
                    }
                    if let Err(e) = signed_by(cp, &key_in_force) {
                        return fail(None, e);
                    }
                    if cp.root != frontier.root() {
                        return fail(
                            None,
                            format!(
                                "the tree recomputed from the events does not match the checkpoint at size {}; \
                                 a leaf in [{last_good_cp}, {}) was changed together with its hash",
                                cp.size, cp.size
                            ),
                        );
                    }
                    last_good_cp = cp.size;
                    next_cp.next();
                }
                if expected_seq.is_multiple_of(65_536) {
                    progress(expected_seq, tree_size);
                }
            }
            let first = (seg << self.segment_shift) as i64;
            // More recorded than stored is a removal, named by leaf below; fewer, or a span that
            // does not cover the events, would steer queries past them.
            if count < n || first_seq != first || (n > 0 && (min_time > lo || max_time < hi)) {
                return fail(
                    None,
                    format!(
                        "segment {seg}'s recorded span (first {first_seq}, {count} events, times {min_time}..{max_time}) \
                         does not cover its events (first {first}, {n} events, times {lo}..{hi}): \
                         queries by time would miss some of them"
                    ),
                );
            }
        }
        progress(expected_seq, tree_size);
        if expected_seq < tree_size {
            return fail(
                Some(expected_seq),
                format!("event {expected_seq} is missing: the log was signed at size {tree_size}, {expected_seq} events are stored"),
            );
        }
        if expected_seq > tree_size {
            return fail(Some(tree_size), "events are stored beyond the last signed checkpoint".into());
        }
        // The key runs that queries by resident and account read instead of the segments
        // hold exactly the segments' entries (each segment's columns were checked above).
        let runs_checked = self.read_snapshot(|| {
            key_runs::check(&self.conn, self.sealed_count()?)
        })?;
        if let Some(reason) = runs_checked {
            return fail(None, reason);
        }
        if let Some((_, new_key)) = rotation {
            key_in_force = new_key;
        }
        if key_in_force != stored_key {
            return fail(None, "the store's public key is not the one its last rotation in the log put in force".into());
        }
        // Full tiles' middle rows are derived from their hashes (level 0's were checked
        // against the events above). A wrong row only makes proofs fail, never pass, but it
        // is a change nobody made through the log.
        {
            let mut stmt = self.conn.prepare("SELECT id, data, mid FROM tiles WHERE mid IS NOT NULL")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (id, data, mid): (i64, Vec<u8>, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?);
                if data.len() != TILE_WIDTH * 32 || mid_row(&data) != mid {
                    return fail(None, format!("tile {}/{}: its middle row does not match its hashes", id >> 56, id & ((1 << 56) - 1)));
                }
            }
        }
        // 3. The master data detection and reports read is what the loads in the log stored.
        let stored = match self.master_kind_digests() {
            Ok(d) => d,
            Err(JournalError::Corrupt(why)) => return fail(None, why),
            Err(e) => return Err(e),
        };
        let kinds: std::collections::BTreeSet<&String> = stored.keys().chain(master_loads.keys()).collect();
        for kind in kinds {
            match (stored.get(kind), master_loads.get(kind)) {
                (Some((n, _)), None) => {
                    return fail(None, format!("master data `{kind}` holds {n} rows that no load in the log recorded"));
                }
                (None, Some((seq, rows, _))) if *rows > 0 => {
                    return fail(Some(*seq), format!("master data `{kind}` is missing: the load at event {seq} stored {rows} rows"));
                }
                (Some((n, d)), Some((seq, rows, digest))) if d != digest => {
                    return fail(
                        Some(*seq),
                        format!("master data `{kind}` differs from what the load at event {seq} stored ({rows} rows recorded, {n} rows now)"),
                    );
                }
                _ => {}
            }
        }
        // 4. Tags, console users, API keys and detection's results are what the log says.
        let tags: std::collections::BTreeSet<(String, String, u64)> = {
            let mut stmt = self.conn.prepare("SELECT kind, key, seq FROM tags")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?.collect::<Result<_, _>>()?
        };
        if let Some((kind, key, seq)) = tags.difference(&tags_in_log).next() {
            return fail(Some(*seq), format!("tag {kind} `{key}` points at event {seq}, which does not carry it"));
        }
        if let Some((kind, key, seq)) = tags_in_log.difference(&tags).next() {
            return fail(Some(*seq), format!("tag {kind} `{key}` of event {seq} was removed"));
        }
        let users: BTreeMap<String, (String, String, String)> = {
            let mut stmt = self.conn.prepare("SELECT name, role, phc, department FROM users")?;
            stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, sha256_hex(r.get::<_, String>(2)?.as_bytes()), r.get(3)?))))?
            .collect::<Result<_, _>>()?
        };
        for (name, (role, phc, department)) in &users {
            match users_in_log.get(name) {
                None => return fail(None, format!("console user `{name}` exists with no event in the log that made them (or was removed)")),
                Some((r, p, d)) if r != role || p != phc || d != department => {
                    return fail(None, format!("console user `{name}`'s role, department or password differs from what the log recorded"));
                }
                _ => {}
            }
        }
        let keys: BTreeMap<String, (String, String)> = {
            let mut stmt = self.conn.prepare("SELECT key_sha256, source, label FROM api_keys")?;
            stmt.query_map([], |r| Ok((hex_bytes(&r.get::<_, Vec<u8>>(0)?), (r.get(1)?, r.get(2)?))))?.collect::<Result<_, _>>()?
        };
        for (hash, (scope, label)) in &keys {
            match keys_in_log.get(hash) {
                None => return fail(None, format!("an API key for `{scope}` ({label}) exists with no event in the log that made it (or it was revoked)")),
                Some((s, l)) if s != scope || l != label => return fail(None, format!("API key ({label}) now sends or reads `{scope}`, not what the log recorded")),
                _ => {}
            }
        }
        let stored = detection_digests_recomputed(&self.conn, detection_in_log.as_ref().map(|(_, recorded)| recorded))?;
        match &detection_in_log {
            Some((seq, recorded)) => {
                for table in ["findings", "explanations", "state"] {
                    if stored[table] != recorded[table] {
                        let name = if table == "state" { "detect_state" } else { table };
                        return fail(
                            Some(*seq),
                            format!("detection's `{name}` table differs from what the detection run at event {seq} recorded ({} rows recorded, {} now)", recorded[table]["rows"], stored[table]["rows"]),
                        );
                    }
                }
                // The explanations' chunk digests, kept for the next run to record, are the rows'.
                let kept: bool = self.conn.query_row("SELECT EXISTS(SELECT 1 FROM meta WHERE key = 'explanation_chunks')", [], |r| r.get(0))?;
                if kept && recorded["explanations"].get("chunk_shift").is_some() && detection_digests(&self.conn)?["explanations"] != stored["explanations"] {
                    return fail(Some(*seq), "`explanation_chunks` (the explanations' digests the next detection run records) differs from the explanations stored".into());
                }
            }
            None => {
                if ["findings", "explanations", "state"].iter().any(|t| stored[*t]["rows"] != 0) {
                    return fail(None, "detection results are stored with no detection run in the log".into());
                }
            }
        }
        // The counts per source and day are the events'.
        {
            let mut counted: HashMap<String, BTreeMap<i64, u64>> = HashMap::new();
            for (source, day, n) in self.source_days()? {
                counted.entry(source).or_default().insert(day, n);
            }
            if counted != days_in_log {
                let mut sources: Vec<&String> = counted.keys().chain(days_in_log.keys()).filter(|s| counted.get(*s) != days_in_log.get(*s)).collect();
                sources.sort();
                sources.dedup();
                let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
                return fail(None, format!("the events counted per source and day (`source_days`) differ from the events stored, for {}", names.join(", ")));
            }
        }
        // 5. The dead letters are those the log's `import.rejected` records counted and hashed.
        if let Some(reason) = self.dead_letters_against(&rejected_in_log)? {
            return fail(None, reason);
        }
        // 6. The witnesses the log names are the ones the store asks (a row deleted from
        // the table would let a rolled-back store skip the witness that would catch it).
        let table: BTreeMap<String, (String, String)> = {
            let mut stmt = self.conn.prepare("SELECT name, vkey, url FROM witnesses")?;
            stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?.collect::<Result<_, _>>()?
        };
        if table != witnesses_added {
            return fail(None, "the store's list of witnesses differs from the witnesses added in the log".into());
        }
        Ok(Ok(VerifyReport {
            keys: chain,
            events: expected_seq,
            checkpoints: checkpoints.len() as u64,
            tree_size,
            root: hex(&frontier.root()),
            roots,
            witnesses: witnesses_added.into_iter().map(|(name, (vkey, url))| WitnessEntry { name, vkey, url }).collect(),
        }))
    }
}
