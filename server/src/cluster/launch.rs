//! What a node runs: a zk-server in quorum mode, started from its `zoo.cfg`-equivalent
//! [`ServerConfig`] (or, in this module's unit tests, a bare quorum driver, which needs no server
//! core), and how the cluster reads its role.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::server::{Server, ServerHandle};

use super::probe::{self, ServerMode};

/// Everything needed to start (and restart) one server.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    /// Its `myid`.
    pub(crate) id: u64,
    /// Its configuration: its own `server.N` line with its real ports, the others' through proxies.
    pub(crate) config: ServerConfig,
    /// Its client address (not proxied).
    pub(crate) client_addr: SocketAddr,
}

/// A running server as its node thread holds it.
pub(crate) trait Service: Send {
    /// Crash: stop at once; only what was written survives.
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()>;
    /// Graceful stop.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// How the cluster reads a node's role.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    /// `srvr` on the client port.
    Srvr(SocketAddr),
    /// The quorum driver's role watch (unit tests without a server core).
    #[cfg(test)]
    Role(tokio::sync::watch::Receiver<crate::quorum::RoleInfo>),
}

impl Probe {
    /// The node's mode now; `None` if it does not answer or is not serving.
    pub(crate) async fn mode(&self) -> Option<ServerMode> {
        match self {
            Probe::Srvr(addr) => probe::srvr_mode(*addr).await,
            #[cfg(test)]
            Probe::Role(rx) => {
                use zk_zab::{Role, ZabPhase};
                let r = *rx.borrow();
                match (r.role, r.phase) {
                    (Role::Leading, ZabPhase::Broadcast) => Some(ServerMode::Leader),
                    (Role::Following { .. }, ZabPhase::Broadcast) => Some(ServerMode::Follower),
                    (Role::Observing { .. }, ZabPhase::Broadcast) => Some(ServerMode::Observer),
                    _ => None,
                }
            }
        }
    }
}

/// Starts a node's server on the current (node) runtime.
pub(crate) type Launch = Arc<
    dyn Fn(NodeSpec) -> BoxFuture<'static, Result<(Box<dyn Service>, Probe), ServerError>>
        + Send
        + Sync,
>;

/// zk-server itself: `Server::builder().config(..).client_addr(..).start()`; the `myid` file in its
/// data dir and the `server.N` lines make it a quorum peer.
pub(crate) fn zk_server() -> Launch {
    Arc::new(|spec: NodeSpec| {
        async move {
            let handle = Server::builder()
                .config(spec.config)
                .client_addr(spec.client_addr.to_string())
                .start()
                .await?;
            let probe = Probe::Srvr(handle.addr());
            Ok((Box::new(handle) as Box<dyn Service>, probe))
        }
        .boxed()
    })
}

impl Service for ServerHandle {
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()> {
        ServerHandle::kill(*self).boxed()
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        ServerHandle::shutdown(*self).boxed()
    }
}

/// A bare quorum driver per node: elections, replication and failover without a server core, so
/// the cluster's machinery is testable on its own.
#[cfg(test)]
pub(crate) fn quorum_driver() -> Launch {
    use crate::quorum::{self, QuorumConfig, QuorumHandle};

    struct Driver(QuorumHandle);

    impl Service for Driver {
        fn kill(self: Box<Self>) -> BoxFuture<'static, ()> {
            self.0.kill().boxed()
        }

        fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
            async move {
                let _ = self.0.shutdown().await;
            }
            .boxed()
        }
    }

    Arc::new(|spec: NodeSpec| {
        async move {
            let qc = QuorumConfig::from_server_config(&spec.config, zk_zab::PeerId(spec.id))?;
            let mut h = quorum::start(qc).await?;
            // Nobody consumes the commits; drop the stream so they are not queued forever.
            drop(h.take_events());
            let probe = Probe::Role(h.role());
            Ok((Box::new(Driver(h)) as Box<dyn Service>, probe))
        }
        .boxed()
    })
}
