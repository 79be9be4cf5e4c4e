//! Free loopback ports.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// Ports handed out by this process, so that two servers started by parallel tests never get the same
/// port even if the kernel offers it twice.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// Returns a TCP port on 127.0.0.1 that is free now (found by binding port 0) and that this process
/// has not handed out before.
///
/// The port is released before it is returned, so another process could still take it before the server
/// binds it; [`crate::ApacheServer::start`] retries with fresh ports when that happens.
pub fn free_port() -> Result<u16, Error> {
    Ok(free_ports(1)?[0])
}

/// Returns `n` distinct free ports on 127.0.0.1 (see [`free_port`]). All `n` listeners are held open
/// together while choosing, so the kernel cannot return one port twice.
pub fn free_ports(n: usize) -> Result<Vec<u16>, Error> {
    let mut seen = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    let mut listeners = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    // Bounded: the kernel's ephemeral range is large, and we only skip ports this process used before.
    for _ in 0..n * 100 {
        if ports.len() == n {
            break;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound port", e))?
            .port();
        if seen.insert(port) {
            ports.push(port);
        }
        listeners.push(listener);
    }
    if ports.len() < n {
        return Err(Error::Config(format!("could not find {n} free ports")));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports(5).unwrap();
        let unique: HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), 5);
        for port in ports {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
        assert!(!free_ports(3).unwrap().contains(&free_port().unwrap()));
    }
}
