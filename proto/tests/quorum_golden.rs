//! Golden bytes of Apache ZooKeeper 3.8's quorum protocol, captured between the peers of a real
//! 3-node ensemble (see `fixtures/quorum/README.md` and `scripts/capture/quorum_capture.py`).
//!
//! Each connection direction is replayed as one byte stream through zk-proto's codecs, in small
//! reads; every decoded message must re-encode to exactly the bytes of its fixture line, through
//! both the raw and the typed view. Then the facts the scenario produced are checked: votes and
//! states, the handshake order, epochs, DIFF/SNAP/TRUNC, forwarded requests, pings, revalidation.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use zk_proto::quorum::{
    epoch_of, ElectionCodec, ElectionItem, InitialMessage, LeaderMessage, LearnerMessage,
    Notification, Packet, QuorumCodec, QuorumItem, ServerState, SnapshotItem, PROTOCOL_VERSION_V1,
    ZAB_PROTOCOL_VERSION,
};
use zk_proto::{OpCode, Record, TxnBody};

/// Bytes fed to a codec per read: small and odd, so messages straddle reads.
const READ_SIZE: usize = 7;

/// One recorded message.
struct Line {
    lineno: usize,
    phase: String,
    bytes: Vec<u8>,
}

/// A fixture: per connection and direction, its messages; per connection, its target server.
struct Fixture {
    name: &'static str,
    streams: BTreeMap<(String, String), Vec<Line>>,
    target: BTreeMap<String, i64>,
}

fn load(name: &'static str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/quorum")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut fixture = Fixture {
        name,
        streams: BTreeMap::new(),
        target: BTreeMap::new(),
    };
    let mut phase = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(p) = line.strip_prefix("# phase: ") {
            phase = p.split([':', ' ']).next().unwrap_or("").to_owned();
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            // "# e3 opened: peer -> server.1 election port"
            if let Some((conn, tail)) = rest.split_once(" opened: peer -> server.") {
                let sid = tail.split(' ').next().unwrap().parse().unwrap();
                fixture.target.insert(conn.to_owned(), sid);
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(conn), Some(dir), Some(hex)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        fixture
            .streams
            .entry((conn.to_owned(), dir.to_owned()))
            .or_default()
            .push(Line {
                lineno: i + 1,
                phase: phase.clone(),
                bytes: decode_hex(hex),
            });
    }
    assert!(!fixture.streams.is_empty(), "{name}: no messages");
    fixture
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Feeds a stream's concatenated lines to `codec` in small reads; returns the items with the
/// index of the line each one ends in.
fn replay<D: Decoder>(codec: &mut D, lines: &[Line], at: &str) -> Vec<(usize, D::Item)>
where
    D::Error: std::fmt::Debug,
{
    let wire: Vec<u8> = lines.iter().flat_map(|l| l.bytes.iter().copied()).collect();
    let ends: Vec<usize> = lines
        .iter()
        .scan(0, |end, l| {
            *end += l.bytes.len();
            Some(*end)
        })
        .collect();
    let mut buf = BytesMut::new();
    let (mut fed, mut out) = (0, Vec::new());
    for piece in wire.chunks(READ_SIZE) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        while let Some(item) = codec
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{at}: {e:?}"))
        {
            let consumed = fed - buf.len();
            let line = ends
                .iter()
                .position(|&e| e >= consumed)
                .expect("item inside the stream");
            out.push((line, item));
        }
    }
    assert!(buf.is_empty(), "{at}: {} bytes left undecoded", buf.len());
    out
}

/// The decoded election traffic.
struct Election {
    /// (connection, target sid, initial message)
    initials: Vec<(String, i64, InitialMessage)>,
    /// (connection, direction, phase, notification)
    votes: Vec<(String, String, String, Notification)>,
}

fn replay_election(f: &Fixture) -> Election {
    let mut e = Election {
        initials: Vec::new(),
        votes: Vec::new(),
    };
    for ((conn, dir), lines) in &f.streams {
        let at = format!("{}:{conn} {dir}", f.name);
        let mut codec = if dir == "c2s" {
            ElectionCodec::accepting()
        } else {
            ElectionCodec::connecting()
        };
        let items = replay(&mut codec, lines, &at);
        assert_eq!(items.len(), lines.len(), "{at}: one message per line");
        for (i, (line, item)) in items.into_iter().enumerate() {
            assert_eq!(i, line, "{at}: message {i} ends inside line {line}");
            let l = &lines[line];
            let at = format!("{}:{}", f.name, l.lineno);
            let mut again = BytesMut::new();
            match item {
                ElectionItem::Initial(m) => {
                    m.write(&mut again);
                    e.initials.push((conn.clone(), f.target[conn], m));
                }
                ElectionItem::Frame(payload) => {
                    let n = Notification::decode(&payload).unwrap_or_else(|e| panic!("{at}: {e}"));
                    ElectionCodec::connecting().encode(&n, &mut again).unwrap();
                    e.votes
                        .push((conn.clone(), dir.clone(), l.phase.clone(), n));
                }
            }
            assert_eq!(&again[..], &l.bytes[..], "{at}: re-encoding differs");
        }
    }
    e
}

