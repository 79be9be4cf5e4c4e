//! Table tests of `DataTree::apply`: stat rules, cversion/pzxid, sequential suffix inputs,
//! ephemerals, containers, sessions, multi layout.

use bytes::Bytes;
use zk_proto::records::txn::{
    CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTxn, DeleteTxn, ErrorTxn,
    MultiTxn, SetAclTxn, SetDataTxn,
};
use zk_proto::{Acl, ErrorCode, EventType, MultiResult, OpCode, TxnBody, TxnHeader};

use super::*;

fn hdr(zxid: i64, session: i64, t: OpCode) -> TxnHeader {
    TxnHeader {
        client_id: session,
        cxid: 1,
        zxid,
        time: 1000 + zxid,
        txn_type: t.code(),
    }
}

fn create(path: &str, ephemeral: bool, parent_cversion: i32) -> TxnBody {
    TxnBody::Create(CreateTxn {
        path: path.into(),
        data: Some(Bytes::from_static(b"x")),
        acl: Acl::open_unsafe(),
        ephemeral,
        parent_cversion,
    })
}

fn delete(path: &str) -> TxnBody {
    TxnBody::Delete(DeleteTxn { path: path.into() })
}

#[test]
fn fresh_tree_matches_apache() {
    let t = DataTree::new();
    let root = t.get("/").unwrap().client_stat();
    assert_eq!(root.cversion, -1, "one child, no creates");
    assert_eq!(root.num_children, 1);
    let zk = t.get("/zookeeper").unwrap().client_stat();
    assert_eq!(zk.cversion, -2);
    let config = t.get("/zookeeper/config").unwrap();
    assert_eq!(config.stat.aversion, -1);
    assert_eq!(config.acl.len(), 1);
    assert_eq!(t.node_count(), 4);
}

#[test]
fn create_delete_cversion_and_pzxid() {
    let mut t = DataTree::new();
    let r = t.apply(&hdr(1, 0, OpCode::Create), &create("/a", false, 1));
    assert!(matches!(r.result, TxnResult::Created { .. }));
    assert_eq!(
        r.triggers
            .iter()
            .map(|t| (t.event, t.path.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (EventType::NodeCreated, "/a"),
            (EventType::NodeChildrenChanged, "/")
        ]
    );
    t.apply(&hdr(2, 0, OpCode::Create), &create("/a/x", false, 1));
    t.apply(&hdr(3, 0, OpCode::Create), &create("/a/y", false, 2));
    t.apply(&hdr(4, 0, OpCode::Delete), &delete("/a/x"));
    let a = t.get("/a").unwrap();
    assert_eq!(a.stat.cversion, 2, "persisted: creates only");
    let s = a.client_stat();
    assert_eq!(s.cversion, 3, "reported: creates + deletes");
    assert_eq!(s.pzxid, 4);
    assert_eq!(s.num_children, 1);
    assert_eq!((s.czxid, s.mzxid, s.version), (1, 1, 0));
    assert_eq!(t.last_zxid(), 4);
}

#[test]
fn set_data_and_acl_stats() {
    let mut t = DataTree::new();
    t.apply(&hdr(1, 0, OpCode::Create), &create("/a", false, 1));
    let r = t.apply(
        &hdr(2, 0, OpCode::SetData),
        &TxnBody::SetData(SetDataTxn {
            path: "/a".into(),
            data: None,
            version: 1,
        }),
    );
    let TxnResult::DataSet { stat } = r.result else {
        panic!()
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.mtime, stat.data_length),
        (1, 2, 1002, 0)
    );
    let r = t.apply(
        &hdr(3, 0, OpCode::SetAcl),
        &TxnBody::SetAcl(SetAclTxn {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: 1,
        }),
    );
    let TxnResult::AclSet { stat } = r.result else {
        panic!()
    };
    assert_eq!((stat.aversion, stat.mzxid), (1, 2));
    assert!(r.triggers.is_empty(), "setACL fires no watch");
}

