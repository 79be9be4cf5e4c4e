//! Snapshots of the tree: taking one on the core task, writing it, and rebuilding a tree from one.
//!
//! Taking a snapshot pauses the core for a pass over the whole tree, so a [`SnapshotNode`] holds
//! only shared references: the path is the tree's own `Arc<str>`, the data the node's
//! [`NodeData`], the ACL the interned list. Taking one allocates the output vector and nothing
//! per node: a reference count increment per field and a 64-byte stat copy. A node changed
//! while the snapshot is being written gets new data and a new stat; the snapshot keeps the
//! old ones. [`write_snapshot`] then streams the nodes to disk as they are, with no per-node
//! conversion.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zk_proto::StatPersisted;
use zk_storage::{AclTable, SnapNode, SnapshotWriter, StorageError, ZxidDigest};

use super::{compact_data, to_bytes, Children, DataTree, Node, NodeData};
use crate::acl::AclList;
use crate::txn::Zxid;

/// A node as snapshots carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotNode {
    /// Full path.
    pub path: Arc<str>,
    /// Data.
    pub data: Option<NodeData>,
    /// ACL.
    pub acl: AclList,
    /// Persisted stat.
    pub stat: StatPersisted,
}

impl From<SnapNode> for SnapshotNode {
    /// A node read from a snapshot file (its data copied out of the file's buffer).
    fn from(n: SnapNode) -> Self {
        SnapshotNode {
            path: n.path.into(),
            data: compact_data(n.data.as_deref()),
            acl: n.acl,
            stat: n.stat,
        }
    }
}

impl SnapshotNode {
    /// As zk-storage's interchange type (the data shared, the path copied).
    pub fn to_snap_node(&self) -> SnapNode {
        SnapNode {
            path: self.path.to_string(),
            data: self.data.as_ref().map(to_bytes),
            acl: self.acl.clone(),
            stat: self.stat.clone(),
        }
    }
}

/// Writes `<data_dir>/version-2/snapshot.<zxid>` from snapshot nodes (parents first), as
/// [`zk_storage::write_snapshot`] does from a `SnapshotData` but streaming the nodes as they
/// are: no `SnapNode` per node, so writing a snapshot allocates nothing per node.
pub fn write_snapshot(
    data_dir: &Path,
    zxid: Zxid,
    sessions: &[(i64, i32)],
    nodes: &[SnapshotNode],
    digest: Option<&ZxidDigest>,
) -> Result<PathBuf, StorageError> {
    let mut acls = AclTable::new();
    let mut last: Option<&AclList> = None;
    for n in nodes {
        // Nodes mostly share a handful of interned lists: skip the lookup for a repeat.
        if last.map_or(true, |l| !Arc::ptr_eq(l, &n.acl)) {
            acls.intern(&n.acl);
            last = Some(&n.acl);
        }
    }
    let mut writer = SnapshotWriter::create(data_dir, zxid, sessions, acls)?;
    for n in nodes {
        writer.append_node(&n.path, n.data.as_deref(), &n.acl, &n.stat)?;
    }
    writer.finish(digest)
}

impl DataTree {
    /// Every node, for a snapshot: parents before children, depth first as Apache writes them
    /// (its `DataTree.deserialize`, and ours, need a parent before its children).
    ///
    /// Costs about 250 ns a node on the core (200,000 nodes: 50 ms of CPU): a lookup of each
    /// child by path and two reference count increments, each mostly a cache miss. A walk of
    /// the map's buckets sorted by depth costs the same.
    pub fn snapshot_nodes(&self) -> Vec<SnapshotNode> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(&Arc<str>, &Node)> = self
            .nodes
            .get_key_value("/")
            .map(|(p, n)| (p, &**n))
            .into_iter()
            .collect();
        while let Some((path, n)) = stack.pop() {
            for c in n.children.paths().rev() {
                if let Some((p, child)) = self.nodes.get_key_value(&**c) {
                    stack.push((p, child));
                }
            }
            out.push(SnapshotNode {
                path: path.clone(),
                data: n.data.clone(),
                acl: n.acl.clone(),
                stat: n.stat.persisted(),
            });
        }
        out
    }

    /// Rebuilds a tree from snapshot nodes and sessions.
    pub fn from_snapshot(
        nodes: Vec<SnapshotNode>,
        sessions: impl IntoIterator<Item = (i64, i32)>,
        last_zxid: Zxid,
    ) -> Self {
        DataTree::from_snapshot_with(DataTree::new(), nodes, sessions, last_zxid)
    }

    /// [`DataTree::from_snapshot`] on top of `t` (a fresh tree with the settings to keep, such
    /// as [`DataTree::set_digest_enabled`]).
    pub fn from_snapshot_with(
        mut t: DataTree,
        nodes: Vec<SnapshotNode>,
        sessions: impl IntoIterator<Item = (i64, i32)>,
        last_zxid: Zxid,
    ) -> Self {
        for sn in nodes {
            // Share the interned list when the snapshot's is equal but another allocation.
            let acl = t.acls.intern(&sn.acl);
            let owner = sn.stat.ephemeral_owner;
            // A node the fresh tree already has (`/`, `/zookeeper`…) keeps its key, which its
            // parent's children already hold, and its children.
            let (path, children) = match t.nodes.remove_entry(&*sn.path) {
                Some((key, old)) => (key, old.children),
                None => (sn.path, Children::default()),
            };
            t.index_owner(&path, owner);
            t.insert_node(
                path,
                Node {
                    data: sn.data,
                    acl,
                    stat: sn.stat.into(),
                    children,
                },
            );
        }
        t.sessions = sessions.into_iter().collect();
        t.last_zxid = last_zxid;
        t.recompute_digest();
        t
    }
}
