//! Differential: sessions (timeout negotiation, reattaching with id and password, wrong password,
//! closeSession from another connection, expiry, ephemerals and their watches, a client ahead of
//! the server), Apache ZooKeeper vs zk-server.

mod support;

use bytes::Bytes;
use support::raw_session::new_session_request;
use support::*;
use zk_proto::{CreateMode, EventType, RequestBody};

#[test]
fn timeout_negotiation() {
    let mut s = Script::new("session_timeouts");
    for timeout in [0, 100, 499, 500, 1000, 30_000, 60_000, 600_000, -1] {
        let slot = s.connect_with_timeout(timeout);
        s.close(slot);
    }
    check(s);
}

#[test]
fn reattach_keeps_session_and_ephemerals() {
    let mut s = Script::new("session_reattach");
    let a = s.connect();
    let b = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(b, exists(&s.path("e"), true));
    s.drop_connection(a);
    let a2 = s.reattach(a);
    s.req(a2, get_ephemerals(&s.root()));
    s.req(a2, get_data(&s.path("e"), false));
    s.req(a2, RequestBody::WhoAmI);
    s.req(b, get_children(&s.root(), false));
    s.flush(b);
    // Reattaching while the old connection is still open moves the session to the new one.
    let a3 = s.reattach(a2);
    s.req(a3, get_ephemerals(&s.root()));
    s.flush(a3);
    s.req(b, get_children(&s.root(), false));
    check(s);
}

#[test]
fn wrong_password() {
    let mut s = Script::new("session_wrong_password");
    let a = s.connect();
    let b = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(b, exists(&s.path("e"), true));
    // A wrong password gets the "expired" answer and that connection is closed. (Apache also
    // closes the session's current connection, before it checks the password.)
    let bad = s.reattach_with(a, Password::Wrong);
    s.wait_closed(bad);
    s.flush(a);
    // The session itself lives on.
    let a2 = s.reattach(a);
    s.req(a2, get_ephemerals(&s.root()));
    s.flush(b);
    check(s);
}

#[test]
fn close_from_another_connection() {
    let mut s = Script::new("session_close_elsewhere");
    let a = s.connect();
    let b = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(b, exists(&s.path("e"), true));
    let a2 = s.reattach(a);
    s.close(a2);
    s.wait_closed(a2);
    s.wait_closed(a);
    s.wait_event(b, EventType::NodeDeleted, &s.path("e"));
    s.req(b, get_children(&s.root(), false));
    // The closed session cannot come back.
    let a3 = s.reattach(a);
    s.wait_closed(a3);
    check(s);
}

#[test]
fn close_session_deletes_ephemerals() {
    let mut s = Script::new("session_close");
    let a = s.connect();
    let b = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create2(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(
        a,
        create2(&s.path("es-"), b"", CreateMode::EphemeralSequential),
    );
    s.req(b, get_data(&s.path("e"), true));
    s.req(b, get_children(&s.root(), true));
    s.close(a);
    s.wait_closed(a);
    s.flush_unordered(b);
    s.req(b, get_children2(&s.root(), false));
    s.req(b, get_ephemerals("/"));
    check(s);
}

#[test]
fn expiry_deletes_ephemerals() {
    let mut s = Script::new("session_expiry");
    let a = s.connect_with_timeout(1000);
    let b = s.connect();
    s.req(b, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(b, exists(&s.path("e"), true));
    // Abandoned: no pings, connection gone. The ephemeral stays until the timeout.
    s.drop_connection(a);
    s.req(b, get_children(&s.root(), false));
    s.wait_event(b, EventType::NodeDeleted, &s.path("e"));
    s.req(b, get_children2(&s.root(), false));
    let a2 = s.reattach(a);
    s.wait_closed(a2);
    check(s);
}

#[test]
fn idle_connection_expires() {
    let mut s = Script::new("session_idle");
    let a = s.connect_with_timeout(1000);
    let b = s.connect();
    s.req(b, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("e"), b"", CreateMode::Ephemeral));
    s.req(b, exists(&s.path("e"), true));
    // The connection stays open but silent: the server expires the session and closes it.
    // (No watch of A's own here: Apache may or may not deliver it before closing.)
    s.wait_closed(a);
    s.wait_event(b, EventType::NodeDeleted, &s.path("e"));
    let a2 = s.reattach(a);
    s.wait_closed(a2);
    check(s);
}

#[test]
fn handshake_edge_cases() {
    let mut s = Script::new("session_handshake");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    // A client that has seen a zxid the server has not is refused.
    let mut ahead = new_session_request(30_000);
    ahead.last_zxid_seen = 0x7fff_0000_0000_0000;
    s.raw_connect(ahead);
    // An unknown session id gets the expired answer.
    let mut unknown = new_session_request(30_000);
    unknown.session_id = 0x0123_4567_89ab_cdef;
    unknown.passwd = Some(Bytes::from_static(&[1; 16]));
    let u = s.raw_connect(unknown);
    s.wait_closed(u);
    // A handshake without the trailing readOnly flag (old clients).
    let mut old = new_session_request(30_000);
    old.read_only = None;
    let o = s.raw_connect(old);
    s.req(o, exists(&s.root(), false));
    // Requests after closeSession on the same connection.
    s.close(o);
    s.wait_closed(o);
    s.req(a, exists(&s.root(), false));
    check(s);
}

#[test]
fn protocol_edge_cases() {
    let mut s = Script::new("session_protocol");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    // An opcode no server knows.
    let unknown = s.connect();
    s.raw_request(unknown, 1, 999, b"");
    s.flush(unknown);
    // A request larger than jute.maxbuffer closes that connection only.
    let big = s.connect();
    let huge = vec![b'x'; 0x10_0000 + 16];
    s.req(big, set_data(&s.root(), &huge, -1));
    s.flush(big);
    s.req(a, exists(&s.root(), false));
    check(s);
}

#[test]
fn malformed_requests() {
    let mut s = Script::new("session_malformed");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    // An opcode clients must not send (createSession).
    let internal = s.connect();
    s.raw_request(internal, 1, -10, b"");
    s.flush(internal);
    // A body cut short: getData with a path length beyond the frame.
    let short = s.connect();
    s.raw_request(short, 1, 4, &[0, 0, 0, 50, b'/']);
    s.flush(short);
    s.req(a, exists(&s.root(), false));
    check(s);
}
