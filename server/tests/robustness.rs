//! Hostile input: random frames after a valid handshake, oversized frames, garbage handshakes.
//! The server must stay up and other sessions must be unaffected.

mod common;

use bytes::BytesMut;
use common::{create, get_data, Frame, Raw};
use proptest::prelude::*;
use zk_proto::{write_frame, RequestBody, ResponseBody};
use zk_server::{Server, ServerHandle};

async fn start() -> ServerHandle {
    Server::builder()
        .client_addr("127.0.0.1:0")
        .jute_maxbuffer(4096)
        .start()
        .await
        .unwrap()
}

async fn assert_healthy(server: &ServerHandle, bystander: &mut Raw) {
    let (err, rsp, _) = bystander.call(&get_data("/keep", false)).await;
    assert_eq!(err, 0);
    assert!(matches!(rsp, Some(ResponseBody::GetData(_))));
    let mut fresh = Raw::connect(&server.connect_string(), 4000).await;
    let (err, _, _) = fresh.call(&RequestBody::Ping).await;
    assert_eq!(err, 0);
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let server = start().await;
    let mut bystander = Raw::connect(&server.connect_string(), 4000).await;
    assert_eq!(bystander.call(&create("/keep", b"x", 0)).await.0, 0);
    let mut bad = Raw::connect(&server.connect_string(), 4000).await;
    let mut out = BytesMut::new();
    write_frame(&mut out, |b| b.extend_from_slice(&vec![0u8; 5000]));
    bad.send_bytes(&out).await.unwrap();
    assert!(bad.next().await.is_none(), "connection closed");
    assert_healthy(&server, &mut bystander).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_opcode_answers_unimplemented_and_closes() {
    let server = start().await;
    let mut c = Raw::connect(&server.connect_string(), 4000).await;
    let mut out = BytesMut::new();
    write_frame(&mut out, |b| {
        b.extend_from_slice(&7i32.to_be_bytes());
        b.extend_from_slice(&999i32.to_be_bytes());
    });
    c.send_bytes(&out).await.unwrap();
    match c.next().await {
        Some(Frame::Reply { header, .. }) => {
            assert_eq!(header.xid, 7);
            assert_eq!(header.err, -6);
        }
        other => panic!("{other:?}"),
    }
    assert!(c.next().await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_handshake_is_dropped() {
    let server = start().await;
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(&[0, 0, 0, 3, 1, 2, 3]).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(common::DEADLINE, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    let mut ok = Raw::connect(&server.connect_string(), 4000).await;
    assert_eq!(ok.call(&RequestBody::Ping).await.0, 0);
    server.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_frames_after_handshake(frames in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..64), 1..8)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let server = start().await;
            let mut bystander = Raw::connect(&server.connect_string(), 4000).await;
            assert_eq!(bystander.call(&create("/keep", b"x", 0)).await.0, 0);
            let mut fuzz = Raw::connect(&server.connect_string(), 4000).await;
            let mut out = BytesMut::new();
            for f in &frames {
                write_frame(&mut out, |b| b.extend_from_slice(f));
            }
            let _ = fuzz.send_bytes(&out).await;
            // Drain whatever the server answers until it closes or goes quiet.
            while let Ok(Some(_)) = tokio::time::timeout(std::time::Duration::from_millis(200), fuzz.next_raw()).await.unwrap_or(Ok(None)) {}
            assert_healthy(&server, &mut bystander).await;
            server.shutdown().await;
        });
    }
}
