//! Peer messages. Each variant is one Apache ZooKeeper quorum message kind; the I/O shell owns their wire
//! encoding (FLE notification layout on the election port, `QuorumPacket` on the quorum port).
//!
//! Channels: election notifications may be lost, duplicated and reordered (fast leader election tolerates
//! it). ZAB messages travel over one FIFO connection per learner, opened by the learner's
//! `FollowerInfo`/`ObserverInfo` (Apache: one TCP socket per `LearnerHandler`). The shell must deliver a
//! connection's messages in order, and never deliver a message of a closed connection after a newer one opened.

use bytes::Bytes;

use crate::{Epoch, PeerId, Txn, Zxid};

/// A server's state as carried in election notifications (Apache `QuorumPeer.ServerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// Electing a leader.
    Looking,
    /// Following a leader.
    Following,
    /// Leading.
    Leading,
    /// Observing a leader (never votes).
    Observing,
}

/// A vote: who should lead, and the credentials it was chosen on (Apache `Vote`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The proposed leader.
    pub leader: PeerId,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's currentEpoch (Apache `peerEpoch`).
    pub peer_epoch: Epoch,
}

/// An FLE notification (Apache `FastLeaderElection.Notification` / `ToSend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The sender's current vote.
    pub vote: Vote,
    /// The sender's logical clock (Apache `electionEpoch`).
    pub round: u64,
    /// The sender's state.
    pub state: ServerState,
}

/// A peer message. Leader→learner and learner→leader kinds follow Apache's `Leader` packet constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Election port: a fast-leader-election notification.
    Notification(Notification),
    /// FOLLOWERINFO: a follower opens a connection and reports its acceptedEpoch
    /// (Apache sends `makeZxid(acceptedEpoch, 0)`).
    FollowerInfo {
        /// The learner's acceptedEpoch.
        accepted_epoch: Epoch,
    },
    /// OBSERVERINFO: as FOLLOWERINFO, from an observer.
    ObserverInfo {
        /// The learner's acceptedEpoch.
        accepted_epoch: Epoch,
    },
    /// LEADERINFO: the epoch the leader proposes (`makeZxid(epoch, 0)`).
    LeaderInfo {
        /// The new epoch.
        epoch: Epoch,
    },
    /// ACKEPOCH: the learner accepted the epoch; carries its last logged zxid and currentEpoch, or `None`
    /// (Apache: -1) when it had already accepted this epoch before.
    AckEpoch {
        /// The learner's last logged zxid.
        last_zxid: Zxid,
        /// The learner's currentEpoch, `None` if it had accepted this epoch already.
        current_epoch: Option<Epoch>,
    },
    /// DIFF: the learner's log is a prefix of the leader's; missing txns follow as PROPOSAL (+ COMMIT).
    Diff {
        /// The leader's last zxid.
        last_zxid: Zxid,
    },
    /// TRUNC: drop every txn after `zxid`, then txns follow as for DIFF.
    Trunc {
        /// The truncation point (kept).
        zxid: Zxid,
    },
    /// SNAP: replace the state with the leader's snapshot at `zxid`; txns after it follow.
    Snap {
        /// The zxid the snapshot is taken at.
        zxid: Zxid,
        /// The serialized state, opaque to the core.
        data: Bytes,
    },
    /// NEWLEADER: the end of the synced history; carries `makeZxid(newEpoch, 0)`.
    NewLeader {
        /// `makeZxid(newEpoch, 0)`.
        zxid: Zxid,
    },
    /// UPTODATE: the leader is established; the learner may serve.
    UpToDate,
    /// PROPOSAL: a txn to log and ACK.
    Proposal(Txn),
    /// ACK: the learner has durably logged every txn up to `zxid` (or, with counter 0, NEWLEADER).
    Ack {
        /// The acknowledged zxid.
        zxid: Zxid,
    },
    /// COMMIT: `zxid` is committed.
    Commit {
        /// The committed zxid.
        zxid: Zxid,
    },
    /// INFORM: a committed txn, for observers.
    Inform(Txn),
    /// REQUEST: a client request a learner forwards to the leader (opaque to the core).
    Request {
        /// The encoded request.
        payload: Bytes,
    },
    /// PING: liveness in both directions; a learner's PING carries its session touches (opaque).
    Ping {
        /// Session data (opaque; empty from the core).
        payload: Bytes,
    },
    /// REVALIDATE: session revalidation (opaque to the core).
    Revalidate {
        /// The encoded request or reply.
        payload: Bytes,
    },
    /// SYNC: the leader's answer to a forwarded `sync`, sent after every txn proposed before it is committed.
    Sync {
        /// The encoded sync request (opaque).
        payload: Bytes,
    },
}

impl Message {
    /// Whether this travels on the election port (loss, duplication and reordering tolerated).
    pub fn is_election(&self) -> bool {
        matches!(self, Message::Notification(_))
    }

    /// The Apache packet name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Notification(_) => "NOTIFICATION",
            Message::FollowerInfo { .. } => "FOLLOWERINFO",
            Message::ObserverInfo { .. } => "OBSERVERINFO",
            Message::LeaderInfo { .. } => "LEADERINFO",
            Message::AckEpoch { .. } => "ACKEPOCH",
            Message::Diff { .. } => "DIFF",
            Message::Trunc { .. } => "TRUNC",
            Message::Snap { .. } => "SNAP",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::UpToDate => "UPTODATE",
            Message::Proposal(_) => "PROPOSAL",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Inform(_) => "INFORM",
            Message::Request { .. } => "REQUEST",
            Message::Ping { .. } => "PING",
            Message::Revalidate { .. } => "REVALIDATE",
            Message::Sync { .. } => "SYNC",
        }
    }
}

/// Convenience for building a vote.
impl Vote {
    /// A vote for `leader` with its credentials.
    pub fn new(leader: PeerId, zxid: Zxid, peer_epoch: Epoch) -> Self {
        Vote {
            leader,
            zxid,
            peer_epoch,
        }
    }
}
