//! The archive as the store's services use it: copying sealed segments out, and answering a
//! resident's disclosure from the archive with every entry proven against the tenant's
//! signed checkpoint, as the embedded store answers it.

use anyhow::{Context, Result, bail};
use mamori_archive::{Archive, ArchivedEvent, KeyColumn, QueryStats};
use mamori_journal::{Journal, JournalError, ReleasedSegments, SqliteJournal, StoredEvent, check_checkpoint, leaf_hash};
use mamori_report::Disclosure;

use crate::report::{Request, disclosure_of};

/// Which engine reads the archive's Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// In this process: the manifest's files, pruned by statistics and bloom filters.
    Parquet,
    /// A PySpark job: for archives of years and many tenants.
    Spark,
}

impl Engine {
    pub fn parse(s: &str) -> Result<Engine> {
        match s {
            "parquet" => Ok(Engine::Parquet),
            "spark" => Ok(Engine::Spark),
            other => bail!(crate::tr!("--engine `{other}`: parquet または spark を指定してください", "--engine `{other}`: use parquet or spark")),
        }
    }
}

/// The tag under which the store's log records each manifest an export committed.
const MANIFEST_TAG: &str = "archive.manifest";

fn manifest_key(tenant: &str, sha256: &str) -> String {
    format!("{tenant}:{sha256}")
}

/// Copies the store's sealed segments not yet archived, and records in the store's log the
/// manifest that now stands (by its SHA-256): readers with the store trust a manifest only
/// if the log holds it, and through it each file's digest.
pub fn export(j: &mut SqliteJournal, location: &str, tenant: &str) -> Result<mamori_archive::ExportReport> {
    let archive = Archive::open(location, tenant)?;
    let report = mamori_archive::export(j, &archive)?;
    let key = manifest_key(tenant, &report.manifest_sha256);
    // Also after an export killed between its manifest and this record: the next run
    // finds nothing to copy and records the manifest it left.
    if !report.manifest_sha256.is_empty() && !j.tagged(MANIFEST_TAG)?.iter().any(|(k, _)| *k == key) {
        crate::audit::record_tagged(
            j,
            crate::audit::Action::ArchiveExport,
            &format!(
                "archive tenant {tenant}: {} segments, {} events, {} bytes; archived through {}, checkpoint {}; manifest SHA-256 {}",
                report.segments, report.events, report.bytes, report.archived_through, report.checkpoint_size, report.manifest_sha256
            ),
            &[(MANIFEST_TAG, &key)],
        )?;
    }
    Ok(report)
}

/// Checks a tenant's whole archive: its manifest is one this store's log recorded, and
/// everything it lists is the log's (`Archive::verify`).
pub fn verify(j: &SqliteJournal, location: &str, tenant: &str) -> Result<mamori_archive::VerifyReport> {
    let opened = open_for_reading(j, location, tenant)?;
    opened.archive.verify(j.verifier_key())
}

/// What an archive disclosure read, beside the disclosure itself.
#[derive(Debug, Clone, Default)]
pub struct ArchiveAnswer {
    /// Entries from the archive's files, and from the store after the archive.
    pub from_archive: usize,
    pub from_store: usize,
    pub checkpoint_size: u64,
    pub archived_through: u64,
    /// Files and row groups touched (the in-process engine only).
    pub stats: Option<QueryStats>,
}

/// An archive opened for reading: its manifest, recorded in the store's log, with its
/// checkpoint the store's own, and the events it holds (`[0, through)`).
struct Opened {
    archive: Archive,
    manifest: mamori_archive::Manifest,
    through: u64,
}

fn open_for_reading(j: &SqliteJournal, location: &str, tenant: &str) -> Result<Opened> {
    let archive = Archive::open(location, tenant)?;
    let manifest = recorded_manifest(j, &archive, location, tenant)?;
    let through = manifest.archived_through();
    Ok(Opened { archive, manifest, through })
}

