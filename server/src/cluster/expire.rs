//! Expiring a client's session from outside, as Curator's `KillSession` does: open a second
//! connection that resumes the session (its id and password) and send `closeSession` on it.
//!
//! The session ends through the ensemble like any close (a closeSession txn): its ephemerals vanish
//! everywhere, the server that held the client's connection drops it, and the client's next
//! reconnect is told the session expired. The password is not needed from the client: zk-server
//! derives it from the session id as Apache does ([`session_password`]).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use zk_proto::{
    ConnectRequest, ConnectResponse, FrameCodec, OpCode, Record, ReplyHeader, RequestHeader,
};

use crate::session::session_password;

/// How long closing a session through one server may take (connect, handshake, commit of the
/// closeSession txn through the quorum).
pub const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The xid of the closeSession request on the borrowed connection.
const CLOSE_XID: i32 = 1;

/// What closing a session found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// The session was live and is now closed.
    Closed,
    /// The server refused to resume it: it had already expired (or never existed).
    AlreadyGone,
}

/// Why one server could not close the session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloseError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame: {0}")]
    Frame(#[from] zk_proto::FrameError),
    #[error("bad reply: {0}")]
    Decode(#[from] zk_proto::DecodeError),
    #[error("the server closed the connection")]
    Eof,
    #[error("closeSession failed with error code {0}")]
    Refused(i32),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Resumes `session_id` on the server at `addr` and closes it.
pub(crate) async fn close_session(
    addr: SocketAddr,
    session_id: i64,
    timeout_ms: i32,
) -> Result<Closed, CloseError> {
    tokio::time::timeout(
        SESSION_CLOSE_TIMEOUT,
        close_session_inner(addr, session_id, timeout_ms),
    )
    .await
    .map_err(|_| CloseError::Timeout(SESSION_CLOSE_TIMEOUT))?
}

async fn close_session_inner(
    addr: SocketAddr,
    session_id: i64,
    timeout_ms: i32,
) -> Result<Closed, CloseError> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, FrameCodec::default());
    let connect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: timeout_ms,
        session_id,
        passwd: Some(Bytes::copy_from_slice(&session_password(session_id))),
        read_only: Some(false),
    };
    conn.send(encode(|b| connect.write(b))).await?;
    let mut frame = conn.next().await.ok_or(CloseError::Eof)??;
    let resumed = ConnectResponse::read(&mut frame)?;
    if resumed.session_id == 0 || resumed.timeout <= 0 {
        return Ok(Closed::AlreadyGone);
    }
    let close = RequestHeader {
        xid: CLOSE_XID,
        opcode: OpCode::CloseSession.code(),
    };
    conn.send(encode(|b| close.write(b))).await?;
    loop {
        let mut frame = conn.next().await.ok_or(CloseError::Eof)??;
        let reply = ReplyHeader::read(&mut frame)?;
        if reply.xid != CLOSE_XID {
            continue; // a watch event or a ping: not ours
        }
        return match reply.err {
            0 => Ok(Closed::Closed),
            // The session expired between the handshake and the close.
            e if e == zk_proto::ErrorCode::SessionExpired as i32 => Ok(Closed::AlreadyGone),
            e => Err(CloseError::Refused(e)),
        };
    }
}

fn encode(fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut b = BytesMut::new();
    fill(&mut b);
    b.freeze()
}
