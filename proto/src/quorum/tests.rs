//! Property tests for every quorum decoder: round trips, and arbitrary bytes never panic and
//! never make a decoder buffer more than its length cap.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::arbitrary::Arb;
use crate::jute::Record;
use crate::records::quorum::LearnerInfo;
use crate::records::stat::StatPersisted;
use crate::records::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, ErrorTxn, SetDataTxn, TxnDigest,
};
use crate::{Acl, OpCode, TxnBody, TxnHeader};

fn bytes_upto(n: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..n)
}

fn server_state() -> impl Strategy<Value = ServerState> {
    prop_oneof![
        Just(ServerState::Looking),
        Just(ServerState::Following),
        Just(ServerState::Leading),
        Just(ServerState::Observing),
    ]
}

fn notification() -> impl Strategy<Value = Notification> {
    (
        server_state(),
        any::<[i64; 4]>(),
        prop_oneof![Just(0), 2..=i32::MAX],
        Bytes::arb(),
    )
        .prop_map(
            |(state, [leader, zxid, election_epoch, peer_epoch], version, config)| Notification {
                state,
                leader,
                zxid,
                election_epoch,
                peer_epoch,
                version,
                config: (version > 1).then_some(config),
            },
        )
}

fn initial_message() -> impl Strategy<Value = InitialMessage> {
    (0..3u8, any::<i64>(), "[a-z0-9.:|]{1,40}").prop_map(|(kind, sid, addr)| match kind {
        0 => InitialMessage::Legacy {
            sid: sid & i64::MAX,
        },
        1 => InitialMessage::V1 {
            sid,
            election_addr: addr,
        },
        _ => InitialMessage::V2 {
            sid,
            election_addrs: addr,
        },
    })
}

fn txn_entry() -> impl Strategy<Value = TxnEntry> {
    let body = prop_oneof![
        CreateTxn::arb().prop_map(|t| (OpCode::Create, TxnBody::Create(t))),
        DeleteTxn::arb().prop_map(|t| (OpCode::Delete, TxnBody::Delete(t))),
        SetDataTxn::arb().prop_map(|t| (OpCode::SetData, TxnBody::SetData(t))),
        CreateSessionTxn::arb().prop_map(|t| (OpCode::CreateSession, TxnBody::CreateSession(t))),
        CloseSessionTxn::arb().prop_map(|t| (OpCode::CloseSession, TxnBody::CloseSession(t))),
        ErrorTxn::arb().prop_map(|t| (OpCode::Error, TxnBody::Error(t))),
    ];
    (
        TxnHeader::arb(),
        body,
        proptest::option::of(TxnDigest::arb()),
    )
        .prop_map(|(mut header, (op, body), digest)| {
            header.txn_type = op.code();
            TxnEntry {
                header,
                body,
                digest,
            }
        })
}

fn leader_message() -> impl Strategy<Value = LeaderMessage> {
    let z = any::<i64>();
    prop_oneof![
        (z, any::<i32>()).prop_map(|(zxid, protocol_version)| LeaderMessage::LeaderInfo {
            zxid,
            protocol_version
        }),
        z.prop_map(|zxid| LeaderMessage::Diff { zxid }),
        z.prop_map(|zxid| LeaderMessage::Trunc { zxid }),
        z.prop_map(|zxid| LeaderMessage::Snap { zxid }),
        (z, Option::<Bytes>::arb())
            .prop_map(|(zxid, config)| LeaderMessage::NewLeader { zxid, config }),
        Just(LeaderMessage::UpToDate),
        (z, txn_entry()).prop_map(|(zxid, txn)| LeaderMessage::Proposal { zxid, txn }),
        z.prop_map(|zxid| LeaderMessage::Commit { zxid }),
        (z, z).prop_map(
            |(zxid, designated_leader)| LeaderMessage::CommitAndActivate {
                zxid,
                designated_leader
            }
        ),
        (z, txn_entry()).prop_map(|(zxid, txn)| LeaderMessage::Inform { zxid, txn }),
        (z, z, txn_entry()).prop_map(|(zxid, designated_leader, txn)| {
            LeaderMessage::InformAndActivate {
                zxid,
                designated_leader,
                txn,
            }
        }),
        z.prop_map(|last_proposed| LeaderMessage::Ping { last_proposed }),
        (z, any::<bool>())
            .prop_map(|(session_id, valid)| LeaderMessage::Revalidate { session_id, valid }),
        Just(LeaderMessage::Sync),
    ]
}

