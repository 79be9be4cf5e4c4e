//! The crate's one error type: a history recorded inconsistently.

use crate::history::{OpId, Time};

/// A history was recorded inconsistently. Checking never fails with an error: a non-linearizable history
/// is a [`CheckResult::Illegal`](crate::CheckResult::Illegal), not an `Err`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// No operation has this id.
    #[error("unknown operation {0}")]
    UnknownOp(OpId),
    /// The operation already has a reply.
    #[error("operation {0} already completed")]
    AlreadyCompleted(OpId),
    /// A reply cannot arrive before its request was sent.
    #[error("operation {op} completed at {completed_at}, before it was invoked at {invoked_at}")]
    CompletedBeforeInvoked {
        /// The operation.
        op: OpId,
        /// When it was invoked.
        invoked_at: Time,
        /// The earlier completion time.
        completed_at: Time,
    },
}
