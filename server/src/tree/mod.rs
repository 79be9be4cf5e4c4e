//! The DataTree: every znode with its data, ACL and persisted stat, plus the indexes Apache
//! ZooKeeper keeps beside it (ephemerals by session, containers, TTL nodes) and the replicated
//! session table.
//!
//! All changes go through [`DataTree::apply`] (in `apply.rs`), one deterministic function of
//! `(tree, txn)`. Reads use the accessors here. A node's `cversion` is stored as Apache persists
//! it — the number of child creates — and reported as `2 * creates - numChildren`
//! (`DataNode.copyStat`), which is why a sequential suffix can lag the reported cversion.

mod apply;
mod digest;
#[cfg(test)]
mod fuzzy_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use zk_proto::{perms, Acl, Id, Stat, StatPersisted};

use crate::acl::{AclCache, AclList};
use crate::hash::FastMap;
use crate::txn::Zxid;

pub use apply::{ApplyOutcome, Trigger, TriggerKind, TxnResult};
pub use digest::{DIGEST_LOG_INTERVAL, DIGEST_LOG_LIMIT};
pub use zk_storage::ZxidDigest;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`: the owner field of a container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// `EphemeralType.EXTENDED_MASK`: owners with all these bits set are extended types (TTL).
pub const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// `EphemeralType.RESERVED_BITS_MASK`.
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// `EphemeralType.TTL.maxValue()`: the largest TTL in milliseconds.
pub const MAX_TTL: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// The root of the special subtree (`ZooDefs.ZOOKEEPER_NODE_SUBTREE` without the slash).
pub const ZOOKEEPER_NODE: &str = "/zookeeper";
/// `Quotas.quotaZookeeper`.
pub const QUOTA_NODE: &str = "/zookeeper/quota";
/// `ZooDefs.CONFIG_NODE`.
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// What kind of node an ephemeralOwner field denotes (`EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// A persistent node (owner 0).
    Persistent,
    /// An ephemeral node of a session.
    Ephemeral(i64),
    /// A container.
    Container,
    /// A TTL node with this TTL in milliseconds.
    Ttl(i64),
}

impl OwnerKind {
    /// Classifies an owner field.
    pub fn of(owner: i64) -> OwnerKind {
        if owner == 0 {
            OwnerKind::Persistent
        } else if owner == CONTAINER_EPHEMERAL_OWNER {
            OwnerKind::Container
        } else if owner & EXTENDED_MASK == EXTENDED_MASK {
            OwnerKind::Ttl(owner & MAX_TTL)
        } else {
            OwnerKind::Ephemeral(owner)
        }
    }

    /// The owner field of a TTL node (`EphemeralType.TTL.toEphemeralOwner`); `None` if out of range.
    pub fn ttl_owner(ttl: i64) -> Option<i64> {
        (ttl > 0 && ttl <= MAX_TTL).then_some(EXTENDED_MASK | ttl)
    }

    /// Whether this is a session-owned ephemeral.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, OwnerKind::Ephemeral(_))
    }
}

/// One znode.
#[derive(Debug, Clone)]
pub struct Node {
    /// The data; `None` when created with a null buffer.
    pub data: Option<Bytes>,
    /// The ACL (shared with other nodes that have the same list).
    pub acl: AclList,
    /// The persisted stat (cversion counts child creates).
    pub stat: StatPersisted,
    /// Child names, sorted.
    pub children: BTreeSet<Box<str>>,
    /// This node's digest as last computed (`DataNode.digestCached`): kept current by every
    /// change, so the "before" half of a digest update costs nothing.
    digest: i64,
}

