//! A split-block Bloom filter over 64-bit key hashes: the in-memory half of the natural-key
//! check ([`crate::keys`]). It answers "certainly new" for almost every line of a load at
//! about two bytes a key, so the exact keys can stay on disk and only the few lines it cannot
//! clear are checked against them.
//!
//! The layout is Parquet's split-block filter (one 256-bit block per key, eight bits set in
//! it by the spec's salts), so a probe costs one cache miss. It is written here rather than
//! taken from a crate because the candidates do not fit a build of hundreds of millions of
//! keys: `parquet::bloom_filter::Sbbf` rounds its size up to a power of two and caps it at
//! 128 MiB (about four bits a key at 250 million keys, a false-positive rate near 15%), and
//! `fastbloom` sets its k bits across the whole array (k cache misses a key, several times
//! slower than one block on the load's serial path).

/// The salts of Parquet's split-block Bloom filter (parquet-format `BloomFilter.md`).
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Filter bits reserved for each key the filter is sized for: a false-positive rate of
/// about 0.1% when full.
pub const BITS_PER_KEY: usize = 16;

/// A split-block Bloom filter of key hashes (the hashes must already be well mixed).
pub struct KeyFilter {
    blocks: Vec<[u32; 8]>,
}

impl KeyFilter {
    /// A filter of `bytes` bytes (rounded up to whole 32-byte blocks, at least one).
    pub fn with_bytes(bytes: usize) -> Self {
        Self {
            blocks: vec![[0; 8]; bytes.div_ceil(32).max(1)],
        }
    }

    /// A filter sized for `keys` keys at [`BITS_PER_KEY`], but no larger than `max_bytes`.
    pub fn for_keys(keys: usize, max_bytes: usize) -> Self {
        Self::with_bytes((keys.saturating_mul(BITS_PER_KEY) / 8).min(max_bytes))
    }

    /// Bytes the filter holds.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * 32
    }

    /// The block of `hash` (multiply-shift of its top half: any block count works) and the
    /// eight bits its bottom half sets there.
    fn place(&self, hash: u64) -> (usize, [u32; 8]) {
        let block = (((hash >> 32) * self.blocks.len() as u64) >> 32) as usize;
        let low = hash as u32;
        let mut mask = [0u32; 8];
        for (m, salt) in mask.iter_mut().zip(SALT) {
            *m = 1 << (low.wrapping_mul(salt) >> 27);
        }
        (block, mask)
    }

    /// Adds `hash`; says whether it may have been added before (false: certainly not).
    pub fn insert(&mut self, hash: u64) -> bool {
        let (b, mask) = self.place(hash);
        let block = &mut self.blocks[b];
        let mut seen = true;
        for (word, bit) in block.iter_mut().zip(mask) {
            seen &= *word & bit != 0;
            *word |= bit;
        }
        seen
    }

    /// Whether `hash` may have been added (false: certainly not).
    pub fn contains(&self, hash: u64) -> bool {
        let (b, mask) = self.place(hash);
        self.blocks[b]
            .iter()
            .zip(mask)
            .all(|(word, bit)| word & bit != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-mixed test hashes (SplitMix64).
    fn hashes(seed: u64, n: usize) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            })
            .collect()
    }

    #[test]
    fn every_key_added_is_found_and_new_keys_rarely_are() {
        let keys = hashes(1, 100_000);
        let mut f = KeyFilter::for_keys(keys.len(), usize::MAX);
        assert_eq!(f.bytes(), 200_000);
        let mut first_time = 0;
        for &k in &keys {
            if !f.insert(k) {
                first_time += 1;
            }
        }
        assert!(keys.iter().all(|&k| f.contains(k)), "no false negatives");
        assert!(keys.iter().all(|&k| f.insert(k)), "a second insert is seen");
        // At 16 bits a key the split-block filter's false-positive rate is about 0.1%.
        assert!(first_time > 99_700, "{first_time} of 100,000 seen as new");
        let others = hashes(2, 100_000);
        let false_positives = others.iter().filter(|&&k| f.contains(k)).count();
        assert!(false_positives < 300, "{false_positives} false positives");
    }

    #[test]
    fn a_filter_capped_below_its_keys_still_never_misses_one() {
        let keys = hashes(3, 10_000);
        let mut f = KeyFilter::for_keys(keys.len(), 64);
        assert_eq!(f.bytes(), 64, "capped");
        for &k in &keys {
            f.insert(k);
        }
        assert!(keys.iter().all(|&k| f.contains(k)));
        let others = hashes(4, 1_000);
        assert!(
            others.iter().filter(|&&k| f.contains(k)).count() > 900,
            "an overfull filter answers 'maybe' for nearly everything"
        );
    }
}
