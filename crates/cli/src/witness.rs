//! `mamori witness …` and the witness half of `mamori verify`: a store whose holder has
//! the key can rewrite and re-sign its own history; what the witnesses cosigned it cannot.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
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
                eprintln!("witness listening on http://{addr}");
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
                eprintln!("mamori: witness {} has cosigned size {size}, more than this store holds: it was truncated or rolled back", w.name);
                code = ExitCode::from(1);
            }
            Submitted::Failed(why) => eprintln!("mamori: witness {}: {why} (tried again at the next cosign)", w.name),
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
            Submitted::WitnessAhead(size) => eprintln!("mamori: witness {} has cosigned size {size}, more than this store holds: run `mamori verify`", w.name),
            Submitted::Failed(why) => eprintln!("mamori: witness {}: {why} (tried again at the next write)", w.name),
        }
    }
}

/// What the witnesses hold, gathered before the log is walked (the walk recomputes the
/// roots at their sizes).
pub struct Checks {
    origin: String,
    log_vkey: String,
    stored: Vec<(String, u64, String)>,
    asked: Vec<(WitnessEntry, Result<Option<Witnessed>, String>)>,
}

/// `VKEY@URL` as given on the command line.
fn parse_witness(arg: &str) -> Result<WitnessEntry> {
    let (vkey, url) = arg.rsplit_once('@').with_context(|| format!("`{arg}`: give a witness as VKEY@URL"))?;
    let verifier = mamori_journal::witness::CosignatureVerifier::new(vkey).map_err(anyhow::Error::msg)?;
    Ok(WitnessEntry { name: verifier.name().to_owned(), vkey: vkey.to_owned(), url: url.to_owned() })
}

pub fn gather(j: &SqliteJournal, given: &[String], offline: bool) -> Result<Checks> {
    let log_vkey = j.verifier_key().to_owned();
    let origin = log_vkey.split('+').next().unwrap_or_default().to_owned();
    let mut ask: Vec<WitnessEntry> = given.iter().map(|g| parse_witness(g)).collect::<Result<_>>()?;
    for w in j.witnesses()? {
        if !ask.iter().any(|a| a.name == w.name) {
            ask.push(w);
        }
    }
    let asked = if offline { Vec::new() } else { ask.into_iter().map(|w| { let seen = witnessed(&w, &origin, &log_vkey); (w, seen) }).collect() };
    Ok(Checks { origin, log_vkey, stored: j.cosignatures()?, asked })
}

impl Checks {
    pub fn sizes(&self) -> BTreeSet<u64> {
        let online = self.asked.iter().filter_map(|(_, r)| r.as_ref().ok().and_then(|w| w.as_ref()).map(|w| w.checkpoint.size));
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
        for (name, _, note) in &self.stored {
            let Some(w) = report.witnesses.iter().find(|w| &w.name == name) else {
                return fail(format!("a cosignature is kept from {name}, a witness the log never added"));
            };
            let seen = check_cosigned(note, &self.log_vkey, &w.vkey).map_err(|e| VerifyFailure { leaf: None, reason: format!("a kept cosignature of {name}: {e}") })?;
            hold(name, &seen.checkpoint)?;
        }
        for (w, seen) in &self.asked {
            match seen {
                Ok(Some(seen)) => {
                    hold(&w.name, &seen.checkpoint)?;
                    let at = chrono::DateTime::from_timestamp(seen.time as i64, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
                    said.push(format!("witness {}: cosigned size {} at {at}; the store holds it", w.name, seen.checkpoint.size));
                }
                Ok(None) => said.push(format!("witness {}: has cosigned nothing of {} yet", w.name, self.origin)),
                Err(e) => said.push(format!("warning: witness {} not asked: {e}", w.name)),
            }
        }
        Ok(said)
    }
}
