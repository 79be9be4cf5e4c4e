//! The stat a znode stores: `StatPersisted`'s fields, with the node's cached digest in the four
//! bytes `StatPersisted` pads to 64.
//!
//! That keeps [`Node`](super::Node) at 104 bytes, which glibc serves from its 112-byte size
//! class rather than the 128-byte one (16 bytes a znode). The fields are public and named as
//! in `StatPersisted`, so readers use them the same way; [`NodeStat::persisted`] gives the wire
//! and snapshot record.

use zk_proto::StatPersisted;

/// A znode's persisted stat plus its cached digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStat {
    /// zxid of the change that created the node.
    pub czxid: i64,
    /// zxid of the change that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    pub ctime: i64,
    /// Last modification time, milliseconds since the epoch.
    pub mtime: i64,
    /// Number of changes to the data.
    pub version: i32,
    /// Number of child creates (reported as `2 * creates - numChildren`).
    pub cversion: i32,
    /// Number of changes to the ACL.
    pub aversion: i32,
    /// Owner session id if ephemeral; container and TTL markers otherwise (see `EphemeralType`).
    pub ephemeral_owner: i64,
    /// zxid of the change that last modified the children.
    pub pzxid: i64,
    /// The node's digest as last computed (`DataNode.digestCached`): a CRC-32, so 32 bits.
    digest: u32,
}

impl NodeStat {
    /// The record snapshots and prep use.
    pub fn persisted(&self) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            pzxid: self.pzxid,
        }
    }

    /// The cached node digest.
    pub(super) fn digest(&self) -> i64 {
        i64::from(self.digest)
    }

    /// Caches a node digest (a CRC-32 value, or 0).
    pub(super) fn set_digest(&mut self, digest: i64) {
        debug_assert!(
            u32::try_from(digest).is_ok(),
            "node digests are CRC-32 values"
        );
        self.digest = digest as u32;
    }
}

impl From<StatPersisted> for NodeStat {
    fn from(s: StatPersisted) -> Self {
        NodeStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            pzxid: s.pzxid,
            digest: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn digest_fits_the_padding() {
        assert_eq!(std::mem::size_of::<NodeStat>(), 64);
        assert_eq!(std::mem::size_of::<super::super::Node>(), 104);
    }

    #[test]
    fn round_trips_the_persisted_fields() {
        let p = StatPersisted {
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
        let mut s = NodeStat::from(p.clone());
        s.set_digest(0xffff_ffff);
        assert_eq!(s.persisted(), p);
        assert_eq!(s.digest(), 0xffff_ffff);
    }
}
