//! [`Packet`]: a quorum packet exactly as on the wire, null and empty kept apart.

use bytes::{Bytes, BytesMut};

use super::PacketType;
use crate::jute::{self, Record};
use crate::records::acl::Id;
use crate::records::quorum::QuorumPacket;
use crate::DecodeError;

/// One jute `QuorumPacket` (`int type, long zxid, buffer data, vector<Id> authinfo`) as Apache
/// writes it, keeping the difference between a null and an empty `data` or `authinfo` (Apache
/// sends both: a forwarded createSession has a null authinfo, other forwarded requests a list),
/// so every packet re-encodes to the bytes it came from. [`QuorumPacket`] in
/// [`records::quorum`](crate::records::quorum) maps a null authinfo to empty; convert with `From`.
///
/// On the quorum port a packet has no length prefix; [`QuorumCodec`](super::QuorumCodec)
/// finds its end. The typed views are [`LeaderMessage`](super::LeaderMessage) and
/// [`LearnerMessage`](super::LearnerMessage).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packet {
    /// The packet type, a [`PacketType`] value (kept raw: Apache logs and skips unknown types).
    pub packet_type: i32,
    /// The zxid the packet is about (its meaning depends on the type).
    pub zxid: i64,
    /// Type-specific payload; `None` is jute's null buffer (length -1).
    pub data: Option<Bytes>,
    /// Authentication of a forwarded request; `None` is jute's null vector (count -1).
    pub auth_info: Option<Vec<Id>>,
}

impl Packet {
    /// A packet with no data and no auth info (both null), as Apache builds most of them.
    pub fn new(packet_type: PacketType, zxid: i64) -> Self {
        Packet {
            packet_type: packet_type.code(),
            zxid,
            data: None,
            auth_info: None,
        }
    }

    /// With `data` as payload.
    pub fn with_data(mut self, data: impl Into<Bytes>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// The typed packet type, or an error for a value Apache does not define.
    pub fn kind(&self) -> Result<PacketType, DecodeError> {
        PacketType::try_from(self.packet_type)
    }
}

impl Record for Packet {
    fn write(&self, buf: &mut BytesMut) {
        jute::write_i32(buf, self.packet_type);
        jute::write_i64(buf, self.zxid);
        jute::write_buffer(buf, self.data.as_deref());
        jute::write_vec(buf, self.auth_info.as_deref());
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(Packet {
            packet_type: jute::read_i32(buf, "QuorumPacket.type")?,
            zxid: jute::read_i64(buf, "QuorumPacket.zxid")?,
            data: jute::read_buffer(buf, "QuorumPacket.data")?,
            auth_info: jute::read_opt_vec(buf, "QuorumPacket.authinfo")?,
        })
    }
}

impl From<QuorumPacket> for Packet {
    fn from(p: QuorumPacket) -> Self {
        Packet {
            packet_type: p.packet_type,
            zxid: p.zxid,
            data: p.data,
            auth_info: Some(p.auth_info),
        }
    }
}

impl From<Packet> for QuorumPacket {
    fn from(p: Packet) -> Self {
        QuorumPacket {
            packet_type: p.packet_type,
            zxid: p.zxid,
            data: p.data,
            auth_info: p.auth_info.unwrap_or_default(),
        }
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl crate::arbitrary::Arb for Packet {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        (
            prop_oneof![1..=19i32, any::<i32>()],
            any::<i64>(),
            <Option<Bytes> as crate::arbitrary::Arb>::arb(),
            proptest::option::of(<Vec<Id> as crate::arbitrary::Arb>::arb()),
        )
            .prop_map(|(packet_type, zxid, data, auth_info)| Packet {
                packet_type,
                zxid,
                data,
                auth_info,
            })
            .boxed()
    }
}
