//! Where files live in a data dir and how they are named (`FileTxnSnapLog`, `Util`).
//!
//! ```text
//! <dataDir>/version-2/snapshot.<zxid>      snapshots (FileSnap)
//! <dataDir>/version-2/acceptedEpoch        ZAB epochs (QuorumPeer), decimal text
//! <dataDir>/version-2/currentEpoch
//! <dataLogDir>/version-2/log.<zxid>        txn log segments (FileTxnLog); dataLogDir defaults to dataDir
//! ```
//! `<zxid>` is lower-case hex without `0x` or padding (`Long.toHexString`): the zxid of the
//! snapshot's last applied txn, or of the segment's first txn.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::StorageError;

/// The subdirectory of dataDir and dataLogDir that holds the files (`FileTxnSnapLog.version` +
/// `FileTxnSnapLog.VERSION`).
pub const VERSION_DIR: &str = "version-2";

/// Name prefix of txn log segments (`FileTxnLog.LOG_FILE_PREFIX`).
pub const LOG_FILE_PREFIX: &str = "log";

/// Name prefix of snapshots (`FileSnap.SNAPSHOT_FILE_PREFIX`).
pub const SNAPSHOT_FILE_PREFIX: &str = "snapshot";

/// Suffix of files being written before an atomic rename (`AtomicFileOutputStream.TMP_EXTENSION`).
pub const TMP_EXTENSION: &str = ".tmp";

/// `<dataDir>/version-2`: snapshots and epoch files.
pub fn snap_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(VERSION_DIR)
}

/// `<dataLogDir>/version-2`: txn log segments.
pub fn log_dir(data_log_dir: &Path) -> PathBuf {
    data_log_dir.join(VERSION_DIR)
}

/// `log.<hex zxid>` (`Util.makeLogName`).
pub fn log_file_name(zxid: i64) -> String {
    format!("{LOG_FILE_PREFIX}.{zxid:x}")
}

/// `snapshot.<hex zxid>` (`Util.makeSnapshotName` with compression off).
pub fn snapshot_file_name(zxid: i64) -> String {
    format!("{SNAPSHOT_FILE_PREFIX}.{zxid:x}")
}

/// Parses `<prefix>.<hex>` exactly (no extension), as this crate names files. Negative zxids
/// print as 16 hex digits (Java's unsigned `toHexString`) and parse back.
pub fn parse_file_name(name: &str, prefix: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// The zxid Apache reads from a file name (`Util.getZxidFromName`): the second `.`-separated part
/// parsed as hex, so `snapshot.1a.gz` and `snapshot.1a.tmp` count as zxid 0x1a. `None` where Apache
/// gets -1. Java's `Long.parseLong(s, 16)` is signed, so values above `i64::MAX` are `None` too.
pub fn apache_zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next() != Some(prefix) {
        return None;
    }
    let part = parts.next()?;
    let (neg, digits) = match part.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, part.strip_prefix('+').unwrap_or(part)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = i64::from_str_radix(digits, 16).ok()?;
    Some(if neg { -v } else { v })
}

/// Files in `dir` named `<prefix>.<hex>` exactly, with their zxids, sorted by zxid ascending. A
/// missing directory is empty.
pub fn list_files(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    list_matching(dir, |name| parse_file_name(name, prefix))
}

/// Files in `dir` for which `zxid_of` returns a zxid, sorted by zxid ascending.
pub fn list_matching(
    dir: &Path,
    zxid_of: impl Fn(&str) -> Option<i64>,
) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io("listing", dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StorageError::io("listing", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = zxid_of(name) {
            files.push((zxid, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_like_long_to_hex_string() {
        let cases = [
            (0i64, "log.0"),
            (1, "log.1"),
            (0x1c, "log.1c"),
            (0x1_0000_0001, "log.100000001"),
            (-1, "log.ffffffffffffffff"),
        ];
        for (zxid, name) in cases {
            assert_eq!(log_file_name(zxid), name);
            assert_eq!(parse_file_name(name, LOG_FILE_PREFIX), Some(zxid));
        }
        assert_eq!(snapshot_file_name(0x1c), "snapshot.1c");
        for bad in [
            "log.",
            "log",
            "log.1c.tmp",
            "log.x",
            "logs.1",
            "snapshot.1",
            "log.11111111111111111",
        ] {
            assert_eq!(parse_file_name(bad, LOG_FILE_PREFIX), None, "{bad}");
        }
    }

    #[test]
    fn apache_name_parsing() {
        assert_eq!(
            apache_zxid_from_name("snapshot.1a.gz", SNAPSHOT_FILE_PREFIX),
            Some(0x1a)
        );
        assert_eq!(
            apache_zxid_from_name("snapshot.1a.tmp", SNAPSHOT_FILE_PREFIX),
            Some(0x1a)
        );
        assert_eq!(
            apache_zxid_from_name("snapshot.1a", SNAPSHOT_FILE_PREFIX),
            Some(0x1a)
        );
        assert_eq!(
            apache_zxid_from_name("snapshot", SNAPSHOT_FILE_PREFIX),
            None
        );
        assert_eq!(
            apache_zxid_from_name("snapshot.zz", SNAPSHOT_FILE_PREFIX),
            None
        );
        assert_eq!(apache_zxid_from_name("log.1", SNAPSHOT_FILE_PREFIX), None);
        assert_eq!(
            apache_zxid_from_name("snapshot.ffffffffffffffff", SNAPSHOT_FILE_PREFIX),
            None
        );
    }
}
