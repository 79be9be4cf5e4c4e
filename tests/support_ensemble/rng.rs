//! A seeded SplitMix64 generator: every random choice of an ensemble test (which server to kill, when,
//! which operation a client does next) comes from one printed seed, so a failing fault schedule can be
//! replayed with `ZK_ENSEMBLE_SEED`.
//!
//! SplitMix64 (Steele, Lea & Flood, 2014) rather than `rand`'s `StdRng`, whose algorithm may change
//! between `rand` releases: a seed printed in a CI log must mean the same schedule after an upgrade.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that fixes the seed of every ensemble test (decimal or `0x` hex).
pub const SEED_ENV: &str = "ZK_ENSEMBLE_SEED";

/// SplitMix64's increment (the golden-ratio constant).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A deterministic pseudo-random generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`). The modulo bias is below 2^-50 for the small `n` tests use.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// An index into a slice of `len` elements.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A generator for a sub-task (a client), independent of this one's later draws.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// The seed from [`SEED_ENV`], or a fresh one from the clock; printed either way with the command that
/// replays it.
pub fn seed_for(test: &str) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(text) if !text.trim().is_empty() => parse_seed(text.trim())
            .unwrap_or_else(|| panic!("{SEED_ENV}={text:?} is not a decimal or 0x-hex u64")),
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed),
    };
    eprintln!("{test}: seed {seed:#x} (replay with {SEED_ENV}={seed:#x} cargo test … {test})");
    seed
}

fn parse_seed(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert!((0..1000).all(|_| a.range(3, 5) >= 3 && a.range(3, 5) <= 5));
        assert_eq!(parse_seed("0x10"), Some(16));
        assert_eq!(parse_seed("16"), Some(16));
    }
}
