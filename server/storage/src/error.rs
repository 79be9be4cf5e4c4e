//! [`StorageError`]: everything that can go wrong reading or writing a data dir. Every variant that
//! concerns file contents names the file, and the byte offset where the problem starts.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// An error from the storage layer.
///
/// Hostile or damaged files produce one of these, never a panic, and never an allocation larger
/// than the file (or the configured maximum record size) justifies.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`"opening"`, `"fsyncing"`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A file does not start with the expected [`FileHeader`](zk_proto::records::txn::FileHeader).
    #[error("{}: bad file header: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What was wrong (magic, version, truncation).
        reason: String,
    },
    /// A txn log record is damaged and valid records follow it, so it is not a torn tail.
    #[error("{}: corrupt txn log record at byte offset {offset}: {reason}", path.display())]
    CorruptLog {
        /// The log segment.
        path: PathBuf,
        /// Byte offset of the damaged record's first byte (its checksum).
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A snapshot is damaged (bad checksum, truncated, malformed tree).
    #[error("{}: corrupt snapshot at byte offset {offset}: {reason}", path.display())]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// Byte offset where the problem was detected.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Snapshot files exist but none of the newest ones could be read.
    #[error("no valid snapshot in {} ({tried} tried)", dir.display())]
    NoValidSnapshot {
        /// The snapshot directory.
        dir: PathBuf,
        /// How many snapshot files were tried.
        tried: usize,
    },
    /// The txn log holds txns but there is no snapshot to apply them to (Apache refuses this too
    /// unless `zookeeper.snapshot.trust.empty` is set).
    #[error("no snapshot found in {}, but the txn log in {} has txns", snap_dir.display(), log_dir.display())]
    LogWithoutSnapshot {
        /// The snapshot directory.
        snap_dir: PathBuf,
        /// The txn log directory.
        log_dir: PathBuf,
    },
    /// A txn was appended whose zxid is not above the last logged zxid.
    #[error("txn zxid {zxid:#x} is not above the last logged zxid {last:#x}")]
    ZxidNotIncreasing {
        /// The appended txn's zxid.
        zxid: i64,
        /// The last zxid in the log.
        last: i64,
    },
    /// A txn's encoding exceeds the maximum record size readers accept.
    #[error("txn {zxid:#x} encodes to {len} bytes, more than the maximum record size {max}")]
    RecordTooLarge {
        /// The txn's zxid.
        zxid: i64,
        /// Its encoded length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Serialized txn bytes handed to the log do not decode.
    #[error("txn bytes do not decode: {0}")]
    BadTxn(#[from] zk_proto::DecodeError),
    /// Snapshot nodes were written in an order Apache cannot load (a node before its parent, the
    /// root not first, a duplicate path).
    #[error("snapshot node {path:?}: {reason}")]
    NodeOrder {
        /// The offending node's path.
        path: String,
        /// What rule it broke.
        reason: &'static str,
    },
    /// A snapshot node's ACL was not registered in the writer's [`AclTable`](crate::AclTable).
    #[error("snapshot node {path:?}: its ACL is not in the snapshot's ACL table")]
    AclNotInterned {
        /// The node's path.
        path: String,
    },
    /// An `acceptedEpoch` / `currentEpoch` file does not hold a decimal long.
    #[error("{}: not an epoch: {content:?}", path.display())]
    BadEpochFile {
        /// The file.
        path: PathBuf,
        /// Its (first 64 bytes of) content.
        content: String,
    },
    /// `purge` was asked to keep fewer snapshots than Apache allows.
    #[error("snapshot retain count {count} is below the minimum {min}")]
    InvalidRetainCount {
        /// The requested count.
        count: usize,
        /// [`MIN_SNAP_RETAIN_COUNT`](crate::MIN_SNAP_RETAIN_COUNT).
        min: usize,
    },
    /// An option value is out of range.
    #[error("invalid storage option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// The rule it broke.
        reason: &'static str,
    },
}

impl StorageError {
    /// Wraps an I/O error with what was being done to which path.
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.to_path_buf();
        move |source| StorageError::Io { op, path, source }
    }

    /// The byte offset of a content error, if this is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            StorageError::CorruptLog { offset, .. }
            | StorageError::CorruptSnapshot { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The file a content or I/O error concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            StorageError::Io { path, .. }
            | StorageError::BadHeader { path, .. }
            | StorageError::CorruptLog { path, .. }
            | StorageError::CorruptSnapshot { path, .. }
            | StorageError::BadEpochFile { path, .. } => Some(path),
            StorageError::NoValidSnapshot { dir, .. } => Some(dir),
            _ => None,
        }
    }
}