/// The archive's manifest, if it is one this store's log recorded exporting, for a log of
/// this store's segment size, with a checkpoint the store signed.
fn recorded_manifest(j: &SqliteJournal, archive: &Archive, location: &str, tenant: &str) -> Result<mamori_archive::Manifest> {
    let (manifest, digest) = archive.manifest_with_digest()?.with_context(|| crate::tr!("{location} にはテナント `{tenant}` のアーカイブがありません（先に `mamori archive export` を実行してください）", "tenant `{tenant}` has nothing archived at {location} (run `mamori archive export`)"))?;
    // The manifest names every file and its digest: it is trusted only as the log recorded it.
    let key = manifest_key(tenant, &digest);
    if !j.tagged(MANIFEST_TAG)?.iter().any(|(k, _)| *k == key) {
        bail!(crate::tr!("テナント `{tenant}` のアーカイブのマニフェスト（SHA-256 {digest}）は、このストアのログに書き出しが記録されたものではありません: 変更されたか、書き出しが中断されています（`mamori archive export` を実行してください）", "tenant `{tenant}`'s archive manifest (SHA-256 {digest}) is not one this store's log recorded exporting: it was changed, or its export was interrupted (run `mamori archive export`)"));
    }
    if manifest.segment_shift != j.segment_shift() {
        bail!(crate::tr!("アーカイブの区間の大きさは 2^{}、このストアは 2^{} です", "the archive has segments of 2^{}, this store 2^{}", manifest.segment_shift, j.segment_shift()));
    }
    let checkpoint = check_checkpoint(&manifest.checkpoint, j.verifier_key()).map_err(|e| anyhow::anyhow!(crate::tr!("アーカイブのチェックポイントにこのストアの署名がありません: {e}", "the archive's checkpoint does not carry this store's signature: {e}")))?;
    if j.checkpoint_at(checkpoint.size)?.as_deref() != Some(manifest.checkpoint.as_str()) {
        bail!(crate::tr!("アーカイブの {} 件のチェックポイントが、ストアの同じ件数のチェックポイントと一致しません", "the archive's checkpoint of {} events is not the store's checkpoint of that size", checkpoint.size));
    }
    Ok(manifest)
}

