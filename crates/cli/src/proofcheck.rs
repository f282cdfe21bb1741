//! Producing proofs and checking them as an outside party: with nothing but the proof
//! file, the log's public key and (optionally) a checkpoint published elsewhere.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mamori_journal::{
    ConsistencyProof, Hash, InclusionProof, Journal, check_checkpoint, check_consistency, check_inclusion, hex,
    leaf_hash, unhex,
};

use crate::ProofCommand;

pub fn run(cmd: ProofCommand, data: &Path, out: &mut impl Write) -> Result<ExitCode> {
    match cmd {
        ProofCommand::Inclusion { event_id, tree_size } => {
            let proof = crate::open(data)?.prove_inclusion(event_id, tree_size)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&proof)?)?;
        }
        ProofCommand::Consistency { old_size, new_size } => {
            let proof = crate::open(data)?.prove_consistency(old_size, new_size)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&proof)?)?;
        }
        ProofCommand::Check { proof, key, checkpoint } => {
            let key = if Path::new(&key).is_file() { std::fs::read_to_string(&key)?.trim().to_owned() } else { key };
            let text = std::fs::read_to_string(&proof).with_context(|| format!("reading {}", proof.display()))?;
            let published = checkpoint
                .map(|p| std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display())))
                .transpose()?;
            match check(&text, &key, published.as_deref()) {
                Ok(msg) => writeln!(out, "ok: {msg}")?,
                Err(e) => {
                    eprintln!("mamori: proof does not verify: {e:#}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn hashes(list: &[String]) -> Result<Vec<Hash>> {
    list.iter().map(|h| unhex(h).with_context(|| format!("`{h}` is not a SHA-256 hex hash"))).collect()
}

/// Checks an inclusion or consistency proof; returns what it established.
pub fn check(text: &str, key: &str, published: Option<&str>) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(text).context("the proof is not JSON")?;
    let signed = |note: &str| check_checkpoint(note, key).map_err(|e| anyhow::anyhow!("checkpoint: {e}"));
    let published = published.map(signed).transpose()?;
    if value.get("index").is_some() {
        let p: InclusionProof = serde_json::from_value(value).context("not an inclusion proof")?;
        let cp = signed(&p.checkpoint)?;
        if cp.size != p.tree_size {
            bail!("the checkpoint is for size {}, the proof for {}", cp.size, p.tree_size);
        }
        if let Some(pubd) = &published
            && (pubd.size != cp.size || pubd.root != cp.root)
        {
            bail!("the proof's checkpoint differs from the published one (size {} vs {})", cp.size, pubd.size);
        }
        let leaf = leaf_hash(p.event.as_bytes());
        if hex(&leaf) != p.leaf_hash {
            bail!("the event does not hash to the stated leaf hash");
        }
        check_inclusion(&hashes(&p.proof)?, p.tree_size, cp.root, p.index, leaf).map_err(anyhow::Error::msg)?;
        Ok(format!("event {} is leaf {} of the log signed at size {}", p.index, p.index, p.tree_size))
    } else {
        let p: ConsistencyProof = serde_json::from_value(value).context("not a consistency proof")?;
        let old = signed(&p.old_checkpoint)?;
        let new = signed(&p.new_checkpoint)?;
        if (old.size, new.size) != (p.old_size, p.new_size) {
            bail!("the checkpoints do not match the proof's sizes");
        }
        if let Some(pubd) = &published
            && !((pubd.size == old.size && pubd.root == old.root) || (pubd.size == new.size && pubd.root == new.root))
        {
            bail!("neither checkpoint of the proof is the published one");
        }
        if old.size > 0 {
            check_consistency(&hashes(&p.proof)?, new.size, new.root, old.size, old.root).map_err(anyhow::Error::msg)?;
        }
        Ok(format!("the log at size {} is a prefix of the log at size {}", old.size, new.size))
    }
}