/// The decoded quorum traffic, per connection, in stream order.
#[derive(Default)]
struct QuorumConn {
    from_learner: Vec<(String, LearnerMessage, Packet)>,
    from_leader: Vec<(String, Result<LeaderMessage, Vec<SnapshotItem>>)>,
}

fn replay_quorum(f: &Fixture) -> BTreeMap<String, QuorumConn> {
    let mut conns: BTreeMap<String, QuorumConn> = BTreeMap::new();
    for ((conn, dir), lines) in &f.streams {
        let at = format!("{}:{conn} {dir}", f.name);
        let learner_side = dir == "s2c";
        let mut codec = if learner_side {
            QuorumCodec::learner()
        } else {
            QuorumCodec::leader()
        };
        let items = replay(&mut codec, lines, &at);
        let c = conns.entry(conn.clone()).or_default();
        let mut snapshot: Vec<SnapshotItem> = Vec::new();
        let mut next_line = 0;
        for (line, item) in items {
            let l = &lines[line];
            let at = format!("{}:{}", f.name, l.lineno);
            match item {
                QuorumItem::Packet(p) => {
                    assert_eq!(line, next_line, "{at}: one packet per line");
                    assert!(snapshot.is_empty(), "{at}: packet inside a snapshot");
                    next_line += 1;
                    assert_eq!(&p.to_bytes()[..], &l.bytes[..], "{at}: raw re-encoding");
                    if learner_side {
                        let m = LeaderMessage::decode(&p).unwrap_or_else(|e| panic!("{at}: {e}"));
                        assert_eq!(m.to_packet(), p, "{at}: typed re-encoding");
                        c.from_leader.push((l.phase.clone(), Ok(m)));
                    } else {
                        let m = LearnerMessage::decode(&p).unwrap_or_else(|e| panic!("{at}: {e}"));
                        assert_eq!(m.to_packet(), p, "{at}: typed re-encoding");
                        c.from_learner.push((l.phase.clone(), m, p));
                    }
                }
                QuorumItem::Snapshot(s) => {
                    assert_eq!(line, next_line, "{at}: snapshot spans lines");
                    let end = s == SnapshotItem::End;
                    snapshot.push(s);
                    if end {
                        let mut again = BytesMut::new();
                        for s in &snapshot {
                            QuorumCodec::leader().encode(s, &mut again).unwrap();
                        }
                        assert_eq!(&again[..], &l.bytes[..], "{at}: snapshot re-encoding");
                        c.from_leader
                            .push((l.phase.clone(), Err(std::mem::take(&mut snapshot))));
                        next_line += 1;
                    }
                }
            }
        }
        assert_eq!(next_line, lines.len(), "{at}: every line decoded");
    }
    conns
}

