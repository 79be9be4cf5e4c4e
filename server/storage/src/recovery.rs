//! Startup recovery (`FileTxnSnapLog.restore`): the newest valid snapshot, plus the logged txns
//! after it.
//!
//! Snapshots are fuzzy (see [`snapshot`](crate::snapshot)): a snapshot named `snapshot.Z` may
//! already contain the effects of some txns after Z. Like Apache, recovery returns every logged
//! txn from `Z + 1` on, and the tree that applies them must tolerate re-applying a txn whose effect
//! is already there (Apache's `DataTree.processTxn` ignores NodeExists/NoNode during replay and
//! fixes a parent's cversion/pzxid from `CreateTxn.parentCVersion`).

use std::path::Path;

use tracing::{info, warn};

use crate::layout::{log_dir, snap_dir};
use crate::snapshot::{load_newest_snapshot, SnapshotData, MAX_SNAPSHOTS_TRIED};
use crate::txnlog::{read_txns, LoggedTxn, DEFAULT_MAX_RECORD_SIZE};
use crate::StorageError;

/// Options of [`recover_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverOptions {
    /// How many of the newest snapshots to try ([`MAX_SNAPSHOTS_TRIED`]).
    pub max_snapshots_tried: usize,
    /// Accept a txn log without any snapshot and replay it onto an empty tree
    /// (`zookeeper.snapshot.trust.empty`, default false: refuse, as Apache does).
    pub trust_empty_snapshot: bool,
    /// Largest txn entry accepted ([`DEFAULT_MAX_RECORD_SIZE`]).
    pub max_record_size: usize,
}

impl Default for RecoverOptions {
    fn default() -> Self {
        RecoverOptions {
            max_snapshots_tried: MAX_SNAPSHOTS_TRIED,
            trust_empty_snapshot: false,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
        }
    }
}

/// What a data dir holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The newest valid snapshot and its zxid, if any.
    pub snapshot: Option<(i64, SnapshotData)>,
    /// The logged txns after the snapshot's zxid (all of them without a snapshot), oldest first.
    pub txns: Vec<LoggedTxn>,
}

impl Recovered {
    /// The zxid the server is at after applying everything: the last txn's, else the snapshot's,
    /// else 0.
    pub fn last_zxid(&self) -> i64 {
        self.txns
            .last()
            .map(LoggedTxn::zxid)
            .or(self.snapshot.as_ref().map(|(zxid, _)| *zxid))
            .unwrap_or(0)
    }

    /// True for a fresh data dir (no snapshot, no txns).
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.txns.is_empty()
    }
}

/// Within an epoch (the high 32 bits of a zxid) zxids are consecutive; a jump means log
/// segments are missing. Apache does not check this either, so it is only logged.
fn warn_about_gaps(snapshot_zxid: Option<i64>, txns: &[LoggedTxn]) {
    let mut prev = snapshot_zxid.filter(|z| *z > 0);
    for txn in txns {
        let zxid = txn.zxid();
        if let Some(p) = prev {
            if zxid >> 32 == p >> 32 && zxid > p.saturating_add(1) {
                warn!(
                    after = format_args!("{p:#x}"),
                    next = format_args!("{zxid:#x}"),
                    "txn log has a gap: txns are missing"
                );
            }
        }
        prev = Some(zxid);
    }
}

/// [`recover_with`] with default options.
pub fn recover(data_dir: &Path, data_log_dir: &Path) -> Result<Recovered, StorageError> {
    recover_with(data_dir, data_log_dir, &RecoverOptions::default())
}

/// Reads the newest valid snapshot in `<data_dir>/version-2` and the txns after it in
/// `<data_log_dir>/version-2` (the two may be the same directory).
///
/// Read-only: a torn log tail ends the txns but stays on disk until
/// [`TxnLog::open`](crate::TxnLog::open) truncates it; open the log after recovering. A fresh
/// server should write an initial snapshot (Apache writes `snapshot.0`) before logging its first
/// txn, so that its log is never without a snapshot.
pub fn recover_with(
    data_dir: &Path,
    data_log_dir: &Path,
    options: &RecoverOptions,
) -> Result<Recovered, StorageError> {
    let snapshot = load_newest_snapshot(data_dir, options.max_snapshots_tried)?;
    let from = snapshot
        .as_ref()
        .map_or(0, |(zxid, _)| zxid.saturating_add(1));
    let txns = read_txns(data_log_dir, from, options.max_record_size)?;
    if snapshot.is_none() && !txns.is_empty() {
        if !options.trust_empty_snapshot {
            return Err(StorageError::LogWithoutSnapshot {
                snap_dir: snap_dir(data_dir),
                log_dir: log_dir(data_log_dir),
            });
        }
        warn!("no snapshot found, but there are log entries; replaying them onto an empty tree");
    }
    if let Some((zxid, data)) = &snapshot {
        if let Some(d) = &data.digest {
            if d.zxid == *zxid && d.digest_version == crate::DIGEST_VERSION {
                let computed = data.tree_digest();
                if computed != d.digest {
                    warn!(
                        zxid = format_args!("{zxid:#x}"),
                        recorded = d.digest,
                        computed,
                        "snapshot tree digest mismatch"
                    );
                }
            }
        }
    }
    warn_about_gaps(snapshot.as_ref().map(|(z, _)| *z), &txns);
    let recovered = Recovered { snapshot, txns };
    info!(
        snapshot = ?recovered.snapshot.as_ref().map(|(z, _)| format!("{z:#x}")),
        txns = recovered.txns.len(),
        last_zxid = format_args!("{:#x}", recovered.last_zxid()),
        "recovered"
    );
    Ok(recovered)
}
