//! [`SnapshotWriter`]: streams a snapshot to `snapshot.<zxid>.tmp`, then fsyncs it and renames it
//! into place, so a crash never leaves a partial file under a snapshot name (Apache's
//! `AtomicFileOutputStream`, which it uses only for synced snapshots; this writer always syncs).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::BuildHasher;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use tracing::{debug, info, warn};
use zk_proto::{jute, Acl, Record, StatPersisted};

use super::acl::AclTable;
use super::{SnapNode, SnapshotData, ZxidDigest};
use crate::fsutil::{ensure_dir, rename_durably, tmp_path};
use crate::header;
use crate::layout::{snap_dir, snapshot_file_name};
use crate::{Adler32, StorageError};

/// Write-buffer size of the snapshot writer.
pub const SNAPSHOT_WRITE_BUFFER_SIZE: usize = 256 * 1024;

/// The path string that ends the node list and follows each checksum
/// (`DataTree.serializeNodes`, `SnapStream.sealStream`).
pub(crate) const TERMINATOR: &str = "/";

/// A file being written, with the running Adler-32 of everything written (`CheckedOutputStream`).
struct CheckedOutput {
    path: PathBuf,
    out: BufWriter<File>,
    adler: Adler32,
    scratch: BytesMut,
}

impl CheckedOutput {
    fn put(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.adler.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(StorageError::io("writing", &self.path))
    }

    /// Writes what `f` encodes.
    fn put_with(&mut self, f: impl FnOnce(&mut BytesMut)) -> Result<(), StorageError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        f(&mut scratch);
        let result = self.put(&scratch);
        self.scratch = scratch;
        result
    }

    /// `SnapStream.sealStream`: the checksum so far, then `"/"`.
    fn seal(&mut self) -> Result<(), StorageError> {
        let checksum = i64::from(self.adler.value());
        self.put_with(|b| {
            jute::write_i64(b, checksum);
            jute::write_string(b, TERMINATOR);
        })
    }
}

/// Streams one snapshot to disk.
///
/// ```
/// # fn main() -> Result<(), zk_storage::StorageError> {
/// # let dir = std::env::temp_dir().join(format!("zk-storage-snapdoc-{}", std::process::id()));
/// use zk_proto::{Acl, StatPersisted};
/// use zk_storage::{read_snapshot, AclTable, SnapshotWriter, ZxidDigest};
///
/// let open = Acl::open_unsafe();
/// let mut acls = AclTable::new();
/// acls.intern(&open); // first pass: every ACL the nodes use
/// let mut w = SnapshotWriter::create(&dir, 0x5, &[(0x100, 30_000)], acls)?;
/// w.append_node("/", Some(b""), &open, &StatPersisted::default())?;
/// w.append_node("/app", Some(b"v"), &open, &StatPersisted::default())?;
/// let path = w.finish(Some(&ZxidDigest { zxid: 0x5, digest_version: 2, digest: 42 }))?;
/// assert!(path.ends_with("version-2/snapshot.5"));
/// assert_eq!(read_snapshot(&path)?.nodes.len(), 2);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
pub struct SnapshotWriter {
    out: Option<CheckedOutput>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    acls: AclTable,
    /// Hashes of the paths written so far (parent-before-child check in constant space per node).
    seen: HashSet<u64>,
    hasher: RandomState,
    nodes: u64,
    finished: bool,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("path", &self.final_path)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl SnapshotWriter {
    /// Starts `<data_dir>/version-2/snapshot.<zxid>` (written as `….tmp` until
    /// [`finish`](SnapshotWriter::finish)): header, sessions and the ACL table. Every ACL list a
    /// node will use must be in `acls`.
    pub fn create(
        data_dir: &Path,
        zxid: i64,
        sessions: &[(i64, i32)],
        acls: AclTable,
    ) -> Result<Self, StorageError> {
        let dir = snap_dir(data_dir);
        ensure_dir(&dir)?;
        let final_path = dir.join(snapshot_file_name(zxid));
        let tmp_path = tmp_path(&final_path);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .map_err(StorageError::io("creating", &tmp_path))?;
        let mut out = CheckedOutput {
            path: tmp_path.clone(),
            out: BufWriter::with_capacity(SNAPSHOT_WRITE_BUFFER_SIZE, file),
            adler: Adler32::new(),
            scratch: BytesMut::new(),
        };
        out.put(&header::encode(&header::snapshot_header()))?;
        out.put_with(|b| {
            jute::write_i32(b, sessions.len() as i32);
            for &(id, timeout) in sessions {
                jute::write_i64(b, id);
                jute::write_i32(b, timeout);
            }
            jute::write_i32(b, acls.len() as i32);
        })?;
        for (id, list) in acls.iter() {
            out.put_with(|b| {
                jute::write_i64(b, id);
                jute::write_i32(b, list.len() as i32);
                for acl in list {
                    acl.write(b);
                }
            })?;
        }
        debug!(path = %final_path.display(), sessions = sessions.len(), acls = acls.len(), "snapshot started");
        Ok(SnapshotWriter {
            out: Some(out),
            tmp_path,
            final_path,
            acls,
            seen: HashSet::new(),
            hasher: RandomState::new(),
            nodes: 0,
            finished: false,
        })
    }

    fn output(&mut self) -> Result<&mut CheckedOutput, StorageError> {
        self.out.as_mut().ok_or_else(|| StorageError::Io {
            op: "writing (after an earlier failure)",
            path: self.tmp_path.clone(),
            source: std::io::Error::other("snapshot writer failed earlier"),
        })
    }

    /// Appends one node. The root (`"/"`) comes first and every node after its parent; the ACL must
    /// be in the table given to [`create`](SnapshotWriter::create).
    pub fn append_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: &StatPersisted,
    ) -> Result<(), StorageError> {
        let file_path = self.check_order(path)?;
        let acl_id = self
            .acls
            .id_of(acl)
            .ok_or_else(|| StorageError::AclNotInterned { path: path.into() })?;
        let out = self.output()?;
        let result = out.put_with(|b| {
            jute::write_string(b, file_path);
            jute::write_buffer(b, data);
            jute::write_i64(b, acl_id);
            stat.write(b);
        });
        if result.is_err() {
            self.out = None;
        }
        result?;
        self.nodes += 1;
        Ok(())
    }

