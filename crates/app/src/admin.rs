//! Taking access away: removing a console user and revoking an API key, from the CLI or
//! the console, each recorded in the log with the fields `verify` holds the tables to.
//!
//! The row goes first and the record after: a crash between leaves a credential the log
//! still names that no longer works, never one that works and the log does not name.

use anyhow::{Result, bail};
use mamori_journal::{ApiKeyRow, SqliteJournal};

use crate::audit::{self, Action};

/// Removes console user `name`; `end_sessions` ends their sessions and says how many.
pub fn remove_user(j: &mut SqliteJournal, actor: &str, name: &str, end_sessions: impl FnOnce() -> Result<usize>) -> Result<usize> {
    if !j.remove_user(name)? {
        bail!("no console user `{name}`");
    }
    let ended = end_sessions()?;
    audit::record_fields_by(j, actor, Action::UserRemove, &format!("console user {name} removed ({ended} sessions ended)"), &[("user", name)])?;
    Ok(ended)
}

/// Revokes the API key whose id (see `apikey list`: at least six hex digits of its
/// SHA-256) is `id`.
pub fn revoke_api_key(j: &mut SqliteJournal, actor: &str, id: &str) -> Result<ApiKeyRow> {
    let id = id.trim().to_ascii_lowercase();
    let keys = j.api_keys()?;
    let matching: Vec<&ApiKeyRow> = keys.iter().filter(|k| id.len() >= 6 && k.key_sha256.starts_with(&id)).collect();
    let key = match matching.as_slice() {
        [one] => (*one).clone(),
        [] => bail!("no API key with id `{id}` (see `mamori apikey list`)"),
        _ => bail!("`{id}` names {} keys: give more of the id", matching.len()),
    };
    j.revoke_api_key(&key.key_sha256)?;
    audit::record_fields_by(
        j,
        actor,
        Action::ApiKeyRevoke,
        &format!("API key {} for {} ({}) revoked", key.id, key.scope, key.label),
        &[("key_sha256", &key.key_sha256), ("scope", &key.scope), ("label", &key.label)],
    )?;
    Ok(key)
}