#[test]
fn election_port_bytes_round_trip_and_votes_match_the_scenario() {
    let f = load("election.txt");
    let e = replay_election(&f);
    assert!(
        e.initials.len() >= 6,
        "{} initial messages",
        e.initials.len()
    );
    assert!(e.votes.len() >= 20, "{} notifications", e.votes.len());

    for (conn, target, m) in &e.initials {
        // 3.8 sends protocol version V1 (multiAddress off) with one host:port.
        let InitialMessage::V1 { sid, .. } = m else {
            panic!("{conn}: {m:?}")
        };
        assert!((1..=3).contains(sid) && sid != target, "{conn}: sid {sid}");
        assert_eq!(m.addresses().unwrap().len(), 1);
        assert_eq!(m.addresses().unwrap()[0].0, "127.0.0.1");
        // Only a connection from the larger sid carries votes: a smaller sid's is closed.
        let carried = e.votes.iter().any(|(c, ..)| c == conn);
        if sid < target {
            assert!(
                !carried,
                "{conn}: votes on a connection from smaller sid {sid}"
            );
        }
    }
    assert!(
        e.initials.iter().any(|(_, target, m)| m.sid() < *target),
        "no connection from a smaller sid was captured"
    );

    for (conn, _, phase, n) in &e.votes {
        // 3.8's layout: version 2 and the sender's config text.
        assert_eq!(n.version, 2, "{conn}");
        let config = n.config_text().unwrap();
        assert!(
            config.contains("server.1=127.0.0.1:") && config.ends_with("version=0"),
            "{conn}: {config:?}"
        );
        if n.state == ServerState::Leading {
            // All start at zxid 0: the largest sid, 3, wins. After it is killed, 1 and 2 hold
            // the same history: 2 wins.
            let first_epoch = ["startup", "writes", "snap", "orphan"].contains(&phase.as_str());
            let expected = if first_epoch { 3 } else { 2 };
            assert_eq!(n.leader, expected, "{conn} in {phase}: {n:?}");
        }
        if phase == "startup" {
            assert_eq!(n.zxid, 0);
        }
    }
    let looking = |p: &str| {
        e.votes
            .iter()
            .any(|(_, _, ph, n)| ph == p && n.state == ServerState::Looking)
    };
    assert!(looking("startup") && looking("failover") && looking("rejoin"));
    // After the failover the winner is in epoch 2, with the last zxid of epoch 1.
    assert!(e
        .votes
        .iter()
        .any(|(_, _, _, n)| n.state == ServerState::Leading
            && n.leader == 2
            && n.peer_epoch == 2
            && epoch_of(n.zxid) == 1));
    assert!(e.votes.iter().all(|(_, _, _, n)| n.peer_epoch <= 2));
    let _ = PROTOCOL_VERSION_V1;
}

