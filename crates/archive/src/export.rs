//! Copies a store's sealed segments to the archive: one Parquet file per segment and JST
//! day, then the tiles and checkpoint that prove them, then the manifest.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow_array::builder::{FixedSizeBinaryBuilder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use mamori_journal::{Journal, SegmentRow, SqliteJournal};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::{Archive, FileEntry, MANIFEST_FORMAT, Manifest, SegmentEntry};

/// The journal's tiles are height 8, as C2SP `tlog-tiles` and Go's sumdb publish them.
pub const TILE_HEIGHT: u8 = 8;

/// Rows gathered before they are handed to a file's writer as one Arrow batch.
const BATCH_ROWS: usize = 8192;
/// Rows per row group: the unit a bloom filter and the column statistics speak for.
const ROW_GROUP_ROWS: usize = 65_536;
/// The resident and actor bloom filters' false-positive rate.
const BLOOM_FPP: f64 = 0.01;

/// What one export added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportReport {
    pub segments: u64,
    pub events: u64,
    pub files: u64,
    pub bytes: u64,
    pub tiles: u64,
    /// The archive as it now stands.
    pub checkpoint_size: u64,
    pub archived_through: u64,
    /// SHA-256 (hex) of the manifest as it now stands: the store's log records it.
    pub manifest_sha256: String,
}

/// The columns of every archive file. `seq` and `leaf_hash` place the row in the log;
/// `event` is the canonical body whose leaf it is, byte for byte.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("time_ms", DataType::Int64, false),
        Field::new("class_uid", DataType::Int32, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("actor", DataType::Utf8, false),
        Field::new("resident", DataType::Utf8, true),
        Field::new("leaf_hash", DataType::FixedSizeBinary(32), false),
        Field::new("event", DataType::Utf8, false),
    ]))
}

/// Refuses a file whose columns are not exactly the archive's: a file shaped otherwise
/// (an extra nested column named like a real one, say) could steer what a query prunes.
pub fn check_schema(found: &arrow_schema::Schema) -> Result<()> {
    let expected = schema();
    let same = found.fields().len() == expected.fields().len()
        && found.fields().iter().zip(expected.fields()).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type() && a.is_nullable() == b.is_nullable());
    if !same {
        bail!("its columns are not the archive's ({})", found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", "));
    }
    Ok(())
}

fn writer_properties(rows_hint: u64) -> WriterProperties {
    let ndv = rows_hint.clamp(1024, ROW_GROUP_ROWS as u64);
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("zstd level 3")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in ["resident", "actor"] {
        let path = ColumnPath::from(column);
        b = b.set_column_bloom_filter_enabled(path.clone(), true).set_column_bloom_filter_fpp(path.clone(), BLOOM_FPP).set_column_bloom_filter_max_ndv(path, ndv);
    }
    b.build()
}

/// One day's file of a segment being written.
struct DayFile {
    writer: ArrowWriter<Vec<u8>>,
    rows: u64,
    pending: Columns,
}

#[derive(Default)]
struct Columns {
    seq: Int64Builder,
    time: Int64Builder,
    class: Int32Builder,
    source: StringBuilder,
    actor: StringBuilder,
    resident: StringBuilder,
    leaf: Option<FixedSizeBinaryBuilder>,
    event: StringBuilder,
    len: usize,
}

impl Columns {
    fn push(&mut self, row: &SegmentRow, source: &str, leaf: &[u8; 32], event: &str) -> Result<()> {
        self.seq.append_value(row.seq as i64);
        self.time.append_value(row.time);
        self.class.append_value(row.class_uid as i32);
        self.source.append_value(source);
        self.actor.append_value(&row.actor);
        self.resident.append_option(row.resident.as_deref());
        self.leaf.get_or_insert_with(|| FixedSizeBinaryBuilder::new(32)).append_value(leaf)?;
        self.event.append_value(event);
        self.len += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let leaf = self.leaf.get_or_insert_with(|| FixedSizeBinaryBuilder::new(32));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.seq.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.actor.finish()),
            Arc::new(self.resident.finish()),
            Arc::new(leaf.finish()),
            Arc::new(self.event.finish()),
        ];
        self.len = 0;
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}

