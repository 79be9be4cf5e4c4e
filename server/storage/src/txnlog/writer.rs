//! [`TxnLog`]: the append side of the txn log — buffered appends, group-commit `sync`, segment
//! rolling, preallocation, and truncation for ZAB's TRUNC.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tracing::{debug, info, warn};
use zk_proto::{Record, TxnHeader};

use super::entry::LoggedTxn;
use super::padding::{calculate_file_size_with_padding, DEFAULT_PREALLOC_SIZE};
use super::reader::{read_segment, SegmentEnd, SegmentReader, Step, DEFAULT_MAX_RECORD_SIZE};
use super::record::{frame, RECORD_OVERHEAD};
use super::segment::list_segments;
use crate::fsutil::{ensure_dir, sync_dir};
use crate::header::{self, FILE_HEADER_LEN};
use crate::layout::{log_dir, log_file_name};
use crate::StorageError;

/// Appended records are handed to the OS once this many bytes are buffered (and at every `sync`).
pub const WRITE_BUFFER_SIZE: usize = 64 * 1024;

/// Whether `sync` fsyncs by default (`zookeeper.forceSync`, default `yes`).
pub const DEFAULT_FORCE_SYNC: bool = true;

/// Options of a [`TxnLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogOptions {
    /// Preallocation step in bytes ([`DEFAULT_PREALLOC_SIZE`]; 0 disables preallocation).
    pub prealloc_size: u64,
    /// fdatasync in [`TxnLog::sync`] (`forceSync`; [`DEFAULT_FORCE_SYNC`]). Without it a crash of
    /// the machine (not just the process) can lose acknowledged txns.
    pub force_sync: bool,
    /// Roll to a new segment after a `sync` leaves the current one larger than this many bytes
    /// (`zookeeper.txnLogSizeLimitInKb`; Apache's default, `None`, rolls only on snapshots).
    pub size_limit: Option<u64>,
    /// Largest txn entry accepted on append and on read ([`DEFAULT_MAX_RECORD_SIZE`]).
    pub max_record_size: usize,
}

impl Default for TxnLogOptions {
    fn default() -> Self {
        TxnLogOptions {
            prealloc_size: DEFAULT_PREALLOC_SIZE,
            force_sync: DEFAULT_FORCE_SYNC,
            size_limit: None,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
        }
    }
}

impl TxnLogOptions {
    /// Checks the options, naming the one that is out of range.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.max_record_size == 0 || self.max_record_size > i32::MAX as usize {
            return Err(StorageError::InvalidOption {
                name: "max_record_size",
                reason: "must be between 1 and i32::MAX",
            });
        }
        if self.size_limit == Some(0) {
            return Err(StorageError::InvalidOption {
                name: "size_limit",
                reason: "must be positive (None disables it)",
            });
        }
        Ok(())
    }
}

/// The segment being appended to.
struct ActiveSegment {
    path: PathBuf,
    file: File,
    /// Bytes handed to the OS.
    written: u64,
    /// Bytes appended but not yet handed to the OS.
    buf: Vec<u8>,
    /// The file's size after preallocation (`FilePadding.currentSize`).
    size: u64,
}

