//! Node configuration: membership and the timeouts, all counted in ticks of the caller's timer.
//!
//! Apache ZooKeeper has two clocks: `tickTime` (initLimit/syncLimit are multiples of it; the leader pings every
//! tickTime/2) and fast leader election's millisecond timers (`finalizeWait` = 200 ms, notifications re-sent
//! with a back-off up to 60 s). The core has one: [`Zab::tick`](crate::Zab::tick). The shell calls it every
//! `tickTime / ticks_per_tick_time`; with the defaults (tickTime 2000 ms, 10 ticks per tickTime) one tick is
//! 200 ms, which is exactly Apache's `finalizeWait`.

use std::collections::BTreeSet;

use crate::{PeerId, QuorumVerifier};

/// Core ticks per ZooKeeper `tickTime`. 10 makes one tick 200 ms at Apache's sample tickTime of 2000 ms.
pub const DEFAULT_TICKS_PER_TICK_TIME: u32 = 10;
/// `initLimit` in tickTimes, as in Apache's `conf/zoo_sample.cfg` (Apache has no built-in default).
pub const DEFAULT_INIT_LIMIT: u32 = 10;
/// `syncLimit` in tickTimes, as in Apache's `conf/zoo_sample.cfg`.
pub const DEFAULT_SYNC_LIMIT: u32 = 5;
/// FLE `finalizeWait` (Apache `FastLeaderElection.finalizeWait` = 200 ms) in ticks.
pub const DEFAULT_FINALIZE_WAIT_TICKS: u32 = 1;
/// FLE `maxNotificationInterval` (Apache: 60 000 ms) in ticks: the cap of the re-send back-off.
pub const DEFAULT_MAX_NOTIFICATION_INTERVAL_TICKS: u32 = 300;
/// Committed txns kept in memory for DIFF after a snapshot (Apache `ZKDatabase.commitLogCount` = 500).
pub const DEFAULT_COMMITTED_LOG_RETAIN: usize = 500;

/// The configuration of one node. A plain struct with `validate()`, like raft-rs's `Config`.
#[derive(Clone, Debug)]
pub struct Config {
    /// This server's myid.
    pub id: PeerId,
    /// Voting members (`server.N=…` without `:observer`), this node included if it votes.
    pub voters: BTreeSet<PeerId>,
    /// Observers (`server.N=…:observer`).
    pub observers: BTreeSet<PeerId>,
    /// Core ticks per tickTime; the leader pings every half tickTime, so this must be ≥ 2.
    pub ticks_per_tick_time: u32,
    /// `initLimit`: tickTimes a learner may take to connect and sync; tickTimes a leader waits for each
    /// discovery/synchronization quorum.
    pub init_limit: u32,
    /// `syncLimit`: tickTimes a learner may be silent in broadcast before the leader drops it, and the leader
    /// silent before the learner gives up on it.
    pub sync_limit: u32,
    /// FLE `finalizeWait` in ticks: how long a quorum-backed proposal must stay unbeaten before deciding.
    pub finalize_wait_ticks: u32,
    /// FLE `maxNotificationInterval` in ticks.
    pub max_notification_interval_ticks: u32,
    /// Txns at or below a snapshot kept in memory to serve DIFFs.
    pub committed_log_retain: usize,
    /// Test-only switches that re-introduce historical bug classes (feature `bug-injection`).
    #[cfg(feature = "bug-injection")]
    pub bugs: Bugs,
}

/// Historical ZooKeeper bug classes, re-introduced on purpose so the simulator can show its checks bite.
#[cfg(feature = "bug-injection")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    /// ACK a proposal (and NEWLEADER) as soon as it is appended, before it is durable (ZK-3911 class).
    pub ack_before_fsync: bool,
    /// Commit a proposal as soon as the leader itself has logged it, without a quorum of ACKs.
    pub commit_before_quorum: bool,
    /// Send TRUNC to a point below the committed zxid the learner already holds (ZK-1154/3642 class).
    pub trunc_below_committed: bool,
    /// A learner applies PROPOSALs received during synchronization before they are committed (ZK-4394 class).
    pub apply_uncommitted_in_sync: bool,
    /// Send ACKEPOCH / NEWLEADER-ACK / LEADERINFO / NEWLEADER before the epoch they carry is durable
    /// (ZK-1343, ZK-2307 class).
    pub epoch_not_persisted: bool,
}

