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

pub fn run(cmd: ProofCommand, data: &Path, en: bool, out: &mut impl Write) -> Result<ExitCode> {
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
            match check(&text, &key, published.as_deref(), en) {
                Ok(msg) if en => writeln!(out, "ok: {msg}")?,
                Ok(msg) => writeln!(out, "検証 OK: {msg}")?,
                Err(e) if en => {
                    eprintln!("mamori: proof does not verify: {e:#}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => {
                    eprintln!("mamori: 証明を検証できません: {e:#}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn hashes(list: &[String], en: bool) -> Result<Vec<Hash>> {
    list.iter().map(|h| unhex(h).with_context(|| if en { format!("`{h}` is not a SHA-256 hex hash") } else { format!("`{h}` は SHA-256 の16進ハッシュではありません") })).collect()
}

/// Checks an inclusion or consistency proof; returns what it established, in Japanese
/// unless `en`. A resident's verifier reads this, so its refusals are in their language
/// too; the cryptographic check's own reason (from the journal) stays as it is.
pub fn check(text: &str, key: &str, published: Option<&str>, en: bool) -> Result<String> {
    let say = |ja: String, english: String| if en { english } else { ja };
    let value: serde_json::Value = serde_json::from_str(text).context(say("証明が JSON ではありません".into(), "the proof is not JSON".into()))?;
    let signed = |note: &str| check_checkpoint(note, key).map_err(|e| anyhow::anyhow!("{}: {e}", say("チェックポイント".into(), "checkpoint".into())));
    let published = published.map(signed).transpose()?;
    if value.get("index").is_some() {
        let p: InclusionProof = serde_json::from_value(value).context(say("包含証明の形をしていません".into(), "not an inclusion proof".into()))?;
        let cp = signed(&p.checkpoint)?;
        if cp.size != p.tree_size {
            bail!(say(format!("チェックポイントは大きさ {}、証明は {} のものです", cp.size, p.tree_size), format!("the checkpoint is for size {}, the proof for {}", cp.size, p.tree_size)));
        }
        if let Some(pubd) = &published
            && (pubd.size != cp.size || pubd.root != cp.root)
        {
            bail!(say(format!("証明のチェックポイントが公開されたものと違います（大きさ {} と {}）", cp.size, pubd.size), format!("the proof's checkpoint differs from the published one (size {} vs {})", cp.size, pubd.size)));
        }
        let leaf = leaf_hash(p.event.as_bytes());
        if hex(&leaf) != p.leaf_hash {
            bail!(say("イベントのハッシュが記載の葉ハッシュと一致しません".into(), "the event does not hash to the stated leaf hash".into()));
        }
        check_inclusion(&hashes(&p.proof, en)?, p.tree_size, cp.root, p.index, leaf).map_err(anyhow::Error::msg)?;
        Ok(say(format!("イベント {} は、大きさ {} で署名されたログの葉 {} です", p.index, p.tree_size, p.index), format!("event {} is leaf {} of the log signed at size {}", p.index, p.index, p.tree_size)))
    } else {
        let p: ConsistencyProof = serde_json::from_value(value).context(say("整合性証明の形をしていません".into(), "not a consistency proof".into()))?;
        let old = signed(&p.old_checkpoint)?;
        let new = signed(&p.new_checkpoint)?;
        if (old.size, new.size) != (p.old_size, p.new_size) {
            bail!(say("チェックポイントの大きさが証明のものと一致しません".into(), "the checkpoints do not match the proof's sizes".into()));
        }
        if let Some(pubd) = &published
            && !((pubd.size == old.size && pubd.root == old.root) || (pubd.size == new.size && pubd.root == new.root))
        {
            bail!(say("証明のどちらのチェックポイントも公開されたものではありません".into(), "neither checkpoint of the proof is the published one".into()));
        }
        if old.size > 0 {
            check_consistency(&hashes(&p.proof, en)?, new.size, new.root, old.size, old.root).map_err(anyhow::Error::msg)?;
        }
        Ok(say(format!("大きさ {} のログは、大きさ {} のログの先頭部分です（書き換えなし）", old.size, new.size), format!("the log at size {} is a prefix of the log at size {}", old.size, new.size)))
    }
}