impl ActiveSegment {
    fn end(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn write_out(&mut self) -> Result<(), StorageError> {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .map_err(StorageError::io("writing", &self.path))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

/// The txn log of one server: `log.<zxid>` segments in `<dataLogDir>/version-2`, written as Apache
/// ZooKeeper 3.8's `FileTxnLog` writes them.
///
/// - [`append`](TxnLog::append) buffers; nothing is durable until [`sync`](TxnLog::sync), which
///   writes the buffer and fdatasyncs (group commit: append many txns, sync once, then acknowledge
///   them all).
/// - The first append after [`open`](TxnLog::open), [`roll`](TxnLog::roll) or
///   [`truncate`](TxnLog::truncate) starts a new segment named after its zxid, as Apache does; the
///   server rolls when it starts a snapshot.
/// - Segments are preallocated in [`TxnLogOptions::prealloc_size`] steps (sparse zeros).
/// - Dropping the log discards txns appended since the last `sync`, as a crash would; after an
///   I/O error the log refuses further writes (reopen it to recover).
///
/// ```
/// # fn main() -> Result<(), zk_storage::StorageError> {
/// # let dir = std::env::temp_dir().join(format!("zk-storage-doc-{}", std::process::id()));
/// use zk_proto::records::txn::CreateSessionTxn;
/// use zk_proto::{OpCode, TxnBody, TxnHeader};
/// use zk_storage::{read_txns, LoggedTxn, TxnLog, TxnLogOptions};
///
/// let mut log = TxnLog::open(&dir, TxnLogOptions::default())?;
/// for zxid in 1..=3 {
///     log.append(&LoggedTxn {
///         header: TxnHeader { client_id: 0x100, cxid: 0, zxid, time: 0, txn_type: OpCode::CreateSession.code() },
///         body: TxnBody::CreateSession(CreateSessionTxn { timeout: 30_000 }),
///         digest: None,
///     })?;
/// }
/// log.sync()?; // one fdatasync for all three
/// assert_eq!(read_txns(&dir, 2, zk_storage::DEFAULT_MAX_RECORD_SIZE)?.len(), 2);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
pub struct TxnLog {
    dir: PathBuf,
    options: TxnLogOptions,
    last_zxid: Option<i64>,
    synced_zxid: Option<i64>,
    active: Option<ActiveSegment>,
    /// Rolled segments whose last writes are not yet fsynced (Apache's `streamsToFlush`).
    unsynced: Vec<(PathBuf, File)>,
    /// A segment was created since the last sync, so the directory needs an fsync.
    dir_dirty: bool,
    /// An earlier write or sync failed; the file state is unknown, so nothing more is written.
    poisoned: bool,
}

impl std::fmt::Debug for TxnLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnLog")
            .field("dir", &self.dir)
            .field("last_zxid", &self.last_zxid)
            .field("synced_zxid", &self.synced_zxid)
            .field("segment", &self.active.as_ref().map(|a| &a.path))
            .finish()
    }
}

impl TxnLog {
    /// Opens (creating if needed) the txn log under `<data_log_dir>/version-2` for appending.
    ///
    /// The newest segment is read to find the last zxid. A torn tail there is truncated (and the
    /// truncation fsynced); a newest segment with no txn at all is deleted, as Apache deletes an
    /// empty last log. Corruption followed by valid records is an error.
    pub fn open(data_log_dir: &Path, options: TxnLogOptions) -> Result<Self, StorageError> {
        options.validate()?;
        let dir = log_dir(data_log_dir);
        ensure_dir(&dir)?;
        let mut segments = list_segments(&dir)?;
        let mut last_zxid = None;
        let mut dir_changed = false;
        while let Some((_, path)) = segments.pop() {
            let contents = read_segment(&path, options.max_record_size)?;
            if contents.txns.is_empty() {
                warn!(path = %path.display(), "deleting txn log segment without txns");
                fs::remove_file(&path).map_err(StorageError::io("deleting", &path))?;
                dir_changed = true;
                continue;
            }
            if let SegmentEnd::Torn { reason } = &contents.end {
                warn!(
                    path = %path.display(), offset = contents.valid_len, %reason,
                    "truncating torn tail of txn log"
                );
                truncate_file(&path, contents.valid_len)?;
            }
            last_zxid = contents.txns.last().map(LoggedTxn::zxid);
            break;
        }
        if dir_changed {
            sync_dir(&dir)?;
        }
        info!(dir = %dir.display(), last_zxid = ?last_zxid.map(|z| format!("{z:#x}")), "txn log opened");
        Ok(TxnLog {
            dir,
            options,
            last_zxid,
            synced_zxid: last_zxid,
            active: None,
            unsynced: Vec::new(),
            dir_dirty: false,
            poisoned: false,
        })
    }

    /// The `version-2` directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The zxid of the last appended txn (synced or not); `None` for an empty log.
    pub fn last_zxid(&self) -> Option<i64> {
        self.last_zxid
    }

