//! Protocol corners a real 3.8 server does not show, played by a scripted fake server: the
//! setWatches fallback for 3.5 servers, and hostile or malformed replies (never a panic).

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_client::{Client, Error, EventType, SessionState};
use zk_proto::records::node::{GetDataRequest, GetDataResponse};
use zk_proto::records::watches::{SetWatches, SetWatches2};
use zk_proto::{
    write_frame, ConnectRequest, ConnectResponse, ErrorCode, KeeperState, OpCode, Record,
    ReplyHeader, RequestHeader, Stat, WatcherEvent, NOTIFICATION_XID, SET_WATCHES_XID,
};

/// Reads one length-prefixed frame.
async fn read_frame(s: &mut TcpStream) -> Bytes {
    let len = s.read_i32().await.expect("frame length") as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await.expect("frame body");
    Bytes::from(buf)
}

async fn send(s: &mut TcpStream, fill: impl FnOnce(&mut BytesMut)) {
    let mut out = BytesMut::new();
    write_frame(&mut out, fill);
    s.write_all(&out).await.unwrap();
}

/// Accepts a connection and answers its handshake; returns the ConnectRequest.
async fn accept(l: &TcpListener, session_id: i64) -> (TcpStream, ConnectRequest) {
    let (mut s, _) = within("client connection", l.accept()).await.unwrap();
    let req = ConnectRequest::read(&mut read_frame(&mut s).await).unwrap();
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout: 10_000,
        session_id,
        passwd: Some(Bytes::from_static(&[7u8; 16])),
        read_only: Some(false),
    };
    send(&mut s, |b| resp.write(b)).await;
    (s, req)
}

async fn read_request(s: &mut TcpStream) -> (RequestHeader, Bytes) {
    let mut frame = within("request", read_frame(s)).await;
    let h = RequestHeader::read(&mut frame).unwrap();
    (h, frame)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_watches_falls_back_to_version_one_when_the_server_lacks_it() {
    init_tracing();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let server = async {
        // 1: a watch is set at zxid 5.
        let (mut s, req) = accept(&l, 0x42).await;
        assert_eq!(req.session_id, 0);
        let (h, mut body) = read_request(&mut s).await;
        assert_eq!(h.opcode, OpCode::GetData.code());
        assert!(GetDataRequest::read(&mut body).unwrap().watch);
        send(&mut s, |b| {
            ReplyHeader {
                xid: h.xid,
                zxid: 5,
                err: 0,
            }
            .write(b);
            GetDataResponse {
                data: Some(Bytes::from_static(b"d")),
                stat: Stat::default(),
            }
            .write(b);
        })
        .await;
        drop(s);

        // 2: a 3.5 server: setWatches2 is UNIMPLEMENTED, then the connection closes.
        let (mut s, req) = accept(&l, 0x42).await;
        assert_eq!((req.session_id, req.last_zxid_seen), (0x42, 5));
        assert_eq!(req.passwd.as_deref(), Some(&[7u8; 16][..]));
        let (h, mut body) = read_request(&mut s).await;
        assert_eq!(
            (h.xid, h.opcode),
            (SET_WATCHES_XID, OpCode::SetWatches2.code())
        );
        let sw = SetWatches2::read(&mut body).unwrap();
        assert_eq!(
            (sw.relative_zxid, sw.data_watches),
            (5, vec!["/w".to_string()])
        );
        send(&mut s, |b| {
            ReplyHeader {
                xid: SET_WATCHES_XID,
                zxid: 5,
                err: ErrorCode::Unimplemented.code(),
            }
            .write(b)
        })
        .await;
        drop(s);

        // 3: the client now uses setWatches (101); the watch fires.
        let (mut s, _) = accept(&l, 0x42).await;
        let (h, mut body) = read_request(&mut s).await;
        assert_eq!(
            (h.xid, h.opcode),
            (SET_WATCHES_XID, OpCode::SetWatches.code())
        );
        let sw = SetWatches::read(&mut body).unwrap();
        assert_eq!(sw.data_watches, vec!["/w".to_string()]);
        send(&mut s, |b| {
            ReplyHeader {
                xid: SET_WATCHES_XID,
                zxid: 5,
                err: 0,
            }
            .write(b)
        })
        .await;
        send(&mut s, |b| {
            ReplyHeader {
                xid: NOTIFICATION_XID,
                zxid: -1,
                err: 0,
            }
            .write(b);
            WatcherEvent {
                event_type: EventType::NodeDataChanged.code(),
                state: KeeperState::SyncConnected.code(),
                path: "/w".into(),
            }
            .write(b);
        })
        .await;
        s
    };
    let client = async {
        let c = builder().connect(&addr).await.unwrap();
        let (data, _, w) = c.get_data_w("/w").await.unwrap();
        assert_eq!(data, b"d");
        let e = within("watch after fallback", w).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDataChanged, "/w")
        );
        c
    };
    let (_s, _c) = tokio::join!(server, client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_replies_drop_the_connection_not_the_client() {
    init_tracing();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let server = async {
        let garbage: [&[u8]; 4] = [
            &[1, 2, 3],                                                      // truncated header
            &[0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], // reply to an xid never sent
            &[255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // truncated event
            &[0x7f, 0xff, 0xff, 0xff],                          // frame length above the maximum
        ];
        for bytes in garbage {
            let (mut s, _) = accept(&l, 0x43).await;
            let (_h, _) = read_request(&mut s).await;
            if bytes.len() == 4 {
                s.write_all(bytes).await.unwrap(); // a raw oversized length prefix
            } else {
                send(&mut s, |b| b.extend_from_slice(bytes)).await;
            }
            // The client drops the connection; wait for that before the next round.
            let mut sink = [0u8; 64];
            while within("client hangs up", s.read(&mut sink))
                .await
                .unwrap_or(0)
                > 0
            {}
        }
        // Then a well-behaved round.
        let (mut s, _) = accept(&l, 0x43).await;
        let (h, _) = read_request(&mut s).await;
        send(&mut s, |b| {
            ReplyHeader {
                xid: h.xid,
                zxid: 9,
                err: ErrorCode::NoNode.code(),
            }
            .write(b)
        })
        .await;
        s
    };
    let client = async {
        let c: Client = builder().connect(&addr).await.unwrap();
        let mut states = c.state_stream();
        assert_eq!(next("initial", &mut states).await, SessionState::Connected);
        for _ in 0..4 {
            assert_eq!(
                within("hostile reply", c.exists("/x")).await,
                Err(Error::ConnectionLoss)
            );
            assert_eq!(
                next("dropped", &mut states).await,
                SessionState::Disconnected
            );
            assert_eq!(next("back", &mut states).await, SessionState::Connected);
        }
        assert_eq!(within("good reply", c.exists("/x")).await, Ok(None));
        c
    };
    let (_s, _c) = tokio::join!(server, client);
}
