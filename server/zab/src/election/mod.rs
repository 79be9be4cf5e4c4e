//! Fast leader election (Apache `FastLeaderElection.lookForLeader`).
//!
//! A LOOKING node proposes itself, adopts any better vote it hears (see [`vote`]), and re-broadcasts on every
//! change. Votes of peers in the same round go to `recv_set`; once a quorum agrees with the proposal and no
//! better vote arrives for `finalize_wait_ticks`, the node decides. A node that hears FOLLOWING/LEADING
//! notifications from a quorum agreeing on a leader (`out_of_election`) joins it directly. Notifications are
//! re-sent with a doubling back-off (plus caller-seeded jitter) up to `max_notification_interval_ticks`.

mod notification;
pub(crate) mod vote;

use std::collections::BTreeMap;

use crate::node::RoleState;
use crate::{Message, Notification, PeerId, ServerState, Vote, Zab};

/// A peer's vote as recorded in a tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ballot {
    pub vote: Vote,
    pub round: u64,
    pub state: ServerState,
}

/// The state of one `lookForLeader` run.
#[derive(Debug)]
pub(crate) struct Election {
    /// The vote this node currently proposes.
    pub proposal: Vote,
    /// Votes of this round (Apache `recvset`).
    pub recv_set: BTreeMap<PeerId, Ballot>,
    /// Votes of peers that already left the election (Apache `outofelection`).
    pub out_of_election: BTreeMap<PeerId, Ballot>,
    /// When the quorum-backed proposal becomes final, if one is pending.
    pub finalize_at: Option<u64>,
    /// When to re-send notifications.
    pub resend_at: u64,
    /// The current re-send interval.
    pub resend_interval: u64,
}

impl Election {
    /// An election that is never run (stands in until `become_looking`).
    pub(crate) fn placeholder(own: Vote) -> Self {
        Election {
            proposal: own,
            recv_set: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            finalize_at: None,
            resend_at: 0,
            resend_interval: 0,
        }
    }
}

impl Zab {
    /// Leaves any role and starts a new election round (Apache: `setPeerState(LOOKING)` then
    /// `lookForLeader`, which increments the logical clock).
    pub(crate) fn become_looking(&mut self) {
        self.logical_clock += 1;
        let own = self.own_vote();
        let interval = self.cfg.finalize_wait_ticks as u64;
        let jitter = self.rng.below(interval + 1);
        let mut el = Election::placeholder(own);
        el.resend_interval = interval;
        el.resend_at = self.now + interval + jitter;
        if self.quorum.is_voter(self.cfg.id) {
            el.recv_set.insert(
                self.cfg.id,
                Ballot {
                    vote: own,
                    round: self.logical_clock,
                    state: ServerState::Looking,
                },
            );
        }
        self.role = RoleState::Looking(el);
        self.emit_role();
        self.send_notifications();
        self.check_proposal_quorum();
    }

    /// Sends this node's proposal to every other voter.
    pub(crate) fn send_notifications(&mut self) {
        let RoleState::Looking(el) = &self.role else {
            return;
        };
        let n = Notification {
            vote: el.proposal,
            round: self.logical_clock,
            state: ServerState::Looking,
        };
        let to: Vec<PeerId> = self
            .quorum
            .voters()
            .iter()
            .copied()
            .filter(|&v| v != self.cfg.id)
            .collect();
        for v in to {
            self.send(v, Message::Notification(n));
        }
    }

    /// Starts (or cancels) the finalize wait depending on whether a quorum of this round backs the proposal.
    pub(crate) fn check_proposal_quorum(&mut self) {
        let round = self.logical_clock;
        let now = self.now;
        let wait = self.cfg.finalize_wait_ticks as u64;
        let RoleState::Looking(el) = &mut self.role else {
            return;
        };
        let backers = el
            .recv_set
            .iter()
            .filter(|(_, b)| b.round == round && b.vote == el.proposal)
            .map(|(id, _)| id);
        if self.quorum.has_quorum(backers) && self.quorum.is_voter(el.proposal.leader) {
            el.finalize_at.get_or_insert(now + wait);
        } else {
            el.finalize_at = None;
        }
    }

    /// Ends the election on `vote` (Apache: `setPeerState(proposedLeader == myid ? LEADING : learningState())`).
    pub(crate) fn decide(&mut self, vote: Vote) {
        if !self.quorum.is_voter(vote.leader) {
            return;
        }
        self.decided_vote = vote;
        self.decided_round = self.logical_clock;
        if vote.leader == self.cfg.id {
            if self.quorum.is_voter(self.cfg.id) {
                self.become_leader();
            }
        } else {
            let observer = self.quorum.is_observer(self.cfg.id);
            self.become_learner(vote.leader, observer);
        }
    }

    /// Tick while LOOKING: finalize a quorum-backed proposal, re-send notifications with back-off.
    pub(crate) fn election_tick(&mut self) {
        let now = self.now;
        let max = self.cfg.max_notification_interval_ticks as u64;
        let RoleState::Looking(el) = &mut self.role else {
            return;
        };
        if el.finalize_at.is_some_and(|t| now >= t) {
            let v = el.proposal;
            self.decide(v);
            return;
        }
        if now >= el.resend_at {
            el.resend_interval = (el.resend_interval * 2).min(max);
            let jitter = self.rng.below(el.resend_interval / 2 + 1);
            el.resend_at = now + el.resend_interval + jitter;
            self.send_notifications();
        }
    }
}
