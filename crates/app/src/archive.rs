//! The archive as the store's services use it: copying sealed segments out, and answering a
//! resident's disclosure from the archive with every entry proven against the tenant's
//! signed checkpoint, as the embedded store answers it.

use anyhow::{Context, Result, bail};
use mamori_archive::{Archive, ArchivedEvent, KeyColumn, QueryStats};
use mamori_journal::{Journal, SqliteJournal, StoredEvent, check_checkpoint, leaf_hash};
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
            other => bail!("--engine `{other}`: use parquet or spark"),
        }
    }
}

/// Copies the store's sealed segments not yet archived, and records that it did.
pub fn export(j: &mut SqliteJournal, location: &str, tenant: &str) -> Result<mamori_archive::ExportReport> {
    let archive = Archive::open(location, tenant)?;
    let report = mamori_archive::export(j, &archive)?;
    if report.segments > 0 || report.tiles > 0 {
        crate::audit::record(
            j,
            crate::audit::Action::ArchiveExport,
            &format!(
                "archive tenant {tenant}: {} segments, {} events, {} bytes; archived through {}, checkpoint {}",
                report.segments, report.events, report.bytes, report.archived_through, report.checkpoint_size
            ),
        )?;
    }
    Ok(report)
}

/// What an archive disclosure read, beside the disclosure itself.
#[derive(Debug, Clone, Default)]
pub struct ArchiveAnswer {
    /// Entries from the archive's files, and from the store's open segment.
    pub from_archive: usize,
    pub from_store: usize,
    pub checkpoint_size: u64,
    pub archived_through: u64,
    /// Files and row groups touched (the in-process engine only).
    pub stats: Option<QueryStats>,
}

/// A resident's disclosure from the archive: the archived rows the engine finds, and the
/// store's rows after the archive up to the archive's checkpoint, every one proven from
/// the archive's tiles against the checkpoint, which must carry this store's signature.
pub fn disclosure(j: &SqliteJournal, location: &str, tenant: &str, engine: Engine, r: &Request<'_>) -> Result<(Disclosure, ArchiveAnswer)> {
    let archive = Archive::open(location, tenant)?;
    let manifest = archive.manifest()?.with_context(|| format!("tenant `{tenant}` has nothing archived at {location} (run `mamori archive export`)"))?;
    let checkpoint = check_checkpoint(&manifest.checkpoint, j.verifier_key()).map_err(|e| anyhow::anyhow!("the archive's checkpoint does not carry this store's signature: {e}"))?;
    let through = manifest.archived_through();
    // Export archives every sealed segment under its checkpoint: the store's part starts
    // exactly where the archive's ends, so no entry falls between them.
    let per_segment = 1u64 << manifest.segment_shift;
    if through != checkpoint.size / per_segment * per_segment {
        bail!("the archive's manifest lists events up to {through}, but its checkpoint of {} seals every event up to {}", checkpoint.size, checkpoint.size / per_segment * per_segment);
    }
    let (archived, stats) = match engine {
        Engine::Parquet => {
            let (rows, stats) = archive.find(&manifest, KeyColumn::Resident, r.resident, r.range)?;
            (rows, Some(stats))
        }
        Engine::Spark => (archive.find_with_spark(&manifest, KeyColumn::Resident, r.resident, r.range)?, None),
    };
    let mut answer = ArchiveAnswer { checkpoint_size: checkpoint.size, archived_through: through, stats, ..Default::default() };
    let mut found: Vec<(i64, StoredEvent)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for ArchivedEvent { seq, time, leaf, body } in archived {
        if leaf_hash(&body) != leaf {
            bail!("the archive's row for event {seq} does not hash to its leaf");
        }
        if seq >= through || !seen.insert(seq) {
            bail!("the archive answered event {seq} twice or outside its archived range");
        }
        answer.from_archive += 1;
        found.push((time, StoredEvent { seq, body }));
    }
    // The open segment: in the store, after the archived ones, up to the archive's checkpoint.
    for stored in j.by_resident(r.resident, r.range)? {
        if stored.seq >= through && stored.seq < checkpoint.size {
            let time = stored.event()?.time;
            answer.from_store += 1;
            found.push((time, stored));
        }
    }
    found.sort_by_key(|(time, s)| (*time, s.seq));
    let found: Vec<StoredEvent> = found.into_iter().map(|(_, s)| s).collect();
    let tiles = mamori_archive::ArchiveTiles::new(&archive);
    let leaves: std::collections::HashMap<u64, mamori_journal::Hash> = found.iter().map(|s| (s.seq, leaf_hash(&s.body))).collect();
    let (size, root) = (checkpoint.size, checkpoint.root);
    let d = disclosure_of(j, r, found, checkpoint, &mut |seq| archive.prove(&tiles, size, root, seq, leaves[&seq]))?;
    Ok((d, answer))
}
