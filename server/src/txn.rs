//! Transactions: the unit of every state change.
//!
//! A write request becomes one [`Txn`] in prep (validated against the tree plus the changes still
//! in flight), gets the next zxid, is made durable, and is then applied by
//! [`DataTree::apply`](crate::tree::DataTree::apply). Failed writes become an `ErrorTxn` with their
//! own zxid, as in Apache ZooKeeper, so that every write request consumes exactly one zxid.

use zk_proto::records::txn::TxnDigest;
use zk_proto::{TxnBody, TxnHeader};

/// A ZooKeeper transaction id: epoch in the high 32 bits, counter in the low 32 bits.
pub type Zxid = i64;

/// The epoch of a zxid.
pub const fn epoch_of(zxid: Zxid) -> u32 {
    (zxid >> 32) as u32
}

/// One transaction as it is logged, replicated and applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Session, cxid, zxid, time and type.
    pub header: TxnHeader,
    /// The typed txn record.
    pub body: TxnBody,
    /// The tree digest after this txn, when digests are enabled.
    pub digest: Option<TxnDigest>,
}

impl Txn {
    /// The zxid of this txn.
    pub fn zxid(&self) -> Zxid {
        self.header.zxid
    }
}
