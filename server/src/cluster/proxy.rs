//! One link proxy: a TCP listener that forwards every connection to one server's real port, with a
//! switch that cuts the link.
//!
//! A [`TestCluster`](super::TestCluster) gives each server a view of the ensemble in which the *other*
//! servers' quorum and election addresses are proxies of the link from this server to that one. The
//! quorum code is untouched: it dials what its `server.N` lines say. When the link is down the proxy
//! accepts and closes at once (the dialer sees an immediate EOF, as after a refused or reset
//! connection), and every connection it carries is closed both ways, so both peers see the loss at
//! once, as after a reset. Connections are cut, not black-holed: a peer never waits for a timeout
//! to notice a partition (see `DESIGN.md` on why partitions are tested in-process).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace, Instrument};

/// How long a proxy tries to reach its server before closing the dialer's connection. Loopback
/// connects or is refused at once; this only bounds a wedged kernel queue.
pub const PROXY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) before accepting again, so the
/// loop does not spin while the condition lasts (mini-redis `server.rs` backs off the same way).
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Starts forwarding `listener`'s connections to `target` while `up` is true. Runs until `cancel`.
/// Must be called inside the runtime that will run it.
pub(crate) fn spawn(
    listener: std::net::TcpListener,
    target: SocketAddr,
    up: watch::Receiver<bool>,
    cancel: CancellationToken,
    label: String,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let span = tracing::debug_span!("link", %label);
    tokio::spawn(accept_loop(listener, target, up, cancel).instrument(span));
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    up: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let inbound = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                debug!(%e, "proxy accept failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => continue,
                }
            }
        };
        if !*up.borrow() {
            trace!("link down: closing a new connection");
            continue;
        }
        tokio::spawn(forward(inbound, target, up.clone(), cancel.clone()).in_current_span());
    }
}

/// Carries one connection until either side closes it, the link goes down or the cluster stops.
async fn forward(
    mut inbound: TcpStream,
    target: SocketAddr,
    mut up: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    let connect = tokio::time::timeout(PROXY_CONNECT_TIMEOUT, TcpStream::connect(target));
    let mut outbound = tokio::select! {
        _ = cancel.cancelled() => return,
        _ = up.wait_for(|up| !*up) => return,
        c = connect => match c {
            Ok(Ok(s)) => s,
            _ => {
                trace!(%target, "server unreachable: closing the dialer's connection");
                return;
            }
        },
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = up.wait_for(|up| !*up) => trace!("link cut: closing a connection"),
        r = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {
            trace!(?r, "proxied connection ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    fn proxy(target: SocketAddr, up: watch::Receiver<bool>) -> (SocketAddr, CancellationToken) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let cancel = CancellationToken::new();
        spawn(l, target, up, cancel.clone(), "test".into()).unwrap();
        (addr, cancel)
    }

    async fn round_trip(s: &mut TcpStream) -> std::io::Result<[u8; 4]> {
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        Ok(buf)
    }

    #[tokio::test]
    async fn forwards_cuts_refuses_and_heals() {
        let target = echo_server().await;
        let (up_tx, up) = watch::channel(true);
        let (addr, cancel) = proxy(target, up);

        let mut a = TcpStream::connect(addr).await.unwrap();
        assert_eq!(&round_trip(&mut a).await.unwrap(), b"ping");

        // Cut: the carried connection is closed.
        up_tx.send_replace(false);
        let mut buf = [0u8; 1];
        assert_eq!(a.read(&mut buf).await.unwrap_or(0), 0);
        // New connections are closed at once.
        let mut b = TcpStream::connect(addr).await.unwrap();
        assert!(round_trip(&mut b).await.is_err());

        // Healed: new connections work again.
        up_tx.send_replace(true);
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(&round_trip(&mut c).await.unwrap(), b"ping");
        cancel.cancel();
    }

    #[tokio::test]
    async fn an_unreachable_server_closes_the_dialers_connection() {
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (_up_tx, up) = watch::channel(true);
        let (addr, cancel) = proxy(dead, up);
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(round_trip(&mut s).await.is_err());
        cancel.cancel();
    }
}
