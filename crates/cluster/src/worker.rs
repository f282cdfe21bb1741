//! `mamori worker`: takes tenants by lease, appends their batches to their journals in
//! stream order, runs streaming detection and publishes the findings.
//!
//! Exactly once: a batch is imported under the stream name `cluster:<source>:<batch id>`,
//! whose cursor commits with its events, and acknowledged to JetStream only after that
//! commit. A worker killed between the two leaves the batch unacknowledged; whoever takes
//! the tenant next gets it again and finds it committed (nothing is appended twice).
//!
//! One writer: a worker appends to a tenant's journal only while it holds the tenant's
//! lease, renewed every third of the lease time; a renewal that fails or does not come
//! back within that third ends its work on the tenant (a batch being imported is finished
//! first). Each holder reads the stream through a consumer of its own, made from where the
//! last holder's acknowledgements end and replacing it, so batches are taken in stream
//! order and a holder that lost its lease can take no more.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use mamori_ingest::{ImportOptions, IngestError};
use mamori_journal::{Journal, SqliteJournal};
use sha2::{Digest, Sha256};

use crate::{Cluster, LEASES_BUCKET, SENDER_HEADER, ingest_stream};

/// A worker's settings (`mamori worker`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Holds `tenants/<tenant>`: each tenant's store, `mamori.toml` and `detect.toml`.
    pub root: PathBuf,
    /// Names this worker in the lease bucket and the logs.
    pub name: String,
    /// The lease time the bucket was made with (renewed every third of it).
    pub lease: Duration,
    /// Run streaming detection on each tenant held.
    pub detect: bool,
    /// Batches taken from the stream at once.
    pub fetch: usize,
    /// Copy each tenant's sealed segments here as they seal (docs/archive.md).
    pub archive: Option<String>,
    /// Release archived segments' bodies from the tenants' stores (`archive::release`), so a
    /// store keeps whole only its newest segments.
    pub release_archived: bool,
}

/// The store of a tenant, with what its imports need.
struct TenantStore {
    journal: SqliteJournal,
    sources: std::collections::BTreeMap<String, mamori_sources::SourceConfig>,
    /// What the adapters read with (mail's residents), built once when the tenant is
    /// taken, as `serve` builds it at start: not read again for every batch.
    context: mamori_sources::AdapterContext,
    spool: PathBuf,
    /// Sealed segments known to be in the archive: an export runs when more have sealed.
    archived_segments: usize,
}

pub fn tenant_dir(root: &Path, tenant: &str) -> PathBuf {
    root.join("tenants").join(tenant)
}

