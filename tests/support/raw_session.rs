//! [`RawSession`]: one TCP connection speaking the ZooKeeper wire protocol frame by frame, with no
//! client library in between, so every reply field, error code and notification can be recorded
//! exactly as the server sent it.
//!
//! A connection starts with the handshake ([`RawSession::connect`]), then carries requests
//! (`RequestHeader` + [`RequestBody`]) and reads back [`Incoming`] frames: replies (decoded by the
//! opcode of the request with the same xid), watch notifications (xid -1) and ping replies (xid -2).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::codec::Framed;
use zk_proto::{
    ConnectRequest, ConnectResponse, FrameCodec, OpCode, Record, ReplyHeader, RequestBody,
    RequestHeader, ResponseBody, WatcherEvent, NOTIFICATION_XID, PING_XID,
};

/// The password length every ZooKeeper server hands out; a new session sends this many zeros.
pub const PASSWORD_LEN: usize = 16;

/// How long to wait for the answer to a handshake or a request before recording a timeout.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// The credentials and negotiated timeout of a ZooKeeper session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The session id the server assigned.
    pub session_id: i64,
    /// The session password the server assigned.
    pub passwd: Bytes,
    /// The negotiated session timeout in milliseconds.
    pub timeout_ms: i32,
}

/// What a handshake produced.
#[derive(Debug)]
pub enum Handshake {
    /// The server answered with a `ConnectResponse` (a zero timeout means "expired").
    Answered(ConnectResponse),
    /// The server closed the connection (or sent garbage) instead of answering.
    Refused(String),
}

/// One frame received from the server, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The reply to a request; `opcode` is the request's, found by xid.
    Reply {
        header: ReplyHeader,
        opcode: Option<OpCode>,
        /// The decoded body when the frame carried one (a failed request usually has none; a
        /// failed multi has one), or the decode error.
        body: Option<Result<ResponseBody, String>>,
        /// Bytes left over after decoding the body.
        trailing: usize,
    },
    /// A watch notification (xid -1).
    Notification {
        header: ReplyHeader,
        event: Result<WatcherEvent, String>,
    },
    /// The reply to a ping (xid -2).
    Pong { header: ReplyHeader },
    /// The server closed the connection.
    Closed,
    /// The frame could not be read or its header decoded.
    Broken(String),
}

/// A connection to a ZooKeeper server after its handshake.
pub struct RawSession {
    framed: Framed<TcpStream, FrameCodec>,
    next_xid: i32,
    pending: HashMap<i32, OpCode>,
    /// The largest reply-header zxid seen, sent as `lastZxidSeen` when this session reattaches.
    pub last_zxid_seen: i64,
}

impl std::fmt::Debug for RawSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSession")
            .field("next_xid", &self.next_xid)
            .field("last_zxid_seen", &self.last_zxid_seen)
            .finish()
    }
}

