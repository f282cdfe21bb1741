//! The archive: a tenant's sealed log segments as Parquet files in object storage, beside
//! the Merkle tiles and the signed checkpoint that prove every row of them.
//!
//! A sealed segment never changes again, so it can leave the machine that wrote it. The
//! archive keeps it in a form other engines read (Spark, DataFusion, DuckDB: plain Parquet,
//! partitioned Hive-style), and keeps the log's tiles in the C2SP `tlog-tiles` layout so that
//! whoever reads a row can prove it against the tenant's signed checkpoint without trusting
//! the archive, the engine or the machine in between.
//!
//! Layout under the archive's root:
//!
//! ```text
//! tenant=<t>/manifest.json                              what is archived; written last
//! tenant=<t>/date=<YYYY-MM-DD>/segment-<id>.parquet     a sealed segment's events of one JST day
//! tenant=<t>/log/checkpoint                             the signed checkpoint the manifest names
//! tenant=<t>/log/tile/8/<L>/<N>[.p/<W>]                 the Merkle tiles up to that checkpoint
//! ```
//!
//! The manifest is the commit point: a file it does not list (left by an export that was
//! killed) is never read, and the next export writes it again at the same path.

pub mod export;
pub mod query;
pub mod spark;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt};
use object_store::path::Path as StorePath;
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use export::{ExportReport, export};
pub use query::{ArchivedEvent, KeyColumn, QueryStats};
pub use verify::VerifyReport;

/// Where a tenant's archive lives and the runtime its object-store calls run on.
pub struct Archive {
    /// Always `Some` until dropped (`Drop` shuts it down without blocking).
    rt: Option<tokio::runtime::Runtime>,
    store: Arc<dyn ObjectStore>,
    /// The root on the local file system, when it is one (the Spark job reads files).
    root_dir: Option<PathBuf>,
    tenant: String,
}

/// What is archived for one tenant. Written after everything it lists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub tenant: String,
    /// The log's origin (the checkpoint key's name).
    pub origin: String,
    pub segment_shift: u32,
    /// The signed checkpoint every archived row is proven against, and its size.
    pub checkpoint_size: u64,
    pub checkpoint: String,
    pub segments: Vec<SegmentEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentEntry {
    pub id: u64,
    pub first_seq: u64,
    pub count: u64,
    pub files: Vec<FileEntry>,
}

/// One Parquet file: a segment's events of one JST day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Relative to the tenant's prefix: `date=…/segment-….parquet`.
    pub path: String,
    pub date: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

pub const MANIFEST_FORMAT: u32 = 1;

impl Manifest {
    /// Events `[0, archived_through)` are in the archive's Parquet files.
    pub fn archived_through(&self) -> u64 {
        self.segments.iter().map(|s| s.first_seq + s.count).max().unwrap_or(0)
    }

    pub fn events(&self) -> u64 {
        self.segments.iter().map(|s| s.count).sum()
    }

    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.segments.iter().flat_map(|s| &s.files)
    }

    pub fn bytes(&self) -> u64 {
        self.files().map(|f| f.bytes).sum()
    }

    /// The shape export always writes: segments 0, 1, 2 … each full, each file at the path
    /// its segment and day name, the rows adding up. Anything else was not written by
    /// export, and no reader acts on it.
    pub fn check_shape(&self) -> Result<()> {
        if !(8..=40).contains(&self.segment_shift) {
            bail!("segment_shift {} is out of range", self.segment_shift);
        }
        let per_segment = 1u64 << self.segment_shift;
        for (n, s) in self.segments.iter().enumerate() {
            let n = n as u64;
            if s.id != n || Some(s.first_seq) != n.checked_mul(per_segment) || s.count != per_segment {
                bail!("segment {} is out of place (it should be segment {n}, from event {} for {per_segment})", s.id, n.saturating_mul(per_segment));
            }
            let mut rows = 0u64;
            for f in &s.files {
                let well_formed_date = f.date.len() == 10 && f.date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
                if !well_formed_date || f.path != format!("date={}/segment-{:08}.parquet", f.date, s.id) {
                    bail!("segment {}: file `{}` is not at the path export gives it", s.id, f.path);
                }
                rows = rows.saturating_add(f.rows);
            }
            if rows != s.count {
                bail!("segment {}: its files hold {rows} rows, not {}", s.id, s.count);
            }
        }
        if self.archived_through() > self.checkpoint_size {
            bail!("it lists events up to {}, past its checkpoint of {}", self.archived_through(), self.checkpoint_size);
        }
        Ok(())
    }
}

/// Tenant names are path segments of the archive: a closed alphabet, so that no name can
/// reach another tenant's prefix.
pub fn check_tenant(tenant: &str) -> Result<()> {
    if tenant.is_empty() || tenant.len() > 32 || !tenant.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        bail!("tenant `{tenant}`: use 1 to 32 of a-z, 0-9, `_` and `-`");
    }
    Ok(())
}

