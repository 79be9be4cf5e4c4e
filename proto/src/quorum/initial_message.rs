//! The connection initiation message a peer sends first on a new election connection
//! (`QuorumCnxManager.startConnection`, parsed by `handleConnection` and `InitialMessage.parse`).

use std::net::IpAddr;

use bytes::{Buf, BufMut, BytesMut};

use crate::DecodeError;

/// `QuorumCnxManager.PROTOCOL_VERSION_V1`: one `host:port` election address follows the sid.
/// Apache 3.8 sends this unless `zookeeper.multiAddress.enabled=true`.
pub const PROTOCOL_VERSION_V1: i64 = -65536;

/// `QuorumCnxManager.PROTOCOL_VERSION_V2` (3.6+, ZOOKEEPER-3188): `host:port|host:port|...`.
pub const PROTOCOL_VERSION_V2: i64 = -65535;

/// `QuorumCnxManager.maxBuffer`: the largest address string accepted (2048 bytes); a length of
/// zero or less is rejected too.
pub const MAX_INITIAL_MESSAGE_ADDR_LEN: usize = 2048;

/// `QuorumPeer.OBSERVER_ID` (`Long.MAX_VALUE`): the sid of an observer without a configured id;
/// the accepting side replaces it by a decreasing negative counter.
pub const OBSERVER_ID: i64 = i64::MAX;

/// The first bytes on an election connection, from the connecting peer. Unframed: no length
/// prefix precedes it.
///
/// ```
/// use bytes::BytesMut;
/// use zk_proto::quorum::{InitialMessage, PROTOCOL_VERSION_V1};
///
/// let hello = InitialMessage::V1 { sid: 3, election_addr: "127.0.0.1:3888".into() };
/// let mut wire = BytesMut::new();
/// hello.write(&mut wire);
/// assert_eq!(wire.len(), 8 + 8 + 4 + 14);
/// assert_eq!(&wire[..8], &PROTOCOL_VERSION_V1.to_be_bytes());
/// assert_eq!(InitialMessage::decode(&mut wire).unwrap(), Some(hello));
/// assert!(wire.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialMessage {
    /// Before 3.5: just the sid, a non-negative long (`handleConnection` accepts it).
    Legacy {
        /// The connecting peer's sid.
        sid: i64,
    },
    /// [`PROTOCOL_VERSION_V1`]: sid and one `host:port`.
    V1 {
        /// The connecting peer's sid.
        sid: i64,
        /// Its election address, `host:port` (`NetUtils.formatInetAddr`: IPv6 in brackets).
        election_addr: String,
    },
    /// [`PROTOCOL_VERSION_V2`]: sid and `|`-separated `host:port`s.
    V2 {
        /// The connecting peer's sid.
        sid: i64,
        /// Its election addresses, `host:port|host:port|...`.
        election_addrs: String,
    },
}

impl InitialMessage {
    /// The connecting peer's sid.
    pub fn sid(&self) -> i64 {
        match self {
            InitialMessage::Legacy { sid }
            | InitialMessage::V1 { sid, .. }
            | InitialMessage::V2 { sid, .. } => *sid,
        }
    }

    /// The raw address text (empty for [`InitialMessage::Legacy`]).
    pub fn addr_text(&self) -> &str {
        match self {
            InitialMessage::Legacy { .. } => "",
            InitialMessage::V1 { election_addr, .. } => election_addr,
            InitialMessage::V2 { election_addrs, .. } => election_addrs,
        }
    }

    /// The election addresses as `InitialMessage.parse` reads them: split on `|`, each
    /// `host:port` or `[v6-host]:port`, wildcard hosts (`0.0.0.0`, `::`) dropped. An address
    /// without exactly one host and one port, or with a port outside `0..=65535`, is an error
    /// (Apache drops the connection).
    pub fn addresses(&self) -> Result<Vec<(String, u16)>, DecodeError> {
        let text = self.addr_text();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for addr in text.split('|') {
            let (host, port) = split_host_port(addr).ok_or(DecodeError::BadValue {
                what: "election address",
                value: addr.len() as i64,
            })?;
            let port: u16 = port.parse().map_err(|_| DecodeError::BadValue {
                what: "election address port",
                value: 0,
            })?;
            let wildcard = host
                .parse::<IpAddr>()
                .map(|ip| ip.is_unspecified())
                .unwrap_or(false);
            if !wildcard {
                out.push((host.to_owned(), port));
            }
        }
        Ok(out)
    }

