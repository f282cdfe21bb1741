//! mamori's HTTP API: streaming ingest, and reports for those who may read them.
//!
//! `POST /v1/ingest/{source}` takes a batch of a configured source's records (NDJSON or
//! CSV, in that source's format; `Content-Encoding: gzip` allowed) from a client holding
//! an API key for that source (`Authorization: Bearer …`). The batch is written to a
//! spool file and imported through the same pipeline as a file; the answer comes only
//! after the batch is committed, so an acknowledged batch is durable. A batch is named by
//! its `Idempotency-Key` header, or else by the SHA-256 of its body: a client that
//! retries after a lost answer sends the same batch again and it is not stored twice.
//!
//! `POST /v1/reports/disclosure` with `{"resident", "from", "to", "request_no", "format"}`
//! answers a resident's access-history request for a client holding a report key (made with
//! `mamori apikey create --reports`); an ingest key cannot read, a report key cannot
//! write. The report is made by the application services (`mamori_app`), which also
//! record the request, under the key's label, in the log.
//!
//! Back-pressure: bodies are limited in size, at most `MAX_CONCURRENT` batches are taken
//! at once and the rest wait, and the single journal writer takes them one after another.
//!
//! `/console/…` is the auditors' console ([`console`]): sign-in with a password, then
//! the same reports in a browser.
//!
//! This crate owns HTTP, authentication and request limits; it must not parse sources,
//! write storage other than through ingest, or hold detection logic.

pub mod cluster;
pub mod console;
pub mod gate;
pub mod witness;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use mamori_ingest::{ImportOptions, ImportSummary, import_file};
use mamori_journal::{Journal, SqliteJournal};
use mamori_sources::{AdapterContext, SourceConfig};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Largest request body accepted (compressed or not).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest batch after gunzip.
pub const MAX_BATCH: u64 = 256 * 1024 * 1024;
/// Batches taken at once; the rest wait for a permit.
pub const MAX_CONCURRENT: usize = 4;

/// The `source` of an API key that may read reports and send nothing.
pub use mamori_app::admin::{GATE_SCOPE, REPORTS_SCOPE};

pub use mamori_app::console::DisclosureQuery;

/// Streaming detection's settings: the detection config and an extra Sigma folder.
pub type StreamingDetection = (mamori_detect::Config, Option<PathBuf>);

pub struct Server {
    journal: Mutex<SqliteJournal>,
    /// A second connection for key checks and reads: WAL lets it read while the writer
    /// commits, so authentication never waits behind an import.
    reader: Mutex<SqliteJournal>,
    sources: BTreeMap<String, SourceConfig>,
    context: AdapterContext,
    spool: PathBuf,
    permits: tokio::sync::Semaphore,
    /// Wakes the detection thread after a committed batch (`serve --detect`).
    detect_wake: Option<std::sync::mpsc::SyncSender<()>>,
    /// Batches committed for detection, and how many of them its finished runs covered:
    /// `/v1/health` says whether detection has caught up.
    detect_progress: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    sessions: console::Sessions,
    /// Session cookies carry `Secure` (served over TLS, or behind a TLS proxy).
    secure_cookies: bool,
    /// A hash of nothing anyone knows, checked when the user is unknown so that a wrong
    /// name takes as long as a wrong password.
    decoy: String,
    /// How the console scores an employee's risk over time (`detect.toml`'s `[risk]`).
    risk: mamori_detect::RiskConfig,
    /// Served over TLS (`serve --tls-cert --tls-key`).
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The purpose-of-use gate: its policy and what it holds in memory.
    gate: gate::Gate,
}