fn learner_message() -> impl Strategy<Value = LearnerMessage> {
    let z = any::<i64>();
    prop_oneof![
        (z, LearnerInfo::arb())
            .prop_map(|(zxid, info)| LearnerMessage::FollowerInfo { zxid, info }),
        (z, LearnerInfo::arb())
            .prop_map(|(zxid, info)| LearnerMessage::ObserverInfo { zxid, info }),
        (z, any::<i32>()).prop_map(|(last_zxid, current_epoch)| LearnerMessage::AckEpoch {
            last_zxid,
            current_epoch
        }),
        z.prop_map(|zxid| LearnerMessage::Ack { zxid }),
        (z, proptest::collection::vec(any::<(i64, i32)>(), 0..5)).prop_map(|(zxid, t)| {
            LearnerMessage::Ping {
                zxid,
                touches: t
                    .into_iter()
                    .map(|(session_id, timeout)| SessionTouch {
                        session_id,
                        timeout,
                    })
                    .collect(),
            }
        }),
        (z, any::<i32>()).prop_map(|(session_id, timeout)| LearnerMessage::Revalidate {
            session_id,
            timeout
        }),
        (
            z,
            any::<[i32; 2]>(),
            Bytes::arb(),
            proptest::option::of(Vec::<crate::Id>::arb())
        )
            .prop_map(|(session_id, [cxid, op], request, auth_info)| {
                LearnerMessage::Request(ForwardedRequest {
                    session_id,
                    cxid,
                    op,
                    request,
                    auth_info,
                })
            }),
    ]
}

fn snapshot_items() -> impl Strategy<Value = Vec<SnapshotItem>> {
    let sessions = proptest::collection::vec(any::<(i64, i32)>(), 0..4);
    let acls = proptest::collection::vec((any::<i64>(), Vec::<Acl>::arb()), 0..3);
    let nodes = proptest::collection::vec(
        (
            String::arb(),
            Option::<Bytes>::arb(),
            any::<i64>(),
            StatPersisted::arb(),
        ),
        0..4,
    );
    (sessions, acls, nodes).prop_map(|(sessions, acls, nodes)| {
        let mut items = vec![SnapshotItem::Sessions(sessions.len() as i32)];
        items.extend(
            sessions
                .into_iter()
                .map(|(session_id, timeout)| SnapshotItem::Session {
                    session_id,
                    timeout,
                }),
        );
        items.push(SnapshotItem::AclLists(acls.len() as i32));
        items.extend(
            acls.into_iter()
                .map(|(id, acl)| SnapshotItem::AclList { id, acl }),
        );
        items.extend(nodes.into_iter().filter(|(path, ..)| path != "/").map(
            |(path, data, acl, stat)| SnapshotItem::Node {
                path,
                data,
                acl,
                stat,
            },
        ));
        items.push(SnapshotItem::End);
        items
    })
}

/// One decode step of some codec: whether it produced an item.
type StepFn = Box<dyn FnMut(&mut BytesMut) -> bool>;

