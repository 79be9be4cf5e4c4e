//! One raw ZooKeeper session over TCP: handshake, then frames in and out.
//!
//! Requests are written into a buffer and flushed in batches; replies are decoded in place from
//! the read buffer. Replies on one session arrive in request order, which the load generator uses
//! to match latencies without a map.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use zk_proto::{
    write_frame, ConnectRequest, ConnectResponse, FrameCodec, Record, ReplyHeader, RequestBody,
    RequestHeader, NOTIFICATION_XID,
};

use crate::error::BenchError;

/// Session timeout the bench asks for, in milliseconds.
pub const SESSION_TIMEOUT_MS: i32 = 30_000;

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// Length of the session password a new session presents (all zeros; the server assigns the real one).
const NEW_SESSION_PASSWD_LEN: usize = 16;

/// What a client presents in its handshake: a new session (id 0) or one to resume.
#[derive(Debug, Clone)]
pub struct Session {
    /// Session id, 0 for a new session.
    pub id: i64,
    /// Password the server gave with the id.
    pub passwd: Bytes,
    /// Requested (or negotiated) timeout in milliseconds.
    pub timeout_ms: i32,
    /// Highest zxid seen on this session; a server behind it refuses the resumption, as in Apache.
    pub last_zxid: i64,
}

impl Session {
    /// A new session asking for `timeout_ms`.
    pub fn new(timeout_ms: i32) -> Session {
        Session {
            id: 0,
            passwd: Bytes::from_static(&[0; NEW_SESSION_PASSWD_LEN]),
            timeout_ms,
            last_zxid: 0,
        }
    }

    /// Adopts the server's answer to a handshake (id, password, negotiated timeout).
    pub fn established(&mut self, resp: &ConnectResponse) {
        self.id = resp.session_id;
        self.passwd = resp.passwd.clone().unwrap_or_default();
        self.timeout_ms = resp.timeout;
    }
}

/// The `host:port` entries of a connect string (`h1:p1,h2:p2,…`, an optional `/chroot` suffix is not
/// supported). Session `i` of a load uses entry `i % len`, so sessions spread over an ensemble the same
/// way on every run.
pub fn hosts(connect: &str) -> Vec<String> {
    connect
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect()
}

/// A connected session.
pub struct Conn {
    stream: TcpStream,
    codec: FrameCodec,
    rbuf: BytesMut,
    /// Pending output.
    pub wbuf: BytesMut,
    next_xid: i32,
}

impl Conn {
    /// Connects and starts a new session; fails if the server refuses it.
    pub async fn connect(addr: &str) -> Result<Conn, BenchError> {
        let (conn, resp) = Conn::handshake(addr, &Session::new(SESSION_TIMEOUT_MS)).await?;
        if resp.session_id == 0 {
            return Err(BenchError::Protocol("session refused".into()));
        }
        Ok(conn)
    }

    /// Connects and presents `session` (a new one when its id is 0, else a resumption); returns the
    /// server's answer as is, so the caller can tell an expired session (id 0) from a live one.
    pub async fn handshake(
        addr: &str,
        session: &Session,
    ) -> Result<(Conn, ConnectResponse), BenchError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            codec: FrameCodec::default(),
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            next_xid: 1,
        };
        let req = ConnectRequest {
            last_zxid_seen: session.last_zxid,
            timeout: session.timeout_ms,
            session_id: session.id,
            passwd: Some(session.passwd.clone()),
            read_only: Some(false),
            ..Default::default()
        };
        write_frame(&mut conn.wbuf, |b| req.write(b));
        conn.flush().await?;
        let mut frame = conn.read_frame().await?;
        let resp = ConnectResponse::read(&mut frame)?;
        Ok((conn, resp))
    }

    /// Queues a request; returns its xid.
    pub fn queue(&mut self, body: &RequestBody) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let header = RequestHeader {
            xid,
            opcode: body.opcode().code(),
        };
        write_frame(&mut self.wbuf, |b| {
            header.write(b);
            body.write(b);
        });
        xid
    }

    /// Writes all queued requests.
    pub async fn flush(&mut self) -> Result<(), BenchError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Reads the next frame (any kind).
    pub async fn read_frame(&mut self) -> Result<Bytes, BenchError> {
        loop {
            if let Some(frame) = self.codec.decode(&mut self.rbuf)? {
                return Ok(frame);
            }
            self.rbuf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(BenchError::Protocol("server closed the connection".into()));
            }
        }
    }

    /// Decodes every complete frame already buffered, without waiting.
    pub fn try_frame(&mut self) -> Result<Option<Bytes>, BenchError> {
        Ok(self.codec.decode(&mut self.rbuf)?)
    }

    /// Waits for more input.
    pub async fn fill(&mut self) -> Result<(), BenchError> {
        self.rbuf.reserve(READ_CHUNK);
        if self.stream.read_buf(&mut self.rbuf).await? == 0 {
            return Err(BenchError::Protocol("server closed the connection".into()));
        }
        Ok(())
    }

    /// Sends one request and waits for its reply header and body (skipping notifications).
    pub async fn call(
        &mut self,
        op: &'static str,
        body: &RequestBody,
    ) -> Result<(ReplyHeader, Bytes), BenchError> {
        let xid = self.queue(body);
        self.flush().await?;
        loop {
            let mut frame = self.read_frame().await?;
            let header = ReplyHeader::read(&mut frame)?;
            if header.xid == NOTIFICATION_XID {
                continue;
            }
            if header.xid != xid {
                return Err(BenchError::Protocol(format!(
                    "{op}: reply xid {} for request {xid}",
                    header.xid
                )));
            }
            return Ok((header, frame));
        }
    }
}
