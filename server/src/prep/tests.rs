//! Prep error paths and pipelining against pending changes.

use bytes::Bytes;
use zk_proto::records::node::{CreateRequest, DeleteRequest, SetDataRequest};
use zk_proto::{Acl, ErrorCode, Id, MultiOp, MultiRequest, OpCode, RequestBody, TxnBody};

use super::*;
use crate::acl::AuthIds;
use crate::tree::DataTree;

struct Fixture {
    tree: DataTree,
    pending: PendingChanges,
    zxid: i64,
    ids: AuthIds,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            tree: DataTree::new(),
            pending: PendingChanges::default(),
            zxid: 0,
            ids: AuthIds::default(),
        }
    }

    /// Preps and (optionally) applies.
    fn run(&mut self, req: RequestBody, apply: bool) -> Txn {
        self.zxid += 1;
        let txn = prep_write(
            PrepInput {
                tree: &self.tree,
                pending: &mut self.pending,
                zxid: self.zxid,
                time: 0,
                session: 5,
                session_live: true,
                cxid: 1,
                ids: &self.ids,
                config: PrepConfig {
                    digest: true,
                    extended_types: false,
                },
            },
            &req,
        );
        if apply {
            self.tree.apply(&txn.header, &txn.body);
            self.pending.applied(txn.zxid());
        }
        txn
    }
}

fn create(path: &str, flags: i32) -> RequestBody {
    RequestBody::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::new()),
        acl: Acl::open_unsafe(),
        flags,
    })
}

fn err_of(t: &Txn) -> Option<i32> {
    match &t.body {
        TxnBody::Error(e) => Some(e.err),
        _ => None,
    }
}

#[test]
fn create_error_table() {
    let mut f = Fixture::new();
    f.run(create("/e", 1), true);
    let cases = [
        (create("/x/y", 0), ErrorCode::NoNode),
        (create("noslash", 0), ErrorCode::BadArguments),
        (create("/a/../b", 0), ErrorCode::NoNode),
        (create("/e", 0), ErrorCode::NodeExists),
        (create("/e/c", 0), ErrorCode::NoChildrenForEphemerals),
        (create("/ttl", 5), ErrorCode::Unimplemented),
        (create("/bad", 9), ErrorCode::BadArguments),
        (
            RequestBody::Create(CreateRequest {
                path: "/noacl".into(),
                data: None,
                acl: vec![],
                flags: 0,
            }),
            ErrorCode::InvalidAcl,
        ),
        (
            RequestBody::Create(CreateRequest {
                path: "/auth".into(),
                data: None,
                acl: Acl::creator_all(),
                flags: 0,
            }),
            ErrorCode::InvalidAcl,
        ),
        (
            RequestBody::Delete(DeleteRequest {
                path: "/zookeeper".into(),
                version: -1,
            }),
            ErrorCode::BadArguments,
        ),
        (
            RequestBody::SetData(SetDataRequest {
                path: "/e".into(),
                data: None,
                version: 3,
            }),
            ErrorCode::BadVersion,
        ),
        (
            RequestBody::SetData(SetDataRequest {
                path: "/zookeeper/config".into(),
                data: None,
                version: -1,
            }),
            ErrorCode::NoAuth,
        ),
    ];
    for (req, want) in cases {
        let t = f.run(req.clone(), true);
        assert_eq!(t.header.txn_type, OpCode::Error.code(), "{req:?}");
        assert_eq!(err_of(&t), Some(want.code()), "{req:?}");
    }
}

#[test]
fn pipelined_writes_see_pending_changes() {
    let mut f = Fixture::new();
    // Neither is applied yet: the second create sees the first one's pending record.
    let a = f.run(create("/p", 0), false);
    let b = f.run(create("/p/c", 0), false);
    assert_eq!(a.header.txn_type, OpCode::Create.code());
    assert_eq!(b.header.txn_type, OpCode::Create.code());
    let dup = f.run(create("/p", 0), false);
    assert_eq!(err_of(&dup), Some(ErrorCode::NodeExists.code()));
    // Sequential names come from the pending parent cversion.
    let s1 = f.run(create("/p/s-", 2), false);
    let TxnBody::Create(c) = &s1.body else {
        panic!()
    };
    assert_eq!(c.path, "/p/s-0000000001");
    for t in [a, b, dup, s1] {
        f.tree.apply(&t.header, &t.body);
        f.pending.applied(t.zxid());
    }
    assert!(f.pending.is_empty());
}

#[test]
fn failed_multi_rolls_back_its_own_changes() {
    let mut f = Fixture::new();
    let m = RequestBody::Multi(MultiRequest {
        ops: vec![
            MultiOp::Create(CreateRequest {
                path: "/m".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/missing".into(),
                version: -1,
            }),
        ],
    });
    let t = f.run(m, false);
    assert_eq!(t.header.txn_type, OpCode::Multi.code());
    assert!(f.pending.is_empty(), "nothing pending from a failed multi");
    let again = f.run(create("/m", 0), false);
    assert_eq!(again.header.txn_type, OpCode::Create.code());
}

#[test]
fn digest_acl_and_super() {
    let mut f = Fixture::new();
    f.ids
        .add(Id::new("digest", crate::acl::generate_digest("u:p")));
    let t = f.run(
        RequestBody::Create(CreateRequest {
            path: "/mine".into(),
            data: None,
            acl: Acl::creator_all(),
            flags: 0,
        }),
        true,
    );
    let TxnBody::Create(c) = &t.body else {
        panic!()
    };
    assert_eq!(c.acl[0].id.scheme, "digest");
    f.ids = AuthIds::default();
    let denied = f.run(
        RequestBody::SetData(SetDataRequest {
            path: "/mine".into(),
            data: None,
            version: -1,
        }),
        true,
    );
    assert_eq!(err_of(&denied), Some(ErrorCode::NoAuth.code()));
    f.ids.add(Id::new("super", ""));
    let ok = f.run(
        RequestBody::SetData(SetDataRequest {
            path: "/mine".into(),
            data: None,
            version: -1,
        }),
        true,
    );
    assert_eq!(ok.header.txn_type, OpCode::SetData.code());
}