impl DayFile {
    fn flush(&mut self) -> Result<()> {
        if self.pending.len > 0 {
            let batch = self.pending.finish()?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }
}

/// `metadata.product` of a canonical body: the source, kept as a column so that counts by
/// source need not parse events.
fn source_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Meta {
        product: String,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        metadata: Meta,
    }
    serde_json::from_slice::<Head>(body).map(|h| h.metadata.product).unwrap_or_default()
}

/// The JST calendar day of a time in ms: the archive's date partition, the day a
/// municipality's staff would name.
pub fn jst_date(ms: i64) -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&jst).format("%Y-%m-%d").to_string()).unwrap_or_else(|| "0000-00-00".into())
}

/// Archives every sealed segment of `j` not yet in `archive`, then the tiles and the
/// latest checkpoint, then the manifest. Run it again after a failure: files are written
/// at fixed paths and only the manifest makes them part of the archive.
pub fn export(j: &SqliteJournal, archive: &Archive) -> Result<ExportReport> {
    let checkpoint = j.latest_checkpoint()?.context("the store has no checkpoint yet: import something first")?;
    let origin = checkpoint.note.lines().next().unwrap_or_default().to_owned();
    let found = archive.manifest_with_digest()?;
    let digest_before = found.as_ref().map(|(_, d)| d.clone()).unwrap_or_default();
    let mut manifest = match found.map(|(m, _)| m) {
        Some(m) => {
            if m.segment_shift != j.segment_shift() {
                bail!("the archive of tenant `{}` has segments of 2^{}, this store 2^{}", archive.tenant, m.segment_shift, j.segment_shift());
            }
            if m.origin != origin {
                bail!("the archive of tenant `{}` holds the log `{}`, this store is `{origin}`", archive.tenant, m.origin);
            }
            if m.checkpoint_size > checkpoint.size {
                bail!("the archive of tenant `{}` is at {} events, ahead of this store ({}): is this the tenant's store?", archive.tenant, m.checkpoint_size, checkpoint.size);
            }
            // The archived checkpoint must be one this log signed, or the archive is not this store's.
            mamori_journal::check_checkpoint(&m.checkpoint, j.verifier_key()).map_err(|e| anyhow::anyhow!("the archive's checkpoint is not signed by this store's key: {e}"))?;
            m
        }
        None => Manifest {
            format: MANIFEST_FORMAT,
            tenant: archive.tenant.clone(),
            origin: origin.clone(),
            segment_shift: j.segment_shift(),
            checkpoint_size: 0,
            checkpoint: String::new(),
            segments: Vec::new(),
        },
    };
    let mut report = ExportReport::default();
    let done: std::collections::HashSet<u64> = manifest.segments.iter().map(|s| s.id).collect();
    for (id, first_seq) in j.sealed_segments()? {
        let count = 1u64 << j.segment_shift();
        if done.contains(&id) || first_seq + count > checkpoint.size {
            continue;
        }
        let files = export_segment(j, archive, id)?;
        report.segments += 1;
        report.events += count;
        report.files += files.len() as u64;
        report.bytes += files.iter().map(|f| f.bytes).sum::<u64>();
        manifest.segments.push(SegmentEntry { id, first_seq, count, files });
    }
    // The tiles and checkpoint move only with new segments: an export with nothing to
    // copy changes nothing.
    if report.segments > 0 {
        for tile in tlog_tiles::Tile::new_tiles(TILE_HEIGHT, manifest.checkpoint_size, checkpoint.size) {
            let width = tile.width() as usize * 32;
            let data = j.tile(tile.level(), tile.level_index())?.with_context(|| format!("the store has no tile {}", tile.path()))?;
            if data.len() < width {
                bail!("the store's tile {} holds {} hashes, the checkpoint needs {}", tile.path(), data.len() / 32, width / 32);
            }
            archive.put(&format!("log/{}", tile.path()), Bytes::copy_from_slice(&data[..width]))?;
            report.tiles += 1;
        }
        archive.put("log/checkpoint", Bytes::from(checkpoint.note.clone().into_bytes()))?;
        manifest.checkpoint_size = checkpoint.size;
        manifest.checkpoint = checkpoint.note.clone();
    }
    report.manifest_sha256 = digest_before;
    if report.segments > 0 || report.tiles > 0 {
        manifest.segments.sort_by_key(|s| s.id);
        // Another export of this tenant (a worker that lost its lease, a cron job) may have
        // committed meanwhile: never put an older archive over a newer one.
        if let Some(now) = archive.manifest()?
            && now.checkpoint_size > manifest.checkpoint_size
        {
            bail!("another export of tenant `{}` committed meanwhile (checkpoint {} > {}); nothing was changed", archive.tenant, now.checkpoint_size, manifest.checkpoint_size);
        }
        let bytes = serde_json::to_vec_pretty(&manifest)?;
        report.manifest_sha256 = mamori_journal::hex_bytes(&Sha256::digest(&bytes));
        archive.put("manifest.json", Bytes::from(bytes))?;
    }
    report.checkpoint_size = manifest.checkpoint_size;
    report.archived_through = manifest.archived_through();
    Ok(report)
}

