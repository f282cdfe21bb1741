//! `mamori witness …` and the witness half of `mamori verify`: a store whose holder has
//! the key can rewrite and re-sign its own history; what the witnesses cosigned it cannot.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use mamori_app::tr;
use mamori_journal::{SqliteJournal, VerifyFailure, VerifyReport, Witness, WitnessEntry, Witnessed, check_cosigned};
use mamori_server::witness::{Submitted, submit, witnessed};

use crate::WitnessCommand;

pub fn run(cmd: WitnessCommand, data: &Path, out: &mut impl Write) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Init { dir, name } => {
            let w = Witness::init(&dir, &name).map_err(anyhow::Error::msg)?;
            writeln!(out, "{}", w.verifier_key())?;
        }
        WitnessCommand::Trust { dir, log_key } => {
            let mut w = Witness::open(&dir).map_err(anyhow::Error::msg)?;
            let origin = w.trust(&log_key).map_err(anyhow::Error::msg)?;
            writeln!(out, "watching {origin}")?;
        }
        WitnessCommand::Key { dir } => {
            writeln!(out, "{}", Witness::open(&dir).map_err(anyhow::Error::msg)?.verifier_key())?;
        }
        WitnessCommand::Serve { dir, listen } => {
            let w = Witness::open(&dir).map_err(anyhow::Error::msg)?;
            mamori_server::witness::serve(w, listen, |addr| {
                eprintln!("{}", tr!("証人は http://{addr} で待ち受けています", "witness listening on http://{addr}"));
            })?;
        }
        WitnessCommand::Add { url, key } => {
            let verifier = mamori_journal::witness::CosignatureVerifier::new(&key).map_err(anyhow::Error::msg)?;
            let mut j = crate::open(data)?;
            crate::audit::record_witness_add(&mut j, verifier.name(), key.trim(), &url)?;
            j.add_witness(verifier.name(), key.trim(), &url)?;
            writeln!(out, "witness {} added; checkpoints are submitted to {url}", verifier.name())?;
            return cosign(&mut j, out);
        }
        WitnessCommand::Cosign => return cosign(&mut crate::open(data)?, out),
    }
    Ok(ExitCode::SUCCESS)
}

/// Submits the newest checkpoint to each witness; a witness ahead of the store fails.
pub fn cosign(j: &mut SqliteJournal, out: &mut impl Write) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for w in j.witnesses()? {
        match submit(j, &w) {
            Submitted::Cosigned(size) => writeln!(out, "{}: cosigned at size {size}", w.name)?,
            Submitted::WitnessAhead(size) => {
                eprintln!("{}", tr!("mamori: 証人 {} は大きさ {size} まで連署しており、このストアが持つより多くなっています。ストアが切り詰められたか、巻き戻されています", "mamori: witness {} has cosigned size {size}, more than this store holds: it was truncated or rolled back", w.name));
                code = ExitCode::from(1);
            }
            Submitted::Failed(why) => eprintln!("{}", tr!("mamori: 証人 {}: {why}（次の連署で再試行します）", "mamori: witness {}: {why} (tried again at the next cosign)", w.name)),
        }
    }
    Ok(code)
}

/// Submits after a write, never failing it: a witness that is down is asked again later.
pub fn cosign_quietly(j: &mut SqliteJournal) {
    let Ok(witnesses) = j.witnesses() else { return };
    for w in witnesses {
        match submit(j, &w) {
            Submitted::Cosigned(_) => {}
            Submitted::WitnessAhead(size) => eprintln!("{}", tr!("mamori: 証人 {} は大きさ {size} まで連署しており、このストアが持つより多くなっています。`mamori verify` を実行してください", "mamori: witness {} has cosigned size {size}, more than this store holds: run `mamori verify`", w.name)),
            Submitted::Failed(why) => eprintln!("{}", tr!("mamori: 証人 {}: {why}（次の書き込みで再試行します）", "mamori: witness {}: {why} (tried again at the next write)", w.name)),
        }
    }
}

/// What the witnesses hold, gathered before the log is walked (the walk recomputes the
/// roots at their sizes).
pub struct Checks {
    origin: String,
    stored: Vec<(String, u64, String)>,
    asked: Vec<(WitnessEntry, Result<Option<String>, String>)>,
    /// The public key the auditor holds (`verify --key`), if given.
    held_key: Option<String>,
}

/// `VKEY@URL` as given on the command line.
fn parse_witness(arg: &str) -> Result<WitnessEntry> {
    let (vkey, url) = arg.rsplit_once('@').with_context(|| tr!("`{arg}`: 証人は VKEY@URL の形で指定してください", "`{arg}`: give a witness as VKEY@URL"))?;
    let verifier = mamori_journal::witness::CosignatureVerifier::new(vkey).map_err(anyhow::Error::msg)?;
    Ok(WitnessEntry { name: verifier.name().to_owned(), vkey: vkey.to_owned(), url: url.to_owned() })
}