    /// Appends the message as Apache writes it (`DataOutputStream`: longs, int, raw bytes).
    pub fn write(&self, buf: &mut BytesMut) {
        match self {
            InitialMessage::Legacy { sid } => buf.put_i64(*sid),
            InitialMessage::V1 {
                sid,
                election_addr: a,
            }
            | InitialMessage::V2 {
                sid,
                election_addrs: a,
            } => {
                let version = if matches!(self, InitialMessage::V1 { .. }) {
                    PROTOCOL_VERSION_V1
                } else {
                    PROTOCOL_VERSION_V2
                };
                buf.put_i64(version);
                buf.put_i64(*sid);
                buf.put_i32(i32::try_from(a.len()).unwrap_or(i32::MAX));
                buf.put_slice(a.as_bytes());
            }
        }
    }

    /// Decodes the message from the front of `src`, consuming it only once it is complete.
    ///
    /// `Ok(None)`: more bytes are needed (nothing consumed). An unknown negative protocol
    /// version, or an address length outside `1..=`[`MAX_INITIAL_MESSAGE_ADDR_LEN`], is an
    /// error as soon as it arrives, before the address itself.
    pub fn decode(src: &mut BytesMut) -> Result<Option<InitialMessage>, DecodeError> {
        if src.len() < 8 {
            return Ok(None);
        }
        let mut peek = &src[..];
        let version = peek.get_i64();
        if version >= 0 {
            src.advance(8);
            return Ok(Some(InitialMessage::Legacy { sid: version }));
        }
        if version != PROTOCOL_VERSION_V1 && version != PROTOCOL_VERSION_V2 {
            return Err(DecodeError::BadValue {
                what: "election protocol version",
                value: version,
            });
        }
        if peek.len() < 12 {
            return Ok(None);
        }
        let sid = peek.get_i64();
        let len = peek.get_i32();
        if len <= 0 || len as usize > MAX_INITIAL_MESSAGE_ADDR_LEN {
            return Err(DecodeError::BadLength {
                what: "initial message address",
                len: len.into(),
            });
        }
        let len = len as usize;
        if peek.len() < len {
            return Ok(None);
        }
        let text = String::from_utf8(peek[..len].to_vec()).map_err(|_| DecodeError::BadUtf8 {
            what: "initial message address",
        })?;
        src.advance(20 + len);
        Ok(Some(if version == PROTOCOL_VERSION_V1 {
            InitialMessage::V1 {
                sid,
                election_addr: text,
            }
        } else {
            InitialMessage::V2 {
                sid,
                election_addrs: text,
            }
        }))
    }
}

/// `ConfigUtils.getHostAndPort`: `[v6]:port`, or `host:port` with exactly one colon.
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return (!port.contains(':')).then_some((host, port));
    }
    let (host, port) = addr.split_once(':')?;
    (!port.contains(':')).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_apache_parse_rules() {
        let m = InitialMessage::V2 {
            sid: 1,
            election_addrs: "127.0.0.1:3888|[::1]:3889|0.0.0.0:3890".into(),
        };
        assert_eq!(
            m.addresses().unwrap(),
            vec![("127.0.0.1".into(), 3888), ("::1".into(), 3889)]
        );
        for bad in ["nohost", "a:b:c", "h:99999", "h:x", "[::1]3888"] {
            let m = InitialMessage::V1 {
                sid: 1,
                election_addr: bad.into(),
            };
            assert!(m.addresses().is_err(), "{bad}");
        }
    }

    #[test]
    fn incomplete_waits_and_hostile_lengths_fail_early() {
        let mut full = BytesMut::new();
        InitialMessage::V1 {
            sid: 2,
            election_addr: "h:1".into(),
        }
        .write(&mut full);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert_eq!(InitialMessage::decode(&mut part).unwrap(), None);
            assert_eq!(part.len(), cut);
        }
        let mut hostile = BytesMut::new();
        hostile.put_i64(PROTOCOL_VERSION_V1);
        hostile.put_i64(2);
        hostile.put_i32(2049);
        assert!(InitialMessage::decode(&mut hostile).is_err());
        let mut zero = BytesMut::new();
        zero.put_i64(PROTOCOL_VERSION_V2);
        zero.put_i64(2);
        zero.put_i32(0);
        assert!(InitialMessage::decode(&mut zero).is_err());
        let mut unknown = BytesMut::from(&(-3i64).to_be_bytes()[..]);
        assert!(InitialMessage::decode(&mut unknown).is_err());
    }
}
