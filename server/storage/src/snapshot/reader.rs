//! Reading snapshots: a streaming, validating [`SnapshotReader`], and the newest-valid-snapshot
//! search Apache does at startup (`FileSnap.deserialize`, `SnapStream.isValidSnapshot`).
//!
//! Every length is checked against the bytes left in the file and the maximum record size before
//! anything is allocated, and every count against the smallest encoding of its elements, so a
//! damaged or hostile file costs at most its own size in memory.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tracing::{info, warn};
use zk_proto::records::acl::Id;
use zk_proto::{Acl, Record, StatPersisted};

use super::acl::OPEN_UNSAFE_ACL_ID;
use super::writer::TERMINATOR;
use super::{list_snapshots, SnapNode, SnapshotData, ZxidDigest};
use crate::header::{self, FILE_HEADER_LEN, SNAP_MAGIC};
use crate::layout::{list_matching, snap_dir, SNAPSHOT_FILE_PREFIX};
use crate::{Adler32, StorageError, DEFAULT_MAX_RECORD_SIZE};

/// How many of the newest snapshots are tried before giving up (`FileSnap.deserialize` tries 100).
pub const MAX_SNAPSHOTS_TRIED: usize = 100;

/// The last five bytes of every complete snapshot: the ustring `"/"` (length 1, then `/`), which
/// `SnapStream.isValidCheckedStream` checks before parsing.
pub const SNAPSHOT_SEAL: [u8; 5] = [0, 0, 0, 1, b'/'];

/// Read-buffer size of the snapshot reader.
const READ_BUFFER_SIZE: usize = 256 * 1024;

/// Encoded size of a [`StatPersisted`].
const STAT_PERSISTED_LEN: usize = 4 * 8 + 3 * 4 + 2 * 8;

/// Smallest encodings, bounding counts by the bytes left: a session (long + int), an ACL cache
/// entry (long + empty vector), an ACL (int + two empty strings).
const MIN_SESSION_LEN: u64 = 12;
const MIN_ACL_ENTRY_LEN: u64 = 12;
const MIN_ACL_LEN: u64 = 12;

/// A snapshot file being read, with the running Adler-32 of what was read (`CheckedInputStream`).
struct CheckedInput {
    path: PathBuf,
    input: BufReader<File>,
    adler: Adler32,
    pos: u64,
    file_len: u64,
    max_record_size: usize,
}

impl CheckedInput {
    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> StorageError {
        StorageError::CorruptSnapshot {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), StorageError> {
        if (buf.len() as u64) > self.remaining() {
            return Err(self.corrupt(self.pos, format!("truncated in {what}")));
        }
        self.input
            .read_exact(buf)
            .map_err(StorageError::io("reading", &self.path))?;
        self.adler.update(buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn read_i32(&mut self, what: &str) -> Result<i32, StorageError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b, what)?;
        Ok(i32::from_be_bytes(b))
    }

    fn read_i64(&mut self, what: &str) -> Result<i64, StorageError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    /// A buffer or string length: `None` for -1 (null); an error if negative otherwise, above the
    /// maximum record size, or longer than the rest of the file.
    fn read_len(&mut self, what: &str) -> Result<Option<usize>, StorageError> {
        let at = self.pos;
        let len = self.read_i32(what)?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_record_size || len as u64 > self.remaining() {
            return Err(self.corrupt(at, format!("invalid length {len} for {what}")));
        }
        Ok(Some(len as usize))
    }

    fn read_bytes(&mut self, len: usize, what: &str) -> Result<Vec<u8>, StorageError> {
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf, what)?;
        Ok(buf)
    }

    fn read_buffer(&mut self, what: &str) -> Result<Option<Bytes>, StorageError> {
        match self.read_len(what)? {
            None => Ok(None),
            Some(len) => Ok(Some(Bytes::from(self.read_bytes(len, what)?))),
        }
    }

    /// A ustring; null reads as `""` and invalid UTF-8 is replaced, as Java's `new String(bytes,
    /// UTF_8)` in `BinaryInputArchive.readString` does.
    fn read_string(&mut self, what: &str) -> Result<String, StorageError> {
        match self.read_len(what)? {
            None => Ok(String::new()),
            Some(len) => {
                let raw = self.read_bytes(len, what)?;
                Ok(match String::from_utf8(raw) {
                    Ok(s) => s,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                })
            }
        }
    }

