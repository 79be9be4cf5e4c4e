//! The durability boundary: where txns become durable and snapshots are written.
//!
//! The core hands batches of txns to one log thread ([`spawn_log_thread`]), which appends them
//! through a [`Storage`], syncs once per batch (group commit: everything that arrived while the
//! previous sync ran goes into the next one) and reports the last durable zxid back. Writes are
//! acknowledged only after that report. Snapshots are requested through the same thread, so they
//! are ordered with the log.
//!
//! [`MemStorage`] keeps everything in memory behind a shared handle: "durable" means synced
//! into the handle, so a test can kill a server and restart another on the same handle. The
//! on-disk implementation (Apache 3.8 format) comes from `zk-storage`.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::tree::SnapshotNode;
use crate::txn::{Txn, Zxid};

/// Errors at the storage boundary.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error.
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data is corrupt.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
}

/// A snapshot: the tree and the sessions at `last_zxid` (snapshots are taken between applies,
/// so they are exact rather than fuzzy).
#[derive(Debug, Clone, Default)]
pub struct SnapshotState {
    /// The zxid of the last txn the snapshot includes.
    pub last_zxid: Zxid,
    /// Sessions and their timeouts.
    pub sessions: Vec<(i64, i32)>,
    /// Every node, parents first.
    pub nodes: Vec<SnapshotNode>,
    /// The tree digest the snapshot records (`None`: digests disabled, no digest section).
    pub digest: Option<zk_storage::ZxidDigest>,
}

/// What recovery found: the newest valid snapshot and the txns logged after it, in order.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The snapshot, if any.
    pub snapshot: Option<SnapshotState>,
    /// Txns after the snapshot.
    pub txns: Vec<Txn>,
}

/// A txn log plus snapshots.
pub trait Storage: Send + 'static {
    /// Reads back the durable state.
    fn recover(&mut self) -> Result<Recovered, StorageError>;
    /// Appends txns (buffered).
    fn append(&mut self, txns: &[Arc<Txn>]) -> Result<(), StorageError>;
    /// Makes everything appended durable.
    fn sync(&mut self) -> Result<(), StorageError>;
    /// Writes a snapshot.
    fn snapshot(&mut self, snap: SnapshotState) -> Result<(), StorageError>;
}

#[derive(Debug, Default)]
struct MemInner {
    snapshot: Option<SnapshotState>,
    durable: Vec<Txn>,
}

/// An in-memory [`Storage`]; clones share state (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    inner: Arc<Mutex<MemInner>>,
    buffered: Vec<Txn>,
}

impl MemStorage {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of durable txns after the last snapshot.
    pub fn durable_txns(&self) -> usize {
        self.inner.lock().map(|i| i.durable.len()).unwrap_or(0)
    }
}

impl Storage for MemStorage {
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        let inner = self
            .inner
            .lock()
            .map_err(|_| StorageError::Corrupt("poisoned".into()))?;
        Ok(Recovered {
            snapshot: inner.snapshot.clone(),
            txns: inner.durable.clone(),
        })
    }

    fn append(&mut self, txns: &[Arc<Txn>]) -> Result<(), StorageError> {
        self.buffered.extend(txns.iter().map(|t| Txn::clone(t)));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| StorageError::Corrupt("poisoned".into()))?;
        inner.durable.append(&mut self.buffered);
        Ok(())
    }

    fn snapshot(&mut self, snap: SnapshotState) -> Result<(), StorageError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| StorageError::Corrupt("poisoned".into()))?;
        let z = snap.last_zxid;
        inner.durable.retain(|t| t.zxid() > z);
        inner.snapshot = Some(snap);
        Ok(())
    }
}

/// A command for the log thread.
#[derive(Debug)]
pub enum LogCmd {
    /// Append and make durable.
    Append(Vec<Arc<Txn>>),
    /// Write a snapshot.
    Snapshot(SnapshotState),
}

/// What the log thread reports.
#[derive(Debug)]
pub enum LogEvent {
    /// Every txn up to this zxid is durable.
    Durable(Zxid),
    /// Storage failed; the server must stop accepting writes.
    Failed(String),
}

/// Starts the log thread. It ends when `cmds` is closed, after syncing what it has.
pub fn spawn_log_thread(
    mut storage: Box<dyn Storage>,
    events: mpsc::UnboundedSender<LogEvent>,
) -> (std::sync::mpsc::Sender<LogCmd>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<LogCmd>();
    let handle = std::thread::Builder::new()
        .name("zk-txnlog".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let mut last = None;
                let mut result = Ok(());
                for cmd in batch {
                    match cmd {
                        LogCmd::Append(txns) => {
                            if let Some(t) = txns.last() {
                                last = Some(t.zxid());
                            }
                            if result.is_ok() {
                                result = storage.append(&txns);
                            }
                        }
                        LogCmd::Snapshot(s) => {
                            if result.is_ok() {
                                result = storage.snapshot(s);
                            }
                        }
                    }
                }
                if result.is_ok() && last.is_some() {
                    // forceSync=no is the storage's business: it flushes without fdatasync.
                    result = storage.sync();
                }
                match (result, last) {
                    (Ok(()), Some(z)) => {
                        let _ = events.send(LogEvent::Durable(z));
                    }
                    (Ok(()), None) => {}
                    (Err(e), _) => {
                        tracing::error!(error = %e, "txn log failed");
                        let _ = events.send(LogEvent::Failed(e.to_string()));
                        return;
                    }
                }
            }
        })
        .expect("spawn log thread");
    (tx, handle)
}