/// Runs until `stop` resolves. Every third of the lease time, the worker says it is alive
/// (an entry `worker.<name>` in the lease bucket, expiring like a lease) and counts the
/// live workers; its fair share is the tenants divided among them, rounded up. Below its
/// share it takes free tenants (each lease created only if absent), and works each in a
/// task of its own; above it, it lets one go a round, for a worker with fewer to take.
/// So workers started together, or added later, end up sharing the tenants.
pub async fn run(cluster: Cluster, settings: Settings, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    use futures_util::TryStreamExt;
    let leases = cluster.jetstream().get_key_value(LEASES_BUCKET).await.context("the lease bucket (has `mamori cluster tenant add` run?)")?;
    let presence = format!("worker.{}", settings.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect::<String>());
    let mut held: HashMap<String, (tokio::task::JoinHandle<()>, Arc<AtomicBool>)> = HashMap::new();
    tokio::pin!(stop);
    loop {
        held.retain(|_, (task, _)| !task.is_finished());
        let round = async {
            leases.put(&presence, settings.name.clone().into()).await.context("saying this worker is alive")?;
            let keys: Vec<String> = leases.keys().await?.try_collect().await?;
            let workers = keys.iter().filter(|k| k.starts_with("worker.")).count().max(1);
            let tenants = cluster.tenants().await?;
            Ok::<_, anyhow::Error>((workers, tenants))
        };
        match round.await {
            Ok((workers, tenants)) => {
                let share = tenants.len().div_ceil(workers);
                if held.len() > share
                    && let Some((tenant, (_, stop))) = held.iter().next()
                {
                    tracing::info!(tenant, worker = settings.name, share, "letting a tenant go to share the work");
                    stop.store(true, Ordering::SeqCst);
                }
                for (tenant, _) in tenants {
                    if held.len() >= share {
                        break;
                    }
                    if held.contains_key(&tenant) {
                        continue;
                    }
                    // Created only if absent (or expired, or released): one holder at a time.
                    let revision = match leases.create(&tenant, settings.name.clone().into()).await {
                        Ok(r) => r,
                        Err(e) if e.kind() == jetstream::kv::CreateErrorKind::AlreadyExists => continue,
                        Err(e) => {
                            tracing::warn!(tenant, error = %e, "taking a lease");
                            continue;
                        }
                    };
                    tracing::info!(tenant, worker = settings.name, "lease taken");
                    let own_stop = Arc::new(AtomicBool::new(false));
                    let (cluster, settings, leases, stopping, name) = (cluster.clone(), settings.clone(), leases.clone(), own_stop.clone(), tenant.clone());
                    let task = tokio::spawn(async move {
                        if let Err(e) = work_tenant(&cluster, &settings, &leases, &name, revision, &stopping).await {
                            tracing::error!(tenant = name, error = format!("{e:#}"), "tenant given up; its lease is released for another try");
                        }
                    });
                    held.insert(tenant, (task, own_stop));
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "a round of leases"),
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(settings.lease / 3) => {}
        }
    }
    for (_, stop) in held.values() {
        stop.store(true, Ordering::SeqCst);
    }
    for (_, (task, _)) in held {
        let _ = task.await;
    }
    let _ = leases.delete(&presence).await;
    Ok(())
}

/// Works one tenant while its lease holds (or until the worker stops): batches in stream
/// order into its journal, each acknowledged after its commit, detection woken after each
/// fetch. The lease is released when done (if it is still this worker's), so another
/// worker need not wait for it to expire.
async fn work_tenant(cluster: &Cluster, settings: &Settings, leases: &jetstream::kv::Store, tenant: &str, revision: u64, stopping: &AtomicBool) -> Result<()> {
    let lost = Arc::new(AtomicBool::new(false));
    let current = Arc::new(std::sync::atomic::AtomicU64::new(revision));
    let renewal = {
        let (leases, tenant, name, lost, current, every) = (leases.clone(), tenant.to_owned(), settings.name.clone(), lost.clone(), current.clone(), settings.lease / 3);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // A renewal that has not come back within a third of the lease counts as
                // failed: the lease is given up before it can expire under this worker.
                match tokio::time::timeout(every, leases.update(&tenant, name.clone().into(), current.load(Ordering::SeqCst))).await {
                    Ok(Ok(r)) => current.store(r, Ordering::SeqCst),
                    failed => {
                        let why = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => "renewal timed out".to_owned(),
                        };
                        tracing::warn!(tenant, error = why, "lease lost");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        })
    };
    let result = work_while_held(cluster, settings, tenant, revision, &lost, stopping).await;
    renewal.abort();
    if !lost.load(Ordering::SeqCst) {
        // Only this worker's own entry: never a later holder's.
        let _ = leases.delete_expect_revision(tenant, Some(current.load(Ordering::SeqCst))).await;
    }
    result
}

/// The consumer of the tenant's stream that the current holder made, with its state: its
/// acknowledged floor is how far the tenant's store has taken the stream.
pub async fn holders_consumer(stream: &jetstream::stream::Stream) -> Result<Option<jetstream::consumer::Info>> {
    use futures_util::TryStreamExt;
    let names: Vec<String> = stream.consumer_names().try_collect().await.context("the stream's consumers")?;
    let mut newest: Option<jetstream::consumer::Info> = None;
    for name in names.into_iter().filter(|n| n.starts_with(crate::CONSUMER_PREFIX)) {
        // One removed or not answering since it was listed (a holder replacing it, its
        // leader on a node that died) is passed over: the newest holder's is what counts.
        let info = match stream.get_consumer::<pull::Config>(&name).await {
            Ok(mut consumer) => match consumer.info().await {
                Ok(info) => info.clone(),
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "a consumer's state");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(consumer = name, error = %e, "a consumer");
                continue;
            }
        };
        if newest.as_ref().is_none_or(|n| info.ack_floor.stream_sequence > n.ack_floor.stream_sequence || (info.ack_floor.stream_sequence == n.ack_floor.stream_sequence && info.created > n.created)) {
            newest = Some(info);
        }
    }
    Ok(newest)
}

