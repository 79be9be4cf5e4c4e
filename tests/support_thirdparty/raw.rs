//! A raw ZooKeeper session over zk-proto frames: no client library between the test and the
//! server, so the test knows exactly which request was sent and which reply came back.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use zk_proto::records::auth::AuthPacket;
use zk_proto::records::children::GetChildrenRequest;
use zk_proto::records::node::{
    CreateRequest, DeleteRequest, GetDataRequest, PathRequest, SetDataRequest,
};
use zk_proto::{
    write_frame, Acl, ConnectRequest, ConnectResponse, FrameCodec, Record, ReplyHeader,
    RequestBody, RequestHeader, ResponseBody, WatcherEvent, AUTH_XID, NOTIFICATION_XID, PING_XID,
};

/// How long one read may wait for the server.
pub const READ_DEADLINE: Duration = Duration::from_secs(20);

/// One frame from the server after the handshake.
#[derive(Debug)]
pub enum Frame {
    /// A reply: header, body bytes (empty when `err != 0`).
    Reply(ReplyHeader, Bytes),
    /// A watch notification.
    Event(WatcherEvent),
}

/// How a handshake ended.
#[derive(Debug)]
pub enum Handshake {
    /// The server accepted: (session, its answer).
    Accepted(Session, ConnectResponse),
    /// The server answered "expired" (session id 0 / timeout 0), as for a wrong password.
    Expired,
    /// The server closed the connection without answering.
    Closed,
}

/// One connection with its session.
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    buf: BytesMut,
    codec: FrameCodec,
    xid: i32,
    /// Session id.
    pub id: i64,
    /// Session password.
    pub passwd: Bytes,
    /// Negotiated timeout (ms).
    pub timeout: i32,
    /// Highest zxid seen in a reply (for `lastZxidSeen` when reattaching).
    pub last_zxid: i64,
}

