//! Starting and stopping a server: [`Server::builder`] -> [`ServerHandle`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{ServerConfig, FOUR_LETTER_WORDS};
use crate::core::{Core, CoreConfig};
use crate::error::ServerError;
use crate::net::{self, ConnCtx, Limits};
use crate::persist::{spawn_log_thread, MemStorage, Storage};
use crate::prep::PrepConfig;
use crate::session::initial_session_id;
use crate::tree::DataTree;

/// Capacity of the channel from connections to the core: connections wait (backpressure) when
/// the core is this far behind.
pub const CORE_CHANNEL_CAPACITY: usize = 4096;

/// Milliseconds since the Unix epoch (txn times, TTLs).
pub fn wall_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Entry point for embedding: see [`Server::builder`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A builder with zk-server's defaults (standalone, loopback, in-memory storage unless a
    /// data dir is set).
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig {
                four_letter_whitelist: FOUR_LETTER_WORDS.iter().map(|s| s.to_string()).collect(),
                ..ServerConfig::default()
            },
            addr: None,
            storage: None,
            in_memory: true,
            max_outstanding: net::DEFAULT_MAX_OUTSTANDING_PER_CONN,
        }
    }
}

/// Configures and starts a server.
pub struct ServerBuilder {
    config: ServerConfig,
    addr: Option<String>,
    storage: Option<Box<dyn Storage>>,
    in_memory: bool,
    max_outstanding: usize,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("addr", &self.addr)
            .finish()
    }
}