impl Node {
    /// The Stat a client sees (`DataNode.copyStat`).
    pub fn client_stat(&self) -> Stat {
        let s = &self.stat;
        let num_children = self.children.len() as i32;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: match OwnerKind::of(s.ephemeral_owner) {
                OwnerKind::Ephemeral(id) => id,
                _ => 0,
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// `DataTree.createStat`.
pub fn new_stat(zxid: Zxid, time: i64, ephemeral_owner: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime: time,
        mtime: time,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner,
        pzxid: zxid,
    }
}

/// A node as snapshots carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotNode {
    /// Full path.
    pub path: String,
    /// Data.
    pub data: Option<Bytes>,
    /// ACL.
    pub acl: Vec<Acl>,
    /// Persisted stat.
    pub stat: StatPersisted,
}

/// The whole tree.
#[derive(Debug)]
pub struct DataTree {
    nodes: FastMap<String, Node>,
    ephemerals: FastMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    sessions: HashMap<i64, i32>,
    acls: AclCache,
    last_zxid: Zxid,
    digest: digest::DigestState,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree with `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` as Apache
    /// creates them (zero stats, empty data; `/zookeeper/config` read-only with aversion -1).
    pub fn new() -> Self {
        let mut t = DataTree {
            nodes: FastMap::default(),
            ephemerals: FastMap::default(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            sessions: HashMap::new(),
            acls: AclCache::default(),
            last_zxid: 0,
            digest: digest::DigestState::default(),
        };
        let open = t.acls.intern(&Acl::open_unsafe());
        let read = t.acls.intern(&[Acl::new(perms::READ, Id::anyone())]);
        let empty = || Some(Bytes::new());
        let node = |acl: &AclList, children: &[&str]| Node {
            data: empty(),
            acl: acl.clone(),
            stat: StatPersisted::default(),
            children: children.iter().map(|c| Box::from(*c)).collect(),
            digest: 0,
        };
        t.nodes.insert("/".into(), node(&open, &["zookeeper"]));
        t.nodes
            .insert(ZOOKEEPER_NODE.into(), node(&open, &["quota", "config"]));
        t.nodes.insert(QUOTA_NODE.into(), node(&open, &[]));
        let mut config = node(&read, &[]);
        config.stat.aversion = -1;
        t.nodes.insert(CONFIG_NODE.into(), config);
        t.recompute_digest();
        t
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        // Apache's DataTree also files the root under "" (`nodes.put("", root)`), so reads of
        // the empty path answer for the root; writes reject "" earlier, in path validation.
        if path.is_empty() {
            return self.nodes.get("/");
        }
        self.nodes.get(path)
    }

    /// Number of nodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The zxid of the last applied txn.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Sets the last applied zxid (after loading a snapshot).
    pub fn set_last_zxid(&mut self, zxid: Zxid) {
        self.last_zxid = zxid;
    }

    /// The ephemerals of a session.
    pub fn ephemerals(&self, session: i64) -> impl Iterator<Item = &String> {
        self.ephemerals.get(&session).into_iter().flatten()
    }

    /// Every session that owns ephemerals, with their paths.
    pub fn all_ephemerals(&self) -> &FastMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }

    /// Container paths.
    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    /// TTL node paths.
    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// The replicated session table: id -> timeout.
    pub fn sessions(&self) -> &HashMap<i64, i32> {
        &self.sessions
    }

    /// Number of descendants of `path` (`getAllChildrenNumber`).
    pub fn descendant_count(&self, path: &str) -> usize {
        if path.is_empty() {
            // Apache counts the keys starting with `path + "/"` in a map that holds the root
            // under both "" and "/": for "" that is every node plus the "/" alias.
            return self.descendant_count("/") + 1;
        }
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(&p) {
                for c in &n.children {
                    count += 1;
                    stack.push(child_path(&p, c));
                }
            }
        }
        count
    }

    /// Approximate bytes of data held (for `mntr`).
    pub fn approximate_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| (p.len() + n.data.as_ref().map_or(0, |d| d.len())) as u64)
            .sum()
    }

    /// Every node, for a snapshot (parents before children).
    pub fn snapshot_nodes(&self) -> Vec<SnapshotNode> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.nodes.get(&p) else {
                continue;
            };
            for c in n.children.iter().rev() {
                stack.push(child_path(&p, c));
            }
            out.push(SnapshotNode {
                path: p,
                data: n.data.clone(),
                acl: n.acl.to_vec(),
                stat: n.stat.clone(),
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
            let acl = t.acls.intern(&sn.acl);
            let path = sn.path;
            let owner = sn.stat.ephemeral_owner;
            let existing_children = t
                .nodes
                .remove(&path)
                .map(|n| n.children)
                .unwrap_or_default();
            if let Some(parent) = zk_proto::parent(&path) {
                if let Some(p) = t.nodes.get_mut(parent) {
                    p.children.insert(zk_proto::basename(&path).into());
                }
            }
            t.index_owner(&path, owner);
            t.nodes.insert(
                path,
                Node {
                    data: sn.data,
                    acl,
                    stat: sn.stat,
                    children: existing_children,
                    digest: 0,
                },
            );
        }
        t.sessions = sessions.into_iter().collect();
        t.last_zxid = last_zxid;
        t.recompute_digest();
        t
    }

    fn index_owner(&mut self, path: &str, owner: i64) {
        match OwnerKind::of(owner) {
            OwnerKind::Persistent => {}
            OwnerKind::Container => {
                self.containers.insert(path.to_string());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            OwnerKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
        }
    }

    fn unindex_owner(&mut self, path: &str, owner: i64) {
        match OwnerKind::of(owner) {
            OwnerKind::Persistent => {}
            OwnerKind::Container => {
                self.containers.remove(path);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            OwnerKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
        }
    }
}

/// `parent + "/" + child`, without doubling the root's slash.
pub fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}
