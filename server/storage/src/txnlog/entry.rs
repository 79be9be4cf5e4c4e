//! [`LoggedTxn`]: one txn as the log stores it — header, body and (Apache 3.6+) digest — and its
//! serialized form (`Util.marshallTxnEntry`, `SerializeUtils.deserializeTxn`).

use bytes::{Bytes, BytesMut};
use zk_proto::records::txn::{CreateTxn, TxnDigest};
use zk_proto::{jute, Acl, DecodeError, OpCode, Record, TxnBody, TxnHeader};

/// Encoded size of a [`TxnDigest`]: an int and a long.
const TXN_DIGEST_LEN: usize = 12;

/// One logged txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    /// Who, when, which zxid, which type.
    pub header: TxnHeader,
    /// The change, typed by `header.txn_type`.
    pub body: TxnBody,
    /// The tree digest after this txn, when the writer had digests enabled (Apache 3.6+ does by
    /// default).
    pub digest: Option<TxnDigest>,
}

impl LoggedTxn {
    /// The txn's zxid.
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }

    /// Appends the serialized entry (header, body, digest) to `buf`, as `Util.marshallTxnEntry`
    /// does; this is what the log checksums and what ZAB proposals carry.
    pub fn encode(&self, buf: &mut BytesMut) {
        self.header.write(buf);
        self.body.write(buf);
        if let Some(digest) = &self.digest {
            digest.write(buf);
        }
    }

    /// The serialized entry.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf.freeze()
    }

    /// Decodes a serialized entry as Apache 3.8's `SerializeUtils.deserializeTxn` does:
    /// - a `create` (type 1) too short for `CreateTxn` is read as the pre-3.3 `CreateTxnV0` (no
    ///   parent cversion, which becomes -1);
    /// - a `closeSession` without a body has no ephemerals to delete;
    /// - after the body, a digest is read if at least 12 bytes remain, and trailing bytes are
    ///   ignored.
    pub fn decode(mut bytes: Bytes) -> Result<Self, DecodeError> {
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
        Ok(LoggedTxn {
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

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::records::txn::{CloseSessionTxn, CreateSessionTxn};

    fn header(txn_type: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x100000a38340000,
            cxid: 0,
            zxid: 1,
            time: 0x1a211ad13e4,
            txn_type,
        }
    }

    #[test]
    fn apache_create_session_record_bytes() {
        // The first record payload of an Apache 3.8.0 log.1 (48 bytes, checksum 0xa1a709b8).
        let txn = LoggedTxn {
            header: header(OpCode::CreateSession.code()),
            body: TxnBody::CreateSession(CreateSessionTxn { timeout: 30000 }),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: 0x51c6_d660,
            }),
        };
        let bytes = txn.to_bytes();
        assert_eq!(bytes.len(), 48);
        assert_eq!(crate::Adler32::checksum(&bytes), 0xa1a7_09b8);
        assert_eq!(LoggedTxn::decode(bytes).unwrap(), txn);
    }

    #[test]
    fn digest_rules() {
        let mut txn = LoggedTxn {
            header: header(OpCode::CloseSession.code()),
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: vec!["/e".into()],
            }),
            digest: None,
        };
        assert_eq!(LoggedTxn::decode(txn.to_bytes()).unwrap(), txn);
        // Fewer than 12 trailing bytes: no digest (Apache's EOFException path).
        let mut buf = BytesMut::from(&txn.to_bytes()[..]);
        buf.extend_from_slice(&[0; 11]);
        assert_eq!(LoggedTxn::decode(buf.freeze()).unwrap().digest, None);
        txn.digest = Some(TxnDigest {
            version: 2,
            tree_digest: -5,
        });
        let mut buf = BytesMut::from(&txn.to_bytes()[..]);
        buf.extend_from_slice(b"trailing");
        assert_eq!(LoggedTxn::decode(buf.freeze()).unwrap(), txn);
        // closeSession without body (pre-3.6).
        let mut buf = BytesMut::new();
        header(OpCode::CloseSession.code()).write(&mut buf);
        let old = LoggedTxn::decode(buf.freeze()).unwrap();
        assert_eq!(old.body, TxnBody::CloseSession(CloseSessionTxn::default()));
    }

    #[test]
    fn create_v0_fallback() {
        let mut buf = BytesMut::new();
        header(OpCode::Create.code()).write(&mut buf);
        jute::write_string(&mut buf, "/old");
        jute::write_buffer(&mut buf, Some(b"d"));
        Acl::open_unsafe().write(&mut buf);
        jute::write_bool(&mut buf, true);
        let txn = LoggedTxn::decode(buf.freeze()).unwrap();
        assert_eq!(
            txn.body,
            TxnBody::Create(CreateTxn {
                path: "/old".into(),
                data: Some(Bytes::from_static(b"d")),
                acl: Acl::open_unsafe(),
                ephemeral: true,
                parent_cversion: -1,
            })
        );
    }

    #[test]
    fn unknown_type_is_an_error() {
        let mut buf = BytesMut::new();
        header(12345).write(&mut buf);
        assert!(LoggedTxn::decode(buf.freeze()).is_err());
    }
}
