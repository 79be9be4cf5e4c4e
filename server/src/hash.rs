//! A fast hasher for the server's hot maps (paths, connection and session ids).
//!
//! std's SipHash-1-3 cost about a tenth of the instructions of a setData and a seventh of a
//! getData (callgrind). This is a folded-multiply hash in the style of foldhash/ahash's
//! fallback: 8 bytes per step, one 64x64->128 multiply each, keyed by a per-process random
//! seed (taken from std's `RandomState`), so keys chosen by clients cannot be aimed at one
//! bucket without knowing the seed. Not a cryptographic MAC; std's `HashMap` tolerates a bad
//! distribution with longer probes, never with wrong answers.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const MUL2: u64 = 0xA076_1D64_78BD_642F;

#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1)
}

/// Builds [`FastHasher`]s keyed by the process seed.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        FastState {
            seed: process_seed(),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher { state: self.seed }
    }
}

/// The hasher [`FastState`] builds.
#[derive(Debug, Clone, Copy)]
pub struct FastHasher {
    state: u64,
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut s = self.state;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            s = folded_multiply(s ^ v, MUL);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut tail = [0u8; 8];
            tail[..rest.len()].copy_from_slice(rest);
            s = folded_multiply(s ^ u64::from_le_bytes(tail), MUL2);
        }
        self.state = s.rotate_left(5) ^ bytes.len() as u64;
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.state = folded_multiply(self.state ^ i, MUL);
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.state, MUL2)
    }
}

/// A `HashMap` with [`FastState`].
pub type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` with [`FastState`].
pub type FastSet<K> = HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_lengths_matter() {
        let s = FastState::default();
        assert_eq!(s.hash_one("/a/b"), s.hash_one(String::from("/a/b")));
        assert_ne!(s.hash_one("/a/b"), s.hash_one("/a/c"));
        assert_ne!(s.hash_one("/a"), s.hash_one("/a\0"));
        assert_ne!(s.hash_one(1u64), s.hash_one(2u64));
        let mut m: FastMap<String, i32> = FastMap::default();
        for i in 0..1000 {
            m.insert(format!("/node/{i}"), i);
        }
        assert!((0..1000).all(|i| m[&format!("/node/{i}")] == i));
    }
}
