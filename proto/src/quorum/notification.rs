//! The FastLeaderElection notification (`FastLeaderElection.buildMsg`, parsed by
//! `Messenger.WorkerReceiver.run`) and the peer states it carries.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::DecodeError;

/// The notification format version 3.8 writes when it has a config to send (always, in practice):
/// `buildMsg(..., byte[] configData)` writes 2, then the config length and bytes.
pub const NOTIFICATION_VERSION: i32 = 2;

/// The shortest notification Apache reads (28 bytes: state, leader, zxid, electionEpoch; the
/// pre-ZOOKEEPER-107 layout). Shorter ones are dropped.
pub const MIN_NOTIFICATION_LEN: usize = 28;

/// Length of the layout without peer epoch (state, leader, zxid, electionEpoch).
const LEN_NO_PEER_EPOCH: usize = 28;
/// Length of the layout without a usable version (3.4's 40 bytes: Apache ignores the int at 36).
const LEN_NO_VERSION: usize = 40;

/// A peer's state (`QuorumPeer.ServerState`; the wire carries its ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ServerState {
    /// Electing a leader.
    Looking = 0,
    /// Following an elected leader.
    Following = 1,
    /// Leading.
    Leading = 2,
    /// Observing (non-voting).
    Observing = 3,
}

impl ServerState {
    /// The wire value (the enum ordinal).
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl TryFrom<i32> for ServerState {
    type Error = DecodeError;

    /// Apache drops a notification from a voter whose state is not 0..=3.
    fn try_from(v: i32) -> Result<Self, DecodeError> {
        Ok(match v {
            0 => ServerState::Looking,
            1 => ServerState::Following,
            2 => ServerState::Leading,
            3 => ServerState::Observing,
            _ => {
                return Err(DecodeError::BadValue {
                    what: "server state",
                    value: v.into(),
                })
            }
        })
    }
}

/// A leader-election notification: the sender's vote and state. It travels as one election
/// frame (see [`ElectionCodec`](super::ElectionCodec)).
///
/// Encoding is canonical: with a `version` above 1 the 3.8 layout (44 bytes + config); otherwise
/// the 40-byte layout 3.8's `buildMsg` without config writes (version int 1). Decoding follows
/// `WorkerReceiver` for older and shorter messages: 28 bytes mean no peer epoch (it is taken from
/// the zxid's high bits) and version 0; exactly 40 bytes mean version 0 whatever the int at
/// offset 36 says; a config is read only when the version is above 1, and bytes after it are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The sender's state.
    pub state: ServerState,
    /// The sid the sender votes for.
    pub leader: i64,
    /// The last zxid of the proposed leader.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// The epoch of the proposed leader.
    pub peer_epoch: i64,
    /// The format version as Apache interprets it: 2 in 3.8 (with config), 0 for 28- and
    /// 40-byte messages.
    pub version: i32,
    /// The sender's dynamic config text (`QuorumVerifier.toString()`: `server.N=...` lines and
    /// `version=<hex>`), present when `version > 1`.
    pub config: Option<Bytes>,
}

