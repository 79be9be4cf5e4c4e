//! [`LoggedTxn`]: one txn as the log stores it — header, body and (Apache 3.6+) digest. Its
//! serialized form (`Util.marshallTxnEntry`, read by `SerializeUtils.deserializeTxn`) is exactly
//! the payload of a quorum PROPOSAL, so the type is zk-proto's [`TxnEntry`]: one definition for the
//! log and the wire.

pub use zk_proto::quorum::TxnEntry as LoggedTxn;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use zk_proto::records::txn::{CloseSessionTxn, CreateSessionTxn};
    use zk_proto::records::txn::{CreateTxn, TxnDigest};
    use zk_proto::{jute, Acl, OpCode, Record, TxnBody, TxnHeader};

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
