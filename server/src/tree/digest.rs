//! The running tree digest (`zookeeper.digest.enabled`, on by default in Apache 3.6+).
//!
//! The tree digest is the wrapping sum of every node's digest ([`zk_storage::node_digest`]:
//! CRC-32 of path, data and stat; nodes under `/zookeeper/` count as 0). `apply` keeps it up to
//! date as Apache's `NodeHashMapImpl.preChange`/`postChange` do: subtract a node's digest before
//! changing it, add it back after. Around that, the bookkeeping of `DataTree.processTxn`:
//! - after each txn, remember `(zxid, digest)` (`lastProcessedZxidDigest`, written into
//!   snapshots) and every [`DIGEST_LOG_INTERVAL`]th one in a history (the `hash` command);
//! - [`DataTree::compare_digest`] checks the digest a txn was logged with against the tree
//!   after applying it (`compareDigest`), live and during replay; a mismatch is counted
//!   (`digest_mismatches_count` in `mntr`) and logged;
//! - after loading a fuzzy snapshot, comparison waits until the replay reaches the zxid the
//!   snapshot's digest belongs to (`digestFromLoadedSnapshot`, `compareSnapshotDigests`).

use std::collections::VecDeque;

use tracing::{debug, error, info};
use zk_proto::records::txn::TxnDigest;
use zk_proto::TxnHeader;
use zk_storage::{TreeDigest, ZxidDigest, DIGEST_VERSION};

use super::{DataTree, Node};
use crate::txn::Zxid;

/// `DataTree.DIGEST_LOG_INTERVAL`: txns whose zxid is a multiple of this go into the history.
pub const DIGEST_LOG_INTERVAL: i64 = 128;
/// `DataTree.DIGEST_LOG_LIMIT`: entries kept in the history.
pub const DIGEST_LOG_LIMIT: usize = 1024;

/// The digest bookkeeping a tree carries.
#[derive(Debug)]
pub(super) struct DigestState {
    enabled: bool,
    tree: TreeDigest,
    last_processed: Option<ZxidDigest>,
    from_snapshot: Option<ZxidDigest>,
    log: VecDeque<ZxidDigest>,
    mismatches: u64,
    first_mismatch_logged: bool,
}

impl Default for DigestState {
    fn default() -> Self {
        DigestState {
            enabled: true,
            tree: TreeDigest::default(),
            last_processed: None,
            from_snapshot: None,
            log: VecDeque::new(),
            mismatches: 0,
            first_mismatch_logged: false,
        }
    }
}

/// Computes a node's digest, or 0 with digests disabled (`DigestCalculator.calculateDigest`).
/// Callers store it in `Node::digest`.
pub(super) fn node_digest(enabled: bool, path: &str, node: &Node) -> i64 {
    if !enabled {
        return 0;
    }
    zk_storage::node_digest(
        path,
        node.data.as_deref().unwrap_or_default(),
        &node.stat.persisted(),
    )
}

fn zxid_digest(zxid: Zxid, digest: i64) -> ZxidDigest {
    ZxidDigest {
        zxid,
        digest_version: DIGEST_VERSION,
        digest,
    }
}

impl DataTree {
    /// Whether the tree keeps a digest (`zookeeper.digest.enabled`).
    pub fn digest_enabled(&self) -> bool {
        self.digest.enabled
    }

    /// Turns the digest on or off (recomputed from the nodes; 0 when off).
    pub fn set_digest_enabled(&mut self, enabled: bool) {
        self.digest.enabled = enabled;
        self.recompute_digest();
    }

    /// The tree digest: the wrapping sum of every node's digest (0 when disabled).
    pub fn digest(&self) -> i64 {
        self.digest.tree.value()
    }

    /// The digest of the node at `path` as the tree holds it (0 if absent or disabled).
    pub fn node_digest(&self, path: &str) -> i64 {
        self.nodes.get(path).map_or(0, |n| n.stat.digest())
    }

    /// Recomputes the tree digest from every node (after loading a snapshot).
    pub(super) fn recompute_digest(&mut self) {
        let enabled = self.digest.enabled;
        let mut d = TreeDigest::default();
        for (path, node) in self.nodes.iter_mut() {
            let digest = node_digest(enabled, path, node);
            node.stat.set_digest(digest);
            d.add(digest);
        }
        self.digest.tree = d;
    }

    /// Replaces a node digest in the tree digest (`preChange` + `postChange`).
    pub(super) fn digest_change(&mut self, before: i64, after: i64) {
        self.digest.tree.remove(before);
        self.digest.tree.add(after);
    }

    /// The `(zxid, digest)` of the last txn applied outside the fuzzy state
    /// (`lastProcessedZxidDigest`).
    pub fn last_processed_digest(&self) -> Option<ZxidDigest> {
        self.digest.last_processed
    }

