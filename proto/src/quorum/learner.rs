//! [`LearnerMessage`]: what a follower or observer sends its leader (`Learner.java`), typed.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Packet, PacketType};
use crate::jute::Record;
use crate::records::acl::Id;
use crate::records::quorum::LearnerInfo;
use crate::DecodeError;

/// Length of a [`SessionTouch`] in a PING payload: a long and an int.
const TOUCH_LEN: usize = 12;

/// One session a learner saw activity on since its last PING (`Learner.ping`:
/// `zk.getTouchSnapshot()`), for the leader's session tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTouch {
    /// The session id.
    pub session_id: i64,
    /// The session's timeout in milliseconds.
    pub timeout: i32,
}

/// A client request a learner forwards to the leader (`Learner.request`): the REQUEST payload is
/// `long sessionId, int cxid, int type` and the request record's bytes (no header), the packet's
/// zxid is -1 and its authinfo the client connection's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// The client session.
    pub session_id: i64,
    /// The client's xid for the request.
    pub cxid: i32,
    /// The request type (an [`OpCode`](crate::OpCode) value; `sync` is 9, `createSession` -10).
    pub op: i32,
    /// The encoded request record (e.g. a `CreateRequest`); for createSession (-10) the
    /// session timeout as an int (`ZooKeeperServer.createSession`).
    pub request: Bytes,
    /// The connection's auth ids (`Request.authInfo`). Apache forwards a createSession with a
    /// null list and other requests with the connection's list (e.g. `ip:127.0.0.1`).
    pub auth_info: Option<Vec<Id>>,
}

/// A packet a learner sends to its leader, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerMessage {
    /// FOLLOWERINFO (11): first packet of a follower. `zxid` is `acceptedEpoch << 32`.
    FollowerInfo {
        /// `makeZxid(acceptedEpoch, 0)`.
        zxid: i64,
        /// sid, protocol version ([`ZAB_PROTOCOL_VERSION`](super::ZAB_PROTOCOL_VERSION)) and
        /// config version.
        info: LearnerInfo,
    },
    /// OBSERVERINFO (16): first packet of an observer; as FOLLOWERINFO.
    ObserverInfo {
        /// `makeZxid(acceptedEpoch, 0)`.
        zxid: i64,
        /// sid, protocol version and config version.
        info: LearnerInfo,
    },
    /// ACKEPOCH (18): answer to LEADERINFO.
    AckEpoch {
        /// The learner's last logged zxid.
        last_zxid: i64,
        /// Its current epoch, or -1 when it had already accepted the proposed epoch (the answer
        /// then does not count as an ack of the epoch).
        current_epoch: i32,
    },
    /// ACK (3): of a proposal, or of NEWLEADER/UPTODATE (zxid `newEpoch << 32`).
    Ack {
        /// The acknowledged zxid.
        zxid: i64,
    },
    /// PING (5): answer to the leader's PING, echoing its zxid, with the touched sessions.
    Ping {
        /// The zxid of the leader's PING.
        zxid: i64,
        /// Sessions with activity since the last PING.
        touches: Vec<SessionTouch>,
    },
    /// REVALIDATE (6): a client session reconnected here; is it valid? (`Learner.validateSession`.)
    Revalidate {
        /// The session id.
        session_id: i64,
        /// The timeout the client asked for.
        timeout: i32,
    },
    /// REQUEST (1): a forwarded client request.
    Request(ForwardedRequest),
}

