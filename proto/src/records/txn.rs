//! Transaction records: what the txn log, snapshots and quorum proposals carry
//! (`org.apache.zookeeper.txn`, `org.apache.zookeeper.server.persistence.FileHeader`).

use bytes::Bytes;

use crate::jute::record;
use crate::records::acl::Acl;

record! {
    /// Precedes every txn: who issued it, its zxid and time, and its type (an [`OpCode`](crate::OpCode)).
    pub struct TxnHeader {
        /// The session that issued the request.
        pub client_id: i64,
        /// The request's xid.
        pub cxid: i32,
        /// The txn's zxid.
        pub zxid: i64,
        /// Leader's time when the txn was created, milliseconds since the epoch.
        pub time: i64,
        /// The txn type (an opcode; -1 for an error txn).
        pub txn_type: i32,
    }
}

record! {
    /// The digest Apache 3.6+ appends to txns when digests are enabled.
    pub struct TxnDigest {
        /// Digest version (2 in 3.8).
        pub version: i32,
        /// The tree digest after applying the txn.
        pub tree_digest: i64,
    }
}

record! {
    /// Creation of a persistent or ephemeral node.
    pub struct CreateTxn {
        /// The full path (with the sequential suffix).
        pub path: String,
        /// The data.
        pub data: Option<Bytes>,
        /// The ACL.
        pub acl: Vec<Acl>,
        /// Whether the node is ephemeral (owned by the txn's session).
        pub ephemeral: bool,
        /// The parent's cversion after this create.
        pub parent_cversion: i32,
    }
}

record! {
    /// Creation of a TTL node.
    pub struct CreateTtlTxn {
        /// The full path.
        pub path: String,
        /// The data.
        pub data: Option<Bytes>,
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The parent's cversion after this create.
        pub parent_cversion: i32,
        /// Time to live in milliseconds.
        pub ttl: i64,
    }
}

record! {
    /// Creation of a container node.
    pub struct CreateContainerTxn {
        /// The full path.
        pub path: String,
        /// The data.
        pub data: Option<Bytes>,
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The parent's cversion after this create.
        pub parent_cversion: i32,
    }
}

record! {
    /// Deletion of a node (also deleteContainer).
    pub struct DeleteTxn {
        /// The path.
        pub path: String,
    }
}

record! {
    /// A data change.
    pub struct SetDataTxn {
        /// The path.
        pub path: String,
        /// The new data.
        pub data: Option<Bytes>,
        /// The new version.
        pub version: i32,
    }
}

record! {
    /// A version check inside a multi.
    pub struct CheckVersionTxn {
        /// The path.
        pub path: String,
        /// The checked version.
        pub version: i32,
    }
}

record! {
    /// An ACL change.
    pub struct SetAclTxn {
        /// The path.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// The new aversion.
        pub version: i32,
    }
}

record! {
    /// Creation of a session.
    pub struct CreateSessionTxn {
        /// The negotiated timeout in milliseconds.
        pub timeout: i32,
    }
}

record! {
    /// Closing (or expiry) of a session, listing the ephemerals to delete (Apache 3.6+).
    pub struct CloseSessionTxn {
        /// Paths of the session's ephemeral nodes.
        pub paths_to_delete: Vec<String>,
    }
}

record! {
    /// A request that failed in the leader (inside a multi, or a whole failed request).
    pub struct ErrorTxn {
        /// The error code.
        pub err: i32,
    }
}

record! {
    /// One sub-txn of a multi: its type and its encoded record.
    pub struct Txn {
        /// The sub-txn type (an opcode, or -1 for error).
        pub txn_type: i32,
        /// The encoded sub-txn record.
        pub data: Option<Bytes>,
    }
}

record! {
    /// A multi txn: its sub-txns, applied atomically.
    pub struct MultiTxn {
        /// The sub-txns.
        pub txns: Vec<Txn>,
    }
}

record! {
    /// The header of txn log and snapshot files.
    pub struct FileHeader {
        /// `ZKLG` (txn log) or `ZKSN` (snapshot) as a big-endian int.
        pub magic: i32,
        /// Format version, 2.
        pub version: i32,
        /// Database id, 0 (unused).
        pub dbid: i64,
    }
}

