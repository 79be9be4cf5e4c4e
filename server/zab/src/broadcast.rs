//! Phase 3, broadcast (Apache `Leader.propose` / `processAck` / `tryToCommit`, `Follower.processPacket`,
//! `Observer.processPacket`).
//!
//! The leader stamps a txn with the next zxid, logs it and sends PROPOSAL to every synced follower. A
//! follower logs it and ACKs only after the caller reported it durable (Z21). The leader commits proposals
//! strictly in zxid order, each once a quorum of voters — the leader's own durable copy included — acked
//! it (Z16), then sends COMMIT to followers and INFORM (txn + commit) to observers, which never vote.

use bytes::Bytes;
use tracing::warn;

use crate::leader::Stage;
use crate::node::RoleState;
use crate::{Action, Message, PeerId, Txn, Zab, ZabError, ZabPhase, Zxid};

impl Zab {
    pub(crate) fn leader_propose(&mut self, payload: Bytes) -> Result<Zxid, ZabError> {
        let leader = self.leader();
        let Some(l) = self.leader_mut() else {
            return Err(ZabError::NotLeader { leader });
        };
        let (ZabPhase::Broadcast, Some(epoch)) = (l.phase, l.epoch) else {
            return Err(ZabError::NotLeader { leader: None });
        };
        if l.next_counter == u32::MAX {
            // Apache: "zxid lower 32 bits have rolled over, forcing re-election".
            self.become_looking();
            return Err(ZabError::ZxidExhausted);
        }
        let zxid = Zxid::new(epoch, l.next_counter);
        l.next_counter += 1;
        l.outstanding.insert(zxid, Default::default());
        let txn = Txn { zxid, payload };
        self.log.append(txn.clone());
        self.actions.push(Action::AppendTxns(vec![txn]));
        self.flush_all_learners();
        Ok(zxid)
    }

    /// Leader: ACK from `from`.
    pub(crate) fn on_ack(&mut self, from: PeerId, zxid: Zxid) {
        let voter = self.quorum.is_voter(from);
        let Some(l) = self.leader_mut() else { return };
        let Some(h) = l.learners.get(&from) else {
            return;
        };
        if zxid.counter() == 0 {
            if h.stage == Stage::AwaitNewLeaderAck && l.epoch.map(|e| Zxid::new(e, 0)) == Some(zxid)
            {
                self.on_new_leader_ack(from);
            }
            // Otherwise the ACK of UPTODATE, which Apache ignores as well.
            return;
        }
        if !voter || !h.stage.synced() || zxid > h.sent_upto {
            return;
        }
        // The learner logs in order, so ACK(z) means everything up to z is durable there.
        for (_, acks) in l.outstanding.range_mut(..=zxid) {
            acks.insert(from);
        }
        self.try_commit();
    }

    /// Commits outstanding proposals in zxid order while each has a quorum (Apache `tryToCommit`).
    pub(crate) fn try_commit(&mut self) {
        let me = self.cfg.id;
        let bugs = self.cfg.bugs();
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        if l.phase != ZabPhase::Broadcast {
            return;
        }
        let mut upto = None;
        while let Some((&z, acks)) = l.outstanding.first_key_value() {
            let enough = self.quorum.has_quorum(acks.iter())
                || (bugs.commit_before_quorum && acks.contains(&me));
            if !enough {
                break;
            }
            l.outstanding.pop_first();
            upto = Some(z);
        }
        if let Some(z) = upto {
            self.commit_to(z);
            self.flush_all_learners();
            self.release_syncs();
        }
    }

    /// Sends every synced learner what it lacks: PROPOSALs then COMMITs to followers, INFORMs to observers.
    pub(crate) fn flush_all_learners(&mut self) {
        let ids: Vec<PeerId> = self
            .leader_mut()
            .map(|l| l.learners.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.flush_learner(id);
        }
    }

    pub(crate) fn flush_learner(&mut self, id: PeerId) {
        let committed = self.log.committed();
        let last = self.log.last();
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let established = l.phase == ZabPhase::Broadcast;
        let Some(h) = l.learners.get_mut(&id) else {
            return;
        };
        if !h.stage.synced() {
            return;
        }
        let mut out = Vec::new();
        if h.observer {
            if committed > h.sent_upto {
                out.extend(
                    self.log
                        .range(h.sent_upto, committed)
                        .cloned()
                        .map(Message::Inform),
                );
                h.sent_upto = committed;
                h.commit_sent = committed;
            }
        } else {
            if established && last > h.sent_upto {
                out.extend(
                    self.log
                        .range(h.sent_upto, last)
                        .cloned()
                        .map(Message::Proposal),
                );
                h.sent_upto = last;
            }
            let upto = committed.min(h.sent_upto);
            if upto > h.commit_sent {
                out.extend(
                    self.log
                        .range(h.commit_sent, upto)
                        .map(|t| Message::Commit { zxid: t.zxid }),
                );
                h.commit_sent = upto;
            }
        }
        for msg in out {
            self.send(id, msg);
        }
    }