impl Notification {
    /// A 3.8 notification (version 2) carrying `config`.
    pub fn new(
        state: ServerState,
        leader: i64,
        zxid: i64,
        election_epoch: i64,
        peer_epoch: i64,
        config: impl Into<Bytes>,
    ) -> Self {
        Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version: NOTIFICATION_VERSION,
            config: Some(config.into()),
        }
    }

    /// The config text, decoded as Apache does (`new String(b, UTF_8)`: invalid bytes replaced).
    pub fn config_text(&self) -> Option<String> {
        self.config
            .as_ref()
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }

    /// Appends the notification (without the frame length).
    pub fn write(&self, buf: &mut BytesMut) {
        buf.put_i32(self.state.code());
        buf.put_i64(self.leader);
        buf.put_i64(self.zxid);
        buf.put_i64(self.election_epoch);
        buf.put_i64(self.peer_epoch);
        if self.version > 1 {
            let config = self.config.as_deref().unwrap_or_default();
            buf.put_i32(self.version);
            buf.put_i32(i32::try_from(config.len()).unwrap_or(i32::MAX));
            buf.put_slice(config);
        } else {
            buf.put_i32(1);
        }
    }

    /// The encoded notification (the frame payload).
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.write(&mut buf);
        buf.freeze()
    }

    /// Decodes one frame payload as `WorkerReceiver` does. Where Apache skips a message (too
    /// short, partial, a config length out of range, an unknown state) this is an error; the
    /// caller drops the message and keeps the connection, as Apache does.
    pub fn decode(payload: &[u8]) -> Result<Notification, DecodeError> {
        let capacity = payload.len();
        if capacity < MIN_NOTIFICATION_LEN {
            return Err(DecodeError::Truncated {
                what: "election notification",
                needed: MIN_NOTIFICATION_LEN - capacity,
            });
        }
        let mut b = payload;
        let state = ServerState::try_from(b.get_i32())?;
        let leader = b.get_i64();
        let zxid = b.get_i64();
        let election_epoch = b.get_i64();
        let mut version = 0;
        let mut config = None;
        let peer_epoch = if capacity == LEN_NO_PEER_EPOCH {
            super::epoch_of(zxid)
        } else {
            let peer_epoch = get_i64(&mut b, "notification peer epoch")?;
            if capacity != LEN_NO_VERSION {
                version = get_i32(&mut b, "notification version")?;
                if version > 1 {
                    let len = get_i32(&mut b, "notification config length")?;
                    if len < 0 || len as usize > capacity || len as usize > b.len() {
                        return Err(DecodeError::BadLength {
                            what: "notification config",
                            len: len.into(),
                        });
                    }
                    config = Some(Bytes::copy_from_slice(&b[..len as usize]));
                }
            }
            peer_epoch
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

fn get_i64(b: &mut &[u8], what: &'static str) -> Result<i64, DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::Truncated {
            what,
            needed: 8 - b.len(),
        });
    }
    Ok(b.get_i64())
}

fn get_i32(b: &mut &[u8], what: &'static str) -> Result<i32, DecodeError> {
    if b.len() < 4 {
        return Err(DecodeError::Truncated {
            what,
            needed: 4 - b.len(),
        });
    }
    Ok(b.get_i32())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_be_bytes());
        v.extend_from_slice(&3i64.to_be_bytes());
        v.extend_from_slice(&0x5_0000_0007i64.to_be_bytes());
        v.extend_from_slice(&9i64.to_be_bytes());
        v.extend_from_slice(&4i64.to_be_bytes());
        v.extend_from_slice(&1i32.to_be_bytes());
        v.truncate(len);
        v
    }

    #[test]
    fn older_layouts_read_as_apache_does() {
        let n = Notification::decode(&base(28)).unwrap();
        assert_eq!((n.peer_epoch, n.version, n.config), (5, 0, None));
        let n = Notification::decode(&base(40)).unwrap();
        assert_eq!((n.peer_epoch, n.version, n.config.clone()), (4, 0, None));
        // 3.8's buildMsg without config re-encodes to the same 40 bytes.
        assert_eq!(&n.to_bytes()[..], &base(40)[..]);
        assert!(Notification::decode(&base(27)).is_err());
        assert!(Notification::decode(&base(36)).is_err()); // version int missing: underflow
    }

    #[test]
    fn config_length_is_checked() {
        let mut v = base(36);
        v.extend_from_slice(&2i32.to_be_bytes());
        v.extend_from_slice(&5i32.to_be_bytes());
        v.extend_from_slice(b"abcd");
        assert!(Notification::decode(&v).is_err());
        v.push(b'e');
        v.extend_from_slice(b"trailing");
        let n = Notification::decode(&v).unwrap();
        assert_eq!(n.config.as_deref(), Some(&b"abcde"[..]));
        let mut neg = base(36);
        neg.extend_from_slice(&2i32.to_be_bytes());
        neg.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(Notification::decode(&neg).is_err());
        let mut bad_state = base(40);
        bad_state[3] = 4;
        assert!(Notification::decode(&bad_state).is_err());
    }
}
