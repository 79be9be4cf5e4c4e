//! Interop, zk-storage → Apache: a data dir written by zk-storage (a snapshot of a tree with
//! ephemeral, sequential, ACL'd and null-data nodes and live sessions, plus log txns before and
//! after it, each with its digest) is read by Apache's TxnLogToolkit and SnapshotFormatter, and
//! served by Apache ZooKeeper 3.8 exactly: same nodes, data, stats, ACLs, sessions, and the same
//! tree digest.
//!
//! Skips (printing why) without Java or the jars, unless `ZK_REQUIRE_APACHE` is set.

mod common;

use std::fs;

use bytes::Bytes;
use common::apache::{acl_strings, zkcli, Probe};
use common::{header, ModelTree};
use zk_proto::records::acl::Id;
use zk_proto::records::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, SetAclTxn, SetDataTxn,
};
use zk_proto::{perms, Acl, OpCode, TxnBody};
use zk_storage::layout::{log_dir, snap_dir};
use zk_storage::{write_snapshot, LoggedTxn, TxnLog, TxnLogOptions};
use zk_testkit::{ApacheOptions, TestDir};

const EPOCH: i64 = 1 << 32;
const S1: i64 = 0x0100_0000_0000_0001;
const S2: i64 = 0x0100_0000_0000_0002;
const S3: i64 = 0x0100_0000_0000_0003;
/// `DigestAuthenticationProvider.generateDigest("user:secret")`; ZkProbe authenticates as it.
const USER_DIGEST: &str = "user:5w9W4eL3797Y4Wq8AcKUPPk8ha4=";

/// Builds the next txn from the tree so far (for parent cversions).
type Step<'a> = Box<dyn Fn(&ModelTree) -> LoggedTxn + 'a>;

fn txn(n: i64, op: OpCode, session: i64, body: TxnBody) -> LoggedTxn {
    LoggedTxn {
        header: header(EPOCH + n, op, session),
        body,
        digest: None,
    }
}

fn create(
    n: i64,
    session: i64,
    path: &str,
    data: Option<&[u8]>,
    acl: Vec<Acl>,
    ephemeral: bool,
    tree: &ModelTree,
) -> LoggedTxn {
    let parent = common::parent_of(path);
    txn(
        n,
        OpCode::Create,
        session,
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: data.map(Bytes::copy_from_slice),
            acl,
            ephemeral,
            parent_cversion: tree.nodes[parent].stat.cversion + 1,
        }),
    )
}

