//! # zk-storage — Apache ZooKeeper 3.8's data dir, byte for byte
//!
//! zk-server keeps its state in the files Apache ZooKeeper 3.8 uses, so either server can take over
//! the other's data dir: Apache's txn log segments and snapshots, its checksums and padding, its
//! epoch files and its tree digest. The server sees format-free types ([`LoggedTxn`],
//! [`SnapshotData`]); this crate owns every byte on disk. Blocking `std::fs` I/O: run it on a
//! dedicated thread (or `spawn_blocking`).
//!
//! ## The data dir
//! ```text
//! <dataDir>/version-2/
//!     snapshot.<zxid>        fuzzy snapshots, named after the last zxid applied when they started
//!     acceptedEpoch          ZAB epochs, one decimal number each (ensembles only)
//!     currentEpoch
//! <dataLogDir>/version-2/    (dataLogDir defaults to dataDir)
//!     log.<zxid>             txn log segments, named after their first txn's zxid
//! ```
//! `<zxid>` is lower-case hex without `0x` (`Long.toHexString`). A segment starts with a 16-byte
//! header (`ZKLG`, version 2, dbid 0) and holds records — Adler-32 checksum, length, entry, `'B'` —
//! where an entry is a `TxnHeader`, the txn record of `zookeeper.jute` and, since 3.6, a
//! `TxnDigest`. Segments grow in 64 MiB zero-filled steps (a fresh one is 64 MiB + 16 bytes) and
//! a length of 0 marks the end. A new segment starts with the first txn after each snapshot.
//! A snapshot (`ZKSN`, version 2, dbid -1) holds the sessions, the ACL cache, the nodes
//! parent-first, an Adler-32 seal, then the tree digest and a second seal. Details: [`txnlog`],
//! [`snapshot`].
//!
//! ## Using it from a server
//! ```
//! # fn main() -> Result<(), zk_storage::StorageError> {
//! # let dir = std::env::temp_dir().join(format!("zk-storage-libdoc-{}", std::process::id()));
//! # let (data_dir, data_log_dir) = (dir.as_path(), dir.as_path());
//! use zk_proto::records::txn::CreateTxn;
//! use zk_proto::{Acl, OpCode, StatPersisted, TxnBody, TxnHeader};
//! use zk_storage::{recover, write_snapshot, LoggedTxn, SnapNode, SnapshotData, TxnLog, TxnLogOptions};
//!
//! // 1. Startup: newest valid snapshot + the txns after it. Apply them to the tree.
//! let recovered = recover(data_dir, data_log_dir)?;
//! if recovered.is_empty() {
//!     // A fresh server writes its empty tree first, as Apache writes snapshot.0.
//!     let root = SnapNode { path: "/".into(), data: Some(Default::default()), acl: Acl::open_unsafe().into(), stat: StatPersisted::default() };
//!     write_snapshot(data_dir, 0, &SnapshotData { nodes: vec![root], ..Default::default() })?;
//! }
//! // 2. Open the log for appending (truncates a torn tail).
//! let mut log = TxnLog::open(data_log_dir, TxnLogOptions::default())?;
//! // 3. Group commit: append every txn of a batch, sync once, then acknowledge them.
//! log.append(&LoggedTxn {
//!     header: TxnHeader { client_id: 0x100, cxid: 1, zxid: recovered.last_zxid() + 1, time: 0, txn_type: OpCode::Create.code() },
//!     body: TxnBody::Create(CreateTxn { path: "/app".into(), data: None, acl: Acl::open_unsafe(), ephemeral: false, parent_cversion: 1 }),
//!     digest: None,
//! })?;
//! log.sync()?;
//! // 4. Every snapCount txns: roll the log, then write a snapshot (SnapshotWriter streams it).
//! log.roll()?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```
//! Recovery returns the txns from the snapshot's zxid + 1 on; because snapshots are fuzzy, the tree
//! must tolerate re-applying a txn whose effect the snapshot already holds (see [`recovery`]).
//! Keep the [tree digest](digest) with [`node_digest`] and [`TreeDigest`], and log it with each
//! txn ([`LoggedTxn::digest`]) and snapshot ([`ZxidDigest`]) as Apache does.
//!
//! ## Damage
//! A crash can leave a partial record at the end of a segment (a *torn tail*): reading stops there
//! cleanly and [`TxnLog::open`] truncates it. A damaged record with valid records after it is
//! [`StorageError::CorruptLog`], naming the file and byte offset. A damaged snapshot is skipped for
//! the next older one, as Apache does. No input panics, and no length field makes a reader allocate
//! more than the file holds or [`DEFAULT_MAX_RECORD_SIZE`].
//!
//! ## Modules
//! - [`txnlog`]: [`TxnLog`] (append, sync, roll, truncate), [`read_txns`], [`LoggedTxn`].
//! - [`snapshot`]: [`SnapshotWriter`], [`SnapshotReader`], [`SnapshotData`], [`AclTable`].
//! - [`recovery`]: [`recover`]. [`purge`](mod@purge): [`purge()`]. [`epoch`]: `acceptedEpoch` / `currentEpoch`.
//! - [`digest`]: [`node_digest`], [`TreeDigest`]. [`adler32`]: the checksum.
//! - [`layout`]: directory and file names. `header`: the 16-byte file header. [`StorageError`].
#![deny(missing_docs)]

pub mod adler32;
mod crc32;
pub mod digest;
pub mod epoch;
mod error;
mod fsutil;
pub mod header;
pub mod layout;
pub mod purge;
pub mod recovery;
pub mod snapshot;
pub mod txnlog;

pub use adler32::Adler32;
pub use digest::{node_digest, TreeDigest, DIGEST_VERSION};
pub use epoch::{read_epoch, write_epoch, EpochFile};
pub use error::StorageError;
pub use purge::{purge, PurgeReport, DEFAULT_SNAP_RETAIN_COUNT, MIN_SNAP_RETAIN_COUNT};
pub use recovery::{recover, recover_with, RecoverOptions, Recovered};
pub use snapshot::{
    list_snapshots, load_newest_snapshot, read_snapshot, remove_partial_snapshots, write_snapshot,
    AclTable, SnapNode, SnapshotData, SnapshotReader, SnapshotWriter, ZxidDigest,
};
pub use txnlog::{
    read_segment, read_txns, LoggedTxn, SegmentContents, SegmentEnd, TxnIter, TxnLog,
    TxnLogOptions, DEFAULT_MAX_RECORD_SIZE,
};
