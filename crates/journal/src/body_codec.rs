//! Event bodies stored compressed: zstd with a dictionary trained on the store's own
//! events.
//!
//! A canonical event body is ~400 bytes of JSON whose keys and most values repeat from
//! one event to the next. Alone, it compresses poorly: a frame has nothing earlier to
//! refer back to. With a 16 KiB dictionary of those repeats it takes ~60 bytes, and the
//! store's bytes per event fall by more than half (BENCHMARKS.md). At 100 M events that
//! decides whether the store fits in this machine's memory, so whether a resident's
//! disclosure reads pages from RAM or from disk.
//!
//! A stored body is either the canonical bytes (JSON, so never starting with byte 1), or
//! byte 1, the dictionary's id (u32, little-endian; 0 is no dictionary) and one zstd
//! frame. The dictionary is trained once, when the first segments are sealed, from their
//! bodies; bodies appended before it stay as they are. Nothing here is trusted: the
//! Merkle log holds the canonical bytes' leaf hashes, a body decompressed with a wrong
//! dictionary (or a flipped byte) does not hash to its leaf, and `verify` decompresses
//! and hashes every body. Released bodies (empty, `release_segment`) stay empty.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::JournalError;

pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS body_dictionaries(id INTEGER PRIMARY KEY, dict BLOB NOT NULL);";

/// The first byte of a compressed body. A canonical body is JSON: `{`.
const COMPRESSED: u8 = 1;
const HEADER: usize = 5;
/// zstd's fastest level: the writer's thread pays for it on every event, and with a
/// dictionary level 3 saves only ~4 % more (measured on the bench town's bodies).
const LEVEL: i32 = 1;
const DICTIONARY_BYTES: usize = 16 * 1024;
/// Fewer samples than this train a dictionary that generalises poorly (zstd advises about
/// a hundred times the dictionary's size in samples); the store waits for more sealed
/// segments.
pub(crate) const MIN_SAMPLES: usize = 4096;
const MAX_SAMPLES: usize = 16_384;
/// The largest body a frame may claim to hold: a forged frame header must not make a
/// reader allocate gigabytes.
const MAX_BODY: u64 = 64 << 20;

fn corrupt(reason: String) -> JournalError {
    JournalError::Corrupt(reason)
}

/// A zstd error reading stored bytes: the store's, not the machine's.
fn unreadable(e: std::io::Error) -> JournalError {
    JournalError::Corrupt(format!("zstd: {e}"))
}

/// The writer's side: compresses every body appended once the store has a dictionary.
pub(crate) struct BodyEncoder {
    id: u32,
    compressor: zstd::bulk::Compressor<'static>,
    /// Our header, then the frame: reused from event to event.
    out: Vec<u8>,
}

impl BodyEncoder {
    /// The encoder for the store's dictionary, if it has one.
    pub(crate) fn load(conn: &Connection) -> Result<Option<BodyEncoder>, JournalError> {
        let row: Option<(i64, Vec<u8>)> = conn.query_row("SELECT id, dict FROM body_dictionaries ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        row.map(|(id, dict)| Self::new(id as u32, &dict)).transpose()
    }

    fn new(id: u32, dict: &[u8]) -> Result<BodyEncoder, JournalError> {
        let mut compressor = zstd::bulk::Compressor::with_dictionary(LEVEL, dict)?;
        // The frame header need not repeat what the store knows (the dictionary's id is in
        // our own header); the content size stays, so a reader allocates once.
        compressor.set_parameter(zstd::zstd_safe::CParameter::DictIdFlag(false))?;
        compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(false))?;
        Ok(BodyEncoder { id, compressor, out: Vec::new() })
    }

    /// The bytes to store for canonical body `body`.
    pub(crate) fn encode<'a>(&'a mut self, body: &'a [u8]) -> Result<&'a [u8], JournalError> {
        self.out.clear();
        self.out.push(COMPRESSED);
        self.out.extend_from_slice(&self.id.to_le_bytes());
        self.out.resize(HEADER + zstd::zstd_safe::compress_bound(body.len()), 0);
        let written = self.compressor.compress_to_buffer(body, &mut self.out[HEADER..])?;
        self.out.truncate(HEADER + written);
        if self.out.len() >= body.len() && body.first() != Some(&COMPRESSED) {
            return Ok(body);
        }
        Ok(&self.out)
    }
}

