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

/// Bytes as lower-case hex.
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    pub fn push(&mut self, leaf: Hash, full: &mut BTreeMap<i64, Vec<u8>>) {
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
            hash = Tile::subtree_hash(tile);
            full.insert(tile_key(level as u8, index), std::mem::take(tile));
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

/// Reads stored hashes for `tlog_tiles`' proof functions from tile storage.
pub(crate) struct TileHashReader<F: Fn(i64) -> Result<Option<Vec<u8>>, String>> {
    pub load: F,
}

impl<F: Fn(i64) -> Result<Option<Vec<u8>>, String>> tlog_tiles::HashReader for TileHashReader<F> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut cache: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let tile = Tile::from_index(TILE_HEIGHT, index);
            let key = tile_key(tile.level(), tile.level_index());
            let data = match cache.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(
                    (self.load)(key)
                        .map_err(tlog_tiles::Error::InvalidInput)?
                        .ok_or_else(|| tlog_tiles::Error::InvalidInput(format!("tile {} missing", tile.path())))?,
                ),
            };
            out.push(tile.hash_at_index(data, index)?);
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

    /// A tile store in memory, built the way the journal builds it.
    fn build(leaves: &[Hash]) -> (BTreeMap<i64, Vec<u8>>, Frontier) {
        let mut builder = TileBuilder::default();
        let mut tiles = BTreeMap::new();
        let mut frontier = Frontier::default();
        for &l in leaves {
            builder.push(l, &mut tiles);
            frontier.push(l);
        }
        for (k, d) in builder.partial_tiles() {
            tiles.insert(k, d.to_vec());
        }
        (tiles, frontier)
    }

    fn reader(tiles: &BTreeMap<i64, Vec<u8>>) -> TileHashReader<impl Fn(i64) -> Result<Option<Vec<u8>>, String> + '_> {
        TileHashReader { load: move |k| Ok(tiles.get(&k).cloned()) }
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
        let mut builder = TileBuilder::resume(600, |l, i| Ok(tiles_at_600.get(&tile_key(l, i)).cloned())).unwrap();
        let mut tiles = tiles_at_600.clone();
        for &l in &leaves[600..] {
            builder.push(l, &mut tiles);
        }
        for (k, d) in builder.partial_tiles() {
            tiles.insert(k, d.to_vec());
        }
        let (expected, _) = build(&leaves);
        assert_eq!(tiles, expected);
    }
}