/// The detection thread of `serve --detect`: [`mamori_app::detect::follow`], woken after
/// each committed batch; `progress` says which batches its finished steps cover.
fn streaming_detection(dir: &std::path::Path, settings: &StreamingDetection, woken: &std::sync::mpsc::Receiver<()>, progress: &(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)) {
    use std::sync::atomic::Ordering;
    // The batches committed when a wake-up was taken; wake-ups that came while a step
    // went on are one more step, not many.
    let take_wake = || -> Option<u64> {
        woken.recv().ok()?;
        while woken.try_recv().is_ok() {}
        Some(progress.0.load(Ordering::SeqCst))
    };
    mamori_app::detect::follow(dir, &settings.0, settings.1.as_deref(), take_wake, |covers| progress.1.store(covers, Ordering::SeqCst), |_| {});
}

/// A lock that a panicking request left poisoned is taken all the same: the journal's
/// own state survives a panic (a transaction rolls back when dropped, and the writer's
/// cached head is re-read after any failed append), and one bad request must not stop
/// every later sign-in and batch.
trait Held<T> {
    fn held(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> Held<T> for Mutex<T> {
    fn held(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Makes a new API key: the key to hand to the sender, and its SHA-256 to store.
pub fn new_api_key() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let key = format!("mamori_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = Sha256::digest(key.as_bytes()).into();
    (key, hash)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("this API key is not for `{0}`")]
    Forbidden(String),
    #[error("source `{0}` is not configured")]
    UnknownSource(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("batch larger than {MAX_BATCH} bytes after decompression")]
    TooLarge,
    #[error("{0}")]
    Conflict(String),
    #[error("no {0}")]
    NotFound(String),
    #[error("the body did not arrive in time")]
    Timeout,
    /// The cluster did not take a batch (no quorum, timed out): the sender tries again.
    #[error("not stored: {0}; send the batch again")]
    Unavailable(String),
    /// Logged on the server; the client is told no more (no paths, no internals).
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownSource(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let ApiError::Internal(why) = &self {
            tracing::error!(error = %why, "internal error");
        }
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl Server {
    pub fn new(journal: SqliteJournal, sources: BTreeMap<String, SourceConfig>, context: AdapterContext) -> std::io::Result<Server> {
        let spool = journal.dir().join("spool");
        std::fs::create_dir_all(&spool)?;
        let reader = mamori_app::archive::open_store(journal.dir()).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let sessions = console::Sessions::open(journal.dir()).map_err(std::io::Error::other)?;
        Ok(Server {
            journal: Mutex::new(journal),
            reader: Mutex::new(reader),
            sources,
            context,
            spool,
            permits: tokio::sync::Semaphore::new(MAX_CONCURRENT),
            detect_wake: None,
            detect_progress: Arc::default(),
            secure_cookies: false,
            risk: mamori_detect::RiskConfig::default(),
            tls: None,
            gate: gate::Gate::new(mamori_app::gate::Policy::default()),
            sessions,
            decoy: console::hash_password(&new_api_key().0).map_err(std::io::Error::other)?,
        })
    }

    /// Marks session cookies `Secure`: the console is reached over TLS (a proxy in front
    /// terminates it). Browsers then never send the session over plain HTTP.
    pub fn with_secure_cookies(mut self, secure: bool) -> Server {
        self.secure_cookies = secure;
        self
    }

    /// Serves HTTPS with the certificate chain and private key in these PEM files
    /// (rustls: TLS 1.2 and 1.3, HTTP/1.1): cookies are then `Secure` and answers carry
    /// HSTS. A bad file is named in the error.
    pub fn with_tls(mut self, cert: &std::path::Path, key: &std::path::Path) -> Result<Server, String> {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("{}: no certificate in it", cert.display()));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?;
        self.tls = Some(Arc::new(config));
        self.secure_cookies = true;
        Ok(self)
    }

    /// The town's gate policy (`gate.toml`); checks that warn or ask for a purpose are
    /// recorded in the log by a thread of their own.
    pub fn with_gate_policy(mut self, policy: mamori_app::gate::Policy) -> std::io::Result<Server> {
        self.gate = gate::Gate::new(policy);
        let dir = self.journal.held().dir().to_path_buf();
        self.gate.record_checks_into(dir)?;
        Ok(self)
    }

    /// The town's risk settings (`detect.toml`), for the employee page's risk over time.
    pub fn with_risk(mut self, risk: mamori_detect::RiskConfig) -> Server {
        self.risk = risk;
        self
    }

    /// Runs detection beside the server: after each committed batch a thread of its own,
    /// with its own connection to the store, goes on from the saved state (batches that
    /// arrive while it runs are taken by its next run). Ingest is acknowledged when the
    /// batch is committed, never after detection, and sign-in never waits for it.
    pub fn with_streaming_detection(mut self, settings: StreamingDetection) -> std::io::Result<Server> {
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let dir = self.journal.held().dir().to_path_buf();
        let progress = self.detect_progress.clone();
        std::thread::Builder::new().name("mamori-detect".into()).spawn(move || streaming_detection(&dir, &settings, &woken, &progress))?;
        self.detect_wake = Some(wake);
        Ok(self)
    }

    /// The bearer key's scope and label, whatever they are.
    fn key_scope(&self, headers: &HeaderMap) -> Result<(String, String), ApiError> {
        let hash = bearer_hash(headers)?;
        self.reader.held().api_key_source(&hash).map_err(|e| ApiError::Internal(e.to_string()))?.ok_or(ApiError::Unauthorized)
    }

    /// Checks the bearer key against `scope` (a source, or [`REPORTS_SCOPE`]); the key's
    /// label names the client.
    fn authorise(&self, headers: &HeaderMap, scope: &str) -> Result<String, ApiError> {
        match self.key_scope(headers)? {
            (s, label) if s == scope => Ok(label),
            _ => Err(ApiError::Forbidden(scope.to_owned())),
        }
    }

    /// Imports one batch (blocking: runs on the blocking pool).
    fn ingest(&self, source: &str, batch_id: &str, body: &[u8]) -> Result<ImportSummary, ApiError> {
        let config = self.sources.get(source);
        let adapter = match config {
            Some(c) => mamori_sources::adapter(source, c, &self.context).map_err(ApiError::Internal)?,
            None => return Err(ApiError::UnknownSource(source.to_owned())),
        };
        let spool = self.spool.join(format!("{}.batch", hex(&Sha256::digest(format!("{source}\n{batch_id}")))));
        let stream = format!("http:{source}:{batch_id}");
        let options = ImportOptions { source: source.to_owned(), stream: Some(stream.clone()), log_name: Some(format!("http:{batch_id}")), ..Default::default() };
        // One batch key at a time (the journal lock), so concurrent retries of one key are
        // served one after the other: the first stores, the rest find it stored.
        let mut journal = self.journal.held();
        // A key already used for other content is the sender's mistake, not a retry.
        if let Some(done) = journal.cursor(&stream).map_err(|e| ApiError::Internal(e.to_string()))?
            && done.complete_sha256.is_some_and(|h| h != <[u8; 32]>::from(Sha256::digest(body)))
        {
            return Err(ApiError::Conflict(format!("Idempotency-Key `{batch_id}` was used for a different batch")));
        }
        std::fs::write(&spool, body).map_err(|e| ApiError::Internal(format!("spool: {e}")))?;
        let result = import_file(&mut *journal, &spool, &options, adapter, &mut |_, _| {});
        let _ = std::fs::remove_file(&spool);
        // What went wrong with the sender's bytes is theirs to hear, without the spool path.
        let summary = result.map_err(|e| ApiError::BadRequest(e.to_string().replace(&spool.display().to_string(), "the batch")))?;
        if let Some(wake) = &self.detect_wake
            && summary.accepted > 0
        {
            // A full channel means a run is already due: nothing is lost by not sending.
            self.detect_progress.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = wake.try_send(());
        }
        Ok(summary)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    // Every member: `cat a.gz b.gz` is one valid gzip stream of both.
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_BATCH + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("not gzip: {e}")))?;
    if out.len() as u64 > MAX_BATCH {
        return Err(ApiError::TooLarge);
    }
    Ok(out)
}

/// A batch's body (read within [`BODY_TIMEOUT`], gunzipped when sent so) and its name:
/// the `Idempotency-Key`, or `sha256-` and the body's digest.
pub(crate) async fn read_batch(headers: &HeaderMap, body: axum::body::Body) -> Result<(String, Vec<u8>), ApiError> {
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(read) => read.map_err(|_| ApiError::TooLarge)?,
        Err(_) => return Err(ApiError::Timeout),
    };
    let gzip = headers.get("content-encoding").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let body = if gzip { gunzip(&body)? } else { body.to_vec() };
    let batch_id = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(k) if !k.is_empty() && k.len() <= 200 && k.chars().all(|c| c.is_ascii_graphic()) => k.to_owned(),
        Some(_) => return Err(ApiError::BadRequest("Idempotency-Key must be 1–200 visible ASCII characters".into())),
        None => format!("sha256-{}", hex(&Sha256::digest(&body))),
    };
    Ok((batch_id, body))
}

/// The SHA-256 of the request's bearer key.
pub(crate) fn bearer_hash(headers: &HeaderMap) -> Result<[u8; 32], ApiError> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    Ok(Sha256::digest(key.trim().as_bytes()).into())
}