#[test]
fn quorum_port_bytes_round_trip_and_match_the_scenario() {
    let f = load("quorum.txt");
    let conns = replay_quorum(&f);
    let mut sync_kinds = Vec::new();
    let (mut proposals, mut requests, mut touches, mut revalidations, mut syncs) = (0, 0, 0, 0, 0);

    for (conn, c) in &conns {
        // Handshake, learner side: FOLLOWERINFO, ACKEPOCH, ACK(NEWLEADER), ACK(UPTODATE).
        let LearnerMessage::FollowerInfo { zxid, info } = &c.from_learner[0].1 else {
            panic!("{conn}: first learner packet {:?}", c.from_learner[0].1)
        };
        assert_eq!(zxid & 0xffff_ffff, 0, "{conn}: acceptedEpoch << 32");
        assert!((1..=3).contains(&info.server_id));
        assert_eq!(info.protocol_version, ZAB_PROTOCOL_VERSION);
        assert_eq!(info.config_version, 0);
        assert!(matches!(
            c.from_learner[1].1,
            LearnerMessage::AckEpoch { current_epoch, .. } if current_epoch >= -1
        ));

        // Handshake, leader side: LEADERINFO, DIFF|TRUNC|SNAP(+snapshot), pairs, NEWLEADER, UPTODATE.
        let Ok(LeaderMessage::LeaderInfo {
            zxid: new_epoch_zxid,
            protocol_version,
        }) = &c.from_leader[0].1
        else {
            panic!("{conn}: first leader packet")
        };
        assert_eq!(*protocol_version, ZAB_PROTOCOL_VERSION);
        assert_eq!(new_epoch_zxid & 0xffff_ffff, 0);
        let new_epoch = epoch_of(*new_epoch_zxid);
        let Ok(kind) = &c.from_leader[1].1 else {
            panic!()
        };
        let mut i = 2;
        match kind {
            LeaderMessage::Snap { .. } => {
                let Err(items) = &c.from_leader[2].1 else {
                    panic!("{conn}: no snapshot after SNAP")
                };
                assert_eq!(items.last(), Some(&SnapshotItem::End));
                let paths: Vec<&str> = items
                    .iter()
                    .filter_map(|s| match s {
                        SnapshotItem::Node { path, .. } => Some(path.as_str()),
                        _ => None,
                    })
                    .collect();
                assert_eq!(paths[0], "", "{conn}: the root comes first");
                assert!(paths.contains(&"/zookeeper/config") && paths.contains(&"/q"));
                i = 3;
            }
            LeaderMessage::Trunc { zxid } => {
                // The old leader's orphan txn is cut back to the last txn of epoch 1.
                assert_eq!(epoch_of(*zxid), new_epoch - 1, "{conn}");
            }
            LeaderMessage::Diff { .. } => {}
            other => panic!("{conn}: {other:?} after LEADERINFO"),
        }
        let mut pairs = 0;
        while let Ok(LeaderMessage::Proposal { zxid, txn }) = &c.from_leader[i].1 {
            let Ok(LeaderMessage::Commit { zxid: committed }) = &c.from_leader[i + 1].1 else {
                panic!("{conn}: PROPOSAL without COMMIT in sync")
            };
            assert_eq!((zxid, committed), (&txn.zxid(), zxid));
            pairs += 1;
            i += 2;
        }
        let Ok(LeaderMessage::NewLeader { zxid, config }) = &c.from_leader[i].1 else {
            panic!("{conn}: no NEWLEADER")
        };
        assert_eq!(zxid, new_epoch_zxid);
        let config = String::from_utf8(config.clone().unwrap().to_vec()).unwrap();
        assert!(config.starts_with("server.1=") && config.ends_with("version=0"));
        // The leader may queue a PING between NEWLEADER and UPTODATE; the learner skips it.
        let after_newleader = c.from_leader[i + 1..]
            .iter()
            .find(|(_, m)| !matches!(m, Ok(LeaderMessage::Ping { .. })));
        assert_eq!(
            after_newleader.map(|(_, m)| m),
            Some(&Ok(LeaderMessage::UpToDate))
        );
        assert_eq!(
            c.from_learner[2].1,
            LearnerMessage::Ack {
                zxid: *new_epoch_zxid
            }
        );
        sync_kinds.push((kind.to_packet().kind().unwrap().name(), pairs));

        for (_, m) in &c.from_leader {
            match m {
                Ok(LeaderMessage::Proposal { zxid, txn }) => {
                    proposals += 1;
                    assert_eq!(*zxid, txn.zxid());
                    // 3.8 has digests on: every proposal ends with TxnDigest version 2.
                    assert_eq!(txn.digest.as_ref().map(|d| d.version), Some(2));
                }
                Ok(LeaderMessage::Revalidate { valid, .. }) => {
                    assert!(valid);
                    revalidations += 1;
                }
                Ok(LeaderMessage::Sync) => syncs += 1,
                _ => {}
            }
        }
        for (_, m, p) in &c.from_learner {
            match m {
                LearnerMessage::Request(r) => {
                    requests += 1;
                    assert_eq!(p.zxid, -1);
                    if r.op == OpCode::CreateSession.code() {
                        // Apache forwards createSession with a null authinfo and the timeout.
                        assert_eq!(r.auth_info, None);
                        assert_eq!(r.request.len(), 4);
                    } else {
                        let auth = r.auth_info.as_ref().expect("authinfo");
                        assert_eq!(
                            (auth[0].scheme.as_str(), auth[0].id.as_str()),
                            ("ip", "127.0.0.1")
                        );
                    }
                }
                LearnerMessage::Ping { touches: t, .. } => touches += t.len(),
                LearnerMessage::Revalidate { timeout, .. } => assert_eq!(*timeout, 6000),
                _ => {}
            }
        }
    }

    let kinds: Vec<&str> = sync_kinds.iter().map(|(k, _)| *k).collect();
    for k in ["DIFF", "SNAP", "TRUNC"] {
        assert!(kinds.contains(&k), "no {k} sync in {kinds:?}");
    }
    assert!(
        sync_kinds
            .iter()
            .any(|&(k, pairs)| k == "DIFF" && pairs >= 2),
        "no DIFF carrying PROPOSAL/COMMIT pairs: {sync_kinds:?}"
    );
    assert!(
        proposals >= 20 && requests >= 10,
        "{proposals} proposals, {requests} requests"
    );
    assert!(touches >= 1, "no PING carried a session touch");
    assert_eq!((revalidations, syncs), (1, 1));
}

#[test]
fn forwarded_writes_carry_the_client_ops() {
    let f = load("quorum.txt");
    let conns = replay_quorum(&f);
    let mut ops = Vec::new();
    let mut created = Vec::new();
    for c in conns.values() {
        for (phase, m, _) in &c.from_learner {
            if let (LearnerMessage::Request(r), "writes") = (m, phase.as_str()) {
                ops.push(r.op);
            }
        }
        for (_, m) in &c.from_leader {
            if let Ok(LeaderMessage::Proposal { txn, .. }) = m {
                if let TxnBody::Create(t) = &txn.body {
                    created.push(t.path.clone());
                }
            }
        }
    }
    use OpCode::*;
    for op in [
        CreateSession,
        Create,
        SetData,
        Multi,
        Delete,
        Sync,
        CloseSession,
    ] {
        assert!(ops.contains(&op.code()), "no forwarded {op:?} in {ops:?}");
    }
    for path in [
        "/q",
        "/q/e",
        "/after-rejoin",
        "/while-down-1",
        "/while-down-2",
    ] {
        assert!(created.iter().any(|p| p == path), "{path} not proposed");
    }
    assert!(created.iter().any(|p| p.starts_with("/q/s-0000000")));
}
