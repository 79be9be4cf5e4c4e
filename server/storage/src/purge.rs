//! Purging old snapshots and logs (`PurgeTxnLog.purge`, run by `DatadirCleanupManager` every
//! `autopurge.purgeInterval` hours).
//!
//! Keep the newest `retain_count` snapshots. Let Z be the zxid of the oldest kept one. Delete every
//! snapshot and every log segment named below Z, except the newest segment named at or below Z,
//! which may hold the txns right after it (`FileTxnLog.getLogFiles`).

use std::fs;
use std::path::{Path, PathBuf};

use tracing::info;

use crate::layout::{apache_zxid_from_name, list_matching, log_dir, snap_dir};
use crate::layout::{LOG_FILE_PREFIX, SNAPSHOT_FILE_PREFIX};
use crate::txnlog::segments_from;
use crate::StorageError;

/// The fewest snapshots a purge may keep (`PurgeTxnLog`: "count should be greater than or equal
/// to 3"; `DatadirCleanupManager` raises smaller `autopurge.snapRetainCount` values to it).
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// Apache's default `autopurge.snapRetainCount`.
pub const DEFAULT_SNAP_RETAIN_COUNT: usize = 3;

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The deleted files.
    pub removed: Vec<PathBuf>,
}

/// Deletes the snapshots and log segments that the newest `retain_count` snapshots do not need.
///
/// Files are recognized by Apache's name rule (`Util.getZxidFromName`: `snapshot.1a.tmp` counts as
/// a snapshot of 0x1a), so zk-server and Apache purge the same files; names that do not parse are
/// never deleted.
pub fn purge(
    data_dir: &Path,
    data_log_dir: &Path,
    retain_count: usize,
) -> Result<PurgeReport, StorageError> {
    if retain_count < MIN_SNAP_RETAIN_COUNT {
        return Err(StorageError::InvalidRetainCount {
            count: retain_count,
            min: MIN_SNAP_RETAIN_COUNT,
        });
    }
    let snaps = list_matching(&snap_dir(data_dir), |n| {
        apache_zxid_from_name(n, SNAPSHOT_FILE_PREFIX)
    })?;
    let mut report = PurgeReport::default();
    // The oldest of the newest `retain_count` snapshots (or of all of them, if fewer).
    let Some(&(least_retained, _)) = snaps
        .len()
        .checked_sub(retain_count)
        .map_or(snaps.first(), |i| snaps.get(i))
    else {
        return Ok(report);
    };
    let logs = list_matching(&log_dir(data_log_dir), |n| {
        apache_zxid_from_name(n, LOG_FILE_PREFIX)
    })?;
    let retained_logs: Vec<&PathBuf> = segments_from(&logs, least_retained)
        .iter()
        .map(|(_, p)| p)
        .collect();
    let doomed_logs = logs
        .iter()
        .filter(|(zxid, path)| *zxid < least_retained && !retained_logs.contains(&path));
    let doomed_snaps = snaps.iter().filter(|(zxid, _)| *zxid < least_retained);
    for (_, path) in doomed_logs.chain(doomed_snaps) {
        info!(path = %path.display(), "purging");
        fs::remove_file(path).map_err(StorageError::io("deleting", path))?;
        report.removed.push(path.clone());
    }
    Ok(report)
}
