//! Raw-frame helpers for tests: a minimal client speaking zk-proto directly.
#![allow(dead_code)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use zk_proto::records::node::{CreateRequest, GetDataRequest};
use zk_proto::{
    write_frame, Acl, ConnectRequest, ConnectResponse, FrameCodec, Record, ReplyHeader,
    RequestBody, RequestHeader, ResponseBody, WatcherEvent, NOTIFICATION_XID,
};

/// Per-wait deadline.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A raw connection.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: BytesMut,
    pub codec: FrameCodec,
    pub xid: i32,
    pub session: i64,
    pub passwd: Bytes,
    pub timeout: i32,
}

/// One frame from the server.
#[derive(Debug, Clone)]
pub enum Frame {
    Reply { header: ReplyHeader, body: Bytes },
    Event(WatcherEvent),
}

impl Raw {
    /// Connects and performs the handshake with `req`.
    pub async fn handshake(
        addr: &str,
        req: ConnectRequest,
    ) -> std::io::Result<(Raw, Option<ConnectResponse>)> {
        let stream = TcpStream::connect(addr).await?;
        let mut raw = Raw {
            stream,
            buf: BytesMut::new(),
            codec: FrameCodec::default(),
            xid: 0,
            session: 0,
            passwd: Bytes::new(),
            timeout: 0,
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| req.write(b));
        raw.stream.write_all(&out).await?;
        let rsp = raw
            .next_raw()
            .await?
            .map(|mut f| ConnectResponse::read(&mut f).expect("connect response"));
        if let Some(r) = &rsp {
            raw.session = r.session_id;
            raw.passwd = r.passwd.clone().unwrap_or_default();
            raw.timeout = r.timeout;
        }
        Ok((raw, rsp))
    }

    /// A fresh session with `timeout` ms.
    pub async fn connect(addr: &str, timeout: i32) -> Raw {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout,
            session_id: 0,
            passwd: Some(Bytes::from_static(&[0; 16])),
            read_only: Some(false),
        };
        let (raw, rsp) = Raw::handshake(addr, req).await.expect("connect");
        assert!(rsp.expect("handshake answered").session_id != 0);
        raw
    }

    /// The next raw frame, or None at EOF.
    pub async fn next_raw(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if let Some(f) = self
                .codec
                .decode(&mut self.buf)
                .map_err(std::io::Error::other)?
            {
                return Ok(Some(f));
            }
            let n = tokio::time::timeout(DEADLINE, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| std::io::Error::other("timeout"))??;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// The next frame, decoded.
    pub async fn next(&mut self) -> Option<Frame> {
        let mut f = self.next_raw().await.ok()??;
        let header = ReplyHeader::read(&mut f).ok()?;
        if header.xid == NOTIFICATION_XID {
            return Some(Frame::Event(WatcherEvent::read(&mut f).ok()?));
        }
        Some(Frame::Reply { header, body: f })
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends a request; returns its xid.
    pub async fn send(&mut self, body: &RequestBody) -> i32 {
        self.xid += 1;
        let xid = if matches!(body, RequestBody::Ping) {
            zk_proto::PING_XID
        } else {
            self.xid
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
        self.stream.write_all(&out).await.expect("send");
        xid
    }

    /// Sends a request and waits for its reply, collecting events seen before it.
    pub async fn call(
        &mut self,
        req: &RequestBody,
    ) -> (i32, Option<ResponseBody>, Vec<WatcherEvent>) {
        let xid = self.send(req).await;
        let mut events = Vec::new();
        loop {
            match self.next().await.expect("reply") {
                Frame::Event(e) => events.push(e),
                Frame::Reply {
                    header,
                    body: mut b,
                } => {
                    assert_eq!(header.xid, xid, "replies in order");
                    let rsp = (header.err == 0)
                        .then(|| ResponseBody::read(req.opcode(), &mut b).expect("body"));
                    return (header.err, rsp, events);
                }
            }
        }
    }
}

/// A create request.
pub fn create(path: &str, data: &[u8], flags: i32) -> RequestBody {
    RequestBody::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags,
    })
}

/// A getData request.
pub fn get_data(path: &str, watch: bool) -> RequestBody {
    RequestBody::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}