#[test]
fn apache_serves_our_data_dir() {
    let Some(probe) = Probe::compile_or_skip("apache_serves_our_data_dir") else {
        return;
    };
    let secure = vec![
        Acl::new(perms::ALL, Id::new("digest", USER_DIGEST)),
        Acl::new(perms::READ, Id::anyone()),
    ];
    let open = Acl::open_unsafe;

    // History up to the snapshot.
    let mut tree = ModelTree::apache_initial();
    let mut before = Vec::new();
    let steps: Vec<Step> = vec![
        Box::new(|_| {
            txn(
                1,
                OpCode::CreateSession,
                S1,
                TxnBody::CreateSession(CreateSessionTxn { timeout: 40_000 }),
            )
        }),
        Box::new(|_| {
            txn(
                2,
                OpCode::CreateSession,
                S2,
                TxnBody::CreateSession(CreateSessionTxn { timeout: 30_000 }),
            )
        }),
        Box::new(|t| create(3, S1, "/app", Some(b"hello"), open(), false, t)),
        Box::new(|t| create(4, S1, "/app/child-0000000000", Some(b"c"), open(), false, t)),
        Box::new(|t| create(5, S1, "/secure", Some(b"s"), secure.clone(), false, t)),
        Box::new(|t| create(6, S1, "/eph", Some(b"e"), open(), true, t)),
        Box::new(|t| create(7, S2, "/nulldata", None, open(), false, t)),
    ];
    for step in &steps {
        let t = step(&tree);
        before.push(tree.apply(t));
    }
    let snap_zxid = EPOCH + 7;
    let snapshot = tree.snapshot(snap_zxid);

    // After it.
    let mut after = Vec::new();
    let steps: Vec<Step> = vec![
        Box::new(|t| create(8, S2, "/app/new", Some(b"n"), open(), false, t)),
        Box::new(|_| {
            txn(
                9,
                OpCode::SetData,
                S1,
                TxnBody::SetData(SetDataTxn {
                    path: "/app".into(),
                    data: Some(Bytes::from_static(b"hello2")),
                    version: 1,
                }),
            )
        }),
        Box::new(|t| create(10, S2, "/eph2", Some(b"e2"), open(), true, t)),
        Box::new(|_| {
            txn(
                11,
                OpCode::Delete,
                S1,
                TxnBody::Delete(DeleteTxn {
                    path: "/nulldata".into(),
                }),
            )
        }),
        Box::new(|_| {
            txn(
                12,
                OpCode::SetAcl,
                S1,
                TxnBody::SetAcl(SetAclTxn {
                    path: "/app/new".into(),
                    acl: Acl::read_unsafe(),
                    version: 1,
                }),
            )
        }),
        Box::new(|_| {
            txn(
                13,
                OpCode::CreateSession,
                S3,
                TxnBody::CreateSession(CreateSessionTxn { timeout: 20_000 }),
            )
        }),
        Box::new(|_| {
            txn(
                14,
                OpCode::CloseSession,
                S3,
                TxnBody::CloseSession(CloseSessionTxn::default()),
            )
        }),
    ];
    for step in &steps {
        let t = step(&tree);
        after.push(tree.apply(t));
    }

    // Write the data dir as zk-server would.
    let dir = TestDir::new("ours-for-apache").unwrap();
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    for t in &before {
        log.append(t).unwrap();
    }
    log.sync().unwrap();
    log.roll().unwrap();
    let snap_path = write_snapshot(dir.path(), snap_zxid, &snapshot).unwrap();
    for t in &after {
        log.append(t).unwrap();
    }
    log.sync().unwrap();
    drop(log);
    let vdir = snap_dir(dir.path());
    assert_eq!(vdir, log_dir(dir.path()));
    let log1 = vdir.join("log.100000001");
    let log2 = vdir.join("log.100000008");
    assert!(log1.is_file() && log2.is_file() && snap_path.is_file());

    // Apache's offline tools read our files.
    let (ok, out) = probe.run_tool(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &[&log1],
    );
    assert!(ok, "TxnLogToolkit failed:\n{out}");
    assert!(out.contains("txnlog format version 2"), "{out}");
    assert!(
        out.contains("createSession") && out.contains("create /app/child-0000000000"),
        "{out}"
    );
    assert!(out.contains("EOF reached after 7 txns"), "{out}");
    let (ok, out) = probe.run_tool(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &[&log2],
    );
    assert!(ok, "TxnLogToolkit failed:\n{out}");
    for needle in [
        "create /app/new",
        "setData /app",
        "delete '/nulldata",
        "setACL",
        "closeSession",
        "EOF reached after 7 txns",
    ] {
        assert!(out.contains(needle), "no {needle:?} in:\n{out}");
    }
    let (ok, out) = probe.run_tool(
        "org.apache.zookeeper.server.SnapshotFormatter",
        &[std::path::Path::new("-d"), &snap_path],
    );
    assert!(ok, "SnapshotFormatter failed:\n{out}");
    // Apache's node map holds the root twice (under "" and "/").
    assert!(
        out.contains(&format!(
            "ZNode Details (count={})",
            snapshot.nodes.len() + 1
        )),
        "{out}"
    );
    for node in &snapshot.nodes {
        assert!(
            out.contains(&format!("\n{}\n", node.path)),
            "no {} in:\n{out}",
            node.path
        );
    }
    assert!(
        out.contains("Session Details (sid, timeout, ephemeralCount):"),
        "{out}"
    );
    assert!(out.contains("0x100000000000001, 40000, 1"), "{out}");
    assert!(out.contains("0x100000000000002, 30000, 0"), "{out}");
    assert!(out.contains(&format!("Last zxid: {snap_zxid:#x}")), "{out}");

    // Apache serves it.
    let options = ApacheOptions::new().with_data_dir(dir.path());
    let Some(server) = zk_testkit::apache_with_or_skip("apache_serves_our_data_dir", options)
    else {
        return;
    };
    let connect = server.connect_string();
    let served = probe.dump(&connect);
    let log_text = fs::read_to_string(server.log_path()).unwrap_or_default();
    let paths: Vec<&String> = served.keys().collect();
    let want_paths: Vec<&String> = tree.nodes.keys().collect();
    assert_eq!(paths, want_paths);
    for (path, node) in &tree.nodes {
        let got = &served[path];
        let children = tree.child_count(path) as i32;
        let s = &node.stat;
        assert_eq!(got.data.as_deref(), node.data.as_deref(), "{path} data");
        assert_eq!(
            (
                got.czxid,
                got.mzxid,
                got.ctime,
                got.mtime,
                got.version,
                got.aversion,
                got.ephemeral_owner,
                got.pzxid
            ),
            (
                s.czxid,
                s.mzxid,
                s.ctime,
                s.mtime,
                s.version,
                s.aversion,
                s.ephemeral_owner,
                s.pzxid
            ),
            "{path} stat"
        );
        assert_eq!(got.cversion, 2 * s.cversion - children, "{path} cversion");
        assert_eq!(got.num_children, children, "{path} numChildren");
        assert_eq!(got.acl, acl_strings(&node.acl), "{path} ACL");
    }

    // Apache computed the same digests: for the snapshot, for every replayed txn, and overall.
    for bad in ["digest mismatch", "Digests are not matching"] {
        assert!(
            !log_text.to_lowercase().contains(&bad.to_lowercase()),
            "Apache logged {bad:?}:\n{log_text}"
        );
    }
    let loaded = format!(
        "highest zxid is {:#x}, digest is {}",
        EPOCH + 14,
        tree.digest.value()
    );
    assert!(
        log_text.contains(&loaded),
        "no {loaded:?} in the Apache log:\n{log_text}"
    );

    // Sessions came back with their ephemerals.
    let dump = server.four_letter("dump");
    assert!(dump.contains("0x100000000000001:\n\t/eph"), "{dump}");
    assert!(dump.contains("0x100000000000002:\n\t/eph2"), "{dump}");

    // And zkCli agrees.
    let out = zkcli(
        &connect,
        &[
            "get /app",
            "stat /app",
            "ls /",
            "getAcl /secure",
            "get /app/new",
        ],
    );
    for needle in [
        "hello2",
        &format!("cZxid = {:#x}", EPOCH + 3),
        &format!("mZxid = {:#x}", EPOCH + 9),
        "dataVersion = 1",
        "[app, eph, eph2, secure, zookeeper]",
        // Apache masks the digest hash for a client not authenticated as that user.
        "'digest,'user:x\n: cdrwa",
        "'world,'anyone\n: r",
    ] {
        assert!(
            out.contains(needle),
            "zkCli output lacks {needle:?}:\n{out}"
        );
    }
}
