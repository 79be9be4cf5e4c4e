//! Durability: acknowledged writes survive kill (in-process and `kill -9` of the binary) and
//! sessions survive restarts, in Apache's on-disk format.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::{create, get_data, Raw};
use zk_proto::records::node::SetDataRequest;
use zk_proto::{ConnectRequest, RequestBody, ResponseBody};
use zk_server::{Server, ServerConfig, ServerHandle};
use zk_testkit::TestDir;

async fn start_on(dir: &std::path::Path, addr: &str) -> ServerHandle {
    let cfg = ServerConfig::parse(&format!(
        "tickTime=200\ndataDir={}\nsnapCount=50\n",
        dir.display()
    ))
    .unwrap();
    Server::builder()
        .config(cfg)
        .client_addr(addr)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn acknowledged_writes_and_sessions_survive_kill() {
    let dir = TestDir::new("zk-server-restart").unwrap();
    let server = start_on(dir.path(), "127.0.0.1:0").await;
    let addr = server.connect_string();
    let mut c = Raw::connect(&addr, 10_000).await;
    for i in 0..120 {
        // 120 writes with snapCount=50 cross several snapshots and log rolls.
        assert_eq!(c.call(&create(&format!("/n{i}"), b"v", 0)).await.0, 0);
    }
    assert_eq!(c.call(&create("/eph", b"", 1)).await.0, 0);
    let (session, passwd) = (c.session, c.passwd.clone());
    server.kill().await;
    drop(c);

    let server = start_on(dir.path(), &addr).await;
    let mut o = Raw::connect(&addr, 10_000).await;
    for i in 0..120 {
        let (err, _, _) = o.call(&get_data(&format!("/n{i}"), false)).await;
        assert_eq!(err, 0, "/n{i} lost");
    }
    // The session is still there: resume it with id + password; its ephemeral stayed.
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: session,
        passwd: Some(passwd),
        read_only: Some(false),
    };
    let (mut r, rsp) = Raw::handshake(&addr, req.clone()).await.unwrap();
    assert_eq!(rsp.unwrap().session_id, session);
    assert_eq!(r.call(&get_data("/eph", false)).await.0, 0);
    // A wrong password gets the expired answer (session 0, timeout 0) and is closed.
    let bad = ConnectRequest {
        passwd: Some(Bytes::from_static(&[1; 16])),
        ..req
    };
    let (mut b, rsp) = Raw::handshake(&addr, bad).await.unwrap();
    let rsp = rsp.unwrap();
    assert_eq!((rsp.session_id, rsp.timeout), (0, 0));
    assert!(b.next().await.is_none());
    // Data dir in Apache's layout.
    let v2 = dir.path().join("version-2");
    let names: Vec<String> = std::fs::read_dir(&v2)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("log.")), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("snapshot.")),
        "{names:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn client_ahead_of_server_is_refused() {
    let server = Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 1 << 40,
        timeout: 4000,
        session_id: 0,
        passwd: Some(Bytes::from_static(&[0; 16])),
        read_only: Some(false),
    };
    let (_, rsp) = Raw::handshake(&server.connect_string(), req).await.unwrap();
    assert!(rsp.is_none(), "closed without an answer");
    server.shutdown().await;
}

/// kill -9 of the real binary under a write load: every acknowledged write is there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_under_load_keeps_acknowledged_writes() {
    let dir = TestDir::new("zk-server-kill9").unwrap();
    let port = zk_testkit::free_port().unwrap();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nsnapCount=200\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let addr = format!("127.0.0.1:{port}");
    let wait_up = || async {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server did not come up");
    };
    let mut child = spawn();
    wait_up().await;
    let mut c = Raw::connect(&addr, 10_000).await;
    assert_eq!(c.call(&create("/k", b"0", 0)).await.0, 0);
    // Pipeline writes; count the acknowledged ones, then kill -9 mid-stream.
    let mut acked = 0u32;
    let total = 3000u32;
    for i in 1..=total {
        c.send(&RequestBody::SetData(SetDataRequest {
            path: "/k".into(),
            data: Some(Bytes::from(i.to_string())),
            version: -1,
        }))
        .await;
    }
    while acked < total / 2 {
        match c.next().await {
            Some(common::Frame::Reply { header, .. }) if header.err == 0 => acked += 1,
            other => panic!("{other:?}"),
        }
    }
    unsafe {
        libc_kill(child.id() as i32, 9);
    }
    let _ = child.wait();
    let mut child = spawn();
    wait_up().await;
    let mut o = Raw::connect(&addr, 10_000).await;
    let (err, rsp, _) = o.call(&get_data("/k", false)).await;
    assert_eq!(err, 0);
    let Some(ResponseBody::GetData(d)) = rsp else {
        panic!()
    };
    let value: u32 = std::str::from_utf8(d.data.as_deref().unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        value >= acked,
        "acknowledged {acked} writes but recovered {value}"
    );
    assert_eq!(d.stat.version as u32, value, "nothing but whole txns");
    let _ = child.kill();
    let _ = child.wait();
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
