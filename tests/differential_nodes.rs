//! Differential: node operations (create in every mode, delete, exists, getData/setData,
//! getChildren, getEphemerals, getAllChildrenNumber, sync, check, sequential names, `/zookeeper`)
//! and their error paths, Apache ZooKeeper vs zk-server.

mod support;

use support::*;
use zk_proto::records::reconfig::ReconfigRequest;
use zk_proto::{CreateMode, RequestBody};

#[test]
fn create_in_every_mode() {
    let mut s = Script::new("nodes_create_modes");
    let a = s.connect();
    s.req(a, create(&s.root(), b"root", CreateMode::Persistent));
    s.req(a, create(&s.path("p"), b"p", CreateMode::Persistent));
    s.req(a, create2(&s.path("p2"), b"p2", CreateMode::Persistent));
    s.req(a, create2(&s.path("e"), b"e", CreateMode::Ephemeral));
    s.req(
        a,
        create(&s.path("ps-"), b"", CreateMode::PersistentSequential),
    );
    s.req(
        a,
        create2(&s.path("ps-"), b"", CreateMode::PersistentSequential),
    );
    s.req(
        a,
        create2(&s.path("es-"), b"x", CreateMode::EphemeralSequential),
    );
    s.req(a, create_container(&s.path("c"), b"c"));
    s.req(
        a,
        create_ttl(
            &s.path("t"),
            b"t",
            CreateMode::PersistentWithTtl.flag(),
            60_000,
        ),
    );
    let seq_ttl = CreateMode::PersistentSequentialWithTtl.flag();
    s.req(a, create_ttl(&s.path("ts-"), b"t", seq_ttl, 60_000));
    s.req(a, create_raw(&s.path("null"), None, open_acl(), 0));
    for child in ["p", "e", "c", "t", "null"] {
        s.req(a, get_data(&s.path(child), false));
    }
    s.req(a, get_children2(&s.root(), false));
    s.req(a, get_ephemerals(&s.root()));
    check(s);
}

#[test]
fn create_error_paths() {
    let mut s = Script::new("nodes_create_errors");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("x"), b"", CreateMode::Persistent));
    // NodeExists, with create and create2.
    s.req(a, create(&s.path("x"), b"", CreateMode::Persistent));
    s.req(a, create2(&s.path("x"), b"", CreateMode::Ephemeral));
    // NoNode parent.
    s.req(
        a,
        create(&s.path("missing/child"), b"", CreateMode::Persistent),
    );
    s.req(
        a,
        create2(
            &s.path("missing/child"),
            b"",
            CreateMode::PersistentSequential,
        ),
    );
    // NoChildrenForEphemerals.
    s.req(a, create(&s.path("eph"), b"", CreateMode::Ephemeral));
    s.req(a, create(&s.path("eph/child"), b"", CreateMode::Persistent));
    s.req(
        a,
        create2(&s.path("eph/child"), b"", CreateMode::EphemeralSequential),
    );
    // Flags that are no create mode.
    s.req(a, create_raw(&s.path("flags7"), None, open_acl(), 7));
    s.req(a, create_raw(&s.path("flags-1"), None, open_acl(), -1));
    // Container and TTL modes through the plain create opcode.
    s.req(a, create_raw(&s.path("c_by_create"), None, open_acl(), 4));
    s.req(a, create_raw(&s.path("t_by_create"), None, open_acl(), 5));
    // createTTL with a mode that has no TTL, and with TTLs out of range.
    s.req(a, create_ttl(&s.path("t_persistent"), b"", 0, 1000));
    s.req(a, create_ttl(&s.path("t_zero"), b"", 5, 0));
    s.req(a, create_ttl(&s.path("t_negative"), b"", 5, -5));
    s.req(a, create_ttl(&s.path("t_huge"), b"", 5, 0x0100_0000_0000));
    s.req(a, create_ttl(&s.path("t_max"), b"", 5, 0x00FF_FFFF_FFFF));
    // createContainer carrying other flags.
    s.req(
        a,
        RequestBody::CreateContainer(zk_proto::records::node::CreateRequest {
            path: s.path("c_flags0"),
            data: None,
            acl: open_acl(),
            flags: 0,
        }),
    );
    s.req(a, get_children(&s.root(), false));
    s.req(a, get_children2(&s.root(), false));
    check(s);
}

