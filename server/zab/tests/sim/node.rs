//! A simulated server: its `Zab` core plus the shell's state (disk, log mirror, state machine).

use std::collections::BTreeMap;

use zk_zab::{PeerId, Zab, Zxid};

use crate::disk::Disk;

pub struct Node {
    pub id: PeerId,
    pub voter: bool,
    pub zab: Option<Zab>,
    pub incarnation: u64,
    pub disk: Disk,
    /// The shell's mirror of the log: zxid -> payload id, after `mem_base`.
    pub mem_base: Zxid,
    pub mem_log: BTreeMap<Zxid, u64>,
    /// The state machine: the applied sequence.
    pub applied: Vec<(Zxid, u64)>,
    /// NEWLEADER-ACK sent in the current learner session.
    pub newleader_acked: bool,
    /// The last ACK sent on the current connection (Z17).
    pub last_ack: Zxid,
}

impl Node {
    pub fn summary(&self) -> String {
        match self.zab.as_ref() {
            Some(z) => format!(
                "{}:{:?}/{:?} e{:?} acc{} cur{} last {} applied {}",
                self.id,
                z.role(),
                z.phase(),
                z.epoch(),
                z.accepted_epoch(),
                z.current_epoch(),
                z.last_zxid(),
                self.applied_last()
            ),
            None => format!("{}:down", self.id),
        }
    }

    pub fn applied_last(&self) -> Zxid {
        self.applied.last().map_or(Zxid::ZERO, |a| a.0)
    }

    pub fn up(&self) -> bool {
        self.zab.is_some()
    }

    /// The node's whole history as the shell sees it: applied txns, then logged ones after them.
    pub fn history(&self) -> Vec<(Zxid, u64)> {
        let last = self.applied_last();
        let mut h = self.applied.clone();
        h.extend(
            self.mem_log
                .range(Zxid(last.0 + 1)..)
                .map(|(z, p)| (*z, *p)),
        );
        h
    }

    /// Whether the shell's history holds `z` with payload `p`.
    pub fn holds(&self, z: Zxid, p: u64) -> bool {
        if z <= self.applied_last() {
            return self
                .applied
                .binary_search_by_key(&z, |a| a.0)
                .is_ok_and(|i| self.applied[i].1 == p);
        }
        self.mem_log.get(&z) == Some(&p)
    }
}
