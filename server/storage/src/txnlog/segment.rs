//! Segment files: `log.<hex zxid of the first txn>` in `<dataLogDir>/version-2`, and which of them
//! hold the txns from a given zxid on (`FileTxnLog.getLogFiles`).

use std::path::{Path, PathBuf};

use crate::layout::{list_files, LOG_FILE_PREFIX};
use crate::StorageError;

/// The segments in `log_dir` (a `version-2` directory), oldest first.
pub fn list_segments(log_dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    list_files(log_dir, LOG_FILE_PREFIX)
}

/// The segments that can hold txns with zxid >= `zxid`: the newest one whose name is <= `zxid`
/// (it may continue past `zxid`) and every later one, as `FileTxnLog.getLogFiles` picks them.
/// `segments` must be sorted by zxid ascending.
pub fn segments_from(segments: &[(i64, PathBuf)], zxid: i64) -> &[(i64, PathBuf)] {
    // Index of the last segment named <= zxid, or 0 if none is.
    let first = segments
        .iter()
        .rposition(|(start, _)| *start <= zxid)
        .unwrap_or(0);
    &segments[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(starts: &[i64]) -> Vec<(i64, PathBuf)> {
        starts
            .iter()
            .map(|&s| (s, PathBuf::from(format!("log.{s:x}"))))
            .collect()
    }

    #[test]
    fn picks_the_covering_segment_and_later() {
        let all = segs(&[1, 0x11, 0x17]);
        let starts = |z| {
            segments_from(&all, z)
                .iter()
                .map(|s| s.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(starts(0), vec![1, 0x11, 0x17]);
        assert_eq!(starts(1), vec![1, 0x11, 0x17]);
        assert_eq!(starts(0x10), vec![1, 0x11, 0x17]);
        assert_eq!(starts(0x11), vec![0x11, 0x17]);
        assert_eq!(starts(0x16), vec![0x11, 0x17]);
        assert_eq!(starts(0x100), vec![0x17]);
        assert!(segments_from(&[], 5).is_empty());
    }
}
