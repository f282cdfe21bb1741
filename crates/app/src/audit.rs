//! The auditors' own actions, recorded as OCSF API Activity (6003) events in the same
//! Merkle log as everything else, so that who changed the store, and when, is as
//! tamper-evident as the accesses it watches.

use anyhow::Result;
use mamori_journal::{Batch, Journal, MasterKind, PreparedEvent};
use mamori_model::{ClassUid, Device, Event, StatusId};

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Init,
    Import,
    MasterLoad,
    ApiKeyCreate,
    Detect,
    Report,
    ReviewSignoff,
    UserAdd,
    SignIn,
    SignInFailed,
    WitnessAdd,
    KeyRotate,
    SignOut,
    UserRemove,
    ApiKeyRevoke,
    /// A console page or report showing personal data was viewed.
    View,
    /// A step of a case (opened, noted, assigned, closed).
    Case,
    /// `mamori verify --record`: the log checked, and what the check said.
    Verify,
    /// A purpose stated at the purpose-of-use gate (or the glass broken).
    GateDeclare,
    /// The gate told a user to take care (`warn`) or to state a purpose (`declare`).
    GateCheck,
    /// The store joined a cluster as a tenant, or its sources there changed.
    ClusterTenant,
    /// Sealed segments copied to the archive (`mamori archive export`).
    ArchiveExport,
    /// Events read from the command line (`mamori events …`): personal data shown to
    /// whoever ran it, so recorded like a console view.
    Query,
    /// Archived segments' events dropped from the store (`mamori archive release`).
    ArchiveRelease,
}

/// Recorded verifications are tagged so: the dashboard shows the latest.
pub const VERIFY_TAG: &str = "verify";

impl Action {
    /// OCSF API Activity activity_id: 1 Create, 3 Update.
    fn activity_id(self) -> u8 {
        match self {
            Action::Init | Action::Import | Action::ApiKeyCreate | Action::Detect => 1,
            Action::MasterLoad => 3,
            Action::Report => 2,
            Action::ReviewSignoff => 1,
            Action::UserAdd => 1,
            Action::SignIn | Action::SignInFailed | Action::SignOut => 99,
            Action::WitnessAdd => 1,
            Action::KeyRotate => 3,
            Action::UserRemove | Action::ApiKeyRevoke => 4,
            Action::View => 2,
            Action::Case => 3,
            Action::Verify => 2,
            Action::GateDeclare => 1,
            Action::GateCheck => 2,
            Action::ClusterTenant => 3,
            Action::ArchiveExport => 1,
            Action::Query => 2,
            Action::ArchiveRelease => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::Init => "init",
            Action::Import => "import",
            Action::MasterLoad => "master.load",
            Action::ApiKeyCreate => "apikey.create",
            Action::Detect => "detect",
            Action::Report => "report",
            Action::ReviewSignoff => "review.signoff",
            Action::UserAdd => "user.add",
            Action::SignIn => "console.signin",
            Action::SignInFailed => "console.signin-failed",
            Action::WitnessAdd => "witness.add",
            Action::KeyRotate => "key.rotate",
            Action::SignOut => "console.signout",
            Action::UserRemove => "user.remove",
            Action::ApiKeyRevoke => "apikey.revoke",
            Action::View => "console.view",
            Action::Case => "case",
            Action::Verify => "verify",
            Action::GateDeclare => "gate.declare",
            Action::GateCheck => "gate.check",
            Action::ClusterTenant => "cluster.tenant",
            Action::ArchiveExport => "archive.export",
            Action::Query => "events.query",
            Action::ArchiveRelease => "archive.release",
        }
    }
}

/// The name an action is recorded under: `MAMORI_OPERATOR` when set (a shared service
/// account's person), else the login name. Both are what the caller says; what the kernel
/// says is recorded beside it as `os_account` ([`os_account`]).
pub fn operator() -> String {
    std::env::var("MAMORI_OPERATOR")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.trim().is_empty())
        .or_else(os_account)
        .unwrap_or_else(|| "unknown".into())
}

/// The account the kernel runs this process as (its real uid, named from /etc/passwd):
/// unlike `MAMORI_OPERATOR` or `$USER`, not something the caller can set, so a record of
/// who read or changed the store cannot be put in another person's name without their
/// account. `uid N` when /etc/passwd does not name it; `None` off Linux.
pub fn os_account() -> Option<String> {
    static ACCOUNT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_owned();
            let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|passwd| {
                passwd.lines().find_map(|l| {
                    let mut cols = l.split(':');
                    let (name, _, id) = (cols.next()?, cols.next()?, cols.next()?);
                    (id == uid).then(|| name.to_owned())
                })
            });
            Some(name.unwrap_or_else(|| format!("uid {uid}")))
        })
        .clone()
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

pub fn default_origin() -> String {
    format!("mamori.local/{}", hostname().unwrap_or_else(|| "log".into()))
}

pub fn record(journal: &mut dyn Journal, action: Action, detail: &str) -> Result<()> {
    record_tagged(journal, action, detail, &[]).map(|_| ())
}

/// Records an action with tags that name its event (see `Batch::tags`); returns its id.
pub fn record_tagged(journal: &mut dyn Journal, action: Action, detail: &str, tags: &[(&str, &str)]) -> Result<u64> {
    record_by(journal, &operator(), action, detail, tags)
}

