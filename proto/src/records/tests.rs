//! Property tests over every record: encode/decode round-trips, and decoders never panic on
//! arbitrary bytes (they return a value or a `DecodeError`).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::arbitrary::Arb;
use crate::jute::Record;
use crate::records::acl::{Acl, Id};
use crate::records::auth::{AuthPacket, ClientInfo, SaslToken, WhoAmIResponse};
use crate::records::children::*;
use crate::records::connect::{ConnectRequest, ConnectResponse};
use crate::records::header::{MultiHeader, ReplyHeader, RequestHeader};
use crate::records::multi::{MultiRequest, MultiResponse};
use crate::records::node::*;
use crate::records::quorum::{LearnerInfo, QuorumAuthPacket, QuorumPacket};
use crate::records::reconfig::ReconfigRequest;
use crate::records::stat::{Stat, StatPersisted};
use crate::records::txn::*;
use crate::records::watches::*;
use crate::{OpCode, RequestBody, ResponseBody};

fn round_trip<T: Record + PartialEq + std::fmt::Debug>(v: &T) {
    let mut buf = BytesMut::new();
    v.write(&mut buf);
    let mut bytes = buf.freeze();
    let back = T::read(&mut bytes).expect("decodes what it encoded");
    assert_eq!(&back, v);
    assert!(bytes.is_empty(), "decoder left {} bytes", bytes.len());
}

fn never_panics<T: Record>(raw: &[u8]) {
    let mut bytes = Bytes::copy_from_slice(raw);
    let _ = T::read(&mut bytes);
}

macro_rules! record_props {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $name(v in <$ty as Arb>::arb(), raw in proptest::collection::vec(any::<u8>(), 0..96)) {
                    round_trip(&v);
                    never_panics::<$ty>(&raw);
                    // Every strict prefix of a valid encoding must fail cleanly, not panic.
                    let enc = v.to_bytes();
                    for cut in 0..enc.len() {
                        never_panics::<$ty>(&enc[..cut]);
                    }
                }
            )*
        }
    };
}

record_props! {
    id: Id, acl: Acl, stat: Stat, stat_persisted: StatPersisted,
    connect_request: ConnectRequest, connect_response: ConnectResponse,
    request_header: RequestHeader, reply_header: ReplyHeader, multi_header: MultiHeader,
    create_request: CreateRequest, create_ttl_request: CreateTtlRequest,
    create_response: CreateResponse, create2_response: Create2Response,
    delete_request: DeleteRequest, exists_request: ExistsRequest, stat_response: StatResponse,
    get_data_request: GetDataRequest, get_data_response: GetDataResponse,
    set_data_request: SetDataRequest, check_version_request: CheckVersionRequest,
    path_request: PathRequest, get_acl_response: GetAclResponse, set_acl_request: SetAclRequest,
    sync_response: SyncResponse, error_response: ErrorResponse,
    get_children_request: GetChildrenRequest, get_children_response: GetChildrenResponse,
    get_children2_response: GetChildren2Response, get_ephemerals_response: GetEphemeralsResponse,
    get_all_children_number_response: GetAllChildrenNumberResponse,
    watcher_event: WatcherEvent, set_watches: SetWatches, set_watches2: SetWatches2,
    add_watch_request: AddWatchRequest, remove_watches_request: RemoveWatchesRequest,
    auth_packet: AuthPacket, sasl_token: SaslToken, client_info: ClientInfo,
    who_am_i_response: WhoAmIResponse, reconfig_request: ReconfigRequest,
    multi_request: MultiRequest, multi_response: MultiResponse,
    txn_header: TxnHeader, txn_digest: TxnDigest, create_txn: CreateTxn,
    create_ttl_txn: CreateTtlTxn, create_container_txn: CreateContainerTxn, delete_txn: DeleteTxn,
    set_data_txn: SetDataTxn, check_version_txn: CheckVersionTxn, set_acl_txn: SetAclTxn,
    create_session_txn: CreateSessionTxn, close_session_txn: CloseSessionTxn, error_txn: ErrorTxn,
    txn: Txn, multi_txn: MultiTxn, file_header: FileHeader,
    learner_info: LearnerInfo, quorum_packet: QuorumPacket, quorum_auth_packet: QuorumAuthPacket,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any opcode and any bytes: the typed request decoder returns, never panics.
    #[test]
    fn request_body_decoder_never_panics(opcode in prop_oneof![
        proptest::sample::select(OpCode::ALL.iter().map(|o| o.code()).collect::<Vec<_>>()),
        any::<i32>(),
    ], raw in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut bytes = Bytes::from(raw);
        if let Ok(body) = RequestBody::read(opcode, &mut bytes) {
            prop_assert_eq!(body.opcode().code(), opcode);
        }
    }

    /// Any opcode and any bytes: the typed response decoder returns, never panics.
    #[test]
    fn response_body_decoder_never_panics(
        opcode in proptest::sample::select(OpCode::ALL.to_vec()),
        raw in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut bytes = Bytes::from(raw);
        let _ = ResponseBody::read(opcode, &mut bytes);
    }
}

#[test]
fn request_bodies_round_trip_through_their_opcode() {
    let bodies = vec![
        RequestBody::Create2(CreateRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: Acl::open_unsafe(),
            flags: 3,
        }),
        RequestBody::Ping,
        RequestBody::WhoAmI,
        RequestBody::CloseSession,
        RequestBody::Sync(PathRequest { path: "/".into() }),
        RequestBody::AddWatch(AddWatchRequest {
            path: "/w".into(),
            mode: AddWatchMode::PersistentRecursive.code(),
        }),
    ];
    for body in bodies {
        let mut buf = BytesMut::new();
        body.write(&mut buf);
        let mut bytes = buf.freeze();
        assert_eq!(
            RequestBody::read(body.opcode().code(), &mut bytes).unwrap(),
            body
        );
        assert!(bytes.is_empty());
    }
}

#[test]
fn txn_bodies_round_trip_through_their_type() {
    let create = TxnBody::Create(CreateTxn {
        path: "/a".into(),
        data: None,
        acl: Acl::open_unsafe(),
        ephemeral: true,
        parent_cversion: 3,
    });
    let bodies = vec![
        (OpCode::Create2.code(), create.clone()),
        (
            OpCode::Multi.code(),
            TxnBody::Multi(MultiTxn {
                txns: vec![create.to_sub_txn(OpCode::Create.code())],
            }),
        ),
        (
            OpCode::CloseSession.code(),
            TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: vec!["/e".into()],
            }),
        ),
        (OpCode::Error.code(), TxnBody::Error(ErrorTxn { err: -101 })),
    ];
    for (t, body) in bodies {
        let mut buf = BytesMut::new();
        body.write(&mut buf);
        let mut bytes = buf.freeze();
        assert_eq!(TxnBody::read(t, &mut bytes).unwrap(), body);
    }
    if let TxnBody::Multi(m) = &TxnBody::Multi(MultiTxn {
        txns: vec![create.to_sub_txn(1)],
    }) {
        assert_eq!(m.txns[0].body().unwrap(), create);
    }
    // A 3.5-style closeSession with no body.
    assert_eq!(
        TxnBody::read(OpCode::CloseSession.code(), &mut Bytes::new()).unwrap(),
        TxnBody::CloseSession(CloseSessionTxn::default())
    );
}