impl ServerBuilder {
    /// Uses a parsed `zoo.cfg` (the data dir is used for storage).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self.in_memory = false;
        self
    }

    /// Where snapshots and the txn log live (Apache's layout, `version-2/`).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = dir.into();
        self.in_memory = false;
        self
    }

    /// The client address, e.g. `127.0.0.1:0` for a free port.
    pub fn client_addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = Some(addr.into());
        self
    }

    /// Milliseconds per tick (session expiry granularity; timeouts are 2..20 ticks).
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.config.tick_time = ms;
        self
    }

    /// Container/TTL reaper interval.
    pub fn container_check_interval(mut self, ms: u64) -> Self {
        self.config.container_check_interval_ms = ms;
        self
    }

    /// `znode.container.maxPerMinute`: container/TTL deletions per minute at most.
    pub fn container_max_per_minute(mut self, n: u32) -> Self {
        self.config.container_max_per_minute = n.max(1);
        self
    }

    /// `zookeeper.digest.enabled`: keep, log and check the tree digest (default on).
    pub fn digest_enabled(mut self, on: bool) -> Self {
        self.config.digest_enabled = on;
        self
    }

    /// jute.maxbuffer: the largest request accepted.
    pub fn jute_maxbuffer(mut self, bytes: usize) -> Self {
        self.config.jute_maxbuffer = bytes;
        self
    }

    /// Snapshot every ~`n` txns.
    pub fn snap_count(mut self, n: u32) -> Self {
        self.config.snap_count = n;
        self
    }

    /// The super user digest (`super:<base64 sha1>`).
    pub fn super_digest(mut self, digest: impl Into<String>) -> Self {
        self.config.super_digest = Some(digest.into());
        self
    }

    /// maxClientCnxns per IP.
    pub fn max_client_cnxns(mut self, n: u32) -> Self {
        self.config.max_client_cnxns = n;
        self
    }

    /// Requests one connection may have in flight.
    pub fn max_outstanding_per_conn(mut self, n: usize) -> Self {
        self.max_outstanding = n.max(1);
        self
    }

    /// A custom storage (e.g. a shared [`MemStorage`] to simulate restarts in tests).
    pub fn storage(mut self, storage: impl Storage) -> Self {
        self.storage = Some(Box::new(storage));
        self
    }

    /// Recovers state, binds the port and starts serving.
    pub async fn start(self) -> Result<ServerHandle, ServerError> {
        let cfg = self.config;
        cfg.validate()?;
        let addr = match &self.addr {
            Some(a) => a.clone(),
            None => cfg.client_addr()?.to_string(),
        };
        let mut storage: Box<dyn Storage> = match self.storage {
            Some(s) => s,
            None if self.in_memory => Box::new(MemStorage::new()),
            None => crate::durability::open(&cfg)?,
        };
        let mut quorum = None;
        let (tree, first_session_id) = if is_ensemble(&cfg) {
            let q = crate::ensemble::start_peer(&cfg).await?;
            storage = Box::new(q.snapshot_writer);
            quorum = Some((q.handle, q.replica, q.client_addr));
            (q.tree, q.first_session_id)
        } else {
            let recovered = storage.recover()?;
            (
                recover_tree(recovered, cfg.digest_enabled),
                initial_session_id(0, wall_millis()),
            )
        };
        let addr = match (&self.addr, &quorum) {
            (Some(a), _) => a.clone(),
            (None, Some((_, _, a))) => a.clone(),
            (None, None) => addr,
        };
        let listener = TcpListener::bind(&addr).await?;
        let local = listener.local_addr()?;
        let (log_ev_tx, log_ev_rx) = mpsc::unbounded_channel();
        let (log_tx, log_thread) = spawn_log_thread(storage, log_ev_tx);
        let core_cfg = Arc::new(CoreConfig {
            tick_ms: cfg.tick_time as u64,
            min_session_timeout: cfg.min_session_timeout() as i32,
            max_session_timeout: cfg.max_session_timeout() as i32,
            snap_count: cfg.snap_count as u64,
            super_digest: cfg.super_digest.clone(),
            prep: PrepConfig {
                extended_types: cfg.extended_types,
                digest: cfg.digest_enabled,
            },
            container_check_ms: cfg.container_check_interval_ms,
            container_max_per_minute: cfg.container_max_per_minute,
            container_max_never_used_ms: cfg.container_max_never_used_interval_ms,
            conf_lines: conf_lines(&cfg, local),
        });
        let mut core = Core::new(core_cfg, tree, log_tx, first_session_id);
        let mut quorum_events = None;
        let quorum_handle = match quorum {
            Some((mut handle, replica, _)) => {
                core.set_replica(replica);
                quorum_events = handle.take_events();
                Some(handle)
            }
            None => None,
        };
        let (core_tx, core_rx) = mpsc::channel(CORE_CHANNEL_CAPACITY);
        let (shutdown_tx, _) = broadcast::channel(1);
        let core_task =
            tokio::spawn(core.run(core_rx, log_ev_rx, quorum_events, shutdown_tx.subscribe()));
        let ctx = Arc::new(ConnCtx {
            core: core_tx,
            max_frame: cfg.jute_maxbuffer,
            max_outstanding: self.max_outstanding,
            whitelist: cfg.four_letter_whitelist.clone(),
        });
        let limits = Limits {
            max_connections: net::DEFAULT_MAX_CONNECTIONS,
            max_per_ip: cfg.max_client_cnxns,
        };
        let listener_task = tokio::spawn(net::serve(
            listener,
            ctx,
            limits,
            shutdown_tx.clone(),
            shutdown_tx.subscribe(),
        ));
        info!(addr = %local, "zk-server serving");
        Ok(ServerHandle {
            addr: local,
            quorum: quorum_handle,
            shutdown_tx,
            core_task: Some(core_task),
            listener_task: Some(listener_task),
            log_thread: Some(log_thread),
        })
    }
}

/// Whether the config describes an ensemble (more than one `server.N` line); a single-server
/// config is standalone, as in Apache ZooKeeper.
pub fn is_ensemble(cfg: &ServerConfig) -> bool {
    cfg.servers.len() > 1
}

