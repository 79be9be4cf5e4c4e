//! The mapping between the ZAB core's [`Message`]s and Apache ZooKeeper 3.8's quorum protocol
//! ([`zk_proto::quorum`]): pure functions, no sockets.
//!
//! | core message | wire | notes |
//! |---|---|---|
//! | `Notification` | FLE notification | the membership text ([`QuorumConfig::config_text`](super::QuorumConfig::config_text)) rides along; received text is ignored (no reconfig) |
//! | `FollowerInfo` / `ObserverInfo` | FOLLOWERINFO / OBSERVERINFO | zxid `acceptedEpoch << 32`, `LearnerInfo{myid, 0x10000, 0}` |
//! | `LeaderInfo` | LEADERINFO | zxid `epoch << 32`, data `int 0x10000` |
//! | `AckEpoch` | ACKEPOCH | `None` is the int -1 |
//! | `Diff`, `Trunc`, `Commit`, `Ack`, `UpToDate` | same | zxid only |
//! | `Snap { zxid, data }` | SNAP + snapshot stream | `data` is the encoded [`SnapshotItem`](zk_proto::quorum::SnapshotItem)s through `End` (signature included), written raw after the packet |
//! | `NewLeader` | NEWLEADER | data: the membership text |
//! | `Proposal(txn)`, `Inform(txn)` | PROPOSAL / INFORM | `txn.payload` is the encoded `TxnEntry` (header, record, digest) |
//! | `Request { payload }` | REQUEST | `payload` is the whole jute `QuorumPacket` (so the authinfo survives) |
//! | `Ping { payload }` | PING | learner → leader: `payload` is the raw session-touch data; leader → learner: no data; zxid from [`WireContext::ping_zxid`] |
//! | `Revalidate { payload }` | REVALIDATE | `payload` is the raw packet data (zxid -1) |
//! | `Sync { payload }` | SYNC | Apache's SYNC carries nothing: the payload is dropped on the wire and empty on receipt; the learner answers its pending syncs in FIFO order |

use bytes::{Bytes, BytesMut};
use zk_proto::quorum::{
    self as wire, LeaderMessage, LearnerMessage, Packet, PacketType, ZAB_PROTOCOL_VERSION,
};
use zk_proto::records::quorum::LearnerInfo;
use zk_proto::{DecodeError, Record};
use zk_zab::{Epoch, Message, Notification, PeerId, ServerState, Txn, Vote, Zxid};

/// Why a message could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes do not decode.
    #[error("undecodable quorum packet: {0}")]
    Decode(#[from] DecodeError),
    /// The message kind has no meaning in this direction (e.g. a LEADERINFO from a learner).
    #[error("{kind} is not sent by a {side:?}")]
    WrongDirection {
        /// The packet or message kind.
        kind: &'static str,
        /// The side that sent it.
        side: Side,
    },
    /// A feature zk-server does not implement (dynamic reconfig packets).
    #[error("unsupported quorum packet {0}")]
    Unsupported(&'static str),
}

/// Which end of a quorum connection sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The leader (LearnerHandler in Apache).
    Leader,
    /// A follower or observer.
    Learner,
}

/// What the encoder needs beyond the message itself.
#[derive(Debug, Clone, Default)]
pub struct WireContext {
    /// This server's id (FOLLOWERINFO's `LearnerInfo.serverid`).
    pub my_id: PeerId,
    /// The membership text for notifications and NEWLEADER.
    pub config_text: Bytes,
    /// The zxid a PING carries: the leader's last proposed zxid, or (learner) the zxid of the leader's
    /// PING being answered.
    pub ping_zxid: Zxid,
}

/// A packet to write, and the raw bytes that follow it (the snapshot stream after SNAP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The packet.
    pub packet: Packet,
    /// Bytes written right after it, unframed.
    pub trailer: Option<Bytes>,
}

fn z(zxid: Zxid) -> i64 {
    zxid.0 as i64
}

fn zx(v: i64) -> Zxid {
    Zxid(v as u64)
}

fn epoch_zxid(e: Epoch) -> i64 {
    wire::make_zxid(e.0.into(), 0)
}

fn epoch_of(v: i64) -> Epoch {
    Epoch(wire::epoch_of(v) as u32)
}

// ------------------------------------------------------------------ election port

/// A core notification as Apache's FLE notification (version 2, with the membership text).
pub fn notification_to_wire(n: &Notification, config_text: &Bytes) -> wire::Notification {
    let state = match n.state {
        ServerState::Looking => wire::ServerState::Looking,
        ServerState::Following => wire::ServerState::Following,
        ServerState::Leading => wire::ServerState::Leading,
        ServerState::Observing => wire::ServerState::Observing,
    };
    wire::Notification::new(
        state,
        n.vote.leader.0 as i64,
        z(n.vote.zxid),
        n.round as i64,
        n.vote.peer_epoch.0.into(),
        config_text.clone(),
    )
}

