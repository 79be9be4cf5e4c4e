//! [`Error`]: what a recipe operation can fail with.

/// Why a recipe operation failed.
///
/// Kept `Clone + PartialEq + Eq` (like [`zk_client::Error`]) so one failure can be handed to every
/// waiter and compared in tests; variants carrying foreign errors hold their message as a `String`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ZooKeeper operation failed.
    #[error(transparent)]
    Client(#[from] zk_client::Error),
    /// The lock (or lease) node is gone: the session expired or someone deleted it. Ownership
    /// ended at some unknown point before this was noticed.
    #[error("lock lost: {0}")]
    LockLost(String),
    /// This participant is not the leader (any more).
    #[error("not leader")]
    NotLeader,
    /// The client is disconnected and the session may still be alive: ownership is unknown until
    /// it reconnects (Curator's SUSPENDED).
    #[error("connection suspended: ownership unknown")]
    Suspended,
    /// The deadline passed before the operation completed.
    #[error("timed out")]
    Timeout,
    /// A value could not be serialized or deserialized.
    #[error("serialization: {0}")]
    Serialization(String),
    /// An argument was rejected before anything was sent (the message names the rule).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The recipe was closed.
    #[error("closed")]
    Closed,
    /// A write's reply was lost (connection loss) and reading back could not tell whether it was
    /// applied; the message says what was attempted and what was found.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
}
