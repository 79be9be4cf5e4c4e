//! Phase 2, synchronization (Apache `LearnerHandler.syncFollower`, `Learner.syncWithLeader`).
//!
//! The leader brings each learner's log to a prefix of its own history with DIFF (the learner's last zxid
//! is in the leader's history), TRUNC (the learner has txns the leader does not vouch for) or SNAP (the
//! learner is behind the leader's in-memory log), sends the missing txns — with a COMMIT after each one it
//! has committed — and then NEWLEADER. The learner persists the synced log and currentEpoch, then ACKs
//! NEWLEADER. A quorum of NEWLEADER-ACKs (with the leader's own durable history) establishes the leader:
//! its whole initial history is committed, learners get the missing COMMITs and UPTODATE, and it starts
//! proposing. A learner commits what it held before the sync only on UPTODATE, and what it received during
//! the sync only on COMMIT (Z22).

use bytes::Bytes;
use tracing::{info, warn};

use crate::leader::Stage;
use crate::learner::LearnerPhase;
use crate::{Action, History, Message, PeerId, Txn, Zab, ZabPhase, Zxid};

/// How to bring a learner in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncPlan {
    /// The learner's log is a prefix of the leader's history up to `from`; send what follows.
    Diff {
        /// The learner's last zxid.
        from: Zxid,
    },
    /// The learner must drop everything after `to`; send what follows it.
    Trunc {
        /// The truncation point.
        to: Zxid,
    },
    /// Send a snapshot at the leader's commit point, then what follows it.
    Snap,
}

/// Chooses DIFF, TRUNC or SNAP for a learner whose last logged zxid is `peer_last`.
///
/// `vouched` is the point up to which the leader vouches for its history: its whole history while it is not
/// yet established (it will all be committed at establishment), only its committed prefix afterwards (Apache
/// truncates a learner to `maxCommittedLog`). A learner never keeps more than that, so everything it holds
/// before the sync is committed by the time UPTODATE arrives.
///
/// Relies on the ZAB log-matching property: a server that holds txn `z` holds the same history as the
/// leader that proposed `z` up to `z` (zxids are unique, Z20).
pub(crate) fn plan_sync(history: &History, peer_last: Zxid, vouched: Zxid) -> SyncPlan {
    let Some(floor) = history.floor(peer_last) else {
        return SyncPlan::Snap; // behind the in-memory log
    };
    let keep = floor.min(vouched);
    if keep == peer_last {
        SyncPlan::Diff { from: keep }
    } else if keep == history.base() && keep != Zxid::ZERO && !history.contains(peer_last) {
        // The learner diverged somewhere at or before our snapshot point: we cannot prove its log holds
        // `base`, so replace its state.
        SyncPlan::Snap
    } else {
        SyncPlan::Trunc { to: keep }
    }
}

impl Zab {
    /// Syncs every learner that acked the epoch, once the leader is in synchronization or later and its
    /// currentEpoch is durable (NEWLEADER carries it, Z19).
    pub(crate) fn start_pending_syncs(&mut self) {
        let current = self.current_epoch;
        let Some(l) = self.leader_mut() else { return };
        if l.phase == ZabPhase::Discovery || l.epoch != Some(current) {
            return;
        }
        if !self.current_durable(current) {
            return;
        }
        let Some(l) = self.leader_mut() else { return };
        let ready: Vec<(PeerId, Zxid)> = l
            .learners
            .iter()
            .filter_map(|(id, h)| match h.stage {
                Stage::AwaitSync { peer_last } => Some((*id, peer_last)),
                _ => None,
            })
            .collect();
        for (id, peer_last) in ready {
            self.sync_learner_log(id, peer_last);
        }
    }

