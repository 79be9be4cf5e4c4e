//! The unit of replication: an opaque payload stamped with its zxid.

use bytes::Bytes;

use crate::Zxid;

/// A transaction as ZAB sees it: the leader-assigned zxid and the caller's encoded txn (header, record,
/// digest — opaque here).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Txn {
    /// The zxid.
    pub zxid: Zxid,
    /// The encoded txn.
    pub payload: Bytes,
}

impl Txn {
    /// A txn.
    pub fn new(zxid: Zxid, payload: impl Into<Bytes>) -> Self {
        Txn {
            zxid,
            payload: payload.into(),
        }
    }
}
