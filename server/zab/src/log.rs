//! The core's view of the txn log: a snapshot point, the txns after it, and two marks — how far the log is
//! durable and how far it is committed. Checked invariant: `base ≤ committed ≤ last`.

use std::collections::VecDeque;

use crate::{Txn, Zxid};

/// The log as the core knows it. The caller owns the real log; this copy is what the core needs to
/// choose DIFF/TRUNC/SNAP and to re-send txns.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The last zxid covered by the snapshot the log starts from.
    base: Zxid,
    /// Txns after `base`, zxids strictly increasing.
    entries: VecDeque<Txn>,
    /// Everything up to `durable` is durable (only meaningful when `base_durable`).
    durable: Zxid,
    /// Whether the snapshot at `base` is durable (false right after a SNAP until the next `persisted`).
    base_durable: bool,
    /// Everything up to `committed` is committed and applied.
    committed: Zxid,
}

impl History {
    /// A log restored from disk: all of it durable, committed up to `applied`.
    pub(crate) fn restore(base: Zxid, log: Vec<Txn>, applied: Zxid) -> Self {
        let mut entries: VecDeque<Txn> = VecDeque::with_capacity(log.len());
        for t in log {
            if t.zxid > base && entries.back().map_or(true, |b| b.zxid < t.zxid) {
                entries.push_back(t);
            }
        }
        let last = entries.back().map_or(base, |t| t.zxid);
        History {
            base,
            entries,
            durable: last,
            base_durable: true,
            committed: applied.clamp(base, last),
        }
    }

    /// The snapshot point.
    pub fn base(&self) -> Zxid {
        self.base
    }

    /// The last logged zxid (`base` if the log is empty).
    pub fn last(&self) -> Zxid {
        self.entries.back().map_or(self.base, |t| t.zxid)
    }

    /// The local commit point.
    pub fn committed(&self) -> Zxid {
        self.committed
    }

    /// Everything up to this zxid is durable, or `None` while a received snapshot is not yet durable.
    pub fn durable(&self) -> Option<Zxid> {
        self.base_durable.then_some(self.durable)
    }

    /// Whether every txn up to `z` is durable.
    pub fn is_durable(&self, z: Zxid) -> bool {
        self.durable().is_some_and(|d| d >= z)
    }

