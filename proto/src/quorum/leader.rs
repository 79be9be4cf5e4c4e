//! [`LeaderMessage`]: what a leader sends its learners (`Leader.java`, `LearnerHandler.java`), typed.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Packet, PacketType, TxnEntry};
use crate::jute;
use crate::DecodeError;

/// A packet a leader sends to a learner, by type.
///
/// The fixed zxids are Apache's: UPTODATE and REVALIDATE carry -1, SYNC carries 0; this view
/// writes them and ignores them on reading, as the learner does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderMessage {
    /// LEADERINFO (17): the proposed epoch (`zxid = newEpoch << 32`) and the leader's protocol
    /// version (0x10000).
    LeaderInfo {
        /// `makeZxid(newEpoch, 0)`.
        zxid: i64,
        /// [`ZAB_PROTOCOL_VERSION`](super::ZAB_PROTOCOL_VERSION).
        protocol_version: i32,
    },
    /// DIFF (13): the learner is synced by the PROPOSAL/COMMIT pairs that follow.
    Diff {
        /// The leader's last committed zxid (the peer's own zxid when nothing follows).
        zxid: i64,
    },
    /// TRUNC (14): drop logged txns above `zxid`, then follow the pairs that come next.
    Trunc {
        /// The zxid to truncate to.
        zxid: i64,
    },
    /// SNAP (15): a snapshot stream follows (see [`SnapshotItem`](super::SnapshotItem)).
    Snap {
        /// The zxid of the leader's tree when serialized (`getDataTreeLastProcessedZxid`).
        zxid: i64,
    },
    /// NEWLEADER (10): end of the sync data; ack it once logged.
    NewLeader {
        /// `makeZxid(newEpoch, 0)`.
        zxid: i64,
        /// The leader's last-seen config (`QuorumVerifier.toString()` bytes); null only for
        /// pre-3.4 learners.
        config: Option<Bytes>,
    },
    /// UPTODATE (12): synced, start serving (zxid -1).
    UpToDate,
    /// PROPOSAL (2): log and ack this txn.
    Proposal {
        /// The txn's zxid.
        zxid: i64,
        /// The txn.
        txn: TxnEntry,
    },
    /// COMMIT (4): apply up to this zxid.
    Commit {
        /// The committed zxid.
        zxid: i64,
    },
    /// COMMITANDACTIVATE (9): commit a reconfig and activate its config.
    CommitAndActivate {
        /// The committed zxid.
        zxid: i64,
        /// The sid the new config designates as leader.
        designated_leader: i64,
    },
    /// INFORM (8): a committed txn, for observers.
    Inform {
        /// The txn's zxid.
        zxid: i64,
        /// The txn.
        txn: TxnEntry,
    },
    /// INFORMANDACTIVATE (19): a committed reconfig, for observers.
    InformAndActivate {
        /// The txn's zxid.
        zxid: i64,
        /// The sid the new config designates as leader.
        designated_leader: i64,
        /// The reconfig txn.
        txn: TxnEntry,
    },
    /// PING (5): the learner answers with its session touches.
    Ping {
        /// The leader's last proposed zxid.
        last_proposed: i64,
    },
    /// REVALIDATE (6): the answer to a learner's REVALIDATE (zxid -1).
    Revalidate {
        /// The session id.
        session_id: i64,
        /// Whether the session is valid (and now owned by this learner).
        valid: bool,
    },
    /// SYNC (7): the learner's pending `sync` may complete (zxid 0).
    Sync,
}

