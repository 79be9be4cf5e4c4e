//! What the core asks its caller to do. Drained with [`Zab::drain_actions`](crate::Zab::drain_actions) and
//! executed **in order**: durability ordering is data in this list (an ACK appears only after the caller
//! reported the txn durable with [`Zab::persisted`](crate::Zab::persisted)).

use bytes::Bytes;

use crate::{Epoch, Message, PeerId, Txn, Zxid};

/// A node's role (Apache `ServerState` minus the election detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Running fast leader election.
    Looking,
    /// Following `leader`.
    Following {
        /// The leader.
        leader: PeerId,
    },
    /// Observing `leader`.
    Observing {
        /// The leader.
        leader: PeerId,
    },
    /// Leading.
    Leading,
}

/// The ZAB phase (Apache `QuorumPeer.ZabState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZabPhase {
    /// Fast leader election.
    Election,
    /// Phase 1: establishing the new epoch.
    Discovery,
    /// Phase 2: bringing learners up to date.
    Synchronization,
    /// Phase 3: proposing and committing; the node serves clients.
    Broadcast,
}

/// One thing for the caller to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to `to`. Sending `FollowerInfo`/`ObserverInfo` opens a new learner connection to `to`
    /// (close any previous one).
    Send {
        /// Destination.
        to: PeerId,
        /// The message.
        msg: Message,
    },
    /// Send `to` a [`Message::Snap`] carrying the state machine as of `zxid`. Executed in order, the caller's
    /// state has then applied exactly up to `zxid`.
    SendSnapshot {
        /// Destination.
        to: PeerId,
        /// The snapshot point (the leader's committed zxid).
        zxid: Zxid,
    },
    /// Append these txns to the log. Report durability with `persisted(last zxid)`.
    AppendTxns(Vec<Txn>),
    /// Remove every logged txn after `zxid`. Durable with the next `persisted` report.
    Truncate(Zxid),
    /// Replace state and log with this snapshot (from a SNAP). Durable with the next `persisted` report.
    ApplySnapshot {
        /// The zxid the snapshot is taken at.
        zxid: Zxid,
        /// The serialized state.
        data: Bytes,
    },
    /// Write acceptedEpoch and currentEpoch durably, then call `epoch_persisted(accepted, current)`.
    PersistEpoch {
        /// acceptedEpoch.
        accepted: Epoch,
        /// currentEpoch.
        current: Epoch,
    },
    /// Apply every logged txn up to and including `upto` to the state machine (they are committed).
    Commit {
        /// The new commit point.
        upto: Zxid,
    },
    /// The role or phase changed. `Broadcast` means the node may serve clients.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The new phase.
        phase: ZabPhase,
    },
    /// Leader: a learner forwarded a client request; prepare it and call `propose`.
    ForwardedRequest {
        /// The learner.
        from: PeerId,
        /// The encoded request.
        payload: Bytes,
    },
    /// Learner: the leader answered a forwarded `sync`; every txn proposed before it has been committed here.
    SyncReply {
        /// The encoded sync request.
        payload: Bytes,
    },
    /// A learner's PING carried session data (leader) — opaque to the core.
    LearnerPing {
        /// The learner.
        from: PeerId,
        /// Session data.
        payload: Bytes,
    },
    /// A REVALIDATE arrived (opaque to the core).
    Revalidate {
        /// The sender.
        from: PeerId,
        /// The encoded request or reply.
        payload: Bytes,
    },
}
