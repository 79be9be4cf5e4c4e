//! Durable state: what a node must find on disk after a restart.

use crate::{Epoch, Txn, Zxid};

/// What the caller restores from its data dir before [`Zab::new`](crate::Zab::new): the epoch files, the
/// latest snapshot's zxid and the txns logged after it. A brand-new node uses `PersistentState::default()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersistentState {
    /// The `acceptedEpoch` file.
    pub accepted_epoch: Epoch,
    /// The `currentEpoch` file.
    pub current_epoch: Epoch,
    /// The zxid of the snapshot the state machine was loaded from (`Zxid::ZERO` if none).
    pub snapshot_zxid: Zxid,
    /// Logged txns after `snapshot_zxid`, in zxid order.
    pub log: Vec<Txn>,
    /// How far the caller's state machine has applied (≥ `snapshot_zxid`). Only txns known to be committed
    /// may be applied; the core commits the rest of the log once a leader vouches for it.
    pub applied: Zxid,
}
