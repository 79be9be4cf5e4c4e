//! Identifiers named after ZooKeeper's concepts: [`PeerId`] (myid), [`Epoch`] and [`Zxid`].

use std::fmt;

/// A server id, the `N` of `server.N=…` in zoo.cfg and the content of the `myid` file.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A ZAB epoch: the high 32 bits of a [`Zxid`]. Apache persists two of them per server, `acceptedEpoch` and
/// `currentEpoch`, as decimal text files in dataDir.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Epoch(pub u32);

impl Epoch {
    /// The epoch after this one.
    pub fn next(self) -> Epoch {
        Epoch(self.0 + 1)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A ZooKeeper transaction id: epoch in the high 32 bits, a counter within the epoch in the low 32 bits
/// (Apache `ZxidUtils.makeZxid`). Counter 0 names the epoch itself (NEWLEADER carries it); proposals start at 1.
/// Prints as Apache logs it, `0x…` hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid before any transaction.
    pub const ZERO: Zxid = Zxid(0);

    /// `ZxidUtils.makeZxid(epoch, counter)`.
    pub const fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid(((epoch.0 as u64) << 32) | counter as u64)
    }

    /// The epoch part (high 32 bits).
    pub const fn epoch(self) -> Epoch {
        Epoch((self.0 >> 32) as u32)
    }

    /// The counter part (low 32 bits).
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_splits_into_epoch_and_counter() {
        for (epoch, counter, raw, shown) in [
            (0, 0, 0u64, "0x0"),
            (1, 0, 0x1_0000_0000, "0x100000000"),
            (2, 7, 0x2_0000_0007, "0x200000007"),
            (u32::MAX, u32::MAX, u64::MAX, "0xffffffffffffffff"),
        ] {
            let z = Zxid::new(Epoch(epoch), counter);
            assert_eq!(z.0, raw);
            assert_eq!(z.epoch(), Epoch(epoch));
            assert_eq!(z.counter(), counter);
            assert_eq!(z.to_string(), shown);
        }
    }

    #[test]
    fn zxids_order_by_epoch_first() {
        assert!(Zxid::new(Epoch(1), 900) < Zxid::new(Epoch(2), 1));
    }
}
