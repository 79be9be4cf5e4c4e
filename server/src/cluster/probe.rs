//! Reading a server's role from outside: the `srvr` four-letter word on its client port, as
//! monitoring tools and `zkServer.sh status` do.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one `srvr` may take. Loopback answers in milliseconds; a server that does not answer
/// in this time (it is paused, or wedged) counts as not serving.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Upper bound on a `srvr` reply; the real one is a few hundred bytes.
const MAX_REPLY: u64 = 64 * 1024;

/// A server's role as the `Mode:` line of its `srvr` reply names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerMode {
    /// The ensemble's established leader.
    Leader,
    /// A voting follower in sync with the leader.
    Follower,
    /// A non-voting observer in sync with the leader.
    Observer,
    /// A single server without peers.
    Standalone,
    /// A partitioned server answering reads only (`readonlymode.enabled`).
    ReadOnly,
}

impl ServerMode {
    /// Finds the `Mode:` line of a `srvr` or `stat` reply; `None` without one (a server that is
    /// not serving answers "This ZooKeeper instance is not currently serving requests") or for an
    /// unknown mode.
    pub fn parse(reply: &str) -> Option<ServerMode> {
        let mode = reply.lines().find_map(|l| l.strip_prefix("Mode: "))?;
        match mode.trim() {
            "leader" => Some(ServerMode::Leader),
            "follower" => Some(ServerMode::Follower),
            "observer" => Some(ServerMode::Observer),
            "standalone" => Some(ServerMode::Standalone),
            "read-only" => Some(ServerMode::ReadOnly),
            _ => None,
        }
    }

    /// Whether this is a member of an ensemble that has a working leader.
    pub fn is_in_quorum(self) -> bool {
        matches!(
            self,
            ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
        )
    }
}

impl fmt::Display for ServerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::Standalone => "standalone",
            ServerMode::ReadOnly => "read-only",
        })
    }
}

/// Sends `srvr` to `addr` and parses the mode; `None` if the server does not answer within
/// [`PROBE_TIMEOUT`] or is not serving.
pub(crate) async fn srvr_mode(addr: SocketAddr) -> Option<ServerMode> {
    let reply = tokio::time::timeout(PROBE_TIMEOUT, four_letter(addr, b"srvr"))
        .await
        .ok()?
        .ok()?;
    ServerMode::parse(&reply)
}

async fn four_letter(addr: SocketAddr, cmd: &[u8; 4]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(cmd).await?;
    let mut reply = Vec::new();
    s.take(MAX_REPLY).read_to_end(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_srvr_replies() {
        let table = [
            ("Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0/0\nMode: leader\nNode count: 5\n", Some(ServerMode::Leader)),
            ("Mode: follower\n", Some(ServerMode::Follower)),
            ("Mode: observer\n", Some(ServerMode::Observer)),
            ("Mode: standalone\n", Some(ServerMode::Standalone)),
            ("Mode: read-only\n", Some(ServerMode::ReadOnly)),
            ("This ZooKeeper instance is not currently serving requests\n", None),
            ("Mode: looking\n", None),
            ("", None),
        ];
        for (reply, mode) in table {
            assert_eq!(ServerMode::parse(reply), mode, "{reply:?}");
        }
        assert!(ServerMode::Observer.is_in_quorum());
        assert!(!ServerMode::Standalone.is_in_quorum());
    }

    #[tokio::test]
    async fn a_silent_server_has_no_mode() {
        // Accepted by the kernel, never answered: like a paused server.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(srvr_mode(addr).await, None);
        drop(l);
    }
}