/// `FileTxnSnapLog.restore`: load the snapshot, replay the txns after it (each checked against
/// the digest it was logged with, once past the snapshot's fuzzy range), and warn when the log
/// does not reach the zxid of the snapshot's digest.
pub(crate) fn recover_tree(recovered: crate::persist::Recovered, digest_enabled: bool) -> DataTree {
    let mut tree = match recovered.snapshot {
        Some(s) => {
            let mut t = DataTree::new();
            t.set_digest_enabled(digest_enabled);
            t = DataTree::from_snapshot_with(t, s.nodes, s.sessions, s.last_zxid);
            t.load_snapshot_digest(s.digest);
            t
        }
        None => {
            let mut t = DataTree::new();
            t.set_digest_enabled(digest_enabled);
            t
        }
    };
    let replayed = recovered.txns.len();
    let snapshot_zxid = tree.last_zxid();
    for t in recovered.txns {
        // Recovery hands over the txns after the snapshot; a stray older one is skipped.
        if t.zxid() > snapshot_zxid || t.zxid() == 0 {
            tree.apply(&t.header, &t.body);
            tree.compare_digest(&t.header, t.digest.as_ref());
        }
    }
    if let Some(d) = tree.uncovered_snapshot_digest() {
        warn!(
            highest = format_args!("{:#x}", tree.last_zxid()),
            digest_zxid = format_args!("{:#x}", d.zxid),
            "highest txn zxid is not covering the snapshot digest zxid, which might lead to \
             inconsistent state"
        );
    }
    info!(
        last_zxid = format_args!("{:#x}", tree.last_zxid()),
        replayed,
        sessions = tree.sessions().len(),
        digest = tree.digest(),
        digest_mismatches = tree.digest_mismatches(),
        "state recovered"
    );
    tree
}

fn conf_lines(cfg: &ServerConfig, addr: SocketAddr) -> Vec<(String, String)> {
    let snap = cfg.data_dir.join("version-2").display().to_string();
    let log = cfg.log_dir().join("version-2").display().to_string();
    vec![
        ("clientPort".into(), addr.port().to_string()),
        ("secureClientPort".into(), "-1".into()),
        ("dataDir".into(), snap),
        ("dataDirSize".into(), "0".into()),
        ("dataLogDir".into(), log),
        ("dataLogSize".into(), "0".into()),
        ("tickTime".into(), cfg.tick_time.to_string()),
        ("maxClientCnxns".into(), cfg.max_client_cnxns.to_string()),
        (
            "minSessionTimeout".into(),
            cfg.min_session_timeout().to_string(),
        ),
        (
            "maxSessionTimeout".into(),
            cfg.max_session_timeout().to_string(),
        ),
        ("clientPortListenBacklog".into(), "-1".into()),
        ("serverId".into(), "0".into()),
    ]
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    /// The ensemble peer, when the config names other servers.
    quorum: Option<crate::quorum::QuorumHandle>,
    shutdown_tx: broadcast::Sender<()>,
    core_task: Option<JoinHandle<()>>,
    listener_task: Option<JoinHandle<()>>,
    log_thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` for clients.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Graceful shutdown: stop accepting, finish the writes in flight, close connections,
    /// sync the log.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(());
        if let Some(t) = self.listener_task.take() {
            let _ = t.await;
        }
        self.wait().await;
    }

    /// Waits until the server stops (after [`ServerHandle::shutdown`] from elsewhere, or a
    /// storage failure).
    pub async fn wait(&mut self) {
        if let Some(t) = self.core_task.take() {
            let _ = t.await;
        }
        if let Some(t) = self.log_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(q) = self.quorum.take() {
            if let Err(e) = q.shutdown().await {
                warn!(error = %e, "quorum peer stopped with an error");
            }
        }
    }

    /// Stops at once without finishing anything, like `kill -9`: writes not yet acknowledged
    /// may or may not survive; acknowledged ones are durable. Returns once the storage is
    /// released, so a new server may open the same data dir.
    pub async fn kill(mut self) {
        if let Some(q) = self.quorum.take() {
            q.kill().await;
        }
        if let Some(t) = &self.core_task {
            t.abort();
        }
        if let Some(t) = self.listener_task.take() {
            t.abort();
        }
        let _ = self.shutdown_tx.send(());
        self.wait().await;
    }

    /// The ensemble role (`None` for a standalone server): a watch that changes with every
    /// election, sync and commit.
    pub fn quorum_role(&self) -> Option<tokio::sync::watch::Receiver<crate::quorum::RoleInfo>> {
        self.quorum.as_ref().map(|q| q.role())
    }

    /// A sender that triggers graceful shutdown (for signal handlers).
    pub fn shutdown_trigger(&self) -> broadcast::Sender<()> {
        self.shutdown_tx.clone()
    }
}
