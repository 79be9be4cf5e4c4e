//! Reading segments: record by record with bounded memory, telling a torn tail from corruption.
//!
//! A segment ends at the first record that cannot be read whole: end of file, the zero length of
//! the preallocated padding, a length past the end of the file or above the maximum record size,
//! a missing `'B'` marker, or a checksum mismatch. What happens next depends on what follows it:
//! - if no complete, checksum-valid record starts anywhere after it, the segment has a **torn
//!   tail** (a crash during a write, or just padding): reading ends cleanly there, and
//!   [`TxnLog::open`](crate::TxnLog::open) truncates the garbage;
//! - if a valid record follows, acknowledged data lies beyond the damage: that is
//!   [`StorageError::CorruptLog`], naming the file and the damaged record's offset.
//!
//! A record whose checksum matches but whose txn does not decode is always `CorruptLog` (a torn
//! write cannot produce a matching checksum).
//!
//! Memory: one record at a time, its length checked against the bytes left in the file and the
//! maximum record size before anything is allocated. Only after damage is found is the rest of the
//! file (up to its last non-zero byte) loaded to look for later records.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tracing::{debug, warn};

use super::entry::LoggedTxn;
use super::record::{parse_prefix, valid_record_at, END_OF_RECORD, RECORD_PREFIX};
use super::segment::{list_segments, segments_from};
use crate::header::{self, FILE_HEADER_LEN, TXNLOG_MAGIC};
use crate::layout::log_dir;
use crate::{Adler32, StorageError};

/// The largest record entry readers accept by default: jute.maxbuffer plus its default extra
/// size, which Apache's `BinaryInputArchive.checkLength` allows (0xfffff + 0xfffff bytes).
pub const DEFAULT_MAX_RECORD_SIZE: usize =
    zk_proto::DEFAULT_JUTE_MAXBUFFER + zk_proto::DEFAULT_JUTE_MAXBUFFER;

/// Read-buffer size for segments.
const READ_BUFFER_SIZE: usize = 64 * 1024;

/// Zeros to compare tail chunks against.
static ZEROS: [u8; READ_BUFFER_SIZE] = [0; READ_BUFFER_SIZE];

/// How a segment's readable part ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEnd {
    /// The file ends right after the last record.
    Eof,
    /// The rest of the file is zero padding (Apache's preallocation).
    Padding,
    /// The rest of the file is a partial or damaged record with nothing valid behind it.
    Torn {
        /// Why the first unreadable record was rejected.
        reason: String,
    },
    /// The file is shorter than its 16-byte header, or its header is all zeros: it was being
    /// created when the writer died, and holds nothing.
    TornHeader,
}

/// What a whole segment holds.
#[derive(Debug, Clone)]
pub struct SegmentContents {
    /// Its txns, in file order.
    pub txns: Vec<LoggedTxn>,
    /// Byte offset just past the last valid record (16, the header, when there is none).
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// How the readable part ends.
    pub end: SegmentEnd,
}

/// One step of a [`SegmentReader`].
#[derive(Debug)]
pub(crate) enum Step {
    /// A txn whose record starts at `offset` and ends just before `end`.
    Txn {
        offset: u64,
        end: u64,
        txn: LoggedTxn,
    },
    /// No more records; the valid part ends at `valid_len`.
    End { valid_len: u64, end: SegmentEnd },
}

/// Reads one segment record by record.
pub(crate) struct SegmentReader {
    path: PathBuf,
    file: BufReader<File>,
    file_len: u64,
    pos: u64,
    max_record_size: usize,
    finished: bool,
    /// The header is all zeros.
    header_missing: bool,
}

