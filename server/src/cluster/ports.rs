//! Free loopback ports for the servers' own listeners.
//!
//! A server's client, quorum and election ports must stay the same across `kill` and `restart`, so
//! they cannot be port 0: they are chosen up front by binding `127.0.0.1:0` and releasing the port.
//! The link proxies bind port 0 and keep their listeners, but skip the ports chosen here
//! ([`bind_unclaimed`]).

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

use super::error::ClusterError;

/// Attempts per wanted port before giving up: the kernel's ephemeral range is large, and only ports
/// this process handed out before are skipped.
const ATTEMPTS_PER_PORT: usize = 100;

/// Ports handed out by this process, so that two clusters started by parallel tests never get the
/// same port even if the kernel offers it twice.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// `n` distinct ports on 127.0.0.1 that are free now and were not handed out before. All `n`
/// listeners are held together while choosing, so the kernel cannot return one port twice. Another
/// process may still take a port before its server binds it; [`TestCluster`](super::TestCluster)
/// then starts over with fresh ports.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    let mut seen = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    let mut listeners = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    for _ in 0..n * ATTEMPTS_PER_PORT {
        if ports.len() == n {
            break;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| ClusterError::io("binding 127.0.0.1:0 to find a free port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| ClusterError::io("reading a bound port", e))?
            .port();
        if seen.insert(port) {
            ports.push(port);
        }
        listeners.push(listener);
    }
    if ports.len() < n {
        return Err(ClusterError::io(
            format!("finding {n} free ports"),
            std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "ports exhausted"),
        ));
    }
    Ok(ports)
}

/// A listener on `127.0.0.1:0` whose port was not handed out by [`free_ports`]: a proxy bound
/// while another cluster's chosen ports wait for their servers must not take one of them.
pub(crate) fn bind_unclaimed() -> std::io::Result<(TcpListener, u16)> {
    let seen = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    // Rejected listeners stay bound until we return, so the kernel offers another port each time.
    let mut rejected = Vec::new();
    for _ in 0..ATTEMPTS_PER_PORT {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if !seen.contains(&port) {
            return Ok((listener, port));
        }
        rejected.push(listener);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "every port offered was handed out to a server",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_never_repeated() {
        let ports = free_ports(6).unwrap();
        assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 6);
        for &port in &ports {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
        let more = free_ports(3).unwrap();
        assert!(more.iter().all(|p| !ports.contains(p)));
        let (_l, proxy) = bind_unclaimed().unwrap();
        assert!(!ports.contains(&proxy) && !more.contains(&proxy));
    }
}