    /// Sends DIFF/TRUNC/SNAP, the txns, and NEWLEADER to one learner.
    fn sync_learner_log(&mut self, to: PeerId, peer_last: Zxid) {
        let bugs = self.cfg.bugs();
        let committed = self.log.committed();
        let last = self.log.last();
        let Some(l) = self.leader_mut() else { return };
        let Some(epoch) = l.epoch else { return };
        let established = l.phase == ZabPhase::Broadcast;
        let Some(h) = l.learners.get(&to) else { return };
        let observer = h.observer;
        // Observers only ever hold committed txns, so they are never truncated (see `Handler`).
        let vouched = if observer || !established {
            last
        } else {
            committed
        };
        let mut plan = plan_sync(&self.log, peer_last, vouched);
        if bugs.trunc_below_committed {
            if let SyncPlan::Diff { from } = plan {
                if from <= committed && from != Zxid::ZERO {
                    if let Some(prev) = self.log.predecessor(from) {
                        // The bug: truncate below the learner's committed point, then resume at `from`.
                        self.send(to, Message::Trunc { zxid: prev });
                        plan = SyncPlan::Diff { from };
                        return self.send_sync_txns(to, plan, epoch, observer, true);
                    }
                }
            }
        }
        self.send_sync_txns(to, plan, epoch, observer, false)
    }

    fn send_sync_txns(
        &mut self,
        to: PeerId,
        plan: SyncPlan,
        epoch: crate::Epoch,
        observer: bool,
        bug: bool,
    ) {
        let committed = self.log.committed();
        let last = self.log.last();
        info!(peer = %self.cfg.id, learner = %to, ?plan, %committed, %last, "syncing learner");
        let start = match plan {
            SyncPlan::Diff { from } => {
                if !bug {
                    self.send(to, Message::Diff { last_zxid: last });
                }
                from
            }
            SyncPlan::Trunc { to: point } => {
                self.send(to, Message::Trunc { zxid: point });
                point
            }
            SyncPlan::Snap => {
                self.actions.push(Action::SendSnapshot {
                    to,
                    zxid: committed,
                });
                committed
            }
        };
        let upto = if observer { committed.max(start) } else { last };
        let txns: Vec<Txn> = self.log.range(start, upto).cloned().collect();
        for txn in txns {
            let z = txn.zxid;
            self.send(to, Message::Proposal(txn));
            if z <= committed {
                self.send(to, Message::Commit { zxid: z });
            }
        }
        let sent_upto = upto.max(start);
        let commit_sent = if observer {
            sent_upto
        } else {
            start.max(committed.min(sent_upto))
        };
        self.send(
            to,
            Message::NewLeader {
                zxid: Zxid::new(epoch, 0),
            },
        );
        let deadline = self.now + self.cfg.init_ticks() + self.cfg.sync_ticks();
        if let Some(h) = self.leader_mut().and_then(|l| l.learners.get_mut(&to)) {
            h.stage = Stage::AwaitNewLeaderAck;
            h.sent_upto = sent_upto;
            h.commit_sent = commit_sent;
            h.newleader_upto = sent_upto;
            h.deadline = deadline;
        }
    }

    /// Leader: ACK of NEWLEADER from `from`.
    pub(crate) fn on_new_leader_ack(&mut self, from: PeerId) {
        let voter = self.quorum.is_voter(from);
        let Some(l) = self.leader_mut() else { return };
        let Some(h) = l.learners.get_mut(&from) else {
            return;
        };
        h.stage = Stage::AwaitUpToDate;
        let upto = h.newleader_upto;
        if voter {
            l.newleader_acks.insert(from);
            for (_, acks) in l.outstanding.range_mut(..=upto) {
                acks.insert(from);
            }
        }
        if l.phase == ZabPhase::Broadcast {
            self.finish_learner_sync(from);
            self.try_commit();
        } else {
            self.maybe_establish();
        }
    }

    /// Establishes the leader once a quorum (with itself: durable history and currentEpoch) acked NEWLEADER.
    pub(crate) fn maybe_establish(&mut self) {
        let me = self.cfg.id;
        let current = self.current_epoch;
        let Some(l) = self.leader_mut() else { return };
        if l.phase != ZabPhase::Synchronization || l.epoch != Some(current) {
            return;
        }
        let initial_last = l.initial_last;
        let mut acks: Vec<PeerId> = l.newleader_acks.iter().copied().collect();
        if self.current_durable(current) && self.log.is_durable(initial_last) {
            acks.push(me);
        }
        if !self.quorum.has_quorum(acks.iter()) {
            return;
        }
        let Some(l) = self.leader_mut() else { return };
        l.phase = ZabPhase::Broadcast;
        info!(peer = %me, epoch = %current, zxid = %initial_last, "leader established");
        self.decided_vote.peer_epoch = current; // Apache `updateElectionVote` (ZOOKEEPER-1732)
        self.commit_to(initial_last);
        self.emit_role();
        let learners: Vec<(PeerId, Stage)> = self
            .leader_mut()
            .map(|l| l.learners.iter().map(|(id, h)| (*id, h.stage)).collect())
            .unwrap_or_default();
        for (id, stage) in learners {
            match stage {
                Stage::AwaitUpToDate => self.finish_learner_sync(id),
                Stage::AwaitNewLeaderAck => self.flush_learner(id),
                _ => {}
            }
        }
    }

