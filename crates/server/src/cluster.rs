//! `mamori serve --cluster`: the stateless HTTP front of a clustered deployment
//! (docs/cluster.md). It checks the sender's key against the cluster's key bucket (a key
//! belongs to one tenant and one source), publishes the batch to the tenant's JetStream
//! stream with its idempotency key as the message id, and answers only after JetStream has
//! stored it on a majority of the stream's replicas. It holds no store: any number of them
//! can run behind a load balancer, and one that dies loses nothing acknowledged.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use mamori_cluster::{Cluster, PublishRefusal};

use crate::{ApiError, MAX_BODY, MAX_CONCURRENT, access_log, bearer_hash, read_batch};

struct Front {
    cluster: Cluster,
    /// Batches taken at once, per tenant: one tenant's slow senders wait among themselves,
    /// never in front of another tenant's.
    permits: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// What a batch came to in the cluster.
#[derive(serde::Serialize)]
struct Taken {
    /// The batch's name: its `Idempotency-Key`, or `sha256-` and its body's digest.
    batch: String,
    /// The tenant the key belongs to.
    tenant: String,
    /// Its place in the tenant's stream: the order of the tenant's log.
    sequence: u64,
    /// The stream had it already (a retry within the de-duplication window).
    duplicate: bool,
}

async fn ingest(State(front): State<Arc<Front>>, Path(source): Path<String>, headers: HeaderMap, body: axum::body::Body) -> Result<Json<Taken>, ApiError> {
    // The key is checked before a byte of the body is read.
    let hash = bearer_hash(&headers)?;
    let Some(key) = front.cluster.key(&hash).await.map_err(unavailable)? else {
        tracing::warn!(source = %source, "refused: a key the cluster does not know");
        return Err(ApiError::Unauthorized);
    };
    // A tenant's key sent beyond its one source (the front never lets a request name a
    // tenant: the key's entry does): refused, and logged with whose key it was.
    if key.scope != source {
        tracing::warn!(tenant = %key.tenant, key = %key.label, source = %source, "refused: a key used for a source it is not for");
        return Err(ApiError::Forbidden(source));
    }
    let permits = front.permits.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(key.tenant.clone()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT))).clone();
    let _permit = permits.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let (batch_id, body) = read_batch(&headers, body).await?;
    match front.cluster.publish(&key.tenant, &source, &batch_id, &key.label, body.into()).await {
        Ok(p) => Ok(Json(Taken { batch: batch_id, tenant: key.tenant, sequence: p.sequence, duplicate: p.duplicate })),
        Err(PublishRefusal::NoSuchSource) => Err(ApiError::UnknownSource(source)),
        Err(PublishRefusal::TooLarge(max)) => Err(ApiError::BadRequest(format!("a cluster batch is at most {max} bytes less 1 KiB after decompression; send smaller batches"))),
        Err(PublishRefusal::Unavailable(why)) => Err(unavailable(why)),
    }
}

/// The cluster's own words are logged, not told to the sender.
fn unavailable(why: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %why, "the cluster did not answer");
    ApiError::Unavailable("the cluster did not take the batch".into())
}

/// Whether this front is connected to the cluster (no personal data: anyone may ask).
async fn health(State(front): State<Arc<Front>>) -> Json<serde_json::Value> {
    let connected = front.cluster.client().connection_state() == async_nats::connection::State::Connected;
    Json(serde_json::json!({ "status": if connected { "ok" } else { "disconnected" } }))
}

/// Serves the cluster front until the process is stopped.
pub fn serve(nats: &str, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let cluster = Cluster::connect(nats, "mamori-serve").await?;
        let front = Arc::new(Front { cluster, permits: Default::default() });
        let app = axum::Router::new()
            .route("/v1/ingest/{source}", post(ingest))
            .route("/v1/health", get(health))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(axum::middleware::from_fn(access_log))
            .with_state(front);
        Ok(crate::accept(app, None, addr, ready).await?)
    })
}
