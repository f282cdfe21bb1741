//! Giving and taking access: creating an API key, removing a console user and revoking
//! an API key, from the CLI or the console, each recorded in the log with the fields
//! `verify` holds the tables to.
//!
//! Giving, the record goes first and the row after; taking away, the row first and the
//! record after: either way a crash between leaves a credential the log names that does
//! not work, never one that works and the log does not name.

use anyhow::{Result, bail};
use mamori_journal::{ApiKeyRow, SqliteJournal};

use crate::audit::{self, Action};

/// The scope of a key that reads reports and sends nothing.
pub const REPORTS_SCOPE: &str = "@reports";
/// The scope of a business system's key for the purpose-of-use gate: `@gate:` and the
/// system (`juki`, `zeimu` …), which its checks must name.
pub const GATE_SCOPE: &str = "@gate:";

/// Stores a new API key, known by its SHA-256 `hash`, for `scope` (a source, or
/// [`REPORTS_SCOPE`]) under `label`.
pub fn create_api_key(j: &mut SqliteJournal, actor: &str, scope: &str, label: &str, hash: &[u8; 32]) -> Result<()> {
    if scope.is_empty() || (scope.starts_with('@') && scope != REPORTS_SCOPE && !scope.strip_prefix(GATE_SCOPE).is_some_and(|s| !s.is_empty())) {
        bail!(crate::tr!("API キーは、1 つのソース用、レポートの閲覧用、1 つのシステムが利用目的ゲートに問い合わせる用のいずれかです", "a key is for one source, for reading reports, or for one system to ask the gate"));
    }
    if scope == REPORTS_SCOPE && label.trim().is_empty() {
        bail!(crate::tr!("レポート用のキーにはラベルが必要です: ログで閲覧者を示すものです", "a report key needs a label: it names the reader in the log"));
    }
    if label.len() > 200 || label.chars().any(char::is_control) {
        bail!(crate::tr!("ラベルは 200 バイト以内で、制御文字を含めないでください", "a label of at most 200 bytes, without control characters"));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    audit::record_fields_by(
        j,
        actor,
        Action::ApiKeyCreate,
        &format!("API key for {scope} ({label})"),
        &[("key_sha256", &mamori_journal::hex_bytes(hash)), ("scope", scope), ("label", label)],
    )?;
    j.add_api_key(hash, scope, label, now)?;
    Ok(())
}

/// Removes console user `name`; `end_sessions` ends their sessions and says how many.
pub fn remove_user(j: &mut SqliteJournal, actor: &str, name: &str, end_sessions: impl FnOnce() -> Result<usize>) -> Result<usize> {
    if !j.remove_user(name)? {
        bail!(crate::tr!("コンソール利用者 `{name}` はいません", "no console user `{name}`"));
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
        [] => bail!(crate::tr!("ID `{id}` の API キーはありません（`mamori apikey list` で確認してください）", "no API key with id `{id}` (see `mamori apikey list`)")),
        _ => bail!(crate::tr!("`{id}` に当てはまるキーが {} 個あります: ID をもっと長く指定してください", "`{id}` names {} keys: give more of the id", matching.len())),
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
