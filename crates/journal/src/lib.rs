//! mamori's journal: the tamper-evident store of every event.
//!
//! It owns durability and integrity. Every stored event is a leaf of one append-only
//! RFC 6962 Merkle tree, in the order it was stored; the tree's hashes are kept as C2SP
//! `tlog-tiles` tiles and every committed batch ends with an Ed25519-signed C2SP
//! `tlog-checkpoint`. `verify` recomputes the tree from the stored events.
//!
//! The rest of mamori sees the journal through [`Journal`], a narrow interface (append a
//! batch atomically, read by sequence, by resident, by actor, by time, prove, verify) so
//! that a server-backed implementation can stand beside the embedded SQLite one.
//!
//! What it must not do: interpret events (no enrichment, no detection), parse source
//! formats, or rewrite anything once committed. Events go in already normalised and
//! canonically encoded ([`PreparedEvent`]).

mod checkpoint;
pub mod witness;
mod merkle;
mod key_runs;
mod body_codec;
mod sqlite;

pub use checkpoint::{CheckpointKey, SignedCheckpoint, check_checkpoint};
pub use witness::{Witness, WitnessKey, Witnessed, check_cosigned};
pub use merkle::{Frontier, hex, hex_bytes, leaf_hash, sha256_hex, unhex};
pub use sqlite::{DB_FILE, DEFAULT_SEGMENT_SHIFT, KEY_ENV, ReleasedSegments, SqliteJournal};
pub use tlog_tiles::Hash;

use mamori_model::Event;
use serde::{Deserialize, Serialize};

/// An event ready to store: canonical bytes, their leaf hash and the keys it is indexed by.
/// Building these is CPU work that the ingest pipeline does off the writer thread.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub body: Vec<u8>,
    pub leaf: Hash,
    pub keys: IndexKeys,
    /// The source that logged it (`metadata.product`), counted per day for the sources
    /// page: which source went silent is known without reading events.
    pub source: String,
}

/// The columns an event is indexed by, always derived from its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKeys {
    pub time: i64,
    pub class_uid: u32,
    pub actor: String,
    pub resident: Option<String>,
}

impl IndexKeys {
    pub fn of(event: &Event) -> IndexKeys {
        IndexKeys {
            time: event.time,
            class_uid: event.class_uid.uid(),
            actor: event.actor.user.uid.clone(),
            resident: event.resident_uid().map(str::to_owned),
        }
    }
}

impl PreparedEvent {
    pub fn new(event: &Event) -> PreparedEvent {
        let body = event.canonical_bytes();
        PreparedEvent { leaf: leaf_hash(&body), keys: IndexKeys::of(event), source: event.metadata.product.clone(), body }
    }
}

/// A stored event: its position in the log (= its id) and its canonical bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub body: Vec<u8>,
}

impl StoredEvent {
    pub fn event(&self) -> Result<Event, JournalError> {
        Event::from_json(&self.body).map_err(|e| JournalError::Corrupt(format!("event {}: {e}", self.seq)))
    }
}

/// One event of a segment as the archive copies it: the body and the keys beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub seq: u64,
    pub time: i64,
    pub class_uid: u32,
    pub actor: String,
    pub resident: Option<String>,
    pub body: Vec<u8>,
}

/// A console user as stored: the password as an Argon2id PHC string only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub phc: String,
    pub role: String,
    /// A manager's department code; empty for other roles.
    pub department: String,
    pub created: i64,
}

/// An API key as stored: its SHA-256, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRow {
    /// The first 12 hex digits of the SHA-256: how `apikey list` and `revoke` name it.
    pub id: String,
    pub key_sha256: String,
    /// The source it sends, or `@reports`.
    pub scope: String,
    pub label: String,
    pub created: i64,
}

/// A line that could not be accepted, kept with where it came from and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub source: String,
    pub file: String,
    pub line: u64,
    pub reason: String,
    /// The rejected bytes, cut to a bounded size.
    pub raw: Vec<u8>,
}

/// How much of a refused line is kept.
pub const DEAD_LETTER_RAW_MAX: usize = 64 * 1024;

/// The operation of the record a batch with dead letters appends after its events: the
/// lines refused, counted and hashed, committed with them. The dead letters are a side
/// table; this record puts them under the log's signature, so `verify` notices one
/// deleted, changed or added (a refused line is evidence too: an attacker's malformed
/// access must not vanish from the only place that kept it).
pub const REJECTED_OPERATION: &str = "import.rejected";

impl DeadLetter {
    /// The bytes kept of the rejected line.
    pub fn stored_raw(&self) -> &[u8] {
        &self.raw[..self.raw.len().min(DEAD_LETTER_RAW_MAX)]
    }
}

