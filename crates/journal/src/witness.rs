//! Witnesses: another body (the prefecture's security cloud, a neighbouring town, the audit
//! committee) keeps the newest checkpoint of the town's log it has seen, checks that every
//! new one extends it, and countersigns it. Whoever holds the store and its key can rewrite
//! the store's history and re-sign it; they cannot make a witness forget the larger or
//! different tree it cosigned.
//!
//! The protocol is C2SP `tlog-witness` (`add-checkpoint`) and the cosignatures C2SP
//! `tlog-cosignature` v1 (Ed25519, key ID type 0x04, signed message `cosignature/v1`,
//! `time N`, the checkpoint body), written and read through the `signed_note` crate's
//! `Signer`/`Verifier` traits. The witness's state is a SQLite file; the check of the old
//! size and the update are one immediate transaction, as the specification requires.

use std::path::Path;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signer as _, Verifier as _};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash, check_tree};

use crate::checkpoint::{SignedCheckpoint, check_checkpoint};

/// The signature type byte of Ed25519 cosignatures (`tlog-cosignature`).
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// At most this many consistency proof lines (`tlog-witness`).
const MAX_PROOF_LINES: usize = 63;

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    signed_note::key_id(name, &[&[ALG_COSIGNATURE_V1][..], public].concat())
}

fn cosigned_message(time: u64, body: &[u8]) -> Vec<u8> {
    [format!("cosignature/v1\ntime {time}\n").as_bytes(), body].concat()
}

/// A witness's signing key.
pub struct WitnessKey {
    name: String,
    id: u32,
    signing: ed25519_dalek::SigningKey,
}

impl WitnessKey {
    /// A new key for the witness called `name` (a schema-less URL, e.g.
    /// `witness.pref.example.lg.jp/w1`); returns it and its private text to keep.
    pub fn generate(name: &str) -> Result<(WitnessKey, String), String> {
        if !signed_note::is_key_name_valid(name) {
            return Err(format!("witness name `{name}` is not a valid key name (no spaces or `+`)"));
        }
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let id = key_id(name, signing.verifying_key().as_bytes());
        let text = format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64_STANDARD.encode([&[ALG_COSIGNATURE_V1][..], &seed].concat()));
        Ok((WitnessKey { name: name.to_owned(), id, signing }, text))
    }

    pub fn from_private(text: &str) -> Result<WitnessKey, String> {
        let bad = || "not a witness private key (PRIVATE+KEY+name+id+key)".to_owned();
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let (name, rest) = rest.split_once('+').ok_or_else(bad)?;
        let (_, key) = rest.split_once('+').ok_or_else(bad)?;
        let key = BASE64_STANDARD.decode(key).map_err(|_| bad())?;
        let seed: [u8; 32] = match key.split_first() {
            Some((&ALG_COSIGNATURE_V1, seed)) => seed.try_into().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(WitnessKey { name: name.to_owned(), id: key_id(name, signing.verifying_key().as_bytes()), signing })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key as a note verifier key: `name+id+base64(0x04 ‖ key)`.
    pub fn verifier_key(&self) -> String {
        let public = [&[ALG_COSIGNATURE_V1][..], self.signing.verifying_key().as_bytes()].concat();
        format!("{}+{:08x}+{}", self.name, self.id, BASE64_STANDARD.encode(public))
    }
}

/// Signs one checkpoint at one time (`signed_note` asks a signer for bytes over the note
/// text; a cosignature is the timestamp and a signature over the prefixed text).
struct Cosigner<'a> {
    key: &'a WitnessKey,
    time: u64,
}

impl signed_note::Signer for Cosigner<'_> {
    fn name(&self) -> &str {
        &self.key.name
    }
    fn key_id(&self) -> u32 {
        self.key.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let sig = self.key.signing.try_sign(&cosigned_message(self.time, msg))?;
        Ok([&self.time.to_be_bytes()[..], &sig.to_bytes()].concat())
    }
}

