//! [`QuorumCodec`]: framing on the quorum port, where packets carry no length prefix.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{Packet, PacketType, SnapshotDecoder, SnapshotItem};
use crate::jute::Record;
use crate::{DecodeError, FrameError, DEFAULT_JUTE_MAXBUFFER};

/// The largest packet [`QuorumCodec`] buffers by default: one buffer field at Apache's limit
/// (`jute.maxbuffer` + `zookeeper.jute.maxbuffer.extrasize`, both 0xfffff by default) plus
/// 64 KiB for the fixed fields and authinfo. Apache checks only each field; this total bound
/// is ours, so a hostile peer cannot make the codec buffer an endless authinfo vector.
pub const DEFAULT_MAX_PACKET_LEN: usize = 2 * DEFAULT_JUTE_MAXBUFFER + 64 * 1024;

/// The per-field limit Apache's `BinaryInputArchive.checkLength` applies by default.
const DEFAULT_MAX_FIELD_LEN: usize = 2 * DEFAULT_JUTE_MAXBUFFER;

/// One item read from a quorum connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumItem {
    /// A quorum packet.
    Packet(Packet),
    /// A piece of the snapshot that follows a SNAP packet (learner side only).
    Snapshot(SnapshotItem),
}

/// A [`tokio_util::codec`] codec for one quorum (leader ↔ learner) connection.
///
/// Packets are bare jute records, so the decoder scans each one's fields to find its end,
/// checking every length against Apache's per-field limit as soon as it arrives and the whole
/// packet against [`DEFAULT_MAX_PACKET_LEN`] (both configurable) before buffering more. On the
/// learner side ([`QuorumCodec::learner`]) a SNAP packet switches to reading the snapshot
/// stream, item by item, until [`SnapshotItem::End`] — so a snapshot of any size streams in
/// bounded memory.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use zk_proto::quorum::{LeaderMessage, QuorumCodec, QuorumItem, SnapshotItem};
///
/// let mut wire = BytesMut::new();
/// let mut tx = QuorumCodec::leader();
/// tx.encode(&LeaderMessage::Snap { zxid: 0x1_0000_0000 }.to_packet(), &mut wire).unwrap();
/// for item in [SnapshotItem::Sessions(0), SnapshotItem::AclLists(0), SnapshotItem::End] {
///     tx.encode(&item, &mut wire).unwrap();
/// }
/// tx.encode(&LeaderMessage::UpToDate.to_packet(), &mut wire).unwrap();
///
/// let mut rx = QuorumCodec::learner();
/// let mut items = Vec::new();
/// while let Some(item) = rx.decode(&mut wire).unwrap() {
///     items.push(item);
/// }
/// assert_eq!(items.len(), 5);
/// assert_eq!(items[3], QuorumItem::Snapshot(SnapshotItem::End));
/// let QuorumItem::Packet(last) = &items[4] else { panic!() };
/// assert_eq!(LeaderMessage::decode(last).unwrap(), LeaderMessage::UpToDate);
/// ```
#[derive(Debug, Clone)]
pub struct QuorumCodec {
    limits: Limits,
    learner_side: bool,
    snapshot: Option<SnapshotDecoder>,
}

/// Length limits shared with the snapshot decoder.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Largest string or buffer field.
    pub(super) max_field: usize,
    /// Largest packet or snapshot item.
    pub(super) max_item: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field: DEFAULT_MAX_FIELD_LEN,
            max_item: DEFAULT_MAX_PACKET_LEN,
        }
    }
}

impl QuorumCodec {
    /// For a learner: reads the leader's packets, and the snapshot after a SNAP.
    pub fn learner() -> Self {
        QuorumCodec {
            limits: Limits::default(),
            learner_side: true,
            snapshot: None,
        }
    }

    /// For a leader: reads a learner's packets.
    pub fn leader() -> Self {
        QuorumCodec {
            learner_side: false,
            ..QuorumCodec::learner()
        }
    }

    /// Sets the per-field limit (Apache: `jute.maxbuffer` + extrasize) and the whole-packet
    /// limit.
    pub fn with_limits(mut self, max_field_len: usize, max_packet_len: usize) -> Self {
        self.limits = Limits {
            max_field: max_field_len,
            max_item: max_packet_len,
        };
        self
    }

    /// Whether the codec is in the middle of a snapshot stream.
    pub fn in_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }
}

impl Decoder for QuorumCodec {
    type Item = QuorumItem;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<QuorumItem>, FrameError> {
        if let Some(snap) = &mut self.snapshot {
            let item = snap.decode(src)?;
            if item == Some(SnapshotItem::End) {
                self.snapshot = None;
            }
            return Ok(item.map(QuorumItem::Snapshot));
        }
        let Some(len) = measure(src, self.limits, packet_len)? else {
            return Ok(None);
        };
        let mut raw = src.split_to(len).freeze();
        let packet = Packet::read(&mut raw)?;
        if self.learner_side && packet.packet_type == PacketType::Snap.code() {
            self.snapshot = Some(SnapshotDecoder::with_limits(self.limits));
        }
        Ok(Some(QuorumItem::Packet(packet)))
    }
}

