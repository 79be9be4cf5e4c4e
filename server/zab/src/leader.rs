//! Leader state and the dispatch of learner messages to the phase handlers (Apache `Leader` +
//! one `LearnerHandler` per connected learner).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::{Action, Epoch, Message, PeerId, Zab, ZabPhase, Zxid};

/// Where one learner's connection stands, from the leader's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// FOLLOWERINFO received; LEADERINFO not sent yet (epoch undecided or not durable).
    AwaitLeaderInfo,
    /// LEADERINFO sent.
    AwaitAckEpoch,
    /// ACKEPOCH received; sync starts once the leader is in SYNCHRONIZATION with a durable currentEpoch.
    AwaitSync {
        /// The learner's last logged zxid from ACKEPOCH.
        peer_last: Zxid,
    },
    /// DIFF/TRUNC/SNAP … NEWLEADER sent.
    AwaitNewLeaderAck,
    /// NEWLEADER acked; UPTODATE waits for the leader to be established.
    AwaitUpToDate,
    /// UPTODATE sent: the learner is in BROADCAST.
    Broadcast,
}

impl Stage {
    /// Whether the sync packets went out, so that proposals, commits and pings may follow.
    pub(crate) fn synced(self) -> bool {
        matches!(
            self,
            Stage::AwaitNewLeaderAck | Stage::AwaitUpToDate | Stage::Broadcast
        )
    }
}

/// One learner connection (Apache `LearnerHandler`).
#[derive(Clone, Debug)]
pub(crate) struct Handler {
    pub observer: bool,
    pub stage: Stage,
    /// Txns up to here were sent (or the learner already had them).
    pub sent_upto: Zxid,
    /// COMMIT (or INFORM) was sent for every txn up to here that was sent.
    pub commit_sent: Zxid,
    /// The last txn sent before NEWLEADER: its NEWLEADER-ACK acknowledges everything up to here.
    pub newleader_upto: Zxid,
    /// The tick after which an unanswered learner is dropped (Apache `tickOfNextAckDeadline`).
    pub deadline: u64,
}

/// The leader's state across its three phases.
#[derive(Debug)]
pub(crate) struct Leader {
    pub phase: ZabPhase,
    /// The new epoch, once a quorum reported its acceptedEpoch.
    pub epoch: Option<Epoch>,
    /// (currentEpoch, last zxid) at election: learners ahead of it are refused during discovery.
    pub summary: (Epoch, Zxid),
    /// acceptedEpochs from FOLLOWERINFO/OBSERVERINFO, this node included (Apache `connectingFollowers`).
    pub connecting: BTreeMap<PeerId, Epoch>,
    /// Voters that acknowledged the new epoch, this node included (Apache `electingFollowers`).
    pub epoch_acks: BTreeSet<PeerId>,
    /// Voters that acknowledged NEWLEADER.
    pub newleader_acks: BTreeSet<PeerId>,
    pub learners: BTreeMap<PeerId, Handler>,
    /// The last zxid of the leader's history at election; committed once a quorum acks NEWLEADER.
    pub initial_last: Zxid,
    /// Proposals not yet committed, with the voters that acked them (Apache `outstandingProposals`).
    pub outstanding: BTreeMap<Zxid, BTreeSet<PeerId>>,
    /// The counter of the next proposal in this epoch.
    pub next_counter: u32,
    /// Discovery and synchronization must each finish before this tick (initLimit).
    pub phase_deadline: u64,
    pub next_ping: u64,
    pub next_quorum_check: u64,
    /// Forwarded syncs waiting for a zxid to commit (Apache `pendingSyncs`).
    pub pending_syncs: Vec<(Zxid, PeerId, Bytes)>,
}

impl Zab {
    /// A message from a learner (or a confused peer) while leading.
    pub(crate) fn leader_step(&mut self, from: PeerId, msg: Message) {
        match msg {
            Message::FollowerInfo { accepted_epoch } => {
                self.on_learner_info(from, false, accepted_epoch)
            }
            Message::ObserverInfo { accepted_epoch } => {
                self.on_learner_info(from, true, accepted_epoch)
            }
            other => {
                // Everything else must come over an open learner connection (Z18(b)).
                let (init, sync, now) = (self.cfg.init_ticks(), self.cfg.sync_ticks(), self.now);
                let Some(l) = self.leader_mut() else { return };
                let in_broadcast = l.phase == ZabPhase::Broadcast;
                let Some(h) = l.learners.get_mut(&from) else {
                    return;
                };
                h.deadline = now
                    + if in_broadcast && h.stage == Stage::Broadcast {
                        sync
                    } else {
                        init + sync
                    };
                match other {
                    Message::AckEpoch {
                        last_zxid,
                        current_epoch,
                    } => self.on_ack_epoch(from, last_zxid, current_epoch),
                    Message::Ack { zxid } => self.on_ack(from, zxid),
                    Message::Request { payload } => {
                        self.actions
                            .push(Action::ForwardedRequest { from, payload });
                    }
                    Message::Ping { payload } if !payload.is_empty() => {
                        self.actions.push(Action::LearnerPing { from, payload });
                    }
                    Message::Revalidate { payload } => {
                        self.actions.push(Action::Revalidate { from, payload })
                    }
                    // Z18(a): leader→learner kinds are never legal at a leader; ignore them.
                    _ => {}
                }
            }
        }
    }
}