/// What a batch came to.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct IngestAnswer {
    /// The batch's name: its `Idempotency-Key`, or `sha256-` and its body's digest.
    batch: String,
    /// Records stored.
    accepted: u64,
    /// Lines refused (kept as dead letters with the reason).
    rejected: u64,
    /// Lines the source's format skips (headers, comments).
    ignored: u64,
    /// The batch was stored before (a retry, or the same content under another key).
    duplicate: bool,
}

/// Why a request was refused: one short sentence, never a server path.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: String,
}

/// Takes a batch of one source's records, as that source writes them.
#[utoipa::path(
    post,
    path = "/v1/ingest/{source}",
    tag = "ingest",
    params(
        ("source" = String, Path, description = "A source configured in the server's config (`mamori.toml`)", example = "juki"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters naming the batch; a retry with the same key is not stored twice, the same key with other content is 409"),
        ("Content-Encoding" = Option<String>, Header, description = "`gzip` (every member is read)"),
    ),
    request_body(content = String, description = "The records: NDJSON, CSV or the source's own format", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Committed: durable before this answer", body = IngestAnswer),
        (status = 400, description = "Not gzip, or a bad Idempotency-Key", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key is not for this source", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for other content", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn ingest(
    State(server): State<Arc<Server>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<IngestAnswer>, ApiError> {
    // The key is checked before a byte of the body is read: a stranger's 60 MiB is never
    // buffered.
    server.authorise(&headers, &source)?;
    let _permit = server.permits.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let (batch_id, body) = read_batch(&headers, body).await?;
    let worker = server.clone();
    let id = batch_id.clone();
    let summary = tokio::task::spawn_blocking(move || worker.ingest(&source, &id, &body))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(IngestAnswer {
        batch: batch_id,
        accepted: summary.accepted as u64,
        rejected: summary.rejected as u64,
        ignored: summary.ignored as u64,
        // Stored before: by another key with the same content, or by this key (a retry).
        duplicate: summary.duplicate_of.is_some() || (summary.accepted == 0 && summary.already_committed_lines > 0),
    }))
}

/// A disclosure request as the API takes it (JSON).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DisclosureRequest {
    /// The resident's 宛名番号.
    resident: String,
    /// First day, `YYYY-MM-DD` (JST); default: the first record.
    #[serde(default)]
    from: Option<String>,
    /// Last day, inclusive; default: today.
    #[serde(default)]
    to: Option<String>,
    /// The request's number, printed on the report.
    #[serde(default)]
    request_no: String,
    /// `html` (default), `csv`, `csv-sjis` or `json`.
    #[serde(default)]
    format: Option<String>,
}

/// A resident's disclosure for a report key. The request is a JSON body, so the resident's
/// number is in no URL (and no access log of a proxy in between).
#[utoipa::path(
    post,
    path = "/v1/reports/disclosure",
    tag = "reports",
    request_body(content = DisclosureRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The report (operators withheld), in the format asked for; its making is recorded in the log", content(
            (String = "text/html"),
            (String = "text/csv"),
            (String = "application/json"),
        )),
        (status = 400, description = "A malformed request, or a resident or period with no answer (the refusal is recorded too)", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "Not a report key", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
async fn disclosure(State(server): State<Arc<Server>>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let reader = server.authorise(&headers, REPORTS_SCOPE)?;
    let asked: DisclosureRequest = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the request body: {e}")))?;
    let query = DisclosureQuery { resident: asked.resident, from: asked.from, to: asked.to, request_no: asked.request_no, format: asked.format };
    let worker = server.clone();
    let made = tokio::task::spawn_blocking(move || {
        let mut journal = worker.journal.held();
        mamori_app::console::disclosure(&mut journal, &format!("api:{reader}"), "the API", &query).map_err(ApiError::BadRequest)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let (content_type, body) = made;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok`
    status: &'static str,
    /// With `serve --detect`: batches committed that detection has not yet covered.
    detection_pending: bool,
}

/// Whether the server is up and, with `--detect`, whether detection has caught up with
/// every committed batch (no personal data: anyone may ask).
#[utoipa::path(get, path = "/v1/health", tag = "operations", responses((status = 200, body = Health)))]
async fn health(State(server): State<Arc<Server>>) -> Json<Health> {
    use std::sync::atomic::Ordering;
    let (committed, covered) = (server.detect_progress.0.load(Ordering::SeqCst), server.detect_progress.1.load(Ordering::SeqCst));
    Json(Health { status: "ok", detection_pending: covered < committed })
}

/// The latest signed checkpoint (C2SP signed note): tree size and root, signed.
#[utoipa::path(get, path = "/v1/checkpoint", tag = "transparency", responses((status = 200, description = "A signed note", body = String, content_type = "text/plain")))]
async fn checkpoint(State(server): State<Arc<Server>>) -> Result<String, ApiError> {
    let cp = server.reader.held().latest_checkpoint().map_err(|e| ApiError::Internal(e.to_string()))?;
    cp.map(|c| c.note).ok_or_else(|| ApiError::Internal("no checkpoint".into()))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ConsistencyQuery {
    /// An earlier signed tree size.
    old: u64,
    /// A later signed tree size.
    new: u64,
}

/// A consistency proof between two signed sizes, for witnesses and auditors outside: like
/// the checkpoints, it holds hashes only.
#[utoipa::path(
    get,
    path = "/v1/proof/consistency",
    tag = "transparency",
    params(ConsistencyQuery),
    responses(
        (status = 200, body = mamori_journal::ConsistencyProof),
        (status = 400, description = "Sizes no checkpoint was signed at, or out of order", body = ErrorBody),
    )
)]
async fn consistency(
    State(server): State<Arc<Server>>,
    q: Result<axum::extract::Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<mamori_journal::ConsistencyProof>, ApiError> {
    // A malformed query is answered in JSON like every other refusal.
    let axum::extract::Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let proof = server.reader.held().prove_consistency(q.old, q.new).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(proof))
}

/// Headers every answer carries: nothing personal is cached or framed, no type is sniffed,
/// no address leaks in a Referer, and pages may load nothing from elsewhere.
async fn security_headers(State(server): State<Arc<Server>>, mut response: Response) -> Response {
    use axum::http::HeaderValue;
    let h = response.headers_mut();
    if server.secure_cookies {
        // Served over HTTPS (here or by the proxy in front): browsers keep to it.
        h.insert(axum::http::header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(axum::http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(axum::http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    response
}

/// One service log line per request: method, the route it matched (`/console/findings/{id}`,
/// not the id: ids can name residents), status, time taken and the client's address.
async fn access_log(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<axum::extract::MatchedPath>().map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    let client = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, route, status, ms, client, "request");
    } else {
        tracing::info!(%method, route, status, ms, client, "request");
    }
    response
}

/// The API's description: paths gathered from the handlers as they are routed (so no
/// route is left out or described twice), plus the key scheme.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "mamori API", description = "Streaming ingest, residents' disclosures for report keys, and the log's transparency proofs."),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "ingest", description = "Batches of a source's records, with an ingest key"),
        (name = "reports", description = "Residents' disclosures, with a report key"),
        (name = "transparency", description = "Checkpoints and proofs for witnesses and outside auditors"),
        (name = "gate", description = "The purpose-of-use gate, with a system's gate key (docs/gate.md)"),
        (name = "operations", description = "Health"),
    )
)]
struct ApiDoc;

struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API key from `mamori apikey create`")).build();
        components.add_security_scheme("api_key", SecurityScheme::Http(bearer));
    }
}

/// The API's routes with their OpenAPI description, built together.
fn api() -> (axum::Router<Arc<Server>>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(checkpoint))
        .routes(routes!(consistency))
        .routes(routes!(ingest))
        .routes(routes!(disclosure))
        .routes(routes!(gate::access_check))
        .routes(routes!(gate::declare))
        .split_for_parts()
}

/// `/v1/openapi.json`: the API's description, for clients and for schemathesis.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

pub fn router(server: Arc<Server>) -> axum::Router {
    let (api, doc) = api();
    let doc = Arc::new(doc.to_pretty_json().expect("the OpenAPI document serialises"));
    api.route("/v1/openapi.json", get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()) }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .merge(console::routes())
        .layer(axum::middleware::from_fn(access_log))
        .layer(axum::middleware::map_response_with_state(server.clone(), security_headers))
        .with_state(server)
}

/// How long a client may take to send a request's headers, and its body: a connection
/// that trickles (slowloris) is closed instead of holding a task and a permit forever.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection's byte stream, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Serves until the process is stopped: HTTP/1.1 by hyper, each connection with a header
/// read timeout and the client's address for the console.
pub fn serve(server: Server, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    witness::cosign_in_background(server.journal.held().dir().to_path_buf());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tls = server.tls.clone();
    runtime.block_on(accept(router(Arc::new(server)), tls, addr, ready))
}

/// Takes connections on `addr` for `app` until the process is stopped.
async fn accept(app: axum::Router, tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            // Out of descriptors and the like: wait a moment rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new))
        });
        let tls = tls.clone();
        tokio::spawn(async move {
            let io: Box<dyn Io> = match tls {
                None => Box::new(stream),
                // The handshake is bounded like the headers: a client that opens and
                // waits holds nothing for long.
                Some(acceptor) => match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => Box::new(stream),
                    _ => return,
                },
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service);
            // A client that goes away or is timed out is no error of ours.
            let _ = connection.await;
        });
    }
}

#[cfg(test)]
mod tests {
    /// The document describes every API route with its method, and nothing else: a route
    /// added without its description, or a description left after its route, fails here.
    #[test]
    fn the_openapi_document_lists_every_api_route_and_its_method() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let mut listed: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| format!("{} {path}", method.to_uppercase())))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                "GET /v1/checkpoint",
                "GET /v1/health",
                "GET /v1/proof/consistency",
                "POST /v1/access-check",
                "POST /v1/access-check/{id}/declare",
                "POST /v1/ingest/{source}",
                "POST /v1/reports/disclosure"
            ]
        );
        assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
        for schema in ["IngestAnswer", "ErrorBody", "Health", "DisclosureRequest", "ConsistencyProof", "CheckRequest", "CheckAnswer", "DeclareRequest", "DeclareAnswer"] {
            assert!(doc["components"]["schemas"].get(schema).is_some(), "{schema} described");
        }
    }
}
