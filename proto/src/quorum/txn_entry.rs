//! [`TxnEntry`]: the payload of PROPOSAL and INFORM packets (`SerializeUtils.serializeRequest` =
//! `Util.marshallTxnEntry`; read by `SerializeUtils.deserializeTxn`).

use bytes::{Bytes, BytesMut};

use crate::jute::{self, Record};
use crate::records::txn::{CreateTxn, TxnDigest};
use crate::{Acl, DecodeError, OpCode, TxnBody, TxnHeader};

/// Encoded size of a [`TxnDigest`]: an int and a long.
const TXN_DIGEST_LEN: usize = 12;

/// One txn as a proposal carries it: header, body and, when the leader has digests enabled
/// (`zookeeper.digest.enabled`, on by default in 3.8), the tree digest after the txn. The same
/// bytes are what the txn log stores in each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    /// Session, cxid, zxid, time and type.
    pub header: TxnHeader,
    /// The change, typed by `header.txn_type`.
    pub body: TxnBody,
    /// The digest Apache appends with digests enabled.
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    /// The txn's zxid.
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }

    /// Appends header, body and digest.
    pub fn write(&self, buf: &mut BytesMut) {
        self.header.write(buf);
        self.body.write(buf);
        if let Some(digest) = &self.digest {
            digest.write(buf);
        }
    }

    /// The encoded entry.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.write(&mut buf);
        buf.freeze()
    }

    /// Decodes an entry as Apache 3.8's `SerializeUtils.deserializeTxn` does:
    /// - a `create` too short for `CreateTxn` is the pre-3.3 `CreateTxnV0` (parent cversion -1);
    /// - a `closeSession` without a body deletes no ephemerals;
    /// - after the body, a digest is read when at least 12 bytes remain; bytes after that are
    ///   ignored.
    pub fn decode(mut bytes: Bytes) -> Result<TxnEntry, DecodeError> {
        let header = TxnHeader::read(&mut bytes)?;
        let after_header = bytes.clone();
        let body = match TxnBody::read(header.txn_type, &mut bytes) {
            Ok(body) => body,
            Err(DecodeError::Truncated { .. }) if header.txn_type == OpCode::Create.code() => {
                bytes = after_header;
                TxnBody::Create(read_create_v0(&mut bytes)?)
            }
            Err(e) => return Err(e),
        };
        let digest = if bytes.len() >= TXN_DIGEST_LEN {
            Some(TxnDigest::read(&mut bytes)?)
        } else {
            None
        };
        Ok(TxnEntry {
            header,
            body,
            digest,
        })
    }
}

/// `CreateTxnV0`: path, data, acl, ephemeral.
fn read_create_v0(buf: &mut Bytes) -> Result<CreateTxn, DecodeError> {
    Ok(CreateTxn {
        path: jute::read_string(buf, "CreateTxnV0.path")?,
        data: jute::read_buffer(buf, "CreateTxnV0.data")?,
        acl: <Vec<Acl>>::read(buf)?,
        ephemeral: jute::read_bool(buf, "CreateTxnV0.ephemeral")?,
        parent_cversion: -1,
    })
}
