//! Session lifecycle over raw frames: expiry by ticks, closeSession from another connection,
//! ephemerals and their watches, timeout negotiation.

mod common;

use bytes::Bytes;
use common::{create, get_data, Frame, Raw};
use zk_proto::records::node::ExistsRequest;
use zk_proto::{ConnectRequest, EventType, RequestBody};
use zk_server::{Server, ServerHandle};

async fn start() -> ServerHandle {
    Server::builder()
        .client_addr("127.0.0.1:0")
        .tick_time(100)
        .start()
        .await
        .unwrap()
}

async fn wait_event(c: &mut Raw) -> (EventType, String) {
    loop {
        match c.next().await.expect("event before deadline") {
            Frame::Event(e) => return (EventType::try_from(e.event_type).unwrap(), e.path),
            Frame::Reply { .. } => {}
        }
    }
}

#[tokio::test]
async fn timeouts_are_negotiated_into_two_to_twenty_ticks() {
    let server = start().await;
    assert_eq!(Raw::connect(&server.connect_string(), 1).await.timeout, 200);
    assert_eq!(
        Raw::connect(&server.connect_string(), 1_000_000)
            .await
            .timeout,
        2000
    );
    assert_eq!(
        Raw::connect(&server.connect_string(), 1000).await.timeout,
        1000
    );
    server.shutdown().await;
}

#[tokio::test]
async fn abandoned_session_expires_and_its_ephemerals_go() {
    let server = start().await;
    let mut owner = Raw::connect(&server.connect_string(), 400).await;
    assert_eq!(owner.call(&create("/eph", b"", 1)).await.0, 0);
    let mut watcher = Raw::connect(&server.connect_string(), 2000).await;
    let (err, _, _) = watcher
        .call(&RequestBody::Exists(ExistsRequest {
            path: "/eph".into(),
            watch: true,
        }))
        .await;
    assert_eq!(err, 0);
    let (session, passwd) = (owner.session, owner.passwd.clone());
    drop(owner); // no closeSession: the session lives until its timeout
    assert_eq!(
        watcher.call(&get_data("/eph", false)).await.0,
        0,
        "still there right after"
    );
    assert_eq!(
        wait_event(&mut watcher).await,
        (EventType::NodeDeleted, "/eph".to_string())
    );
    // Coming back too late gets the expired answer.
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 400,
        session_id: session,
        passwd: Some(passwd),
        read_only: Some(false),
    };
    let (_, rsp) = Raw::handshake(&server.connect_string(), req).await.unwrap();
    let rsp = rsp.unwrap();
    assert_eq!((rsp.session_id, rsp.timeout), (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn reattach_moves_the_session_and_close_from_elsewhere_drops_the_original() {
    let server = start().await;
    let mut a = Raw::connect(&server.connect_string(), 2000).await;
    assert_eq!(a.call(&create("/mine", b"", 1)).await.0, 0);
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 2000,
        session_id: a.session,
        passwd: Some(a.passwd.clone()),
        read_only: None,
    };
    let (mut b, rsp) = Raw::handshake(&server.connect_string(), req).await.unwrap();
    let rsp = rsp.unwrap();
    assert_eq!(rsp.session_id, a.session);
    assert_eq!(rsp.read_only, None, "old clients get no readOnly flag");
    assert!(
        a.next().await.is_none(),
        "the old connection is closed on reattach"
    );
    assert_eq!(b.call(&get_data("/mine", false)).await.0, 0);
    // A third connection of the same session closes it: b is dropped too.
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 2000,
        session_id: b.session,
        passwd: Some(b.passwd.clone()),
        read_only: Some(false),
    };
    let (mut c, _) = Raw::handshake(&server.connect_string(), req).await.unwrap();
    assert_eq!(c.call(&RequestBody::CloseSession).await.0, 0);
    assert!(c.next().await.is_none());
    assert!(b.next().await.is_none());
    let mut o = Raw::connect(&server.connect_string(), 2000).await;
    assert_eq!(o.call(&get_data("/mine", false)).await.0, -101);
    let _ = Bytes::new();
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = start().await;
    let mut c = Raw::connect(&server.connect_string(), 2000).await;
    let mut xids = Vec::new();
    for i in 0..200 {
        xids.push(if i % 3 == 0 {
            c.send(&create(&format!("/p{i}"), b"", 0)).await
        } else {
            c.send(&get_data(&format!("/p{}", i - i % 3), false)).await
        });
    }
    for want in xids {
        match c.next().await.unwrap() {
            Frame::Reply { header, .. } => {
                assert_eq!(header.xid, want);
                assert_eq!(header.err, 0, "a read sees the write before it");
            }
            other => panic!("{other:?}"),
        }
    }
    server.shutdown().await;
}
