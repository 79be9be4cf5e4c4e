//! The 16-byte [`FileHeader`] that opens txn log segments and snapshots
//! (`org.apache.zookeeper.server.persistence.FileHeader`): magic, format version, database id.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use zk_proto::records::txn::FileHeader;
use zk_proto::Record;

use crate::StorageError;

/// `"ZKLG"` as a big-endian int: the magic of txn log segments (`FileTxnLog.TXNLOG_MAGIC`).
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");

/// `"ZKSN"` as a big-endian int: the magic of snapshots (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");

/// The format version of both files (`FileTxnLog.VERSION`, `FileSnap.VERSION`); also the `2` in
/// the `version-2` directory name.
pub const FORMAT_VERSION: i32 = 2;

/// The dbid Apache writes in txn log headers: `FileTxnLog.dbId`, never set, so 0.
pub const TXNLOG_DBID: i64 = 0;

/// The dbid Apache writes in snapshot headers (`FileSnap.dbId = -1`).
pub const SNAP_DBID: i64 = -1;

/// Encoded size of a [`FileHeader`].
pub const FILE_HEADER_LEN: usize = 16;

/// The header of a new txn log segment.
pub fn txnlog_header() -> FileHeader {
    FileHeader {
        magic: TXNLOG_MAGIC,
        version: FORMAT_VERSION,
        dbid: TXNLOG_DBID,
    }
}

/// The header of a new snapshot.
pub fn snapshot_header() -> FileHeader {
    FileHeader {
        magic: SNAP_MAGIC,
        version: FORMAT_VERSION,
        dbid: SNAP_DBID,
    }
}

/// Encodes a header.
pub fn encode(header: &FileHeader) -> [u8; FILE_HEADER_LEN] {
    let mut buf = BytesMut::with_capacity(FILE_HEADER_LEN);
    header.write(&mut buf);
    let mut out = [0u8; FILE_HEADER_LEN];
    out.copy_from_slice(&buf);
    out
}

/// Decodes and checks a header read from `path`: the magic must be `magic`. Like Apache, the
/// version and dbid are not checked (Apache ignores them on read).
pub fn decode(
    raw: &[u8; FILE_HEADER_LEN],
    magic: i32,
    path: &Path,
) -> Result<FileHeader, StorageError> {
    let mut bytes = Bytes::copy_from_slice(raw);
    let header = FileHeader::read(&mut bytes).map_err(|e| StorageError::BadHeader {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if header.magic != magic {
        return Err(StorageError::BadHeader {
            path: path.to_path_buf(),
            reason: format!(
                "magic {:#010x} ({}) is not {:#010x} ({})",
                header.magic,
                String::from_utf8_lossy(&header.magic.to_be_bytes()).escape_debug(),
                magic,
                String::from_utf8_lossy(&magic.to_be_bytes()),
            ),
        });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_apache_files() {
        // First 16 bytes of Apache 3.8.0's log.1 and snapshot.0.
        assert_eq!(encode(&txnlog_header()), *b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0");
        assert_eq!(
            encode(&snapshot_header()),
            *b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff"
        );
        let p = Path::new("x");
        assert!(decode(&encode(&txnlog_header()), TXNLOG_MAGIC, p).is_ok());
        let err = decode(&encode(&snapshot_header()), TXNLOG_MAGIC, p).unwrap_err();
        assert!(err.to_string().contains("ZKSN"), "{err}");
    }
}