    /// The digest a snapshot of this tree records (`serializeZxidDigest`): `None` when digests
    /// are disabled (no digest section), zxid 0 when none is known yet (Apache's empty digest).
    pub fn snapshot_digest(&self) -> Option<ZxidDigest> {
        if !self.digest.enabled {
            return None;
        }
        if self.digest.from_snapshot.is_some() {
            return Some(self.digest.last_processed.unwrap_or(zxid_digest(0, 0)));
        }
        // Not in a fuzzy state: the tree digest belongs to the last applied zxid.
        Some(zxid_digest(self.last_zxid, self.digest()))
    }

    /// The digest history the `hash` command prints, oldest first (`getDigestLog`).
    pub fn digest_log(&self) -> impl Iterator<Item = &ZxidDigest> {
        self.digest.log.iter()
    }

    /// Digest mismatches seen (`digest_mismatches_count`).
    pub fn digest_mismatches(&self) -> u64 {
        self.digest.mismatches
    }

    /// Resets the mismatch counter (`srst`).
    pub fn reset_digest_mismatches(&mut self) {
        self.digest.mismatches = 0;
    }

    /// The snapshot digest still waiting for its zxid after recovery: `Some` means the log did
    /// not reach the zxid the snapshot's digest belongs to (Apache warns about it).
    pub fn uncovered_snapshot_digest(&self) -> Option<ZxidDigest> {
        self.digest.from_snapshot
    }

    /// Takes the digest recorded in a just-loaded snapshot (`deserializeZxidDigest`, then
    /// `FileSnap.deserialize`'s immediate comparison): if it belongs to the snapshot's own zxid
    /// it is compared now, if to a later zxid once the replay reaches it.
    pub fn load_snapshot_digest(&mut self, recorded: Option<ZxidDigest>) {
        if !self.digest.enabled {
            return;
        }
        self.digest.from_snapshot = recorded.filter(|d| d.zxid > 0);
        if let Some(d) = self.digest.from_snapshot {
            info!(
                version = d.digest_version,
                zxid = format_args!("{:#x}", d.zxid),
                digest = d.digest,
                "snapshot digest loaded"
            );
            if d.zxid < self.last_zxid {
                // The snapshot was named after a later zxid than its digest: nothing to wait
                // for, comparison starts with the first replayed txn.
                self.digest.from_snapshot = None;
            } else {
                self.compare_snapshot_digest(self.last_zxid);
            }
        }
    }

    /// `compareSnapshotDigests`.
    fn compare_snapshot_digest(&mut self, zxid: Zxid) {
        let Some(d) = self.digest.from_snapshot else {
            return;
        };
        if zxid == d.zxid {
            self.digest.from_snapshot = None;
            if d.digest_version != DIGEST_VERSION {
                info!(
                    theirs = d.digest_version,
                    ours = DIGEST_VERSION,
                    "digest version changed; not comparing the snapshot digest"
                );
                return;
            }
            if self.digest() != d.digest {
                self.report_mismatch(zxid, d.digest);
            }
        } else if zxid > d.zxid {
            debug!(
                zxid = format_args!("{:#x}", d.zxid),
                "the txn of the snapshot digest does not exist"
            );
        }
    }

    /// Bookkeeping after a whole txn (not a multi's sub-txn) was applied.
    pub(super) fn after_txn(&mut self, zxid: Zxid) {
        if !self.digest.enabled {
            return;
        }
        if self.digest.from_snapshot.is_some() {
            self.compare_snapshot_digest(zxid);
            return;
        }
        let zd = zxid_digest(zxid, self.digest());
        self.digest.last_processed = Some(zd);
        if zxid % DIGEST_LOG_INTERVAL == 0 {
            self.digest.log.push_back(zd);
            if self.digest.log.len() > DIGEST_LOG_LIMIT {
                self.digest.log.pop_front();
            }
        }
    }

    /// Compares the digest a txn was logged with to the tree just after applying it
    /// (`DataTree.compareDigest`). True when they match or there is nothing to compare (no
    /// digest in the txn, digests disabled, still in the fuzzy range of a snapshot, another
    /// digest version).
    pub fn compare_digest(&mut self, header: &TxnHeader, digest: Option<&TxnDigest>) -> bool {
        let Some(digest) = digest else {
            return true;
        };
        if !self.digest.enabled || self.digest.from_snapshot.is_some() {
            return true;
        }
        if digest.version != DIGEST_VERSION {
            debug!(
                zxid = format_args!("{:#x}", header.zxid),
                "digest version not the same"
            );
            return true;
        }
        if digest.tree_digest == self.digest() {
            return true;
        }
        self.report_mismatch(header.zxid, digest.tree_digest);
        false
    }

    fn report_mismatch(&mut self, zxid: Zxid, expected: i64) {
        self.digest.mismatches += 1;
        let actual = self.digest();
        if self.digest.first_mismatch_logged {
            debug!(
                zxid = format_args!("{zxid:#x}"),
                expected, actual, "digests are not matching"
            );
        } else {
            self.digest.first_mismatch_logged = true;
            error!(
                zxid = format_args!("{zxid:#x}"),
                expected, actual, "first digest mismatch"
            );
        }
    }
}