/// A configuration rule that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// There must be at least one voter.
    #[error("the ensemble has no voters")]
    NoVoters,
    /// `id` must be a voter or an observer.
    #[error("myid {0} is neither a voter nor an observer")]
    NotAMember(PeerId),
    /// A server is listed as both voter and observer.
    #[error("server {0} is both a voter and an observer")]
    VoterAndObserver(PeerId),
    /// `ticks_per_tick_time` must be at least 2 (the leader pings every half tickTime).
    #[error("ticks_per_tick_time must be at least 2, got {0}")]
    TicksPerTickTime(u32),
    /// A limit that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
}

impl Config {
    /// A configuration with Apache's sample defaults for `id` in the given membership.
    pub fn new(
        id: PeerId,
        voters: impl IntoIterator<Item = PeerId>,
        observers: impl IntoIterator<Item = PeerId>,
    ) -> Self {
        Config {
            id,
            voters: voters.into_iter().collect(),
            observers: observers.into_iter().collect(),
            ticks_per_tick_time: DEFAULT_TICKS_PER_TICK_TIME,
            init_limit: DEFAULT_INIT_LIMIT,
            sync_limit: DEFAULT_SYNC_LIMIT,
            finalize_wait_ticks: DEFAULT_FINALIZE_WAIT_TICKS,
            max_notification_interval_ticks: DEFAULT_MAX_NOTIFICATION_INTERVAL_TICKS,
            committed_log_retain: DEFAULT_COMMITTED_LOG_RETAIN,
            #[cfg(feature = "bug-injection")]
            bugs: Bugs::default(),
        }
    }

    /// Checks every rule and names the first one that fails.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.voters.is_empty() {
            return Err(ConfigError::NoVoters);
        }
        if let Some(id) = self.voters.intersection(&self.observers).next() {
            return Err(ConfigError::VoterAndObserver(*id));
        }
        if !self.voters.contains(&self.id) && !self.observers.contains(&self.id) {
            return Err(ConfigError::NotAMember(self.id));
        }
        if self.ticks_per_tick_time < 2 {
            return Err(ConfigError::TicksPerTickTime(self.ticks_per_tick_time));
        }
        for (name, v) in [
            ("init_limit", self.init_limit),
            ("sync_limit", self.sync_limit),
            ("finalize_wait_ticks", self.finalize_wait_ticks),
            (
                "max_notification_interval_ticks",
                self.max_notification_interval_ticks,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(())
    }

    /// The membership as a [`QuorumVerifier`].
    pub fn quorum(&self) -> QuorumVerifier {
        QuorumVerifier::new(self.voters.iter().copied(), self.observers.iter().copied())
    }

    /// initLimit in ticks.
    pub(crate) fn init_ticks(&self) -> u64 {
        self.init_limit as u64 * self.ticks_per_tick_time as u64
    }

    /// syncLimit in ticks.
    pub(crate) fn sync_ticks(&self) -> u64 {
        self.sync_limit as u64 * self.ticks_per_tick_time as u64
    }

    /// The leader pings learners every half tickTime (Apache `Leader.lead`, `wait(tickTime / 2)`).
    pub(crate) fn ping_ticks(&self) -> u64 {
        (self.ticks_per_tick_time as u64 / 2).max(1)
    }
}

/// Without the feature every switch is off and compiles away.
#[cfg(not(feature = "bug-injection"))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bugs {
    pub ack_before_fsync: bool,
    pub commit_before_quorum: bool,
    pub trunc_below_committed: bool,
    pub apply_uncommitted_in_sync: bool,
    pub epoch_not_persisted: bool,
}

impl Config {
    /// The active bug switches (all off unless feature `bug-injection` sets them).
    pub(crate) fn bugs(&self) -> Bugs {
        #[cfg(feature = "bug-injection")]
        {
            self.bugs
        }
        #[cfg(not(feature = "bug-injection"))]
        {
            Bugs::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_broken_rule() {
        let ok = Config::new(PeerId(1), [PeerId(1), PeerId(2), PeerId(3)], [PeerId(4)]);
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.voters.clear();
        assert_eq!(c.validate(), Err(ConfigError::NoVoters));
        let mut c = ok.clone();
        c.observers.insert(PeerId(2));
        assert_eq!(c.validate(), Err(ConfigError::VoterAndObserver(PeerId(2))));
        let mut c = ok.clone();
        c.id = PeerId(9);
        assert_eq!(c.validate(), Err(ConfigError::NotAMember(PeerId(9))));
        let mut c = ok.clone();
        c.ticks_per_tick_time = 1;
        assert_eq!(c.validate(), Err(ConfigError::TicksPerTickTime(1)));
        let mut c = ok;
        c.sync_limit = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("sync_limit")));
    }
}