impl LeaderMessage {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            LeaderMessage::LeaderInfo { .. } => PacketType::LeaderInfo,
            LeaderMessage::Diff { .. } => PacketType::Diff,
            LeaderMessage::Trunc { .. } => PacketType::Trunc,
            LeaderMessage::Snap { .. } => PacketType::Snap,
            LeaderMessage::NewLeader { .. } => PacketType::NewLeader,
            LeaderMessage::UpToDate => PacketType::UpToDate,
            LeaderMessage::Proposal { .. } => PacketType::Proposal,
            LeaderMessage::Commit { .. } => PacketType::Commit,
            LeaderMessage::CommitAndActivate { .. } => PacketType::CommitAndActivate,
            LeaderMessage::Inform { .. } => PacketType::Inform,
            LeaderMessage::InformAndActivate { .. } => PacketType::InformAndActivate,
            LeaderMessage::Ping { .. } => PacketType::Ping,
            LeaderMessage::Revalidate { .. } => PacketType::Revalidate,
            LeaderMessage::Sync => PacketType::Sync,
        }
    }

    /// The packet as Apache builds it (null data where Apache passes `null`, null authinfo).
    pub fn to_packet(&self) -> Packet {
        let t = self.packet_type();
        match self {
            LeaderMessage::LeaderInfo {
                zxid,
                protocol_version,
            } => Packet::new(t, *zxid).with_data(protocol_version.to_be_bytes().to_vec()),
            LeaderMessage::Diff { zxid }
            | LeaderMessage::Trunc { zxid }
            | LeaderMessage::Snap { zxid }
            | LeaderMessage::Commit { zxid } => Packet::new(t, *zxid),
            LeaderMessage::NewLeader { zxid, config } => Packet {
                data: config.clone(),
                ..Packet::new(t, *zxid)
            },
            LeaderMessage::UpToDate => Packet::new(t, -1),
            LeaderMessage::Proposal { zxid, txn } | LeaderMessage::Inform { zxid, txn } => {
                Packet::new(t, *zxid).with_data(txn.to_bytes())
            }
            LeaderMessage::CommitAndActivate {
                zxid,
                designated_leader,
            } => Packet::new(t, *zxid).with_data(designated_leader.to_be_bytes().to_vec()),
            LeaderMessage::InformAndActivate {
                zxid,
                designated_leader,
                txn,
            } => {
                let mut data = BytesMut::new();
                data.put_i64(*designated_leader);
                txn.write(&mut data);
                Packet::new(t, *zxid).with_data(data.freeze())
            }
            LeaderMessage::Ping { last_proposed } => Packet::new(t, *last_proposed),
            LeaderMessage::Revalidate { session_id, valid } => {
                let mut data = BytesMut::with_capacity(9);
                data.put_i64(*session_id);
                data.put_u8(u8::from(*valid));
                Packet::new(t, -1).with_data(data.freeze())
            }
            LeaderMessage::Sync => Packet::new(t, 0),
        }
    }

    /// Reads a packet received from the leader, as `Learner`/`Follower`/`Observer` do. A type a
    /// leader does not send is `BadValue` (Apache logs it); a payload Apache could not read is an
    /// error. Data and authinfo of packets that carry none are ignored, as by Apache.
    pub fn decode(packet: &Packet) -> Result<LeaderMessage, DecodeError> {
        let data = || packet.data.clone().unwrap_or_default();
        let zxid = packet.zxid;
        Ok(match packet.kind()? {
            PacketType::LeaderInfo => LeaderMessage::LeaderInfo {
                zxid,
                protocol_version: jute::read_i32(&mut data(), "LEADERINFO version")?,
            },
            PacketType::Diff => LeaderMessage::Diff { zxid },
            PacketType::Trunc => LeaderMessage::Trunc { zxid },
            PacketType::Snap => LeaderMessage::Snap { zxid },
            PacketType::NewLeader => LeaderMessage::NewLeader {
                zxid,
                config: packet.data.clone(),
            },
            PacketType::UpToDate => LeaderMessage::UpToDate,
            PacketType::Proposal => LeaderMessage::Proposal {
                zxid,
                txn: TxnEntry::decode(data())?,
            },
            PacketType::Inform => LeaderMessage::Inform {
                zxid,
                txn: TxnEntry::decode(data())?,
            },
            PacketType::Commit => LeaderMessage::Commit { zxid },
            PacketType::CommitAndActivate => LeaderMessage::CommitAndActivate {
                zxid,
                designated_leader: jute::read_i64(&mut data(), "COMMITANDACTIVATE leader")?,
            },
            PacketType::InformAndActivate => {
                let mut d = data();
                let designated_leader = jute::read_i64(&mut d, "INFORMANDACTIVATE leader")?;
                LeaderMessage::InformAndActivate {
                    zxid,
                    designated_leader,
                    txn: TxnEntry::decode(d)?,
                }
            }
            PacketType::Ping => LeaderMessage::Ping {
                last_proposed: zxid,
            },
            PacketType::Revalidate => {
                let mut d = data();
                LeaderMessage::Revalidate {
                    session_id: jute::read_i64(&mut d, "REVALIDATE session")?,
                    valid: jute::read_bool(&mut d, "REVALIDATE valid")?,
                }
            }
            PacketType::Sync => LeaderMessage::Sync,
            other => {
                return Err(DecodeError::BadValue {
                    what: "packet type from a leader",
                    value: other.code().into(),
                })
            }
        })
    }
}
