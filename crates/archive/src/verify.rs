//! Checks a tenant's archive against the log, trusting nothing in it but the checkpoint's
//! signature: every place of every archived segment filled exactly once, by a body that
//! hashes to the leaf the signed tree holds there, with the columns queries search by
//! derived from that body. An archive that passes cannot hide a row from a query: moving a
//! row's resident to someone else, or dropping it, fails here.

use anyhow::{Context, Result, bail};
use arrow_array::{Array, FixedSizeBinaryArray, Int64Array, StringArray};
use mamori_journal::{IndexKeys, check_checkpoint, leaf_hash};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use tlog_tiles::HashReader;

use crate::{Archive, ArchiveTiles};

/// What a passing verification covered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    pub segments: u64,
    pub files: u64,
    pub events: u64,
    pub bytes: u64,
    pub checkpoint_size: u64,
}

impl Archive {
    /// Verifies the whole archive against the checkpoint, which must carry `verifier_key`'s
    /// signature.
    pub fn verify(&self, verifier_key: &str) -> Result<VerifyReport> {
        let manifest = self.manifest()?.with_context(|| format!("tenant `{}` has nothing archived", self.tenant))?;
        let checkpoint = check_checkpoint(&manifest.checkpoint, verifier_key).map_err(|e| anyhow::anyhow!("the archive's checkpoint does not carry this log's signature: {e}"))?;
        if checkpoint.size != manifest.checkpoint_size {
            bail!("the manifest says its checkpoint is of {} events, the checkpoint says {}", manifest.checkpoint_size, checkpoint.size);
        }
        let per_segment = 1u64 << manifest.segment_shift;
        // Every sealed segment under the checkpoint is archived, none after it.
        let sealed = (checkpoint.size / per_segment) * per_segment;
        if manifest.archived_through() != sealed {
            bail!("the archive holds events up to {}, but its checkpoint of {} has every event up to {sealed} in sealed segments", manifest.archived_through(), checkpoint.size);
        }
        let tiles = ArchiveTiles::new(self);
        let hashes = tlog_tiles::TileHashReader::new(checkpoint.size, checkpoint.root, &tiles);
        let mut report = VerifyReport { checkpoint_size: checkpoint.size, ..Default::default() };
        for (n, segment) in manifest.segments.iter().enumerate() {
            if segment.id != n as u64 || segment.first_seq != segment.id * per_segment || segment.count != per_segment {
                bail!("the manifest's segment {} is out of place (first {}, count {})", segment.id, segment.first_seq, segment.count);
            }
            let mut leaves: Vec<Option<tlog_tiles::Hash>> = vec![None; per_segment as usize];
            for file in &segment.files {
                let bytes = self.get(&file.path)?.with_context(|| format!("{} is listed but not in the archive", file.path))?;
                if mamori_journal::hex_bytes(&Sha256::digest(&bytes)) != file.sha256 || bytes.len() as u64 != file.bytes {
                    bail!("{} is not the file the manifest lists (its SHA-256 or size differs)", file.path);
                }
                let mut rows = 0u64;
                let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).with_context(|| format!("reading {}", file.path))?;
                crate::export::check_schema(builder.schema()).with_context(|| file.path.clone())?;
                let reader = builder.with_batch_size(8192).build().with_context(|| format!("reading {}", file.path))?;
                for batch in reader {
                    let batch = batch.with_context(|| format!("reading {}", file.path))?;
                    let col = |name: &str| batch.column_by_name(name).with_context(|| format!("{} has no column {name}", file.path));
                    let seq = col("seq")?.as_any().downcast_ref::<Int64Array>().context("seq is not Int64")?;
                    let time = col("time_ms")?.as_any().downcast_ref::<Int64Array>().context("time_ms is not Int64")?;
                    let class = col("class_uid")?.as_any().downcast_ref::<arrow_array::Int32Array>().context("class_uid is not Int32")?;
                    let actor = col("actor")?.as_any().downcast_ref::<StringArray>().context("actor is not text")?;
                    let resident = col("resident")?.as_any().downcast_ref::<StringArray>().context("resident is not text")?;
                    let leaf = col("leaf_hash")?.as_any().downcast_ref::<FixedSizeBinaryArray>().context("leaf_hash is not 32 bytes")?;
                    let event = col("event")?.as_any().downcast_ref::<StringArray>().context("event is not text")?;
                    for i in 0..batch.num_rows() {
                        let s = seq.value(i) as u64;
                        let place = s.checked_sub(segment.first_seq).filter(|p| *p < per_segment).with_context(|| format!("{}: event {s} is not in segment {}", file.path, segment.id))?;
                        let body = event.value(i).as_bytes();
                        let hash = leaf_hash(body);
                        if leaf.value(i) != hash.0 {
                            bail!("{}: event {s}'s body does not hash to its leaf", file.path);
                        }
                        let parsed = mamori_model::Event::from_json(body).map_err(|e| anyhow::anyhow!("{}: event {s}: {e}", file.path))?;
                        let keys = IndexKeys::of(&parsed);
                        let stored_resident = (!resident.is_null(i)).then(|| resident.value(i));
                        if keys.time != time.value(i) || keys.class_uid as i32 != class.value(i) || keys.actor != actor.value(i) || keys.resident.as_deref() != stored_resident {
                            bail!("{}: event {s}'s searchable columns are not those of its body", file.path);
                        }
                        if crate::export::jst_date(keys.time) != file.date {
                            bail!("{}: event {s} is of another day than its partition", file.path);
                        }
                        if leaves[place as usize].replace(hash).is_some() {
                            bail!("{}: event {s} is archived twice", file.path);
                        }
                        rows += 1;
                    }
                }
                if rows != file.rows {
                    bail!("{} holds {rows} rows, the manifest says {}", file.path, file.rows);
                }
                report.files += 1;
                report.bytes += file.bytes;
            }
            // The signed tree's leaves for the segment, read from tiles that are authenticated
            // against the checkpoint's root before they are used.
            let indexes: Vec<u64> = (segment.first_seq..segment.first_seq + per_segment).map(|s| tlog_tiles::stored_hash_index(0, s)).collect();
            let signed = hashes.read_hashes(&indexes).map_err(|e| anyhow::anyhow!("segment {}: the archive's tiles do not give the signed tree: {e}", segment.id))?;
            for (place, (found, signed)) in leaves.iter().zip(signed).enumerate() {
                match found {
                    None => bail!("event {} is missing from the archive", segment.first_seq + place as u64),
                    Some(h) if *h != signed => bail!("event {} in the archive is not the log's", segment.first_seq + place as u64),
                    Some(_) => {}
                }
            }
            report.segments += 1;
            report.events += per_segment;
        }
        Ok(report)
    }
}
