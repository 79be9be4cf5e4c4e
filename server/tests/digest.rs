//! The tree digest equals Apache ZooKeeper 3.8's, both ways, for the same operation sequence:
//! - Apache runs the script; zk-server replays Apache's data dir, checking every txn against the
//!   digest Apache logged with it, and its `hash` history equals Apache's.
//! - zk-server runs the script; Apache replays zk-server's data dir (it compares the digests we
//!   logged and counts mismatches) and its `hash` history equals ours.
//!
//! Txn times and session ids differ between two live runs, so two live digests never match;
//! replaying the other server's log is what makes the comparison exact. Skips without Java.

mod common;

use bytes::Bytes;
use common::{create, Raw};
use zk_proto::records::node::{CheckVersionRequest, DeleteRequest, SetAclRequest, SetDataRequest};
use zk_proto::{perms, Acl, Id, MultiOp, MultiRequest, OpCode, RequestBody};
use zk_server::tree::SnapshotNode;
use zk_server::{DataTree, Server, ServerConfig};
use zk_testkit::{ApacheOptions, TestDir};

fn set_data(path: &str, data: &[u8]) -> RequestBody {
    RequestBody::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        version: -1,
    })
}

fn delete(path: &str) -> RequestBody {
    RequestBody::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    })
}

fn create_op(path: &str, flags: i32) -> MultiOp {
    match create(path, b"m", flags) {
        RequestBody::Create(r) => MultiOp::Create(r),
        _ => unreachable!(),
    }
}

/// The operation sequence: every kind of txn (creates of each mode, setData, setACL, delete,
/// multi ok and failed, error txns, containers, ephemerals deleted by closeSession), well over
/// 128 txns so that the `hash` history has entries.
async fn script(addr: &str) {
    let mut a = Raw::connect(addr, 30_000).await;
    let mut b = Raw::connect(addr, 30_000).await;
    assert_eq!(a.call(&create("/d", b"root", 0)).await.0, 0);
    for i in 0..80 {
        let n = format!("/d/n{i}");
        assert_eq!(a.call(&create(&n, format!("{i}").as_bytes(), 0)).await.0, 0);
        assert_eq!(a.call(&set_data(&n, b"changed")).await.0, 0);
        if i % 3 == 0 {
            assert_eq!(a.call(&delete(&n)).await.0, 0);
        }
        if i % 4 == 0 {
            assert_eq!(a.call(&create("/d/s-", b"seq", 2)).await.0, 0);
        }
        if i % 5 == 0 {
            assert_eq!(b.call(&create(&format!("/d/e{i}"), b"eph", 1)).await.0, 0);
        }
        if i % 7 == 0 {
            // An error txn: NodeExists.
            assert_ne!(a.call(&create("/d", b"", 0)).await.0, 0);
        }
        if i % 6 == 1 {
            let acl = vec![Acl::new(perms::ALL, Id::anyone())];
            let req = RequestBody::SetAcl(SetAclRequest {
                path: n.clone(),
                acl,
                version: -1,
            });
            assert_eq!(a.call(&req).await.0, 0);
        }
        if i % 8 == 2 {
            let ok = RequestBody::Multi(MultiRequest {
                ops: vec![
                    create_op(&format!("/d/m{i}"), 0),
                    MultiOp::SetData(SetDataRequest {
                        path: "/d".into(),
                        data: Some(Bytes::from(format!("multi {i}"))),
                        version: -1,
                    }),
                    MultiOp::Check(CheckVersionRequest {
                        path: "/d".into(),
                        version: -1,
                    }),
                ],
            });
            assert_eq!(a.call(&ok).await.0, 0);
            let failed = RequestBody::Multi(MultiRequest {
                ops: vec![create_op(&format!("/d/x{i}"), 0), create_op("/d", 0)],
            });
            a.call(&failed).await; // per-op results carry the failure
        }
        if i % 10 == 3 {
            let c = format!("/c{i}");
            // Containers through createContainer, as clients create them. (A plain create with
            // the container flag makes Apache log a digest computed for a container while it
            // applies a persistent node: Apache then reports its own digest mismatch.)
            let container = match create(&c, b"", 4) {
                RequestBody::Create(r) => RequestBody::CreateContainer(r),
                _ => unreachable!(),
            };
            assert_eq!(a.call(&container).await.0, 0);
            assert_eq!(a.call(&create(&format!("{c}/child"), b"", 0)).await.0, 0);
            assert_eq!(a.call(&delete(&format!("{c}/child"))).await.0, 0);
        }
    }
    // closeSession deletes b's ephemerals.
    assert_eq!(b.call(&RequestBody::CloseSession).await.0, 0);
    assert_eq!(a.call(&RequestBody::CloseSession).await.0, 0);
}

