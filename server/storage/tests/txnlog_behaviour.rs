//! The txn log writer and reader: round trips, Apache's file layout, rolling, group commit,
//! truncation (ZAB TRUNC), reading from a zxid, and reopening after a crash.

mod common;

use std::fs;

use common::{file_len, some_txn, temp_dir};
use zk_storage::layout::log_dir;
use zk_storage::txnlog::{list_segments, DEFAULT_PREALLOC_SIZE};
use zk_storage::{
    read_segment, read_txns, LoggedTxn, SegmentEnd, StorageError, TxnLog, TxnLogOptions,
    DEFAULT_MAX_RECORD_SIZE,
};

fn all_txns(dir: &std::path::Path) -> Vec<LoggedTxn> {
    read_txns(dir, 0, DEFAULT_MAX_RECORD_SIZE).expect("read txns")
}

#[test]
fn appended_txns_read_back_in_order_across_segments() {
    let dir = temp_dir("log-roundtrip");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    let mut written = Vec::new();
    for zxid in 1..=30 {
        let txn = some_txn(zxid);
        log.append(&txn).unwrap();
        written.push(txn);
        if zxid % 10 == 0 {
            assert_eq!(log.sync().unwrap(), Some(zxid));
            log.roll().unwrap();
        }
    }
    log.sync().unwrap();
    let names: Vec<String> = list_segments(&log_dir(dir.path()))
        .unwrap()
        .iter()
        .map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["log.1", "log.b", "log.15"]);
    assert_eq!(all_txns(dir.path()), written);
    // From a zxid in the middle of a segment, and past the end.
    assert_eq!(
        read_txns(dir.path(), 15, DEFAULT_MAX_RECORD_SIZE).unwrap(),
        written[14..]
    );
    assert_eq!(
        read_txns(dir.path(), 11, DEFAULT_MAX_RECORD_SIZE).unwrap(),
        written[10..]
    );
    assert!(read_txns(dir.path(), 31, DEFAULT_MAX_RECORD_SIZE)
        .unwrap()
        .is_empty());
}

