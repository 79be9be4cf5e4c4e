//! The core does no I/O, so its only errors are rejected inputs.

use crate::PeerId;

/// Why the core refused a client-facing input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZabError {
    /// Only an established leader (BROADCAST) proposes; `leader` is who this node follows, if anyone.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node follows, if any.
        leader: Option<PeerId>,
    },
    /// A learner forwards only once synced with its leader (BROADCAST).
    #[error("not serving: no synced leader")]
    NotServing,
    /// The zxid counter of this epoch is used up; Apache forces a re-election (the node is now LOOKING).
    #[error("zxid counter exhausted in this epoch; re-electing")]
    ZxidExhausted,
}
