//! Snapshots in an ensemble: the leader's SNAP source and the server core's snapshot writer.
//!
//! The quorum driver owns the txn log, the server core owns the tree. A learner too far behind
//! for a DIFF needs the state *exactly* at the leader's commit point, at the moment the driver
//! decides to sync it, while the core may still be applying commits. Rather than stop the core,
//! [`TreeSnapshots`] rebuilds that state from what is durable: the newest snapshot on disk plus
//! the committed txns after it (the data dir's log, completed by the driver's in-memory history
//! for what is still buffered). SNAP is rare; its cost is one recovery pass.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use tracing::{info, warn};
use zk_zab::{History, Zxid};

use crate::durability::{snapshot_data, snapshot_state};
use crate::persist::{Recovered, SnapshotState, Storage, StorageError};
use crate::quorum::snapshot::data_to_stream;
use crate::quorum::{QuorumSender, SnapshotSource};
use crate::server::recover_tree;
use crate::txn::Txn;

/// A [`SnapshotSource`] that rebuilds the committed state at a zxid from the data dir.
#[derive(Debug, Clone)]
pub struct TreeSnapshots {
    data_dir: PathBuf,
    log_dir: PathBuf,
    digest_enabled: bool,
}

impl TreeSnapshots {
    /// A source over the peer's data dirs.
    pub fn new(data_dir: PathBuf, log_dir: PathBuf, digest_enabled: bool) -> Self {
        TreeSnapshots {
            data_dir,
            log_dir,
            digest_enabled,
        }
    }

    fn build(&self, zxid: Zxid, history: &History) -> Result<Bytes, String> {
        let upto = zxid.0 as i64;
        let r = zk_storage::recover(&self.data_dir, &self.log_dir).map_err(|e| e.to_string())?;
        let snapshot = r.snapshot.map(|(z, s)| snapshot_state(z, s));
        let base = snapshot.as_ref().map_or(0, |s| s.last_zxid);
        if base > upto {
            return Err(format!("newest snapshot {base:#x} is past {upto:#x}"));
        }
        let mut txns: Vec<Txn> = r
            .txns
            .into_iter()
            .filter(|t| t.zxid() > base && t.zxid() <= upto)
            .collect();
        let logged = txns.last().map_or(base, |t| t.zxid());
        for e in history.entries() {
            let z = e.zxid.0 as i64;
            if z > logged && z <= upto {
                txns.push(Txn::decode(e.payload.clone()).map_err(|e| e.to_string())?);
            }
        }
        if let Some(gap) = first_gap(base, &txns) {
            return Err(format!("txn {gap:#x} follows a missing one"));
        }
        let tree = recover_tree(Recovered { snapshot, txns }, self.digest_enabled);
        if tree.last_zxid() > upto {
            return Err(format!("rebuilt state at {:#x}", tree.last_zxid()));
        }
        Ok(data_to_stream(&snapshot_data(&tree)))
    }
}

/// The first txn whose predecessor is missing (counters are consecutive within an epoch; a new
/// epoch restarts at 1).
fn first_gap(base: i64, txns: &[Txn]) -> Option<i64> {
    let mut prev = base;
    for t in txns {
        let z = t.zxid();
        let consecutive = z == prev + 1 || ((z >> 32) > (prev >> 32) && (z & 0xffff_ffff) == 1);
        if !consecutive && prev != 0 {
            return Some(z);
        }
        prev = z;
    }
    None
}

impl SnapshotSource for TreeSnapshots {
    fn snapshot(&mut self, zxid: Zxid, history: &History) -> Option<Bytes> {
        match self.build(zxid, history) {
            Ok(b) => {
                info!(%zxid, bytes = b.len(), "snapshot built for a learner");
                Some(b)
            }
            Err(e) => {
                warn!(%zxid, error = %e, "cannot build a snapshot for a learner");
                None
            }
        }
    }
}

/// The server core's [`Storage`] in an ensemble: only snapshots (the quorum driver logs txns).
/// Each snapshot is written by a background thread, then reported to the driver, which may then
/// forget older txns; autopurge runs after it when enabled.
pub struct SnapshotWriter {
    data_dir: PathBuf,
    log_dir: PathBuf,
    purge_retain: Option<usize>,
    quorum: QuorumSender,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl SnapshotWriter {
    /// A writer into `data_dir`, reporting to `quorum`.
    pub fn new(
        data_dir: PathBuf,
        log_dir: PathBuf,
        purge_retain: Option<usize>,
        quorum: QuorumSender,
    ) -> Self {
        SnapshotWriter {
            data_dir,
            log_dir,
            purge_retain,
            quorum,
            writer: None,
        }
    }
}

impl Storage for SnapshotWriter {
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        // The driver restored the data dir; the core starts from its snapshot.
        Ok(Recovered::default())
    }

    fn append(&mut self, _txns: &[Arc<Txn>]) -> Result<(), StorageError> {
        Err(StorageError::Corrupt(
            "txns are logged by the quorum driver in an ensemble".into(),
        ))
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }

    fn snapshot(&mut self, snap: SnapshotState) -> Result<(), StorageError> {
        if self.writer.as_ref().is_some_and(|h| !h.is_finished()) {
            warn!("too busy to snap, skipping");
            return Ok(());
        }
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        let (data_dir, log_dir, retain) = (
            self.data_dir.clone(),
            self.log_dir.clone(),
            self.purge_retain,
        );
        self.quorum.roll_log();
        let quorum = self.quorum.clone();
        let zxid = snap.last_zxid;
        let handle = std::thread::Builder::new()
            .name("zk-snapshot".into())
            .spawn(move || {
                let written = crate::tree::write_snapshot(
                    &data_dir,
                    zxid,
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
                quorum.snapshot_taken(Zxid(zxid as u64));
                if let Some(n) = retain {
                    if let Err(e) = zk_storage::purge(&data_dir, &log_dir, n) {
                        warn!(error = %e, "autopurge failed");
                    }
                }
            })?;
        self.writer = Some(handle);
        Ok(())
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}