/// A consumer of this holder's own, starting just after the acknowledged floor of the last
/// holder's (which is then removed). So a new holder gets every batch the last one did not
/// acknowledge again, in stream order, and a holder that has lost its lease can neither
/// take nor acknowledge another batch: its consumer is gone. (A batch committed but not
/// acknowledged comes again and finds its cursor complete.)
async fn own_consumer(stream: &jetstream::stream::Stream, revision: u64) -> Result<jetstream::consumer::Consumer<pull::Config>> {
    use futures_util::TryStreamExt;
    let name = format!("{}{revision}", crate::CONSUMER_PREFIX);
    let start = holders_consumer(stream).await?.map_or(1, |i| i.ack_floor.stream_sequence + 1);
    let old: Vec<String> = stream.consumer_names().try_collect().await.context("the stream's consumers")?;
    // Made before the old one goes: a holder that dies in between leaves two, and the next
    // one starts after the higher floor, which is this one's or the old one's.
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: start },
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .context("the tenant's consumer")?;
    for gone in old.into_iter().filter(|n| *n != name && n.starts_with(crate::CONSUMER_PREFIX)) {
        stream.delete_consumer(&gone).await.with_context(|| format!("removing the last holder's consumer {gone}"))?;
    }
    Ok(consumer)
}

async fn work_while_held(cluster: &Cluster, settings: &Settings, tenant: &str, revision: u64, lost: &AtomicBool, stopping: &AtomicBool) -> Result<()> {
    let dir = tenant_dir(&settings.root, tenant);
    let opened = dir.clone();
    let mut store = tokio::task::spawn_blocking(move || open_tenant(&opened)).await??;
    let stream = cluster.jetstream().get_stream(ingest_stream(tenant)).await.with_context(|| format!("tenant {tenant}'s ingest stream"))?;
    let consumer = own_consumer(&stream, revision).await?;
    let detection = if settings.detect { Some(start_detection(cluster, tenant, &dir)?) } else { None };
    let result = async {
        while !lost.load(Ordering::SeqCst) && !stopping.load(Ordering::SeqCst) {
            let mut batch = consumer.fetch().max_messages(settings.fetch).expires(Duration::from_secs(1)).messages().await.map_err(|e| anyhow::anyhow!("fetching: {e}"))?;
            let mut taken = 0;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|e| anyhow::anyhow!("fetching: {e}"))?;
                // Not ours any more: left for the next holder's consumer.
                if lost.load(Ordering::SeqCst) {
                    break;
                }
                let info = message.info().map_err(|e| anyhow::anyhow!("a message's metadata: {e}"))?;
                let sequence = info.stream_sequence;
                let source = message.subject.as_str().rsplit('.').next().unwrap_or_default().to_owned();
                let id = message.headers.as_ref().and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID)).map(|v| v.as_str().to_owned());
                let batch_id = id.as_deref().map_or_else(|| format!("seq-{sequence}"), |id| id.strip_prefix(&format!("{source}:")).unwrap_or(id).to_owned());
                let sender = message.headers.as_ref().and_then(|h| h.get(SENDER_HEADER)).map(|v| v.as_str().to_owned()).unwrap_or_default();
                let payload = message.payload.clone();
                let (back, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = import_batch(&mut store, &source, &batch_id, &sender, sequence, &payload);
                    (store, outcome)
                })
                .await?;
                store = back;
                match outcome {
                    Ok(()) => message.double_ack().await.map_err(|e| anyhow::anyhow!("acknowledging batch {sequence}: {e}"))?,
                    // The sender's bytes cannot be read: kept in the stream and as a dead
                    // letter, never tried again.
                    Err(BatchFailure::Refused(reason)) => {
                        tracing::error!(tenant, sequence, reason, "batch refused; kept as a dead letter");
                        message.double_ack_with(AckKind::Term).await.map_err(|e| anyhow::anyhow!("ending batch {sequence}: {e}"))?;
                    }
                    // Left unacknowledged: the next holder starts again from it.
                    Err(BatchFailure::Failed(e)) => return Err(e.context(format!("batch {sequence}"))),
                }
                taken += 1;
            }
            if taken > 0
                && let Some(location) = &settings.archive
            {
                let (location, name, release, judged_only) = (location.clone(), tenant.to_owned(), settings.release_archived, settings.detect);
                let (back, archived) = tokio::task::spawn_blocking(move || {
                    let archived = archive_sealed(&mut store, &location, &name, release, judged_only);
                    (store, archived)
                })
                .await?;
                store = back;
                // The stream and the store hold everything still: a failed copy is tried
                // again when the next batch comes, and ingest goes on meanwhile.
                if let Err(e) = archived {
                    tracing::error!(tenant, error = format!("{e:#}"), "archiving sealed segments failed");
                }
            }
            if taken > 0
                && let Some((wake, _)) = &detection
            {
                // A full channel means a step is already due: nothing is lost by not sending.
                let _ = wake.try_send(());
            }
        }
        Ok(())
    }
    .await;
    // Detection ends its step before the lease is given up, so that it never writes
    // beside the next holder's.
    if let Some((wake, thread)) = detection {
        drop(wake);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    result
}

