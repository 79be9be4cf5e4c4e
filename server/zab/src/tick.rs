//! Time: tickTime-based timeouts (Apache `Leader.lead` loop, `LearnerHandler.synced`, the learner's socket
//! timeout).
//!
//! - A leader that has not finished discovery, or synchronization, within initLimit goes back to LOOKING.
//! - A leader pings synced learners every half tickTime; a learner that stays silent past its deadline
//!   (initLimit + syncLimit while syncing, syncLimit after) is dropped.
//! - Every tickTime an established leader checks that a quorum of voters (itself included) is within its
//!   deadline, else it goes LOOKING ("Not sufficient followers synced").
//! - A learner that hears nothing from its leader for initLimit (before BROADCAST) or syncLimit (after) goes
//!   LOOKING.

use tracing::info;

use crate::learner::LearnerPhase;
use crate::{Message, PeerId, Zab, ZabPhase};

impl Zab {
    pub(crate) fn learner_tick(&mut self) {
        let now = self.now;
        let (init, sync) = (self.cfg.init_ticks(), self.cfg.sync_ticks());
        let Some(l) = self.learner_mut() else { return };
        let limit = if l.phase == LearnerPhase::Broadcast {
            sync
        } else {
            init
        };
        if now > l.last_heard + limit {
            info!(peer = %self.cfg.id, "leader silent too long; LOOKING");
            self.become_looking();
        }
    }

    pub(crate) fn leader_tick(&mut self) {
        let now = self.now;
        let me = self.cfg.id;
        let (ping, tick_time) = (self.cfg.ping_ticks(), self.cfg.ticks_per_tick_time as u64);
        let Some(l) = self.leader_mut() else { return };
        if l.phase != ZabPhase::Broadcast && now > l.phase_deadline {
            info!(peer = %me, phase = ?l.phase, "no quorum within initLimit; LOOKING");
            self.become_looking();
            return;
        }
        l.learners.retain(|_, h| h.deadline >= now);
        let mut pings = Vec::new();
        if now >= l.next_ping {
            l.next_ping = now + ping;
            pings = l
                .learners
                .iter()
                .filter(|(_, h)| h.stage.synced())
                .map(|(id, _)| *id)
                .collect();
        }
        let mut lost = false;
        if l.phase == ZabPhase::Broadcast && now >= l.next_quorum_check {
            l.next_quorum_check = now + tick_time;
            let mut alive: Vec<PeerId> = l.learners.keys().copied().collect();
            alive.push(me);
            lost = !self.quorum.has_quorum(alive.iter());
        }
        if lost {
            info!(peer = %me, "not sufficient followers synced; LOOKING");
            self.become_looking();
            return;
        }
        for id in pings {
            self.send(
                id,
                Message::Ping {
                    payload: bytes::Bytes::new(),
                },
            );
        }
    }
}
