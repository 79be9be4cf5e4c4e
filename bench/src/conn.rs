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
    /// Connects and performs the handshake.
    pub async fn connect(addr: &str) -> Result<Conn, BenchError> {
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
            timeout: SESSION_TIMEOUT_MS,
            passwd: Some(Bytes::from_static(&[0; 16])),
            read_only: Some(false),
            ..Default::default()
        };
        write_frame(&mut conn.wbuf, |b| req.write(b));
        conn.flush().await?;
        let mut frame = conn.read_frame().await?;
        let resp = ConnectResponse::read(&mut frame)?;
        if resp.session_id == 0 {
            return Err(BenchError::Protocol("session refused".into()));
        }
        Ok(conn)
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