    /// Leader: answer a forwarded sync after everything proposed so far commits (Apache `processSync`).
    pub(crate) fn leader_sync(&mut self, to: PeerId, payload: Bytes) -> Result<(), ZabError> {
        let last = self.log.last();
        let committed = self.log.committed();
        let leader = self.leader();
        let Some(l) = self.leader_mut() else {
            return Err(ZabError::NotLeader { leader });
        };
        if l.phase != ZabPhase::Broadcast {
            return Err(ZabError::NotLeader { leader: None });
        }
        if last <= committed {
            self.send(to, Message::Sync { payload });
        } else {
            l.pending_syncs.push((last, to, payload));
        }
        Ok(())
    }

    fn release_syncs(&mut self) {
        let committed = self.log.committed();
        let Some(l) = self.leader_mut() else { return };
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut l.pending_syncs)
            .into_iter()
            .partition(|(z, _, _)| *z <= committed);
        l.pending_syncs = waiting;
        for (_, to, payload) in ready {
            self.send(to, Message::Sync { payload });
        }
    }

    /// Leader: its own log became durable — that is its own ACK.
    pub(crate) fn leader_persisted(&mut self) {
        let me = self.cfg.id;
        let durable = self.log.durable();
        let Some(l) = self.leader_mut() else { return };
        match l.phase {
            ZabPhase::Broadcast => {
                if let Some(d) = durable {
                    for (_, acks) in l.outstanding.range_mut(..=d) {
                        acks.insert(me);
                    }
                }
                self.try_commit();
            }
            ZabPhase::Synchronization => {
                self.adopt_epoch();
                self.maybe_establish();
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------ learner side

    /// Follower: PROPOSAL after NEWLEADER — log it, ACK once durable.
    pub(crate) fn on_proposal(&mut self, txn: Txn) -> bool {
        let z = txn.zxid;
        if z <= self.log.last() {
            warn!(peer = %self.cfg.id, zxid = %z, last = %self.log.last(), "proposal out of order");
            return false;
        }
        self.log.append(txn.clone());
        self.actions.push(Action::AppendTxns(vec![txn]));
        if let Some(l) = self.learner_mut() {
            l.unacked.push_back(z);
        }
        self.flush_acks();
        true
    }

    /// Follower or observer: COMMIT. Everything up to `zxid` in our log is committed (log matching).
    pub(crate) fn on_commit(&mut self, zxid: Zxid) -> bool {
        if zxid <= self.log.committed() {
            return true;
        }
        if !self.log.contains(zxid) {
            warn!(peer = %self.cfg.id, %zxid, "COMMIT for a txn we do not have");
            return false;
        }
        self.commit_to(zxid);
        true
    }

    /// Observer: INFORM carries a committed txn.
    pub(crate) fn on_inform(&mut self, txn: Txn) -> bool {
        let z = txn.zxid;
        if z <= self.log.last() {
            return self.log.get(z).is_some_and(|t| t.payload == txn.payload)
                || z <= self.log.base();
        }
        self.log.append(txn.clone());
        self.actions.push(Action::AppendTxns(vec![txn]));
        self.commit_to(z);
        true
    }

    /// Learner: the log became durable — NEWLEADER-ACK and proposal ACKs may go out.
    pub(crate) fn learner_persisted(&mut self) {
        self.try_ack_new_leader();
        self.flush_acks();
    }

    /// ACKs, in order, every proposal received after NEWLEADER that is durable (Z21).
    pub(crate) fn flush_acks(&mut self) {
        let bugs = self.cfg.bugs();
        let durable = self.log.durable();
        let RoleState::Learner(l) = &mut self.role else {
            return;
        };
        if !l.newleader_acked() || l.observer {
            return;
        }
        let leader = l.leader;
        let mut out = Vec::new();
        while let Some(&z) = l.unacked.front() {
            if !(bugs.ack_before_fsync || durable.is_some_and(|d| d >= z)) {
                break;
            }
            l.unacked.pop_front();
            out.push(z);
        }
        for zxid in out {
            self.send(leader, Message::Ack { zxid });
        }
    }
}