/// The object store at an archive's `location` (see `Archive::open`), and its directory
/// when it is on the local file system.
fn open_root(location: &str) -> Result<(Arc<dyn ObjectStore>, Option<PathBuf>)> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("archive `{location}`: name the bucket (s3://BUCKET[/PREFIX])");
        }
        let s3 = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).build().with_context(|| format!("archive `{location}`: S3 settings from the environment"))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() { Arc::new(s3) } else { Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)) };
        return Ok((store, None));
    }
    let dir = match location.strip_prefix("file://") {
        Some(path) => PathBuf::from(path),
        None if location.contains("://") => bail!("archive `{location}`: use a directory, a file:// URL or s3://BUCKET[/PREFIX]"),
        None => PathBuf::from(location),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("making the archive directory {}", dir.display()))?;
    let dir = dir.canonicalize().with_context(|| format!("archive directory {}", dir.display()))?;
    // fsync before the rename that makes a file visible: a manifest is never on disk
    // before the files it lists.
    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).with_context(|| format!("archive directory {}", dir.display()))?.with_fsync(true);
    Ok((Arc::new(store), Some(dir)))
}

impl Archive {
    /// Opens the archive at `location` for `tenant`: a directory (made if missing), a
    /// `file://` URL, or `s3://BUCKET[/PREFIX]`. S3's credentials, region and endpoint come
    /// from the environment as the AWS tools read them (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` for an S3-compatible store on
    /// premises, `AWS_ALLOW_HTTP` for one without TLS): never from a command line.
    pub fn open(location: &str, tenant: &str) -> Result<Archive> {
        check_tenant(tenant)?;
        let (store, root_dir) = open_root(location)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the archive's runtime")?;
        Ok(Archive { rt: Some(rt), store, root_dir, tenant: tenant.to_owned() })
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The tenant's objects, by their path relative to the tenant's prefix.
    fn path(&self, rel: &str) -> StorePath {
        StorePath::from(format!("tenant={}/{rel}", self.tenant))
    }

    /// The local file of `rel`, when the archive is on the local file system: resolved as
    /// the object store resolves it, so Spark reads the very file `verify` checked.
    pub fn local_file(&self, rel: &str) -> Option<PathBuf> {
        let root = self.root_dir.as_ref()?;
        object_store::local::LocalFileSystem::new_with_prefix(root).ok()?.path_to_filesystem(&self.path(rel)).ok()
    }

    /// Runs `work` on the archive's runtime. Called from a thread already inside a tokio
    /// runtime (a server handler reading a store whose old segments are archived), it runs
    /// on a thread of its own, since a runtime cannot block a thread another one drives.
    fn block_on<F: std::future::Future + Send>(&self, work: F) -> F::Output
    where
        F::Output: Send,
    {
        let rt = self.rt.as_ref().expect("the runtime lives as long as the archive");
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| s.spawn(|| rt.block_on(work)).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        } else {
            rt.block_on(work)
        }
    }

    fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        let path = self.path(rel);
        self.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => Ok(Some(r.bytes().await.with_context(|| format!("reading {path}"))?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(anyhow::Error::new(e).context(format!("reading {path}"))),
            }
        })
    }

    fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(rel);
        self.block_on(self.store.put(&path, bytes.into())).with_context(|| format!("writing {path}"))?;
        Ok(())
    }

    /// The manifest, or `None` for a tenant with nothing archived yet.
    pub fn manifest(&self) -> Result<Option<Manifest>> {
        Ok(self.manifest_with_digest()?.map(|(m, _)| m))
    }

    /// The manifest and the SHA-256 of its bytes (hex): what the store's log records of
    /// each export, so that a reader with the store can tell the manifest is the one
    /// exported.
    pub fn manifest_with_digest(&self) -> Result<Option<(Manifest, String)>> {
        let Some(bytes) = self.get("manifest.json")? else { return Ok(None) };
        let at = format!("tenant={}/manifest.json", self.tenant);
        let m: Manifest = serde_json::from_slice(&bytes).with_context(|| format!("{at} is not an archive manifest"))?;
        if m.format != MANIFEST_FORMAT {
            bail!("{at}: format {} (this mamori reads {MANIFEST_FORMAT})", m.format);
        }
        if m.tenant != self.tenant {
            bail!("{at} names tenant `{}`", m.tenant);
        }
        m.check_shape().with_context(|| at.clone())?;
        Ok(Some((m, mamori_journal::hex_bytes(&sha2::Sha256::digest(&bytes)))))
    }
}

/// Counts per tenant and day across an archive root, read from the manifests alone: what
/// a prefecture's operators see, never a resident or an employee.
pub fn counts(location: &str) -> Result<Vec<(String, String, u64)>> {
    let mut out = Vec::new();
    for tenant in tenants(location)? {
        let Ok(archive) = Archive::open(location, &tenant) else { continue };
        let Some(m) = archive.manifest()? else { continue };
        let mut days: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for f in m.files() {
            *days.entry(f.date.clone()).or_default() += f.rows;
        }
        out.extend(days.into_iter().map(|(d, n)| (tenant.clone(), d, n)));
    }
    Ok(out)
}