#[test]
fn invalid_paths() {
    let mut s = Script::new("nodes_invalid_paths");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    let root = s.root();
    let bad = [
        "noslash".to_owned(),
        format!("{root}/"),
        format!("{root}//x"),
        format!("{root}/./x"),
        format!("{root}/../x"),
        format!("{root}/x/."),
        format!("{root}/nul\u{0}x"),
        format!("{root}/del\u{7f}x"),
        format!("{root}/bom\u{feff}x"),
    ];
    for path in &bad {
        s.req(a, create(path, b"", CreateMode::Persistent));
    }
    for path in &bad[..3] {
        s.req(a, get_data(path, false));
        s.req(a, exists(path, false));
        s.req(a, set_data(path, b"", -1));
        s.req(a, delete(path, -1));
        s.req(a, get_children(path, false));
    }
    // A sequential create may end in '/': the suffix is the whole last component.
    s.req(
        a,
        create(&format!("{root}/"), b"", CreateMode::PersistentSequential),
    );
    s.req(
        a,
        create(&format!("{root}//"), b"", CreateMode::PersistentSequential),
    );
    // The root itself.
    s.req(a, create("/", b"", CreateMode::Persistent));
    s.req(a, get_children(&s.root(), false));
    check(s);
}

#[test]
fn empty_path() {
    // Apache's DataTree keeps the root under the key "", so reads of "" answer for "/".
    let mut s = Script::new("nodes_empty_path");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create("", b"", CreateMode::Persistent));
    s.req(a, get_data("", false));
    s.req(a, exists("", false));
    s.req(a, set_data("", b"", -1));
    s.req(a, delete("", -1));
    s.req(a, get_children("", false));
    s.req(a, get_acl(""));
    s.req(a, get_all_children_number(""));
    check(s);
}

#[test]
fn delete_paths() {
    let mut s = Script::new("nodes_delete");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("p"), b"", CreateMode::Persistent));
    s.req(a, create(&s.path("p/c"), b"", CreateMode::Persistent));
    s.req(a, delete(&s.path("p"), -1));
    s.req(a, delete(&s.path("p"), 0));
    s.req(a, delete(&s.path("p/c"), 3));
    s.req(a, delete(&s.path("missing"), -1));
    s.req(a, delete(&s.path("missing"), 4));
    s.req(a, set_data(&s.path("p/c"), b"v1", 0));
    s.req(a, delete(&s.path("p/c"), 0));
    s.req(a, delete(&s.path("p/c"), 1));
    s.req(a, delete(&s.path("p/c"), 1));
    s.req(a, get_children2(&s.path("p"), false));
    s.req(a, delete(&s.path("p"), 0));
    s.req(a, exists(&s.path("p"), false));
    s.req(a, delete("/", -1));
    s.req(a, exists(&s.root(), false));
    check(s);
}

#[test]
fn data_and_versions() {
    let mut s = Script::new("nodes_data");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create2(&s.path("d"), b"one", CreateMode::Persistent));
    s.req(a, set_data(&s.path("d"), b"two", -1));
    s.req(a, set_data(&s.path("d"), b"three", 1));
    s.req(a, set_data(&s.path("d"), b"four", 1));
    s.req(a, set_data(&s.path("d"), b"", 2));
    s.req(a, get_data(&s.path("d"), false));
    s.req(
        a,
        RequestBody::SetData(zk_proto::records::node::SetDataRequest {
            path: s.path("d"),
            data: None,
            version: -1,
        }),
    );
    s.req(a, get_data(&s.path("d"), false));
    s.req(a, set_data(&s.path("d"), b"x", -2));
    s.req(a, set_data(&s.path("missing"), b"x", -1));
    s.req(a, get_data(&s.path("missing"), false));
    s.req(a, exists(&s.path("missing"), false));
    let big = vec![b'z'; 200_000];
    s.req(a, set_data(&s.path("d"), &big, -1));
    s.req(a, exists(&s.path("d"), false));
    s.req(a, get_data(&s.path("d"), false));
    // Versions of a node whose data never changed but whose children did.
    s.req(a, create(&s.path("d/k"), b"", CreateMode::Persistent));
    s.req(a, delete(&s.path("d/k"), -1));
    s.req(a, exists(&s.path("d"), false));
    check(s);
}

#[test]
fn children_ephemerals_and_counts() {
    let mut s = Script::new("nodes_children");
    let a = s.connect();
    let b = s.connect();
    let root = s.root();
    s.req(a, create(&root, b"", CreateMode::Persistent));
    for rel in ["x", "x/y", "x/y/z", "x/w", "eph", "ephemeral2", "v"] {
        let mode = if rel.starts_with("eph") {
            CreateMode::Ephemeral
        } else {
            CreateMode::Persistent
        };
        s.req(a, create(&s.path(rel), b"", mode));
    }
    s.req(b, create(&s.path("x/b_eph"), b"", CreateMode::Ephemeral));
    s.req(
        a,
        create(&s.path("v/es-"), b"", CreateMode::EphemeralSequential),
    );
    s.req(a, get_children(&root, false));
    s.req(a, get_children2(&root, false));
    s.req(a, get_children(&s.path("x/y/z"), false));
    s.req(a, get_children2(&s.path("x/y/z"), false));
    s.req(a, get_children(&s.path("missing"), false));
    s.req(a, get_children2(&s.path("missing"), false));
    s.req(a, get_all_children_number(&root));
    s.req(a, get_all_children_number(&s.path("x")));
    s.req(a, get_all_children_number(&s.path("x/y/z")));
    s.req(a, get_all_children_number(&s.path("missing")));
    // getEphemerals matches a string prefix of the path, and only the caller's own nodes.
    s.req(a, get_ephemerals(&root));
    s.req(a, get_ephemerals(&s.path("eph")));
    s.req(a, get_ephemerals(&s.path("ephemeral2")));
    s.req(a, get_ephemerals(&format!("{root}/e")));
    s.req(a, get_ephemerals(&s.path("missing")));
    s.req(a, get_ephemerals(&s.path("x")));
    s.req(b, get_ephemerals(&root));
    s.req(b, get_ephemerals(&s.path("x/b_eph")));
    check(s);
}