    /// Checks parent-before-child order and returns the path as stored in the file.
    fn check_order<'p>(&mut self, path: &'p str) -> Result<&'p str, StorageError> {
        let err = |reason| StorageError::NodeOrder {
            path: path.into(),
            reason,
        };
        let is_root = path == "/" || path.is_empty();
        if self.nodes == 0 {
            if !is_root {
                return Err(err("the root must be the first node"));
            }
            self.seen.insert(self.hasher.hash_one("/"));
            return Ok("");
        }
        if is_root {
            return Err(err("the root was already written"));
        }
        if !path.starts_with('/') || path.ends_with('/') {
            return Err(err("not an absolute path"));
        }
        let parent = match path.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &path[..i],
        };
        if !self.seen.contains(&self.hasher.hash_one(parent)) {
            return Err(err("written before its parent"));
        }
        if !self.seen.insert(self.hasher.hash_one(path)) {
            return Err(err("written twice"));
        }
        Ok(path)
    }

    /// How many nodes were appended.
    pub fn nodes_written(&self) -> u64 {
        self.nodes
    }

    /// Ends the node list, writes the seal, the digest section (if `digest` is given) and its seal,
    /// fsyncs, and renames the file into place. Returns the snapshot's path.
    pub fn finish(mut self, digest: Option<&ZxidDigest>) -> Result<PathBuf, StorageError> {
        if self.nodes == 0 {
            return Err(StorageError::NodeOrder {
                path: "/".into(),
                reason: "a snapshot needs at least the root",
            });
        }
        let mut out = self.out.take().ok_or_else(|| StorageError::Io {
            op: "finishing (after an earlier failure)",
            path: self.tmp_path.clone(),
            source: std::io::Error::other("snapshot writer failed earlier"),
        })?;
        out.put_with(|b| jute::write_string(b, TERMINATOR))?;
        out.seal()?;
        if let Some(d) = digest {
            out.put_with(|b| {
                jute::write_i64(b, d.zxid);
                jute::write_i32(b, d.digest_version);
                if d.digest_version >= 2 {
                    jute::write_i64(b, d.digest);
                } else {
                    jute::write_string(b, &format!("{:x}", d.digest));
                }
            })?;
            out.seal()?;
        }
        let CheckedOutput { path, out, .. } = out;
        let file = out
            .into_inner()
            .map_err(|e| StorageError::io("writing", &path)(e.into_error()))?;
        file.sync_all()
            .map_err(StorageError::io("fsyncing", &path))?;
        drop(file);
        rename_durably(&self.tmp_path, &self.final_path)?;
        self.finished = true;
        info!(path = %self.final_path.display(), nodes = self.nodes, "snapshot written");
        Ok(self.final_path.clone())
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        // Not finished (error or abandoned): remove the partial file.
        if !self.finished {
            self.out = None;
            if let Err(e) = std::fs::remove_file(&self.tmp_path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    warn!(path = %self.tmp_path.display(), error = %e, "could not remove partial snapshot");
                }
            }
        }
    }
}

/// Writes a whole [`SnapshotData`] as `<data_dir>/version-2/snapshot.<zxid>` and returns its path.
pub fn write_snapshot(
    data_dir: &Path,
    zxid: i64,
    snapshot: &SnapshotData,
) -> Result<PathBuf, StorageError> {
    let mut acls = AclTable::new();
    for node in &snapshot.nodes {
        acls.intern(&node.acl);
    }
    let mut writer = SnapshotWriter::create(data_dir, zxid, &snapshot.sessions, acls)?;
    for SnapNode {
        path,
        data,
        acl,
        stat,
    } in &snapshot.nodes
    {
        writer.append_node(path, data.as_deref(), acl, stat)?;
    }
    writer.finish(snapshot.digest.as_ref())
}