impl Session {
    /// Handshake with `session_id`/`passwd` (0 and zeros for a new session).
    pub async fn handshake(
        addr: &str,
        timeout_ms: i32,
        session_id: i64,
        passwd: &[u8],
        last_zxid_seen: i64,
    ) -> std::io::Result<Handshake> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut s = Session {
            stream,
            buf: BytesMut::new(),
            codec: FrameCodec::default(),
            xid: 0,
            id: 0,
            passwd: Bytes::new(),
            timeout: 0,
            last_zxid: last_zxid_seen,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout: timeout_ms,
            session_id,
            passwd: Some(Bytes::copy_from_slice(passwd)),
            read_only: Some(false),
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| req.write(b));
        s.stream.write_all(&out).await?;
        let Some(mut frame) = s.next_raw().await? else {
            return Ok(Handshake::Closed);
        };
        let rsp = ConnectResponse::read(&mut frame).map_err(std::io::Error::other)?;
        if rsp.session_id == 0 || rsp.timeout <= 0 {
            return Ok(Handshake::Expired);
        }
        s.id = rsp.session_id;
        s.passwd = rsp.passwd.clone().unwrap_or_default();
        s.timeout = rsp.timeout;
        Ok(Handshake::Accepted(s, rsp))
    }

    /// A new session, panicking on failure.
    pub async fn connect(addr: &str, timeout_ms: i32) -> Session {
        match Session::handshake(addr, timeout_ms, 0, &[0; 16], 0).await {
            Ok(Handshake::Accepted(s, _)) => s,
            other => panic!("connecting to {addr}: {other:?}"),
        }
    }

    /// Reattaches to session `id` with `passwd`; `None` if the server says it expired.
    pub async fn resume(addr: &str, timeout_ms: i32, id: i64, passwd: &[u8]) -> Option<Session> {
        match Session::handshake(addr, timeout_ms, id, passwd, 0).await {
            Ok(Handshake::Accepted(s, rsp)) => {
                assert_eq!(rsp.session_id, id, "resumed a different session");
                Some(s)
            }
            Ok(Handshake::Expired) => None,
            other => panic!("reattaching session {id:#x} at {addr}: {other:?}"),
        }
    }

    async fn next_raw(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if let Some(f) = self
                .codec
                .decode(&mut self.buf)
                .map_err(std::io::Error::other)?
            {
                return Ok(Some(f));
            }
            let read = tokio::time::timeout(READ_DEADLINE, self.stream.read_buf(&mut self.buf));
            let n = read.await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no frame within deadline")
            })??;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// The next frame; `Ok(None)` at EOF, `Err` on a reset or a timeout.
    pub async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        let Some(mut f) = self.next_raw().await? else {
            return Ok(None);
        };
        let header = ReplyHeader::read(&mut f).map_err(std::io::Error::other)?;
        if header.xid == NOTIFICATION_XID {
            let ev = WatcherEvent::read(&mut f).map_err(std::io::Error::other)?;
            return Ok(Some(Frame::Event(ev)));
        }
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        Ok(Some(Frame::Reply(header, f)))
    }

    /// Sends a request without waiting; returns its xid.
    pub async fn send(&mut self, body: &RequestBody) -> std::io::Result<i32> {
        let xid = match body {
            RequestBody::Ping => PING_XID,
            RequestBody::Auth(_) => AUTH_XID,
            _ => {
                self.xid += 1;
                self.xid
            }
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| {
            RequestHeader {
                xid,
                opcode: body.opcode().code(),
            }
            .write(b);
            body.write(b);
        });
        self.stream.write_all(&out).await?;
        Ok(xid)
    }

    /// Sends `req` and waits for its reply (events before it are dropped): (err, body).
    pub async fn call(&mut self, req: &RequestBody) -> (i32, Option<ResponseBody>) {
        let xid = self.send(req).await.expect("send");
        loop {
            match self.next().await.expect("read").expect("reply before EOF") {
                Frame::Event(_) => {}
                Frame::Reply(h, mut b) => {
                    assert_eq!(h.xid, xid, "replies come in request order");
                    let rsp = (h.err == 0).then(|| {
                        ResponseBody::read(req.opcode(), &mut b).expect("reply body decodes")
                    });
                    return (h.err, rsp);
                }
            }
        }
    }

    /// `call`, asserting success.
    pub async fn ok(&mut self, req: &RequestBody) -> ResponseBody {
        match self.call(req).await {
            (0, Some(rsp)) => rsp,
            (err, _) => panic!("{req:?} failed with {err}"),
        }
    }

    /// addauth: `scheme` with `auth` bytes; returns the error code.
    pub async fn auth(&mut self, scheme: &str, auth: &[u8]) -> i32 {
        self.call(&RequestBody::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(Bytes::copy_from_slice(auth)),
        }))
        .await
        .0
    }

    /// Closes the session (closeSession) and waits for the answer.
    pub async fn close(mut self) {
        let _ = self.call(&RequestBody::CloseSession).await;
    }
}

/// create(path, data, acl, flags) — flags per `CreateMode` (1 ephemeral, 2 sequential, …).
pub fn create(path: &str, data: &[u8], acl: Vec<Acl>, flags: i32) -> RequestBody {
    RequestBody::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl,
        flags,
    })
}

/// create with the open ACL.
pub fn create_open(path: &str, data: &[u8], flags: i32) -> RequestBody {
    create(path, data, Acl::open_unsafe(), flags)
}

/// setData(path, data, version).
pub fn set_data(path: &str, data: &[u8], version: i32) -> RequestBody {
    RequestBody::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        version,
    })
}

/// delete(path, version).
pub fn delete(path: &str, version: i32) -> RequestBody {
    RequestBody::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

/// getData(path) without a watch.
pub fn get_data(path: &str) -> RequestBody {
    RequestBody::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

/// getACL(path).
pub fn get_acl(path: &str) -> RequestBody {
    RequestBody::GetAcl(PathRequest { path: path.into() })
}

/// getChildren2(path) without a watch.
pub fn get_children2(path: &str) -> RequestBody {
    RequestBody::GetChildren2(GetChildrenRequest {
        path: path.into(),
        watch: false,
    })
}
