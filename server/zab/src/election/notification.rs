//! Handling one election notification (Apache `FastLeaderElection.WorkerReceiver` + the body of
//! `lookForLeader`).

use super::vote::beats;
use super::Ballot;
use crate::node::RoleState;
use crate::{Message, Notification, PeerId, ServerState, Vote, Zab};

impl Zab {
    pub(crate) fn on_notification(&mut self, from: PeerId, n: Notification) {
        let looking = matches!(self.role, RoleState::Looking(_));
        if !looking {
            // A server that left the election answers LOOKING peers with the vote it decided on.
            if n.state == ServerState::Looking {
                self.reply_decided(from);
            }
            return;
        }
        if !self.quorum.is_voter(from) {
            // Observers' votes do not count; tell them ours so they can find the leader.
            self.reply_proposal(from);
            return;
        }
        match n.state {
            ServerState::Looking => self.on_looking_notification(from, n),
            ServerState::Following | ServerState::Leading => self.on_settled_notification(from, n),
            ServerState::Observing => {}
        }
    }

    fn reply_decided(&mut self, to: PeerId) {
        let state = match self.role {
            RoleState::Leader(_) => ServerState::Leading,
            RoleState::Learner(ref l) if l.observer => ServerState::Observing,
            RoleState::Learner(_) => ServerState::Following,
            RoleState::Looking(_) => ServerState::Looking,
        };
        let n = Notification {
            vote: self.decided_vote,
            round: self.decided_round,
            state,
        };
        self.send(to, Message::Notification(n));
    }

    fn reply_proposal(&mut self, to: PeerId) {
        let RoleState::Looking(el) = &self.role else {
            return;
        };
        let n = Notification {
            vote: el.proposal,
            round: self.logical_clock,
            state: ServerState::Looking,
        };
        self.send(to, Message::Notification(n));
    }

    fn on_looking_notification(&mut self, from: PeerId, n: Notification) {
        let own = self.own_vote();
        let me = self.cfg.id;
        let voter = self.quorum.is_voter(me);
        if n.round < self.logical_clock {
            // A peer in an older round: tell it where we are (Apache WorkerReceiver).
            self.reply_proposal(from);
            return;
        }
        let mut changed = false;
        if n.round > self.logical_clock {
            self.logical_clock = n.round;
            let RoleState::Looking(el) = &mut self.role else {
                return;
            };
            el.recv_set.clear();
            el.proposal = if beats(&n.vote, &own, &self.quorum) {
                n.vote
            } else {
                own
            };
            changed = true;
        } else {
            let RoleState::Looking(el) = &mut self.role else {
                return;
            };
            if beats(&n.vote, &el.proposal, &self.quorum) {
                el.proposal = n.vote;
                changed = true;
            }
        }
        let round = self.logical_clock;
        let RoleState::Looking(el) = &mut self.role else {
            return;
        };
        if changed && voter {
            el.recv_set.insert(
                me,
                Ballot {
                    vote: el.proposal,
                    round,
                    state: ServerState::Looking,
                },
            );
        }
        el.recv_set.insert(
            from,
            Ballot {
                vote: n.vote,
                round: n.round,
                state: n.state,
            },
        );
        if changed {
            self.send_notifications();
        }
        self.check_proposal_quorum();
    }

    fn on_settled_notification(&mut self, from: PeerId, n: Notification) {
        let ballot = Ballot {
            vote: n.vote,
            round: n.round,
            state: n.state,
        };
        let RoleState::Looking(el) = &mut self.role else {
            return;
        };
        if n.round == self.logical_clock {
            el.recv_set.insert(from, ballot);
            let agree = el
                .recv_set
                .iter()
                .filter(|(_, b)| agrees(b, &ballot))
                .map(|(id, _)| id);
            if self.quorum.has_quorum(agree) && self.check_leader(n.vote.leader, n.round, false) {
                self.decide(n.vote);
                return;
            }
        }
        let RoleState::Looking(el) = &mut self.role else {
            return;
        };
        el.out_of_election.insert(from, ballot);
        let agree = el
            .out_of_election
            .iter()
            .filter(|(_, b)| agrees(b, &ballot))
            .map(|(id, _)| id);
        if self.quorum.has_quorum(agree) && self.check_leader(n.vote.leader, n.round, true) {
            self.logical_clock = n.round;
            self.decide(n.vote);
        }
    }

    /// Apache `checkLeader`: joining another leader needs that leader's own LEADING notification; electing
    /// ourselves needs the round to be ours.
    fn check_leader(&self, leader: PeerId, round: u64, out_of_election: bool) -> bool {
        let RoleState::Looking(el) = &self.role else {
            return false;
        };
        if leader == self.cfg.id {
            return round == self.logical_clock;
        }
        let tally = if out_of_election {
            &el.out_of_election
        } else {
            &el.recv_set
        };
        let seen = tally
            .get(&leader)
            .or_else(|| el.out_of_election.get(&leader));
        seen.is_some_and(|b| b.state == ServerState::Leading)
    }
}

/// Apache `Vote.equals`: if either side is LOOKING compare everything, else only leader and peerEpoch.
fn agrees(b: &Ballot, target: &Ballot) -> bool {
    let same_leader = |a: &Vote, t: &Vote| a.leader == t.leader && a.peer_epoch == t.peer_epoch;
    if b.state == ServerState::Looking || target.state == ServerState::Looking {
        b.vote == target.vote && b.round == target.round
    } else {
        same_leader(&b.vote, &target.vote)
    }
}