/// The body of a txn, typed by the [`TxnHeader::txn_type`] it was logged with (as
/// `SerializeUtils.deserializeTxn` and `DataTree.processTxn` interpret it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// create (1) or create2 (15): the header keeps which.
    Create(CreateTxn),
    /// createContainer (19).
    CreateContainer(CreateContainerTxn),
    /// createTTL (21).
    CreateTtl(CreateTtlTxn),
    /// delete (2) or deleteContainer (20).
    Delete(DeleteTxn),
    /// setData (5); also reconfig (16), which sets `/zookeeper/config`.
    SetData(SetDataTxn),
    /// setACL (7).
    SetAcl(SetAclTxn),
    /// check (13).
    Check(CheckVersionTxn),
    /// multi (14).
    Multi(MultiTxn),
    /// createSession (-10).
    CreateSession(CreateSessionTxn),
    /// closeSession (-11); Apache 3.6+ lists the ephemerals to delete, older versions log no body.
    CloseSession(CloseSessionTxn),
    /// error (-1).
    Error(ErrorTxn),
}

impl TxnBody {
    /// Appends the body's encoding to `buf`.
    pub fn write(&self, buf: &mut bytes::BytesMut) {
        use crate::jute::Record;
        match self {
            TxnBody::Create(t) => t.write(buf),
            TxnBody::CreateContainer(t) => t.write(buf),
            TxnBody::CreateTtl(t) => t.write(buf),
            TxnBody::Delete(t) => t.write(buf),
            TxnBody::SetData(t) => t.write(buf),
            TxnBody::SetAcl(t) => t.write(buf),
            TxnBody::Check(t) => t.write(buf),
            TxnBody::Multi(t) => t.write(buf),
            TxnBody::CreateSession(t) => t.write(buf),
            TxnBody::CloseSession(t) => t.write(buf),
            TxnBody::Error(t) => t.write(buf),
        }
    }

    /// Decodes the body of a txn logged with type `txn_type`.
    pub fn read(txn_type: i32, buf: &mut Bytes) -> Result<Self, crate::DecodeError> {
        use crate::jute::Record;
        use crate::OpCode;
        Ok(match OpCode::try_from(txn_type)? {
            OpCode::Create | OpCode::Create2 => TxnBody::Create(Record::read(buf)?),
            OpCode::CreateContainer => TxnBody::CreateContainer(Record::read(buf)?),
            OpCode::CreateTtl => TxnBody::CreateTtl(Record::read(buf)?),
            OpCode::Delete | OpCode::DeleteContainer => TxnBody::Delete(Record::read(buf)?),
            OpCode::SetData | OpCode::Reconfig => TxnBody::SetData(Record::read(buf)?),
            OpCode::SetAcl => TxnBody::SetAcl(Record::read(buf)?),
            OpCode::Check => TxnBody::Check(Record::read(buf)?),
            OpCode::Multi => TxnBody::Multi(Record::read(buf)?),
            OpCode::CreateSession => TxnBody::CreateSession(Record::read(buf)?),
            OpCode::CloseSession => {
                if buf.is_empty() {
                    TxnBody::CloseSession(CloseSessionTxn::default())
                } else {
                    TxnBody::CloseSession(Record::read(buf)?)
                }
            }
            OpCode::Error => TxnBody::Error(Record::read(buf)?),
            _ => {
                return Err(crate::DecodeError::BadValue {
                    what: "txn type",
                    value: txn_type.into(),
                })
            }
        })
    }

    /// Wraps this body as one sub-txn of a [`MultiTxn`], typed `txn_type`.
    pub fn to_sub_txn(&self, txn_type: i32) -> Txn {
        let mut buf = bytes::BytesMut::new();
        self.write(&mut buf);
        Txn {
            txn_type,
            data: Some(buf.freeze()),
        }
    }
}

impl Txn {
    /// Decodes this sub-txn's body.
    pub fn body(&self) -> Result<TxnBody, crate::DecodeError> {
        let mut data = self.data.clone().unwrap_or_default();
        TxnBody::read(self.txn_type, &mut data)
    }
}
