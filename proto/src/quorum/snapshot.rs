//! The snapshot stream a leader sends after a SNAP packet (`LearnerHandler.run`:
//! `ZKDatabase.serializeSnapshot(oa)` then `oa.writeString("BenWasHere")`; read by
//! `Learner.syncWithLeader`).
//!
//! ```text
//! count:int  (session:long timeout:int)*                     SerializeUtils.serializeSnapshot
//! count:int  (id:long acls:vector<ACL>)*                     ReferenceCountedACLCache.serialize
//! (path:ustring  data:buffer acl:long stat:StatPersisted)*   DataTree.serializeNodes, root as ""
//! "/":ustring                                                end of nodes
//! "BenWasHere":ustring                                       signature
//! ```
//! It is the body of a `snapshot.<zxid>` file without the file header, the Adler-32 seals and
//! the trailing tree digest (zk-storage reads and writes those files).

use bytes::{Bytes, BytesMut};

use super::codec::{measure, Limits, Scan, ScanError};
use crate::jute::{self, Record};
use crate::records::stat::StatPersisted;
use crate::{Acl, DecodeError};

/// The string that ends a snapshot stream (`Learner.syncWithLeader` checks it).
pub const SNAPSHOT_SIGNATURE: &str = "BenWasHere";

/// The path that ends the node list (`DataTree.serializeNodes`).
const END_OF_NODES: &str = "/";

/// Encoded size of a `StatPersisted`: six longs and three ints.
const STAT_PERSISTED_LEN: usize = 6 * 8 + 3 * 4;

/// One piece of a snapshot stream, in stream order: `Sessions`, that many `Session`s,
/// `AclLists`, that many `AclList`s, any number of `Node`s (parent before child, the root first
/// with path `""`), `End`. Counts are kept as sent; Apache reads a negative count as zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotItem {
    /// The number of sessions that follow.
    Sessions(i32),
    /// A live session and its timeout in milliseconds.
    Session {
        /// The session id.
        session_id: i64,
        /// Its timeout.
        timeout: i32,
    },
    /// The number of ACL lists that follow.
    AclLists(i32),
    /// One entry of the ACL cache: nodes refer to the list by `id` (-1 is `OPEN_ACL_UNSAFE`).
    AclList {
        /// The cache key.
        id: i64,
        /// The ACL entries.
        acl: Vec<Acl>,
    },
    /// A node.
    Node {
        /// Full path; the root is `""`.
        path: String,
        /// The data (`None`: a null buffer).
        data: Option<Bytes>,
        /// ACL cache key.
        acl: i64,
        /// Persisted stat.
        stat: StatPersisted,
    },
    /// The `"/"` end-of-nodes marker and the [`SNAPSHOT_SIGNATURE`].
    End,
}

impl SnapshotItem {
    /// Appends the item's encoding.
    pub fn write(&self, buf: &mut BytesMut) {
        match self {
            SnapshotItem::Sessions(n) | SnapshotItem::AclLists(n) => jute::write_i32(buf, *n),
            SnapshotItem::Session {
                session_id,
                timeout,
            } => {
                jute::write_i64(buf, *session_id);
                jute::write_i32(buf, *timeout);
            }
            SnapshotItem::AclList { id, acl } => {
                jute::write_i64(buf, *id);
                jute::write_vec(buf, Some(acl));
            }
            SnapshotItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                jute::write_string(buf, path);
                jute::write_buffer(buf, data.as_deref());
                jute::write_i64(buf, *acl);
                stat.write(buf);
            }
            SnapshotItem::End => {
                jute::write_string(buf, END_OF_NODES);
                jute::write_string(buf, SNAPSHOT_SIGNATURE);
            }
        }
    }
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    SessionCount,
    Sessions(u32),
    AclCount,
    AclLists(u32),
    Nodes,
    Done,
}

/// An incremental decoder of one snapshot stream (used by [`QuorumCodec`](super::QuorumCodec)
/// after a SNAP; usable alone). Each call consumes at most one whole item; `Ok(None)` means
/// more bytes are needed, or (after [`SnapshotItem::End`]) that the stream is over.
#[derive(Debug, Clone)]
pub struct SnapshotDecoder {
    part: Part,
    limits: Limits,
}

impl Default for SnapshotDecoder {
    fn default() -> Self {
        SnapshotDecoder::with_limits(Limits::default())
    }
}