/// The bytes to store for `body` in a store without a dictionary: the body itself, unless
/// it could be mistaken for a compressed one (no canonical JSON body can).
pub(crate) fn encode_plain(body: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, JournalError> {
    if body.first() != Some(&COMPRESSED) {
        return Ok(body.into());
    }
    let frame = zstd::bulk::compress(body, LEVEL)?;
    Ok([&[COMPRESSED, 0, 0, 0, 0][..], &frame].concat().into())
}

/// The readers' side: the dictionaries met so far, loaded when first needed (another
/// process may have trained the store's dictionary after this one opened it).
#[derive(Default)]
pub(crate) struct BodyDecoder {
    dicts: RefCell<HashMap<u32, zstd::bulk::Decompressor<'static>>>,
}

impl BodyDecoder {
    /// The canonical body of event `seq` from its stored bytes.
    pub(crate) fn decode(&self, conn: &Connection, seq: u64, stored: Vec<u8>) -> Result<Vec<u8>, JournalError> {
        if stored.first() != Some(&COMPRESSED) {
            return Ok(stored);
        }
        let bad = |what: &str| corrupt(format!("event {seq}: its stored body {what}"));
        let id = u32::from_le_bytes(stored.get(1..HEADER).and_then(|b| b.try_into().ok()).ok_or_else(|| bad("is cut short"))?);
        let frame = &stored[HEADER..];
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n <= MAX_BODY => n as usize,
            _ => return Err(bad("is not a zstd frame of a known size")),
        };
        let mut dicts = self.dicts.borrow_mut();
        if !dicts.contains_key(&id) {
            let decompressor = if id == 0 {
                zstd::bulk::Decompressor::new().map_err(unreadable)?
            } else {
                let dict: Vec<u8> = conn
                    .prepare_cached("SELECT dict FROM body_dictionaries WHERE id = ?1")?
                    .query_row([i64::from(id)], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| bad(&format!("names dictionary {id}, which the store does not hold")))?;
                zstd::bulk::Decompressor::with_dictionary(&dict).map_err(unreadable)?
            };
            dicts.insert(id, decompressor);
        }
        let decompressor = dicts.get_mut(&id).expect("inserted above");
        let body = decompressor.decompress(frame, size).map_err(|e| bad(&format!("does not decompress ({e})")))?;
        if body.len() != size {
            return Err(bad("decompresses to another length than its frame says"));
        }
        Ok(body)
    }
}

/// Trains the store's dictionary from the newest sealed segments' bodies, if it has none
/// and they hold enough; returns its encoder. `tables` are the sealed segments' tables,
/// newest first.
pub(crate) fn train(tx: &Transaction<'_>, tables: &[String]) -> Result<Option<BodyEncoder>, JournalError> {
    if let Some(encoder) = BodyEncoder::load(tx)? {
        return Ok(Some(encoder));
    }
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for table in tables {
        let mut stmt = tx.prepare(&format!("SELECT body FROM {table} ORDER BY seq"))?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        for body in rows {
            let body = body?;
            // Canonical bodies only: released ones are empty.
            if body.first() == Some(&b'{') {
                samples.push(body);
            }
        }
        if samples.len() >= MAX_SAMPLES {
            break;
        }
    }
    if samples.len() < MIN_SAMPLES {
        return Ok(None);
    }
    // Spread over what was read, not the first segment's first events only.
    let step = samples.len().div_ceil(MAX_SAMPLES);
    let picked: Vec<&[u8]> = samples.iter().step_by(step).map(Vec::as_slice).collect();
    let dict = zstd::dict::from_samples(&picked, DICTIONARY_BYTES)?;
    tx.execute("INSERT INTO body_dictionaries(id, dict) VALUES (1, ?1)", [&dict])?;
    Ok(Some(BodyEncoder::new(1, &dict)?))
}
