//! Phase 1, discovery (Apache `Leader.getEpochToPropose` / `waitForEpochAck`, `Learner.registerWithLeader`).
//!
//! The leader collects acceptedEpoch from a quorum (itself included) and proposes `max + 1` as the new epoch,
//! persisting it as its own acceptedEpoch before any LEADERINFO goes out. A learner accepts a LEADERINFO
//! epoch above its acceptedEpoch, persists it, and only then sends ACKEPOCH with its last zxid and
//! currentEpoch. A quorum of ACKEPOCHs moves the leader to synchronization with currentEpoch = new epoch.
//! During discovery the leader refuses a learner whose (currentEpoch, last zxid) is ahead of its own.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tracing::warn;

use crate::leader::{Handler, Leader, Stage};
use crate::learner::{Learner, LearnerPhase};
use crate::node::RoleState;
use crate::{Epoch, Message, PeerId, Zab, ZabPhase, Zxid};

impl Zab {
    /// FLE elected this node.
    pub(crate) fn become_leader(&mut self) {
        let me = self.cfg.id;
        let leader = Leader {
            phase: ZabPhase::Discovery,
            epoch: None,
            summary: (self.current_epoch, self.log.last()),
            connecting: BTreeMap::from([(me, self.accepted_epoch)]),
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            learners: BTreeMap::new(),
            initial_last: self.log.last(),
            outstanding: BTreeMap::new(),
            next_counter: 1,
            phase_deadline: self.now + self.cfg.init_ticks(),
            next_ping: self.now + self.cfg.ping_ticks(),
            next_quorum_check: self.now + self.cfg.ticks_per_tick_time as u64,
            pending_syncs: Vec::new(),
        };
        self.role = RoleState::Leader(Box::new(leader));
        self.emit_role();
        self.maybe_decide_epoch();
    }

    /// FLE elected `leader`; connect to it (FOLLOWERINFO / OBSERVERINFO opens the connection).
    pub(crate) fn become_learner(&mut self, leader: PeerId, observer: bool) {
        self.role = RoleState::Learner(Learner {
            leader,
            observer,
            phase: LearnerPhase::Connecting,
            last_heard: self.now,
            epoch: None,
            presession_end: Zxid::ZERO,
            sync_proposals: Vec::new(),
            newleader: None,
            unacked: VecDeque::new(),
        });
        self.emit_role();
        let accepted_epoch = self.accepted_epoch;
        let msg = if observer {
            Message::ObserverInfo { accepted_epoch }
        } else {
            Message::FollowerInfo { accepted_epoch }
        };
        self.send(leader, msg);
    }

    /// FOLLOWERINFO / OBSERVERINFO: a learner (re)connected.
    pub(crate) fn on_learner_info(&mut self, from: PeerId, observer: bool, accepted: Epoch) {
        if observer != self.quorum.is_observer(from) {
            return;
        }
        let deadline = self.now + self.cfg.init_ticks() + self.cfg.sync_ticks();
        let Some(l) = self.leader_mut() else { return };
        if l.epoch.is_some_and(|e| accepted > e) {
            // The learner promised a newer epoch (to a leader that never got established) and will refuse
            // ours forever. Apache leaves it locked out until the next election; we start that election now:
            // the next epoch is max(acceptedEpoch) + 1 over a quorum, which the learner can accept.
            warn!(peer = %self.cfg.id, learner = %from, %accepted, "learner accepted a newer epoch; re-electing");
            self.become_looking();
            return;
        }
        let handler = Handler {
            observer,
            stage: Stage::AwaitLeaderInfo,
            sent_upto: Zxid::ZERO,
            commit_sent: Zxid::ZERO,
            newleader_upto: Zxid::ZERO,
            deadline,
        };
        l.learners.insert(from, handler);
        // A new connection may truncate the learner's log (TRUNC to the commit point), so ACKs of its old
        // connection no longer prove anything is durable there.
        for acks in l.outstanding.values_mut() {
            acks.remove(&from);
        }
        l.newleader_acks.remove(&from);
        if l.epoch.is_none() {
            l.connecting.insert(from, accepted);
            self.maybe_decide_epoch();
        } else {
            self.send_leader_infos();
        }
    }

    /// Apache `getEpochToPropose`: once a quorum (with this node) reported, the epoch is max + 1.
    fn maybe_decide_epoch(&mut self) {
        let me = self.cfg.id;
        let Some(l) = self.leader_mut() else { return };
        if l.epoch.is_some() {
            return;
        }
        let reported: Vec<PeerId> = l.connecting.keys().copied().collect();
        if !reported.contains(&me) || !self.quorum.has_quorum(reported.iter()) {
            return;
        }
        let Some(l) = self.leader_mut() else { return };
        let epoch = l
            .connecting
            .values()
            .max()
            .copied()
            .unwrap_or_default()
            .next();
        l.epoch = Some(epoch);
        l.epoch_acks.insert(me);
        self.accepted_epoch = epoch;
        self.persist_epochs();
        self.send_leader_infos();
        // A single-voter ensemble needs no ACKEPOCH from anyone else.
        let acks: Vec<PeerId> = self
            .leader_mut()
            .map(|l| l.epoch_acks.iter().copied().collect())
            .unwrap_or_default();
        if self.quorum.has_quorum(acks.iter()) {
            self.enter_synchronization();
        }
    }

