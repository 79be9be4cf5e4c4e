//! Crash damage in the txn log: a torn last record ends the log cleanly (and is truncated when the
//! log is reopened); damage followed by valid records is an error naming the file and offset.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{some_txn, temp_dir};
use zk_storage::layout::log_dir;
use zk_storage::{
    read_segment, read_txns, recover_with, LoggedTxn, RecoverOptions, SegmentEnd, StorageError,
    TxnLog, TxnLogOptions, DEFAULT_MAX_RECORD_SIZE,
};

const TXNS: i64 = 6;

/// Writes txns 1..=TXNS without preallocation; returns the segment and each record's end offset.
fn write_log(dir: &Path) -> (PathBuf, Vec<LoggedTxn>, Vec<u64>) {
    let options = TxnLogOptions {
        prealloc_size: 0,
        ..TxnLogOptions::default()
    };
    let mut log = TxnLog::open(dir, options).unwrap();
    let mut txns = Vec::new();
    let mut ends = vec![16u64];
    for zxid in 1..=TXNS {
        let txn = some_txn(zxid);
        let len = txn.to_bytes().len() as u64;
        ends.push(ends.last().unwrap() + 13 + len);
        log.append(&txn).unwrap();
        txns.push(txn);
    }
    log.sync().unwrap();
    (log_dir(dir).join("log.1"), txns, ends)
}