impl SnapshotDecoder {
    pub(super) fn with_limits(limits: Limits) -> Self {
        SnapshotDecoder {
            part: Part::SessionCount,
            limits,
        }
    }

    /// Whether [`SnapshotItem::End`] was read.
    pub fn is_done(&self) -> bool {
        self.part == Part::Done
    }

    /// Decodes the next item from the front of `src`.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<SnapshotItem>, DecodeError> {
        let limits = self.limits;
        let (item, next) = match self.part {
            Part::Done => return Ok(None),
            Part::SessionCount | Part::AclCount => {
                let Some(len) = measure(src, limits, |s| s.skip(4))? else {
                    return Ok(None);
                };
                let n = jute::read_i32(&mut src.split_to(len).freeze(), "snapshot count")?;
                let remaining = u32::try_from(n).unwrap_or(0);
                if self.part == Part::SessionCount {
                    (SnapshotItem::Sessions(n), sessions_or_next(remaining))
                } else {
                    (SnapshotItem::AclLists(n), acls_or_next(remaining))
                }
            }
            Part::Sessions(left) => {
                let Some(len) = measure(src, limits, |s| s.skip(12))? else {
                    return Ok(None);
                };
                let mut b = src.split_to(len).freeze();
                let item = SnapshotItem::Session {
                    session_id: jute::read_i64(&mut b, "snapshot session")?,
                    timeout: jute::read_i32(&mut b, "snapshot session timeout")?,
                };
                (item, sessions_or_next(left - 1))
            }
            Part::AclLists(left) => {
                let Some(len) = measure(src, limits, acl_list_len)? else {
                    return Ok(None);
                };
                let mut b = src.split_to(len).freeze();
                let item = SnapshotItem::AclList {
                    id: jute::read_i64(&mut b, "ACL cache key")?,
                    acl: Vec::<Acl>::read(&mut b)?,
                };
                (item, acls_or_next(left - 1))
            }
            Part::Nodes => {
                let Some(len) = measure(src, limits, node_len)? else {
                    return Ok(None);
                };
                let mut b = src.split_to(len).freeze();
                let path = jute::read_string(&mut b, "snapshot node path")?;
                if path == END_OF_NODES {
                    let signature = jute::read_string(&mut b, "snapshot signature")?;
                    if signature != SNAPSHOT_SIGNATURE {
                        return Err(DecodeError::BadValue {
                            what: "snapshot signature",
                            value: signature.len() as i64,
                        });
                    }
                    (SnapshotItem::End, Part::Done)
                } else {
                    let item = SnapshotItem::Node {
                        path,
                        data: jute::read_buffer(&mut b, "snapshot node data")?,
                        acl: jute::read_i64(&mut b, "snapshot node acl")?,
                        stat: StatPersisted::read(&mut b)?,
                    };
                    (item, Part::Nodes)
                }
            }
        };
        self.part = next;
        Ok(Some(item))
    }
}

fn sessions_or_next(left: u32) -> Part {
    if left == 0 {
        Part::AclCount
    } else {
        Part::Sessions(left)
    }
}

fn acls_or_next(left: u32) -> Part {
    if left == 0 {
        Part::Nodes
    } else {
        Part::AclLists(left)
    }
}

/// `long id, vector<ACL{int perms, Id{ustring scheme, ustring id}}>`; a null vector is an error
/// (`ReferenceCountedACLCache.deserialize`: "missing acls").
fn acl_list_len(s: &mut Scan<'_>) -> Result<(), ScanError> {
    s.skip(8)?;
    let n = s.count("snapshot ACL list")?;
    if n < 0 {
        return Err(ScanError::Bad(DecodeError::BadLength {
            what: "snapshot ACL list",
            len: n.into(),
        }));
    }
    for _ in 0..n {
        s.skip(4)?;
        s.buffer("Id.scheme")?;
        s.buffer("Id.id")?;
    }
    Ok(())
}

/// `ustring path` then, unless it is "/", `buffer data, long acl, StatPersisted`; after "/",
/// the signature string.
fn node_len(s: &mut Scan<'_>) -> Result<(), ScanError> {
    let len = s.buffer("snapshot node path")?;
    if len == 1 && s.last(1) == END_OF_NODES.as_bytes() {
        s.buffer("snapshot signature")?;
        return Ok(());
    }
    s.buffer("snapshot node data")?;
    s.skip(8 + STAT_PERSISTED_LEN)
}