#[test]
fn sequential_suffix_and_cversion() {
    let mut s = Script::new("nodes_sequential");
    let a = s.connect();
    let p = s.path("p");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&p, b"", CreateMode::Persistent));
    s.req(a, create(&format!("{p}/a"), b"", CreateMode::Persistent));
    s.req(a, create(&format!("{p}/b"), b"", CreateMode::Persistent));
    s.req(a, delete(&format!("{p}/a"), -1));
    s.req(a, get_children2(&p, false));
    s.req(
        a,
        create2(&format!("{p}/s-"), b"", CreateMode::PersistentSequential),
    );
    s.req(
        a,
        create2(&format!("{p}/s-"), b"", CreateMode::EphemeralSequential),
    );
    // A failed create changes neither cversion nor the next suffix.
    s.req(a, create(&format!("{p}/b"), b"", CreateMode::Persistent));
    s.req(
        a,
        create(
            &format!("{p}/missing/x"),
            b"",
            CreateMode::PersistentSequential,
        ),
    );
    s.req(a, get_children2(&p, false));
    s.req(
        a,
        create2(&format!("{p}/"), b"", CreateMode::PersistentSequential),
    );
    s.req(a, delete(&format!("{p}/b"), -1));
    s.req(
        a,
        create2(&format!("{p}/s-"), b"", CreateMode::PersistentSequential),
    );
    // setData on the parent does not touch cversion.
    s.req(a, set_data(&p, b"data", -1));
    s.req(
        a,
        create2(&format!("{p}/s-"), b"", CreateMode::PersistentSequential),
    );
    // Another parent counts on its own.
    s.req(
        a,
        create2(&s.path("q-"), b"", CreateMode::PersistentSequential),
    );
    s.req(
        a,
        create2(&s.path("q-"), b"", CreateMode::PersistentSequential),
    );
    s.req(a, get_children2(&p, false));
    s.req(a, get_children2(&s.root(), false));
    check(s);
}

#[test]
fn sync_check_and_who_am_i() {
    let mut s = Script::new("nodes_sync_check");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, sync(&s.root()));
    s.req(a, sync(&s.path("missing")));
    s.req(a, sync("/"));
    s.req(a, sync("bad"));
    // A check outside a multi that succeeds gets no reply at all from Apache 3.8, so only the
    // failing ones are compared.
    s.req(a, check_version(&s.root(), 3));
    s.req(a, check_version(&s.path("missing"), -1));
    s.req(a, RequestBody::WhoAmI);
    check(s);
}

#[test]
fn zookeeper_subtree() {
    let mut s = Script::new("nodes_zookeeper");
    s.also_clean("/zookeeper/differential");
    s.also_clean("/zookeeper/quota/differential");
    s.also_clean("/zookeeper/config/differential");
    let a = s.connect();
    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        s.req(a, get_data(path, false));
        s.req(a, get_children2(path, false));
        s.req(a, get_acl(path));
    }
    s.req(a, get_all_children_number("/zookeeper"));
    s.req(a, create("/zookeeper", b"", CreateMode::Persistent));
    s.req(a, create("/zookeeper/config", b"", CreateMode::Persistent));
    s.req(a, set_data("/zookeeper/config", b"server.1=x", -1));
    s.req(
        a,
        create(
            "/zookeeper/config/differential",
            b"",
            CreateMode::Persistent,
        ),
    );
    s.req(a, delete("/zookeeper/config", -1));
    s.req(a, set_data("/zookeeper/quota", b"q", -1));
    s.req(a, delete("/zookeeper/quota", -1));
    s.req(a, delete("/zookeeper", -1));
    s.req(
        a,
        create("/zookeeper/differential", b"", CreateMode::Persistent),
    );
    s.req(a, delete("/zookeeper/differential", -1));
    s.req(
        a,
        create("/zookeeper/quota/differential", b"", CreateMode::Persistent),
    );
    s.req(a, delete("/zookeeper/quota/differential", -1));
    s.req(a, get_children2("/zookeeper", false));
    s.req(
        a,
        RequestBody::Reconfig(ReconfigRequest {
            joining_servers: Some("server.2=127.0.0.1:2888:3888;2181".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
    );
    s.req(a, get_data("/zookeeper/config", false));
    check(s);
}
