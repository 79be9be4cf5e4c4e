//! [`TestClusterBuilder`]: the cluster's shape and timing, and starting it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::config::{ServerConfig, ServerLine, FOUR_LETTER_WORDS};

use super::dirs::ClusterDir;
use super::error::ClusterError;
use super::launch::{self, Launch, NodeSpec};
use super::network::{Network, PeerPorts};
use super::ports::free_ports;
use super::test_cluster::TestCluster;

/// Voting servers when not told otherwise: the smallest ensemble that survives a failure.
pub const DEFAULT_SERVERS: usize = 3;
/// Observers when not told otherwise.
pub const DEFAULT_OBSERVERS: usize = 0;
/// tickTime of a test cluster, in ms. Apache's default is 3000 (`ZooKeeperServer.DEFAULT_TICK_TIME`);
/// tests want elections and failure detection in tenths of a second, so every limit below is in
/// these short ticks. Session timeouts are 2..20 ticks (200 ms..2 s) unless configured.
pub const DEFAULT_TICK_TIME_MS: u32 = 100;
/// initLimit in ticks (Apache's sample zoo.cfg uses 10): how long a learner may take to connect and
/// sync with a new leader.
pub const DEFAULT_INIT_LIMIT: u32 = 10;
/// syncLimit in ticks (Apache's sample zoo.cfg uses 5): how long a learner may lag before the
/// leader drops it, and a silent leader before its learners give up on it.
pub const DEFAULT_SYNC_LIMIT: u32 = 5;
/// `forceSync` of a test cluster: off. [`TestCluster::kill`] crashes a server, not the machine: the
/// page cache survives it, so whatever was written before the crash is still there on restart, with
/// or without fsync; fsync would only slow the tests down.
pub const DEFAULT_FORCE_SYNC: bool = false;
/// How long [`TestClusterBuilder::start`] waits for a leader and every server in the quorum.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times start picks fresh ports when another process took one of the chosen ports first.
pub const START_ATTEMPTS: usize = 3;
/// Ports per server: client, quorum, election.
const PORTS_PER_SERVER: usize = 3;

/// Adjusts a server's configuration before it starts (see [`TestClusterBuilder::configure`]).
type Configure = Arc<dyn Fn(u64, &mut ServerConfig) + Send + Sync>;

/// Configures and starts a [`TestCluster`]; from [`TestCluster::builder`].
#[derive(Clone)]
pub struct TestClusterBuilder {
    servers: usize,
    observers: usize,
    tick_time_ms: u32,
    init_limit: u32,
    sync_limit: u32,
    force_sync: bool,
    start_timeout: Duration,
    configure: Option<Configure>,
    launch: Launch,
}

