//! Learner (follower or observer) state and the dispatch of leader messages to the phase handlers
//! (Apache `Learner`, `Follower`, `Observer`).

use std::collections::VecDeque;

use tracing::warn;

use crate::{Action, Epoch, Message, PeerId, Zab, ZabPhase, Zxid};

/// Where a learner stands in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LearnerPhase {
    /// FOLLOWERINFO sent, waiting for LEADERINFO.
    Connecting,
    /// LEADERINFO accepted; ACKEPOCH waits for acceptedEpoch to be durable.
    AckEpochPending {
        /// currentEpoch to report (`None` = Apache's -1: this epoch was accepted before).
        current: Option<Epoch>,
    },
    /// ACKEPOCH sent, waiting for DIFF/TRUNC/SNAP.
    AwaitSyncMode,
    /// Receiving the synced history.
    Syncing,
    /// NEWLEADER received; its ACK waits for the log and currentEpoch to be durable.
    NewLeaderPending,
    /// NEWLEADER acked, waiting for UPTODATE.
    AwaitUpToDate,
    /// Serving.
    Broadcast,
}

/// A learner's state.
#[derive(Debug)]
pub(crate) struct Learner {
    pub leader: PeerId,
    pub observer: bool,
    pub phase: LearnerPhase,
    /// The last tick a message from the leader arrived.
    pub last_heard: u64,
    /// The leader's epoch (from LEADERINFO).
    pub epoch: Option<Epoch>,
    /// The log end right after DIFF/TRUNC/SNAP: all of it is committed once UPTODATE arrives.
    pub presession_end: Zxid,
    /// PROPOSALs received during sync, ACKed after NEWLEADER (as Apache learners do).
    pub sync_proposals: Vec<Zxid>,
    /// The NEWLEADER zxid, once received.
    pub newleader: Option<Zxid>,
    /// Proposals after NEWLEADER waiting to be durable before their ACK.
    pub unacked: VecDeque<Zxid>,
}

impl Learner {
    pub(crate) fn zab_phase(&self) -> ZabPhase {
        match self.phase {
            LearnerPhase::Connecting | LearnerPhase::AckEpochPending { .. } => ZabPhase::Discovery,
            LearnerPhase::Broadcast => ZabPhase::Broadcast,
            _ => ZabPhase::Synchronization,
        }
    }

    /// Whether NEWLEADER has been acknowledged (ACKs may flow).
    pub(crate) fn newleader_acked(&self) -> bool {
        matches!(
            self.phase,
            LearnerPhase::AwaitUpToDate | LearnerPhase::Broadcast
        )
    }
}

impl Zab {
    /// A message while following or observing.
    pub(crate) fn learner_step(&mut self, from: PeerId, msg: Message) {
        let now = self.now;
        let Some(l) = self.learner_mut() else { return };
        if from != l.leader {
            // Z18(d): only our leader talks to us over the quorum port.
            return;
        }
        l.last_heard = now;
        let phase = l.phase;
        let observer = l.observer;
        use LearnerPhase as P;
        let ok = match (msg, phase) {
            (Message::LeaderInfo { epoch }, P::Connecting) => self.on_leader_info(epoch),
            (Message::Diff { .. }, P::AwaitSyncMode) => self.on_diff(),
            (Message::Trunc { zxid }, P::AwaitSyncMode) => self.on_trunc(zxid),
            (Message::Snap { zxid, data }, P::AwaitSyncMode) => self.on_snap(zxid, data),
            (Message::Proposal(txn), P::Syncing) => self.on_sync_proposal(txn),
            (Message::NewLeader { zxid }, P::Syncing) => self.on_new_leader(zxid),
            (Message::UpToDate, P::AwaitUpToDate) => self.on_up_to_date(),
            (Message::Proposal(txn), P::NewLeaderPending | P::AwaitUpToDate | P::Broadcast)
                if !observer =>
            {
                self.on_proposal(txn)
            }
            (
                Message::Commit { zxid },
                P::Syncing | P::NewLeaderPending | P::AwaitUpToDate | P::Broadcast,
            ) => self.on_commit(zxid),
            (Message::Inform(txn), P::NewLeaderPending | P::AwaitUpToDate | P::Broadcast)
                if observer =>
            {
                self.on_inform(txn)
            }
            (Message::Ping { .. }, _) => {
                self.send(
                    from,
                    Message::Ping {
                        payload: bytes::Bytes::new(),
                    },
                );
                true
            }
            (Message::Sync { payload }, P::Broadcast) => {
                self.actions.push(Action::SyncReply { payload });
                true
            }
            (Message::Revalidate { payload }, _) => {
                self.actions.push(Action::Revalidate { from, payload });
                true
            }
            // Learner→leader kinds are never legal here (Z18(c)); ignore them.
            (
                Message::FollowerInfo { .. }
                | Message::ObserverInfo { .. }
                | Message::AckEpoch { .. }
                | Message::Ack { .. }
                | Message::Request { .. },
                _,
            ) => true,
            (msg, phase) => {
                warn!(peer = %self.cfg.id, leader = %from, kind = msg.kind(), ?phase, "unexpected packet");
                false
            }
        };
        if !ok {
            // Apache's learner throws and goes back to LOOKING on any protocol violation.
            self.become_looking();
        }
    }
}
