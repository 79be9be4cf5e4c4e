//! Differential: multi (atomic writes, per-op results, the OK / error / RUNTIMEINCONSISTENCY
//! layout of a failed multi) and multiRead, Apache ZooKeeper vs zk-server.

mod support;

use support::*;
use zk_proto::records::node::CreateTtlRequest;
use zk_proto::{CreateMode, MultiOp};

#[test]
fn multi_success() {
    let mut s = Script::new("multi_success");
    let a = s.connect();
    let b = s.connect();
    let r = |rel: &str| format!("/multi_success/{rel}");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(b, exists(&r("x"), true));
    s.req(b, get_children(&s.root(), true));
    s.req(
        a,
        multi(vec![
            op_create(&r("x"), b"x", CreateMode::Persistent),
            op_create2(&r("y"), b"y", CreateMode::Persistent),
            op_create(&r("s-"), b"", CreateMode::PersistentSequential),
            op_create2(&r("e"), b"", CreateMode::Ephemeral),
            op_set_data(&r("x"), b"x1", 0),
            op_check(&r("x"), 1),
            op_check(&r("y"), -1),
            op_create(&r("x/child"), b"", CreateMode::Persistent),
            op_delete(&r("x/child"), 0),
            op_delete(&r("y"), -1),
        ]),
    );
    s.flush(b);
    s.req(a, get_children2(&s.root(), false));
    s.req(a, get_data(&r("x"), false));
    // Delete and re-create one node in one multi; a container and a TTL node.
    s.req(
        a,
        multi(vec![
            op_delete(&r("x"), 1),
            op_create2(&r("x"), b"again", CreateMode::Persistent),
            MultiOp::CreateContainer(zk_proto::records::node::CreateRequest {
                path: r("c"),
                data: None,
                acl: open_acl(),
                flags: CreateMode::Container.flag(),
            }),
            MultiOp::CreateTtl(CreateTtlRequest {
                path: r("t"),
                data: None,
                acl: open_acl(),
                flags: CreateMode::PersistentWithTtl.flag(),
                ttl: 60_000,
            }),
        ]),
    );
    // An empty multi.
    s.req(a, multi(vec![]));
    s.req(a, get_children2(&s.root(), false));
    check(s);
}

#[test]
fn multi_failure_layout() {
    let mut s = Script::new("multi_failure");
    let a = s.connect();
    let b = s.connect();
    let r = |rel: &str| format!("/multi_failure/{rel}");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&r("x"), b"x", CreateMode::Persistent));
    s.req(a, create(&r("x/k"), b"", CreateMode::Persistent));
    s.req(b, get_data(&r("x"), true));
    s.req(b, get_children(&s.root(), true));
    // Fails first, in the middle, last; with each kind of error.
    s.req(
        a,
        multi(vec![
            op_check(&r("x"), 5),
            op_create(&r("new1"), b"", CreateMode::Persistent),
            op_set_data(&r("x"), b"", -1),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("new2"), b"", CreateMode::Persistent),
            op_set_data(&r("x"), b"changed", 0),
            op_create(&r("x"), b"", CreateMode::Persistent),
            op_delete(&r("x/k"), -1),
            op_create(&r("new3"), b"", CreateMode::PersistentSequential),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("new4"), b"", CreateMode::Persistent),
            op_create(&r("new4/a"), b"", CreateMode::Persistent),
            op_delete(&r("x"), -1),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_set_data(&r("missing"), b"", -1),
            op_delete(&r("missing"), -1),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("new5"), b"", CreateMode::Persistent),
            op_create(&r("new5"), b"", CreateMode::Persistent),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("eph"), b"", CreateMode::Ephemeral),
            op_create(&r("eph/child"), b"", CreateMode::Persistent),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("new6"), b"", CreateMode::Persistent),
            op_create(&r("bad//path"), b"", CreateMode::Persistent),
            op_check(&r("x"), 0),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_create(&r("new7"), b"", CreateMode::Persistent),
            op_delete(&r("x/k"), 3),
        ]),
    );
    s.req(
        a,
        multi(vec![
            op_check(&r("x"), 0),
            op_check(&r("missing"), -1),
            op_check(&r("x"), 0),
        ]),
    );
    // Nothing was applied and nothing fired; cversion and the sequence counter did not move.
    s.flush(b);
    s.req(a, get_children2(&s.root(), false));
    s.req(a, get_data(&r("x"), false));
    s.req(a, create(&r("s-"), b"", CreateMode::PersistentSequential));
    check(s);
}

#[test]
fn multi_mixing_reads_and_writes() {
    let mut s = Script::new("multi_mixed");
    let a = s.connect();
    let r = |rel: &str| format!("/multi_mixed/{rel}");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&r("x"), b"x", CreateMode::Persistent));
    s.req(
        a,
        multi(vec![
            op_create(&r("y"), b"", CreateMode::Persistent),
            op_get_data(&r("x")),
        ]),
    );
    s.req(
        a,
        multi_read(vec![
            op_get_data(&r("x")),
            op_create(&r("z"), b"", CreateMode::Persistent),
        ]),
    );
    s.req(a, get_children(&s.root(), false));
    check(s);
}

#[test]
fn multi_read_results() {
    let mut s = Script::new("multi_read");
    let a = s.connect();
    let b = s.connect();
    let r = |rel: &str| format!("/multi_read/{rel}");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&r("x"), b"x", CreateMode::Persistent));
    s.req(a, create(&r("x/c1"), b"", CreateMode::Persistent));
    s.req(a, create(&r("x/c2"), b"", CreateMode::Ephemeral));
    s.req(
        a,
        multi_read(vec![
            op_get_data(&r("x")),
            op_get_children(&r("x")),
            op_get_data(&r("missing")),
            op_get_children(&r("missing")),
            op_get_data(&r("x/c2")),
            op_get_children(&r("x/c1")),
        ]),
    );
    s.req(a, multi_read(vec![]));
    // Reads in a multiRead set no watches.
    s.req(b, set_data(&r("x"), b"", -1));
    s.flush(a);
    check(s);
}