impl Opened {
    /// The events whose `column` is `value` in `range`, oldest first: the archived ones the
    /// engine finds, each checked to hash to its leaf and to be `value`'s, then the store's
    /// after the archive.
    fn gather(&self, j: &SqliteJournal, engine: Engine, column: KeyColumn, value: &str, range: mamori_journal::TimeRange, answer: &mut ArchiveAnswer) -> Result<Vec<StoredEvent>> {
        let archived = match engine {
            Engine::Parquet => {
                let (rows, stats) = self.archive.find(&self.manifest, column, value, range)?;
                let total = answer.stats.get_or_insert_with(QueryStats::default);
                total.files += stats.files;
                total.files_opened += stats.files_opened;
                total.row_groups += stats.row_groups;
                total.row_groups_read += stats.row_groups_read;
                rows
            }
            Engine::Spark => self.archive.find_with_spark(&self.manifest, column, value, range)?,
        };
        let mut found: Vec<(i64, StoredEvent)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for ArchivedEvent { seq, leaf, body, .. } in archived {
            if leaf_hash(&body) != leaf {
                bail!(crate::tr!("アーカイブのイベント {seq} の行が葉ハッシュと一致しません", "the archive's row for event {seq} does not hash to its leaf"));
            }
            if seq >= self.through || !seen.insert(seq) {
                bail!(crate::tr!("アーカイブがイベント {seq} を二度、またはアーカイブ済みの範囲の外で返しました", "the archive answered event {seq} twice or outside its archived range"));
            }
            // What the engine says it matched is checked on the body itself: a file changed
            // after `verify` cannot put another resident's accesses in this answer.
            let event = mamori_model::Event::from_json(&body).map_err(|e| anyhow::anyhow!(crate::tr!("アーカイブのイベント {seq}: {e}", "the archive's event {seq}: {e}")))?;
            let keys = mamori_journal::IndexKeys::of(&event);
            let matches = match column {
                KeyColumn::Resident => keys.resident.as_deref() == Some(value),
                KeyColumn::Actor => keys.actor == value,
            };
            if !matches || keys.time < range.from || keys.time >= range.to {
                bail!(crate::tr!("アーカイブが返したイベント {seq} は、指定の期間の {value} のものではありません", "the archive answered event {seq}, which is not {value}'s in the period asked"));
            }
            answer.from_archive += 1;
            found.push((keys.time, StoredEvent { seq, body }));
        }
        // Complete, by the store's own index: every row above proves, but a file changed
        // after `verify` (a resident column, a row group's statistics or bloom filter)
        // could hide a row from the engine's search without any returned row failing.
        let listed = j.key_seqs_before(column == KeyColumn::Resident, value, range, self.through)?;
        if let Some(missing) = listed.iter().find(|seq| !seen.contains(seq)) {
            bail!(crate::tr!("ストアの索引では指定の期間の {value} のものであるイベント {missing} を、アーカイブが返しませんでした: アーカイブは書き出しの後に変更されています（`mamori archive verify` を実行してください）", "the archive did not return event {missing}, which the store's index lists as {value}'s in the period asked: the archive was changed after it was written (run `mamori archive verify`)"));
        }
        if listed.len() != seen.len() {
            bail!(crate::tr!("アーカイブが返した {value} のイベントは {} 件ですが、ストアの索引では {} 件です", "the archive returned {} of {value}'s events where the store's index lists {}", seen.len(), listed.len()));
        }
        // After the archive: the store's, to its latest event.
        // Only from the archive's end: the store's earlier rows would be read for nothing
        // (and, released, fetched back from the archive).
        for stored in j.by_key_from(column == KeyColumn::Resident, value, range, self.through)? {
            let time = stored.event()?.time;
            answer.from_store += 1;
            found.push((time, stored));
        }
        found.sort_by_key(|(time, s)| (*time, s.seq));
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }
}

