//! Finds one resident's or one actor's rows in the archive in process: the files the
//! manifest lists for the days asked, row groups skipped by their statistics and bloom
//! filters, and only the matching rows decoded.

use anyhow::{Context, Result, bail};
use arrow_array::{Array, BooleanArray, FixedSizeBinaryArray, Int64Array, StringArray};
use futures_util::TryStreamExt;
use mamori_journal::{Hash, TimeRange};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ArrowReaderOptions, RowFilter};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::statistics::Statistics;

use crate::export::jst_date;
use crate::{Archive, Manifest};

/// Reads one archive file by ranges: the footer at the size the manifest recorded, then
/// only the row groups and bloom filters asked for.
struct FileReader {
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
    size: u64,
}

fn store_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for FileReader {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> futures_util::future::BoxFuture<'_, parquet::errors::Result<bytes::Bytes>> {
        use object_store::ObjectStoreExt;
        Box::pin(async move { self.store.get_range(&self.path, range).await.map_err(store_error) })
    }

    fn get_byte_ranges(&mut self, ranges: Vec<std::ops::Range<u64>>) -> futures_util::future::BoxFuture<'_, parquet::errors::Result<Vec<bytes::Bytes>>> {
        Box::pin(async move { self.store.get_ranges(&self.path, &ranges).await.map_err(store_error) })
    }

    fn get_metadata<'a>(&'a mut self, options: Option<&'a ArrowReaderOptions>) -> futures_util::future::BoxFuture<'a, parquet::errors::Result<std::sync::Arc<ParquetMetaData>>> {
        Box::pin(async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new().with_arrow_reader_options(options).load_and_finish(self, size).await?;
            Ok(std::sync::Arc::new(metadata))
        })
    }
}

/// The indexed columns a query can look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyColumn {
    Resident,
    Actor,
}

impl KeyColumn {
    pub fn name(self) -> &'static str {
        match self {
            KeyColumn::Resident => "resident",
            KeyColumn::Actor => "actor",
        }
    }
}

/// A row found in the archive: where it sits in the log and its canonical body. Nothing
/// here is trusted until the body hashes to `leaf` and `leaf` is proven in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedEvent {
    pub seq: u64,
    pub time: i64,
    pub leaf: Hash,
    pub body: Vec<u8>,
}

/// How much of the archive a query had to touch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    pub files: u64,
    pub files_opened: u64,
    pub row_groups: u64,
    pub row_groups_read: u64,
}

/// The manifest's files that can hold events of `range` (by their JST day).
pub fn files_for<'m>(manifest: &'m Manifest, range: TimeRange) -> Vec<&'m crate::FileEntry> {
    let from = (range.from != i64::MIN).then(|| jst_date(range.from));
    let to = (range.to != i64::MAX).then(|| jst_date(range.to.saturating_sub(1)));
    manifest.files().filter(|f| from.as_ref().is_none_or(|d| &f.date >= d) && to.as_ref().is_none_or(|d| &f.date <= d)).collect()
}

fn may_hold(stats: Option<&Statistics>, value: &[u8]) -> bool {
    match stats {
        Some(Statistics::ByteArray(s)) => {
            let below = s.min_opt().is_some_and(|min| value < min.data());
            let above = s.max_opt().is_some_and(|max| value > max.data());
            !(below || above)
        }
        _ => true,
    }
}