/// The tenants with a prefix at the archive's root, sorted.
pub(crate) fn tenants(location: &str) -> Result<Vec<String>> {
    let (root, _) = open_root(location)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the archive's runtime")?;
    let listed = rt.block_on(root.list_with_delimiter(None)).with_context(|| format!("listing the archive {location}"))?;
    let mut tenants: Vec<String> = listed.common_prefixes.iter().filter_map(|p| p.as_ref().strip_prefix("tenant=").map(str::to_owned)).collect();
    tenants.sort();
    Ok(tenants)
}

impl Drop for Archive {
    /// Dropping a runtime blocks, which panics inside another runtime (a worker drops a
    /// tenant's store, and the archive it reads through, in async code): shut it down
    /// without waiting instead.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The archive's tiles for `tlog_tiles`' proofs. Tiles are not trusted: `TileHashReader`
/// recomputes the signed root from them before any hash is used.
pub struct ArchiveTiles<'a> {
    archive: &'a Archive,
    cache: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
}

impl<'a> ArchiveTiles<'a> {
    pub fn new(archive: &'a Archive) -> ArchiveTiles<'a> {
        ArchiveTiles { archive, cache: Default::default() }
    }
}

impl tlog_tiles::TileReader for ArchiveTiles<'_> {
    fn height(&self) -> u8 {
        export::TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(tiles.len());
        for t in tiles {
            let rel = format!("log/{}", t.path());
            if let Some(d) = self.cache.borrow().get(&rel) {
                out.push(d.clone());
                continue;
            }
            let data = self.archive.get(&rel).map_err(|e| tlog_tiles::Error::InvalidInput(format!("{e:#}")))?.ok_or_else(|| tlog_tiles::Error::InvalidInput(format!("tile {rel} is not in the archive")))?;
            if data.len() != t.width() as usize * 32 {
                return Err(tlog_tiles::Error::InvalidInput(format!("tile {rel} holds {} bytes", data.len())));
            }
            self.cache.borrow_mut().insert(rel, data.to_vec());
            out.push(data.to_vec());
        }
        Ok(out)
    }

    fn save_tiles(&self, _tiles: &[tlog_tiles::Tile], _data: &[Vec<u8>]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(date: &str, id: u64, rows: u64) -> FileEntry {
        FileEntry { path: format!("date={date}/segment-{id:08}.parquet"), date: date.into(), rows, bytes: 1, sha256: String::new() }
    }

    /// Two full segments of 256 as export writes them, the second across two days.
    fn exported() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            tenant: "town".into(),
            origin: "o".into(),
            segment_shift: 8,
            checkpoint_size: 600,
            checkpoint: String::new(),
            segments: vec![
                SegmentEntry { id: 0, first_seq: 0, count: 256, files: vec![file("2024-04-01", 0, 256)] },
                SegmentEntry { id: 1, first_seq: 256, count: 256, files: vec![file("2024-04-01", 1, 100), file("2024-04-02", 1, 156)] },
            ],
        }
    }

    #[test]
    fn a_manifest_of_another_shape_than_export_writes_is_refused() {
        assert!(exported().check_shape().is_ok());
        let cases: Vec<(&str, Box<dyn Fn(&mut Manifest)>)> = vec![
            ("a segment left out", Box::new(|m| { m.segments.remove(0); })),
            ("a segment out of place", Box::new(|m| m.segments[1].first_seq = 300)),
            ("a segment not full", Box::new(|m| m.segments[1].count = 200)),
            ("a file outside the tenant's prefix", Box::new(|m| m.segments[0].files[0].path = "/tmp/x.parquet".into())),
            ("a file of another segment", Box::new(|m| m.segments[1].files[0].path = "date=2024-04-01/segment-00000000.parquet".into())),
            ("a path climbing out", Box::new(|m| m.segments[0].files[0].date = "../../x".into())),
            ("rows not adding up", Box::new(|m| m.segments[1].files[1].rows = 155)),
            ("a shift past 40", Box::new(|m| m.segment_shift = 64)),
            ("events past the checkpoint", Box::new(|m| m.checkpoint_size = 400)),
        ];
        for (what, change) in cases {
            let mut m = exported();
            change(&mut m);
            assert!(m.check_shape().is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn a_range_of_jst_days_reads_only_those_days_files() {
        let m = exported();
        // 2024-04-02 00:00 JST is 2024-04-01 15:00 UTC.
        let day2 = chrono::DateTime::parse_from_rfc3339("2024-04-02T00:00:00+09:00").unwrap().timestamp_millis();
        let day = 86_400_000;
        let dates = |range: mamori_journal::TimeRange| query::files_for(&m, range).iter().map(|f| f.date.clone()).collect::<Vec<_>>();
        assert_eq!(dates(mamori_journal::TimeRange { from: day2, to: day2 + day }), ["2024-04-02"]);
        assert_eq!(dates(mamori_journal::TimeRange { from: day2 - day, to: day2 }), ["2024-04-01", "2024-04-01"]);
        assert_eq!(dates(mamori_journal::TimeRange { from: day2 - 1, to: day2 + 1 }).len(), 3);
        assert_eq!(dates(mamori_journal::TimeRange::ALL).len(), 3);
    }
}
