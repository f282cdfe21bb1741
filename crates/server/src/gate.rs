//! The purpose-of-use gate's API (docs/gate.md): `POST /v1/access-check` answers a
//! business system before it opens a record, `POST /v1/access-check/{id}/declare` records
//! the purpose the user stated. Keys are per system (`mamori apikey create --gate juki`):
//! a key answers only for its own system's checks.
//!
//! A check is answered from the directory and explanation model held in memory (built on
//! the first check, then rebuilt in the background when the master data in the log
//! changes), never from a journal scan. Checks are kept in memory (the latest
//! [`MAX_CHECKS`]) so that a declaration can name its check; a declaration, and every
//! break-the-glass use, is an event in the tamper-evident log.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use mamori_app::gate::{self as policy, Decision, Policy};
use mamori_journal::SqliteJournal;

use crate::{ApiError, Held, Server};

/// Checks remembered for their declarations.
pub const MAX_CHECKS: usize = 100_000;
/// How old the directory may grow before the log is asked whether master data or the
/// explanation model changed.
const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// The largest check or declaration body.
const MAX_GATE_BODY: usize = 16 * 1024;

/// What the gate holds between checks.
pub struct Gate {
    policy: Policy,
    model: RwLock<Option<Arc<Model>>>,
    refreshing: std::sync::atomic::AtomicBool,
    checks: Mutex<Checks>,
    /// Warnings and requests to declare, on their way to the log (written in batches by a
    /// thread of the server's, so a check never waits on the disk).
    to_record: Mutex<Option<std::sync::mpsc::SyncSender<ToRecord>>>,
    /// One directory build at a time (the first checks of a busy morning wait for it).
    building: tokio::sync::Mutex<()>,
    /// The store, for the connections that build and refresh the directory: their own,
    /// so that hashing a large town's master data never holds the connection every
    /// request's key check uses.
    dir: Mutex<Option<std::path::PathBuf>>,
}

/// An event for the gate's writer, and where to say its number once committed (a
/// declaration's answer waits for it; a check's does not).
type ToRecord = (mamori_journal::PreparedEvent, Option<tokio::sync::oneshot::Sender<Result<u64, String>>>);

/// Checks waiting to be written, at most: beyond it a check is answered and its record
/// dropped (and the drop logged) — a counter is never stopped for an audit trail.
const RECORD_QUEUE: usize = 10_000;

struct Model {
    dir: mamori_enrich::Directory,
    explanations: mamori_enrich::ExplanationModel,
    /// The log's master-data load and explanation model it was built from.
    generation: (Option<u64>, Option<u64>),
    /// When the log last said they were unchanged (or the model was built).
    checked: Mutex<Instant>,
}

#[derive(Default)]
struct Checks {
    order: VecDeque<String>,
    by_id: HashMap<String, Checked>,
}

#[derive(Clone)]
struct Checked {
    check: policy::Check,
    employee: Option<String>,
    decision: Decision,
    at_ms: i64,
    /// The declaration made for this check: a check is declared for once.
    declared: Option<u64>,
}

impl Gate {
    pub fn new(policy: Policy) -> Gate {
        Gate { policy, model: RwLock::new(None), refreshing: false.into(), checks: Mutex::new(Checks::default()), to_record: Mutex::new(None), building: tokio::sync::Mutex::new(()), dir: Mutex::new(None) }
    }

