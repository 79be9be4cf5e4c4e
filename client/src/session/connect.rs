//! One connection attempt (TCP connect + ConnectRequest/ConnectResponse) and the reconnect backoff.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use zk_proto::{
    write_frame, ConnectRequest, ConnectResponse, FrameCodec, OpCode, Record, RequestHeader,
};

/// The length of the password of a new session (`ConnectRequest.passwd` is 16 zero bytes).
pub(crate) const NEW_SESSION_PASSWORD_LEN: usize = 16;

/// An established, handshaken connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    /// Bytes read after the ConnectResponse.
    pub(crate) leftover: BytesMut,
    pub(crate) response: ConnectResponse,
}

/// Connects to `host` and performs the handshake, all within `timeout`.
pub(crate) async fn attempt(
    host: &(String, u16),
    request: &ConnectRequest,
    timeout: Duration,
    max_frame_len: usize,
) -> Result<Connection, String> {
    let work = async {
        let mut stream = TcpStream::connect((host.0.as_str(), host.1))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| request.write(b));
        stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write handshake: {e}"))?;
        let mut codec = FrameCodec::new(max_frame_len);
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(mut frame)) => {
                    let response = ConnectResponse::read(&mut frame)
                        .map_err(|e| format!("bad ConnectResponse: {e}"))?;
                    return Ok(Connection {
                        stream,
                        leftover: buf,
                        response,
                    });
                }
                Ok(None) => {}
                Err(e) => return Err(format!("bad handshake frame: {e}")),
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("server closed the connection during the handshake".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("read handshake: {e}")),
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no handshake within {timeout:?}")),
    }
}

/// Best effort: asks the server to close a session we no longer want (a stale session resumed after
/// the client had declared it expired), without waiting for the answer.
pub(crate) async fn close_stale(mut conn: Connection) {
    let mut out = BytesMut::new();
    write_frame(&mut out, |b| {
        RequestHeader {
            xid: 1,
            opcode: OpCode::CloseSession.code(),
        }
        .write(b)
    });
    let _ = conn.stream.write_all(&out).await;
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_millis(500), conn.stream.read(&mut sink)).await;
}

/// Capped exponential backoff with jitter: each delay is uniform in [cap/2, cap], where cap starts
/// at `min` and doubles per failed round up to `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    cap: Duration,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Backoff {
            min,
            max: max.max(min),
            cap: min,
            rng: h.finish() | 1,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.cap = self.min;
    }

    /// The next delay; grows the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let cap = self.cap;
        self.cap = (self.cap * 2).min(self.max);
        let half = cap / 2;
        half + half.mul_f64(self.random_unit())
    }

    /// A uniform index below `n` (for shuffling hosts).
    pub(crate) fn random_below(&mut self, n: usize) -> usize {
        (self.random_unit() * n as f64) as usize % n.max(1)
    }

    fn random_unit(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let v = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The password to send for a session id (zeros for a new session).
pub(crate) fn password_or_zeros(session_id: i64, password: &[u8]) -> Bytes {
    if session_id == 0 || password.is_empty() {
        Bytes::from(vec![0u8; NEW_SESSION_PASSWORD_LEN])
    } else {
        Bytes::copy_from_slice(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(5) && delays[0] <= Duration::from_millis(10));
        for d in &delays {
            assert!(*d <= Duration::from_millis(400));
        }
        assert!(delays[11] >= Duration::from_millis(200));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(10));
        for n in 1..10 {
            assert!(b.random_below(n) < n);
        }
    }
}
