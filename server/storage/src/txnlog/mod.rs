//! The txn log: `log.<zxid>` segments as Apache ZooKeeper 3.8's `FileTxnLog` writes them.
//!
//! ```text
//! segment := FileHeader{magic "ZKLG", version 2, dbid 0}  record*  zero padding
//! record  := checksum:long  length:int  entry[length]  'B'
//! entry   := TxnHeader  body  [TxnDigest]          (a LoggedTxn)
//! ```
//! - [`entry`](LoggedTxn): a txn and its serialized form.
//! - `record`: the checksum/length/marker framing.
//! - `padding`: Apache's 64 MiB preallocation rule.
//! - `segment`: file names and which segments cover a zxid.
//! - [`writer`](TxnLog): append, sync, roll, truncate.
//! - [`reader`](read_txns): segment and directory readers; torn tails vs. corruption.

mod entry;
mod padding;
mod reader;
mod record;
mod segment;
mod writer;

pub use entry::LoggedTxn;
pub use padding::{calculate_file_size_with_padding, DEFAULT_PREALLOC_SIZE, PADDING_THRESHOLD};
pub use reader::{
    read_segment, read_txns, SegmentContents, SegmentEnd, TxnIter, DEFAULT_MAX_RECORD_SIZE,
};
pub use record::{END_OF_RECORD, RECORD_OVERHEAD};
pub use segment::{list_segments, segments_from};
pub use writer::{TxnLog, TxnLogOptions, DEFAULT_FORCE_SYNC, WRITE_BUFFER_SIZE};
