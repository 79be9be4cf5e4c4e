//! The `srvr` four-letter word, to tell an ensemble's leader from its followers.
//!
//! Both implementations answer `srvr` with a `Mode: leader|follower|…` line while they serve, and with a
//! "not currently serving" text (or a closed connection) while they elect; the harness needs nothing
//! else from the admin interface.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for a `srvr` answer. Loopback answers in a millisecond; a server that takes longer is
/// busy electing or stuck, and either way not serving yet.
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(1);

/// A server's role, from the `Mode:` line of `srvr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The ensemble's leader.
    Leader,
    /// A voting follower.
    Follower,
    /// A non-voting observer.
    Observer,
    /// A server without peers.
    Standalone,
}

impl Mode {
    /// Finds the `Mode:` line of a `srvr` reply.
    pub fn parse(reply: &str) -> Option<Mode> {
        match reply.lines().find_map(|l| l.strip_prefix("Mode:"))?.trim() {
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            "observer" => Some(Mode::Observer),
            "standalone" => Some(Mode::Standalone),
            _ => None,
        }
    }

    /// True for the roles of a server that is part of a working quorum.
    pub fn in_quorum(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower | Mode::Observer)
    }
}

/// The server's mode, or `None` when it is down, electing, or does not answer in time.
pub async fn mode(addr: &str) -> Option<Mode> {
    let reply = tokio::time::timeout(FOUR_LETTER_TIMEOUT, srvr(addr))
        .await
        .ok()?
        .ok()?;
    Mode::parse(&reply)
}

async fn srvr(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"srvr").await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn parses_the_mode_line() {
        let reply =
            "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n";
        assert_eq!(Mode::parse(reply), Some(Mode::Leader));
        assert_eq!(Mode::parse("Mode: follower\n"), Some(Mode::Follower));
        assert_eq!(
            Mode::parse("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }
}
