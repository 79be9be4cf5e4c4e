//! The tree digest of Apache ZooKeeper 3.6+ (`DigestCalculator`, `NodeHashMapImpl`, `AdHash`).
//!
//! Every node has a digest: the CRC-32 of its path, its data and nine fields of its stat. The tree
//! digest is the wrapping sum of the node digests, so a server keeps it up to date by adding the
//! digest of each new or changed node and subtracting the old value of each changed or deleted one.
//! Apache logs the tree digest after every txn (a [`TxnDigest`](zk_proto::records::txn::TxnDigest)
//! at the end of the log record) and at the end of every snapshot
//! ([`ZxidDigest`](crate::ZxidDigest)); on replay it compares them and logs a mismatch.
//!
//! Exactly as `DigestCalculator.calculateDigest(path, data, stat)` in 3.8:
//! - paths under `/zookeeper/` (quota and config nodes) have digest 0, but `/zookeeper` itself counts;
//! - the root is hashed under the empty path (Apache stores the root at `""`);
//! - the hashed bytes are the path in UTF-8 (`String.getBytes()`: the JVM's default charset, UTF-8
//!   on UTF-8 locales and on every Java 18+), then the data (nothing for null), then 60 bytes:
//!   czxid, mzxid, pzxid, ctime, mtime (big-endian longs), version, cversion, aversion (ints),
//!   ephemeralOwner (long). numChildren, dataLength and the ACL do not count.

use zk_proto::StatPersisted;

use crate::crc32::Crc32;

/// The digest version Apache 3.8 writes (`DigestCalculator.DIGEST_VERSION`). Version 1 snapshots
/// stored the digest as a hex string; only version 2 is computed here.
pub const DIGEST_VERSION: i32 = 2;

/// Paths under this prefix are left out of the digest (`DigestCalculator`, `NodeHashMapImpl`).
pub const DIGEST_EXCLUDED_PREFIX: &str = "/zookeeper/";

/// Bytes of stat hashed per node: five longs, three ints and a long.
const STAT_BYTES: usize = 5 * 8 + 3 * 4 + 8;

/// The digest of one node, as Apache 3.8 computes it (`DigestCalculator.calculateDigest`).
///
/// `path` is the node's full path (`"/"` or `""` for the root). Empty and absent data hash the
/// same. The result is a CRC-32, so it lies in `0..2^32`.
///
/// ```
/// use zk_proto::StatPersisted;
/// use zk_storage::node_digest;
///
/// let zero = StatPersisted::default();
/// // Apache 3.8's fresh tree (root + /zookeeper) has digest 1371985504, as its log reports.
/// assert_eq!(node_digest("/", b"", &zero) + node_digest("/zookeeper", b"", &zero), 1371985504);
/// assert_eq!(node_digest("/zookeeper/quota", b"", &zero), 0);
/// ```
pub fn node_digest(path: &str, data: &[u8], stat: &StatPersisted) -> i64 {
    if path.starts_with(DIGEST_EXCLUDED_PREFIX) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut fields = [0u8; STAT_BYTES];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        fields[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&stat.czxid.to_be_bytes());
    put(&stat.mzxid.to_be_bytes());
    put(&stat.pzxid.to_be_bytes());
    put(&stat.ctime.to_be_bytes());
    put(&stat.mtime.to_be_bytes());
    put(&stat.version.to_be_bytes());
    put(&stat.cversion.to_be_bytes());
    put(&stat.aversion.to_be_bytes());
    put(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = Crc32::new();
    crc.update(path.as_bytes());
    crc.update(data);
    crc.update(&fields);
    i64::from(crc.value())
}

/// A tree digest: the wrapping sum of node digests (`AdHash`).
///
/// ```
/// use zk_proto::StatPersisted;
/// use zk_storage::{node_digest, TreeDigest};
///
/// let mut tree = TreeDigest::default();
/// let stat = StatPersisted::default();
/// tree.add(node_digest("/", b"", &stat));
/// let a = node_digest("/a", b"v1", &stat);
/// tree.add(a);
/// tree.remove(a); // /a deleted
/// assert_eq!(tree.value(), node_digest("/", b"", &stat));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TreeDigest(i64);

impl TreeDigest {
    /// A digest with the given value.
    pub const fn from_value(value: i64) -> Self {
        TreeDigest(value)
    }

    /// Adds a node digest (a node was created, or its new state after a change).
    pub fn add(&mut self, node_digest: i64) {
        self.0 = self.0.wrapping_add(node_digest);
    }

    /// Subtracts a node digest (a node was deleted, or its old state before a change).
    pub fn remove(&mut self, node_digest: i64) {
        self.0 = self.0.wrapping_sub(node_digest);
    }

    /// The digest value, as Apache logs it.
    pub const fn value(&self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_fresh_tree_digest() {
        // Apache 3.8.0 on an empty data dir logs "digest is 1371985504" and writes
        // TxnDigest{version 2, digest 0x51c6d660} on its first createSession txn.
        let zero = StatPersisted::default();
        let mut tree = TreeDigest::default();
        for path in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            tree.add(node_digest(path, b"", &zero));
        }
        assert_eq!(tree.value(), 1_371_985_504);
        assert_eq!(tree.value(), 0x51c6_d660);
        assert_eq!(node_digest("", b"", &zero), node_digest("/", b"", &zero));
    }

    #[test]
    fn every_hashed_field_matters_and_others_do_not() {
        let base = StatPersisted {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            pzxid: 9,
        };
        let d = node_digest("/a", b"x", &base);
        let variants: Vec<StatPersisted> = vec![
            StatPersisted {
                czxid: 10,
                ..base.clone()
            },
            StatPersisted {
                mzxid: 10,
                ..base.clone()
            },
            StatPersisted {
                ctime: 10,
                ..base.clone()
            },
            StatPersisted {
                mtime: 10,
                ..base.clone()
            },
            StatPersisted {
                version: 10,
                ..base.clone()
            },
            StatPersisted {
                cversion: 10,
                ..base.clone()
            },
            StatPersisted {
                aversion: 10,
                ..base.clone()
            },
            StatPersisted {
                ephemeral_owner: 10,
                ..base.clone()
            },
            StatPersisted {
                pzxid: 10,
                ..base.clone()
            },
        ];
        for v in &variants {
            assert_ne!(node_digest("/a", b"x", v), d, "{v:?}");
        }
        assert_ne!(node_digest("/a", b"y", &base), d);
        assert_ne!(node_digest("/b", b"x", &base), d);
        assert_ne!(node_digest("/zookeeper", b"", &base), 0);
        assert_eq!(node_digest("/zookeeper/config", b"whatever", &base), 0);
        assert!((0..1i64 << 32).contains(&d));
    }

    #[test]
    fn tree_digest_wraps_like_java_longs() {
        let mut t = TreeDigest::from_value(i64::MAX);
        t.add(1);
        assert_eq!(t.value(), i64::MIN);
        t.remove(1);
        assert_eq!(t.value(), i64::MAX);
    }
}
