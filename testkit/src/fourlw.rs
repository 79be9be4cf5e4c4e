//! ZooKeeper's four-letter-word admin commands (`ruok`, `srvr`, `stat`, `mntr`, …) over plain TCP.
//!
//! The client writes four ASCII bytes on a fresh connection; the server writes its text reply and closes
//! the connection. The testkit's servers whitelist every command (`4lw.commands.whitelist=*`).

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Error;

/// Connect, read and write timeout for one four-letter command. Loopback answers in milliseconds; a
/// server that does not answer in this time is treated as not serving.
pub const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(2);

/// The reply a server that is up but not part of a working quorum sends instead of the command's output.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Sends the four-letter word `cmd` to `addr` and returns the whole reply.
pub fn four_letter(addr: SocketAddr, cmd: &str) -> Result<String, Error> {
    let context = |what: &str| format!("{what} `{cmd}` to {addr}");
    let mut stream = TcpStream::connect_timeout(&addr, FOUR_LETTER_TIMEOUT)
        .map_err(|e| Error::io(context("connecting to send"), e))?;
    stream
        .set_read_timeout(Some(FOUR_LETTER_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(FOUR_LETTER_TIMEOUT)))
        .map_err(|e| Error::io(context("setting timeouts for"), e))?;
    stream
        .write_all(cmd.as_bytes())
        .map_err(|e| Error::io(context("sending"), e))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| Error::io(context("reading the reply to"), e))?;
    Ok(reply)
}

/// A server's role as reported on the `Mode:` line of `srvr`/`stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerMode {
    /// A single server without peers.
    Standalone,
    /// The ensemble's leader.
    Leader,
    /// A voting follower.
    Follower,
    /// A non-voting observer.
    Observer,
    /// A partitioned server answering reads only (`readonlymode.enabled`).
    ReadOnly,
}

impl ServerMode {
    /// Finds the `Mode:` line in a `srvr` or `stat` reply; `None` if there is none (e.g. the server
    /// answered [`NOT_SERVING`]) or the mode is unknown.
    pub fn parse(reply: &str) -> Option<ServerMode> {
        let mode = reply.lines().find_map(|l| l.strip_prefix("Mode: "))?;
        match mode.trim() {
            "standalone" => Some(ServerMode::Standalone),
            "leader" => Some(ServerMode::Leader),
            "follower" => Some(ServerMode::Follower),
            "observer" => Some(ServerMode::Observer),
            "read-only" => Some(ServerMode::ReadOnly),
            _ => None,
        }
    }
}

impl fmt::Display for ServerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerMode::Standalone => "standalone",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
        })
    }
}

/// The server's mode from `srvr`, or `None` if it is unreachable or not serving.
pub fn server_mode(addr: SocketAddr) -> Option<ServerMode> {
    four_letter(addr, "srvr")
        .ok()
        .and_then(|reply| ServerMode::parse(&reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mode_lines() {
        let srvr = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(ServerMode::parse(srvr), Some(ServerMode::Follower));
        assert_eq!(
            ServerMode::parse("Mode: standalone\n"),
            Some(ServerMode::Standalone)
        );
        assert_eq!(ServerMode::parse(NOT_SERVING), None);
        assert_eq!(ServerMode::parse("Mode: weird\n"), None);
        assert_eq!(ServerMode::Leader.to_string(), "leader");
    }
}