    /// The zxid of the last txn made durable by [`sync`](TxnLog::sync) (or found at open).
    pub fn synced_zxid(&self) -> Option<i64> {
        self.synced_zxid
    }

    /// The options this log was opened with.
    pub fn options(&self) -> &TxnLogOptions {
        &self.options
    }

    /// The segment being appended to, if one is open.
    pub fn current_segment(&self) -> Option<&Path> {
        self.active.as_ref().map(|a| a.path.as_path())
    }

    /// Appends a txn (buffered; durable after the next [`sync`](TxnLog::sync)). Its zxid must be
    /// above [`last_zxid`](TxnLog::last_zxid).
    pub fn append(&mut self, txn: &LoggedTxn) -> Result<(), StorageError> {
        let mut entry = BytesMut::new();
        txn.write(&mut entry);
        self.append_entry(txn.zxid(), &entry)
    }

    /// Appends an already serialized entry (a [`LoggedTxn::to_bytes`], e.g. from a ZAB proposal).
    /// Its header is decoded for the zxid; the bytes are logged as given.
    pub fn append_bytes(&mut self, entry: &[u8]) -> Result<(), StorageError> {
        let header = TxnHeader::read(&mut Bytes::copy_from_slice(entry))?;
        self.append_entry(header.zxid, entry)
    }

    fn check_usable(&self) -> Result<(), StorageError> {
        if self.poisoned {
            return Err(StorageError::Io {
                op: "appending to (after an earlier failure)",
                path: self.dir.clone(),
                source: std::io::Error::other("txn log failed earlier"),
            });
        }
        Ok(())
    }

    fn append_entry(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        self.check_usable()?;
        if let Some(last) = self.last_zxid {
            if zxid <= last {
                return Err(StorageError::ZxidNotIncreasing { zxid, last });
            }
        }
        if entry.len() > self.options.max_record_size {
            return Err(StorageError::RecordTooLarge {
                zxid,
                len: entry.len(),
                max: self.options.max_record_size,
            });
        }
        let result = self.append_framed(zxid, entry);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn append_framed(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        if self.active.is_none() {
            self.active = Some(self.create_segment(zxid)?);
        }
        let prealloc = self.options.prealloc_size;
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let new_size = calculate_file_size_with_padding(active.end(), active.size, prealloc);
        if new_size != active.size {
            active
                .file
                .set_len(new_size)
                .map_err(StorageError::io("preallocating", &active.path))?;
            active.size = new_size;
        }
        active.buf.reserve(entry.len() + RECORD_OVERHEAD);
        frame(entry, &mut active.buf);
        if active.buf.len() >= WRITE_BUFFER_SIZE {
            active.write_out()?;
        }
        self.last_zxid = Some(zxid);
        Ok(())
    }

    fn create_segment(&mut self, zxid: i64) -> Result<ActiveSegment, StorageError> {
        let path = self.dir.join(log_file_name(zxid));
        info!(path = %path.display(), "creating txn log segment");
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StorageError::io("creating", &path))?;
        self.dir_dirty = true;
        // The header goes to the file before the first preallocation, as Apache flushes it before
        // padding: a crash then leaves a header and zeros (an empty segment), never a
        // preallocated file without a header.
        file.write_all(&header::encode(&header::txnlog_header()))
            .map_err(StorageError::io("writing", &path))?;
        Ok(ActiveSegment {
            path,
            file,
            written: FILE_HEADER_LEN as u64,
            buf: Vec::with_capacity(WRITE_BUFFER_SIZE),
            size: FILE_HEADER_LEN as u64,
        })
    }