    /// Starts the thread that writes checks to the log of `dir` in batches (once a second,
    /// or at 500 waiting, or at once with a declaration).
    pub fn record_checks_into(&self, dir: std::path::PathBuf) -> std::io::Result<()> {
        *self.dir.held() = Some(dir.clone());
        let (send, receive) = std::sync::mpsc::sync_channel::<ToRecord>(RECORD_QUEUE);
        std::thread::Builder::new().name("mamori-gate-log".into()).spawn(move || {
            let mut j = match SqliteJournal::open(&dir) {
                Ok(j) => j,
                Err(e) => return tracing::error!(error = %e, "gate: opening the store to record checks"),
            };
            while let Ok(first) = receive.recv() {
                let mut batch = vec![first];
                let until = Instant::now() + Duration::from_secs(1);
                // Checks are gathered for up to a second; a declaration (someone waits for
                // its number) is written with what has gathered, at once.
                while batch.len() < 500 && batch.iter().all(|b| b.1.is_none()) {
                    match receive.recv_timeout(until.saturating_duration_since(Instant::now())) {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                while batch.len() < 500 {
                    match receive.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let written = mamori_journal::Journal::append(&mut j, mamori_journal::Batch { events: &events, ..Default::default() });
                if let Err(e) = &written {
                    tracing::error!(error = %e, events = events.len(), "gate: recording");
                }
                for (i, reply) in replies.into_iter().enumerate() {
                    if let Some(reply) = reply {
                        let _ = reply.send(written.as_ref().map(|r| r.first_seq + i as u64).map_err(|e| e.to_string()));
                    }
                }
            }
        })?;
        *self.to_record.held() = Some(send);
        Ok(())
    }

    fn queue(&self, event: mamori_journal::PreparedEvent) {
        if let Some(send) = self.to_record.held().as_ref()
            && send.try_send((event, None)).is_err()
        {
            tracing::warn!("gate: the record queue is full; a check's record was dropped");
        }
    }

    /// Writes a declaration through the gate's own writer (not the server's journal lock,
    /// which an ingest batch may hold for seconds) and waits for its number.
    async fn write(&self, event: mamori_journal::PreparedEvent) -> Result<u64, ApiError> {
        let (reply, written) = tokio::sync::oneshot::channel();
        let send = self.to_record.held().clone().ok_or_else(|| ApiError::Internal("the gate's writer is not running".into()))?;
        // A declaration waits for room rather than being dropped.
        tokio::task::spawn_blocking(move || send.send((event, Some(reply)))).await.map_err(|e| ApiError::Internal(e.to_string()))?.map_err(|e| ApiError::Internal(e.to_string()))?;
        written.await.map_err(|e| ApiError::Internal(e.to_string()))?.map_err(ApiError::Internal)
    }

    fn remember(&self, id: &str, checked: Checked) {
        let mut c = self.checks.held();
        c.order.push_back(id.to_owned());
        c.by_id.insert(id.to_owned(), checked);
        while c.order.len() > MAX_CHECKS {
            if let Some(old) = c.order.pop_front() {
                c.by_id.remove(&old);
            }
        }
    }
}

/// A connection of the gate's own to the store (see [`Gate::dir`]), else the server's
/// reading one.
fn with_store<T>(server: &Server, f: impl FnOnce(&SqliteJournal) -> T) -> anyhow::Result<T> {
    let dir = server.gate.dir.held().clone();
    match dir {
        Some(d) => Ok(f(&mamori_app::archive::open_store(&d)?)),
        None => Ok(f(&server.reader.held())),
    }
}

fn build(j: &SqliteJournal) -> anyhow::Result<Model> {
    let master = mamori_app::detect::master_from_store(j)?;
    let dir = mamori_enrich::Directory::new(&master);
    let explanations = mamori_app::detect::model_for_reports(j, &dir)?;
    Ok(Model { dir, explanations, generation: mamori_app::detect::generation(j)?, checked: Mutex::new(Instant::now()) })
}

/// The model to answer with: built on the first check; when it is older than
/// [`REFRESH_AFTER`], the log is asked in the background whether master data or the
/// explanation model changed, and the model rebuilt if either did (checks go on with the
/// old one meanwhile).
async fn model(server: &Arc<Server>) -> Result<Arc<Model>, ApiError> {
    let gate = &server.gate;
    let current = gate.model.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    match current {
        Some(m) => {
            let stale = m.checked.held().elapsed() > REFRESH_AFTER;
            if stale && !gate.refreshing.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let (worker, old) = (server.clone(), m.clone());
                tokio::task::spawn_blocking(move || {
                    let refreshed = with_store(&worker, |j| -> anyhow::Result<Option<Model>> {
                        if mamori_app::detect::generation(j)? == old.generation {
                            *old.checked.held() = Instant::now();
                            Ok(None)
                        } else {
                            build(j).map(Some)
                        }
                    });
                    match refreshed.and_then(|r| r) {
                        Ok(Some(fresh)) => *worker.gate.model.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(fresh)),
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = format!("{e:#}"), "gate: rebuilding the directory"),
                    }
                    worker.gate.refreshing.store(false, std::sync::atomic::Ordering::SeqCst);
                });
            }
            Ok(m)
        }
        None => {
            let _one = gate.building.lock().await;
            if let Some(m) = gate.model.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
                return Ok(m);
            }
            let worker = server.clone();
            let built = tokio::task::spawn_blocking(move || with_store(&worker, build).and_then(|b| b)).await.map_err(|e| ApiError::Internal(e.to_string()))?.map_err(|e| ApiError::Internal(format!("{e:#}")))?;
            let built = Arc::new(built);
            *gate.model.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(built.clone());
            Ok(built)
        }
    }
}

