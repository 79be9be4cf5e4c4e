//! Differential: container nodes reaped after their last child goes (and kept if they never had
//! one) and TTL nodes expiring, Apache ZooKeeper vs zk-server. Both servers check every
//! `CONTAINER_CHECK_MS`; the scripts wait for the deletions with a deadline.

mod support;

use support::*;
use zk_proto::{CreateMode, EventType};

#[test]
fn containers_are_reaped_after_their_last_child() {
    let mut s = Script::new("containers");
    let a = s.connect();
    let b = s.connect();
    let c = s.path("c");
    let never = s.path("never");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create_container(&c, b"c"));
    s.req(a, create_container(&never, b""));
    s.req(a, create2(&format!("{c}/k1"), b"", CreateMode::Persistent));
    s.req(a, create2(&format!("{c}/k2"), b"", CreateMode::Ephemeral));
    s.req(a, get_data(&c, false));
    s.req(b, exists(&c, true));
    s.req(b, get_children(&s.root(), true));
    s.req(a, delete(&format!("{c}/k1"), -1));
    s.req(a, exists(&c, false));
    s.close(a);
    s.wait_event(b, EventType::NodeDeleted, &c);
    s.flush(b);
    s.req(b, exists(&c, false));
    // Another container emptied after that: once it is reaped, the never-used one has been
    // through at least one full check and is still there.
    let c2 = s.path("c2");
    s.req(b, create_container(&c2, b""));
    s.req(b, create(&format!("{c2}/k"), b"", CreateMode::Persistent));
    s.req(b, exists(&c2, true));
    s.req(b, delete(&format!("{c2}/k"), -1));
    s.wait_event(b, EventType::NodeDeleted, &c2);
    s.req(b, get_data(&never, false));
    s.req(b, get_children2(&s.root(), false));
    check(s);
}

#[test]
fn containers_in_containers() {
    let mut s = Script::new("containers_nested");
    let a = s.connect();
    let outer = s.path("outer");
    let inner = format!("{outer}/inner");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create_container(&outer, b""));
    s.req(a, create_container(&inner, b""));
    s.req(
        a,
        create(&format!("{inner}/leaf"), b"", CreateMode::Persistent),
    );
    s.req(a, exists(&outer, true));
    s.req(a, exists(&inner, true));
    s.req(a, delete(&format!("{inner}/leaf"), -1));
    s.wait_event(a, EventType::NodeDeleted, &inner);
    s.wait_event(a, EventType::NodeDeleted, &outer);
    s.req(a, get_children(&s.root(), false));
    check(s);
}

#[test]
fn ttl_nodes_expire() {
    let mut s = Script::new("ttl");
    let a = s.connect();
    let t = s.path("t");
    let kept = s.path("kept");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(
        a,
        create_ttl(&t, b"t", CreateMode::PersistentWithTtl.flag(), 500),
    );
    let seq = CreateMode::PersistentSequentialWithTtl.flag();
    s.req(a, create_ttl(&s.path("ts-"), b"", seq, 500));
    s.req(
        a,
        create_ttl(&kept, b"", CreateMode::PersistentWithTtl.flag(), 500),
    );
    s.req(
        a,
        create(&format!("{kept}/child"), b"", CreateMode::Persistent),
    );
    s.req(a, get_data(&t, false));
    s.req(a, exists(&t, true));
    s.req(a, exists(&s.path("ts-0000000001"), true));
    s.wait_event(a, EventType::NodeDeleted, &t);
    s.wait_event(a, EventType::NodeDeleted, &s.path("ts-0000000001"));
    // A TTL node with a child stays; once the child goes and the TTL passes, it goes too.
    s.req(a, get_children2(&s.root(), false));
    s.req(a, exists(&kept, true));
    s.req(a, delete(&format!("{kept}/child"), -1));
    s.wait_event(a, EventType::NodeDeleted, &kept);
    s.req(a, get_children2(&s.root(), false));
    check(s);
}