/// Feeds `wire` to `codec` in `chunk`-byte pieces, collecting every item.
fn decode_in_chunks<D: Decoder>(codec: &mut D, wire: &[u8], chunk: usize) -> Vec<D::Item>
where
    D::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(item) = codec.decode(&mut buf).expect("valid stream") {
            out.push(item);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn packets_round_trip_and_prefixes_fail_cleanly(p in Packet::arb()) {
        let enc = p.to_bytes();
        let mut b = enc.clone();
        prop_assert_eq!(Packet::read(&mut b).unwrap(), p.clone());
        prop_assert!(b.is_empty());
        for cut in 0..enc.len() {
            prop_assert!(Packet::read(&mut enc.slice(..cut)).is_err());
            let mut partial = BytesMut::from(&enc[..cut]);
            prop_assert_eq!(QuorumCodec::leader().decode(&mut partial).unwrap(), None);
        }
    }

    #[test]
    fn notifications_round_trip(n in notification()) {
        let enc = n.to_bytes();
        prop_assert_eq!(Notification::decode(&enc).unwrap(), n.clone());
        let mut framed = BytesMut::new();
        ElectionCodec::connecting().encode(&n, &mut framed).unwrap();
        let items = decode_in_chunks(&mut ElectionCodec::connecting(), &framed, 7);
        prop_assert_eq!(items, vec![ElectionItem::Frame(enc)]);
    }

    #[test]
    fn initial_messages_round_trip(m in initial_message(), chunk in 1..40usize) {
        let mut wire = BytesMut::new();
        m.write(&mut wire);
        let n = Notification::new(ServerState::Looking, 1, 2, 3, 4, "version=0");
        ElectionCodec::connecting().encode(&n, &mut wire).unwrap();
        let items = decode_in_chunks(&mut ElectionCodec::accepting(), &wire, chunk);
        prop_assert_eq!(items, vec![ElectionItem::Initial(m), ElectionItem::Frame(n.to_bytes())]);
    }

    #[test]
    fn leader_messages_round_trip(m in leader_message()) {
        let packet = m.to_packet();
        prop_assert_eq!(LeaderMessage::decode(&packet).unwrap(), m);
    }

    #[test]
    fn learner_messages_round_trip(m in learner_message()) {
        let packet = m.to_packet();
        prop_assert_eq!(LearnerMessage::decode(&packet).unwrap(), m);
    }

    #[test]
    fn txn_entries_round_trip(t in txn_entry()) {
        prop_assert_eq!(TxnEntry::decode(t.to_bytes()).unwrap(), t);
    }

    /// A whole leader → learner stream (packets, a SNAP and its snapshot, more packets) comes
    /// back item for item whatever the read sizes.
    #[test]
    fn learner_streams_round_trip(
        before in proptest::collection::vec(leader_message(), 0..4),
        snapshot in snapshot_items(),
        after in proptest::collection::vec(leader_message(), 0..4),
        chunk in 1..64usize,
    ) {
        let mut expected = Vec::new();
        for m in before.iter().filter(|m| !matches!(m, LeaderMessage::Snap { .. })) {
            expected.push(QuorumItem::Packet(m.to_packet()));
        }
        expected.push(QuorumItem::Packet(LeaderMessage::Snap { zxid: 7 }.to_packet()));
        expected.extend(snapshot.into_iter().map(QuorumItem::Snapshot));
        for m in after.iter().filter(|m| !matches!(m, LeaderMessage::Snap { .. })) {
            expected.push(QuorumItem::Packet(m.to_packet()));
        }
        let mut wire = BytesMut::new();
        let mut tx = QuorumCodec::leader();
        for item in &expected {
            match item {
                QuorumItem::Packet(p) => tx.encode(p, &mut wire).unwrap(),
                QuorumItem::Snapshot(s) => tx.encode(s, &mut wire).unwrap(),
            }
        }
        let got = decode_in_chunks(&mut QuorumCodec::learner(), &wire, chunk);
        prop_assert_eq!(got, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes: every decoder returns (a value, `None` or an error) and never panics.
    #[test]
    fn decoders_never_panic(raw in bytes_upto(160), t in prop_oneof![1..=19i32, any::<i32>()]) {
        let _ = Notification::decode(&raw);
        let _ = InitialMessage::decode(&mut BytesMut::from(&raw[..]));
        let _ = TxnEntry::decode(Bytes::copy_from_slice(&raw));
        let _ = Packet::read(&mut Bytes::copy_from_slice(&raw));
        let packet = Packet { packet_type: t, zxid: 0, data: Some(Bytes::copy_from_slice(&raw)), auth_info: None };
        let _ = LeaderMessage::decode(&packet);
        let _ = LearnerMessage::decode(&packet);
        let _ = SnapshotDecoder::default().decode(&mut BytesMut::from(&raw[..]));
    }

    /// Arbitrary byte streams through the stream codecs: no panic, and the read buffer never
    /// grows beyond what was received plus the codec's length cap.
    #[test]
    fn stream_codecs_stay_within_their_caps(raw in bytes_upto(600), chunk in 1..64usize, snap in any::<bool>()) {
        const FIELD: usize = 128;
        const ITEM: usize = 256;
        let mut prefix = BytesMut::new();
        if snap {
            LeaderMessage::Snap { zxid: 1 }.to_packet().write(&mut prefix);
        }
        prefix.extend_from_slice(&raw);
        let codecs: [StepFn; 3] = [
            {
                let mut c = QuorumCodec::learner().with_limits(FIELD, ITEM);
                Box::new(move |b| matches!(c.decode(b), Ok(Some(_))))
            },
            {
                let mut c = ElectionCodec::accepting().with_max_len(ITEM);
                Box::new(move |b| matches!(c.decode(b), Ok(Some(_))))
            },
            {
                let mut c = ElectionCodec::connecting().with_max_len(ITEM);
                Box::new(move |b| matches!(c.decode(b), Ok(Some(_))))
            },
        ];
        for mut decode in codecs {
            let mut buf = BytesMut::new();
            for piece in prefix.chunks(chunk) {
                buf.extend_from_slice(piece);
                loop {
                    let progressed = decode(&mut buf);
                    prop_assert!(buf.capacity() <= 2 * (prefix.len() + ITEM + 16),
                        "capacity {} for {} bytes", buf.capacity(), prefix.len());
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
}