/// A check as a business system sends it.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The business system (its key must be for it): `juki`, `zeimu`, `koseki` …
    system: String,
    /// The user's account in that system.
    account: String,
    #[serde(default)]
    terminal: String,
    /// The resident's 宛名番号 (or another subject key the system uses).
    resident: String,
    /// `read`, `update`, `create`, `print` …
    #[serde(default)]
    operation: String,
    /// A purpose code the user gave with the request (`emergency` breaks the glass).
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    case_no: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// One reason behind the answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReasonBody {
    /// `relative`, `own`, `colleague`, `vip`, `no_business`, `business`, `batch`,
    /// `unknown_account`, `break_glass`.
    code: String,
    ja: String,
    en: String,
}

/// The gate's answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// Names this check in a declaration.
    check_id: String,
    /// `allow`, `warn` (show the banner, let the user go on) or `declare` (the user must
    /// state a purpose first).
    decision: String,
    /// The banner to show (empty for `allow`).
    message_ja: String,
    message_en: String,
    reasons: Vec<ReasonBody>,
}

fn gate_key(server: &Server, headers: &HeaderMap) -> Result<String, ApiError> {
    let (scope, _label) = server.key_scope(headers)?;
    scope.strip_prefix(mamori_app::admin::GATE_SCOPE).map(str::to_owned).ok_or_else(|| ApiError::Forbidden("the purpose-of-use gate".into()))
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_GATE_BODY {
        return Err(ApiError::TooLarge);
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("the request body: {e}")))
}