impl std::fmt::Debug for TestClusterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClusterBuilder")
            .field("servers", &self.servers)
            .field("observers", &self.observers)
            .field("tick_time_ms", &self.tick_time_ms)
            .field("init_limit", &self.init_limit)
            .field("sync_limit", &self.sync_limit)
            .field("force_sync", &self.force_sync)
            .field("start_timeout", &self.start_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for TestClusterBuilder {
    fn default() -> Self {
        TestClusterBuilder {
            servers: DEFAULT_SERVERS,
            observers: DEFAULT_OBSERVERS,
            tick_time_ms: DEFAULT_TICK_TIME_MS,
            init_limit: DEFAULT_INIT_LIMIT,
            sync_limit: DEFAULT_SYNC_LIMIT,
            force_sync: DEFAULT_FORCE_SYNC,
            start_timeout: DEFAULT_START_TIMEOUT,
            configure: None,
            launch: launch::zk_server(),
        }
    }
}

impl TestClusterBuilder {
    /// Voting servers (ids `1..=n`); at least 1.
    pub fn servers(mut self, n: usize) -> Self {
        self.servers = n.max(1);
        self
    }

    /// Observers (ids after the voters).
    pub fn observers(mut self, n: usize) -> Self {
        self.observers = n;
        self
    }

    /// Milliseconds per tick; at least 1.
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.tick_time_ms = ms.max(1);
        self
    }

    /// initLimit, in ticks.
    pub fn init_limit(mut self, ticks: u32) -> Self {
        self.init_limit = ticks;
        self
    }

    /// syncLimit, in ticks.
    pub fn sync_limit(mut self, ticks: u32) -> Self {
        self.sync_limit = ticks;
        self
    }

    /// `forceSync`: fsync the txn log before acknowledging (default [`DEFAULT_FORCE_SYNC`]).
    pub fn force_sync(mut self, on: bool) -> Self {
        self.force_sync = on;
        self
    }

    /// How long [`start`](Self::start) waits for the quorum (default [`DEFAULT_START_TIMEOUT`]).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Adjusts each server's configuration (e.g. `max_session_timeout`, `snap_count`) after the
    /// cluster filled in ports, directories, timing and membership; called once per server, with
    /// its id, when the cluster is built (restarts reuse the result).
    pub fn configure(mut self, f: impl Fn(u64, &mut ServerConfig) + Send + Sync + 'static) -> Self {
        self.configure = Some(Arc::new(f));
        self
    }

    #[cfg(test)]
    pub(crate) fn launch(mut self, launch: Launch) -> Self {
        self.launch = launch;
        self
    }

    /// Starts every server, each on its own thread and runtime, and waits until the ensemble has a
    /// leader and every server is in it ([`TestCluster::wait_for_quorum`]).
    pub async fn start(self) -> Result<TestCluster, ClusterError> {
        let mut attempt = 1;
        loop {
            match self.try_start().await {
                Err(e) if attempt < START_ATTEMPTS && is_port_taken(&e) => {
                    warn!(%e, attempt, "a chosen port was taken; starting over with fresh ports");
                    attempt += 1;
                }
                Err(e) => return Err(e),
                Ok(cluster) => {
                    cluster.wait_for_quorum(self.start_timeout).await?;
                    return Ok(cluster);
                }
            }
        }
    }

    async fn try_start(&self) -> Result<TestCluster, ClusterError> {
        let n = self.servers + self.observers;
        let ids: Vec<u64> = (1..=n as u64).collect();
        // Proxies first: they keep their ports, so the servers' ports cannot collide with them.
        let mut network = Network::bind(&ids)?;
        let ports = free_ports(PORTS_PER_SERVER * n)?;
        let mut client = BTreeMap::new();
        let mut real = BTreeMap::new();
        for (i, &id) in ids.iter().enumerate() {
            let p = &ports[PORTS_PER_SERVER * i..PORTS_PER_SERVER * (i + 1)];
            client.insert(id, SocketAddr::from((Ipv4Addr::LOCALHOST, p[0])));
            let peer = PeerPorts {
                quorum: p[1],
                election: p[2],
            };
            real.insert(id, peer);
        }
        let dir = ClusterDir::create()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zk-cluster-net")
            .enable_all()
            .build()
            .map_err(|e| ClusterError::io("building the proxies' runtime", e))?;
        network.start(rt.handle(), &real)?;
        let mut specs = Vec::with_capacity(n);
        for &id in &ids {
            let data_dir = dir.server(id);
            crate::quorum::write_myid(&data_dir, zk_zab::PeerId(id))
                .map_err(|e| ClusterError::io(format!("writing server {id}'s myid"), e))?;
            let observer = id > self.servers as u64;
            let mut config = self.base_config(&data_dir, client[&id]);
            for (&other, ports) in &real {
                let ports = if other == id {
                    *ports
                } else {
                    network
                        .proxy_ports(id, other)
                        .expect("a proxy for every pair of servers")
                };
                let role = if other > self.servers as u64 {
                    "observer"
                } else {
                    "participant"
                };
                config.servers.insert(
                    other,
                    ServerLine {
                        id: other,
                        host: Ipv4Addr::LOCALHOST.to_string(),
                        quorum_port: ports.quorum,
                        election_port: ports.election,
                        role: role.into(),
                        client: Some(client[&other].to_string()),
                    },
                );
            }
            if let Some(f) = &self.configure {
                f(id, &mut config);
            }
            tracing::debug!(id, observer, "server config ready");
            specs.push(NodeSpec {
                id,
                config,
                client_addr: client[&id],
            });
        }
        TestCluster::launch(
            dir,
            rt,
            network,
            specs,
            self.launch.clone(),
            self.tick_time_ms,
        )
        .await
    }

    fn base_config(&self, data_dir: &std::path::Path, client: SocketAddr) -> ServerConfig {
        ServerConfig {
            tick_time: self.tick_time_ms,
            init_limit: self.init_limit,
            sync_limit: self.sync_limit,
            data_dir: data_dir.to_path_buf(),
            client_port: client.port(),
            client_port_address: client.ip().to_string(),
            force_sync: self.force_sync,
            four_letter_whitelist: FOUR_LETTER_WORDS.iter().map(|s| s.to_string()).collect(),
            ..ServerConfig::default()
        }
    }
}

/// Whether a server failed to start because one of its ports was taken (anywhere in the error's
/// source chain, so a quorum-port failure wrapped by the server counts too).
fn is_port_taken(e: &ClusterError) -> bool {
    if !matches!(e, ClusterError::Start { .. }) {
        return false;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::AddrInUse {
                return true;
            }
        }
        cause = c.source();
    }
    false
}