/// Records an action taken by `actor` (an API client, by its key's label).
pub fn record_by(journal: &mut dyn Journal, actor: &str, action: Action, detail: &str, tags: &[(&str, &str)]) -> Result<u64> {
    let mut event = action_event(actor, action, detail)?;
    // A tag is only a pointer; the event carries it too, so `verify` can tell a forged one.
    if !tags.is_empty() {
        event.unmapped.extra.insert("tags".into(), tags.iter().map(|(k, v)| serde_json::json!([k, v])).collect::<Vec<_>>().into());
    }
    let receipt = journal.append(Batch { events: &[PreparedEvent::new(&event)], tags, ..Default::default() })?;
    Ok(receipt.first_seq)
}

/// Records an action with the fields `verify` holds a table to (a user's role and
/// password hash's digest, an API key's hash and scope).
pub fn record_fields(journal: &mut dyn Journal, action: Action, detail: &str, fields: &[(&str, &str)]) -> Result<u64> {
    record_fields_by(journal, &operator(), action, detail, fields)
}

/// [`record_fields`] for an action taken by `actor` (a console user).
/// An action with one structured field `key`, ready to append with others (the gate's
/// checks are written in batches).
pub fn object_event(actor: &str, action: Action, detail: &str, key: &str, value: serde_json::Value) -> Result<PreparedEvent> {
    let mut event = action_event(actor, action, detail)?;
    event.unmapped.extra.insert(key.into(), value);
    Ok(PreparedEvent::new(&event))
}

/// Records an action with one structured field `key` (a JSON object): kept apart from
/// the event's own fields (`resident`, `operation` …), which it must not shadow.
pub fn record_object_by(journal: &mut dyn Journal, actor: &str, action: Action, detail: &str, key: &str, value: serde_json::Value) -> Result<u64> {
    let mut event = action_event(actor, action, detail)?;
    event.unmapped.extra.insert(key.into(), value);
    Ok(journal.append(Batch { events: &[PreparedEvent::new(&event)], ..Default::default() })?.first_seq)
}

pub fn record_fields_by(journal: &mut dyn Journal, actor: &str, action: Action, detail: &str, fields: &[(&str, &str)]) -> Result<u64> {
    let mut event = action_event(actor, action, detail)?;
    for (k, v) in fields {
        event.unmapped.extra.insert((*k).into(), (*v).into());
    }
    Ok(journal.append(Batch { events: &[PreparedEvent::new(&event)], ..Default::default() })?.first_seq)
}

/// The record of a key rotation: the old key and the new.
pub fn key_rotation_event(old: &str, new: &str) -> PreparedEvent {
    let mut event = action_event(&operator(), Action::KeyRotate, "signing key rotated").expect("the clock is after 1970");
    event.unmapped.extra.insert("old_vkey".into(), old.into());
    event.unmapped.extra.insert("new_vkey".into(), new.into());
    PreparedEvent::new(&event)
}

/// The record of a detection run, carrying the digests of the tables it wrote.
pub fn detection_event(findings: usize, digests: serde_json::Value) -> PreparedEvent {
    let mut event = action_event(&operator(), Action::Detect, &format!("{findings} findings")).expect("the clock is after 1970");
    event.unmapped.extra.insert("detection".into(), digests);
    PreparedEvent::new(&event)
}

/// Replaces master-data kinds and records the load in one transaction: the event names each
/// file read (its SHA-256 and rows) and each kind stored (rows and the digest `verify`
/// recomputes from the tables), so the master data reports trust is checked against the log.
pub fn record_master_load(journal: &mut dyn Journal, kinds: &[MasterKind], files: &[(String, String, usize)], detail: &str) -> Result<u64> {
    let mut event = action_event(&operator(), Action::MasterLoad, detail)?;
    let stored: serde_json::Map<String, serde_json::Value> =
        kinds.iter().map(|k| (k.kind.clone(), serde_json::json!({"rows": k.rows.len(), "sha256": k.digest()}))).collect();
    event.unmapped.extra.insert("master".into(), stored.into());
    let read: Vec<serde_json::Value> = files.iter().map(|(name, sha, rows)| serde_json::json!({"file": name, "sha256": sha, "rows": rows})).collect();
    event.unmapped.extra.insert("files".into(), read.into());
    let receipt = journal.append(Batch { events: &[PreparedEvent::new(&event)], master: kinds, ..Default::default() })?;
    Ok(receipt.first_seq)
}

/// Records a witness added: `verify` asks the witnesses the log names, whatever the table says.
pub fn record_witness_add(journal: &mut dyn Journal, name: &str, vkey: &str, url: &str) -> Result<u64> {
    let mut event = action_event(&operator(), Action::WitnessAdd, &format!("witness {name} at {url}"))?;
    for (k, v) in [("witness", name), ("vkey", vkey), ("url", url)] {
        event.unmapped.extra.insert(k.into(), v.into());
    }
    Ok(journal.append(Batch { events: &[PreparedEvent::new(&event)], ..Default::default() })?.first_seq)
}

/// The product name mamori's own actions are logged under.
pub const PRODUCT: &str = "mamori";

fn action_event(actor: &str, action: Action, detail: &str) -> Result<Event> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut event = Event::new(ClassUid::ApiActivity, action.activity_id(), now, actor, PRODUCT);
    event.status_id = if matches!(action, Action::SignInFailed) { StatusId::Failure } else { StatusId::Success };
    event.device = Some(Device { hostname: hostname(), ip: None });
    event.unmapped.operation = Some(action.name().into());
    event.unmapped.extra.insert("detail".into(), detail.into());
    if let Some(account) = os_account() {
        event.unmapped.extra.insert("os_account".into(), account.into());
    }
    Ok(event)
}