fn jst_now() -> (i64, chrono::NaiveDateTime) {
    let now = chrono::Utc::now();
    (now.timestamp_millis(), now.with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST")).naive_local())
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    crate::hex(&bytes)
}

/// Asks whether a record may be opened.
#[utoipa::path(
    post,
    path = "/v1/access-check",
    tag = "gate",
    request_body(content = CheckRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, the banner to show and the reasons", body = CheckAnswer),
        (status = 400, description = "A malformed check", body = crate::ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = crate::ErrorBody),
        (status = 403, description = "Not a gate key, or a key for another system", body = crate::ErrorBody),
        (status = 413, description = "Body too large", body = crate::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn access_check(State(server): State<Arc<Server>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Result<Json<CheckAnswer>, ApiError> {
    let system = gate_key(&server, &headers)?;
    let asked: CheckRequest = body(&bytes)?;
    if asked.system != system {
        return Err(ApiError::Forbidden(format!("checks of system `{}`", asked.system)));
    }
    for (field, text) in [("account", &asked.account), ("resident", &asked.resident)] {
        if text.trim().is_empty() || text.len() > 200 || text.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!("{field}: 1–200 bytes, no control characters")));
        }
    }
    for (field, text, most) in [
        ("terminal", Some(&asked.terminal), 200),
        ("operation", Some(&asked.operation), 64),
        ("purpose", asked.purpose.as_ref(), 64),
        ("case_no", asked.case_no.as_ref(), 200),
        ("reason", asked.reason.as_ref(), 2000),
    ] {
        if text.is_some_and(|t| t.len() > most || t.chars().any(|c| c.is_control() && c != '\n')) {
            return Err(ApiError::BadRequest(format!("{field}: at most {most} bytes, no control characters")));
        }
    }
    let model = model(&server).await?;
    let check = policy::Check {
        system: asked.system,
        account: asked.account,
        terminal: asked.terminal,
        resident: asked.resident,
        operation: asked.operation,
        purpose: asked.purpose,
        case_no: asked.case_no,
        reason: asked.reason,
    };
    let (at_ms, at) = jst_now();
    let answer = policy::decide(&model.dir, &model.explanations, &server.gate.policy, &check, at);
    let id = random_id();
    let checked = Checked { check: check.clone(), employee: answer.employee.clone(), decision: answer.decision, at_ms, declared: None };
    server.gate.remember(&id, checked.clone());
    if answer.decision != Decision::Allow {
        let why: Vec<&str> = answer.reasons.iter().map(|r| r.code.as_str()).collect();
        let mut gate = fields(&id, &checked);
        gate.insert("reasons".into(), serde_json::json!(why));
        let detail = format!("gate said {:?} to {} {} → resident {} ({})", answer.decision, check.system, check.account, check.resident, why.join(", ")).to_lowercase();
        match mamori_app::audit::object_event(&format!("gate:{}", check.system), mamori_app::audit::Action::GateCheck, &detail, "gate", gate.into()) {
            Ok(event) => server.gate.queue(event),
            Err(e) => tracing::error!(error = %e, "gate: a check's record"),
        }
    }
    if answer.break_glass {
        // Breaking the glass is recorded before the answer: it is reviewed like a finding.
        let declaration = policy::Declaration { purpose: server.gate.policy.break_glass.clone(), case_no: check.case_no.clone(), reason: check.reason.clone() };
        let event = record(&server, &id, &checked, &declaration).await?;
        if let Some(c) = server.gate.checks.held().by_id.get_mut(&id) {
            c.declared = Some(event);
        }
    }
    let decision = match answer.decision {
        Decision::Allow => "allow",
        Decision::Warn => "warn",
        Decision::Declare => "declare",
    };
    Ok(Json(CheckAnswer {
        check_id: id,
        decision: decision.into(),
        message_ja: answer.message_ja,
        message_en: answer.message_en,
        reasons: answer.reasons.into_iter().map(|r| ReasonBody { code: r.code, ja: r.ja, en: r.en }).collect(),
    }))
}

/// A stated purpose.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    /// One of the policy's purpose codes (`counter`, `case`, `inquiry`, `audit`,
    /// `emergency` by default).
    purpose: String,
    /// The case (受付番号) the access is for; needed for some purposes.
    #[serde(default)]
    case_no: Option<String>,
    /// Free text; needed to break the glass.
    #[serde(default)]
    reason: Option<String>,
}

/// The declaration's place in the log.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeclareAnswer {
    check_id: String,
    /// The event that records the declaration.
    event: u64,
}