impl LearnerMessage {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            LearnerMessage::FollowerInfo { .. } => PacketType::FollowerInfo,
            LearnerMessage::ObserverInfo { .. } => PacketType::ObserverInfo,
            LearnerMessage::AckEpoch { .. } => PacketType::AckEpoch,
            LearnerMessage::Ack { .. } => PacketType::Ack,
            LearnerMessage::Ping { .. } => PacketType::Ping,
            LearnerMessage::Revalidate { .. } => PacketType::Revalidate,
            LearnerMessage::Request(_) => PacketType::Request,
        }
    }

    /// The packet as Apache builds it (null data and authinfo where Apache passes `null`).
    pub fn to_packet(&self) -> Packet {
        let t = self.packet_type();
        match self {
            LearnerMessage::FollowerInfo { zxid, info }
            | LearnerMessage::ObserverInfo { zxid, info } => {
                Packet::new(t, *zxid).with_data(info.to_bytes())
            }
            LearnerMessage::AckEpoch {
                last_zxid,
                current_epoch,
            } => Packet::new(t, *last_zxid).with_data(current_epoch.to_be_bytes().to_vec()),
            LearnerMessage::Ack { zxid } => Packet::new(t, *zxid),
            LearnerMessage::Ping { zxid, touches } => {
                let mut data = BytesMut::with_capacity(touches.len() * TOUCH_LEN);
                for touch in touches {
                    data.put_i64(touch.session_id);
                    data.put_i32(touch.timeout);
                }
                Packet::new(t, *zxid).with_data(data.freeze())
            }
            LearnerMessage::Revalidate {
                session_id,
                timeout,
            } => {
                let mut data = BytesMut::with_capacity(12);
                data.put_i64(*session_id);
                data.put_i32(*timeout);
                Packet::new(t, -1).with_data(data.freeze())
            }
            LearnerMessage::Request(r) => {
                let mut data = BytesMut::with_capacity(16 + r.request.len());
                data.put_i64(r.session_id);
                data.put_i32(r.cxid);
                data.put_i32(r.op);
                data.put_slice(&r.request);
                Packet {
                    auth_info: r.auth_info.clone(),
                    ..Packet::new(t, -1).with_data(data.freeze())
                }
            }
        }
    }

    /// Reads a packet received from a learner, as `LearnerHandler` does. A type a learner does
    /// not send is `BadValue` (Apache logs it and goes on); a payload Apache could not read is an
    /// error (Apache drops the learner). Apache ignores the zxid of REQUEST and REVALIDATE
    /// (both -1) and the authinfo of every other packet; so does this view.
    pub fn decode(packet: &Packet) -> Result<LearnerMessage, DecodeError> {
        let data = || packet.data.clone().unwrap_or_default();
        Ok(match packet.kind()? {
            t @ (PacketType::FollowerInfo | PacketType::ObserverInfo) => {
                let info = LearnerInfo::read(&mut data())?;
                let zxid = packet.zxid;
                if t == PacketType::FollowerInfo {
                    LearnerMessage::FollowerInfo { zxid, info }
                } else {
                    LearnerMessage::ObserverInfo { zxid, info }
                }
            }
            PacketType::AckEpoch => LearnerMessage::AckEpoch {
                last_zxid: packet.zxid,
                current_epoch: crate::jute::read_i32(&mut data(), "ACKEPOCH epoch")?,
            },
            PacketType::Ack => LearnerMessage::Ack { zxid: packet.zxid },
            PacketType::Ping => {
                let mut d = data();
                if d.len() % TOUCH_LEN != 0 {
                    return Err(DecodeError::BadLength {
                        what: "PING session touches",
                        len: d.len() as i64,
                    });
                }
                let mut touches = Vec::with_capacity(d.len() / TOUCH_LEN);
                while d.has_remaining() {
                    touches.push(SessionTouch {
                        session_id: d.get_i64(),
                        timeout: d.get_i32(),
                    });
                }
                LearnerMessage::Ping {
                    zxid: packet.zxid,
                    touches,
                }
            }
            PacketType::Revalidate => {
                let mut d = data();
                LearnerMessage::Revalidate {
                    session_id: crate::jute::read_i64(&mut d, "REVALIDATE session")?,
                    timeout: crate::jute::read_i32(&mut d, "REVALIDATE timeout")?,
                }
            }
            PacketType::Request => {
                let mut d = data();
                LearnerMessage::Request(ForwardedRequest {
                    session_id: crate::jute::read_i64(&mut d, "REQUEST session")?,
                    cxid: crate::jute::read_i32(&mut d, "REQUEST cxid")?,
                    op: crate::jute::read_i32(&mut d, "REQUEST type")?,
                    request: d,
                    auth_info: packet.auth_info.clone(),
                })
            }
            other => {
                return Err(DecodeError::BadValue {
                    what: "packet type from a learner",
                    value: other.code().into(),
                })
            }
        })
    }
}
