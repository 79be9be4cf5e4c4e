//! The DataTree: every znode with its data, ACL and persisted stat, plus the indexes Apache
//! ZooKeeper keeps beside it (ephemerals by session, containers, TTL nodes) and the replicated
//! session table.
//!
//! All changes go through [`DataTree::apply`] (in `apply.rs`), one deterministic function of
//! `(tree, txn)`. Reads use the accessors here. A node's `cversion` is stored as Apache persists
//! it — the number of child creates — and reported as `2 * creates - numChildren`
//! (`DataNode.copyStat`), which is why a sequential suffix can lag the reported cversion.

mod apply;
mod children;
mod digest;
#[cfg(test)]
mod fuzzy_tests;
mod snapshot;
mod stat;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use zk_proto::{perms, Acl, Id, Stat, StatPersisted};

use crate::acl::{AclCache, AclList};
use crate::hash::FastMap;
use crate::txn::Zxid;

pub use apply::{ApplyOutcome, Trigger, TriggerKind, TxnResult};
pub use children::Children;
pub use digest::{DIGEST_LOG_INTERVAL, DIGEST_LOG_LIMIT};
pub use snapshot::{write_snapshot, SnapshotNode};
pub use stat::NodeStat;
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

/// A node's data: one exact-size allocation, shared (not copied) by snapshots and replies.
pub type NodeData = Arc<[u8]>;

/// One znode.
///
/// 104 bytes, boxed in the tree's path map (see [`DataTree`] for why); the path itself is the
/// map's key.
#[derive(Debug, Clone)]
pub struct Node {
    /// The data; `None` when created with a null buffer. Read it with [`Node::data`].
    data: Option<NodeData>,
    /// The ACL (shared with other nodes that have the same list).
    pub acl: AclList,
    /// The persisted stat (cversion counts child creates), with the node's digest as last
    /// computed (`DataNode.digestCached`): kept current by every change, so the "before" half
    /// of a digest update costs nothing.
    pub stat: NodeStat,
    /// Child names, sorted.
    pub children: Children,
}

impl Node {
    /// The data as a reply carries it (`None` for a null buffer): a handle on the node's copy,
    /// not a copy.
    pub fn data(&self) -> Option<Bytes> {
        self.data.as_ref().map(to_bytes)
    }

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

/// [`NodeData`] as `Bytes`, sharing the allocation (`bytes` keeps the `Arc` as the owner).
pub(crate) fn to_bytes(data: &NodeData) -> Bytes {
    if data.is_empty() {
        Bytes::new()
    } else {
        Bytes::from_owner(data.clone())
    }
}

/// The copy of a txn's data the tree keeps.
///
/// A txn's data is a slice of the frame it arrived in, and a frame is a slice of the
/// connection's receive buffer (4 KiB, shared by every frame read with it): keeping the slice
/// would keep the whole buffer alive for as long as the node lives, about 180 bytes of buffer
/// per 100-byte value when creates arrive pipelined. The copy is one exact-size allocation with
/// its reference count in front (an `Arc<[u8]>`: 16 bytes in the node, against 32 for a
/// `Bytes` plus the 32-byte shared header `bytes` allocates on its first clone). Empty data
/// shares one allocation.
pub(crate) fn compact_data(data: Option<&[u8]>) -> Option<NodeData> {
    static EMPTY: OnceLock<NodeData> = OnceLock::new();
    let d = data?;
    Some(if d.is_empty() {
        EMPTY.get_or_init(|| Arc::from(&[][..])).clone()
    } else {
        Arc::from(d)
    })
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

/// The whole tree.
///
/// Laid out for memory (issue 9: 200,000 znodes of 100 bytes in a fifth of what Apache's JVM
/// takes). The path map holds an `Arc<str>` key and a `Box<Node>`: 24 bytes a bucket, so a
/// table at its usual load wastes little and growing it moves little. The key is the only copy
/// of the path; the parent's [`Children`] and snapshots share it. What one such znode costs,
/// glibc's size classes included (`tests/tree_memory.rs` measures it):
///
/// | part | bytes |
/// |---|---|
/// | map bucket (24 bytes at a load of 0.76, plus its control byte) | 33 |
/// | path, `Arc<str>` (`/zk-bench-pop-NNNNN/nNNNNNNNN`) | 64 |
/// | [`Node`] (104 bytes) | 112 |
/// | data, [`NodeData`] (16-byte header + 100) | 128 |
/// | entry in the parent's [`Children`] | 16 |
/// | total | 353 |
///
/// It was 518: `String` keys with the nodes inline in the map (168-byte buckets), a
/// `BTreeSet` of separately boxed names per parent, and data still pinning the receive buffer
/// it arrived in.
#[derive(Debug)]
pub struct DataTree {
    nodes: FastMap<Arc<str>, Box<Node>>,
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
        for (path, acl) in [
            ("/", &open),
            (ZOOKEEPER_NODE, &open),
            (QUOTA_NODE, &open),
            (CONFIG_NODE, &read),
        ] {
            let mut node = Node {
                data: compact_data(Some(&[])),
                acl: acl.clone(),
                stat: StatPersisted::default().into(),
                children: Children::default(),
            };
            if path == CONFIG_NODE {
                node.stat.aversion = -1;
            }
            t.insert_node(path.into(), node);
        }
        t.recompute_digest();
        t
    }

    /// Writes the ensemble's configuration into `/zookeeper/config` as Apache's
    /// `ZKDatabase.initConfigInZKDatabase` does at start-up and after a SNAP: the config text
    /// (`server.N=…` lines, `version=…`), data version -1, mzxid the config version (0 for a
    /// static config), mtime now. Nodes under `/zookeeper/` are not in the digest, so the digest
    /// is unchanged.
    pub fn set_config(&mut self, text: &[u8], config_version: i64, mtime: i64) {
        if let Some(n) = self.nodes.get_mut(CONFIG_NODE) {
            n.data = compact_data(Some(text));
            n.stat.version = -1;
            n.stat.mzxid = config_version;
            n.stat.mtime = mtime;
        }
    }

    /// Files `node` under `path` and names it in its parent's children (if the parent exists).
    fn insert_node(&mut self, path: Arc<str>, node: Node) {
        if let Some(parent) = zk_proto::parent(&path) {
            if let Some(p) = self.nodes.get_mut(parent) {
                p.children.insert(path.clone());
            }
        }
        self.nodes.insert(path, Box::new(node));
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        // Apache's DataTree also files the root under "" (`nodes.put("", root)`), so reads of
        // the empty path answer for the root; writes reject "" earlier, in path validation.
        if path.is_empty() {
            return self.nodes.get("/").map(|n| &**n);
        }
        self.nodes.get(path).map(|n| &**n)
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
        let mut stack: Vec<&Node> = self.get(path).into_iter().collect();
        while let Some(n) = stack.pop() {
            for c in n.children.paths() {
                count += 1;
                stack.extend(self.nodes.get(c).map(|n| &**n));
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
