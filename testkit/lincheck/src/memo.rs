//! Lowe's memoization: the set of configurations the search has already visited.
//!
//! A configuration is the set of operations linearized so far (a bitset over the partition's operations)
//! together with the model state they lead to. Everything the search can do next depends only on that pair:
//! which operations are still open, which are allowed next (real time and session order depend only on
//! which operations are already linearized), and what the model will accept. So when two different orders
//! reach the same configuration, the second one can be pruned: whatever follows it was already explored
//! from the first. This is what turns Wing & Gong's factorial search into one that is, in practice,
//! proportional to the number of distinct configurations.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fixed-size set of operation indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Box<[u64]>,
}

impl Bitset {
    pub(crate) fn new(bits: usize) -> Self {
        Bitset {
            words: vec![0; bits.div_ceil(64)].into_boxed_slice(),
        }
    }

    pub(crate) fn get(&self, bit: usize) -> bool {
        self.words[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub(crate) fn set(&mut self, bit: usize) {
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    pub(crate) fn clear(&mut self, bit: usize) {
        self.words[bit / 64] &= !(1 << (bit % 64));
    }
}

/// The visited (linearized set, state) pairs.
pub(crate) struct Memo<S> {
    seen: HashSet<(Bitset, S), BuildHasherDefault<FxHasher>>,
}

impl<S: Eq + Hash> Memo<S> {
    pub(crate) fn new() -> Self {
        Memo {
            seen: HashSet::default(),
        }
    }

    /// Records the configuration; false if it was already visited.
    pub(crate) fn insert(&mut self, linearized: Bitset, state: S) -> bool {
        self.seen.insert((linearized, state))
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// The multiply-rotate hash used by rustc (FxHash): much cheaper than SipHash for the bitset words and small
/// states hashed here, and the keys are not attacker-controlled.
#[derive(Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i.into());
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i.into());
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitset_ops() {
        let mut b = Bitset::new(130);
        for bit in [0, 63, 64, 129] {
            assert!(!b.get(bit));
            b.set(bit);
            assert!(b.get(bit));
        }
        b.clear(64);
        assert!(!b.get(64) && b.get(63) && b.get(129));
    }

    #[test]
    fn memo_dedups_configurations() {
        let mut memo = Memo::new();
        let mut b = Bitset::new(3);
        b.set(1);
        assert!(memo.insert(b.clone(), "s"));
        assert!(!memo.insert(b.clone(), "s"));
        assert!(memo.insert(b.clone(), "t"));
        b.set(2);
        assert!(memo.insert(b, "s"));
        assert_eq!(memo.len(), 3);
    }
}
