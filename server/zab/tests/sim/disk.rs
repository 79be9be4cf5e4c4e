//! A simulated disk: durable state plus an ordered queue of writes that are not yet fsynced. A crash keeps
//! the durable state and a random prefix of the queue (a torn tail); epoch files are replaced atomically.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use zk_zab::{Epoch, SplitMix64, Txn, Zxid};

/// A write waiting for fsync.
#[derive(Clone, Debug)]
pub enum DiskOp {
    Append(Vec<Txn>),
    Truncate(Zxid),
    InstallSnapshot(Zxid, Vec<(Zxid, u64)>),
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub accepted: Epoch,
    pub current: Epoch,
    /// The durable snapshot: its zxid and the applied sequence it holds.
    pub snap_zxid: Zxid,
    pub snap: Vec<(Zxid, u64)>,
    /// Durable log (may start before the snapshot; entries at or below it are ignored on restore).
    pub log: BTreeMap<Zxid, Bytes>,
    pub pending: VecDeque<DiskOp>,
    pub pending_epochs: Option<(Epoch, Epoch)>,
    pub fsync_scheduled: bool,
}

/// What a flush made durable.
pub struct Flushed {
    pub log_changed: bool,
    pub epochs: Option<(Epoch, Epoch)>,
    pub old_epochs: (Epoch, Epoch),
}

impl Disk {
    fn apply(&mut self, op: DiskOp) {
        match op {
            DiskOp::Append(txns) => {
                for t in txns {
                    self.log.insert(t.zxid, t.payload);
                }
            }
            DiskOp::Truncate(z) => {
                let _ = self.log.split_off(&Zxid(z.0 + 1));
            }
            DiskOp::InstallSnapshot(z, applied) => {
                self.log.clear();
                self.snap_zxid = z;
                self.snap = applied;
            }
        }
    }

    /// fsync: everything queued becomes durable.
    pub fn flush(&mut self) -> Flushed {
        let log_changed = !self.pending.is_empty();
        while let Some(op) = self.pending.pop_front() {
            self.apply(op);
        }
        let old_epochs = (self.accepted, self.current);
        let epochs = self.pending_epochs.take();
        if let Some((a, c)) = epochs {
            self.accepted = a;
            self.current = c;
        }
        self.fsync_scheduled = false;
        Flushed {
            log_changed,
            epochs,
            old_epochs,
        }
    }

    /// A crash: unsynced writes are lost, except a random prefix that happened to reach the platter (the
    /// last surviving append may be torn in the middle); the epoch file write survives or not, atomically.
    pub fn crash(&mut self, rng: &mut SplitMix64) {
        let keep = rng.below(self.pending.len() as u64 + 1) as usize;
        let mut survivors: Vec<DiskOp> = self.pending.drain(..).take(keep).collect();
        if let Some(DiskOp::Append(txns)) = survivors.last_mut() {
            let n = rng.below(txns.len() as u64 + 1) as usize;
            txns.truncate(n);
        }
        for op in survivors {
            self.apply(op);
        }
        if let Some((a, c)) = self.pending_epochs.take() {
            if rng.chance(1, 2) {
                self.accepted = a;
                self.current = c;
            }
        }
        self.fsync_scheduled = false;
    }

    /// The last durable zxid of the log (or the snapshot point).
    pub fn durable_last(&self) -> Zxid {
        self.log
            .range(Zxid(self.snap_zxid.0 + 1)..)
            .next_back()
            .map_or(self.snap_zxid, |(z, _)| *z)
    }

    /// Whether txn `z` is durable (in the snapshot or the log).
    pub fn holds(&self, z: Zxid) -> bool {
        z <= self.snap_zxid || self.log.contains_key(&z)
    }

    /// Whether a received snapshot is still waiting for fsync.
    pub fn snapshot_pending(&self) -> bool {
        self.pending
            .iter()
            .any(|op| matches!(op, DiskOp::InstallSnapshot(..)))
    }

    /// The txns a restarted node finds after its snapshot.
    pub fn log_after_snapshot(&self) -> Vec<Txn> {
        self.log
            .range(Zxid(self.snap_zxid.0 + 1)..)
            .map(|(z, p)| Txn::new(*z, p.clone()))
            .collect()
    }
}