/// Writes segment `id` as one Parquet file per JST day, checking each body against the
/// leaf the log holds for it: the archive never holds a row the log does not prove.
fn export_segment(j: &SqliteJournal, archive: &Archive, id: u64) -> Result<Vec<FileEntry>> {
    let rows_hint = 1u64 << j.segment_shift();
    let mut days: BTreeMap<String, DayFile> = BTreeMap::new();
    let mut tile: Option<(u64, Vec<u8>)> = None;
    j.for_each_in_segment(id, |row| -> Result<()> {
        let leaf = mamori_journal::leaf_hash(&row.body);
        let tile_index = row.seq >> TILE_HEIGHT;
        if tile.as_ref().map(|(i, _)| *i) != Some(tile_index) {
            let data = j.tile(0, tile_index)?.with_context(|| format!("the store has no leaf tile {tile_index}"))?;
            tile = Some((tile_index, data));
        }
        let (_, data) = tile.as_ref().expect("loaded above");
        let at = (row.seq as usize & ((1 << TILE_HEIGHT) - 1)) * 32;
        if data.get(at..at + 32) != Some(&leaf.0[..]) {
            bail!("event {}: its body does not hash to the log's leaf; run `mamori verify`", row.seq);
        }
        let event = std::str::from_utf8(&row.body).with_context(|| format!("event {} is not UTF-8", row.seq))?;
        let date = jst_date(row.time);
        let day = match days.get_mut(&date) {
            Some(d) => d,
            None => {
                let writer = ArrowWriter::try_new(Vec::new(), schema(), Some(writer_properties(rows_hint)))?;
                days.entry(date.clone()).or_insert(DayFile { writer, rows: 0, pending: Columns::default() })
            }
        };
        day.pending.push(&row, &source_of(&row.body), &leaf.0, event)?;
        day.rows += 1;
        if day.pending.len >= BATCH_ROWS {
            day.flush()?;
        }
        Ok(())
    })
    .with_context(|| format!("archiving segment {id}"))?;
    let mut files = Vec::new();
    for (date, mut day) in days {
        day.flush()?;
        let bytes = day.writer.into_inner()?;
        let rel = format!("date={date}/segment-{id:08}.parquet");
        let sha256 = mamori_journal::hex_bytes(&Sha256::digest(&bytes));
        let len = bytes.len() as u64;
        archive.put(&rel, Bytes::from(bytes))?;
        files.push(FileEntry { path: rel, date, rows: day.rows, bytes: len, sha256 });
    }
    Ok(files)
}
