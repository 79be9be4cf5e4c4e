//! Interop, Apache → zk-storage: Apache ZooKeeper 3.8 (Debian) writes a data dir through a real
//! client (snapCount=10, so it rolls logs and takes fuzzy snapshots); zk-storage must read every
//! node, data, ACL, stat and session back, and its digest must equal the one Apache recorded.
//!
//! Skips (printing why) without Java or the jars, unless `ZK_REQUIRE_APACHE` is set.

mod common;

use std::collections::BTreeMap;

use common::apache::{acl_strings, DumpNode, Probe};
use zk_proto::TxnBody;
use zk_storage::{
    list_snapshots, read_snapshot, read_txns, recover, SnapNode, DEFAULT_MAX_RECORD_SIZE,
};
use zk_testkit::ApacheOptions;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
const CONTAINER_OWNER: i64 = i64::MIN;
/// `EphemeralType.TTL`: 0xFF in the top byte, the TTL below.
const TTL_MARKER: i64 = 0xFF << 56;

#[test]
fn apache_data_dir_reads_back_exactly() {
    let Some(probe) = Probe::compile_or_skip("apache_data_dir_reads_back_exactly") else {
        return;
    };
    let options = ApacheOptions::new()
        .with_cfg_line("snapCount=10")
        .with_cfg_line("extendedTypesEnabled=true");
    let Some(mut server) =
        zk_testkit::apache_with_or_skip("apache_data_dir_reads_back_exactly", options)
    else {
        return;
    };
    let connect = server.connect_string();
    let (session, timeout) = probe.write(&connect);
    let before_restart = probe.dump(&connect);

    // A restart makes Apache load its own files and write a snapshot at its last zxid, with no
    // txn in flight, so that snapshot's digest describes exactly the tree in it.
    server.restart().expect("restart");
    // Apache serves the same tree after recovering its own files.
    let expected = probe.dump(&connect);
    assert!(expected.len() > 30, "{expected:#?}");
    assert_eq!(before_restart, expected);
    server.kill();
    let data_dir = server.data_dir().to_path_buf();

    // Every file Apache wrote is readable.
    let snapshots = list_snapshots(&data_dir).unwrap();
    assert!(
        snapshots.len() >= 4,
        "expected several snapshots: {snapshots:?}"
    );
    let mut exact_digests = 0;
    for (zxid, path) in &snapshots {
        let snap = read_snapshot(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Some(d) = snap.digest {
            if d.zxid == *zxid && d.zxid > 0 {
                assert_eq!(snap.tree_digest(), d.digest, "digest of {}", path.display());
                exact_digests += 1;
            }
        }
    }
    // Fuzzy snapshots usually record a later zxid's digest; the exact ones must match.
    eprintln!(
        "{exact_digests} of {} snapshots had a digest of their own zxid",
        snapshots.len()
    );
    let txns = read_txns(&data_dir, 0, DEFAULT_MAX_RECORD_SIZE).unwrap();
    assert!(txns.len() > 40, "{} txns", txns.len());
    assert!(
        txns.iter().all(|t| t.digest.is_some()),
        "3.8 logs a digest with every txn"
    );
    assert!(txns.iter().any(|t| matches!(t.body, TxnBody::Multi(_))));
    assert!(txns.iter().any(|t| matches!(t.body, TxnBody::CreateTtl(_))));
    assert!(txns
        .iter()
        .any(|t| matches!(t.body, TxnBody::CreateContainer(_))));

    // Recovery picks the restart snapshot; after it come only the dump client's session txns.
    let recovered = recover(&data_dir, &data_dir).unwrap();
    let (snap_zxid, snap) = recovered.snapshot.as_ref().expect("a snapshot");
    assert!(recovered.txns.len() <= 2, "{:?}", recovered.txns);
    assert!(recovered
        .txns
        .iter()
        .all(|t| matches!(t.body, TxnBody::CreateSession(_) | TxnBody::CloseSession(_))));
    let last_node_txn = txns
        .iter()
        .rev()
        .find(|t| !matches!(t.body, TxnBody::CreateSession(_) | TxnBody::CloseSession(_)))
        .unwrap();
    // node_digest is exact: our sum over the nodes of Apache's startup snapshot (written with no
    // txn in flight) equals the tree digest Apache logged with the txn at that zxid, and the
    // digest it recorded in the snapshot — unless it had replayed nothing, in which case it
    // records an empty digest (zxid 0).
    let logged = txns
        .iter()
        .find(|t| t.zxid() == *snap_zxid)
        .and_then(|t| t.digest.as_ref())
        .expect("the snapshot's last txn, with its digest")
        .tree_digest;
    assert_eq!(snap.tree_digest(), logged);
    let digest = snap.digest.expect("3.8 writes a digest section");
    assert_eq!(digest.digest_version, 2);
    if digest.zxid == *snap_zxid {
        assert_eq!(digest.digest, logged);
    } else {
        assert_eq!((digest.zxid, digest.digest), (0, 0));
    }
    assert!(last_node_txn.zxid() <= *snap_zxid);

    // Sessions.
    assert!(
        snap.sessions.contains(&(session, timeout)),
        "session {session:#x}/{timeout} not in {:?}",
        snap.sessions
    );

    // Every node, exactly as the Apache client saw it.
    let nodes: BTreeMap<&str, &SnapNode> =
        snap.nodes.iter().map(|n| (n.path.as_str(), n)).collect();
    assert_eq!(
        nodes.keys().copied().collect::<Vec<_>>(),
        expected.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for (path, want) in &expected {
        let node = nodes[path.as_str()];
        compare(node, want, &snap.nodes);
    }
    assert_eq!(nodes["/eph"].stat.ephemeral_owner, session);
    assert_eq!(nodes["/cont"].stat.ephemeral_owner, CONTAINER_OWNER);
    assert_eq!(nodes["/ttl"].stat.ephemeral_owner, TTL_MARKER | 600_000);
    assert_eq!(nodes["/nulldata"].data, None);
    assert_eq!(nodes["/empty"].data.as_deref(), Some(&b""[..]));
}

fn compare(node: &SnapNode, want: &DumpNode, all: &[SnapNode]) {
    let path = &node.path;
    assert_eq!(node.data.as_deref(), want.data.as_deref(), "{path} data");
    let s = &node.stat;
    let children = all
        .iter()
        .filter(|n| n.path != "/" && common::parent_of(&n.path) == path)
        .count() as i32;
    // Apache stores the number of child creates (the sequential counter) and shows clients
    // creates + deletes: `DataNode.copyStat` sets cversion = 2 * stored - numChildren.
    let client_cversion = 2 * s.cversion - children;
    assert_eq!(
        (
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            s.version,
            client_cversion,
            s.aversion,
            s.pzxid
        ),
        (
            want.czxid,
            want.mzxid,
            want.ctime,
            want.mtime,
            want.version,
            want.cversion,
            want.aversion,
            want.pzxid
        ),
        "{path} stat"
    );
    // Clients see 0 for container and TTL nodes (DataTree.copyStat).
    let owner = if s.ephemeral_owner == CONTAINER_OWNER || (s.ephemeral_owner >> 56) == -1 {
        0
    } else {
        s.ephemeral_owner
    };
    assert_eq!(owner, want.ephemeral_owner, "{path} ephemeralOwner");
    assert_eq!(children, want.num_children, "{path} numChildren");
    assert_eq!(
        node.data.as_ref().map_or(0, |d| d.len()) as i32,
        want.data_length,
        "{path} dataLength"
    );
    assert_eq!(acl_strings(&node.acl), want.acl, "{path} ACL");
}
