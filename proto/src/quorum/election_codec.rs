//! Framing on the election port: an optional unframed [`InitialMessage`], then frames of
//! `int length` + payload (`QuorumCnxManager.SendWorker.send` / `RecvWorker.run`).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{InitialMessage, Notification};
use crate::{DecodeError, FrameError};

/// `QuorumCnxManager.PACKETMAXSIZE`: the largest election message Apache receives (512 KiB).
/// `RecvWorker` closes the connection on a length of zero or less, or above this.
pub const MAX_ELECTION_MESSAGE_LEN: usize = 512 * 1024;

/// One item read from an election connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionItem {
    /// The connecting peer's first message (only on the accepting side).
    Initial(InitialMessage),
    /// One frame's payload: decode it with [`Notification::decode`] (a payload that does not
    /// decode is dropped; the connection stays up, as in Apache).
    Frame(Bytes),
}

/// A [`tokio_util::codec`] codec for one election connection.
///
/// [`ElectionCodec::accepting`] expects the [`InitialMessage`] first (the side that accepted the
/// TCP connection); [`ElectionCodec::connecting`] only frames. Encoding writes a frame around a
/// payload (`Encoder<Bytes>`) or a [`Notification`] (`Encoder<&Notification>`); the connecting
/// side writes its [`InitialMessage`] with [`InitialMessage::write`] before the first frame.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use zk_proto::quorum::{ElectionCodec, ElectionItem, InitialMessage, Notification, ServerState};
///
/// let mut wire = BytesMut::new();
/// InitialMessage::V1 { sid: 2, election_addr: "127.0.0.1:3888".into() }.write(&mut wire);
/// let vote = Notification::new(ServerState::Looking, 2, 0, 1, 0, "version=0");
/// ElectionCodec::connecting().encode(&vote, &mut wire).unwrap();
///
/// let mut rx = ElectionCodec::accepting();
/// assert!(matches!(rx.decode(&mut wire).unwrap(), Some(ElectionItem::Initial(m)) if m.sid() == 2));
/// let Some(ElectionItem::Frame(payload)) = rx.decode(&mut wire).unwrap() else { panic!() };
/// assert_eq!(Notification::decode(&payload).unwrap(), vote);
/// ```
#[derive(Debug, Clone)]
pub struct ElectionCodec {
    expect_initial: bool,
    max_len: usize,
}

impl ElectionCodec {
    /// For the side that accepted the connection: the initial message comes first.
    pub fn accepting() -> Self {
        ElectionCodec {
            expect_initial: true,
            max_len: MAX_ELECTION_MESSAGE_LEN,
        }
    }

    /// For the side that dialled: frames only.
    pub fn connecting() -> Self {
        ElectionCodec {
            expect_initial: false,
            max_len: MAX_ELECTION_MESSAGE_LEN,
        }
    }

    /// Overrides the maximum frame payload (default [`MAX_ELECTION_MESSAGE_LEN`]).
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }
}

impl Decoder for ElectionCodec {
    type Item = ElectionItem;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ElectionItem>, FrameError> {
        if self.expect_initial {
            return Ok(InitialMessage::decode(src)?.map(|m| {
                self.expect_initial = false;
                ElectionItem::Initial(m)
            }));
        }
        if src.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if len <= 0 || len as usize > self.max_len {
            return Err(FrameError::Decode(DecodeError::FrameTooLarge {
                len: len.into(),
                max: self.max_len,
            }));
        }
        let len = len as usize;
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(ElectionItem::Frame(src.split_to(len).freeze())))
    }
}

impl Encoder<Bytes> for ElectionCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(4 + payload.len());
        dst.put_i32(i32::try_from(payload.len()).unwrap_or(i32::MAX));
        dst.put_slice(&payload);
        Ok(())
    }
}

impl Encoder<&Notification> for ElectionCodec {
    type Error = FrameError;

    fn encode(&mut self, n: &Notification, dst: &mut BytesMut) -> Result<(), FrameError> {
        crate::write_frame(dst, |buf| n.write(buf));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_negative_and_oversized_frames_fail_before_allocation() {
        for len in [0i32, -1, (MAX_ELECTION_MESSAGE_LEN + 1) as i32] {
            let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
            assert!(ElectionCodec::connecting().decode(&mut buf).is_err());
            assert!(buf.capacity() < 64);
        }
        let mut ok = BytesMut::from(&(MAX_ELECTION_MESSAGE_LEN as i32).to_be_bytes()[..]);
        assert_eq!(ElectionCodec::connecting().decode(&mut ok).unwrap(), None);
    }
}
