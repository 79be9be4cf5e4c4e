//! The session handshake: the first frame in each direction of a connection.

use bytes::{Bytes, BytesMut};

use crate::jute::{read_bool, read_buffer, read_i32, read_i64, write_bool, write_buffer, Record};
use crate::DecodeError;

/// The client's first frame (`ConnectRequest`), with the `readOnly` byte clients since 3.4
/// append. Servers accept it without the byte (older clients).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server behind it refuses the session.
    pub last_zxid_seen: i64,
    /// Requested session timeout in milliseconds.
    pub timeout: i32,
    /// 0 for a new session, otherwise the session to resume.
    pub session_id: i64,
    /// Session password (16 bytes from the server; empty or null for a new session).
    pub passwd: Option<Bytes>,
    /// Whether the client accepts a read-only server; `None` when the byte was absent.
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    fn write(&self, buf: &mut BytesMut) {
        self.protocol_version.write(buf);
        self.last_zxid_seen.write(buf);
        self.timeout.write(buf);
        self.session_id.write(buf);
        write_buffer(buf, self.passwd.as_deref());
        if let Some(ro) = self.read_only {
            write_bool(buf, ro);
        }
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: read_i32(buf, "ConnectRequest.protocolVersion")?,
            last_zxid_seen: read_i64(buf, "ConnectRequest.lastZxidSeen")?,
            timeout: read_i32(buf, "ConnectRequest.timeOut")?,
            session_id: read_i64(buf, "ConnectRequest.sessionId")?,
            passwd: read_buffer(buf, "ConnectRequest.passwd")?,
            read_only: read_trailing_bool(buf, "ConnectRequest.readOnly")?,
        })
    }
}

/// The server's answer to a [`ConnectRequest`] (`ConnectResponse`), with the trailing `readOnly`
/// byte Apache servers send. A session id of 0 / timeout of 0 means the session is expired or
/// was refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// Negotiated session timeout in milliseconds; 0 when the session is invalid.
    pub timeout: i32,
    /// The session id; 0 when the session is invalid.
    pub session_id: i64,
    /// The session password to present when resuming.
    pub passwd: Option<Bytes>,
    /// Whether the server is in read-only mode; `None` when the byte was absent.
    pub read_only: Option<bool>,
}

impl Record for ConnectResponse {
    fn write(&self, buf: &mut BytesMut) {
        self.protocol_version.write(buf);
        self.timeout.write(buf);
        self.session_id.write(buf);
        write_buffer(buf, self.passwd.as_deref());
        if let Some(ro) = self.read_only {
            write_bool(buf, ro);
        }
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: read_i32(buf, "ConnectResponse.protocolVersion")?,
            timeout: read_i32(buf, "ConnectResponse.timeOut")?,
            session_id: read_i64(buf, "ConnectResponse.sessionId")?,
            passwd: read_buffer(buf, "ConnectResponse.passwd")?,
            read_only: read_trailing_bool(buf, "ConnectResponse.readOnly")?,
        })
    }
}

fn read_trailing_bool(buf: &mut Bytes, what: &'static str) -> Result<Option<bool>, DecodeError> {
    if buf.is_empty() {
        Ok(None)
    } else {
        read_bool(buf, what).map(Some)
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arbitrary::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for ConnectRequest {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
                any::<i64>(),
                Option::<Bytes>::arb(),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(
                    |(protocol_version, last_zxid_seen, timeout, session_id, passwd, read_only)| {
                        ConnectRequest {
                            protocol_version,
                            last_zxid_seen,
                            timeout,
                            session_id,
                            passwd,
                            read_only,
                        }
                    },
                )
                .boxed()
        }
    }

    impl Arb for ConnectResponse {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                Option::<Bytes>::arb(),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(
                    |(protocol_version, timeout, session_id, passwd, read_only)| ConnectResponse {
                        protocol_version,
                        timeout,
                        session_id,
                        passwd,
                        read_only,
                    },
                )
                .boxed()
        }
    }
}
