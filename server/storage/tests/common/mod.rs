//! Shared helpers for the integration tests: temp dirs, txn and snapshot builders, and a small
//! model tree that computes stats and digests the way Apache's `DataTree` does for the txns the
//! tests use.
#![allow(dead_code)]

pub mod alloc;
pub mod apache;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use zk_proto::records::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, SetAclTxn, SetDataTxn, TxnDigest,
};
use zk_proto::{Acl, OpCode, StatPersisted, TxnBody, TxnHeader};
use zk_storage::{node_digest, LoggedTxn, SnapNode, SnapshotData, TreeDigest, ZxidDigest};
use zk_testkit::TestDir;

pub fn temp_dir(label: &str) -> TestDir {
    TestDir::new(label).expect("temp dir")
}

pub fn header(zxid: i64, txn_type: OpCode, session: i64) -> TxnHeader {
    TxnHeader {
        client_id: session,
        cxid: (zxid & 0xffff) as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        txn_type: txn_type.code(),
    }
}

/// A varied txn for zxid `zxid` (no digest): cycles through the txn types.
pub fn some_txn(zxid: i64) -> LoggedTxn {
    let session = 0x100_0000 + (zxid % 3);
    let (op, body) = match zxid % 6 {
        0 => (
            OpCode::CreateSession,
            TxnBody::CreateSession(CreateSessionTxn { timeout: 30_000 }),
        ),
        1 => (
            OpCode::Create,
            TxnBody::Create(CreateTxn {
                path: format!("/n{zxid}"),
                data: Some(Bytes::from(vec![b'x'; (zxid % 50) as usize])),
                acl: Acl::open_unsafe(),
                ephemeral: zxid % 4 == 1,
                parent_cversion: zxid as i32,
            }),
        ),
        2 => (
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path: format!("/n{}", zxid - 1),
                data: None,
                version: 1,
            }),
        ),
        3 => (
            OpCode::SetAcl,
            TxnBody::SetAcl(SetAclTxn {
                path: "/".into(),
                acl: Acl::read_unsafe(),
                version: 2,
            }),
        ),
        4 => (
            OpCode::Delete,
            TxnBody::Delete(DeleteTxn {
                path: format!("/n{}", zxid - 3),
            }),
        ),
        _ => (
            OpCode::CloseSession,
            TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: vec!["/e1".into(), "/e2".into()],
            }),
        ),
    };
    LoggedTxn {
        header: header(zxid, op, session),
        body,
        digest: (zxid % 2 == 0).then_some(TxnDigest {
            version: 2,
            tree_digest: zxid * 7919,
        }),
    }
}

/// A model of Apache's tree for create / setData / setACL / delete / sessions, computing stats and
/// the running digest as `DataTree.processTxn` does.
#[derive(Debug, Clone, Default)]
pub struct ModelTree {
    pub nodes: BTreeMap<String, SnapNode>,
    pub sessions: BTreeMap<i64, i32>,
    pub digest: TreeDigest,
}

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

impl ModelTree {
    /// Apache's fresh tree: root, /zookeeper, /zookeeper/quota, /zookeeper/config.
    pub fn apache_initial() -> Self {
        let mut t = ModelTree::default();
        let empty = || Some(Bytes::new());
        let open: Arc<[Acl]> = Acl::open_unsafe().into();
        t.put(SnapNode {
            path: "/".into(),
            data: empty(),
            acl: open.clone(),
            stat: StatPersisted::default(),
        });
        t.put(SnapNode {
            path: "/zookeeper".into(),
            data: empty(),
            acl: open.clone(),
            stat: StatPersisted::default(),
        });
        t.put(SnapNode {
            path: "/zookeeper/config".into(),
            data: empty(),
            acl: Acl::read_unsafe().into(),
            stat: StatPersisted {
                cversion: -1,
                ..Default::default()
            },
        });
        t.put(SnapNode {
            path: "/zookeeper/quota".into(),
            data: empty(),
            acl: open,
            stat: StatPersisted::default(),
        });
        t
    }

    fn put(&mut self, node: SnapNode) {
        if let Some(old) = self.nodes.remove(&node.path) {
            self.digest.remove(old.digest());
        }
        self.digest.add(node.digest());
        self.nodes.insert(node.path.clone(), node);
    }