pub fn gather(j: &SqliteJournal, given: &[String], offline: bool, held_key: Option<String>) -> Result<Checks> {
    let log_vkey = j.verifier_key().to_owned();
    let origin = log_vkey.split('+').next().unwrap_or_default().to_owned();
    let mut ask: Vec<WitnessEntry> = given.iter().map(|g| parse_witness(g)).collect::<Result<_>>()?;
    for w in j.witnesses()? {
        if !ask.iter().any(|a| a.name == w.name) {
            ask.push(w);
        }
    }
    let asked = if offline { Vec::new() } else { ask.into_iter().map(|w| { let seen = witnessed(&w, &origin); (w, seen) }).collect() };
    Ok(Checks { origin, stored: j.cosignatures()?, asked, held_key })
}

impl Checks {
    pub fn sizes(&self) -> BTreeSet<u64> {
        // Sizes as the notes say (unchecked here; `judge` checks them).
        let size = |note: &str| note.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
        let online = self.asked.iter().filter_map(|(_, r)| r.as_ref().ok().and_then(|n| n.as_deref()).and_then(size));
        self.stored.iter().map(|s| s.1).chain(online).collect()
    }

    /// Holds the verified store to what was cosigned; returns what to tell the user.
    pub fn judge(&self, report: &VerifyReport) -> Result<Vec<String>, VerifyFailure> {
        fn fail<T>(reason: String) -> Result<T, VerifyFailure> {
            Err(VerifyFailure { leaf: None, reason })
        }
        let mut said = Vec::new();
        let hold = |who: &str, seen: &mamori_journal::SignedCheckpoint| -> Result<(), VerifyFailure> {
            if seen.size > report.tree_size {
                return fail(format!(
                    "witness {who} cosigned tree size {} of {}, but the store holds {}: events were removed or an older copy of the store restored",
                    seen.size, self.origin, report.tree_size
                ));
            }
            if report.roots.get(&seen.size) != Some(&mamori_journal::hex(&seen.root)) {
                return fail(format!(
                    "the store's first {} events are not those witness {who} cosigned: its history was rewritten",
                    seen.size
                ));
            }
            Ok(())
        };
        if let Some(held) = &self.held_key
            && !report.keys.iter().any(|k| k.trim() == held.trim())
        {
            return fail(format!("the log is not signed by the key you hold ({}): the store was re-keyed", held.trim()));
        }
        // A cosigned note checked with each key the log has had (a witness may hold a
        // checkpoint from before a rotation).
        let check = |note: &str, witness_vkey: &str| -> Result<Witnessed, String> {
            let mut last = String::new();
            for key in &report.keys {
                match check_cosigned(note, key, witness_vkey) {
                    Ok(w) => return Ok(w),
                    Err(e) => last = e,
                }
            }
            Err(last)
        };
        for (name, _, note) in &self.stored {
            let Some(w) = report.witnesses.iter().find(|w| &w.name == name) else {
                return fail(format!("a cosignature is kept from {name}, a witness the log never added"));
            };
            let seen = check(note, &w.vkey).map_err(|e| VerifyFailure { leaf: None, reason: format!("a kept cosignature of {name}: {e}") })?;
            hold(name, &seen.checkpoint)?;
        }
        for (w, answer) in &self.asked {
            let seen = match answer {
                Ok(Some(note)) => match check(note, &w.vkey) {
                    Ok(seen) => Ok(Some(seen)),
                    // The witness answered with what it cosigned, and no key of this log
                    // signed it: the store's keys and history were replaced.
                    Err(e) => return fail(format!("witness {} holds a checkpoint of {} that no key of this store signed ({e}): the store was re-keyed or replaced", w.name, self.origin)),
                },
                Ok(None) => Ok(None),
                Err(e) => Err(e.clone()),
            };
            match &seen {
                Ok(Some(seen)) => {
                    hold(&w.name, &seen.checkpoint)?;
                    let at = chrono::DateTime::from_timestamp(seen.time as i64, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
                    said.push(tr!("証人 {}: 大きさ {} まで {at} に連署済み。ストアはその内容を保持しています", "witness {}: cosigned size {} at {at}; the store holds it", w.name, seen.checkpoint.size));
                }
                Ok(None) => said.push(tr!("証人 {}: {} についてはまだ何も連署していません", "witness {}: has cosigned nothing of {} yet", w.name, self.origin)),
                Err(e) => said.push(tr!("注意: 証人 {} に問い合わせできませんでした: {e}", "warning: witness {} not asked: {e}", w.name)),
            }
        }
        Ok(said)
    }
}