    /// A count whose elements take at least `min_len` bytes each; negative counts read as 0, as
    /// Apache's `while (count > 0)` loops do.
    fn read_count(&mut self, min_len: u64, what: &str) -> Result<usize, StorageError> {
        let at = self.pos;
        let count = self.read_i32(what)?;
        if count <= 0 {
            return Ok(0);
        }
        if count as u64 > self.remaining() / min_len {
            return Err(self.corrupt(at, format!("{what} {count} exceeds what the file can hold")));
        }
        Ok(count as usize)
    }

    /// `SnapStream.checkSealIntegrity`: the checksum of everything before it, then a ustring.
    fn check_seal(&mut self, which: &str) -> Result<(), StorageError> {
        let at = self.pos;
        let expected = i64::from(self.adler.value());
        let stored = self.read_i64(which)?;
        let slash_at = self.pos;
        let slash = self.read_string(which)?;
        if slash != TERMINATOR {
            return Err(self.corrupt(slash_at, format!("{which}: {slash:?} instead of \"/\"")));
        }
        if stored != expected {
            return Err(self.corrupt(
                at,
                format!("{which}: checksum mismatch: stored {stored:#x}, computed {expected:#x}"),
            ));
        }
        Ok(())
    }
}

/// Where a [`SnapshotReader`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Nodes,
    NodesDone,
    Finished,
}

/// Streams a snapshot: header, sessions and ACL cache on [`open`](SnapshotReader::open), then nodes
/// one by one, then the seals and digest on [`finish`](SnapshotReader::finish). The data is only
/// known to be intact once `finish` succeeds.
pub struct SnapshotReader {
    input: CheckedInput,
    zxid: Option<i64>,
    sessions: Vec<(i64, i32)>,
    acls: HashMap<i64, Arc<[Acl]>>,
    open_unsafe: Arc<[Acl]>,
    seen: HashSet<u64>,
    hasher: RandomState,
    nodes: u64,
    stage: Stage,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("path", &self.input.path)
            .field("offset", &self.input.pos)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl SnapshotReader {
    /// Opens a snapshot and reads its header, sessions and ACL cache.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_with(path, DEFAULT_MAX_RECORD_SIZE)
    }

    /// [`open`](SnapshotReader::open) with a maximum length for any one buffer or string.
    pub fn open_with(path: &Path, max_record_size: usize) -> Result<Self, StorageError> {
        let file = File::open(path).map_err(StorageError::io("opening", path))?;
        let file_len = file
            .metadata()
            .map_err(StorageError::io("reading metadata of", path))?
            .len();
        let mut input = CheckedInput {
            path: path.to_path_buf(),
            input: BufReader::with_capacity((file_len.max(1) as usize).min(READ_BUFFER_SIZE), file),
            adler: Adler32::new(),
            pos: 0,
            file_len,
            max_record_size,
        };
        let mut raw = [0u8; FILE_HEADER_LEN];
        input
            .read_exact(&mut raw, "file header")
            .map_err(|_| StorageError::BadHeader {
                path: path.to_path_buf(),
                reason: format!("file of {file_len} bytes is shorter than a header"),
            })?;
        header::decode(&raw, SNAP_MAGIC, path)?;

        // Counts are checked against the file, but nothing is reserved from them: decoded
        // elements are larger than their encodings.
        let count = input.read_count(MIN_SESSION_LEN, "session count")?;
        let mut sessions = Vec::new();
        for _ in 0..count {
            let id = input.read_i64("session id")?;
            let timeout = input.read_i32("session timeout")?;
            sessions.push((id, timeout));
        }

        let count = input.read_count(MIN_ACL_ENTRY_LEN, "ACL cache size")?;
        let mut acls = HashMap::new();
        for _ in 0..count {
            let id = input.read_i64("ACL cache id")?;
            let at = input.pos;
            let len = input.read_i32("ACL list length")?;
            if len < 0 {
                // ReferenceCountedACLCache.deserialize: "missing acls".
                return Err(input.corrupt(at, format!("ACL list {id} has length {len}")));
            }
            if len as u64 > input.remaining() / MIN_ACL_LEN {
                return Err(input.corrupt(at, format!("ACL list length {len} exceeds the file")));
            }
            let mut list = Vec::new();
            for _ in 0..len {
                let perms = input.read_i32("ACL perms")?;
                let scheme = input.read_string("ACL scheme")?;
                let id = input.read_string("ACL id")?;
                list.push(Acl::new(perms, Id::new(scheme, id)));
            }
            acls.insert(id, Arc::from(list));
        }
        Ok(SnapshotReader {
            zxid: snapshot_zxid(path),
            input,
            sessions,
            acls,
            open_unsafe: Arc::from(Acl::open_unsafe()),
            seen: HashSet::new(),
            hasher: RandomState::new(),
            nodes: 0,
            stage: Stage::Nodes,
        })
    }