/// SHA-256 over dead letters as stored, in order, each field length-prefixed so that no
/// two different lists hash alike; fed one letter at a time (`verify` streams the table).
#[derive(Default)]
pub struct DeadLettersDigest {
    hash: sha2::Sha256,
    count: u64,
}

impl DeadLettersDigest {
    pub fn add(&mut self, source: &str, file: &str, line: u64, reason: &str, raw: &[u8]) {
        use sha2::Digest;
        for field in [source.as_bytes(), file.as_bytes(), reason.as_bytes(), raw] {
            self.hash.update((field.len() as u64).to_le_bytes());
            self.hash.update(field);
        }
        self.hash.update(line.to_le_bytes());
        self.count += 1;
    }

    /// How many letters, and their SHA-256 (hex).
    pub fn finish(self) -> (u64, String) {
        use sha2::Digest;
        (self.count, hex_bytes(&self.hash.finalize()))
    }
}

/// The record of `letters`, refused at `now_ms` (see [`REJECTED_OPERATION`]).
pub fn rejection_record(letters: &[DeadLetter], now_ms: i64) -> PreparedEvent {
    let mut event = Event::new(mamori_model::ClassUid::ApiActivity, 1, now_ms, "mamori", "mamori");
    event.status_id = mamori_model::StatusId::Failure;
    event.unmapped.operation = Some(REJECTED_OPERATION.into());
    let mut names: Vec<String> = letters.iter().map(|d| format!("{} {}", d.source, d.file)).collect();
    names.dedup();
    event.unmapped.extra.insert("detail".into(), format!("{} lines refused ({})", letters.len(), names.join(", ")).into());
    let mut digest = DeadLettersDigest::default();
    for d in letters {
        digest.add(&d.source, &d.file, d.line, &d.reason, d.stored_raw());
    }
    let (count, sha256) = digest.finish();
    event.unmapped.extra.insert("dead_letters".into(), serde_json::json!({"count": count, "sha256": sha256}));
    PreparedEvent::new(&event)
}

/// How far a stream (a file of a source) has been committed, stored in the same
/// transaction as the events it covers, so that a restart resumes exactly there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCursor {
    /// `source` + canonical path, or another stable name of the stream.
    pub stream: String,
    /// Bytes consumed (always at a line boundary).
    pub offset: u64,
    /// Lines consumed.
    pub line: u64,
    /// SHA-256 of the bytes `[0, offset)`, to notice a file replaced under the same name.
    pub prefix_sha256: [u8; 32],
    /// Set once the whole file has been read (not for a followed, growing file).
    pub complete_sha256: Option<[u8; 32]>,
}

/// One atomic append: events, the dead letters met while reading them, and where the
/// stream stands afterwards. All of it commits, or none.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub events: &'a [PreparedEvent],
    pub dead_letters: &'a [DeadLetter],
    pub cursor: Option<&'a StreamCursor>,
    /// Where the stream's stored cursor must stand (0: none stored) for the batch to
    /// commit: checked inside the write transaction, so that two writers importing the
    /// same stream at once (a cluster worker past its lease beside the next holder, the
    /// CLI beside the server) cannot both commit the same lines; the second is refused.
    pub cursor_from: Option<u64>,
    /// (kind, key) names for the batch's first event, committed with it: how a later
    /// question ("is March's review of 福祉課 signed off?") finds the event that answers
    /// it without reading the log. The event is what counts; a tag only points at it.
    pub tags: &'a [(&'a str, &'a str)],
    /// Master-data kinds replaced whole, in the same transaction as the batch's events (the
    /// load's own record): a load is all or nothing, and never without its event.
    pub master: &'a [MasterKind],
}

/// One kind of master data as a load replaces it: each row as JSON with the keys (宛名番号,
/// household …) it is found by.
#[derive(Debug, Clone, Default)]
pub struct MasterKind {
    pub kind: String,
    pub rows: Vec<(String, Vec<String>)>,
}

impl MasterKind {
    /// The SHA-256 (hex) a load records for this kind and `verify` recomputes from the
    /// stored rows: each row's JSON and its keys (sorted, without repeats), in load order.
    pub fn digest(&self) -> String {
        let mut d = MasterDigest::default();
        for (body, keys) in &self.rows {
            let keys: std::collections::BTreeSet<&str> = keys.iter().map(String::as_str).collect();
            d.row(body, keys.into_iter());
        }
        d.finish()
    }
}

/// The running digest of one kind's rows (see `MasterKind::digest`).
#[derive(Default)]
pub(crate) struct MasterDigest(sha2::Sha256);

