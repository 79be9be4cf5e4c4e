//! [`Zab`]: the node. This file holds its state, the input verbs and their dispatch; each protocol phase is
//! handled in its own module (`election/`, `discovery`, `sync`, `broadcast`, `tick`).

use bytes::Bytes;
use tracing::debug;

use crate::election::Election;
use crate::leader::Leader;
use crate::learner::Learner;
use crate::{
    Action, Config, ConfigError, Epoch, History, Message, PeerId, PersistentState, QuorumVerifier,
    Role, SplitMix64, Vote, ZabError, ZabPhase, Zxid,
};

/// What a node is doing right now.
#[derive(Debug)]
pub(crate) enum RoleState {
    Looking(Election),
    Learner(Learner),
    Leader(Box<Leader>),
}

/// One ZAB node: a pure state machine. Inputs are verbs (`step`, `tick`, `propose`, `persisted`,
/// `epoch_persisted`, …); outputs are [`Action`]s the caller drains and executes in order.
#[derive(Debug)]
pub struct Zab {
    pub(crate) cfg: Config,
    pub(crate) quorum: QuorumVerifier,
    pub(crate) rng: SplitMix64,
    /// Ticks since start.
    pub(crate) now: u64,
    /// In-memory epochs (ahead of the durable ones while a `PersistEpoch` is outstanding).
    pub(crate) accepted_epoch: Epoch,
    pub(crate) current_epoch: Epoch,
    /// Epochs the caller reported durable.
    pub(crate) durable_accepted: Epoch,
    pub(crate) durable_current: Epoch,
    pub(crate) log: History,
    /// FLE logical clock (Apache `logicalclock`); survives elections, not restarts.
    pub(crate) logical_clock: u64,
    /// The vote this node decided on last, and the round it was decided in (answered to LOOKING peers).
    pub(crate) decided_vote: Vote,
    pub(crate) decided_round: u64,
    pub(crate) role: RoleState,
    pub(crate) actions: Vec<Action>,
}

impl Zab {
    /// A node restored from `state` (a new node passes `PersistentState::default()`), starting LOOKING.
    /// `seed` seeds the election jitter; the simulator derives it from its run seed.
    pub fn new(cfg: Config, state: PersistentState, seed: u64) -> Result<Zab, ConfigError> {
        cfg.validate()?;
        let log = History::restore(state.snapshot_zxid, state.log, state.applied);
        let own = Vote::new(cfg.id, log.last(), state.current_epoch);
        let mut zab = Zab {
            quorum: cfg.quorum(),
            cfg,
            rng: SplitMix64::new(seed),
            now: 0,
            accepted_epoch: state.accepted_epoch.max(state.current_epoch),
            current_epoch: state.current_epoch,
            durable_accepted: state.accepted_epoch.max(state.current_epoch),
            durable_current: state.current_epoch,
            log,
            logical_clock: 0,
            decided_vote: own,
            decided_round: 0,
            role: RoleState::Looking(Election::placeholder(own)),
            actions: Vec::new(),
        };
        zab.become_looking();
        Ok(zab)
    }

    // ---------------------------------------------------------------- inputs

    /// A message from peer `from` arrived.
    pub fn step(&mut self, from: PeerId, msg: Message) {
        if from == self.cfg.id || !self.quorum.is_member(from) {
            return;
        }
        match msg {
            Message::Notification(n) => self.on_notification(from, n),
            msg => match self.role {
                // Z18(e): a LOOKING server takes no ZAB message.
                RoleState::Looking(_) => {}
                RoleState::Learner(_) => self.learner_step(from, msg),
                RoleState::Leader(_) => self.leader_step(from, msg),
            },
        }
    }

    /// One tick of the caller's timer passed (see [`Config`] for its length).
    pub fn tick(&mut self) {
        self.now += 1;
        match self.role {
            RoleState::Looking(_) => self.election_tick(),
            RoleState::Learner(_) => self.learner_tick(),
            RoleState::Leader(_) => self.leader_tick(),
        }
    }

    /// Proposes a txn (leader in BROADCAST only). Returns its zxid; the caller learns the outcome from a later
    /// [`Action::Commit`].
    pub fn propose(&mut self, payload: Bytes) -> Result<Zxid, ZabError> {
        self.leader_propose(payload)
    }