    /// The learner acked NEWLEADER and the leader is established: missing COMMITs, then UPTODATE.
    pub(crate) fn finish_learner_sync(&mut self, id: PeerId) {
        self.flush_learner(id);
        let deadline = self.now + self.cfg.sync_ticks();
        if let Some(h) = self.leader_mut().and_then(|l| l.learners.get_mut(&id)) {
            h.stage = Stage::Broadcast;
            h.deadline = deadline;
        }
        self.send(id, Message::UpToDate);
    }

    // ------------------------------------------------------------------ learner side

    /// DIFF: keep the log as it is.
    pub(crate) fn on_diff(&mut self) -> bool {
        let last = self.log.last();
        self.enter_syncing(last)
    }

    /// TRUNC: drop everything after `zxid`.
    pub(crate) fn on_trunc(&mut self, zxid: Zxid) -> bool {
        if zxid < self.log.base() {
            warn!(peer = %self.cfg.id, %zxid, base = %self.log.base(), "TRUNC into our snapshot");
            return false;
        }
        if zxid < self.log.last() {
            self.log.truncate(zxid);
            self.actions.push(Action::Truncate(zxid));
        }
        let last = self.log.last();
        self.enter_syncing(last)
    }

    /// SNAP: replace state and log.
    pub(crate) fn on_snap(&mut self, zxid: Zxid, data: Bytes) -> bool {
        self.log.install_snapshot(zxid);
        self.actions.push(Action::ApplySnapshot { zxid, data });
        self.enter_syncing(zxid)
    }

    fn enter_syncing(&mut self, presession_end: Zxid) -> bool {
        let Some(l) = self.learner_mut() else {
            return false;
        };
        l.presession_end = presession_end;
        l.phase = LearnerPhase::Syncing;
        true
    }

    /// PROPOSAL before NEWLEADER: log it; it is applied only when a COMMIT names it (Z22).
    pub(crate) fn on_sync_proposal(&mut self, txn: Txn) -> bool {
        let z = txn.zxid;
        if z <= self.log.last() {
            warn!(peer = %self.cfg.id, zxid = %z, last = %self.log.last(), "sync proposal out of order");
            return false;
        }
        self.log.append(txn.clone());
        self.actions.push(Action::AppendTxns(vec![txn]));
        if let Some(l) = self.learner_mut() {
            l.sync_proposals.push(z);
        }
        if self.cfg.bugs().apply_uncommitted_in_sync {
            self.commit_to(z);
        }
        true
    }

    /// NEWLEADER: adopt the epoch as currentEpoch; ACK once it and the synced log are durable.
    pub(crate) fn on_new_leader(&mut self, zxid: Zxid) -> bool {
        let Some(l) = self.learner_mut() else {
            return false;
        };
        if l.epoch != Some(zxid.epoch()) || zxid.counter() != 0 {
            return false;
        }
        l.newleader = Some(zxid);
        l.phase = LearnerPhase::NewLeaderPending;
        self.try_ack_new_leader();
        true
    }