    fn remove(&mut self, path: &str) -> Option<SnapNode> {
        let old = self.nodes.remove(path)?;
        self.digest.remove(old.digest());
        Some(old)
    }

    fn update(&mut self, path: &str, f: impl FnOnce(&mut SnapNode)) {
        if let Some(mut node) = self.remove(path) {
            f(&mut node);
            self.put(node);
        }
    }

    /// Applies a txn and returns it with the resulting digest attached.
    pub fn apply(&mut self, mut txn: LoggedTxn) -> LoggedTxn {
        let zxid = txn.header.zxid;
        let time = txn.header.time;
        match &txn.body {
            TxnBody::CreateSession(s) => {
                self.sessions.insert(txn.header.client_id, s.timeout);
            }
            TxnBody::CloseSession(c) => {
                self.sessions.remove(&txn.header.client_id);
                for p in c.paths_to_delete.clone() {
                    self.delete(&p, zxid);
                }
            }
            TxnBody::Create(c) => {
                let owner = if c.ephemeral { txn.header.client_id } else { 0 };
                self.create(
                    &c.path,
                    c.data.clone(),
                    &c.acl,
                    owner,
                    c.parent_cversion,
                    zxid,
                    time,
                );
            }
            TxnBody::SetData(s) => {
                let data = s.data.clone();
                let version = s.version;
                self.update(&s.path, |n| {
                    n.data = data;
                    n.stat.version = version;
                    n.stat.mzxid = zxid;
                    n.stat.mtime = time;
                });
            }
            TxnBody::SetAcl(s) => {
                let acl: Arc<[Acl]> = s.acl.clone().into();
                let version = s.version;
                self.update(&s.path, |n| {
                    n.acl = acl;
                    n.stat.aversion = version;
                });
            }
            TxnBody::Delete(d) => self.delete(&d.path.clone(), zxid),
            other => panic!("model does not apply {other:?}"),
        }
        txn.digest = Some(TxnDigest {
            version: 2,
            tree_digest: self.digest.value(),
        });
        txn
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) {
        let parent = parent_of(path).to_owned();
        self.update(&parent, |p| {
            if parent_cversion > p.stat.cversion {
                p.stat.cversion = parent_cversion;
                p.stat.pzxid = zxid;
            }
        });
        self.put(SnapNode {
            path: path.into(),
            data,
            acl: acl.to_vec().into(),
            stat: StatPersisted {
                czxid: zxid,
                mzxid: zxid,
                ctime: time,
                mtime: time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: zxid,
            },
        });
    }

    fn delete(&mut self, path: &str, zxid: i64) {
        if self.remove(path).is_some() {
            let parent = parent_of(path).to_owned();
            self.update(&parent, |p| {
                if zxid > p.stat.pzxid {
                    p.stat.pzxid = zxid;
                }
            });
        }
    }

    /// The tree as snapshot data (parents first: BTreeMap order puts a path before its
    /// extensions), with the digest recorded at `zxid`.
    pub fn snapshot(&self, zxid: i64) -> SnapshotData {
        SnapshotData {
            sessions: self.sessions.iter().map(|(&id, &t)| (id, t)).collect(),
            nodes: self.nodes.values().cloned().collect(),
            digest: Some(ZxidDigest {
                zxid,
                digest_version: 2,
                digest: self.digest.value(),
            }),
        }
    }

    pub fn child_count(&self, path: &str) -> usize {
        self.nodes
            .keys()
            .filter(|p| p.as_str() != "/" && parent_of(p) == path)
            .count()
    }
}

/// Sum of node digests of a snapshot's nodes.
pub fn digest_of(nodes: &[SnapNode]) -> i64 {
    let mut t = TreeDigest::default();
    for n in nodes {
        t.add(node_digest(
            &n.path,
            n.data.as_deref().unwrap_or_default(),
            &n.stat,
        ));
    }
    t.value()
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

/// A scratch directory on a RAM-backed file system when there is one (`/dev/shm`), else in the
/// temp dir; removed on drop. For tests that write many small files.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "zk-storage-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        ScratchDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cases per fuzz property: `default`, times `ZK_FUZZ_SCALE` if set (e.g. 10 for a long run).
pub fn fuzz_cases(default: u32) -> u32 {
    let scale = std::env::var("ZK_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    default.saturating_mul(scale)
}
