//! Data-dir handover both ways with Apache ZooKeeper 3.8: Apache writes, zk-server serves the
//! same tree and sessions; zk-server writes, Apache serves it. Skips without Java.

mod common;

use bytes::Bytes;
use common::{create, get_data, Raw};
use zk_proto::{ConnectRequest, ResponseBody};
use zk_server::{Server, ServerConfig};
use zk_testkit::{ApacheOptions, TestDir};

fn data(rsp: Option<ResponseBody>) -> Vec<u8> {
    match rsp {
        Some(ResponseBody::GetData(d)) => d.data.map(|b| b.to_vec()).unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_writes_zk_server_serves() {
    let dir = TestDir::new("handover-a2z").unwrap();
    let Some(mut apache) = zk_testkit::apache_with_or_skip(
        "apache_writes_zk_server_serves",
        ApacheOptions::new().with_data_dir(dir.path()),
    ) else {
        return;
    };
    let addr = apache.connect_string();
    let mut c = Raw::connect(&addr, 30_000).await;
    assert_eq!(c.call(&create("/from-apache", b"hello", 0)).await.0, 0);
    assert_eq!(c.call(&create("/from-apache/seq-", b"", 2)).await.0, 0);
    assert_eq!(c.call(&create("/eph", b"", 1)).await.0, 0);
    let (session, passwd) = (c.session, c.passwd.clone());
    apache.kill();
    drop(c);

    let cfg = ServerConfig::parse(&format!("dataDir={}\n", dir.path().display())).unwrap();
    let ours = Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let mut o = Raw::connect(&ours.connect_string(), 30_000).await;
    let (err, rsp, _) = o.call(&get_data("/from-apache", false)).await;
    assert_eq!(err, 0);
    assert_eq!(data(rsp), b"hello");
    assert_eq!(
        o.call(&get_data("/from-apache/seq-0000000000", false))
            .await
            .0,
        0
    );
    // The Apache session resumes on zk-server with its password; its ephemeral is still there.
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id: session,
        passwd: Some(passwd),
        read_only: Some(false),
    };
    let (mut r, rsp) = Raw::handshake(&ours.connect_string(), req).await.unwrap();
    assert_eq!(rsp.unwrap().session_id, session);
    assert_eq!(r.call(&get_data("/eph", false)).await.0, 0);
    ours.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_server_writes_apache_serves() {
    if zk_testkit::java_or_skip("zk_server_writes_apache_serves").is_none() {
        return;
    }
    let dir = TestDir::new("handover-z2a").unwrap();
    let cfg =
        ServerConfig::parse(&format!("dataDir={}\nsnapCount=20\n", dir.path().display())).unwrap();
    let ours = Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let mut c = Raw::connect(&ours.connect_string(), 30_000).await;
    for i in 0..30 {
        assert_eq!(c.call(&create(&format!("/z{i}"), b"v", 0)).await.0, 0);
    }
    assert_eq!(
        c.call(&create("/z0/child", &Bytes::from_static(b"deep"), 0))
            .await
            .0,
        0
    );
    ours.shutdown().await;
    drop(c);

    let apache = ApacheOptions::new()
        .with_data_dir(dir.path())
        .start()
        .unwrap();
    let mut a = Raw::connect(&apache.connect_string(), 30_000).await;
    for i in 0..30 {
        assert_eq!(
            a.call(&get_data(&format!("/z{i}"), false)).await.0,
            0,
            "/z{i}"
        );
    }
    let (err, rsp, _) = a.call(&get_data("/z0/child", false)).await;
    assert_eq!(err, 0);
    assert_eq!(data(rsp), b"deep");
}
