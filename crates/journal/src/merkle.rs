//! The Merkle log's hashes: RFC 6962 leaf and node hashing (from `tlog_tiles`), the
//! right frontier used to compute a root while streaming, and the tile builder that
//! turns appended leaves into C2SP tlog tiles of height 8 for storage.

use std::collections::BTreeMap;

use tlog_tiles::{Hash, Tile, node_hash, record_hash};

/// Tile height (C2SP tlog-tiles uses 8: 256 hashes per full tile).
pub const TILE_HEIGHT: u8 = 8;
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;
const HASH_SIZE: usize = 32;

/// Leaf hash of an event's canonical bytes: SHA-256(0x00 ‖ bytes).
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    record_hash(bytes)
}

pub fn hex(h: &Hash) -> String {
    hex_bytes(&h.0)
}

/// Bytes as lower-case hex. By table, not `format!` per byte: a disclosure writes 25–30
/// hashes of proof per entry, and formatting them was a tenth of its time.
pub fn hex_bytes(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The SHA-256 of `bytes`, as lower-case hex (file and key digests in audit records).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex_bytes(&sha2::Sha256::digest(bytes))
}

pub fn unhex(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(Hash(out))
}

/// The perfect subtrees along the right edge of a tree: enough to append and to compute
/// the root, in O(log n) memory.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (height, hash), heights strictly decreasing.
    nodes: Vec<(u8, Hash)>,
    size: u64,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut height = 0u8;
        let mut hash = leaf;
        while let Some(&(h, left)) = self.nodes.last() {
            if h != height {
                break;
            }
            self.nodes.pop();
            hash = node_hash(left, hash);
            height += 1;
        }
        self.nodes.push((height, hash));
        self.size += 1;
    }

    /// RFC 6962 MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return tlog_tiles::EMPTY_HASH;
        };
        for &(_, left) in iter {
            acc = node_hash(left, acc);
        }
        acc
    }

    /// Rebuilds a frontier from the hashes of the perfect subtrees of a tree of `size`
    /// leaves, largest first (what `tlog_tiles::sub_tree_index(0, size)` names).
    pub(crate) fn from_subtrees(size: u64, hashes: Vec<Hash>) -> Frontier {
        let heights = (0..64u8).rev().filter(|h| size & (1u64 << h) != 0);
        Frontier { nodes: heights.zip(hashes).collect(), size }
    }
}

/// A full tile as stored: its 256 hashes (C2SP tile data) and its middle row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTile {
    pub data: Vec<u8>,
    /// The 16 hashes `MID_HEIGHT` levels up inside the tile, each over a run of 16 of its
    /// hashes. A proof needs the hashes of up to eight subtrees inside each tile it crosses;
    /// from the data alone that is 247 node hashes per tile, half of a disclosure's time.
    /// With this row it is at most 22. Derived data: a wrong row makes proofs that fail
    /// against the signed checkpoint, and `verify` recomputes every row.
    pub mid: Vec<u8>,
}

/// The level inside a tile that `FullTile::mid` holds.
pub const MID_HEIGHT: u8 = 4;
const MID_RUN: usize = 1 << MID_HEIGHT;

/// The middle row of a full tile's data (see `FullTile::mid`).
pub fn mid_row(data: &[u8]) -> Vec<u8> {
    data.chunks(MID_RUN * HASH_SIZE).flat_map(|run| Tile::subtree_hash(run).0).collect()
}

/// A tile as read back for proofs: its data, and its middle row if it is full and the
/// store has one (stores written before the row existed have none; their proofs hash the
/// data, as before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTile {
    pub data: Vec<u8>,
    pub mid: Option<Vec<u8>>,
}

/// Builds tiles as leaves are appended. Holds the rightmost (partial) tile of every
/// level; full tiles are handed out for storage once and never change again.
#[derive(Debug, Default)]
pub struct TileBuilder {
    partial: Vec<Vec<u8>>,
    size: u64,
}

/// Key of a tile in storage: level in the high byte, index within level below.
pub fn tile_key(level: u8, index: u64) -> i64 {
    ((u64::from(level) << 56) | index) as i64
}

