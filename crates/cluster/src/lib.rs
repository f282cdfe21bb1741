//! mamori's clustered mode, for a prefecture's security cloud serving many towns: batches
//! travel through NATS JetStream, and one worker at a time writes each tenant's log.
//!
//! - **Streams.** Each tenant has an ingest stream `MAMORI_IN_<tenant>` holding the
//!   subjects `mamori.<tenant>.<source>` of its configured sources (a batch for a source the
//!   tenant does not have finds no stream), and a findings stream
//!   `MAMORI_FINDINGS_<tenant>` holding `mamori.<tenant>.findings`. A batch is published
//!   with its idempotency key as the message id, so JetStream drops a retry within the
//!   duplicate window; the tenant's journal drops one after it (its import cursors). The
//!   ingest stream's sequence is the order the tenant's Merkle log follows.
//! - **Keys.** `mamori_keys` (JetStream KV) maps the SHA-256 of an API key to its tenant,
//!   scope and label: the HTTP front (`serve --cluster`) keeps no state of its own.
//! - **Leases.** `mamori_leases` (KV, entries expire after the lease time) holds one entry
//!   per tenant, created by the worker that takes it and renewed while it works: a worker
//!   that dies stops renewing, its entry expires, and another worker creates it. Each live
//!   worker keeps an entry `worker.<name>` there too, so workers know how many share the
//!   tenants.
//! - **Tenants.** `mamori_tenants` (KV) lists each tenant and its sources.
//!
//! The journal of a tenant lives at `<root>/tenants/<tenant>` (an ordinary mamori store,
//! with its `mamori.toml` and optional `detect.toml` beside), on storage every worker can
//! reach. See docs/cluster.md.

pub mod local;
pub mod worker;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_nats::jetstream::{self, kv, stream};
use serde::{Deserialize, Serialize};

pub const KEYS_BUCKET: &str = "mamori_keys";
pub const TENANTS_BUCKET: &str = "mamori_tenants";
pub const LEASES_BUCKET: &str = "mamori_leases";
/// The durable consumers of a tenant's ingest stream are named so, with the revision of
/// the lease they were made under: one per holder (see [`worker`]).
pub const CONSUMER_PREFIX: &str = "mamori-worker-";
/// How long JetStream remembers a batch's message id (its de-duplication window).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Header naming the client (the API key's label) that sent a batch.
pub const SENDER_HEADER: &str = "Mamori-Sender";

/// A tenant's name: lower-case letters, digits, `-` and `_`, at most 32, starting with a
/// letter or digit. It is a subject token, a stream-name part and a directory name, so
/// nothing else is allowed.
pub fn check_tenant(tenant: &str) -> Result<()> {
    check_token("tenant", tenant)
}

/// A source's name as a subject token; `findings` is taken.
pub fn check_source(source: &str) -> Result<()> {
    check_token("source", source)?;
    if source == "findings" {
        bail!("source `findings`: the name is taken by the findings subject");
    }
    Ok(())
}

fn check_token(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        bail!("{what} `{name}`: 1–32 lower-case letters, digits, `-` or `_`, starting with a letter or digit");
    }
    Ok(())
}

pub fn ingest_stream(tenant: &str) -> String {
    format!("MAMORI_IN_{tenant}")
}

pub fn findings_stream(tenant: &str) -> String {
    format!("MAMORI_FINDINGS_{tenant}")
}

pub fn subject(tenant: &str, source: &str) -> String {
    format!("mamori.{tenant}.{source}")
}

pub fn findings_subject(tenant: &str) -> String {
    format!("mamori.{tenant}.findings")
}

/// What `mamori_keys` holds for a key: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyEntry {
    pub tenant: String,
    /// The source the key may send (the only scope a cluster key has yet).
    pub scope: String,
    /// Names the sending system in the tenant's log.
    pub label: String,
}

/// What `mamori_tenants` holds for a tenant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantEntry {
    pub sources: Vec<String>,
    pub replicas: usize,
}

/// How a published batch was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Published {
    /// Its place in the tenant's ingest stream.
    pub sequence: u64,
    /// JetStream had it already (a retry within the de-duplication window).
    pub duplicate: bool,
}

/// Why a batch was not published.
#[derive(Debug)]
pub enum PublishRefusal {
    /// No stream holds the subject: the tenant has no such source.
    NoSuchSource,
    /// Larger than the NATS servers take in one message.
    TooLarge(usize),
    /// The cluster did not take it (no quorum, timed out): the sender should retry.
    Unavailable(String),
}

/// A connection to the cluster's NATS servers, with the JetStream context and buckets.
#[derive(Clone)]
pub struct Cluster {
    client: async_nats::Client,
    js: jetstream::Context,
}

