//! Round trips of every message kind, and Apache 3.8's captured traffic
//! (`proto/tests/fixtures/quorum/`) mapped to core messages and back byte for byte.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};
use zk_proto::quorum::{self as wire, Packet, PacketType};
use zk_proto::Record;
use zk_zab::{Epoch, Message, Notification, PeerId, ServerState, Txn, Vote, Zxid};

use super::*;

fn ctx() -> WireContext {
    WireContext {
        my_id: PeerId(2),
        config_text: Bytes::from_static(b"server.1=127.0.0.1:1:2:participant\nversion=0"),
        ping_zxid: Zxid(0x1_0000_0003),
    }
}

fn request_payload() -> Bytes {
    let p = Packet {
        packet_type: PacketType::Request.code(),
        zxid: -1,
        data: Some(Bytes::from_static(&[
            0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 9,
        ])),
        auth_info: Some(vec![zk_proto::Id {
            scheme: "ip".into(),
            id: "127.0.0.1".into(),
        }]),
    };
    let mut b = BytesMut::new();
    p.write(&mut b);
    b.freeze()
}

#[test]
fn every_quorum_message_kind_round_trips() {
    let e = Epoch(3);
    let t = Txn::new(Zxid::new(e, 1), Bytes::from_static(b"txn-entry-bytes"));
    let learner = vec![
        Message::FollowerInfo { accepted_epoch: e },
        Message::ObserverInfo { accepted_epoch: e },
        Message::AckEpoch {
            last_zxid: Zxid::new(Epoch(2), 7),
            current_epoch: Some(Epoch(2)),
        },
        Message::AckEpoch {
            last_zxid: Zxid::new(Epoch(2), 7),
            current_epoch: None,
        },
        Message::Ack {
            zxid: Zxid::new(e, 0),
        },
        Message::Request {
            payload: request_payload(),
        },
        Message::Ping {
            payload: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x75, 0x30]),
        },
        Message::Revalidate {
            payload: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x75, 0x30]),
        },
    ];
    for m in learner {
        let out = encode(&m, Side::Learner, &ctx()).unwrap();
        assert_eq!(out.trailer, None);
        let bytes = out.packet.to_bytes_for_test();
        let back = Packet::read(&mut bytes.clone()).unwrap();
        assert_eq!(decode_from_learner(&back).unwrap(), m, "{}", m.kind());
        // The reverse direction refuses leader-only kinds.
        assert!(
            encode(&m, Side::Leader, &ctx()).is_err()
                || m.kind() == "REVALIDATE"
                || m.kind() == "PING"
        );
    }
    let (sid, hello) = decode_learner_hello(
        &encode(
            &Message::FollowerInfo { accepted_epoch: e },
            Side::Learner,
            &ctx(),
        )
        .unwrap()
        .packet,
    )
    .unwrap();
    assert_eq!(
        (sid, hello),
        (PeerId(2), Message::FollowerInfo { accepted_epoch: e })
    );

    let leader = vec![
        Message::LeaderInfo { epoch: e },
        Message::Diff {
            last_zxid: Zxid::new(Epoch(2), 9),
        },
        Message::Trunc {
            zxid: Zxid::new(Epoch(2), 4),
        },
        Message::NewLeader {
            zxid: Zxid::new(e, 0),
        },
        Message::UpToDate,
        Message::Proposal(t.clone()),
        Message::Commit { zxid: t.zxid },
        Message::Inform(t.clone()),
        Message::Ping {
            payload: Bytes::new(),
        },
        Message::Revalidate {
            payload: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 1]),
        },
        Message::Sync {
            payload: Bytes::new(),
        },
    ];
    for m in leader {
        let out = encode(&m, Side::Leader, &ctx()).unwrap();
        let bytes = out.packet.to_bytes_for_test();
        let back = Packet::read(&mut bytes.clone()).unwrap();
        assert_eq!(decode_from_leader(&back).unwrap(), m, "{}", m.kind());
    }
    // NEWLEADER carries the membership text; PINGs carry the context's zxid.
    let nl = encode(
        &Message::NewLeader {
            zxid: Zxid::new(e, 0),
        },
        Side::Leader,
        &ctx(),
    )
    .unwrap();
    assert_eq!(nl.packet.data, Some(ctx().config_text));
    let ping = encode(
        &Message::Ping {
            payload: Bytes::new(),
        },
        Side::Leader,
        &ctx(),
    )
    .unwrap();
    assert_eq!(leader_ping_zxid(&ping.packet), Some(ctx().ping_zxid));
    // SNAP: the packet, then the stream as the trailer.
    let data = Bytes::from_static(b"stream");
    let snap = encode(
        &Message::Snap {
            zxid: t.zxid,
            data: data.clone(),
        },
        Side::Leader,
        &ctx(),
    )
    .unwrap();
    assert_eq!(snap.trailer, Some(data));
    assert_eq!(
        decode_from_leader(&snap.packet).unwrap(),
        Message::Snap {
            zxid: t.zxid,
            data: Bytes::new()
        }
    );
    // A SYNC's payload does not travel.
    let sync = encode(
        &Message::Sync {
            payload: Bytes::from_static(b"x"),
        },
        Side::Leader,
        &ctx(),
    )
    .unwrap();
    assert_eq!(sync.packet, wire::LeaderMessage::Sync.to_packet());
}

