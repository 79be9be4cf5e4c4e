//! A standalone Apache server starts, answers four-letter words, and keeps its data across SIGKILL and
//! restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use zk_testkit::{apache_or_skip, ServerMode};

#[test]
fn serves_four_letter_words() {
    let Some(server) = apache_or_skip("serves_four_letter_words") else {
        return;
    };
    assert_eq!(server.four_letter("ruok"), "imok");
    let srvr = server.four_letter("srvr");
    assert!(srvr.starts_with("Zookeeper version: 3."), "{srvr}");
    assert_eq!(ServerMode::parse(&srvr), Some(ServerMode::Standalone));
    assert!(server
        .four_letter("mntr")
        .contains("zk_server_state\tstandalone"));
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.connect_string(), server.addr().to_string());
    assert!(server.log_path().is_file(), "the server logs to a file");
}

#[test]
fn kill_and_restart_keep_data() {
    let Some(mut server) = apache_or_skip("kill_and_restart_keep_data") else {
        return;
    };
    let before = node_count(&server.four_letter("srvr"));
    create_node(server.addr(), "/testkit-restart");
    assert_eq!(node_count(&server.four_letter("srvr")), before + 1);

    let addr = server.addr();
    server.kill();
    assert!(!server.is_running());
    assert!(
        server.try_four_letter("ruok").is_err(),
        "killed server still answers"
    );
    assert!(server.data_dir().join("version-2").is_dir());

    server.restart().unwrap();
    assert_eq!(server.addr(), addr, "restart keeps the port");
    assert_eq!(node_count(&server.four_letter("srvr")), before + 1);
}

/// The `Node count:` line of a `srvr` reply.
fn node_count(srvr: &str) -> u64 {
    srvr.lines()
        .find_map(|l| l.strip_prefix("Node count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no node count in {srvr:?}"))
}

/// Opens a session and creates a persistent node with a hand-encoded jute exchange, so this crate's tests
/// need no client. Frames are a 4-byte big-endian length and a body.
fn create_node(addr: SocketAddr, path: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (buffer), readOnly.
    let mut connect = Vec::new();
    connect.extend(0i32.to_be_bytes());
    connect.extend(0i64.to_be_bytes());
    connect.extend(30_000i32.to_be_bytes());
    connect.extend(0i64.to_be_bytes());
    connect.extend(16i32.to_be_bytes());
    connect.extend([0u8; 16]);
    connect.push(0);
    send(&mut stream, &connect);
    let response = recv(&mut stream);
    let session_id = i64::from_be_bytes(response[8..16].try_into().unwrap());
    assert_ne!(session_id, 0, "no session");

    // RequestHeader (xid, type = create) + CreateRequest (path, data, acl, flags).
    let mut create = Vec::new();
    create.extend(1i32.to_be_bytes());
    create.extend(1i32.to_be_bytes());
    put_string(&mut create, path);
    put_string(&mut create, "testkit");
    create.extend(1i32.to_be_bytes()); // one ACL: world:anyone, all permissions
    create.extend(31i32.to_be_bytes());
    put_string(&mut create, "world");
    put_string(&mut create, "anyone");
    create.extend(0i32.to_be_bytes()); // persistent
    send(&mut stream, &create);
    // ReplyHeader: xid, zxid, err.
    let reply = recv(&mut stream);
    assert_eq!(i32::from_be_bytes(reply[0..4].try_into().unwrap()), 1);
    assert_eq!(
        i32::from_be_bytes(reply[12..16].try_into().unwrap()),
        0,
        "create failed"
    );
}

fn put_string(buf: &mut Vec<u8>, s: &str) {
    buf.extend((s.len() as i32).to_be_bytes());
    buf.extend(s.as_bytes());
}

fn send(stream: &mut TcpStream, body: &[u8]) {
    stream
        .write_all(&(body.len() as i32).to_be_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
}

fn recv(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0; 4];
    stream.read_exact(&mut len).unwrap();
    let mut body = vec![0; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}