fn open_tenant(dir: &Path) -> Result<TenantStore> {
    let journal = mamori_app::archive::open_store(dir).with_context(|| format!("the tenant's store at {} (made with `mamori init`)", dir.display()))?;
    let config = dir.join("mamori.toml");
    let sources = mamori_sources::load_sources(&config).map_err(anyhow::Error::msg).with_context(|| format!("{}", config.display()))?;
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).with_context(|| format!("{}", spool.display()))?;
    let mail = sources.values().find(|c| matches!(c.format, mamori_sources::Format::Mbox | mamori_sources::Format::Maildir));
    let context = mail.map(|c| mamori_app::sources::adapter_context(&journal, Some(c))).transpose()?.unwrap_or_default();
    Ok(TenantStore { journal, sources, context, spool, archived_segments: 0 })
}

/// Copies the tenant's newly sealed segments to the archive and, with `release`, releases
/// their bodies from the store (with `judged_only`, once detection has judged them).
fn archive_sealed(store: &mut TenantStore, location: &str, tenant: &str, release: bool, judged_only: bool) -> Result<()> {
    let sealed = store.journal.sealed_segments()?.len();
    if sealed > store.archived_segments {
        let report = mamori_app::archive::export(&mut store.journal, location, tenant)?;
        tracing::info!(tenant, segments = report.segments, archived_through = report.archived_through, "sealed segments archived");
        store.archived_segments = sealed;
    }
    // Archived segments still kept: released once detection has judged them.
    if release && store.journal.released_segments()?.len() < store.archived_segments {
        let released = mamori_app::archive::release(&mut store.journal, location, tenant, judged_only)?;
        if !released.segments.is_empty() {
            tracing::info!(tenant, released = released.segments.len(), kept = released.kept, "archived segments released from the store");
        }
    }
    Ok(())
}

enum BatchFailure {
    /// The batch's own content (kept as a dead letter).
    Refused(String),
    /// The worker's side (storage, configuration): tried again later.
    Failed(anyhow::Error),
}

