//! Snapshots: `snapshot.<zxid>` files as Apache ZooKeeper 3.8's `FileSnap` writes them (with
//! `zookeeper.snapshot.compression.method` at its default, no compression).
//!
//! ```text
//! snapshot := FileHeader{magic "ZKSN", version 2, dbid -1}
//!             count:int  (session:long timeout:int)*                 sessions
//!             count:int  (id:long acls:vector<ACL>)*                 ACL cache
//!             (path:ustring  data:buffer acl:long stat:StatPersisted)*   nodes, root as ""
//!             "/":ustring                                            end of nodes
//!             checksum:long "/":ustring                              seal 1: Adler-32 of all before
//!             [zxid:long version:int digest:long                     tree digest (3.6+)
//!              checksum:long "/":ustring]                            seal 2: Adler-32 of all before
//! ```
//! Nodes come parent before child (Apache writes depth-first). A node's `acl` is a key into the
//! ACL cache, or -1 for `OPEN_ACL_UNSAFE` (`ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`).
//! The snapshot is *fuzzy*: Apache serializes the live tree while txns keep being applied, names
//! the file after the last zxid applied when it started, and records the digest of the last zxid
//! applied when it ended. Replaying the log from `zxid + 1` repairs it.
//!
//! - [`SnapshotData`], [`SnapNode`], [`ZxidDigest`]: the format-free interchange types.
//! - [`AclTable`]: deduplicated ACL lists, as the file stores them.
//! - [`SnapshotWriter`] / [`write_snapshot`]: streaming writer (fsync + atomic rename).
//! - [`SnapshotReader`] / [`read_snapshot`] / [`load_newest_snapshot`]: validating readers.

mod acl;
mod reader;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use zk_proto::{Acl, StatPersisted};

pub use acl::{AclTable, OPEN_UNSAFE_ACL_ID};
pub use reader::{
    load_newest_snapshot, read_snapshot, SnapshotReader, MAX_SNAPSHOTS_TRIED, SNAPSHOT_SEAL,
};
pub use writer::{write_snapshot, SnapshotWriter, SNAPSHOT_WRITE_BUFFER_SIZE};

use crate::digest::node_digest;
use crate::layout::{list_files, snap_dir, SNAPSHOT_FILE_PREFIX};
use crate::{StorageError, TreeDigest};

/// One node of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapNode {
    /// Full path; the root is `"/"` (stored as `""` in the file).
    pub path: String,
    /// The data; `None` for a null buffer (Apache keeps the distinction).
    pub data: Option<Bytes>,
    /// The ACL. Shared: a snapshot stores each distinct list once and nodes refer to it, so a
    /// reader hands out clones of one `Arc` per list (a server can keep sharing them).
    pub acl: Arc<[Acl]>,
    /// The persisted stat.
    pub stat: StatPersisted,
}

impl SnapNode {
    /// This node's digest ([`node_digest`]).
    pub fn digest(&self) -> i64 {
        node_digest(
            &self.path,
            self.data.as_deref().unwrap_or_default(),
            &self.stat,
        )
    }
}

/// The tree digest recorded at the end of a snapshot (`DataTree.ZxidDigest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZxidDigest {
    /// The zxid whose tree this digest describes; 0 when Apache had none yet (it then writes
    /// zxid 0, digest 0 and ignores the value on load).
    pub zxid: i64,
    /// The digest version ([`DIGEST_VERSION`](crate::DIGEST_VERSION) = 2; 1 stored it as hex text).
    pub digest_version: i32,
    /// The tree digest.
    pub digest: i64,
}

/// Everything a snapshot holds, independent of the file format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotData {
    /// Live sessions: (session id, timeout in ms).
    pub sessions: Vec<(i64, i32)>,
    /// The nodes, each after its parent, root first.
    pub nodes: Vec<SnapNode>,
    /// The recorded tree digest (`None` if the file has no digest section: Apache < 3.6, or digest
    /// disabled).
    pub digest: Option<ZxidDigest>,
}

impl SnapshotData {
    /// The digest of the tree these nodes form (wrapping sum of [`SnapNode::digest`]).
    ///
    /// Equal to [`SnapshotData::digest`] when that digest's zxid is the snapshot's zxid (no txn
    /// was applied while the snapshot was written); otherwise only after replaying the log up to
    /// the digest's zxid.
    pub fn tree_digest(&self) -> i64 {
        let mut tree = TreeDigest::default();
        for node in &self.nodes {
            tree.add(node.digest());
        }
        tree.value()
    }
}

/// Deletes `snapshot.<zxid>.tmp` files left in `<data_dir>/version-2` by a crash while a
/// snapshot was being written (they were never renamed, so no reader ever trusted them);
/// returns how many were removed. Servers call it once at startup, before writing new ones.
pub fn remove_partial_snapshots(data_dir: &Path) -> Result<usize, StorageError> {
    let dir = snap_dir(data_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StorageError::io("listing", &dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(StorageError::io("listing", &dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(SNAPSHOT_FILE_PREFIX) && name.ends_with(crate::layout::TMP_EXTENSION) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(StorageError::io("removing", &path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The snapshots in `<data_dir>/version-2` named exactly `snapshot.<hex zxid>`, oldest first.
/// Compressed (`.gz`, `.snappy`) and temporary (`.tmp`) files are not listed.
pub fn list_snapshots(data_dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    list_files(&snap_dir(data_dir), SNAPSHOT_FILE_PREFIX)
}
