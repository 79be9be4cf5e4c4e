//! The cluster's peer network: a [proxy](super::proxy) for each direction of each pair of servers and
//! each of the two peer ports, and the switches that partition them.
//!
//! ```text
//!   server 1's view:  server.1 = real ports of 1      server.2 = proxy 1→2      server.3 = proxy 1→3
//!   server 2's view:  server.1 = proxy 2→1            server.2 = real ports of 2 server.3 = proxy 2→3
//! ```
//! Link `a→b` carries the connections `a` opens to `b` (election and quorum port alike); a partition
//! of `a` and `b` cuts `a→b` and `b→a`. Client ports are not proxied.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::error::ClusterError;
use super::ports::bind_unclaimed;
use super::proxy;

/// A server's two peer ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerPorts {
    /// Learners dial the leader here.
    pub(crate) quorum: u16,
    /// Fast leader election.
    pub(crate) election: u16,
}

/// One direction of one pair: the ports of its two proxies and its switch.
struct Link {
    ports: PeerPorts,
    up: watch::Sender<bool>,
    /// The bound quorum and election listeners until [`Network::start`] hands them to the proxies.
    listeners: Option<(std::net::TcpListener, std::net::TcpListener)>,
}

/// Every link of the cluster. Dropping it stops the proxies and closes what they carry.
pub(crate) struct Network {
    links: BTreeMap<(u64, u64), Link>,
    ids: BTreeSet<u64>,
    cancel: CancellationToken,
}

impl Network {
    /// Binds a proxy for each direction of each pair of `ids` and each peer port. Done before the
    /// servers' own ports are chosen, so that those can never be a proxy's port.
    pub(crate) fn bind(ids: &[u64]) -> Result<Network, ClusterError> {
        let mut links = BTreeMap::new();
        for &from in ids {
            for &to in ids.iter().filter(|&&to| to != from) {
                let quorum = bind_loopback(&format!("{from}->{to} quorum"))?;
                let election = bind_loopback(&format!("{from}->{to} election"))?;
                let ports = PeerPorts {
                    quorum: quorum.1,
                    election: election.1,
                };
                let (up, _) = watch::channel(true);
                let listeners = Some((quorum.0, election.0));
                links.insert(
                    (from, to),
                    Link {
                        ports,
                        up,
                        listeners,
                    },
                );
            }
        }
        Ok(Network {
            links,
            ids: ids.iter().copied().collect(),
            cancel: CancellationToken::new(),
        })
    }

    /// Starts the proxies on `rt`, each forwarding to its target's real port in `real`.
    pub(crate) fn start(
        &mut self,
        rt: &Handle,
        real: &BTreeMap<u64, PeerPorts>,
    ) -> Result<(), ClusterError> {
        let _guard = rt.enter();
        for (&(from, to), link) in self.links.iter_mut() {
            let (Some((quorum, election)), Some(target)) = (link.listeners.take(), real.get(&to))
            else {
                continue;
            };
            for (listener, port, kind) in [
                (quorum, target.quorum, "quorum"),
                (election, target.election, "election"),
            ] {
                let label = format!("{from}->{to} {kind}");
                let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                proxy::spawn(
                    listener,
                    target,
                    link.up.subscribe(),
                    self.cancel.clone(),
                    label.clone(),
                )
                .map_err(|e| ClusterError::io(format!("starting the {label} proxy"), e))?;
            }
        }
        Ok(())
    }

    /// The ports `from` dials to reach `to`.
    pub(crate) fn proxy_ports(&self, from: u64, to: u64) -> Option<PeerPorts> {
        self.links.get(&(from, to)).map(|l| l.ports)
    }

    /// Cuts both directions between `a` and `b`.
    pub(crate) fn cut(&self, a: u64, b: u64) {
        self.set(a, b, false);
        self.set(b, a, false);
    }

    /// Cuts every link of `id`.
    pub(crate) fn isolate(&self, id: u64) {
        for &other in self.ids.iter().filter(|&&o| o != id) {
            self.cut(id, other);
        }
    }

    /// Restores every link.
    pub(crate) fn heal(&self) {
        for link in self.links.values() {
            link.up.send_replace(true);
        }
    }

    /// Whether every link of `id` is cut (a single server is never isolated: it has no links).
    pub(crate) fn is_isolated(&self, id: u64) -> bool {
        let mut own = self
            .links
            .iter()
            .filter(|((f, t), _)| *f == id || *t == id)
            .peekable();
        own.peek().is_some() && own.all(|(_, l)| !*l.up.borrow())
    }

    /// The pairs `(a, b)`, `a < b`, whose link is cut in some direction.
    pub(crate) fn cut_pairs(&self) -> Vec<(u64, u64)> {
        let pairs: BTreeSet<(u64, u64)> = self
            .links
            .iter()
            .filter(|(_, l)| !*l.up.borrow())
            .map(|(&(f, t), _)| (f.min(t), f.max(t)))
            .collect();
        pairs.into_iter().collect()
    }

    fn set(&self, from: u64, to: u64, up: bool) {
        if let Some(l) = self.links.get(&(from, to)) {
            l.up.send_replace(up);
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn bind_loopback(label: &str) -> Result<(std::net::TcpListener, u16), ClusterError> {
    bind_unclaimed().map_err(|e| ClusterError::io(format!("binding the {label} proxy"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(n: u64) -> (tokio::runtime::Runtime, Network) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let real = (1..=n)
            .map(|id| {
                let p = PeerPorts {
                    quorum: 10_000 + id as u16,
                    election: 20_000 + id as u16,
                };
                (id, p)
            })
            .collect();
        let ids: Vec<u64> = (1..=n).collect();
        let mut net = Network::bind(&ids).unwrap();
        net.start(rt.handle(), &real).unwrap();
        (rt, net)
    }

    #[test]
    fn partitions_isolate_and_heal() {
        let (_rt, net) = network(3);
        assert!(net.proxy_ports(1, 2).is_some());
        assert!(net.proxy_ports(1, 1).is_none());
        assert_ne!(net.proxy_ports(1, 2), net.proxy_ports(2, 1));
        net.cut(1, 2);
        assert_eq!(net.cut_pairs(), vec![(1, 2)]);
        assert!(!net.is_isolated(1));
        net.isolate(3);
        assert!(net.is_isolated(3));
        assert_eq!(net.cut_pairs(), vec![(1, 2), (1, 3), (2, 3)]);
        net.heal();
        assert!(net.cut_pairs().is_empty());
        assert!(!net.is_isolated(3));
    }

    #[test]
    fn a_single_server_has_no_links() {
        let (_rt, net) = network(1);
        net.isolate(1);
        assert!(!net.is_isolated(1));
    }
}