impl TileBuilder {
    /// Resumes from stored partial tiles: `load(level, index)` returns a tile's data.
    pub fn resume(
        size: u64,
        mut load: impl FnMut(u8, u64) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<TileBuilder, String> {
        let mut partial = Vec::new();
        let mut level = 0u8;
        while size >> (u32::from(level) * u32::from(TILE_HEIGHT)) > 0 {
            let count = size >> (u32::from(level) * u32::from(TILE_HEIGHT));
            let index = count >> TILE_HEIGHT;
            let width = (count as usize) & (TILE_WIDTH - 1);
            let mut data = Vec::with_capacity(TILE_WIDTH * HASH_SIZE);
            if width > 0 {
                let stored = load(level, index)?
                    .ok_or_else(|| format!("tile {level}/{index} is missing"))?;
                if stored.len() < width * HASH_SIZE {
                    return Err(format!("tile {level}/{index} holds {} hashes, needs {width}", stored.len() / HASH_SIZE));
                }
                data.extend_from_slice(&stored[..width * HASH_SIZE]);
            }
            partial.push(data);
            level += 1;
        }
        Ok(TileBuilder { partial, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf; tiles that become full are put in `full`.
    pub fn push(&mut self, leaf: Hash, full: &mut BTreeMap<i64, FullTile>) {
        self.size += 1;
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.partial.len() <= level {
                self.partial.push(Vec::with_capacity(TILE_WIDTH * HASH_SIZE));
            }
            let tile = &mut self.partial[level];
            tile.extend_from_slice(&hash.0);
            if tile.len() < TILE_WIDTH * HASH_SIZE {
                break;
            }
            let count = self.size >> (level as u32 * u32::from(TILE_HEIGHT));
            let index = (count >> TILE_HEIGHT) - 1;
            // The tile's hash from its middle row: the same node hashes, computed once.
            let mid = mid_row(tile);
            hash = Tile::subtree_hash(&mid);
            full.insert(tile_key(level as u8, index), FullTile { data: std::mem::take(tile), mid });
            level += 1;
        }
    }

    /// The partial tiles as they stand, to be stored (overwriting their earlier, narrower
    /// versions).
    pub fn partial_tiles(&self) -> impl Iterator<Item = (i64, &[u8])> {
        self.partial.iter().enumerate().filter(|(_, d)| !d.is_empty()).map(|(level, d)| {
            let count = self.size >> (level as u32 * u32::from(TILE_HEIGHT));
            (tile_key(level as u8, count >> TILE_HEIGHT), d.as_slice())
        })
    }
}

/// Hashes of complete subtrees, by stored-hash index, kept between proofs: those a tile or
/// more high, and those inside partial tiles. Every proof ends with the subtrees along the
/// tree's right edge, the same for all proofs of a tree, and they sit in partial tiles,
/// which have no middle row: at 10 M events they cost ~250 node hashes a proof. A complete
/// subtree's hash never changes as the log grows, so nothing here goes stale. A hash kept
/// here came from a tile nobody checked since: a forged tile's wrong hashes make proofs
/// fail (never pass) until the process restarts, and the writer never reads them.
pub type KnownHashes = std::cell::RefCell<std::collections::HashMap<u64, Hash>>;

/// At most this many known hashes are kept: 40 bytes each, in a table of 2^20 slots at
/// most, about 45 MB. The hashes a tile or more high are two per 256 events (all of them
/// for a 67 M-event log); past the bound the map starts again.
const KNOWN_AT_MOST: usize = 1 << 19;

/// Reads stored hashes for `tlog_tiles`' proof functions from tile storage. A hash
/// `MID_HEIGHT` or more levels up inside a tile is computed from the tile's middle row when
/// it has one, else from its data; some are kept in `known` (see `KnownHashes`), if given.
pub(crate) struct TileHashReader<'k, F: Fn(i64) -> Result<Option<StoredTile>, String>> {
    pub load: F,
    pub known: Option<&'k KnownHashes>,
}

impl<F: Fn(i64) -> Result<Option<StoredTile>, String>> tlog_tiles::HashReader for TileHashReader<'_, F> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut cache: BTreeMap<i64, StoredTile> = BTreeMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &index in indexes {
            if let Some(hash) = self.known.and_then(|k| k.borrow().get(&index).copied()) {
                out.push(hash);
                continue;
            }
            let (level, n) = tlog_tiles::split_stored_hash_index(index);
            let (tile_level, inside) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
            // The run of the tile level's hashes the wanted one covers: `span` from `first`.
            let first = n << inside;
            let key = tile_key(tile_level, first >> TILE_HEIGHT);
            let (at, span) = ((first as usize) & (TILE_WIDTH - 1), 1usize << inside);
            let tile = match cache.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(
                    (self.load)(key)
                        .map_err(tlog_tiles::Error::InvalidInput)?
                        .ok_or_else(|| tlog_tiles::Error::InvalidInput(format!("tile {tile_level}/{} missing", first >> TILE_HEIGHT)))?,
                ),
            };
            let (row, at, span) = match &tile.mid {
                Some(mid) if inside >= MID_HEIGHT && mid.len() == TILE_WIDTH / MID_RUN * HASH_SIZE => (mid, at / MID_RUN, span / MID_RUN),
                _ => (&tile.data, at, span),
            };
            let run = row.get(at * HASH_SIZE..(at + span) * HASH_SIZE).ok_or(tlog_tiles::Error::InvalidTile)?;
            let hash = Tile::subtree_hash(run);
            // Kept: hashes a tile or more high, and those in a partial tile (the right edge
            // every proof's last hashes come from, and which has no middle row).
            let partial = tile.data.len() < TILE_WIDTH * HASH_SIZE;
            if let Some(known) = self.known.filter(|_| level >= TILE_HEIGHT || partial) {
                let mut known = known.borrow_mut();
                if known.len() >= KNOWN_AT_MOST {
                    known.clear();
                }
                known.insert(index, hash);
            }
            out.push(hash);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlog_tiles::{HashReader, check_record, check_tree, prove_record, prove_tree};

