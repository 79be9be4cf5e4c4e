//! Transactions: the unit of every state change.
//!
//! A write request becomes one [`Txn`] in prep (validated against the tree plus the changes still
//! in flight), gets the next zxid, is made durable, and is then applied by
//! [`DataTree::apply`](crate::tree::DataTree::apply). Failed writes become an `ErrorTxn` with their
//! own zxid, as in Apache ZooKeeper, so that every write request consumes exactly one zxid.

/// A ZooKeeper transaction id: epoch in the high 32 bits, counter in the low 32 bits.
pub type Zxid = i64;

/// The epoch of a zxid.
pub const fn epoch_of(zxid: Zxid) -> u32 {
    (zxid >> 32) as u32
}

/// One transaction as it is logged, replicated and applied: header (session, cxid, zxid,
/// time, type), the typed txn record, and the tree digest after it when digests are enabled.
/// It is zk-storage's logged form itself, so the log appends it without a copy.
pub use zk_storage::LoggedTxn as Txn;