impl Encoder<&Packet> for QuorumCodec {
    type Error = FrameError;

    fn encode(&mut self, packet: &Packet, dst: &mut BytesMut) -> Result<(), FrameError> {
        packet.write(dst);
        Ok(())
    }
}

impl Encoder<&SnapshotItem> for QuorumCodec {
    type Error = FrameError;

    fn encode(&mut self, item: &SnapshotItem, dst: &mut BytesMut) -> Result<(), FrameError> {
        item.write(dst);
        Ok(())
    }
}

/// Runs `scan` over the buffered bytes: `Ok(Some(len))` once a whole item is there, `Ok(None)`
/// while it is incomplete (reserving what the lengths seen so far require, within the limit).
pub(super) fn measure(
    src: &mut BytesMut,
    limits: Limits,
    scan: impl Fn(&mut Scan<'_>) -> Result<(), ScanError>,
) -> Result<Option<usize>, DecodeError> {
    let scanned = {
        let mut s = Scan {
            buf: &src[..],
            pos: 0,
            limits,
        };
        scan(&mut s).map(|()| s.pos)
    };
    match scanned {
        Ok(len) => Ok(Some(len)),
        Err(ScanError::Bad(e)) => Err(e),
        Err(ScanError::Incomplete { needed }) => {
            if needed > limits.max_item {
                return Err(DecodeError::FrameTooLarge {
                    len: needed as i64,
                    max: limits.max_item,
                });
            }
            src.reserve(needed.saturating_sub(src.len()));
            Ok(None)
        }
    }
}

/// Why a scan stopped.
pub(super) enum ScanError {
    /// The item needs at least `needed` bytes in total.
    Incomplete { needed: usize },
    /// The bytes cannot be an item.
    Bad(DecodeError),
}

/// A cursor that walks an encoded item without allocating.
pub(super) struct Scan<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: Limits,
}

impl Scan<'_> {
    pub(super) fn skip(&mut self, n: usize) -> Result<(), ScanError> {
        let end = self.pos.saturating_add(n);
        if end > self.limits.max_item {
            return Err(ScanError::Bad(DecodeError::FrameTooLarge {
                len: end as i64,
                max: self.limits.max_item,
            }));
        }
        if end > self.buf.len() {
            return Err(ScanError::Incomplete { needed: end });
        }
        self.pos = end;
        Ok(())
    }

    pub(super) fn i32(&mut self) -> Result<i32, ScanError> {
        let at = self.pos;
        self.skip(4)?;
        let mut b = &self.buf[at..at + 4];
        Ok(b.get_i32())
    }

    /// A jute buffer or string: its length (-1 for null), checked against the field limit.
    pub(super) fn buffer(&mut self, what: &'static str) -> Result<i32, ScanError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(-1);
        }
        if len < 0 || len as usize > self.limits.max_field {
            return Err(ScanError::Bad(DecodeError::BadLength {
                what,
                len: len.into(),
            }));
        }
        self.skip(len as usize)?;
        Ok(len)
    }

    /// The bytes of the last `len` bytes scanned.
    pub(super) fn last(&self, len: usize) -> &[u8] {
        &self.buf[self.pos - len..self.pos]
    }

    /// A jute vector count: -1 (null) or non-negative.
    pub(super) fn count(&mut self, what: &'static str) -> Result<i32, ScanError> {
        let n = self.i32()?;
        if n < -1 {
            return Err(ScanError::Bad(DecodeError::BadLength {
                what,
                len: n.into(),
            }));
        }
        Ok(n)
    }
}

/// `int type, long zxid, buffer data, vector<Id{ustring scheme, ustring id}> authinfo`.
fn packet_len(s: &mut Scan<'_>) -> Result<(), ScanError> {
    s.skip(4 + 8)?;
    s.buffer("QuorumPacket.data")?;
    let n = s.count("QuorumPacket.authinfo")?;
    for _ in 0..n {
        s.buffer("Id.scheme")?;
        s.buffer("Id.id")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn hostile_lengths_fail_before_buffering() {
        // data length above the field limit: an error as soon as the length arrives.
        let mut buf = BytesMut::new();
        buf.put_i32(2);
        buf.put_i64(1);
        buf.put_i32(i32::MAX);
        assert!(QuorumCodec::leader().decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024);
        // An authinfo count of 2^31-1 with tiny entries: stops at the packet limit.
        let mut buf = BytesMut::new();
        buf.put_i32(1);
        buf.put_i64(-1);
        buf.put_i32(-1);
        buf.put_i32(i32::MAX);
        for _ in 0..400 {
            buf.put_i32(0);
            buf.put_i32(0);
        }
        let mut c = QuorumCodec::leader().with_limits(64, 4096);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        for _ in 0..1000 {
            buf.put_i32(0);
            buf.put_i32(0);
        }
        assert!(c.decode(&mut buf).is_err());
        // A negative count other than -1.
        let mut buf = BytesMut::new();
        buf.put_i32(1);
        buf.put_i64(-1);
        buf.put_i32(-1);
        buf.put_i32(-2);
        assert!(QuorumCodec::leader().decode(&mut buf).is_err());
    }
}
