//! Signed tree heads: C2SP `tlog-checkpoint` bodies signed as C2SP `signed-note`s with an
//! Ed25519 key, using Cloudflare's `tlog_tiles` and `signed_note` (ports of Go's
//! sumdb packages). The key name is the log's origin.

use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// A checkpoint as stored and published: the signed note text and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// The log's signing key. The private half lives in a file of the data directory with
/// owner-only permissions, never in the database.
pub struct CheckpointKey {
    origin: String,
    signer: StandardSigner,
    verifier_key: String,
}

impl CheckpointKey {
    /// Makes a new key for `origin`; returns it and its private key text to store.
    pub fn generate(origin: &str) -> Result<(CheckpointKey, String), String> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(format!("origin `{origin}` is not a valid key name (no spaces or `+`)"));
        }
        let (skey, vkey) = signed_note::generate_key(&mut rand_core::OsRng, origin);
        Ok((CheckpointKey::from_private(&skey, &vkey)?, skey))
    }

    pub fn from_private(skey: &str, vkey: &str) -> Result<CheckpointKey, String> {
        let signer = StandardSigner::new(skey.trim()).map_err(|e| format!("bad private key: {e}"))?;
        let origin = signed_note::Signer::name(&signer).to_owned();
        StandardVerifier::new(vkey).map_err(|e| format!("bad public key `{vkey}`: {e}"))?;
        Ok(CheckpointKey { origin, signer, verifier_key: vkey.to_owned() })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public verifier key in note format: `origin+keyid+base64(0x01‖pubkey)`.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    pub fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, String> {
        let body = Checkpoint::new(&self.origin, size, root, "").map_err(|e| e.to_string())?;
        let mut note = Note::new(&body.to_bytes(), &[]).map_err(|e| e.to_string())?;
        note.add_sigs(&[&self.signer]).map_err(|e| e.to_string())?;
        let note = String::from_utf8(note.to_bytes()).map_err(|e| e.to_string())?;
        Ok(SignedCheckpoint { size, root, note })
    }
}

/// Checks a checkpoint's signature against a verifier key and returns what it commits to.
pub fn check_checkpoint(note: &str, verifier_key: &str) -> Result<SignedCheckpoint, String> {
    let verifier = StandardVerifier::new(verifier_key.trim()).map_err(|e| format!("bad public key: {e}"))?;
    let verifiers = VerifierList::new(vec![Box::new(verifier)]);
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
    parsed.verify(&verifiers).map_err(|e| format!("signature does not verify: {e}"))?;
    let body = Checkpoint::from_bytes(parsed.text()).map_err(|e| format!("not a checkpoint: {e}"))?;
    Ok(SignedCheckpoint { size: body.size(), root: *body.hash(), note: note.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_checkpoint_verifies_and_a_changed_size_does_not() {
        let (key, _) = CheckpointKey::generate("mamori.example/test").unwrap();
        let cp = key.sign(42, Hash([7; 32])).unwrap();
        assert!(cp.note.starts_with("mamori.example/test\n42\n"), "{}", cp.note);
        let back = check_checkpoint(&cp.note, key.verifier_key()).unwrap();
        assert_eq!((back.size, back.root), (42, Hash([7; 32])));
        let forged = cp.note.replacen("\n42\n", "\n43\n", 1);
        assert!(check_checkpoint(&forged, key.verifier_key()).is_err());
        let (other, _) = CheckpointKey::generate("mamori.example/test").unwrap();
        assert!(check_checkpoint(&cp.note, other.verifier_key()).is_err());
    }
}