    /// Learner in BROADCAST: forward a client request to the leader (REQUEST).
    pub fn forward(&mut self, payload: Bytes) -> Result<(), ZabError> {
        match &self.role {
            RoleState::Learner(l) if l.phase == crate::learner::LearnerPhase::Broadcast => {
                let to = l.leader;
                self.send(to, Message::Request { payload });
                Ok(())
            }
            _ => Err(ZabError::NotServing),
        }
    }

    /// Leader: answer learner `to`'s forwarded `sync` once every txn proposed so far is committed (SYNC).
    pub fn sync_learner(&mut self, to: PeerId, payload: Bytes) -> Result<(), ZabError> {
        self.leader_sync(to, payload)
    }

    /// The caller made the log durable up to `up_to` (every action drained before this call that changes the
    /// log — append, truncate, snapshot — is on disk up to there).
    pub fn persisted(&mut self, up_to: Zxid) {
        if !self.log.mark_durable(up_to) {
            return;
        }
        match self.role {
            RoleState::Looking(_) => {}
            RoleState::Learner(_) => self.learner_persisted(),
            RoleState::Leader(_) => self.leader_persisted(),
        }
    }

    /// The caller made these epochs durable (answer to [`Action::PersistEpoch`]).
    pub fn epoch_persisted(&mut self, accepted: Epoch, current: Epoch) {
        self.durable_accepted = self.durable_accepted.max(accepted);
        self.durable_current = self.durable_current.max(current);
        match self.role {
            RoleState::Looking(_) => {}
            RoleState::Learner(_) => self.learner_epoch_persisted(),
            RoleState::Leader(_) => self.leader_epoch_persisted(),
        }
    }

    /// The caller took a snapshot of its state at `zxid` (≤ the commit point); older txns may be forgotten
    /// (a window of [`Config::committed_log_retain`] stays for DIFFs).
    pub fn snapshot_taken(&mut self, zxid: Zxid) {
        self.log.compact(zxid, self.cfg.committed_log_retain);
    }

    /// The connection with `peer` closed. A learner that loses its leader goes LOOKING; a leader forgets the
    /// learner (it reconnects with FOLLOWERINFO).
    pub fn disconnected(&mut self, peer: PeerId) {
        match &mut self.role {
            RoleState::Looking(_) => {}
            RoleState::Learner(l) => {
                if l.leader == peer {
                    debug!(peer = %self.cfg.id, leader = %peer, "lost connection to leader");
                    self.become_looking();
                }
            }
            RoleState::Leader(l) => {
                l.learners.remove(&peer);
            }
        }
    }

    /// Takes the actions produced so far, to execute in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    // ---------------------------------------------------------------- accessors

    /// This node's id.
    pub fn id(&self) -> PeerId {
        self.cfg.id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current role.
    pub fn role(&self) -> Role {
        match &self.role {
            RoleState::Looking(_) => Role::Looking,
            RoleState::Learner(l) if l.observer => Role::Observing { leader: l.leader },
            RoleState::Learner(l) => Role::Following { leader: l.leader },
            RoleState::Leader(_) => Role::Leading,
        }
    }

    /// The current ZAB phase.
    pub fn phase(&self) -> ZabPhase {
        match &self.role {
            RoleState::Looking(_) => ZabPhase::Election,
            RoleState::Learner(l) => l.zab_phase(),
            RoleState::Leader(l) => l.phase,
        }
    }

    /// The leader this node follows or observes, or itself when leading.
    pub fn leader(&self) -> Option<PeerId> {
        match &self.role {
            RoleState::Looking(_) => None,
            RoleState::Learner(l) => Some(l.leader),
            RoleState::Leader(_) => Some(self.cfg.id),
        }
    }

    /// Leader only: its learners as Apache's `mntr` counts them.
    pub fn learner_counts(&self) -> Option<LearnerCounts> {
        let RoleState::Leader(l) = &self.role else {
            return None;
        };
        let synced = |observer: bool| {
            l.learners
                .values()
                .filter(|h| h.observer == observer && h.stage == crate::leader::Stage::Broadcast)
                .count()
        };
        Some(LearnerCounts {
            learners: l.learners.len(),
            synced_followers: synced(false),
            synced_observers: synced(true),
            pending_syncs: l.pending_syncs.len(),
        })
    }

    /// The epoch of the leader this node works with: a leader's new epoch once decided, a learner's once
    /// LEADERINFO arrived.
    pub fn epoch(&self) -> Option<Epoch> {
        match &self.role {
            RoleState::Looking(_) => None,
            RoleState::Learner(l) => l.epoch,
            RoleState::Leader(l) => l.epoch,
        }
    }

    /// acceptedEpoch (in memory; may be ahead of disk until `epoch_persisted`).
    pub fn accepted_epoch(&self) -> Epoch {
        self.accepted_epoch
    }

    /// currentEpoch (in memory).
    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }

