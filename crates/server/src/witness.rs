//! Witnesses over HTTP: the service another body runs (`mamori witness serve`), and the
//! town's side that submits each new checkpoint to its witnesses and asks them, at
//! `verify`, what they last cosigned.
//!
//! The service speaks C2SP `tlog-witness`: `POST <prefix>/add-checkpoint`. Reading a
//! witness's newest cosigned checkpoint is not yet specified there ("TBD Monitor Retrieval
//! Mechanism"); this service answers `GET <prefix>/mamori/checkpoint?origin=…` with it,
//! the log's signature and the witness's cosignature on one note.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mamori_journal::witness::add_checkpoint_request;
use mamori_journal::{Journal, SqliteJournal, WitnessEntry, Witness, check_cosigned};

/// A request larger than this is no checkpoint (63 proof lines and a note of a few
/// signatures are a few kilobytes).
const MAX_REQUEST: usize = 64 * 1024;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(State(w): State<Arc<Mutex<Witness>>>, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || w.lock().expect("witness lock").add_checkpoint(&body, now())).await;
    match result {
        Ok(Ok(lines)) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response(),
        Ok(Err(refusal)) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [(header::CONTENT_TYPE, refusal.content_type)], refusal.body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn latest(State(w): State<Arc<Mutex<Witness>>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(origin) = q.get("origin") else { return (StatusCode::BAD_REQUEST, "origin= is required\n").into_response() };
    match w.lock().expect("witness lock").latest(origin) {
        Ok(Some(note)) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, format!("nothing cosigned for `{origin}`\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

pub fn router(witness: Witness) -> axum::Router {
    axum::Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/mamori/checkpoint", get(latest))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(Arc::new(Mutex::new(witness)))
}

/// Serves a witness until the process is stopped.
pub fn serve(witness: Witness, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, router(witness)).await
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).http_status_as_error(false).build().into()
}

fn url(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// What one submission came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Cosigned at this size.
    Cosigned(u64),
    /// The witness holds a larger tree than this store: it was rolled back or truncated.
    WitnessAhead(u64),
    /// Not reached or refused; tried again at the next checkpoint.
    Failed(String),
}

/// Submits the store's newest checkpoint to one witness, from the size it last cosigned
/// (asked of the witness when the store does not know it), and keeps the cosignature.
pub fn submit(journal: &mut SqliteJournal, witness: &WitnessEntry) -> Submitted {
    let mut run = || -> Result<Submitted, String> {
        let Some(latest) = journal.latest_checkpoint().map_err(|e| e.to_string())? else { return Ok(Submitted::Failed("the store has no checkpoint".into())) };
        let mut old = journal.cosignatures().map_err(|e| e.to_string())?.into_iter().find(|c| c.0 == witness.name).map_or(0, |c| c.1);
        for _ in 0..2 {
            if old > latest.size {
                return Ok(Submitted::WitnessAhead(old));
            }
            let proof = if old == 0 || old == latest.size {
                Vec::new()
            } else {
                let p = journal.prove_consistency(old, latest.size).map_err(|e| e.to_string())?;
                p.proof.iter().map(|h| mamori_journal::unhex(h).ok_or_else(|| format!("a proof hash `{h}` is not hex"))).collect::<Result<Vec<_>, _>>()?
            };
            let body = add_checkpoint_request(old, &proof, &latest.note);
            let mut response = agent()
                .post(url(&witness.url, "add-checkpoint"))
                .header("Content-Type", "text/plain; charset=utf-8")
                .send(body.as_bytes())
                .map_err(|e| format!("{}: {e}", witness.url))?;
            let status = response.status().as_u16();
            let is_size = response.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/x.tlog.size"));
            let text = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
            match status {
                200 => {
                    let note = format!("{}{text}", latest.note);
                    check_cosigned(&note, journal.verifier_key(), &witness.vkey).map_err(|e| format!("{}: {e}", witness.name))?;
                    journal.add_cosignature(&witness.name, latest.size, &note).map_err(|e| e.to_string())?;
                    return Ok(Submitted::Cosigned(latest.size));
                }
                409 if is_size => old = text.trim().parse().map_err(|_| format!("{}: a size that is not a number: {text}", witness.name))?,
                _ => return Ok(Submitted::Failed(format!("{} answered {status}: {}", witness.name, text.trim()))),
            }
        }
        Ok(Submitted::Failed(format!("{}: the size it holds kept changing", witness.name)))
    };
    run().unwrap_or_else(Submitted::Failed)
}

/// Asks a witness for the newest checkpoint of `origin` it cosigned, as it sent it (the
/// caller checks it, with every key the log has had); `None` when it has cosigned none.
pub fn witnessed(witness: &WitnessEntry, origin: &str) -> Result<Option<String>, String> {
    let mut response = agent()
        .get(url(&witness.url, "mamori/checkpoint"))
        .query("origin", origin)
        .call()
        .map_err(|e| format!("{} ({}): {e}", witness.name, witness.url))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
    match status {
        200 => Ok(Some(text)),
        404 => Ok(None),
        _ => Err(format!("{} answered {status}: {}", witness.name, text.trim())),
    }
}

/// How often `serve` offers its newest checkpoint to its witnesses.
const COSIGN_EVERY: Duration = Duration::from_secs(30);

/// Offers each new checkpoint to the store's witnesses from a thread of its own, on its own
/// connection: a witness that is slow or down never holds up ingest, and is asked again.
pub fn cosign_in_background(dir: std::path::PathBuf) {
    std::thread::spawn(move || {
        let mut offered: HashMap<String, u64> = HashMap::new();
        loop {
            if let Ok(mut j) = SqliteJournal::open(&dir)
                && let (Ok(witnesses), Ok(Some(latest))) = (j.witnesses(), j.latest_checkpoint())
            {
                for w in witnesses {
                    if offered.get(&w.name) == Some(&latest.size) {
                        continue;
                    }
                    match submit(&mut j, &w) {
                        Submitted::Cosigned(size) => {
                            offered.insert(w.name.clone(), size);
                        }
                        Submitted::WitnessAhead(size) => tracing::error!(witness = %w.name, size, "the witness has cosigned more than this store holds: run `mamori verify`"),
                        Submitted::Failed(why) => tracing::warn!(witness = %w.name, error = %why, retry_in_s = COSIGN_EVERY.as_secs(), "cosigning failed"),
                    }
                }
            }
            std::thread::sleep(COSIGN_EVERY);
        }
    });
}