    /// Makes every appended txn durable: writes the buffer, fdatasyncs the segments written since
    /// the last sync (when `force_sync`) and the directory if a segment was created. Returns the
    /// last durable zxid. Rolls afterwards if [`TxnLogOptions::size_limit`] is exceeded.
    pub fn sync(&mut self) -> Result<Option<i64>, StorageError> {
        self.check_usable()?;
        let result = self.sync_inner();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn sync_inner(&mut self) -> Result<Option<i64>, StorageError> {
        let pending = self.active.as_ref().is_some_and(|a| !a.buf.is_empty());
        if !pending
            && self.unsynced.is_empty()
            && !self.dir_dirty
            && self.synced_zxid == self.last_zxid
        {
            return Ok(self.synced_zxid);
        }
        let started = Instant::now();
        if let Some(active) = self.active.as_mut() {
            active.write_out()?;
        }
        if self.options.force_sync {
            for (path, file) in &self.unsynced {
                file.sync_data()
                    .map_err(StorageError::io("fsyncing", path))?;
            }
            if let Some(active) = &self.active {
                active
                    .file
                    .sync_data()
                    .map_err(StorageError::io("fsyncing", &active.path))?;
            }
        }
        self.unsynced.clear();
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        self.synced_zxid = self.last_zxid;
        debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "txn log synced"
        );
        if let (Some(limit), Some(active)) = (self.options.size_limit, &self.active) {
            if active.end() > limit {
                debug!(size = active.end(), limit, "txn log size limit reached");
                self.roll()?;
            }
        }
        Ok(self.synced_zxid)
    }

    /// Ends the current segment: the next append starts a new one (`FileTxnLog.rollLog`). Its
    /// buffered txns are written now and fsynced by the next [`sync`](TxnLog::sync).
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.check_usable()?;
        if let Some(mut active) = self.active.take() {
            if let Err(e) = active.write_out() {
                self.poisoned = true;
                return Err(e);
            }
            self.unsynced.push((active.path, active.file));
        }
        Ok(())
    }

    /// Removes every txn with zxid above `zxid` (ZAB's TRUNC; `FileTxnLog.truncate`): the segment
    /// holding `zxid` is cut after it, later segments are deleted. Appended txns are synced first.
    /// The next append starts a new segment.
    ///
    /// Snapshots newer than `zxid` are not touched; the caller decides what to do with them.
    pub fn truncate(&mut self, zxid: i64) -> Result<(), StorageError> {
        self.sync()?;
        self.roll()?;
        self.unsynced.clear();
        let segments = list_segments(&self.dir)?;
        let mut last_kept = None;
        for (start, path) in segments.iter().rev() {
            if *start > zxid {
                info!(path = %path.display(), "truncate: deleting txn log segment");
                fs::remove_file(path).map_err(StorageError::io("deleting", path))?;
                continue;
            }
            let (cut, last) = cut_point(path, zxid, self.options.max_record_size)?;
            if last.is_none() {
                info!(path = %path.display(), "truncate: deleting txn log segment without kept txns");
                fs::remove_file(path).map_err(StorageError::io("deleting", path))?;
                continue;
            }
            info!(path = %path.display(), offset = cut, "truncate: cutting txn log segment");
            truncate_file(path, cut)?;
            last_kept = last;
            break;
        }
        sync_dir(&self.dir)?;
        self.last_zxid = last_kept;
        self.synced_zxid = last_kept;
        Ok(())
    }
}

/// The offset just past the last record with zxid <= `zxid` in a segment, and that zxid.
fn cut_point(
    path: &Path,
    zxid: i64,
    max_record_size: usize,
) -> Result<(u64, Option<i64>), StorageError> {
    let mut reader = SegmentReader::open(path, max_record_size)?;
    let mut cut = FILE_HEADER_LEN as u64;
    let mut last = None;
    loop {
        match reader.step()? {
            Step::Txn { txn, end, .. } if txn.zxid() <= zxid => {
                cut = end;
                last = Some(txn.zxid());
            }
            Step::Txn { .. } | Step::End { .. } => return Ok((cut, last)),
        }
    }
}

/// Cuts a file to `len` bytes and makes that durable.
fn truncate_file(path: &Path, len: u64) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(StorageError::io("opening", path))?;
    file.set_len(len)
        .map_err(StorageError::io("truncating", path))?;
    file.sync_all().map_err(StorageError::io("fsyncing", path))
}