/// Checks cosignatures of one witness.
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    pub fn new(vkey: &str) -> Result<CosignatureVerifier, String> {
        let bad = || format!("`{vkey}` is not a witness key (name+id+base64 of 0x04 and an Ed25519 key)");
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let key = BASE64_STANDARD.decode(key).map_err(|_| bad())?;
        let public: [u8; 32] = match key.split_first() {
            Some((&ALG_COSIGNATURE_V1, k)) => k.try_into().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let id = u32::from_str_radix(id, 16).map_err(|_| bad())?;
        if id != key_id(name, &public) {
            return Err(format!("witness key `{vkey}`: its id does not match its name and key"));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        Ok(CosignatureVerifier { name: name.to_owned(), id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl signed_note::Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((time, sig)) = sig.split_first_chunk::<8>() else { return false };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else { return false };
        self.key.verify(&cosigned_message(u64::from_be_bytes(*time), msg), &sig).is_ok()
    }
}

/// What a cosigned checkpoint says, once both signatures check.
#[derive(Debug, Clone, PartialEq)]
pub struct Witnessed {
    pub witness: String,
    pub checkpoint: SignedCheckpoint,
    /// When the witness cosigned (seconds since the epoch).
    pub time: u64,
}

/// Checks a checkpoint that carries the log's signature and a witness's cosignature.
pub fn check_cosigned(note: &str, log_vkey: &str, witness_vkey: &str) -> Result<Witnessed, String> {
    let checkpoint = check_checkpoint(note, log_vkey)?;
    let verifier = CosignatureVerifier::new(witness_vkey)?;
    let witness = verifier.name.clone();
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
    let (verified, _) = parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| format!("no valid cosignature of witness {witness}: {e}"))?;
    let time = verified.first().and_then(|s| s.signature().first_chunk::<8>()).map(|t| u64::from_be_bytes(*t)).unwrap_or(0);
    Ok(Witnessed { witness, checkpoint, time })
}

/// A witness's refusal, as the HTTP status and body `tlog-witness` prescribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Refusal {
    fn new(status: u16, body: impl Into<String>) -> Refusal {
        Refusal { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }
}

/// A witness: its key and, per log it watches, the log's public key and the newest
/// checkpoint it cosigned.
pub struct Witness {
    conn: Connection,
    key: WitnessKey,
}

const WITNESS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs(origin TEXT PRIMARY KEY, vkey TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    root BLOB, note TEXT);
";

impl Witness {
    /// Makes a witness in `dir`: its private key (owner-only) and its state.
    pub fn init(dir: &Path, name: &str) -> Result<Witness, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let key_path = dir.join("witness.key");
        if key_path.exists() {
            return Err(format!("{} exists: this directory already holds a witness", key_path.display()));
        }
        let (_, text) = WitnessKey::generate(name)?;
        write_private(&key_path, &text)?;
        Witness::open(dir)
    }

    pub fn open(dir: &Path) -> Result<Witness, String> {
        let key_path = dir.join("witness.key");
        let text = std::fs::read_to_string(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
        let key = WitnessKey::from_private(&text)?;
        let db = dir.join("witness.db");
        let conn = Connection::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
        conn.execute_batch(WITNESS_SCHEMA).map_err(|e| e.to_string())?;
        Ok(Witness { conn, key })
    }

    pub fn verifier_key(&self) -> String {
        self.key.verifier_key()
    }

    /// Watches the log whose checkpoints `log_vkey` signs (its origin is the key's name).
    pub fn trust(&mut self, log_vkey: &str) -> Result<String, String> {
        StandardVerifier::new(log_vkey.trim()).map_err(|e| format!("`{log_vkey}` is not a log's public key: {e}"))?;
        let origin = log_vkey.trim().split('+').next().unwrap_or_default().to_owned();
        self.conn
            .execute(
                "INSERT INTO logs(origin, vkey) VALUES (?1, ?2) ON CONFLICT(origin) DO UPDATE SET vkey = excluded.vkey",
                params![origin, log_vkey.trim()],
            )
            .map_err(|e| e.to_string())?;
        Ok(origin)
    }

    /// The logs watched: (origin, newest cosigned size).
    pub fn logs(&self) -> Result<Vec<(String, u64)>, String> {
        let mut stmt = self.conn.prepare("SELECT origin, size FROM logs ORDER BY origin").map_err(|e| e.to_string())?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    /// The newest checkpoint cosigned for `origin`, with the log's signature and this
    /// witness's cosignature (a monitoring read, for auditors and `mamori verify`).
    pub fn latest(&self, origin: &str) -> Result<Option<String>, String> {
        self.conn
            .query_row("SELECT note FROM logs WHERE origin = ?1", [origin], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| e.to_string())
    }

    /// `add-checkpoint`: checks the request as `tlog-witness` says, and on success records
    /// the checkpoint and returns the cosignature lines.
    pub fn add_checkpoint(&mut self, request: &[u8], now: u64) -> Result<String, Refusal> {
        let text = std::str::from_utf8(request).map_err(|_| Refusal::new(400, "the request is not UTF-8\n"))?;
        let (head, note) = text.split_once("\n\n").ok_or_else(|| Refusal::new(400, "no empty line before the checkpoint\n"))?;
        let mut lines = head.split('\n');
        let old: u64 = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Refusal::new(400, "the first line must be `old <size>`\n"))?;
        let mut proof = Vec::new();
        for line in lines {
            let bytes = BASE64_STANDARD.decode(line).map_err(|_| Refusal::new(400, "a proof line is not base64\n"))?;
            let hash: [u8; 32] = bytes.try_into().map_err(|_| Refusal::new(400, "a proof line is not a 32-byte hash\n"))?;
            proof.push(Hash(hash));
        }
        if proof.len() > MAX_PROOF_LINES {
            return Err(Refusal::new(400, "more than 63 proof lines\n"));
        }
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| Refusal::new(400, format!("not a signed note: {e}\n")))?;
        let body = Checkpoint::from_bytes(parsed.text()).map_err(|e| Refusal::new(400, format!("not a checkpoint: {e}\n")))?;
        let origin = body.origin().to_owned();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| Refusal::new(500, e.to_string()))?;
        let known: Option<(String, i64, Option<Vec<u8>>)> = tx
            .query_row("SELECT vkey, size, root FROM logs WHERE origin = ?1", [&origin], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(|e| Refusal::new(500, e.to_string()))?;
        let Some((vkey, size, root)) = known else { return Err(Refusal::new(404, format!("unknown log `{origin}`\n"))) };
        check_checkpoint(note, &vkey).map_err(|e| Refusal::new(403, format!("{e}\n")))?;
        let (new_size, new_root) = (body.size(), *body.hash());
        if old > new_size {
            return Err(Refusal::new(400, "the old size is larger than the checkpoint's\n"));
        }
        let size = size as u64;
        if old != size {
            return Err(Refusal { status: 409, content_type: "text/x.tlog.size", body: format!("{size}\n") });
        }
        let root = root.and_then(|r| <[u8; 32]>::try_from(r).ok()).map(Hash);
        if old == new_size {
            if root.is_some_and(|r| r != new_root) {
                return Err(Refusal { status: 409, content_type: "text/x.tlog.size", body: format!("{size}\n") });
            }
        } else if old > 0 {
            let old_root = root.ok_or_else(|| Refusal::new(500, "no root kept for the old size\n"))?;
            check_tree(&proof, new_size, new_root, old, old_root).map_err(|_| Refusal::new(422, "the consistency proof does not verify\n"))?;
        } else if !proof.is_empty() {
            return Err(Refusal::new(400, "a proof from size 0 must be empty\n"));
        }
        let mut cosigned = parsed;
        cosigned.add_sigs(&[&Cosigner { key: &self.key, time: now }]).map_err(|e| Refusal::new(500, e.to_string()))?;
        let cosigned = String::from_utf8(cosigned.to_bytes()).map_err(|e| Refusal::new(500, e.to_string()))?;
        tx.execute(
            "UPDATE logs SET size = ?2, root = ?3, note = ?4 WHERE origin = ?1",
            params![origin, new_size as i64, new_root.0.as_slice(), cosigned],
        )
        .map_err(|e| Refusal::new(500, e.to_string()))?;
        tx.commit().map_err(|e| Refusal::new(500, e.to_string()))?;
        let prefix = format!("— {} ", self.key.name);
        Ok(cosigned.lines().filter(|l| l.starts_with(&prefix)).map(|l| format!("{l}\n")).collect())
    }
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(format!("{text}\n").as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The body of an `add-checkpoint` request: the old size, the proof, the checkpoint.
pub fn add_checkpoint_request(old: u64, proof: &[Hash], checkpoint_note: &str) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&BASE64_STANDARD.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(checkpoint_note);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointKey;

    fn witness() -> (tempfile::TempDir, Witness, CheckpointKey) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Witness::init(&dir.path().join("w"), "witness.example/w1").unwrap();
        let (log, _) = CheckpointKey::generate("town.example/audit").unwrap();
        w.trust(log.verifier_key()).unwrap();
        (dir, w, log)
    }

    /// Roots of trees of `n` leaves `0..n`, and consistency proofs between them.
    fn tree(n: u64) -> Vec<Hash> {
        (0..n).map(|i| crate::merkle::leaf_hash(&i.to_be_bytes())).collect()
    }

    fn root(leaves: &[Hash]) -> Hash {
        let mut f = crate::merkle::Frontier::default();
        for l in leaves {
            f.push(*l);
        }
        f.root()
    }

    /// Every stored hash of a small tree, as the tiles would hold them.
    struct Leaves(Vec<Hash>);
    impl tlog_tiles::HashReader for Leaves {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
        }
    }

    fn stored(leaves: &[Hash]) -> Leaves {
        let mut all = Leaves(Vec::new());
        for (i, l) in leaves.iter().enumerate() {
            let more = tlog_tiles::stored_hashes_for_record_hash(i as u64, *l, &all).unwrap();
            all.0.extend(more);
        }
        all
    }

    #[test]
    fn a_cosignature_verifies_with_the_witness_key_and_commits_to_its_time() {
        let (_d, mut w, log) = witness();
        let leaves = tree(5);
        let cp = log.sign(5, root(&leaves)).unwrap();
        let lines = w.add_checkpoint(add_checkpoint_request(0, &[], &cp.note).as_bytes(), 1_700_000_000).unwrap();
        assert!(lines.starts_with("— witness.example/w1 "), "{lines}");
        let cosigned = format!("{}{lines}", cp.note);
        let seen = check_cosigned(&cosigned, log.verifier_key(), &w.verifier_key()).unwrap();
        assert_eq!((seen.checkpoint.size, seen.time), (5, 1_700_000_000));
        let (other, _) = WitnessKey::generate("witness.example/w1").unwrap();
        assert!(check_cosigned(&cosigned, log.verifier_key(), &other.verifier_key()).is_err(), "another key's cosignature");
    }

    #[test]
    fn a_witness_refuses_a_smaller_tree_a_fork_a_wrong_old_size_and_an_unknown_log() {
        let (_d, mut w, log) = witness();
        let leaves = tree(8);
        let cp5 = log.sign(5, root(&leaves[..5])).unwrap();
        w.add_checkpoint(add_checkpoint_request(0, &[], &cp5.note).as_bytes(), 1).unwrap();
        // Growing with a good proof is cosigned.
        let cp8 = log.sign(8, root(&leaves)).unwrap();
        let proof = tlog_tiles::prove_tree(8, 5, &stored(&leaves)).unwrap();
        w.add_checkpoint(add_checkpoint_request(5, &proof, &cp8.note).as_bytes(), 2).unwrap();
        // Rolled back: the witness says the size it holds.
        let refused = w.add_checkpoint(add_checkpoint_request(5, &proof, &cp5.note).as_bytes(), 3).unwrap_err();
        assert_eq!((refused.status, refused.body.as_str(), refused.content_type), (409, "8\n", "text/x.tlog.size"));
        let refused = w.add_checkpoint(add_checkpoint_request(0, &[], &cp5.note).as_bytes(), 3).unwrap_err();
        assert_eq!(refused.status, 409);
        // A fork of the same size.
        let mut forked = leaves.clone();
        forked[2] = crate::merkle::leaf_hash(b"rewritten");
        let fork8 = log.sign(8, root(&forked)).unwrap();
        assert_eq!(w.add_checkpoint(add_checkpoint_request(8, &[], &fork8.note).as_bytes(), 4).unwrap_err().status, 409);
        // A larger fork whose proof cannot verify against what was cosigned.
        let mut more = forked.clone();
        more.extend(tree(12)[8..].iter().copied());
        let fork12 = log.sign(12, root(&more)).unwrap();
        let proof = tlog_tiles::prove_tree(12, 8, &stored(&more)).unwrap();
        assert_eq!(w.add_checkpoint(add_checkpoint_request(8, &proof, &fork12.note).as_bytes(), 5).unwrap_err().status, 422);
        // A checkpoint signed by another key, and another log.
        let (stranger, _) = CheckpointKey::generate("town.example/audit").unwrap();
        let forged = stranger.sign(12, root(&more)).unwrap();
        assert_eq!(w.add_checkpoint(add_checkpoint_request(8, &proof, &forged.note).as_bytes(), 5).unwrap_err().status, 403);
        let (elsewhere, _) = CheckpointKey::generate("other.example/log").unwrap();
        let other = elsewhere.sign(1, leaves[0]).unwrap();
        assert_eq!(w.add_checkpoint(add_checkpoint_request(0, &[], &other.note).as_bytes(), 5).unwrap_err().status, 404);
        // What it holds is still size 8, and says so.
        let latest = w.latest("town.example/audit").unwrap().unwrap();
        assert_eq!(check_cosigned(&latest, log.verifier_key(), &w.verifier_key()).unwrap().checkpoint.size, 8);
    }
}