    /// NEWLEADER, in Apache 3.8's order (the ZOOKEEPER-3911 fix): first the synced history is durable, only
    /// then currentEpoch is set and persisted, only then the ACK goes out (Z19, Z21). Persisting currentEpoch
    /// earlier lets a crash keep the new epoch with a short log, and that server then wins elections on its
    /// epoch while lacking committed txns (ZK-4643 class; the simulator found this in our first version).
    pub(crate) fn try_ack_new_leader(&mut self) {
        let bugs = self.cfg.bugs();
        let durable = self.log.is_durable(self.log.last()) || bugs.ack_before_fsync;
        let Some(l) = self.learner_mut() else { return };
        let (LearnerPhase::NewLeaderPending, Some(zxid)) = (l.phase, l.newleader) else {
            return;
        };
        let leader = l.leader;
        if !durable {
            return;
        }
        if self.current_epoch < zxid.epoch() {
            self.current_epoch = zxid.epoch();
            self.persist_epochs();
        }
        if !self.current_durable(zxid.epoch()) {
            return;
        }
        let committed = self.log.committed();
        let Some(l) = self.learner_mut() else { return };
        l.phase = LearnerPhase::AwaitUpToDate;
        let sync_acks: Vec<Zxid> = std::mem::take(&mut l.sync_proposals);
        let observer = l.observer;
        self.send(leader, Message::Ack { zxid });
        if !observer {
            // Apache learners ACK the proposals of the sync that are still uncommitted.
            for z in sync_acks.into_iter().filter(|&z| z > committed) {
                self.send(leader, Message::Ack { zxid: z });
            }
        }
        self.flush_acks();
    }

    /// UPTODATE: the leader is established, so everything held before the sync is committed.
    pub(crate) fn on_up_to_date(&mut self) -> bool {
        let Some(l) = self.learner_mut() else {
            return false;
        };
        let (end, epoch, leader) = (l.presession_end, l.epoch, l.leader);
        l.phase = LearnerPhase::Broadcast;
        if let Some(e) = epoch {
            // Apache `updateElectionVote` (ZOOKEEPER-1732): report the epoch we actually follow to newcomers,
            // or servers that decided in different rounds disagree on peerEpoch and a joiner never sees a
            // quorum for the leader (the simulator's seed 1086).
            self.decided_vote.peer_epoch = e;
        }
        if self.log.contains(end) {
            self.commit_to(end);
        }
        self.emit_role();
        if let Some(e) = epoch {
            // Apache's learner ACKs UPTODATE with makeZxid(epoch, 0); leaders ignore it.
            self.send(
                leader,
                Message::Ack {
                    zxid: Zxid::new(e, 0),
                },
            );
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Epoch;

    fn z(e: u32, c: u32) -> Zxid {
        Zxid::new(Epoch(e), c)
    }

    fn history(base: Zxid, zs: &[Zxid]) -> History {
        History::restore(base, zs.iter().map(|&x| Txn::new(x, "")).collect(), base)
    }

    #[test]
    fn plan_table() {
        let h = history(Zxid::ZERO, &[z(1, 1), z(1, 2), z(1, 3), z(3, 1), z(3, 2)]);
        let last = z(3, 2);
        // (peer_last, vouched, plan)
        let table = [
            (z(3, 2), last, SyncPlan::Diff { from: z(3, 2) }), // up to date
            (z(1, 2), last, SyncPlan::Diff { from: z(1, 2) }), // a prefix
            (Zxid::ZERO, last, SyncPlan::Diff { from: Zxid::ZERO }),
            (z(2, 4), last, SyncPlan::Trunc { to: z(1, 3) }), // diverged in an epoch we skipped
            (z(3, 7), last, SyncPlan::Trunc { to: z(3, 2) }), // ahead in our epoch
            (z(3, 2), z(3, 1), SyncPlan::Trunc { to: z(3, 1) }), // holds txns we do not vouch for yet
            (z(1, 2), z(3, 1), SyncPlan::Diff { from: z(1, 2) }),
        ];
        for (peer, vouched, want) in table {
            assert_eq!(
                plan_sync(&h, peer, vouched),
                want,
                "peer {peer} vouched {vouched}"
            );
        }
    }

    #[test]
    fn plan_snap_when_behind_or_diverged_before_the_snapshot() {
        let h = history(z(1, 5), &[z(1, 6), z(3, 1)]);
        assert_eq!(
            plan_sync(&h, z(1, 2), z(3, 1)),
            SyncPlan::Snap,
            "behind the snapshot"
        );
        assert_eq!(
            plan_sync(&h, z(2, 1), z(3, 1)),
            SyncPlan::Trunc { to: z(1, 6) }
        );
        let h = history(z(1, 5), &[z(3, 1)]);
        assert_eq!(
            plan_sync(&h, z(2, 1), z(3, 1)),
            SyncPlan::Snap,
            "diverged at the snapshot point"
        );
        assert_eq!(
            plan_sync(&h, z(1, 5), z(3, 1)),
            SyncPlan::Diff { from: z(1, 5) }
        );
    }
}