impl SegmentReader {
    /// Opens a segment and checks its header. A file shorter than the header yields a reader that
    /// ends at once with [`SegmentEnd::TornHeader`].
    pub(crate) fn open(path: &Path, max_record_size: usize) -> Result<Self, StorageError> {
        let file = File::open(path).map_err(StorageError::io("opening", path))?;
        let file_len = file
            .metadata()
            .map_err(StorageError::io("reading metadata of", path))?
            .len();
        let mut reader = SegmentReader {
            path: path.to_path_buf(),
            file: BufReader::with_capacity(buffer_size(file_len), file),
            file_len,
            pos: 0,
            max_record_size,
            finished: false,
            header_missing: false,
        };
        if file_len >= FILE_HEADER_LEN as u64 {
            let mut raw = [0u8; FILE_HEADER_LEN];
            reader.read_exact(&mut raw)?;
            if raw == [0u8; FILE_HEADER_LEN] {
                // Created and extended, but the header never reached the disk. This crate and
                // Apache write the header first, so such a file is only harmless if it is all
                // zeros; anything else is damage.
                let tail = examine_tail(reader.file.get_mut(), path, 0, file_len, max_record_size)?;
                if !tail.all_zero {
                    return Err(StorageError::BadHeader {
                        path: path.to_path_buf(),
                        reason: "the header is all zeros but the file holds data".into(),
                    });
                }
                reader.header_missing = true;
            } else {
                header::decode(&raw, TXNLOG_MAGIC, path)?;
            }
        }
        Ok(reader)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), StorageError> {
        self.file
            .read_exact(buf)
            .map_err(StorageError::io("reading", &self.path))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// The next txn, or how the segment ends.
    pub(crate) fn step(&mut self) -> Result<Step, StorageError> {
        if self.finished {
            return Ok(Step::End {
                valid_len: self.pos,
                end: SegmentEnd::Eof,
            });
        }
        if self.file_len < FILE_HEADER_LEN as u64 || self.header_missing {
            self.finished = true;
            return Ok(Step::End {
                valid_len: 0,
                end: SegmentEnd::TornHeader,
            });
        }
        let start = self.pos;
        let remaining = self.file_len - start;
        if remaining == 0 {
            self.finished = true;
            return Ok(Step::End {
                valid_len: start,
                end: SegmentEnd::Eof,
            });
        }
        if remaining < RECORD_PREFIX as u64 {
            return self.damaged(start, "partial record header".into());
        }
        let mut prefix = [0u8; RECORD_PREFIX];
        self.read_exact(&mut prefix)?;
        let (checksum, len) = parse_prefix(&prefix);
        if len == 0 {
            return self.damaged(start, "zero length (padding)".into());
        }
        if len < 0 {
            return self.damaged(start, format!("negative record length {len}"));
        }
        let len = len as usize;
        if len > self.max_record_size {
            return self.damaged(
                start,
                format!(
                    "record length {len} exceeds the maximum {}",
                    self.max_record_size
                ),
            );
        }
        if len as u64 + 1 > remaining - RECORD_PREFIX as u64 {
            return self.damaged(
                start,
                format!(
                    "record of {len} bytes runs past the end of the file ({} bytes left)",
                    remaining - RECORD_PREFIX as u64
                ),
            );
        }
        let mut entry = vec![0u8; len];
        self.read_exact(&mut entry)?;
        let mut marker = [0u8; 1];
        self.read_exact(&mut marker)?;
        if marker[0] != END_OF_RECORD {
            return self.damaged(
                start,
                format!("end-of-record marker is {:#04x}, not 'B'", marker[0]),
            );
        }
        let computed = i64::from(Adler32::checksum(&entry));
        if computed != checksum {
            return self.damaged(
                start,
                format!("checksum mismatch: stored {checksum:#x}, computed {computed:#x}"),
            );
        }
        let txn = LoggedTxn::decode(Bytes::from(entry)).map_err(|e| {
            self.finished = true;
            StorageError::CorruptLog {
                path: self.path.clone(),
                offset: start,
                reason: format!("checksum is valid but the txn does not decode: {e}"),
            }
        })?;
        Ok(Step::Txn {
            offset: start,
            end: self.pos,
            txn,
        })
    }

    /// The record at `offset` cannot be read: decide between torn tail and corruption.
    fn damaged(&mut self, offset: u64, reason: String) -> Result<Step, StorageError> {
        self.finished = true;
        let tail = examine_tail(
            self.file.get_mut(),
            &self.path,
            offset,
            self.file_len,
            self.max_record_size,
        )?;
        if let Some(later) = tail.valid_record_at {
            return Err(StorageError::CorruptLog {
                path: self.path.clone(),
                offset,
                reason: format!("{reason}; a valid record follows at byte offset {later}"),
            });
        }
        let end = if tail.all_zero {
            SegmentEnd::Padding
        } else {
            debug!(path = %self.path.display(), offset, %reason, "torn tail");
            SegmentEnd::Torn { reason }
        };
        Ok(Step::End {
            valid_len: offset,
            end,
        })
    }
}

/// What lies after a damaged record.
struct Tail {
    /// Every byte from the damaged record to the end of the file is zero.
    all_zero: bool,
    /// Offset of a complete, checksum-valid record after the damaged one, if any.
    valid_record_at: Option<u64>,
}

/// Looks at `[offset, file_len)`: is it all zeros, and does a valid record start after `offset`?
fn examine_tail(
    file: &mut File,
    path: &Path,
    offset: u64,
    file_len: u64,
    max_record_size: usize,
) -> Result<Tail, StorageError> {
    // Pass 1, constant memory: the first non-zero byte after `offset` and the last non-zero byte.
    let mut first_nonzero_after: Option<u64> = None;
    let mut last_nonzero: Option<u64> = None;
    let mut any_nonzero = false;
    file.seek(SeekFrom::Start(offset))
        .map_err(StorageError::io("seeking", path))?;
    let mut chunk = vec![0u8; buffer_size(file_len.saturating_sub(offset))];
    let mut at = offset;
    while at < file_len {
        let want = chunk.len().min((file_len - at) as usize);
        let got = read_some(file, &mut chunk[..want]).map_err(StorageError::io("reading", path))?;
        if got == 0 {
            break;
        }
        let data = &chunk[..got];
        // Slice equality is a memcmp: fast over the long zero runs of preallocated segments.
        if data != &ZEROS[..got] {
            any_nonzero = true;
            // Non-zero bytes other than at `offset` itself.
            let skip = if at == offset { 1 } else { 0 };
            if first_nonzero_after.is_none() {
                if let Some(i) = data.iter().skip(skip).position(|&b| b != 0) {
                    first_nonzero_after = Some(at + (i + skip) as u64);
                }
            }
            if let Some(i) = data.iter().rposition(|&b| b != 0) {
                last_nonzero = Some(at + i as u64);
            }
        }
        at += got as u64;
    }
    drop(chunk);
    let (Some(first), Some(last)) = (first_nonzero_after, last_nonzero) else {
        return Ok(Tail {
            all_zero: !any_nonzero,
            valid_record_at: None,
        });
    };
    // A valid record's checksum long has a non-zero low half (Adler-32 >= 1), so it starts at most
    // 7 bytes before its first non-zero byte; it ends with 'B', so at or before `last`.
    let scan_start = (offset + 1).max(first.saturating_sub(7));
    let scan_end = last + 1;
    if scan_start >= scan_end {
        return Ok(Tail {
            all_zero: false,
            valid_record_at: None,
        });
    }
    // Pass 2: load the region (bounded by the file size) and try every offset in it.
    let len = (scan_end - scan_start) as usize;
    let mut region = vec![0u8; len];
    file.seek(SeekFrom::Start(scan_start))
        .map_err(StorageError::io("seeking", path))?;
    file.read_exact(&mut region)
        .map_err(StorageError::io("reading", path))?;
    let found = (0..len)
        .find(|&i| valid_record_at(&region, i, max_record_size))
        .map(|i| scan_start + i as u64);
    Ok(Tail {
        all_zero: false,
        valid_record_at: found,
    })
}

/// A buffer of [`READ_BUFFER_SIZE`], or less for a smaller file.
fn buffer_size(len: u64) -> usize {
    (len.max(1) as usize).min(READ_BUFFER_SIZE)
}

fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads a whole segment file.
pub fn read_segment(path: &Path, max_record_size: usize) -> Result<SegmentContents, StorageError> {
    let mut reader = SegmentReader::open(path, max_record_size)?;
    let mut txns = Vec::new();
    loop {
        match reader.step()? {
            Step::Txn { txn, .. } => txns.push(txn),
            Step::End { valid_len, end } => {
                return Ok(SegmentContents {
                    txns,
                    valid_len,
                    file_len: reader.file_len,
                    end,
                })
            }
        }
    }
}

/// Iterates the txns of a txn log directory from a zxid on, across segments, oldest first (the
/// same txns Apache's `FileTxnIterator` yields). Created by [`TxnIter::new`] or [`read_txns`].
pub struct TxnIter {
    segments: VecDeque<PathBuf>,
    current: Option<SegmentReader>,
    from_zxid: i64,
    last_zxid: Option<i64>,
    max_record_size: usize,
    failed: bool,
}

impl TxnIter {
    /// Iterates the txns with zxid >= `from_zxid` in `<data_log_dir>/version-2`.
    pub fn new(
        data_log_dir: &Path,
        from_zxid: i64,
        max_record_size: usize,
    ) -> Result<Self, StorageError> {
        let segments = list_segments(&log_dir(data_log_dir))?;
        let segments = segments_from(&segments, from_zxid)
            .iter()
            .map(|(_, path)| path.clone())
            .collect();
        Ok(TxnIter {
            segments,
            current: None,
            from_zxid,
            last_zxid: None,
            max_record_size,
            failed: false,
        })
    }

