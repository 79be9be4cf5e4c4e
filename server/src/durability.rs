//! The on-disk storage: Apache ZooKeeper 3.8's data dir (`version-2/log.<zxid>`,
//! `version-2/snapshot.<zxid>`) through `zk-storage`.
//!
//! - Recovery: newest valid snapshot + the txns logged after it. A fresh data dir gets
//!   `snapshot.0` of the initial tree first, as Apache writes it, so that Apache accepts the
//!   directory too.
//! - Appends are buffered; `sync` fdatasyncs once per batch (forceSync).
//! - A snapshot rolls the log (the next txn starts a new segment) and is written by a
//!   background thread, so appends continue meanwhile; a snapshot requested while the previous
//!   one is still being written is skipped ("too busy to snap", as Apache does). After each
//!   snapshot, autopurge keeps the newest `snapRetainCount` snapshots when enabled.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use tracing::{info, warn};
use zk_storage::{SnapNode, SnapshotData, TxnLog, TxnLogOptions};

use crate::config::ServerConfig;
use crate::persist::{Recovered, SnapshotState, Storage, StorageError};
use crate::tree::{DataTree, SnapshotNode};
use crate::txn::Txn;

/// Apache's data dir, read and written through zk-storage.
pub struct DiskStorage {
    data_dir: PathBuf,
    log_dir: PathBuf,
    options: TxnLogOptions,
    log: Option<TxnLog>,
    snapshotter: Option<JoinHandle<()>>,
    purge_retain: Option<usize>,
    digest_enabled: bool,
    scratch: bytes::BytesMut,
}

impl std::fmt::Debug for DiskStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStorage")
            .field("data_dir", &self.data_dir)
            .field("log_dir", &self.log_dir)
            .finish()
    }
}

impl From<zk_storage::StorageError> for StorageError {
    fn from(e: zk_storage::StorageError) -> Self {
        StorageError::Corrupt(e.to_string())
    }
}

/// Opens the storage for a config's data dirs.
pub fn open(cfg: &ServerConfig) -> Result<Box<dyn Storage>, StorageError> {
    Ok(Box::new(DiskStorage::new(cfg)))
}

impl DiskStorage {
    /// Storage over `cfg.data_dir` / `cfg.log_dir()`.
    pub fn new(cfg: &ServerConfig) -> Self {
        DiskStorage {
            data_dir: cfg.data_dir.clone(),
            log_dir: cfg.log_dir().to_path_buf(),
            options: TxnLogOptions {
                force_sync: cfg.force_sync,
                ..TxnLogOptions::default()
            },
            log: None,
            snapshotter: None,
            purge_retain: (cfg.purge_interval > 0)
                .then_some((cfg.snap_retain_count as usize).max(zk_storage::MIN_SNAP_RETAIN_COUNT)),
            digest_enabled: cfg.digest_enabled,
            scratch: bytes::BytesMut::with_capacity(4096),
        }
    }

    fn log(&mut self) -> Result<&mut TxnLog, StorageError> {
        if self.log.is_none() {
            self.log = Some(TxnLog::open(&self.log_dir, self.options.clone())?);
        }
        Ok(self.log.as_mut().expect("just opened"))
    }
}

/// A zk-storage snapshot as the state [`recover_tree`](crate::server::recover_tree) loads.
pub(crate) fn snapshot_state(zxid: i64, s: SnapshotData) -> SnapshotState {
    SnapshotState {
        last_zxid: zxid,
        digest: s.digest,
        sessions: s.sessions,
        nodes: s.nodes.into_iter().map(SnapshotNode::from).collect(),
    }
}

/// The committed state of `tree` as zk-storage's snapshot (sessions sorted, parents first).
pub(crate) fn snapshot_data(tree: &DataTree) -> SnapshotData {
    let mut sessions: Vec<(i64, i32)> = tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
    sessions.sort_unstable();
    SnapshotData {
        sessions,
        nodes: to_snap_nodes(tree.snapshot_nodes()),
        digest: tree.snapshot_digest(),
    }
}

pub(crate) fn to_snap_nodes(nodes: Vec<SnapshotNode>) -> Vec<SnapNode> {
    nodes.iter().map(SnapshotNode::to_snap_node).collect()
}

impl Storage for DiskStorage {
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        std::fs::create_dir_all(&self.data_dir)?;
        std::fs::create_dir_all(&self.log_dir)?;
        let partial = zk_storage::remove_partial_snapshots(&self.data_dir)?;
        if partial > 0 {
            info!(partial, "removed snapshots a crash left half-written");
        }
        let r = zk_storage::recover(&self.data_dir, &self.log_dir)?;
        if r.is_empty() {
            info!(data_dir = %self.data_dir.display(), "fresh data dir: writing snapshot.0");
            let mut tree = DataTree::new();
            tree.set_digest_enabled(self.digest_enabled);
            let data = SnapshotData {
                sessions: Vec::new(),
                nodes: to_snap_nodes(tree.snapshot_nodes()),
                // Apache's first snapshot has no processed txn yet: an empty digest (zxid 0).
                digest: tree.snapshot_digest(),
            };
            zk_storage::write_snapshot(&self.data_dir, 0, &data)?;
        }
        self.log()?;
        let snapshot = r.snapshot.map(|(zxid, s)| snapshot_state(zxid, s));
        let txns = r.txns;
        Ok(Recovered { snapshot, txns })
    }

    fn append(&mut self, txns: &[Arc<Txn>]) -> Result<(), StorageError> {
        // Encode into one reused buffer (TxnLog::append would grow a fresh one per txn).
        let mut scratch = std::mem::take(&mut self.scratch);
        let log = self.log()?;
        let mut result = Ok(());
        for t in txns {
            scratch.clear();
            t.write(&mut scratch);
            if let Err(e) = log.append_bytes(&scratch) {
                result = Err(e.into());
                break;
            }
        }
        self.scratch = scratch;
        result
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.log()?.sync()?;
        Ok(())
    }

    fn snapshot(&mut self, snap: SnapshotState) -> Result<(), StorageError> {
        if let Some(h) = &self.snapshotter {
            if !h.is_finished() {
                warn!("too busy to snap, skipping");
                return Ok(());
            }
        }
        if let Some(h) = self.snapshotter.take() {
            let _ = h.join();
        }
        self.log()?.roll()?;
        let data_dir = self.data_dir.clone();
        let log_dir = self.log_dir.clone();
        let retain = self.purge_retain;
        let handle = std::thread::Builder::new()
            .name("zk-snapshot".into())
            .spawn(move || {
                let written = crate::tree::write_snapshot(
                    &data_dir,
                    snap.last_zxid,
                    &snap.sessions,
                    &snap.nodes,
                    snap.digest.as_ref(),
                );
                match written {
                    Ok(p) => info!(path = %p.display(), "snapshot written"),
                    Err(e) => {
                        warn!(error = %e, "snapshot failed");
                        return;
                    }
                }
                if let Some(n) = retain {
                    if let Err(e) = zk_storage::purge(&data_dir, &log_dir, n) {
                        warn!(error = %e, "autopurge failed");
                    }
                }
            })?;
        self.snapshotter = Some(handle);
        Ok(())
    }
}

impl Drop for DiskStorage {
    fn drop(&mut self) {
        if let Some(h) = self.snapshotter.take() {
            let _ = h.join();
        }
    }
}