#[test]
fn notifications_round_trip() {
    for state in [
        ServerState::Looking,
        ServerState::Following,
        ServerState::Leading,
        ServerState::Observing,
    ] {
        let n = Notification {
            vote: Vote::new(PeerId(3), Zxid::new(Epoch(4), 2), Epoch(4)),
            round: 9,
            state,
        };
        let w = notification_to_wire(&n, &ctx().config_text);
        let bytes = w.to_bytes();
        let back = wire::Notification::decode(&bytes).unwrap();
        assert_eq!(back.config, Some(ctx().config_text));
        assert_eq!(notification_from_wire(&back), n);
    }
}

trait ToBytes {
    fn to_bytes_for_test(&self) -> Bytes;
}

impl ToBytes for Packet {
    fn to_bytes_for_test(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.write(&mut b);
        b.freeze()
    }
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../proto/tests/fixtures/quorum/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `(connection, direction, bytes, comment)` of every data line.
fn lines(text: &str) -> Vec<(String, String, Vec<u8>, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (data, comment) = l.split_once('#').unwrap_or((l, ""));
            let mut it = data.split_whitespace();
            let conn = it.next().unwrap().to_string();
            let dir = it.next().unwrap().to_string();
            let hex = it.next().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (conn, dir, bytes, comment.trim().to_string())
        })
        .collect()
}

#[test]
fn apache_notifications_map_and_re_encode_byte_for_byte() {
    let mut seen = 0;
    for (_, _, bytes, comment) in lines(&fixture("election.txt")) {
        if !comment.starts_with("notification") {
            continue;
        }
        let mut b = Bytes::from(bytes);
        let len = b.get_i32() as usize;
        assert_eq!(len, b.len());
        let apache = wire::Notification::decode(&b).unwrap();
        let core = notification_from_wire(&apache);
        let again = notification_to_wire(&core, apache.config.as_ref().unwrap());
        assert_eq!(again.to_bytes(), b, "{comment}");
        seen += 1;
    }
    assert!(seen >= 50, "only {seen} notifications");
}

#[test]
fn apache_quorum_traffic_maps_and_re_encodes_byte_for_byte() {
    let mut kinds: HashMap<&'static str, usize> = HashMap::new();
    let mut learner_sid: HashMap<String, PeerId> = HashMap::new();
    let mut pending_snap: Option<Outgoing> = None;
    for (conn, dir, bytes, comment) in lines(&fixture("quorum.txt")) {
        if comment.starts_with("snapshot") {
            // The stream after SNAP is the core's opaque `Snap.data`, re-emitted as the trailer.
            let snap = pending_snap.take().expect("snapshot after SNAP");
            let Message::Snap { zxid, .. } = decode_from_leader(&snap.packet).unwrap() else {
                panic!()
            };
            let msg = Message::Snap {
                zxid,
                data: Bytes::from(bytes.clone()),
            };
            let out = encode(&msg, Side::Leader, &WireContext::default()).unwrap();
            assert_eq!(out.packet, snap.packet);
            assert_eq!(out.trailer.as_deref(), Some(&bytes[..]));
            *kinds.entry("SNAP stream").or_default() += 1;
            continue;
        }
        let mut b = Bytes::from(bytes.clone());
        let packet = Packet::read(&mut b).unwrap();
        assert!(b.is_empty(), "{comment}");
        let (msg, side) = if dir == "c2s" {
            (decode_from_learner(&packet).unwrap(), Side::Learner)
        } else {
            (decode_from_leader(&packet).unwrap(), Side::Leader)
        };
        if let Message::FollowerInfo { .. } | Message::ObserverInfo { .. } = msg {
            learner_sid.insert(conn.clone(), decode_learner_hello(&packet).unwrap().0);
        }
        if let Message::Snap { .. } = msg {
            pending_snap = Some(Outgoing {
                packet: packet.clone(),
                trailer: None,
            });
        }
        let ctx = WireContext {
            my_id: learner_sid.get(&conn).copied().unwrap_or_default(),
            config_text: packet.data.clone().unwrap_or_default(),
            ping_zxid: Zxid(packet.zxid as u64),
        };
        let out = encode(&msg, side, &ctx).unwrap();
        assert_eq!(out.packet.to_bytes_for_test(), &bytes[..], "{comment}");
        *kinds.entry(msg.kind()).or_default() += 1;
    }
    for kind in [
        "FOLLOWERINFO",
        "LEADERINFO",
        "ACKEPOCH",
        "DIFF",
        "TRUNC",
        "SNAP",
        "SNAP stream",
        "NEWLEADER",
        "UPTODATE",
        "PROPOSAL",
        "ACK",
        "COMMIT",
        "REQUEST",
        "PING",
        "REVALIDATE",
        "SYNC",
    ] {
        assert!(
            kinds.contains_key(kind),
            "no {kind} in the fixture: {kinds:?}"
        );
    }
}