    /// The last logged zxid.
    pub fn last_zxid(&self) -> Zxid {
        self.log.last()
    }

    /// The local commit point (everything up to it was handed out in [`Action::Commit`]).
    pub fn committed_zxid(&self) -> Zxid {
        self.log.committed()
    }

    /// The core's view of the log.
    pub fn history(&self) -> &History {
        &self.log
    }

    /// The FLE logical clock.
    pub fn logical_clock(&self) -> u64 {
        self.logical_clock
    }

    /// The current vote: the proposal while LOOKING, the decided vote otherwise.
    pub fn current_vote(&self) -> Vote {
        match &self.role {
            RoleState::Looking(e) => e.proposal,
            _ => self.decided_vote,
        }
    }

    // ---------------------------------------------------------------- helpers for the phase handlers

    pub(crate) fn send(&mut self, to: PeerId, msg: Message) {
        self.actions.push(Action::Send { to, msg });
    }

    pub(crate) fn persist_epochs(&mut self) {
        self.actions.push(Action::PersistEpoch {
            accepted: self.accepted_epoch,
            current: self.current_epoch,
        });
    }

    /// Whether acceptedEpoch ≥ `e` is durable (Z19), unless the bug switch says not to care.
    pub(crate) fn accepted_durable(&self, e: Epoch) -> bool {
        self.durable_accepted >= e || self.cfg.bugs().epoch_not_persisted
    }

    /// Whether currentEpoch ≥ `e` is durable (Z19), unless the bug switch says not to care.
    pub(crate) fn current_durable(&self, e: Epoch) -> bool {
        self.durable_current >= e || self.cfg.bugs().epoch_not_persisted
    }

    /// Moves the local commit point to `z` and tells the caller to apply up to it.
    pub(crate) fn commit_to(&mut self, z: Zxid) {
        if z > self.log.committed() {
            self.log.commit(z);
            self.actions.push(Action::Commit { upto: z });
        }
    }

    pub(crate) fn emit_role(&mut self) {
        let (role, phase) = (self.role(), self.phase());
        debug!(peer = %self.cfg.id, ?role, ?phase, epoch = ?self.epoch(), zxid = %self.log.last(), "role changed");
        self.actions.push(Action::RoleChanged { role, phase });
    }

    /// This node's own vote credentials: (myid, last logged zxid, currentEpoch).
    pub(crate) fn own_vote(&self) -> Vote {
        Vote::new(self.cfg.id, self.log.last(), self.current_epoch)
    }

    /// Leader-only state, for handlers that already matched on the role.
    pub(crate) fn leader_mut(&mut self) -> Option<&mut Leader> {
        match &mut self.role {
            RoleState::Leader(l) => Some(l),
            _ => None,
        }
    }

    /// Learner-only state.
    pub(crate) fn learner_mut(&mut self) -> Option<&mut Learner> {
        match &mut self.role {
            RoleState::Learner(l) => Some(l),
            _ => None,
        }
    }
}

/// A leader's learners (Apache `mntr`: `zk_learners`, `zk_synced_followers`, `zk_synced_observers`,
/// `zk_pending_syncs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnerCounts {
    /// Connected learners.
    pub learners: usize,
    /// Followers in BROADCAST.
    pub synced_followers: usize,
    /// Observers in BROADCAST.
    pub synced_observers: usize,
    /// Forwarded syncs not yet answered.
    pub pending_syncs: usize,
}