#[test]
fn errors_do_not_panic_or_change_state() {
    let mut t = DataTree::new();
    let r = t.apply(&hdr(1, 0, OpCode::Create), &create("/x/y", false, 1));
    assert_eq!(r.result, TxnResult::Error(ErrorCode::NoNode));
    let r = t.apply(&hdr(2, 0, OpCode::Delete), &delete("/nothing"));
    assert_eq!(r.result, TxnResult::Error(ErrorCode::NoNode));
    let r = t.apply(
        &hdr(3, 0, OpCode::Error),
        &TxnBody::Error(ErrorTxn { err: -110 }),
    );
    assert_eq!(r.result, TxnResult::Error(ErrorCode::NodeExists));
    assert_eq!(t.node_count(), 4);
    assert_eq!(t.last_zxid(), 3);
}

#[test]
fn sessions_and_ephemerals() {
    let mut t = DataTree::new();
    t.apply(
        &hdr(1, 7, OpCode::CreateSession),
        &TxnBody::CreateSession(CreateSessionTxn { timeout: 5000 }),
    );
    assert_eq!(t.sessions().get(&7), Some(&5000));
    t.apply(&hdr(2, 7, OpCode::Create), &create("/e1", true, 1));
    t.apply(&hdr(3, 7, OpCode::Create), &create("/e2", true, 2));
    assert_eq!(t.get("/e1").unwrap().client_stat().ephemeral_owner, 7);
    assert_eq!(t.ephemerals(7).count(), 2);
    let r = t.apply(
        &hdr(4, 7, OpCode::CloseSession),
        &TxnBody::CloseSession(CloseSessionTxn {
            paths_to_delete: vec!["/e1".into()],
        }),
    );
    assert_eq!(r.result, TxnResult::SessionClosed);
    assert!(
        t.get("/e1").is_none() && t.get("/e2").is_none(),
        "listed and remaining ephemerals go"
    );
    assert!(t.sessions().is_empty());
    assert_eq!(t.get("/").unwrap().stat.pzxid, 4);
}

#[test]
fn containers_report_owner_zero() {
    let mut t = DataTree::new();
    t.apply(
        &hdr(1, 0, OpCode::CreateContainer),
        &TxnBody::CreateContainer(CreateContainerTxn {
            path: "/c".into(),
            data: None,
            acl: Acl::open_unsafe(),
            parent_cversion: 1,
        }),
    );
    let c = t.get("/c").unwrap();
    assert_eq!(c.stat.ephemeral_owner, CONTAINER_EPHEMERAL_OWNER);
    assert_eq!(c.client_stat().ephemeral_owner, 0);
    assert!(t.containers().contains("/c"));
    t.apply(&hdr(2, 0, OpCode::Delete), &delete("/c"));
    assert!(t.containers().is_empty());
}

#[test]
fn failed_multi_layout() {
    let mut t = DataTree::new();
    let txns = vec![
        create("/m", false, 1).to_sub_txn(OpCode::Create.code()),
        TxnBody::Error(ErrorTxn { err: -101 }).to_sub_txn(OpCode::Error.code()),
        TxnBody::Error(ErrorTxn { err: -2 }).to_sub_txn(OpCode::Error.code()),
    ];
    let r = t.apply(
        &hdr(1, 0, OpCode::Multi),
        &TxnBody::Multi(MultiTxn { txns }),
    );
    assert_eq!(
        r.result,
        TxnResult::Multi {
            results: vec![
                MultiResult::Error { err: 0 },
                MultiResult::Error { err: -101 },
                MultiResult::Error { err: -2 },
            ]
        }
    );
    assert!(t.get("/m").is_none(), "nothing applied");
}

#[test]
fn snapshot_round_trip() {
    let mut t = DataTree::new();
    t.apply(
        &hdr(1, 9, OpCode::CreateSession),
        &TxnBody::CreateSession(CreateSessionTxn { timeout: 4000 }),
    );
    t.apply(&hdr(2, 0, OpCode::Create), &create("/a", false, 1));
    t.apply(&hdr(3, 9, OpCode::Create), &create("/a/e", true, 1));
    let nodes = t.snapshot_nodes();
    assert_eq!(&*nodes[0].path, "/");
    let back = DataTree::from_snapshot(nodes, t.sessions().clone(), t.last_zxid());
    assert_eq!(back.node_count(), t.node_count());
    assert_eq!(back.ephemerals(9).count(), 1);
    assert_eq!(
        back.get("/a").unwrap().client_stat(),
        t.get("/a").unwrap().client_stat()
    );
    assert_eq!(
        back.get("/").unwrap().client_stat(),
        t.get("/").unwrap().client_stat()
    );
}