impl MasterDigest {
    pub(crate) fn row<'k>(&mut self, body: &str, keys: impl Iterator<Item = &'k str>) {
        use sha2::Digest;
        self.0.update(body.as_bytes());
        for k in keys {
            self.0.update([0x1f]);
            self.0.update(k.as_bytes());
        }
        self.0.update([0x1e]);
    }

    pub(crate) fn finish(self) -> String {
        use sha2::Digest;
        hex_bytes(&self.0.finalize())
    }
}

/// What a committed append produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub first_seq: u64,
    /// Leaves appended: the batch's events, and after them its dead letters' record.
    pub count: u64,
    pub tree_size: u64,
    pub root: Hash,
}

/// A time range in ms since the epoch, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: i64,
    pub to: i64,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { from: i64::MIN, to: i64::MAX };
}

/// An inclusion proof as an outside party checks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// The event's canonical bytes as UTF-8 JSON text; the leaf is SHA-256(0x00‖event).
    pub event: String,
    pub leaf_hash: String,
    pub proof: Vec<String>,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: String,
}

/// A consistency proof between two checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub proof: Vec<String>,
    pub old_checkpoint: String,
    pub new_checkpoint: String,
}

/// The outcome of a full verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The log's public keys: the first, and the one in force now if rotated since.
    pub keys: Vec<String>,
    pub events: u64,
    pub checkpoints: u64,
    pub tree_size: u64,
    pub root: String,
    /// Roots recomputed from the events at the sizes asked for (`SqliteJournal::verify_at`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub roots: std::collections::BTreeMap<u64, String>,
    /// The witnesses the log says to ask.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<WitnessEntry>,
}

/// A witness the log's holder asks to cosign: its name, public key and submission URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessEntry {
    pub name: String,
    pub vkey: String,
    pub url: String,
}

/// Why a verification failed: the first bad leaf when it can be named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("verification failed{}: {reason}", leaf.map(|l| format!(" at leaf index {l}")).unwrap_or_default())]
pub struct VerifyFailure {
    pub leaf: Option<u64>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Usage(String),
    #[error("merkle: {0}")]
    Merkle(String),
    /// Another writer moved a stream's cursor under this one's batch.
    #[error("{0}")]
    Conflict(String),
}

/// The narrow interface the rest of mamori stores and reads events through.
pub trait Journal {
    /// Appends a batch atomically and signs a checkpoint over the new tree.
    fn append(&mut self, batch: Batch<'_>) -> Result<Receipt, JournalError>;
    /// Number of events (leaves) stored.
    fn size(&self) -> Result<u64, JournalError>;
    fn get(&self, seq: u64) -> Result<Option<StoredEvent>, JournalError>;
    /// All events concerning one resident in a time range, oldest first.
    fn by_resident(&self, resident: &str, range: TimeRange) -> Result<Vec<StoredEvent>, JournalError>;
    /// All events of one account (as the source gives it) in a time range, oldest first.
    fn by_actor(&self, actor: &str, range: TimeRange) -> Result<Vec<StoredEvent>, JournalError>;
    /// Events in a time range, oldest first, at most `limit`.
    fn by_time(&self, range: TimeRange, limit: usize) -> Result<Vec<StoredEvent>, JournalError>;
    fn cursor(&self, stream: &str) -> Result<Option<StreamCursor>, JournalError>;
    /// The streams that already imported a file with this content hash, oldest first.
    fn streams_with_content(&self, sha256: &[u8; 32]) -> Result<Vec<String>, JournalError>;
    /// Whether some stream was imported whole from a file of exactly `len` bytes: only
    /// then can a new file be one already imported, and is worth hashing whole to know.
    fn any_complete_stream_of_length(&self, len: u64) -> Result<bool, JournalError>;
    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, JournalError>;
    fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, JournalError>;
    fn prove_inclusion(&self, seq: u64, tree_size: Option<u64>) -> Result<InclusionProof, JournalError>;
    /// The RFC 6962 audit path of leaf `seq` in the tree of `tree_size` leaves (for callers
    /// that already hold the event and the checkpoint).
    fn audit_path(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, JournalError>;
    fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof, JournalError>;
    /// Recomputes the tree from the stored events and checks every checkpoint.
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Result<VerifyReport, VerifyFailure>, JournalError>;
}

/// Checks an RFC 6962 inclusion proof of `leaf` at `index` in the tree of `size` with `root`.
pub fn check_inclusion(proof: &[Hash], size: u64, root: Hash, index: u64, leaf: Hash) -> Result<(), String> {
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf).map_err(|e| e.to_string())
}

/// Checks an RFC 6962 consistency proof from the tree of `old` leaves to the one of `size`.
pub fn check_consistency(proof: &[Hash], size: u64, root: Hash, old: u64, old_root: Hash) -> Result<(), String> {
    tlog_tiles::check_tree(&proof.to_vec(), size, root, old, old_root).map_err(|e| e.to_string())
}