/// Records the purpose the user stated for a check: an event in the log, which detection
/// takes as the explanation of the access that follows.
#[utoipa::path(
    post,
    path = "/v1/access-check/{id}/declare",
    tag = "gate",
    params(("id" = String, Path, description = "The check's id")),
    request_body(content = DeclareRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = DeclareAnswer),
        (status = 400, description = "An incomplete declaration (an unknown purpose, a case number or reason missing)", body = crate::ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = crate::ErrorBody),
        (status = 403, description = "Not a gate key, or another system's check", body = crate::ErrorBody),
        (status = 404, description = "No such check, or none in the last `declaration_minutes` (gate.toml)", body = crate::ErrorBody),
        (status = 413, description = "Body too large", body = crate::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn declare(State(server): State<Arc<Server>>, headers: HeaderMap, Path(id): Path<String>, bytes: axum::body::Bytes) -> Result<Json<DeclareAnswer>, ApiError> {
    let system = gate_key(&server, &headers)?;
    let asked: DeclareRequest = body(&bytes)?;
    let checked = server.gate.checks.held().by_id.get(&id).cloned().ok_or(ApiError::NotFound(format!("check `{id}`")))?;
    if checked.check.system != system {
        return Err(ApiError::Forbidden(format!("checks of system `{}`", checked.check.system)));
    }
    // A check is declared for once (a retry gets the first declaration's number), and only
    // soon after it: a check id cannot be kept and replayed to open new windows.
    let (now_ms, _) = jst_now();
    if now_ms - checked.at_ms > server.gate.policy.declaration_minutes as i64 * 60_000 {
        return Err(ApiError::NotFound(format!("check `{id}` in the last {} minutes: ask again", server.gate.policy.declaration_minutes)));
    }
    let declaration = policy::Declaration { purpose: asked.purpose, case_no: asked.case_no, reason: asked.reason };
    declaration.validate(&server.gate.policy).map_err(|e| ApiError::BadRequest(format!("{e:#}")))?;
    if let Some(event) = checked.declared {
        return Ok(Json(DeclareAnswer { check_id: id, event }));
    }
    let event = record(&server, &id, &checked, &declaration).await?;
    if let Some(c) = server.gate.checks.held().by_id.get_mut(&id) {
        c.declared.get_or_insert(event);
    }
    Ok(Json(DeclareAnswer { check_id: id, event }))
}

/// What a gate event says of its check, under the key `gate` (not beside the event's own
/// `resident` and `operation`, which mean the access an event is, and a gate event is
/// not one): the check, who asked of whom, the employee behind the account, the decision.
fn fields(id: &str, checked: &Checked) -> serde_json::Map<String, serde_json::Value> {
    let c = &checked.check;
    let text = |k: &str, v: &str| (k.to_owned(), serde_json::Value::from(v));
    serde_json::Map::from_iter([
        text("check_id", id),
        text("system", &c.system),
        text("account", &c.account),
        text("terminal", &c.terminal),
        text("resident", &c.resident),
        text("operation", &c.operation),
        text("employee", checked.employee.as_deref().unwrap_or_default()),
        text("decision", &format!("{:?}", checked.decision).to_lowercase()),
    ])
}

/// The declaration event: who (the system's account and the employee behind it), of whom,
/// why, for which check, and what the gate had said.
async fn record(server: &Arc<Server>, id: &str, checked: &Checked, d: &policy::Declaration) -> Result<u64, ApiError> {
    let c = &checked.check;
    let mut gate = fields(id, checked);
    for (k, v) in [
        ("checked_at", serde_json::json!(checked.at_ms)),
        ("purpose", d.purpose.clone().into()),
        ("case_no", d.case_no.clone().unwrap_or_default().into()),
        ("reason", d.reason.clone().unwrap_or_default().into()),
        ("break_glass", (d.purpose == server.gate.policy.break_glass).into()),
    ] {
        gate.insert(k.into(), v);
    }
    let detail = format!("purpose `{}` declared at the gate for {} {} → resident {} (check {id})", d.purpose, c.system, c.account, c.resident);
    let event = mamori_app::audit::object_event(&format!("gate:{}", c.system), mamori_app::audit::Action::GateDeclare, &detail, "gate", gate.into()).map_err(|e| ApiError::Internal(format!("{e:#}")))?;
    server.gate.write(event).await
}