impl Archive {
    /// Every archived row whose `column` is `value` and whose time is in `range`, in log
    /// order.
    pub fn find(&self, manifest: &Manifest, column: KeyColumn, value: &str, range: TimeRange) -> Result<(Vec<ArchivedEvent>, QueryStats)> {
        let files = files_for(manifest, range);
        let mut stats = QueryStats { files: files.len() as u64, ..Default::default() };
        let mut found = Vec::new();
        self.block_on(async {
            for file in files {
                let path = self.path(&file.path);
                let reader = FileReader { store: self.store.clone(), path: path.clone(), size: file.bytes };
                // The page index lets the reader fetch only the pages of the matching rows.
                let options = ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
                let mut builder = ParquetRecordBatchStreamBuilder::new_with_options(reader, options).await.with_context(|| format!("reading {path}"))?;
                crate::export::check_schema(builder.schema()).with_context(|| format!("{path}"))?;
                let schema = builder.parquet_schema();
                let key_index = schema.columns().iter().position(|c| c.path().string() == column.name()).with_context(|| format!("{path} has no column {}", column.name()))?;
                let mut groups = Vec::new();
                let row_groups = builder.metadata().num_row_groups();
                stats.row_groups += row_groups as u64;
                for rg in 0..row_groups {
                    if !may_hold(builder.metadata().row_group(rg).column(key_index).statistics(), value.as_bytes()) {
                        continue;
                    }
                    if let Some(bloom) = builder.get_row_group_column_bloom_filter(rg, key_index).await.with_context(|| format!("reading {path}'s bloom filter"))? {
                        if !bloom.check(value) {
                            continue;
                        }
                    }
                    groups.push(rg);
                }
                if groups.is_empty() {
                    continue;
                }
                stats.files_opened += 1;
                stats.row_groups_read += groups.len() as u64;
                let mask = ProjectionMask::columns(builder.parquet_schema(), ["seq", "time_ms", column.name(), "leaf_hash", "event"]);
                // The key column is read first; the other columns only for its matching rows.
                let wanted = value.to_owned();
                let key_only = ProjectionMask::columns(builder.parquet_schema(), [column.name()]);
                let predicate = ArrowPredicateFn::new(key_only, move |batch: arrow_array::RecordBatch| {
                    let keys = batch.column(0).as_any().downcast_ref::<StringArray>().ok_or_else(|| arrow_schema::ArrowError::SchemaError("the key column is not text".into()))?;
                    Ok(keys.iter().map(|k| Some(k == Some(wanted.as_str()))).collect::<BooleanArray>())
                });
                let mut stream = builder
                    .with_row_groups(groups)
                    .with_projection(mask)
                    .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
                    .build()
                    .with_context(|| format!("reading {path}"))?;
                while let Some(batch) = stream.try_next().await.with_context(|| format!("reading {path}"))? {
                    let col = |name: &str| batch.column_by_name(name).with_context(|| format!("{path} has no column {name}"));
                    let seq = col("seq")?.as_any().downcast_ref::<Int64Array>().context("seq is not Int64")?;
                    let time = col("time_ms")?.as_any().downcast_ref::<Int64Array>().context("time_ms is not Int64")?;
                    let key = col(column.name())?.as_any().downcast_ref::<StringArray>().context("key column is not text")?;
                    let leaf = col("leaf_hash")?.as_any().downcast_ref::<FixedSizeBinaryArray>().context("leaf_hash is not 32 bytes")?;
                    let event = col("event")?.as_any().downcast_ref::<StringArray>().context("event is not text")?;
                    for i in 0..batch.num_rows() {
                        if key.is_null(i) || key.value(i) != value {
                            continue;
                        }
                        let t = time.value(i);
                        if t < range.from || t >= range.to {
                            continue;
                        }
                        let Ok(leaf) = <[u8; 32]>::try_from(leaf.value(i)) else { bail!("{path}: a leaf hash is not 32 bytes") };
                        found.push(ArchivedEvent { seq: seq.value(i) as u64, time: t, leaf: Hash(leaf), body: event.value(i).as_bytes().to_vec() });
                    }
                }
            }
            anyhow::Ok(())
        })?;
        found.sort_by_key(|e| e.seq);
        Ok((found, stats))
    }
}

impl Archive {
    /// Every row of archived segment `seg`, in log order, read whole from its files, each
    /// file first checked against the SHA-256 and size the manifest lists.
    pub fn segment_rows(&self, manifest: &Manifest, seg: u64) -> Result<Vec<mamori_journal::SegmentRow>> {
        let segment = manifest.segments.iter().find(|s| s.id == seg).with_context(|| format!("segment {seg} is not in tenant `{}`'s archive", self.tenant))?;
        let mut rows = Vec::with_capacity(segment.count as usize);
        for file in &segment.files {
            rows.extend(self.file_rows(file)?);
        }
        rows.sort_by_key(|r| r.seq);
        Ok(rows)
    }

