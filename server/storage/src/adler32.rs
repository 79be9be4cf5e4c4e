//! Adler-32 (RFC 1950), the checksum Apache ZooKeeper puts on every txn log record
//! (`FileTxnLog.makeChecksumAlgorithm`) and seals snapshots with (`SnapStream`), via
//! `java.util.zip.Adler32`. Java stores the value as a `long`, always below 2^32.

/// The Adler-32 modulus: the largest prime below 2^16.
const MOD_ADLER: u32 = 65_521;

/// The most bytes that can be summed before `b` may overflow a `u32` (zlib's `NMAX`).
const NMAX: usize = 5_552;

/// A running Adler-32 checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Adler32 {
    /// A checksum over no bytes (value 1).
    pub const fn new() -> Self {
        Adler32 { a: 1, b: 0 }
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(NMAX) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= MOD_ADLER;
            self.b %= MOD_ADLER;
        }
    }

    /// The checksum so far.
    pub const fn value(&self) -> u32 {
        (self.b << 16) | self.a
    }

    /// The checksum of `bytes`.
    pub fn checksum(bytes: &[u8]) -> u32 {
        let mut adler = Adler32::new();
        adler.update(bytes);
        adler.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Values from zlib's adler32() / java.util.zip.Adler32.
        let cases: &[(&[u8], u32)] = &[
            (b"", 1),
            (b"a", 0x0062_0062),
            (b"abc", 0x024d_0127),
            (b"Wikipedia", 0x11e6_0398),
            (b"123456789", 0x091e_01de),
        ];
        for (input, want) in cases {
            assert_eq!(Adler32::checksum(input), *want, "{input:?}");
        }
    }

    #[test]
    fn long_input_and_split_updates_agree() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = Adler32::checksum(&data);
        let mut split = Adler32::new();
        for part in data.chunks(777) {
            split.update(part);
        }
        assert_eq!(split.value(), whole);
        // All 0xff bytes is the worst case for overflow between reductions.
        let ff = vec![0xffu8; 3 * NMAX + 17];
        let mut naive_a: u64 = 1;
        let mut naive_b: u64 = 0;
        for &x in &ff {
            naive_a = (naive_a + u64::from(x)) % u64::from(MOD_ADLER);
            naive_b = (naive_b + naive_a) % u64::from(MOD_ADLER);
        }
        assert_eq!(u64::from(Adler32::checksum(&ff)), (naive_b << 16) | naive_a);
    }
}
