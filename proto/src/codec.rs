//! Framing: every ZooKeeper message is a 4-byte big-endian length followed by that many bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::DecodeError;

/// Apache ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes (`BinaryInputArchive.maxBuffer`).
/// Servers reject a request frame longer than this and close the connection.
pub const DEFAULT_JUTE_MAXBUFFER: usize = 0xfffff;

/// Apache's minimum `zookeeper.jute.maxbuffer.extrasize` (`BinaryInputArchive`): the slack allowed
/// on top of jute.maxbuffer when reading records. Apache defaults the slack to jute.maxbuffer
/// itself and never below this.
pub const MIN_JUTE_MAXBUFFER_EXTRASIZE: usize = 1024;

/// Length of the frame prefix.
pub const FRAME_PREFIX_LEN: usize = 4;

/// A [`tokio_util::codec`] codec for length-prefixed frames.
///
/// Decoding yields each frame's body as [`Bytes`] (a slice of the read buffer, no copy).
/// A negative length, or one above the configured maximum, is an error reported as soon as the
/// prefix arrives, before any buffer is reserved for the body.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_len: usize,
}

impl FrameCodec {
    /// A codec accepting bodies of at most `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameCodec { max_frame_len }
    }

    /// The configured maximum body length.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

impl Default for FrameCodec {
    /// jute.maxbuffer plus Apache's default slack (as a reader of records accepts).
    fn default() -> Self {
        FrameCodec::new(DEFAULT_JUTE_MAXBUFFER + DEFAULT_JUTE_MAXBUFFER)
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() < FRAME_PREFIX_LEN {
            return Ok(None);
        }
        let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if len < 0 || len as usize > self.max_frame_len {
            return Err(FrameError::Decode(DecodeError::FrameTooLarge {
                len: len.into(),
                max: self.max_frame_len,
            }));
        }
        let len = len as usize;
        if src.len() < FRAME_PREFIX_LEN + len {
            src.reserve(FRAME_PREFIX_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(FRAME_PREFIX_LEN);
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(FRAME_PREFIX_LEN + body.len());
        dst.put_i32(i32::try_from(body.len()).unwrap_or(i32::MAX));
        dst.put_slice(&body);
        Ok(())
    }
}

/// Errors of [`FrameCodec`]: I/O from the transport or an invalid frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The frame is invalid.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Appends one frame to `dst`: `fill` writes the body (header and record) in place, then the
/// length prefix is patched, so no intermediate buffer is needed.
///
/// ```
/// use bytes::BytesMut;
/// use zk_proto::{write_frame, OpCode, Record, RequestHeader, records::node::PathRequest};
/// let mut out = BytesMut::new();
/// write_frame(&mut out, |buf| {
///     RequestHeader { xid: 1, opcode: OpCode::Sync.code() }.write(buf);
///     PathRequest { path: "/".into() }.write(buf);
/// });
/// assert_eq!(&out[..4], &[0, 0, 0, 13]);
/// ```
pub fn write_frame(dst: &mut BytesMut, fill: impl FnOnce(&mut BytesMut)) {
    let start = dst.len();
    dst.put_i32(0);
    fill(dst);
    let len = i32::try_from(dst.len() - start - FRAME_PREFIX_LEN).unwrap_or(i32::MAX);
    dst[start..start + FRAME_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_and_whole_frames_split() {
        let mut c = FrameCodec::new(16);
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[2, 0xaa]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[0xbb, 0, 0, 0, 0]);
        assert_eq!(
            c.decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(&[0xaa, 0xbb])
        );
        assert_eq!(c.decode(&mut buf).unwrap().unwrap(), Bytes::new());
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_and_negative_lengths_fail_before_allocation() {
        let mut c = FrameCodec::new(16);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 17][..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(FrameError::Decode(DecodeError::FrameTooLarge {
                len: 17,
                max: 16
            }))
        ));
        assert!(buf.capacity() < 64);
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(c.decode(&mut buf).is_err());
    }
}