    /// Every row of one archive file, after checking it is the file the manifest lists.
    fn file_rows(&self, file: &crate::FileEntry) -> Result<Vec<mamori_journal::SegmentRow>> {
        use arrow_array::Int32Array;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use sha2::{Digest, Sha256};
        let bytes = self.get(&file.path)?.with_context(|| format!("{} is listed but not in the archive", file.path))?;
        if mamori_journal::hex_bytes(&Sha256::digest(&bytes)) != file.sha256 || bytes.len() as u64 != file.bytes {
            bail!("{} is not the file the manifest lists (its SHA-256 or size differs)", file.path);
        }
        let mut rows = Vec::with_capacity(file.rows as usize);
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).with_context(|| format!("reading {}", file.path))?;
        crate::export::check_schema(builder.schema()).with_context(|| file.path.clone())?;
        for batch in builder.with_batch_size(8192).build().with_context(|| format!("reading {}", file.path))? {
            let batch = batch.with_context(|| format!("reading {}", file.path))?;
            let col = |name: &str| batch.column_by_name(name).with_context(|| format!("{} has no column {name}", file.path));
            let seq = col("seq")?.as_any().downcast_ref::<Int64Array>().context("seq is not Int64")?;
            let time = col("time_ms")?.as_any().downcast_ref::<Int64Array>().context("time_ms is not Int64")?;
            let class = col("class_uid")?.as_any().downcast_ref::<Int32Array>().context("class_uid is not Int32")?;
            let actor = col("actor")?.as_any().downcast_ref::<StringArray>().context("actor is not text")?;
            let resident = col("resident")?.as_any().downcast_ref::<StringArray>().context("resident is not text")?;
            let event = col("event")?.as_any().downcast_ref::<StringArray>().context("event is not text")?;
            for i in 0..batch.num_rows() {
                rows.push(mamori_journal::SegmentRow {
                    seq: seq.value(i) as u64,
                    time: time.value(i),
                    class_uid: class.value(i) as u32,
                    actor: actor.value(i).to_owned(),
                    resident: (!resident.is_null(i)).then(|| resident.value(i).to_owned()),
                    body: event.value(i).as_bytes().to_vec(),
                });
            }
        }
        Ok(rows)
    }

    /// The bodies of the events `wanted` (id, time) of archived segment `seg`: only the
    /// files of the days they fall on, only the row groups whose ids can hold them, and
    /// only their rows' bodies decoded. Not trusted: the store checks each against its leaf,
    /// and knows from its own index which it asked for.
    pub fn bodies(&self, manifest: &Manifest, seg: u64, wanted: &[(u64, i64)]) -> Result<Vec<(u64, Vec<u8>)>> {
        let segment = manifest.segments.iter().find(|s| s.id == seg).with_context(|| format!("segment {seg} is not in tenant `{}`'s archive", self.tenant))?;
        let days: std::collections::BTreeSet<String> = wanted.iter().map(|(_, t)| jst_date(*t)).collect();
        let ids: std::collections::HashSet<i64> = wanted.iter().map(|(s, _)| *s as i64).collect();
        let (lo, hi) = (ids.iter().min().copied().unwrap_or(0), ids.iter().max().copied().unwrap_or(-1));
        let mut found = Vec::with_capacity(wanted.len());
        self.block_on(async {
            for file in segment.files.iter().filter(|f| days.contains(&f.date)) {
                let path = self.path(&file.path);
                let reader = FileReader { store: self.store.clone(), path: path.clone(), size: file.bytes };
                let options = ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
                let builder = ParquetRecordBatchStreamBuilder::new_with_options(reader, options).await.with_context(|| format!("reading {path}"))?;
                crate::export::check_schema(builder.schema()).with_context(|| format!("{path}"))?;
                let seq_index = builder.parquet_schema().columns().iter().position(|c| c.path().string() == "seq").with_context(|| format!("{path} has no column seq"))?;
                let groups: Vec<usize> = (0..builder.metadata().num_row_groups())
                    .filter(|&rg| match builder.metadata().row_group(rg).column(seq_index).statistics() {
                        Some(Statistics::Int64(st)) => !(st.max_opt().is_some_and(|m| *m < lo) || st.min_opt().is_some_and(|m| *m > hi)),
                        _ => true,
                    })
                    .collect();
                if groups.is_empty() {
                    continue;
                }
                let mask = ProjectionMask::columns(builder.parquet_schema(), ["seq", "event"]);
                let seq_only = ProjectionMask::columns(builder.parquet_schema(), ["seq"]);
                let wanted_ids = ids.clone();
                let predicate = ArrowPredicateFn::new(seq_only, move |batch: arrow_array::RecordBatch| {
                    let seqs = batch.column(0).as_any().downcast_ref::<Int64Array>().ok_or_else(|| arrow_schema::ArrowError::SchemaError("seq is not Int64".into()))?;
                    Ok(seqs.iter().map(|s| Some(s.is_some_and(|s| wanted_ids.contains(&s)))).collect::<BooleanArray>())
                });
                let mut stream = builder.with_row_groups(groups).with_projection(mask).with_row_filter(RowFilter::new(vec![Box::new(predicate)])).build().with_context(|| format!("reading {path}"))?;
                while let Some(batch) = stream.try_next().await.with_context(|| format!("reading {path}"))? {
                    let seq = batch.column_by_name("seq").and_then(|c| c.as_any().downcast_ref::<Int64Array>()).with_context(|| format!("{path}: seq"))?;
                    let event = batch.column_by_name("event").and_then(|c| c.as_any().downcast_ref::<StringArray>()).with_context(|| format!("{path}: event"))?;
                    for i in 0..batch.num_rows() {
                        if ids.contains(&seq.value(i)) {
                            found.push((seq.value(i) as u64, event.value(i).as_bytes().to_vec()));
                        }
                    }
                }
            }
            anyhow::Ok(())
        })?;
        Ok(found)
    }
}
