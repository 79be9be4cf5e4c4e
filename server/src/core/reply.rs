//! Encoding replies, notifications and handshake answers as frames.

use bytes::{Bytes, BytesMut};
use zk_proto::{
    write_frame, ConnectResponse, ErrorCode, EventType, KeeperState, Record, ReplyHeader,
    ResponseBody, WatcherEvent, NOTIFICATION_XID,
};

/// The body of a successful reply.
#[derive(Debug, Clone)]
pub enum ReplyBody {
    /// A typed body.
    Body(ResponseBody),
    /// addWatch answers an `ErrorResponse{err: 0}` body (four zero bytes), which the Java
    /// client deserializes.
    ZeroErr,
}

impl From<ResponseBody> for ReplyBody {
    fn from(b: ResponseBody) -> Self {
        ReplyBody::Body(b)
    }
}

/// A reply frame: header, then the body only when `err` is OK.
pub fn reply_frame(xid: i32, zxid: i64, result: &Result<ReplyBody, ErrorCode>) -> Bytes {
    let mut buf = BytesMut::with_capacity(capacity_for(result));
    write_frame(&mut buf, |b| match result {
        Ok(body) => {
            ReplyHeader { xid, zxid, err: 0 }.write(b);
            match body {
                ReplyBody::Body(r) => r.write(b),
                ReplyBody::ZeroErr => 0i32.write(b),
            }
        }
        Err(e) => ReplyHeader {
            xid,
            zxid,
            err: e.code(),
        }
        .write(b),
    });
    buf.freeze()
}

/// Bytes to reserve for a reply so that encoding it never grows the buffer: length prefix,
/// header (16) and a Stat (68) fit in 128; data and child names come on top.
fn capacity_for(result: &Result<ReplyBody, ErrorCode>) -> usize {
    const BASE: usize = 128;
    match result {
        Ok(ReplyBody::Body(ResponseBody::GetData(r))) => {
            BASE + r.data.as_ref().map_or(0, |d| d.len())
        }
        Ok(ReplyBody::Body(ResponseBody::GetChildren(r))) => {
            BASE + r.children.iter().map(|c| 4 + c.len()).sum::<usize>()
        }
        Ok(ReplyBody::Body(ResponseBody::GetChildren2(r))) => {
            BASE + r.children.iter().map(|c| 4 + c.len()).sum::<usize>()
        }
        _ => BASE,
    }
}

/// A watch notification frame (xid -1, zxid -1, as `NIOServerCnxn.process` sends it).
pub fn event_frame(event: EventType, path: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(32 + path.len());
    write_frame(&mut buf, |b| {
        ReplyHeader {
            xid: NOTIFICATION_XID,
            zxid: -1,
            err: 0,
        }
        .write(b);
        WatcherEvent {
            event_type: event.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.to_string(),
        }
        .write(b);
    });
    buf.freeze()
}

/// The handshake answer (`finishSessionInit`): an invalid session gets timeout 0, session 0
/// and 16 zero bytes. `read_only` is echoed only to clients that sent the flag.
pub fn connect_frame(
    valid: bool,
    timeout: i32,
    session: i64,
    passwd: &[u8],
    client_sent_read_only: bool,
) -> Bytes {
    connect_frame_with(
        valid,
        timeout,
        session,
        passwd,
        client_sent_read_only.then_some(false),
    )
}

/// The handshake answer of a read-only server: the session is read-only.
pub fn read_only_connect_frame(timeout: i32, session: i64, passwd: &[u8]) -> Bytes {
    connect_frame_with(true, timeout, session, passwd, Some(true))
}

fn connect_frame_with(
    valid: bool,
    timeout: i32,
    session: i64,
    passwd: &[u8],
    read_only: Option<bool>,
) -> Bytes {
    let rsp = ConnectResponse {
        protocol_version: 0,
        timeout: if valid { timeout } else { 0 },
        session_id: if valid { session } else { 0 },
        passwd: Some(if valid {
            Bytes::copy_from_slice(passwd)
        } else {
            Bytes::from_static(&[0u8; 16])
        }),
        read_only,
    };
    let mut buf = BytesMut::with_capacity(48);
    write_frame(&mut buf, |b| rsp.write(b));
    buf.freeze()
}