    /// The zxid in the file name, if it is named `snapshot.<hex>`.
    pub fn zxid(&self) -> Option<i64> {
        self.zxid
    }

    /// The sessions (id, timeout ms).
    pub fn sessions(&self) -> &[(i64, i32)] {
        &self.sessions
    }

    /// Takes the sessions out of the reader.
    pub fn take_sessions(&mut self) -> Vec<(i64, i32)> {
        std::mem::take(&mut self.sessions)
    }

    /// The next node, or `None` after the last. Nodes come parent first; the root is `"/"`.
    pub fn next_node(&mut self) -> Result<Option<SnapNode>, StorageError> {
        if self.stage != Stage::Nodes {
            return Ok(None);
        }
        let at = self.input.pos;
        let path = self.input.read_string("node path")?;
        if path == TERMINATOR {
            if self.nodes == 0 {
                return Err(self.input.corrupt(at, "no root node"));
            }
            self.stage = Stage::NodesDone;
            return Ok(None);
        }
        let data = self.input.read_buffer("node data")?;
        let acl_at = self.input.pos;
        let acl_id = self.input.read_i64("node ACL id")?;
        let mut raw = [0u8; STAT_PERSISTED_LEN];
        self.input.read_exact(&mut raw, "node stat")?;
        let stat = StatPersisted::read(&mut Bytes::copy_from_slice(&raw))
            .map_err(|e| self.input.corrupt(acl_at, e.to_string()))?;
        let acl = if acl_id == OPEN_UNSAFE_ACL_ID {
            Arc::clone(&self.open_unsafe)
        } else {
            match self.acls.get(&acl_id) {
                Some(list) => Arc::clone(list),
                None => {
                    return Err(self.input.corrupt(
                        acl_at,
                        format!("node {path:?} refers to unknown ACL {acl_id}"),
                    ))
                }
            }
        };
        let path = self.check_tree(path, at)?;
        self.nodes += 1;
        Ok(Some(SnapNode {
            path,
            data,
            acl,
            stat,
        }))
    }

    /// Checks that the root comes first and every other node after its parent
    /// (`DataTree.deserialize`: "Invalid Datatree, unable to find parent"); maps `""` to `"/"`.
    fn check_tree(&mut self, path: String, at: u64) -> Result<String, StorageError> {
        if self.nodes == 0 {
            if !path.is_empty() {
                return Err(self
                    .input
                    .corrupt(at, format!("first node {path:?} is not the root")));
            }
            self.seen.insert(self.hasher.hash_one("/"));
            return Ok("/".into());
        }
        let parent = match path.rfind('/') {
            Some(0) if path.len() > 1 => "/",
            Some(i) if i > 0 && i + 1 < path.len() && path.starts_with('/') => &path[..i],
            _ => {
                return Err(self
                    .input
                    .corrupt(at, format!("invalid node path {path:?}")))
            }
        };
        if !self.seen.contains(&self.hasher.hash_one(parent)) {
            return Err(self
                .input
                .corrupt(at, format!("node {path:?} comes before its parent")));
        }
        if !self.seen.insert(self.hasher.hash_one(path.as_str())) {
            return Err(self
                .input
                .corrupt(at, format!("node {path:?} appears twice")));
        }
        Ok(path)
    }