/// A tenant's state as the cluster holds it (`mamori cluster status`).
#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    pub tenant: String,
    pub sources: Vec<String>,
    /// Batches in the ingest stream, and its last sequence.
    pub batches: u64,
    pub last_sequence: u64,
    /// Batches not yet delivered to a worker, and delivered but not acknowledged.
    pub pending: u64,
    pub unacknowledged: u64,
    /// The stream sequence below which every batch is acknowledged (committed to the
    /// tenant's journal).
    pub acknowledged: u64,
    /// Findings published to `mamori.<tenant>.findings`.
    pub findings_published: u64,
    /// The worker holding the tenant's lease, if any.
    pub lease: Option<String>,
    /// Days the ingest stream keeps a batch (`None`: for ever).
    pub keep_days: Option<f64>,
}

impl Cluster {
    /// Connects to any of `urls` (comma-separated, `nats://host:port`); the client moves
    /// to another server when its own goes away.
    pub async fn connect(urls: &str, name: &str) -> Result<Cluster> {
        let addrs: Vec<async_nats::ServerAddr> = urls.split(',').map(|u| u.trim().parse().with_context(|| format!("--nats: `{u}` is not a NATS URL"))).collect::<Result<_>>()?;
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(10)))
            .retry_on_initial_connect()
            .connect(addrs)
            .await
            .with_context(|| format!("connecting to NATS at {urls}"))?;
        let js = jetstream::new(client.clone());
        Ok(Cluster { client, js })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    async fn bucket(&self, name: &str, max_age: Duration, replicas: usize) -> Result<kv::Store> {
        if let Ok(store) = self.js.get_key_value(name).await {
            return Ok(store);
        }
        // The bucket's stream made as the client's `create_key_value` makes it: that call
        // first asks for the account's limits, and the client cannot read the answer of
        // Debian's nats-server 2.9 (it lacks the reservation fields of 2.10).
        let config = stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            num_replicas: replicas,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        };
        self.js.create_stream(config).await.with_context(|| format!("creating the key-value bucket {name}"))?;
        self.js.get_key_value(name).await.with_context(|| format!("the key-value bucket {name}, just made"))
    }

    async fn existing_bucket(&self, name: &str) -> Result<kv::Store> {
        self.js.get_key_value(name).await.with_context(|| format!("the key-value bucket {name} (has `mamori cluster tenant add` run?)"))
    }

    /// Creates (or updates) the tenant's streams and records it: its ingest stream takes
    /// exactly `sources`. `lease` is how long a worker's lease lasts unrenewed, set when
    /// the lease bucket is first made.
    /// `keep`: how long the ingest stream keeps a batch (zero: for ever). Once a tenant's
    /// segments are archived, the archive is the long-term copy, and the stream need hold only
    /// what a lost store would replay.
    pub async fn add_tenant(&self, tenant: &str, sources: &[String], replicas: usize, lease: Duration, keep: Duration) -> Result<()> {
        check_tenant(tenant)?;
        anyhow::ensure!(!sources.is_empty(), "tenant {tenant}: no sources configured");
        for s in sources {
            check_source(s)?;
        }
        anyhow::ensure!((1..=5).contains(&replicas), "--replicas: 1 to 5");
        let ingest = stream::Config {
            name: ingest_stream(tenant),
            subjects: sources.iter().map(|s| subject(tenant, s)).collect(),
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: DUPLICATE_WINDOW,
            // The stream is the tenant's input as sent: never edited by anyone, kept whole
            // (a worker that lost its disk replays it) until the age limit, if one is set,
            // lets the server drop the oldest.
            max_age: keep,
            deny_delete: true,
            deny_purge: true,
            ..Default::default()
        };
        let findings = stream::Config {
            name: findings_stream(tenant),
            subjects: vec![findings_subject(tenant)],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        for config in [ingest, findings] {
            let name = config.name.clone();
            match self.js.get_stream(&name).await {
                Ok(_) => {
                    self.js.update_stream(config).await.with_context(|| format!("updating stream {name}"))?;
                }
                Err(_) => {
                    self.js.create_stream(config).await.with_context(|| format!("creating stream {name}"))?;
                }
            }
        }
        let entry = TenantEntry { sources: sources.to_vec(), replicas };
        self.bucket(TENANTS_BUCKET, Duration::ZERO, replicas).await?.put(tenant, serde_json::to_vec(&entry)?.into()).await.context("recording the tenant")?;
        self.bucket(KEYS_BUCKET, Duration::ZERO, replicas).await?;
        self.bucket(LEASES_BUCKET, lease, replicas).await?;
        Ok(())
    }

    /// How long a worker's lease lasts unrenewed (the lease bucket's age limit).
    pub async fn lease_time(&self) -> Result<Duration> {
        let mut stream = self.js.get_stream(format!("KV_{LEASES_BUCKET}")).await.context("the lease bucket (has `mamori cluster tenant add` run?)")?;
        let age = stream.info().await?.config.max_age;
        anyhow::ensure!(!age.is_zero(), "the lease bucket has no age limit: leases would never expire");
        Ok(age)
    }

    /// The tenants and their sources.
    pub async fn tenants(&self) -> Result<Vec<(String, TenantEntry)>> {
        use futures_util::TryStreamExt;
        let store = self.existing_bucket(TENANTS_BUCKET).await?;
        let mut names: Vec<String> = store.keys().await?.try_collect().await?;
        names.sort();
        let mut out = Vec::new();
        for name in names {
            if let Some(v) = store.get(&name).await? {
                out.push((name.clone(), serde_json::from_slice(&v).with_context(|| format!("tenant {name}'s entry"))?));
            }
        }
        Ok(out)
    }

    /// Records a key (by its SHA-256) for `scope` of `tenant`.
    pub async fn add_key(&self, hash: &[u8; 32], entry: &KeyEntry) -> Result<()> {
        check_tenant(&entry.tenant)?;
        let tenants = self.tenants().await?;
        let Some((_, t)) = tenants.iter().find(|(name, _)| *name == entry.tenant) else { bail!("no tenant `{}`: add it with `mamori cluster tenant add`", entry.tenant) };
        anyhow::ensure!(t.sources.contains(&entry.scope), "tenant {} has no source `{}` (its sources: {})", entry.tenant, entry.scope, t.sources.join(", "));
        self.existing_bucket(KEYS_BUCKET).await?.put(mamori_journal::hex_bytes(hash), serde_json::to_vec(entry)?.into()).await.context("recording the key")?;
        Ok(())
    }

    /// The key whose SHA-256 is `hash`, if it is known.
    pub async fn key(&self, hash: &[u8; 32]) -> Result<Option<KeyEntry>> {
        let store = self.existing_bucket(KEYS_BUCKET).await?;
        match store.get(mamori_journal::hex_bytes(hash)).await? {
            Some(v) => Ok(Some(serde_json::from_slice(&v).context("a key's entry")?)),
            None => Ok(None),
        }
    }

    /// Publishes a batch to the tenant's stream and waits for JetStream's acknowledgement
    /// (stored on a majority of the stream's replicas).
    pub async fn publish(&self, tenant: &str, source: &str, batch_id: &str, sender: &str, body: bytes::Bytes) -> Result<Published, PublishRefusal> {
        let max = self.client.server_info().max_payload;
        if body.len() + 1024 > max {
            return Err(PublishRefusal::TooLarge(max));
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(SENDER_HEADER, sender);
        // A tenant's sources share one stream, and JetStream de-duplicates per stream: the
        // source is part of the id, so one system's key never shadows another's batch.
        let message = jetstream::message::PublishMessage::build().payload(body).headers(headers).message_id(format!("{source}:{batch_id}"));
        let ack = match self.js.send_publish(subject(tenant, source), message).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match ack {
            Ok(ack) => Ok(Published { sequence: ack.sequence, duplicate: ack.duplicate }),
            Err(e) if e.kind() == jetstream::context::PublishErrorKind::StreamNotFound => Err(PublishRefusal::NoSuchSource),
            Err(e) => Err(PublishRefusal::Unavailable(e.to_string())),
        }
    }

    /// Every tenant's streams, consumer and lease.
    pub async fn status(&self) -> Result<Vec<TenantStatus>> {
        let leases = self.existing_bucket(LEASES_BUCKET).await?;
        let mut out = Vec::new();
        for (tenant, entry) in self.tenants().await? {
            let mut ingest = self.js.get_stream(ingest_stream(&tenant)).await.with_context(|| format!("tenant {tenant}'s ingest stream"))?;
            let stream_info = ingest.info().await?.clone();
            let info = stream_info.state.clone();
            let keep_days = (!stream_info.config.max_age.is_zero()).then(|| stream_info.config.max_age.as_secs_f64() / 86_400.0);
            let (pending, unacknowledged, acknowledged) = match worker::holders_consumer(&ingest).await? {
                Some(i) => (i.num_pending, i.num_ack_pending as u64, i.ack_floor.stream_sequence),
                None => (info.messages, 0, 0),
            };
            let mut findings = self.js.get_stream(findings_stream(&tenant)).await?;
            let findings_published = findings.info().await?.state.messages;
            let lease = leases.get(&tenant).await?.map(|v| String::from_utf8_lossy(&v).into_owned());
            out.push(TenantStatus { tenant, sources: entry.sources, batches: info.messages, last_sequence: info.last_sequence, pending, unacknowledged, acknowledged, findings_published, lease, keep_days });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_and_source_names_are_single_safe_subject_tokens() {
        for good in ["minato", "town-07", "a", "x_1"] {
            assert!(check_tenant(good).is_ok(), "{good}");
        }
        for bad in ["", "Minato", "a.b", "a*", ">", "a b", "-lead", "港区", &"a".repeat(33)] {
            assert!(check_tenant(bad).is_err(), "{bad:?}");
        }
        assert!(check_source("juki").is_ok());
        assert!(check_source("findings").is_err(), "taken by the findings subject");
    }
}