    /// The txns after the snapshot point.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Txn> + ExactSizeIterator {
        self.entries.iter()
    }

    fn index_of(&self, z: Zxid) -> Option<usize> {
        self.entries.binary_search_by_key(&z, |t| t.zxid).ok()
    }

    /// Whether `z` is the snapshot point or a logged txn.
    pub fn contains(&self, z: Zxid) -> bool {
        z == self.base || self.index_of(z).is_some()
    }

    /// The txn with zxid `z`, if logged.
    pub fn get(&self, z: Zxid) -> Option<&Txn> {
        self.index_of(z).map(|i| &self.entries[i])
    }

    /// The largest of `base` and the logged zxids that is `≤ z`, or `None` if `z < base`.
    pub fn floor(&self, z: Zxid) -> Option<Zxid> {
        if z < self.base {
            return None;
        }
        let n = self.entries.partition_point(|t| t.zxid <= z);
        Some(if n == 0 {
            self.base
        } else {
            self.entries[n - 1].zxid
        })
    }

    /// The logged zxid right before `z` (or `base`), if `z` is logged.
    pub fn predecessor(&self, z: Zxid) -> Option<Zxid> {
        let i = self.index_of(z)?;
        Some(if i == 0 {
            self.base
        } else {
            self.entries[i - 1].zxid
        })
    }

    /// The txns with zxid in `(after, upto]`.
    pub fn range(&self, after: Zxid, upto: Zxid) -> impl Iterator<Item = &Txn> {
        let start = self.entries.partition_point(|t| t.zxid <= after);
        self.entries
            .range(start..)
            .take_while(move |t| t.zxid <= upto)
    }

    /// Appends a txn; its zxid must be above `last()`.
    pub(crate) fn append(&mut self, txn: Txn) {
        debug_assert!(
            txn.zxid > self.last(),
            "append {} after {}",
            txn.zxid,
            self.last()
        );
        self.entries.push_back(txn);
    }

    /// Drops every txn after `z`. The local commit point follows when a (faulty) leader truncates below it,
    /// so that the simulator can see the consequence instead of a panic.
    pub(crate) fn truncate(&mut self, z: Zxid) {
        let keep = self.entries.partition_point(|t| t.zxid <= z);
        self.entries.truncate(keep);
        let last = self.last();
        self.durable = self.durable.min(last);
        self.committed = self.committed.min(last);
    }

    /// Replaces everything with a snapshot at `z` (committed, not yet durable).
    pub(crate) fn install_snapshot(&mut self, z: Zxid) {
        self.entries.clear();
        self.base = z;
        self.durable = z;
        self.base_durable = false;
        self.committed = z;
    }

    /// The caller reports the log durable up to `z`. Ignored unless `z` is in the current log: a report
    /// about a txn that was truncated meanwhile says nothing about its replacement (zxids are unique).
    pub(crate) fn mark_durable(&mut self, z: Zxid) -> bool {
        if !self.contains(z) {
            return false;
        }
        let changed = !self.base_durable || z > self.durable;
        self.base_durable = true;
        self.durable = self.durable.max(z);
        changed
    }

    /// Moves the commit point up to `z` (which must be logged).
    pub(crate) fn commit(&mut self, z: Zxid) {
        debug_assert!(self.contains(z), "commit of unlogged {z}");
        self.committed = self.committed.max(z);
    }

    /// Forgets txns at or below a snapshot at `z`, keeping the last `retain` of them for DIFFs.
    pub(crate) fn compact(&mut self, z: Zxid, retain: usize) {
        let z = z.min(self.committed);
        let upto = self.entries.partition_point(|t| t.zxid <= z);
        let drop = upto.saturating_sub(retain);
        if drop > 0 {
            self.base = self.entries[drop - 1].zxid;
            self.entries.drain(..drop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Epoch;

    fn z(e: u32, c: u32) -> Zxid {
        Zxid::new(Epoch(e), c)
    }

    fn log(zs: &[Zxid]) -> History {
        History::restore(
            Zxid::ZERO,
            zs.iter().map(|&x| Txn::new(x, "")).collect(),
            Zxid::ZERO,
        )
    }

    #[test]
    fn floor_and_predecessor() {
        let h = log(&[z(1, 1), z(1, 2), z(3, 1)]);
        assert_eq!(h.floor(z(2, 5)), Some(z(1, 2)));
        assert_eq!(h.floor(z(3, 1)), Some(z(3, 1)));
        assert_eq!(h.floor(z(0, 5)), Some(Zxid::ZERO));
        assert_eq!(h.predecessor(z(1, 1)), Some(Zxid::ZERO));
        assert_eq!(h.predecessor(z(3, 1)), Some(z(1, 2)));
        assert_eq!(h.predecessor(z(2, 1)), None);
    }

    #[test]
    fn durability_reports_about_truncated_txns_are_ignored() {
        let mut h = log(&[z(1, 1)]);
        h.append(Txn::new(z(1, 2), ""));
        h.append(Txn::new(z(1, 3), ""));
        assert!(!h.is_durable(z(1, 2)));
        h.truncate(z(1, 1));
        h.append(Txn::new(z(2, 1), ""));
        assert!(!h.mark_durable(z(1, 3)), "stale report");
        assert!(!h.is_durable(z(2, 1)));
        assert!(h.mark_durable(z(2, 1)));
        assert!(h.is_durable(z(2, 1)));
    }

    #[test]
    fn snapshot_is_durable_only_after_a_report() {
        let mut h = log(&[z(1, 1)]);
        h.install_snapshot(z(2, 4));
        assert_eq!(h.durable(), None);
        assert_eq!(h.committed(), z(2, 4));
        h.mark_durable(z(2, 4));
        assert_eq!(h.durable(), Some(z(2, 4)));
    }

    #[test]
    fn compaction_keeps_a_window_of_committed_txns() {
        let mut h = log(&[z(1, 1), z(1, 2), z(1, 3), z(1, 4)]);
        h.commit(z(1, 3));
        h.compact(z(1, 4), 1);
        assert_eq!(
            h.base(),
            z(1, 2),
            "compaction stops at the commit point and keeps one"
        );
        assert_eq!(h.entries().count(), 2);
    }
}