impl RawSession {
    /// Opens a TCP connection and sends `request` as the handshake. On an answer the connection is
    /// returned with it, ready for requests (unless the answer says "expired": the server then
    /// closes it).
    pub async fn connect(
        addr: SocketAddr,
        request: &ConnectRequest,
    ) -> Result<(Handshake, Option<RawSession>), String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
        let mut framed = Framed::new(stream, FrameCodec::default());
        framed
            .send(request.to_bytes())
            .await
            .map_err(|e| format!("sending the handshake to {addr}: {e}"))?;
        let deadline = Instant::now() + REPLY_DEADLINE;
        let frame = match timeout_at(deadline, framed.next()).await {
            Err(_) => return Ok((Handshake::Refused("no handshake answer".into()), None)),
            Ok(None) => return Ok((Handshake::Refused("closed".into()), None)),
            Ok(Some(Err(e))) => return Ok((Handshake::Refused(format!("read error: {e}")), None)),
            Ok(Some(Ok(frame))) => frame,
        };
        let mut frame = frame;
        match ConnectResponse::read(&mut frame) {
            Ok(response) => {
                let session = RawSession {
                    framed,
                    next_xid: 1,
                    pending: HashMap::new(),
                    last_zxid_seen: request.last_zxid_seen,
                };
                Ok((Handshake::Answered(response), Some(session)))
            }
            Err(e) => Ok((
                Handshake::Refused(format!("undecodable handshake answer: {e}")),
                None,
            )),
        }
    }

    /// Sends `body` with the next xid (or `xid` when given, e.g. -4 for auth, -8 for setWatches)
    /// and remembers its opcode so the reply can be decoded. Returns the xid used.
    pub async fn send(&mut self, body: &RequestBody, xid: Option<i32>) -> Result<i32, String> {
        let xid = xid.unwrap_or_else(|| {
            let xid = self.next_xid;
            self.next_xid += 1;
            xid
        });
        let opcode = body.opcode();
        let mut buf = BytesMut::new();
        RequestHeader {
            xid,
            opcode: opcode.code(),
        }
        .write(&mut buf);
        body.write(&mut buf);
        self.pending.insert(xid, opcode);
        self.framed
            .send(buf.freeze())
            .await
            .map_err(|e| format!("sending {opcode:?}: {e}"))?;
        Ok(xid)
    }

    /// Sends a request header with any opcode followed by raw body bytes (for opcodes and bodies
    /// no well-behaved client sends). The reply is not decoded beyond its header.
    pub async fn send_raw(&mut self, xid: i32, opcode: i32, body: &[u8]) -> Result<(), String> {
        let mut buf = BytesMut::new();
        RequestHeader { xid, opcode }.write(&mut buf);
        buf.extend_from_slice(body);
        self.framed
            .send(buf.freeze())
            .await
            .map_err(|e| format!("sending opcode {opcode}: {e}"))
    }

    /// Sends a ping (xid -2); its reply is [`Incoming::Pong`].
    pub async fn ping(&mut self) -> Result<(), String> {
        let mut buf = BytesMut::new();
        RequestHeader {
            xid: PING_XID,
            opcode: OpCode::Ping.code(),
        }
        .write(&mut buf);
        self.framed
            .send(buf.freeze())
            .await
            .map_err(|e| format!("sending a ping: {e}"))
    }

    /// Reads the next frame, or `None` when `deadline` passes first.
    pub async fn recv(&mut self, deadline: Instant) -> Option<Incoming> {
        let frame = match timeout_at(deadline, self.framed.next()).await {
            Err(_) => return None,
            Ok(None) => return Some(Incoming::Closed),
            Ok(Some(Err(e))) => return Some(Incoming::Broken(format!("read error: {e}"))),
            Ok(Some(Ok(frame))) => frame,
        };
        Some(self.decode(frame))
    }

    fn decode(&mut self, mut frame: Bytes) -> Incoming {
        let header = match ReplyHeader::read(&mut frame) {
            Ok(header) => header,
            Err(e) => return Incoming::Broken(format!("undecodable reply header: {e}")),
        };
        if header.xid == NOTIFICATION_XID {
            return Incoming::Notification {
                header,
                event: WatcherEvent::read(&mut frame).map_err(|e| e.to_string()),
            };
        }
        if header.xid == PING_XID {
            return Incoming::Pong { header };
        }
        if header.zxid > self.last_zxid_seen {
            self.last_zxid_seen = header.zxid;
        }
        let opcode = self.pending.remove(&header.xid);
        let body = match opcode {
            _ if frame.is_empty() => None,
            Some(op) => Some(ResponseBody::read(op, &mut frame).map_err(|e| e.to_string())),
            None => Some(Err(format!("unexpected xid, {} body bytes", frame.len()))),
        };
        Incoming::Reply {
            header,
            opcode,
            body,
            trailing: frame.len(),
        }
    }
}

/// The handshake of a new session asking for `timeout_ms`.
pub fn new_session_request(timeout_ms: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: timeout_ms,
        session_id: 0,
        passwd: Some(Bytes::from_static(&[0; PASSWORD_LEN])),
        read_only: Some(false),
    }
}

/// The handshake that reattaches the session `creds` (with `passwd` instead of its own when given).
pub fn reattach_request(
    creds: &Credentials,
    last_zxid_seen: i64,
    passwd: Option<Bytes>,
) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen,
        timeout: creds.timeout_ms,
        session_id: creds.session_id,
        passwd: Some(passwd.unwrap_or_else(|| creds.passwd.clone())),
        read_only: Some(false),
    }
}