    /// Skips any remaining nodes, checks the seal(s) and returns the recorded tree digest
    /// (`None` when the file has no digest section).
    pub fn finish(mut self) -> Result<Option<ZxidDigest>, StorageError> {
        while self.next_node()?.is_some() {}
        self.stage = Stage::Finished;
        let input = &mut self.input;
        input.check_seal("snapshot checksum")?;
        if input.remaining() == 0 {
            return Ok(None);
        }
        // DataTree.deserializeZxidDigest. Apache takes EOF inside the section for "no digest"; a
        // crash cannot produce that (the file would lack its final seal), so it is damage here.
        let at = input.pos;
        let zxid = input.read_i64("digest zxid")?;
        let digest_version = input.read_i32("digest version")?;
        let digest = if digest_version >= 2 {
            input.read_i64("digest")?
        } else {
            let hex = input.read_string("digest")?;
            i64::from_str_radix(&hex, 16)
                .map_err(|_| input.corrupt(at, format!("digest {hex:?} is not hex")))?
        };
        input.check_seal("digest checksum")?;
        if input.remaining() != 0 {
            return Err(input.corrupt(
                input.pos,
                format!("{} bytes after the end", input.remaining()),
            ));
        }
        Ok(Some(ZxidDigest {
            zxid,
            digest_version,
            digest,
        }))
    }
}

/// The zxid of a `snapshot.<hex>` file name.
fn snapshot_zxid(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    crate::layout::parse_file_name(name, SNAPSHOT_FILE_PREFIX)
}

/// Reads and validates a whole snapshot file (both checksums, tree shape, ACL references).
pub fn read_snapshot(path: &Path) -> Result<SnapshotData, StorageError> {
    let mut reader = SnapshotReader::open(path)?;
    let sessions = reader.take_sessions();
    let mut nodes = Vec::new();
    while let Some(node) = reader.next_node()? {
        nodes.push(node);
    }
    let digest = reader.finish()?;
    Ok(SnapshotData {
        sessions,
        nodes,
        digest,
    })
}

/// `SnapStream.isValidCheckedStream`: at least 10 bytes, ending in [`SNAPSHOT_SEAL`]. A cheap
/// test for snapshots cut short by a crash.
pub(crate) fn has_seal(path: &Path) -> Result<bool, StorageError> {
    let mut file = File::open(path).map_err(StorageError::io("opening", path))?;
    let len = file
        .metadata()
        .map_err(StorageError::io("reading metadata of", path))?
        .len();
    if len < 10 {
        return Ok(false);
    }
    let mut tail = [0u8; 5];
    file.seek(SeekFrom::Start(len - 5))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(StorageError::io("reading", path))?;
    Ok(tail == SNAPSHOT_SEAL)
}

/// Loads the newest valid snapshot in `<data_dir>/version-2`, as Apache does at startup: newest
/// first, skipping files without the final seal, trying at most `max_tried` of the rest, falling
/// back to an older snapshot when a newer one is damaged.
///
/// `Ok(None)` if there are no snapshot files; [`StorageError::NoValidSnapshot`] if there are but
/// none can be read. Compressed snapshots (`.gz`, `.snappy`) are not supported and are skipped with
/// a warning.
pub fn load_newest_snapshot(
    data_dir: &Path,
    max_tried: usize,
) -> Result<Option<(i64, SnapshotData)>, StorageError> {
    let dir = snap_dir(data_dir);
    warn_about_compressed(&dir)?;
    let snapshots = list_snapshots(data_dir)?;
    if snapshots.is_empty() {
        return Ok(None);
    }
    let mut tried = 0;
    for (zxid, path) in snapshots.iter().rev() {
        if tried == max_tried {
            break;
        }
        match has_seal(path) {
            Ok(true) => {}
            Ok(false) => {
                warn!(path = %path.display(), "skipping incomplete snapshot (no final seal)");
                continue;
            }
            Err(e) => {
                warn!(path = %path.display(), error = %e, "skipping unreadable snapshot");
                continue;
            }
        }
        tried += 1;
        match read_snapshot(path) {
            Ok(data) => {
                info!(path = %path.display(), nodes = data.nodes.len(), sessions = data.sessions.len(), "snapshot loaded");
                return Ok(Some((*zxid, data)));
            }
            Err(e) => warn!(path = %path.display(), error = %e, "skipping invalid snapshot"),
        }
    }
    Err(StorageError::NoValidSnapshot { dir, tried })
}

fn warn_about_compressed(dir: &Path) -> Result<(), StorageError> {
    let compressed = list_matching(dir, |name| {
        let zxid = crate::layout::apache_zxid_from_name(name, SNAPSHOT_FILE_PREFIX)?;
        (name.ends_with(".gz") || name.ends_with(".snappy")).then_some(zxid)
    })?;
    for (_, path) in compressed {
        warn!(path = %path.display(), "ignoring compressed snapshot (snapshot.compression.method is not supported)");
    }
    Ok(())
}