    fn advance(&mut self) -> Result<Option<LoggedTxn>, StorageError> {
        loop {
            let reader = match &mut self.current {
                Some(reader) => reader,
                None => match self.segments.pop_front() {
                    None => return Ok(None),
                    Some(path) => self
                        .current
                        .insert(SegmentReader::open(&path, self.max_record_size)?),
                },
            };
            match reader.step()? {
                Step::Txn { txn, offset, .. } => {
                    let zxid = txn.zxid();
                    if let Some(last) = self.last_zxid {
                        if zxid <= last {
                            // Apache logs this and replays the txn anyway.
                            warn!(
                                path = %reader.path.display(), offset,
                                zxid = format_args!("{zxid:#x}"), last = format_args!("{last:#x}"),
                                "txn log zxids go backwards"
                            );
                        }
                    }
                    self.last_zxid = Some(zxid);
                    if zxid >= self.from_zxid {
                        return Ok(Some(txn));
                    }
                }
                Step::End { end, valid_len } => {
                    if let SegmentEnd::Torn { reason } = &end {
                        warn!(path = %reader.path.display(), offset = valid_len, %reason, "txn log segment has a torn tail");
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl Iterator for TxnIter {
    type Item = Result<LoggedTxn, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(txn) => txn.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// All txns with zxid >= `from_zxid` in `<data_log_dir>/version-2`, oldest first.
///
/// Torn tails end their segment silently (with a warning); corruption followed by valid records is
/// an error naming the file and offset.
pub fn read_txns(
    data_log_dir: &Path,
    from_zxid: i64,
    max_record_size: usize,
) -> Result<Vec<LoggedTxn>, StorageError> {
    TxnIter::new(data_log_dir, from_zxid, max_record_size)?.collect()
}