#[test]
fn truncation_at_every_offset_of_the_last_record_reads_the_earlier_txns() {
    let dir = temp_dir("torn-every-offset");
    let (seg, txns, ends) = write_log(dir.path());
    let full = fs::read(&seg).unwrap();
    let last_start = ends[ends.len() - 2];
    assert_eq!(full.len() as u64, ends[ends.len() - 1]);
    for cut in last_start..full.len() as u64 {
        fs::write(&seg, &full[..cut as usize]).unwrap();
        let read = read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE)
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(read, txns[..txns.len() - 1], "cut at {cut}");
        let contents = read_segment(&seg, DEFAULT_MAX_RECORD_SIZE).unwrap();
        assert_eq!(contents.valid_len, last_start, "cut at {cut}");
        let tail = &full[last_start as usize..cut as usize];
        let expected = if cut == last_start {
            "eof"
        } else if tail.iter().all(|&b| b == 0) {
            // Only the zero high half of the checksum made it: indistinguishable from padding.
            "padding"
        } else {
            "torn"
        };
        let got = match contents.end {
            SegmentEnd::Eof => "eof",
            SegmentEnd::Padding => "padding",
            SegmentEnd::Torn { .. } => "torn",
            SegmentEnd::TornHeader => "torn header",
        };
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn truncation_inside_any_record_keeps_the_records_before_it() {
    let dir = temp_dir("torn-any-record");
    let (seg, txns, ends) = write_log(dir.path());
    let full = fs::read(&seg).unwrap();
    for cut in 16..full.len() {
        fs::write(&seg, &full[..cut]).unwrap();
        let complete = ends.iter().skip(1).filter(|&&e| e <= cut as u64).count();
        let read = read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap();
        assert_eq!(read, txns[..complete], "cut at {cut}");
    }
}

#[test]
fn reopening_truncates_a_torn_tail_and_appends_after_it() {
    let dir = temp_dir("torn-reopen");
    let (seg, txns, ends) = write_log(dir.path());
    let full = fs::read(&seg).unwrap();
    let last_start = ends[ends.len() - 2] as usize;
    // A crash mid-write: half the last record, then the rest of a preallocated block.
    let mut torn = full[..last_start + 9].to_vec();
    torn.resize(full.len() + 4096, 0);
    fs::write(&seg, &torn).unwrap();
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    assert_eq!(log.last_zxid(), Some(TXNS - 1));
    assert_eq!(fs::metadata(&seg).unwrap().len(), last_start as u64);
    log.append(&some_txn(TXNS)).unwrap();
    log.sync().unwrap();
    let read = read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap();
    assert_eq!(read, txns);
}

#[test]
fn zero_padding_after_the_last_record_is_a_clean_end() {
    let dir = temp_dir("torn-padding");
    let (seg, txns, _) = write_log(dir.path());
    let mut padded = fs::read(&seg).unwrap();
    padded.resize(padded.len() + 100_000, 0);
    fs::write(&seg, &padded).unwrap();
    let contents = read_segment(&seg, DEFAULT_MAX_RECORD_SIZE).unwrap();
    assert_eq!(contents.end, SegmentEnd::Padding);
    assert_eq!(contents.txns, txns);
    // Opening leaves padding alone (it is not garbage).
    TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    assert_eq!(fs::metadata(&seg).unwrap().len(), padded.len() as u64);
}

fn expect_corrupt(dir: &Path, seg: &Path, offset: u64) {
    let err = read_txns(dir, 0, DEFAULT_MAX_RECORD_SIZE).unwrap_err();
    match &err {
        StorageError::CorruptLog {
            path, offset: at, ..
        } => {
            assert_eq!(path, seg);
            assert_eq!(*at, offset);
        }
        other => panic!("expected CorruptLog, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("log.1"), "{text}");
    assert!(text.contains(&format!("byte offset {offset}")), "{text}");
    // Opening for append and recovery refuse too.
    assert!(TxnLog::open(dir, TxnLogOptions::default()).is_err());
    let options = RecoverOptions {
        trust_empty_snapshot: true,
        ..RecoverOptions::default()
    };
    assert!(matches!(
        recover_with(dir, dir, &options),
        Err(StorageError::CorruptLog { .. })
    ));
}

#[test]
fn bad_checksum_in_the_middle_names_file_and_offset() {
    let dir = temp_dir("corrupt-crc");
    let (seg, _, ends) = write_log(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let victim = ends[2] as usize; // third record
    bytes[victim + 7] ^= 0x01;
    fs::write(&seg, &bytes).unwrap();
    expect_corrupt(dir.path(), &seg, victim as u64);
}

#[test]
fn damage_anywhere_in_a_middle_record_is_an_error() {
    let dir = temp_dir("corrupt-any-byte");
    let (seg, _, ends) = write_log(dir.path());
    let clean = fs::read(&seg).unwrap();
    let (start, end) = (ends[2] as usize, ends[3] as usize);
    for at in start..end {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bytes = clean.clone();
            bytes[at] ^= flip;
            fs::write(&seg, &bytes).unwrap();
            match read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE) {
                Err(StorageError::CorruptLog { offset, .. }) => {
                    assert_eq!(offset, start as u64, "byte {at} ^ {flip:#x}")
                }
                other => panic!("byte {at} ^ {flip:#x}: expected CorruptLog, got {other:?}"),
            }
        }
    }
}

#[test]
fn zeroed_record_in_the_middle_is_an_error() {
    let dir = temp_dir("corrupt-zeroed");
    let (seg, _, ends) = write_log(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let (start, end) = (ends[1] as usize, ends[2] as usize);
    bytes[start..end].fill(0);
    fs::write(&seg, &bytes).unwrap();
    expect_corrupt(dir.path(), &seg, start as u64);
}

#[test]
fn garbage_tail_without_valid_records_is_torn() {
    let dir = temp_dir("torn-garbage");
    let (seg, txns, _) = write_log(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let garbage: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes.extend_from_slice(&garbage);
    fs::write(&seg, &bytes).unwrap();
    assert_eq!(
        read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap(),
        txns
    );
    let contents = read_segment(&seg, DEFAULT_MAX_RECORD_SIZE).unwrap();
    assert!(matches!(contents.end, SegmentEnd::Torn { .. }));
}

#[test]
fn torn_tail_of_an_older_segment_is_tolerated() {
    // Apache never truncates: after a crash it starts a new segment and leaves the torn one.
    let dir = temp_dir("torn-older");
    let (seg, txns, ends) = write_log(dir.path());
    let full = fs::read(&seg).unwrap();
    let cut = ends[ends.len() - 2] as usize + 5;
    fs::write(&seg, &full[..cut]).unwrap();
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    log.append(&txns[txns.len() - 1]).unwrap();
    log.sync().unwrap();
    drop(log);
    // Re-tear the old segment, as a crash before our truncation would have left it.
    fs::write(&seg, &full[..cut]).unwrap();
    assert_eq!(
        read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap(),
        txns
    );
}

#[test]
fn bad_magic_is_an_error() {
    let dir = temp_dir("bad-magic");
    let (seg, _, _) = write_log(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    bytes[..4].copy_from_slice(b"ZKSN");
    fs::write(&seg, &bytes).unwrap();
    let err = read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap_err();
    assert!(matches!(err, StorageError::BadHeader { .. }), "{err}");
}

#[test]
fn preallocated_segment_without_header_is_empty_unless_it_holds_data() {
    let dir = temp_dir("torn-no-header");
    let (seg, txns, _) = write_log(dir.path());
    // A crash right after creating and extending a new segment.
    let next = log_dir(dir.path()).join("log.7");
    fs::write(&next, vec![0u8; 100_000]).unwrap();
    assert_eq!(
        read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE).unwrap(),
        txns
    );
    let log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    assert_eq!(log.last_zxid(), Some(TXNS));
    assert!(!next.exists(), "the empty segment is deleted on open");
    drop(log);
    // A zeroed header in front of real records is damage, not an empty segment.
    let mut bytes = fs::read(&seg).unwrap();
    bytes[..16].fill(0);
    fs::write(&seg, &bytes).unwrap();
    assert!(matches!(
        read_txns(dir.path(), 0, DEFAULT_MAX_RECORD_SIZE),
        Err(StorageError::BadHeader { .. })
    ));
    assert!(TxnLog::open(dir.path(), TxnLogOptions::default()).is_err());
    assert!(seg.exists());
}
