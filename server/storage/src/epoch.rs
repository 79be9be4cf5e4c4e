//! The ZAB epoch files `acceptedEpoch` and `currentEpoch` (`QuorumPeer.readLongFromFile` /
//! `writeLongToFile`): one decimal long, no newline, in `<dataDir>/version-2/`, replaced atomically
//! (`AtomicFileWritingIdiom`: `<name>.tmp`, fsync, rename).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::{ensure_dir, write_atomic};
use crate::layout::snap_dir;
use crate::StorageError;

/// File name of the accepted epoch (`QuorumPeer.ACCEPTED_EPOCH_FILENAME`).
pub const ACCEPTED_EPOCH_FILENAME: &str = "acceptedEpoch";

/// File name of the current epoch (`QuorumPeer.CURRENT_EPOCH_FILENAME`).
pub const CURRENT_EPOCH_FILENAME: &str = "currentEpoch";

/// The longest epoch file this crate reads; a decimal long has at most 20 characters.
const MAX_EPOCH_FILE_LEN: u64 = 64;

/// Which epoch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochFile {
    /// `acceptedEpoch`: the epoch of the last NEWEPOCH / LEADERINFO this peer accepted.
    Accepted,
    /// `currentEpoch`: the epoch of the last NEWLEADER this peer acknowledged.
    Current,
}

impl EpochFile {
    /// The file name.
    pub const fn file_name(self) -> &'static str {
        match self {
            EpochFile::Accepted => ACCEPTED_EPOCH_FILENAME,
            EpochFile::Current => CURRENT_EPOCH_FILENAME,
        }
    }

    /// The file's path for a data dir.
    pub fn path(self, data_dir: &Path) -> PathBuf {
        snap_dir(data_dir).join(self.file_name())
    }
}

/// Reads an epoch file; `Ok(None)` if it does not exist. Surrounding whitespace is ignored
/// (Apache reads the first line and would reject it).
pub fn read_epoch(data_dir: &Path, which: EpochFile) -> Result<Option<i64>, StorageError> {
    let path = which.path(data_dir);
    let len = match fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("reading", &path)(e)),
    };
    let bad = |content: &[u8]| StorageError::BadEpochFile {
        path: path.clone(),
        content: String::from_utf8_lossy(&content[..content.len().min(64)]).into_owned(),
    };
    if len > MAX_EPOCH_FILE_LEN {
        return Err(bad(b"<longer than 64 bytes>"));
    }
    let raw = fs::read(&path).map_err(StorageError::io("reading", &path))?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad(&raw))?;
    let first_line = text.lines().next().unwrap_or("").trim();
    first_line.parse::<i64>().map(Some).map_err(|_| bad(&raw))
}

/// Writes an epoch file atomically and durably (creating `<dataDir>/version-2` if needed).
pub fn write_epoch(data_dir: &Path, which: EpochFile, epoch: i64) -> Result<(), StorageError> {
    ensure_dir(&snap_dir(data_dir))?;
    write_atomic(&which.path(data_dir), epoch.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_apache_format() {
        let dir = zk_testkit::TestDir::new("epoch").unwrap();
        assert_eq!(read_epoch(dir.path(), EpochFile::Current).unwrap(), None);
        write_epoch(dir.path(), EpochFile::Current, 7).unwrap();
        write_epoch(dir.path(), EpochFile::Accepted, 8).unwrap();
        assert_eq!(read_epoch(dir.path(), EpochFile::Current).unwrap(), Some(7));
        assert_eq!(
            read_epoch(dir.path(), EpochFile::Accepted).unwrap(),
            Some(8)
        );
        let raw = fs::read(dir.path().join("version-2/currentEpoch")).unwrap();
        assert_eq!(raw, b"7");
        assert!(!dir.path().join("version-2/currentEpoch.tmp").exists());
        write_epoch(dir.path(), EpochFile::Current, 9).unwrap();
        assert_eq!(read_epoch(dir.path(), EpochFile::Current).unwrap(), Some(9));
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let dir = zk_testkit::TestDir::new("epoch-bad").unwrap();
        fs::create_dir_all(dir.path().join("version-2")).unwrap();
        for content in [&b"x"[..], b"", b"\xff\xfe", &[b'1'; 100]] {
            fs::write(dir.path().join("version-2/acceptedEpoch"), content).unwrap();
            let err = read_epoch(dir.path(), EpochFile::Accepted).unwrap_err();
            assert!(err.to_string().contains("acceptedEpoch"), "{err}");
        }
        fs::write(dir.path().join("version-2/acceptedEpoch"), b"12\n").unwrap();
        assert_eq!(
            read_epoch(dir.path(), EpochFile::Accepted).unwrap(),
            Some(12)
        );
    }
}
