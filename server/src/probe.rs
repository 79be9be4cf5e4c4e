//! The health probe: `zk-server … --healthcheck` asks the configured server `ruok` and exits 0 on
//! `imok`.
//!
//! `ruok` must be in `4lw.commands.whitelist` to be answered, and the official image whitelists
//! only `srvr` by default; a server that refuses `ruok` is asked `srvr` (always whitelisted)
//! instead, and is healthy if it reports a version rather than "not currently serving".
//!
//! The `FROM scratch` image has no shell, `nc` or `curl` for a Docker `HEALTHCHECK`, so the binary
//! probes itself: it reads the same configuration the server would (`--from-env`, `--config`, `-D`)
//! and connects to its client address, loopback when the server binds every interface. Container
//! tests wait on the resulting health status instead of sleeping. Every step has a deadline: a
//! paused (frozen) server still accepts TCP connections in the kernel and then answers nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deadline for connecting, sending `ruok` and reading the answer. A serving server answers on
/// loopback in well under a millisecond; Docker's own check timeout (`docker/Dockerfile`) is longer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The four-letter word the probe sends.
pub const PROBE_COMMAND: &str = "ruok";

/// The answer of a running server (Apache `RuokCommand`).
pub const PROBE_OK: &str = "imok";

/// The fallback word when `ruok` is not whitelisted (Apache always enables it).
pub const FALLBACK_COMMAND: &str = "srvr";

/// How a `srvr` answer of a serving server starts.
const SRVR_OK_PREFIX: &str = "Zookeeper version:";

/// How Apache (and zk-server) refuse a word outside the whitelist (`NopCommand`).
const NOT_WHITELISTED: &str = "is not in the whitelist";

/// Longest answer read: `imok`, a refusal, or a `srvr` report.
const MAX_ANSWER: u64 = 4096;

/// The address to probe for a server bound to `bound`: the loopback address of the same family when
/// it binds every interface.
pub fn probe_addr(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

/// Sends `ruok` to `addr` and checks for `imok` (or, when `ruok` is not whitelisted, a serving
/// `srvr` report), each exchange within `timeout`. The error says what failed: no connection, no
/// answer in time, or which answer came instead.
pub async fn ruok(addr: SocketAddr, timeout: Duration) -> std::io::Result<()> {
    let answer = four_letter(addr, PROBE_COMMAND, timeout).await?;
    if answer.trim() == PROBE_OK {
        return Ok(());
    }
    let answer = if answer.contains(NOT_WHITELISTED) {
        let srvr = four_letter(addr, FALLBACK_COMMAND, timeout).await?;
        if srvr.starts_with(SRVR_OK_PREFIX) {
            return Ok(());
        }
        srvr
    } else {
        answer
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{addr} is not healthy: it answered {:?}", answer.trim()),
    ))
}

/// One four-letter exchange: connect, send `cmd`, read until the server closes, within `timeout`.
async fn four_letter(addr: SocketAddr, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(cmd.as_bytes()).await?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer to {cmd} from {addr} within {timeout:?}"),
            )
        })??;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interface_is_probed_on_loopback() {
        let cases = [
            ("0.0.0.0:2181", "127.0.0.1:2181"),
            ("[::]:2181", "[::1]:2181"),
            ("127.0.0.5:2", "127.0.0.5:2"),
        ];
        for (bound, probed) in cases {
            assert_eq!(
                probe_addr(bound.parse().unwrap()),
                probed.parse().unwrap(),
                "{bound}"
            );
        }
    }

    #[tokio::test]
    async fn a_server_that_accepts_but_never_answers_times_out() {
        // Like a paused container: the kernel accepts, nobody reads.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let e = ruok(addr, Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        drop(listener);
    }

    /// A fake server answering each word from `replies` (others with nothing) and closing.
    async fn fake(replies: Vec<(&'static str, &'static str)>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut cmd = [0u8; 4];
                if s.read_exact(&mut cmd).await.is_err() {
                    continue;
                }
                let cmd = std::str::from_utf8(&cmd).unwrap_or("");
                let reply = replies.iter().find(|(c, _)| *c == cmd).map(|(_, r)| *r);
                let _ = s.write_all(reply.unwrap_or("").as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn imok_or_a_serving_srvr_passes() {
        let refused = "ruok is not executed because it is not in the whitelist.\n";
        let cases = [
            (vec![("ruok", "imok")], true),
            (
                vec![
                    ("ruok", refused),
                    ("srvr", "Zookeeper version: 3.8.4\nMode: leader\n"),
                ],
                true,
            ),
            (
                vec![
                    ("ruok", refused),
                    (
                        "srvr",
                        "This ZooKeeper instance is not currently serving requests\n",
                    ),
                ],
                false,
            ),
            (vec![("ruok", "")], false),
        ];
        for (replies, ok) in cases {
            let described = format!("{replies:?}");
            let addr = fake(replies).await;
            let result = ruok(addr, PROBE_TIMEOUT).await;
            assert_eq!(result.is_ok(), ok, "{described}: {result:?}");
        }
    }
}