fn to_tree(snapshot: Option<(i64, zk_storage::SnapshotData)>) -> DataTree {
    let Some((zxid, s)) = snapshot else {
        return DataTree::new();
    };
    let nodes = s.nodes.into_iter().map(SnapshotNode::from).collect();
    let mut t = DataTree::from_snapshot(nodes, s.sessions, zxid);
    t.load_snapshot_digest(s.digest);
    t
}

/// Checks the digest rules of a data dir's log and replays it on a `DataTree`, comparing each
/// txn's logged digest with the replayed tree. Returns the number of txns with a digest.
fn replay_and_compare(dir: &std::path::Path) -> usize {
    let recovered = zk_storage::recover(dir, dir).unwrap();
    let mut tree = to_tree(recovered.snapshot);
    let mut with_digest = 0;
    for t in &recovered.txns {
        // Apache logs a TxnDigest after every txn except a failed single op (ErrorTxn).
        if t.header.txn_type == OpCode::Error.code() {
            assert!(t.digest.is_none(), "error txn {:#x} has a digest", t.zxid());
        } else {
            assert!(t.digest.is_some(), "txn {:#x} has no digest", t.zxid());
            with_digest += 1;
        }
        tree.apply(&t.header, &t.body);
        assert!(
            tree.compare_digest(&t.header, t.digest.as_ref()),
            "digest of txn {:#x} {:?} differs: logged {:?}, replayed {}",
            t.zxid(),
            t.body,
            t.digest,
            tree.digest()
        );
    }
    assert_eq!(tree.digest_mismatches(), 0);
    with_digest
}

fn hash_lines(out: &str) -> Vec<String> {
    out.lines().map(str::to_string).collect()
}

fn four_letter(addr: &str, cmd: &str) -> String {
    zk_testkit::fourlw::four_letter(addr.parse().unwrap(), cmd).unwrap()
}

fn mntr_value(mntr: &str, key: &str) -> Option<String> {
    mntr.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('\t').map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_log_replays_with_equal_digests_on_zk_server() {
    let dir = TestDir::new("digest-a2z").unwrap();
    let Some(mut apache) = zk_testkit::apache_with_or_skip(
        "apache_log_replays_with_equal_digests_on_zk_server",
        ApacheOptions::new().with_data_dir(dir.path()),
    ) else {
        return;
    };
    script(&apache.connect_string()).await;
    let apache_hash = hash_lines(&apache.four_letter("hash"));
    assert!(apache_hash.len() >= 2, "Apache's history: {apache_hash:?}");
    apache.kill();

    assert!(replay_and_compare(dir.path()) > 128);

    let cfg = ServerConfig::parse(&format!(
        "dataDir={}\n4lw.commands.whitelist=*\n",
        dir.path().display()
    ))
    .unwrap();
    let ours = Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = ours.connect_string();
    assert_eq!(hash_lines(&four_letter(&addr, "hash")), apache_hash);
    let mntr = four_letter(&addr, "mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_digest_mismatches_count").as_deref(),
        Some("0"),
        "{mntr}"
    );
    ours.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_server_log_replays_with_equal_digests_on_apache() {
    if zk_testkit::java_or_skip("zk_server_log_replays_with_equal_digests_on_apache").is_none() {
        return;
    }
    let dir = TestDir::new("digest-z2a").unwrap();
    let cfg = ServerConfig::parse(&format!(
        "dataDir={}\n4lw.commands.whitelist=*\n",
        dir.path().display()
    ))
    .unwrap();
    let ours = Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = ours.connect_string();
    script(&addr).await;
    let our_hash = hash_lines(&four_letter(&addr, "hash"));
    assert!(our_hash.len() >= 2, "our history: {our_hash:?}");
    let mntr = four_letter(&addr, "mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_digest_mismatches_count").as_deref(),
        Some("0"),
        "prep's digests equal apply's: {mntr}"
    );
    ours.shutdown().await;

    assert!(replay_and_compare(dir.path()) > 128);

    let apache = ApacheOptions::new()
        .with_data_dir(dir.path())
        .start()
        .unwrap();
    assert_eq!(hash_lines(&apache.four_letter("hash")), our_hash);
    let mntr = apache.four_letter("mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_digest_mismatches_count").as_deref(),
        Some("0"),
        "Apache found no mismatch replaying our log: {}",
        apache.log_tail()
    );
}