    /// LEADERINFO to every learner waiting for it, once acceptedEpoch = new epoch is durable (Z19).
    pub(crate) fn send_leader_infos(&mut self) {
        let Some(epoch) = self.leader_mut().and_then(|l| l.epoch) else {
            return;
        };
        if !self.accepted_durable(epoch) {
            return;
        }
        let Some(l) = self.leader_mut() else { return };
        let waiting: Vec<PeerId> = l
            .learners
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitLeaderInfo)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            if let Some(h) = self.leader_mut().and_then(|l| l.learners.get_mut(&id)) {
                h.stage = Stage::AwaitAckEpoch;
            }
            self.send(id, Message::LeaderInfo { epoch });
        }
    }

    /// Learner: LEADERINFO (Apache `Learner.registerWithLeader`).
    pub(crate) fn on_leader_info(&mut self, epoch: Epoch) -> bool {
        let current = if epoch > self.accepted_epoch {
            let current = Some(self.current_epoch);
            self.accepted_epoch = epoch;
            self.persist_epochs();
            current
        } else if epoch == self.accepted_epoch {
            None
        } else {
            warn!(peer = %self.cfg.id, %epoch, accepted = %self.accepted_epoch, "leader's epoch is below ours");
            return false;
        };
        let Some(l) = self.learner_mut() else {
            return false;
        };
        l.epoch = Some(epoch);
        l.phase = LearnerPhase::AckEpochPending { current };
        self.try_send_ack_epoch();
        true
    }

    /// ACKEPOCH once acceptedEpoch is durable.
    fn try_send_ack_epoch(&mut self) {
        let last_zxid = self.log.last();
        let Some(l) = self.learner_mut() else { return };
        let (LearnerPhase::AckEpochPending { current }, Some(epoch)) = (l.phase, l.epoch) else {
            return;
        };
        let leader = l.leader;
        if !self.accepted_durable(epoch) {
            return;
        }
        if let Some(l) = self.learner_mut() {
            l.phase = LearnerPhase::AwaitSyncMode;
        }
        self.send(
            leader,
            Message::AckEpoch {
                last_zxid,
                current_epoch: current,
            },
        );
        self.emit_role();
    }

    /// Leader: ACKEPOCH (Apache `waitForEpochAck`).
    pub(crate) fn on_ack_epoch(&mut self, from: PeerId, last_zxid: Zxid, current: Option<Epoch>) {
        let voter = self.quorum.is_voter(from);
        let Some(l) = self.leader_mut() else { return };
        let Some(h) = l.learners.get_mut(&from) else {
            return;
        };
        if h.stage != Stage::AwaitAckEpoch {
            return;
        }
        if let Some(ce) = current {
            if l.phase == ZabPhase::Discovery && (ce, last_zxid) > l.summary {
                // "Follower is ahead of the leader": refuse it; it will time out and re-elect.
                warn!(peer = %from, %last_zxid, "learner is ahead of the leader");
                l.learners.remove(&from);
                return;
            }
            if voter {
                l.epoch_acks.insert(from);
            }
        }
        if let Some(h) = l.learners.get_mut(&from) {
            h.stage = Stage::AwaitSync {
                peer_last: last_zxid,
            };
        }
        let phase = l.phase;
        let acks: Vec<PeerId> = l.epoch_acks.iter().copied().collect();
        if phase == ZabPhase::Discovery {
            if self.quorum.has_quorum(acks.iter()) {
                self.enter_synchronization();
            }
        } else {
            self.start_pending_syncs();
        }
    }

    /// A quorum acked the epoch: synchronization starts.
    fn enter_synchronization(&mut self) {
        let deadline = self.now + self.cfg.init_ticks();
        let Some(l) = self.leader_mut() else { return };
        l.phase = ZabPhase::Synchronization;
        l.phase_deadline = deadline;
        self.emit_role();
        self.adopt_epoch();
    }

    /// currentEpoch = new epoch, once the leader's initial history is durable (same order as a learner's
    /// NEWLEADER, see `try_ack_new_leader`); it is persisted before any NEWLEADER goes out (Z19).
    pub(crate) fn adopt_epoch(&mut self) {
        let Some(l) = self.leader_mut() else { return };
        let (ZabPhase::Synchronization, Some(epoch)) = (l.phase, l.epoch) else {
            return;
        };
        let initial_last = l.initial_last;
        if self.current_epoch < epoch && self.log.is_durable(initial_last) {
            self.current_epoch = epoch;
            self.persist_epochs();
        }
        self.start_pending_syncs();
    }

    /// Learner: the caller made epochs durable.
    pub(crate) fn learner_epoch_persisted(&mut self) {
        self.try_send_ack_epoch();
        self.try_ack_new_leader();
    }

    /// Leader: the caller made epochs durable.
    pub(crate) fn leader_epoch_persisted(&mut self) {
        self.send_leader_infos();
        self.start_pending_syncs();
        self.maybe_establish();
    }
}