#[test]
fn segments_are_preallocated_like_apache() {
    let dir = temp_dir("log-prealloc");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    log.append(&some_txn(1)).unwrap();
    log.sync().unwrap();
    let seg = log_dir(dir.path()).join("log.1");
    // An Apache 3.8 log file with a few txns is 67108880 bytes: 64 MiB + the 16-byte header.
    assert_eq!(file_len(&seg), DEFAULT_PREALLOC_SIZE + 16);
    assert_eq!(file_len(&seg), 67_108_880);
    let contents = read_segment(&seg, DEFAULT_MAX_RECORD_SIZE).unwrap();
    assert_eq!(contents.end, SegmentEnd::Padding);
    assert_eq!(contents.txns.len(), 1);
    let raw = fs::read(&seg).unwrap();
    assert_eq!(&raw[..16], b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0");
    let entry = some_txn(1).to_bytes();
    let crc = zk_storage::Adler32::checksum(&entry) as i64;
    assert_eq!(&raw[16..24], &crc.to_be_bytes());
    assert_eq!(&raw[24..28], &(entry.len() as i32).to_be_bytes());
    assert_eq!(&raw[28..28 + entry.len()], &entry[..]);
    assert_eq!(raw[28 + entry.len()], b'B');
    assert!(raw[29 + entry.len()..].iter().all(|&b| b == 0));
}

#[test]
fn no_preallocation_when_disabled_and_size_limit_rolls() {
    let dir = temp_dir("log-sizelimit");
    let options = TxnLogOptions {
        prealloc_size: 0,
        size_limit: Some(300),
        ..TxnLogOptions::default()
    };
    let mut log = TxnLog::open(dir.path(), options).unwrap();
    for zxid in 1..=12 {
        log.append(&some_txn(zxid)).unwrap();
        log.sync().unwrap();
    }
    let segments = list_segments(&log_dir(dir.path())).unwrap();
    assert!(segments.len() > 2, "{segments:?}");
    for (_, path) in &segments {
        let c = read_segment(path, DEFAULT_MAX_RECORD_SIZE).unwrap();
        assert_eq!(c.end, SegmentEnd::Eof);
        assert_eq!(c.valid_len, c.file_len);
    }
    assert_eq!(all_txns(dir.path()).len(), 12);
}

#[test]
fn append_rejects_non_increasing_and_oversized_txns() {
    let dir = temp_dir("log-reject");
    let options = TxnLogOptions {
        max_record_size: 200,
        ..TxnLogOptions::default()
    };
    let mut log = TxnLog::open(dir.path(), options).unwrap();
    log.append(&some_txn(5)).unwrap();
    assert!(matches!(
        log.append(&some_txn(5)),
        Err(StorageError::ZxidNotIncreasing { zxid: 5, last: 5 })
    ));
    assert!(matches!(
        log.append(&some_txn(4)),
        Err(StorageError::ZxidNotIncreasing { .. })
    ));
    let mut big = some_txn(7);
    if let zk_proto::TxnBody::Create(c) = &mut big.body {
        c.data = Some(vec![0u8; 500].into());
    }
    assert!(matches!(
        log.append(&big),
        Err(StorageError::RecordTooLarge { zxid: 7, .. })
    ));
    // The log is still usable.
    log.append(&some_txn(6)).unwrap();
    log.sync().unwrap();
    assert_eq!(all_txns(dir.path()).len(), 2);
    assert!(TxnLog::open(
        dir.path(),
        TxnLogOptions {
            max_record_size: 0,
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn append_bytes_logs_serialized_entries() {
    let dir = temp_dir("log-bytes");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    let txn = some_txn(2);
    log.append_bytes(&txn.to_bytes()).unwrap();
    assert_eq!(log.last_zxid(), Some(2));
    assert!(log.append_bytes(&[1, 2, 3]).is_err());
    log.sync().unwrap();
    assert_eq!(all_txns(dir.path()), vec![txn]);
}

#[test]
fn reopen_continues_in_a_new_segment_like_apache() {
    let dir = temp_dir("log-reopen");
    {
        let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
        for zxid in 1..=5 {
            log.append(&some_txn(zxid)).unwrap();
        }
        log.sync().unwrap();
        // Appended but never synced or flushed: lost with the process.
        log.append(&some_txn(6)).unwrap();
    }
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    assert_eq!(log.last_zxid(), Some(5));
    assert_eq!(log.synced_zxid(), Some(5));
    log.append(&some_txn(6)).unwrap();
    log.sync().unwrap();
    let names: Vec<i64> = list_segments(&log_dir(dir.path()))
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(names, [1, 6]);
    assert_eq!(all_txns(dir.path()).len(), 6);
}

#[test]
fn open_deletes_an_empty_last_segment() {
    let dir = temp_dir("log-empty-last");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    log.append(&some_txn(1)).unwrap();
    log.sync().unwrap();
    drop(log);
    let ldir = log_dir(dir.path());
    fs::write(ldir.join("log.2"), b"").unwrap();
    fs::write(ldir.join("log.3"), b"ZKLG\0\0").unwrap();
    let log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    assert_eq!(log.last_zxid(), Some(1));
    assert_eq!(list_segments(&ldir).unwrap().len(), 1);
}

#[test]
fn truncate_keeps_txns_up_to_the_zxid() {
    let dir = temp_dir("log-truncate");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    for zxid in 1..=20 {
        log.append(&some_txn(zxid)).unwrap();
        if zxid % 5 == 0 {
            log.sync().unwrap();
            log.roll().unwrap();
        }
    }
    // Unsynced txns are synced first, then cut.
    log.truncate(8).unwrap();
    assert_eq!(log.last_zxid(), Some(8));
    let zxids: Vec<i64> = all_txns(dir.path()).iter().map(|t| t.zxid()).collect();
    assert_eq!(zxids, (1..=8).collect::<Vec<_>>());
    let starts: Vec<i64> = list_segments(&log_dir(dir.path()))
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(starts, [1, 6]);
    // Appending continues after the cut, in a new segment.
    for zxid in 9..=11 {
        log.append(&some_txn(zxid)).unwrap();
    }
    log.sync().unwrap();
    let zxids: Vec<i64> = all_txns(dir.path()).iter().map(|t| t.zxid()).collect();
    assert_eq!(zxids, (1..=11).collect::<Vec<_>>());
    // Truncating at a segment boundary deletes the later segments.
    log.truncate(5).unwrap();
    assert_eq!(all_txns(dir.path()).len(), 5);
    // Truncating below everything empties the log.
    log.truncate(0).unwrap();
    assert_eq!(log.last_zxid(), None);
    assert!(all_txns(dir.path()).is_empty());
    log.append(&some_txn(1)).unwrap();
    log.sync().unwrap();
    assert_eq!(all_txns(dir.path()).len(), 1);
}

#[test]
fn rolled_segment_is_synced_by_the_next_sync() {
    let dir = temp_dir("log-roll-sync");
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    log.append(&some_txn(1)).unwrap();
    log.roll().unwrap();
    log.append(&some_txn(2)).unwrap();
    assert_eq!(log.synced_zxid(), None);
    assert_eq!(log.sync().unwrap(), Some(2));
    assert_eq!(all_txns(dir.path()).len(), 2);
    assert!(log.current_segment().unwrap().ends_with("log.2"));
}