    fn unhex_bytes(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // RFC 6962 test vectors as published in transparency-dev/merkle (testonly).
    const LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    type Tiles = BTreeMap<i64, StoredTile>;

    /// What the builder has handed out (full tiles) and holds (partial ones), as stored.
    fn stored(full: BTreeMap<i64, FullTile>, builder: &TileBuilder) -> Tiles {
        let mut tiles: Tiles = full.into_iter().map(|(k, t)| (k, StoredTile { data: t.data, mid: Some(t.mid) })).collect();
        for (k, d) in builder.partial_tiles() {
            tiles.insert(k, StoredTile { data: d.to_vec(), mid: None });
        }
        tiles
    }

    /// A tile store in memory, built the way the journal builds it.
    fn build(leaves: &[Hash]) -> (Tiles, Frontier) {
        let mut builder = TileBuilder::default();
        let mut full = BTreeMap::new();
        let mut frontier = Frontier::default();
        for &l in leaves {
            builder.push(l, &mut full);
            frontier.push(l);
        }
        (stored(full, &builder), frontier)
    }

    /// A reader that remembers no hash between calls, as each test's tiles differ.
    fn reader(tiles: &Tiles) -> TileHashReader<'static, impl Fn(i64) -> Result<Option<StoredTile>, String> + '_> {
        TileHashReader { load: move |k| Ok(tiles.get(&k).cloned()), known: None }
    }

    #[test]
    fn rfc6962_known_answer_roots() {
        let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&unhex_bytes(l))).collect();
        let mut frontier = Frontier::default();
        assert_eq!(hex(&frontier.root()), ROOTS[0]);
        for (n, &l) in leaves.iter().enumerate() {
            frontier.push(l);
            assert_eq!(hex(&frontier.root()), ROOTS[n + 1], "size {}", n + 1);
            let (tiles, _) = build(&leaves[..=n]);
            let from_tiles = tlog_tiles::tree_hash(n as u64 + 1, &reader(&tiles)).unwrap();
            assert_eq!(hex(&from_tiles), ROOTS[n + 1]);
        }
    }

    #[test]
    fn rfc6962_known_answer_inclusion_proofs() {
        let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&unhex_bytes(l))).collect();
        let (tiles, _) = build(&leaves);
        let cases: [(u64, [&str; 3]); 2] = [
            (0, [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
            (5, [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ];
        for (index, expected) in cases {
            let proof = prove_record(8, index, &reader(&tiles)).unwrap();
            let got: Vec<String> = proof.iter().map(hex).collect();
            assert_eq!(got, expected, "leaf {index}");
            let root = unhex(ROOTS[8]).unwrap();
            check_record(&proof, 8, root, index, leaves[index as usize]).unwrap();
            assert!(check_record(&proof, 8, root, index, leaves[(index as usize + 1) % 8]).is_err());
        }
    }

    #[test]
    fn tiles_serve_every_proof_across_tile_boundaries() {
        // 70,000 leaves: two tile levels and partial tiles on both.
        let leaves: Vec<Hash> = (0..70_000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let (tiles, frontier) = build(&leaves);
        let r = reader(&tiles);
        let size = leaves.len() as u64;
        let root = tlog_tiles::tree_hash(size, &r).unwrap();
        assert_eq!(root, frontier.root());
        for &i in &[0u64, 255, 256, 65_535, 65_536, 69_999] {
            let proof = prove_record(size, i, &r).unwrap();
            check_record(&proof, size, root, i, leaves[i as usize]).unwrap();
        }
        for &old in &[1u64, 256, 65_536, 65_537] {
            let mut f = Frontier::default();
            leaves[..old as usize].iter().for_each(|&l| f.push(l));
            let proof = prove_tree(size, old, &r).unwrap();
            check_tree(&proof, size, root, old, f.root()).unwrap();
        }
        // The frontier rebuilt from stored subtree hashes gives the same root.
        let idx = tlog_tiles::sub_tree_index(0, size, vec![]);
        let rebuilt = Frontier::from_subtrees(size, r.read_hashes(&idx).unwrap());
        assert_eq!(rebuilt.root(), root);
    }

    #[test]
    fn resumed_builder_continues_the_same_tree() {
        let leaves: Vec<Hash> = (0..1000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let (tiles_at_600, _) = build(&leaves[..600]);
        let mut builder = TileBuilder::resume(600, |l, i| Ok(tiles_at_600.get(&tile_key(l, i)).map(|t| t.data.clone()))).unwrap();
        let mut full = BTreeMap::new();
        for &l in &leaves[600..] {
            builder.push(l, &mut full);
        }
        let mut tiles = tiles_at_600.clone();
        tiles.extend(stored(full, &builder));
        let (expected, _) = build(&leaves);
        assert_eq!(tiles, expected);
    }

    #[test]
    fn hashes_kept_between_proofs_stay_right_as_the_log_grows() {
        // One `known` map across sizes, as a long-running server keeps it while the tiles
        // (the partial ones above all) change under it.
        let leaves: Vec<Hash> = (0..70_000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let known = KnownHashes::default();
        for size in [300u64, 4_097, 65_535, 65_536, 65_537, 69_999, 70_000] {
            let (tiles, frontier) = build(&leaves[..size as usize]);
            let kept = TileHashReader { load: |k| Ok(tiles.get(&k).cloned()), known: Some(&known) };
            for i in [0u64, 255, 299, 4_096, 65_535, 65_536, 69_998].into_iter().filter(|&i| i < size) {
                let proof = prove_record(size, i, &kept).unwrap();
                assert_eq!(proof, prove_record(size, i, &reader(&tiles)).unwrap(), "leaf {i} of {size}");
                check_record(&proof, size, frontier.root(), i, leaves[i as usize]).unwrap();
            }
        }
        assert!(!known.borrow().is_empty());
    }

    #[test]
    fn proofs_from_middle_rows_equal_proofs_from_tile_data_and_a_wrong_row_fails() {
        // Two tile levels, partial tiles on both; proofs ending inside and past full tiles.
        let leaves: Vec<Hash> = (0..70_000u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let (tiles, _) = build(&leaves);
        assert!(tiles.values().filter(|t| t.mid.is_some()).count() > 270, "full tiles carry a middle row");
        let without: Tiles = tiles.iter().map(|(&k, t)| (k, StoredTile { data: t.data.clone(), mid: None })).collect();
        for size in [256u64, 4_097, 65_536, 70_000] {
            let root = tlog_tiles::tree_hash(size, &reader(&without)).unwrap();
            for i in [0u64, 17, 255, 4_095, 65_535].into_iter().filter(|&i| i < size) {
                let proof = prove_record(size, i, &reader(&tiles)).unwrap();
                assert_eq!(proof, prove_record(size, i, &reader(&without)).unwrap(), "leaf {i} of {size}");
                check_record(&proof, size, root, i, leaves[i as usize]).unwrap();
            }
        }
        // A middle row someone rewrote gives proofs that do not check: never a wrong "yes".
        let mut forged = tiles.clone();
        forged.get_mut(&tile_key(0, 0)).unwrap().mid.as_mut().unwrap()[5] ^= 1;
        let root = tlog_tiles::tree_hash(70_000, &reader(&without)).unwrap();
        let proof = prove_record(70_000, 40, &reader(&forged)).unwrap();
        assert!(check_record(&proof, 70_000, root, 40, leaves[40]).is_err());
    }
}
