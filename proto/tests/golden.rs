//! Golden byte vectors captured from a real exchange between Apache ZooKeeper 3.8's Java client
//! and server (see `fixtures/README.md` and `scripts/capture/`).
//!
//! Every captured frame is decoded with zk-proto — requests by their header's opcode, replies by
//! the opcode of the request with the same xid, notifications as `WatcherEvent`s — and encoded
//! again; the bytes must be identical. A few decoded values are then checked against what the
//! scenario did.

use std::collections::HashMap;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use zk_proto::{
    ConnectRequest, ConnectResponse, EventType, MultiResult, OpCode, Record, ReplyHeader,
    RequestBody, RequestHeader, ResponseBody, WatcherEvent, NOTIFICATION_XID, PING_XID,
};

/// One decoded frame.
#[derive(Debug)]
enum Decoded {
    Connect(ConnectRequest),
    Connected(ConnectResponse),
    Request(RequestHeader, RequestBody),
    Reply(ReplyHeader, Option<ResponseBody>),
    Notification(WatcherEvent),
}

/// Decodes every frame of a fixture, asserting each re-encodes to the captured bytes.
fn replay(name: &str) -> Vec<Decoded> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    let (mut client_hello, mut server_hello) = (true, true);
    let mut pending: HashMap<i32, OpCode> = HashMap::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("# connection") && line.ends_with("opened") {
            client_hello = true;
            server_hello = true;
            continue;
        }
        let (dir, hex) = match line.split_once(' ') {
            Some((d @ ("c2s" | "s2c"), rest)) => (d, rest.split('#').next().unwrap_or("").trim()),
            _ => continue,
        };
        let raw = decode_hex(hex);
        let at = format!("{name}:{}", lineno + 1);
        let len = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        assert_eq!(len, raw.len() - 4, "{at}: length prefix");
        let mut body = Bytes::copy_from_slice(&raw[4..]);
        let mut again = BytesMut::new();
        let decoded = if dir == "c2s" && client_hello {
            client_hello = false;
            let r = ConnectRequest::read(&mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
            r.write(&mut again);
            Decoded::Connect(r)
        } else if dir == "c2s" {
            let h = RequestHeader::read(&mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
            let b = RequestBody::read(h.opcode, &mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
            pending.insert(h.xid, b.opcode());
            h.write(&mut again);
            b.write(&mut again);
            Decoded::Request(h, b)
        } else if server_hello {
            server_hello = false;
            let r = ConnectResponse::read(&mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
            r.write(&mut again);
            Decoded::Connected(r)
        } else {
            let h = ReplyHeader::read(&mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
            h.write(&mut again);
            if h.xid == NOTIFICATION_XID {
                let e = WatcherEvent::read(&mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
                e.write(&mut again);
                Decoded::Notification(e)
            } else if h.err != 0 || h.xid == PING_XID {
                Decoded::Reply(h, None)
            } else {
                let op = *pending
                    .get(&h.xid)
                    .unwrap_or_else(|| panic!("{at}: reply to unknown xid {}", h.xid));
                let b = ResponseBody::read(op, &mut body).unwrap_or_else(|e| panic!("{at}: {e}"));
                b.write(&mut again);
                Decoded::Reply(h, Some(b))
            }
        };
        assert!(body.is_empty(), "{at}: {} bytes left undecoded", body.len());
        assert_eq!(
            &again[..],
            &raw[4..],
            "{at}: re-encoding differs from the captured bytes"
        );
        out.push(decoded);
    }
    assert!(!out.is_empty(), "{name} holds no frames");
    out
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn every_fixture_round_trips_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the captured fixtures, found {names:?}"
    );
    for name in names {
        replay(&name);
    }
}

#[test]
fn handshake_carries_the_read_only_byte_both_ways() {
    let frames = replay("connect_close.txt");
    let Decoded::Connect(req) = &frames[0] else {
        panic!("first frame is not a ConnectRequest")
    };
    assert_eq!(req.read_only, Some(false));
    assert_eq!(req.session_id, 0);
    let Decoded::Connected(resp) = &frames[1] else {
        panic!("second frame is not a ConnectResponse")
    };
    assert_eq!(resp.read_only, Some(false));
    assert_ne!(resp.session_id, 0);
    assert_eq!(resp.passwd.as_ref().map(|p| p.len()), Some(16));
}

#[test]
fn failed_multi_reports_ok_error_then_runtime_inconsistency() {
    let frames = replay("multi.txt");
    let layouts: Vec<Vec<i32>> = frames
        .iter()
        .filter_map(|f| match f {
            Decoded::Reply(h, Some(ResponseBody::Multi(m))) if h.err == 0 => Some(
                m.results
                    .iter()
                    .filter_map(|r| match r {
                        MultiResult::Error { err } => Some(*err),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    assert!(layouts.contains(&vec![0, -103, -2]), "{layouts:?}");
}

#[test]
fn reconnect_resends_persistent_watches_with_set_watches2() {
    let frames = replay("reconnect_set_watches2.txt");
    let (header, sw) = frames
        .iter()
        .find_map(|f| match f {
            Decoded::Request(h, RequestBody::SetWatches2(sw)) => Some((h, sw)),
            _ => None,
        })
        .expect("a setWatches2 after the reconnect");
    // The Java client builds it with SET_WATCHES_XID but sends it with an ordinary xid.
    assert!(header.xid > 0, "xid {}", header.xid);
    assert_eq!(
        sw.persistent_recursive_watches,
        vec!["/golden-rw2".to_string()]
    );
    assert_eq!(sw.persistent_watches, vec!["/golden-rw2/child".to_string()]);
    assert!(sw.relative_zxid > 0);
}

#[test]
fn notifications_decode_to_watch_events() {
    let frames = replay("watch_notification.txt");
    let kinds: Vec<EventType> = frames
        .iter()
        .filter_map(|f| match f {
            Decoded::Notification(e) => EventType::try_from(e.event_type).ok(),
            _ => None,
        })
        .collect();
    for k in [
        EventType::NodeDataChanged,
        EventType::NodeCreated,
        EventType::NodeChildrenChanged,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
}