/// A resident's disclosure from the archive: the archived rows the engine finds, each
/// checked to be the log's leaf and the resident's, and the store's rows after the archive;
/// every entry proven against the store's latest checkpoint, as the embedded disclosure
/// is, so that the two documents are the same.
pub fn disclosure(j: &SqliteJournal, location: &str, tenant: &str, engine: Engine, r: &Request<'_>) -> Result<(Disclosure, ArchiveAnswer)> {
    let opened = open_for_reading(j, location, tenant)?;
    let checkpoint = j.latest_checkpoint()?.with_context(|| crate::tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
    let mut answer = ArchiveAnswer { checkpoint_size: checkpoint.size, archived_through: opened.through, ..Default::default() };
    let found = opened.gather(j, engine, KeyColumn::Resident, r.resident, r.range, &mut answer)?;
    let size = checkpoint.size;
    let d = disclosure_of(j, r, found, checkpoint, &mut |seq| Ok(j.audit_path(seq, size)?))?;
    Ok((d, answer))
}

/// An employee's back-search from the archive, gathered and proven as `disclosure` is.
#[allow(clippy::too_many_arguments)]
pub fn back_search(j: &SqliteJournal, location: &str, tenant: &str, engine: Engine, employee: &str, range: mamori_journal::TimeRange, from: String, to: String) -> Result<(mamori_report::BackSearch, ArchiveAnswer)> {
    let opened = open_for_reading(j, location, tenant)?;
    let checkpoint = j.latest_checkpoint()?.with_context(|| crate::tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
    let mut answer = ArchiveAnswer { checkpoint_size: checkpoint.size, archived_through: opened.through, ..Default::default() };
    let size = checkpoint.size;
    let mut gather = |account: &str, range: mamori_journal::TimeRange| opened.gather(j, engine, KeyColumn::Actor, account, range, &mut answer);
    let b = crate::report::back_search_of(j, employee, range, from, to, &mut gather, checkpoint, &mut |seq| Ok(j.audit_path(seq, size)?))?;
    drop(gather);
    Ok((b, answer))
}

/// What `release` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseReport {
    /// Segments released by this run, and how many events they held.
    pub segments: Vec<u64>,
    pub events: u64,
    /// Segments the store now keeps whole, and those it had released before.
    pub kept: u64,
    pub released_before: usize,
}

/// How a store names the archive it released segments to: tenant and location, a local
/// directory by its canonical path (a service's working directory is not the shell's).
fn archive_ref(location: &str, tenant: &str) -> Result<String> {
    let location = match location.strip_prefix("file://").or((!location.contains("://")).then_some(location)) {
        Some(dir) => std::fs::canonicalize(dir).with_context(|| crate::tr!("アーカイブのディレクトリ {dir}", "archive directory {dir}"))?.to_string_lossy().into_owned(),
        None => location.trim_end_matches('/').to_owned(),
    };
    Ok(format!("{tenant}\t{location}"))
}

/// Releases from the store the bodies of the sealed segments the archive holds, so that it
/// keeps only each event's indexed columns there (a worker keeps little beyond its open
/// segment): each segment's archived rows are first compared with the store's, byte for
/// byte, under a manifest the store's log recorded, and each release is recorded in the
/// log (`archive.release`) in the same step. Every query finds the same events as before
/// from the store's own index, and reads the released bodies from the archive, each
/// checked against the store's own tiles (`open_store`).
///
/// With `judged_only`, a segment is released only once detection has judged all of it
/// (a worker's streaming detection would otherwise read back from the archive what it is
/// about to judge).
pub fn release(j: &mut SqliteJournal, location: &str, tenant: &str, judged_only: bool) -> Result<ReleaseReport> {
    let archive = Archive::open(location, tenant)?;
    let manifest = recorded_manifest(j, &archive, location, tenant)?;
    let reference = archive_ref(location, tenant)?;
    if let Some(recorded) = j.archive_ref()?
        && recorded != reference
    {
        let (t, l) = recorded.split_once('\t').unwrap_or(("", &recorded));
        bail!(crate::tr!("このストアは以前、{l} のテナント `{t}` のアーカイブへ区間の本体を外しています: 外す先はそのアーカイブだけにしてください", "this store released segments to tenant `{t}` at {l} before: release to that archive only"));
    }
    let released = j.released_segments()?;
    let mut report = ReleaseReport { released_before: released.len(), ..Default::default() };
    for segment in &manifest.segments {
        if released.contains(&segment.id) {
            continue;
        }
        if judged_only && j.detect_state_head()?.is_none_or(|(last, _)| last + 1 < segment.first_seq + segment.count) {
            break;
        }
        let archived = archive.segment_rows(&manifest, segment.id)?;
        let mut place = 0usize;
        let mut differs: Option<u64> = None;
        j.for_each_in_segment(segment.id, |row| -> Result<()> {
            if archived.get(place) != Some(&row) {
                differs.get_or_insert(row.seq);
            }
            place += 1;
            Ok(())
        })?;
        if let Some(seq) = differs.or((place != archived.len()).then_some(segment.first_seq)) {
            bail!(crate::tr!("アーカイブの区間 {} はストアのものと一致しません（最初の相違はイベント {seq}）: この区間は外していません", "the archive's segment {} is not the store's (first difference at event {seq}): it was not released", segment.id));
        }
        j.release_segment(segment.id, &reference)?;
        // Recorded at once: a run stopped at a later segment leaves every release it made in the log.
        crate::audit::record(
            j,
            crate::audit::Action::ArchiveRelease,
            &format!("released segment {} (events {}..{}) to tenant {tenant}'s archive at {location}", segment.id, segment.first_seq, segment.first_seq + segment.count),
        )?;
        if !j.has_archive() {
            j.attach_archive(Box::new(ReleasedArchive::default()));
        }
        report.segments.push(segment.id);
        report.events += segment.count;
    }
    report.kept = j.kept_segments()?;
    Ok(report)
}

/// A store's archive as the store reads released bodies back
/// (`SqliteJournal::attach_archive`): where the store recorded it, opened at first use, under
/// the newest manifest the store's log recorded.
#[derive(Default)]
struct ReleasedArchive {
    /// Opened at first use, from the reference the store holds then: a store whose
    /// archive is out of reach still takes events and answers from what it keeps, and a
    /// long-running reader sees a release made after it opened the store.
    opened: std::sync::OnceLock<(Archive, String, String)>,
    manifest: std::sync::Mutex<Option<mamori_archive::Manifest>>,
}

impl ReleasedArchive {
    fn opened(&self, j: &SqliteJournal) -> Result<&(Archive, String, String), JournalError> {
        if let Some(o) = self.opened.get() {
            return Ok(o);
        }
        let reference = j.archive_ref()?.ok_or_else(|| JournalError::Corrupt("events of the store are released, but it records no archive".into()))?;
        let (tenant, location) = reference.split_once('\t').ok_or_else(|| JournalError::Corrupt(format!("the store's archive reference `{reference}` is malformed")))?;
        let archive = Archive::open(location, tenant).map_err(|e| JournalError::Usage(format!("opening the archive the store released segments to ({location}, tenant {tenant}): {e:#}")))?;
        Ok(self.opened.get_or_init(|| (archive, location.to_owned(), tenant.to_owned())))
    }

    /// The recorded manifest holding `seg`: the one read before, or read again (a worker
    /// archives and releases more as the store grows).
    fn manifest_for(&self, j: &SqliteJournal, seg: u64) -> Result<mamori_archive::Manifest, JournalError> {
        let (archive, location, tenant) = self.opened(j)?;
        let mut cached = self.manifest.lock().unwrap_or_else(|e| e.into_inner());
        let holds = |m: &mamori_archive::Manifest| m.segments.iter().any(|e| e.id == seg);
        if let Some(m) = cached.as_ref().filter(|m| holds(m)) {
            return Ok(m.clone());
        }
        let m = recorded_manifest(j, archive, location, tenant).map_err(|e| JournalError::Usage(format!("reading the archive the store released segments to ({location}, tenant {tenant}): {e:#}")))?;
        if !holds(&m) {
            return Err(JournalError::Corrupt(format!("tenant `{tenant}`'s archive at {location} does not hold segment {seg}, which the store released to it")));
        }
        *cached = Some(m.clone());
        Ok(m)
    }
}

impl ReleasedSegments for ReleasedArchive {
    fn bodies(&self, j: &SqliteJournal, seg: u64, wanted: &[(u64, i64)]) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
        let manifest = self.manifest_for(j, seg)?;
        let (archive, location, _) = self.opened(j)?;
        // Out of reach is not tampering: the store's own checks say which is which.
        archive.bodies(&manifest, seg, wanted).map_err(|e| JournalError::Usage(format!("reading the archive the store released segments to ({location}): {e:#}")))
    }
}

/// Opens a store with the archive it releases segments to attached: every service opens
/// stores through this, so that a store that keeps only its newest bodies answers every
/// query as one that keeps them all.
pub fn open_store(dir: &std::path::Path) -> Result<SqliteJournal> {
    // Said here, not by the journal, so that the first thing a new user meets is in their
    // language.
    if !dir.join(mamori_journal::DB_FILE).is_file() {
        anyhow::bail!(crate::tr!("{} にはストアがありません（先に `mamori init {}` で作成してください。場所は --data か MAMORI_DATA で指定します）", "{} holds no mamori store (run `mamori init {}` first)", dir.display(), dir.display()));
    }
    let mut j = SqliteJournal::open(dir)?;
    j.attach_archive(Box::new(ReleasedArchive::default()));
    Ok(j)
}