/// Imports one batch as `serve` would, under a stream name of its own so that a second
/// delivery finds it committed.
fn import_batch(store: &mut TenantStore, source: &str, batch_id: &str, sender: &str, sequence: u64, body: &[u8]) -> Result<(), BatchFailure> {
    let Some(config) = store.sources.get(source) else { return Err(BatchFailure::Failed(anyhow::anyhow!("source `{source}` is in the stream but not in the tenant's mamori.toml"))) };
    let adapter = mamori_sources::adapter(source, config, &store.context).map_err(|e| BatchFailure::Failed(anyhow::anyhow!(e)))?;
    let stream = format!("cluster:{source}:{batch_id}");
    let log_name = format!("nats:{sequence}:{batch_id}");
    let spool = store.spool.join(format!("{}.batch", mamori_journal::hex_bytes(&Sha256::digest(&stream))));
    std::fs::write(&spool, body).map_err(|e| BatchFailure::Failed(anyhow::anyhow!("spool: {e}")))?;
    let options = ImportOptions { source: source.to_owned(), stream: Some(stream), log_name: Some(log_name.clone()), ..Default::default() };
    let result = mamori_ingest::import_file(&mut store.journal, &spool, &options, adapter, &mut |_, _| {});
    let _ = std::fs::remove_file(&spool);
    match result {
        Ok(_) => Ok(()),
        Err(e @ (IngestError::Header { .. } | IngestError::FileChanged { .. })) => {
            let reason = format!("{} (sent by {sender})", e.to_string().replace(&spool.display().to_string(), "the batch"));
            let letter = mamori_journal::DeadLetter { source: source.to_owned(), file: log_name, line: 0, reason: reason.clone(), raw: body[..body.len().min(4096)].to_vec() };
            // A header refused before any line was stored: the dead letter commits with the
            // batch's cursor marked complete, so a second delivery finds it done and does
            // not record the refusal twice. (A key reused for other content keeps the first
            // content's cursor; its refusal is recorded at each delivery, and it is ended
            // at the first.)
            let digest: [u8; 32] = Sha256::digest(body).into();
            let done = mamori_journal::StreamCursor { stream: options.stream.clone().unwrap_or_default(), offset: body.len() as u64, line: 0, prefix_sha256: digest, complete_sha256: Some(digest) };
            let first_refusal = matches!(e, IngestError::Header { .. });
            let batch = mamori_journal::Batch { dead_letters: &[letter], cursor: first_refusal.then_some(&done), cursor_from: first_refusal.then_some(0), ..Default::default() };
            match store.journal.append(batch) {
                Ok(_) | Err(mamori_journal::JournalError::Conflict(_)) => Err(BatchFailure::Refused(reason)),
                Err(e) => Err(BatchFailure::Failed(e.into())),
            }
        }
        Err(e) => Err(BatchFailure::Failed(e.into())),
    }
}

/// Starts the tenant's detection thread ([`mamori_app::detect::follow`] with the tenant's
/// `detect.toml`); each step's findings that this thread has not published yet go to
/// `mamori.<tenant>.findings`, with the finding's id and content digest as the message id
/// (after a handover the new holder publishes them again: a reader goes by the finding's
/// id). Dropping the returned sender ends the thread after its step.
fn start_detection(cluster: &Cluster, tenant: &str, dir: &Path) -> Result<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)> {
    let rules = dir.join("detect.toml");
    let config = mamori_app::detect::load_config(rules.is_file().then_some(rules.as_path()))?;
    // The tenant's own Sigma rules, beside the shipped ones, as `detect --sigma` takes them.
    let sigma = Some(dir.join("sigma")).filter(|d| d.is_dir());
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let (js, subject, dir, runtime) = (cluster.jetstream().clone(), crate::findings_subject(tenant), dir.to_path_buf(), tokio::runtime::Handle::current());
    let tenant = tenant.to_owned();
    let thread = std::thread::Builder::new().name(format!("mamori-detect-{tenant}")).spawn(move || {
        let mut published: HashSet<String> = HashSet::new();
        let next = || {
            woken.recv().ok()?;
            while woken.try_recv().is_ok() {}
            Some(0)
        };
        mamori_app::detect::follow(&dir, &config, sigma.as_deref(), next, |_| {}, |summary| {
            for finding in &summary.findings {
                let body = serde_json::to_vec(finding).expect("a finding serialises");
                let id = format!("{}:{}", finding.id, &mamori_journal::hex_bytes(&Sha256::digest(&body))[..16]);
                if published.contains(&id) {
                    continue;
                }
                let message = jetstream::message::PublishMessage::build().payload(body.into()).message_id(id.clone());
                let sent = runtime.block_on(async {
                    match js.send_publish(subject.clone(), message).await {
                        Ok(ack) => ack.await.map(|_| ()),
                        Err(e) => Err(e),
                    }
                });
                match sent {
                    Ok(()) => {
                        published.insert(id);
                    }
                    // Stored in the journal all the same; published again at the next step.
                    Err(e) => tracing::warn!(tenant, error = %e, "publishing a finding"),
                }
            }
        });
    })?;
    Ok((wake, thread))
}