/// Apache's notification as the core's (version and config text are dropped: no reconfig).
pub fn notification_from_wire(n: &wire::Notification) -> Notification {
    let state = match n.state {
        wire::ServerState::Looking => ServerState::Looking,
        wire::ServerState::Following => ServerState::Following,
        wire::ServerState::Leading => ServerState::Leading,
        wire::ServerState::Observing => ServerState::Observing,
    };
    Notification {
        vote: Vote::new(
            PeerId(n.leader as u64),
            zx(n.zxid),
            Epoch(n.peer_epoch as u32),
        ),
        round: n.election_epoch as u64,
        state,
    }
}

// ------------------------------------------------------------------ quorum port, encoding

/// Encodes a core message sent by `side` on a quorum connection.
pub fn encode(msg: &Message, side: Side, ctx: &WireContext) -> Result<Outgoing, WireError> {
    let wrong = || WireError::WrongDirection {
        kind: msg.kind(),
        side,
    };
    let learner_info = || LearnerInfo {
        server_id: ctx.my_id.0 as i64,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: 0,
    };
    let packet = match (side, msg) {
        (_, Message::Notification(_)) => return Err(wrong()),
        (_, Message::Snap { zxid, data }) if side == Side::Leader => {
            return Ok(Outgoing {
                packet: LeaderMessage::Snap { zxid: z(*zxid) }.to_packet(),
                trailer: Some(data.clone()),
            })
        }
        (Side::Learner, Message::FollowerInfo { accepted_epoch }) => LearnerMessage::FollowerInfo {
            zxid: epoch_zxid(*accepted_epoch),
            info: learner_info(),
        }
        .to_packet(),
        (Side::Learner, Message::ObserverInfo { accepted_epoch }) => LearnerMessage::ObserverInfo {
            zxid: epoch_zxid(*accepted_epoch),
            info: learner_info(),
        }
        .to_packet(),
        (
            Side::Learner,
            Message::AckEpoch {
                last_zxid,
                current_epoch,
            },
        ) => LearnerMessage::AckEpoch {
            last_zxid: z(*last_zxid),
            current_epoch: current_epoch.map_or(-1, |e| e.0 as i32),
        }
        .to_packet(),
        (Side::Learner, Message::Ack { zxid }) => {
            LearnerMessage::Ack { zxid: z(*zxid) }.to_packet()
        }
        (Side::Learner, Message::Request { payload }) => Packet::read(&mut payload.clone())?,
        (Side::Learner, Message::Ping { payload }) => {
            Packet::new(PacketType::Ping, z(ctx.ping_zxid)).with_data(payload.clone())
        }
        (Side::Leader, Message::Ping { .. }) => LeaderMessage::Ping {
            last_proposed: z(ctx.ping_zxid),
        }
        .to_packet(),
        (_, Message::Revalidate { payload }) => {
            Packet::new(PacketType::Revalidate, -1).with_data(payload.clone())
        }
        (Side::Leader, Message::LeaderInfo { epoch }) => LeaderMessage::LeaderInfo {
            zxid: epoch_zxid(*epoch),
            protocol_version: ZAB_PROTOCOL_VERSION,
        }
        .to_packet(),
        (Side::Leader, Message::Diff { last_zxid }) => LeaderMessage::Diff {
            zxid: z(*last_zxid),
        }
        .to_packet(),
        (Side::Leader, Message::Trunc { zxid }) => {
            LeaderMessage::Trunc { zxid: z(*zxid) }.to_packet()
        }
        (Side::Leader, Message::NewLeader { zxid }) => LeaderMessage::NewLeader {
            zxid: z(*zxid),
            config: Some(ctx.config_text.clone()),
        }
        .to_packet(),
        (Side::Leader, Message::UpToDate) => LeaderMessage::UpToDate.to_packet(),
        (Side::Leader, Message::Proposal(txn)) => {
            Packet::new(PacketType::Proposal, z(txn.zxid)).with_data(txn.payload.clone())
        }
        (Side::Leader, Message::Inform(txn)) => {
            Packet::new(PacketType::Inform, z(txn.zxid)).with_data(txn.payload.clone())
        }
        (Side::Leader, Message::Commit { zxid }) => {
            LeaderMessage::Commit { zxid: z(*zxid) }.to_packet()
        }
        (Side::Leader, Message::Sync { .. }) => LeaderMessage::Sync.to_packet(),
        _ => return Err(wrong()),
    };
    Ok(Outgoing {
        packet,
        trailer: None,
    })
}

// ------------------------------------------------------------------ quorum port, decoding

/// The first packet of a learner connection: its sid and the FOLLOWERINFO / OBSERVERINFO message.
pub fn decode_learner_hello(packet: &Packet) -> Result<(PeerId, Message), WireError> {
    match LearnerMessage::decode(packet)? {
        LearnerMessage::FollowerInfo { zxid, info } => Ok((
            PeerId(info.server_id as u64),
            Message::FollowerInfo {
                accepted_epoch: epoch_of(zxid),
            },
        )),
        LearnerMessage::ObserverInfo { zxid, info } => Ok((
            PeerId(info.server_id as u64),
            Message::ObserverInfo {
                accepted_epoch: epoch_of(zxid),
            },
        )),
        _ => Err(WireError::WrongDirection {
            kind: "a first packet other than FOLLOWERINFO/OBSERVERINFO",
            side: Side::Learner,
        }),
    }
}

/// Decodes a packet a learner sent (leader side).
pub fn decode_from_learner(packet: &Packet) -> Result<Message, WireError> {
    let kind = packet.kind()?;
    Ok(match kind {
        PacketType::FollowerInfo | PacketType::ObserverInfo => decode_learner_hello(packet)?.1,
        // Raw forms, so that the payloads survive byte for byte.
        PacketType::Request => {
            let mut buf = BytesMut::new();
            packet.write(&mut buf);
            Message::Request {
                payload: buf.freeze(),
            }
        }
        PacketType::Ping => Message::Ping {
            payload: packet.data.clone().unwrap_or_default(),
        },
        PacketType::Revalidate => Message::Revalidate {
            payload: packet.data.clone().unwrap_or_default(),
        },
        _ => match LearnerMessage::decode(packet)? {
            LearnerMessage::AckEpoch {
                last_zxid,
                current_epoch,
            } => Message::AckEpoch {
                last_zxid: zx(last_zxid),
                current_epoch: (current_epoch >= 0).then_some(Epoch(current_epoch as u32)),
            },
            LearnerMessage::Ack { zxid } => Message::Ack { zxid: zx(zxid) },
            _ => unreachable!("handled above"),
        },
    })
}

/// Decodes a packet the leader sent (learner side). A SNAP decodes to `Snap` with empty `data`: the
/// connection reader fills it from the snapshot stream that follows (`peer_net`).
pub fn decode_from_leader(packet: &Packet) -> Result<Message, WireError> {
    let kind = packet.kind()?;
    Ok(match kind {
        PacketType::Proposal => Message::Proposal(Txn::new(
            zx(packet.zxid),
            packet.data.clone().unwrap_or_default(),
        )),
        PacketType::Inform => Message::Inform(Txn::new(
            zx(packet.zxid),
            packet.data.clone().unwrap_or_default(),
        )),
        PacketType::Revalidate => Message::Revalidate {
            payload: packet.data.clone().unwrap_or_default(),
        },
        PacketType::CommitAndActivate => return Err(WireError::Unsupported("COMMITANDACTIVATE")),
        PacketType::InformAndActivate => return Err(WireError::Unsupported("INFORMANDACTIVATE")),
        _ => match LeaderMessage::decode(packet)? {
            LeaderMessage::LeaderInfo { zxid, .. } => Message::LeaderInfo {
                epoch: epoch_of(zxid),
            },
            LeaderMessage::Diff { zxid } => Message::Diff {
                last_zxid: zx(zxid),
            },
            LeaderMessage::Trunc { zxid } => Message::Trunc { zxid: zx(zxid) },
            LeaderMessage::Snap { zxid } => Message::Snap {
                zxid: zx(zxid),
                data: Bytes::new(),
            },
            LeaderMessage::NewLeader { zxid, .. } => Message::NewLeader { zxid: zx(zxid) },
            LeaderMessage::UpToDate => Message::UpToDate,
            LeaderMessage::Commit { zxid } => Message::Commit { zxid: zx(zxid) },
            LeaderMessage::Ping { .. } => Message::Ping {
                payload: Bytes::new(),
            },
            LeaderMessage::Sync => Message::Sync {
                payload: Bytes::new(),
            },
            _ => unreachable!("handled above"),
        },
    })
}

/// The zxid of a leader's PING (a learner echoes it in its answer).
pub fn leader_ping_zxid(packet: &Packet) -> Option<Zxid> {
    (packet.packet_type == PacketType::Ping.code()).then(|| zx(packet.zxid))
}

#[cfg(test)]
#[path = "wire_test.rs"]
mod tests;
