//! [`TestCluster`]: the running cluster and its fault injection.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use tokio::runtime::Runtime;
use tracing::{debug, info};

use super::builder::TestClusterBuilder;
use super::dirs::ClusterDir;
use super::error::ClusterError;
use super::expire::{close_session, Closed};
use super::launch::{Launch, NodeSpec, Probe};
use super::network::Network;
use super::node::NodeThread;
use super::probe::ServerMode;

/// How often [`TestCluster::wait_for_quorum`] asks every server for its mode. A round is one
/// loopback `srvr` per server, well under a millisecond each.
pub const QUORUM_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Where a server is in its life.
#[derive(Debug, Clone)]
enum Status {
    /// Killed or stopped.
    Down,
    /// Its thread runs; `paused` while frozen.
    Up { probe: Probe, paused: bool },
}

/// One server: how to start it, its thread, and its status for quick reads.
struct Slot {
    spec: NodeSpec,
    /// Held across a lifecycle operation (kill, restart, pause...), so two never interleave.
    node: tokio::sync::Mutex<Option<NodeThread>>,
    status: std::sync::Mutex<Status>,
}

impl Slot {
    fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_status(&self, s: Status) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }
}

/// An in-process ZooKeeper ensemble of zk-servers on loopback, with fault injection: crash and
/// restart a server, freeze it, partition the peer network, expire a client's session.
///
/// See the [module docs](super) for how it works and an example.
pub struct TestCluster {
    slots: BTreeMap<u64, Slot>,
    network: Network,
    /// The proxies' runtime; `None` once shut down.
    rt: Option<Runtime>,
    launch: Launch,
    tick_time_ms: u32,
    /// Declared last: removed after every server is gone.
    dir: ClusterDir,
}

impl fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCluster")
            .field("dir", &self.dir.path())
            .field("connect", &self.connect_string())
            .field("partitions", &self.network.cut_pairs())
            .finish_non_exhaustive()
    }
}

/// One round of `srvr` answers, for deciding and for error messages.
struct View(Vec<(u64, Option<ServerMode>)>);

impl View {
    /// The leader, if exactly one server leads.
    fn leader(&self) -> Option<u64> {
        let mut leaders = self.0.iter().filter(|(_, m)| leads(*m));
        let (leader, _) = leaders.next()?;
        leaders.next().is_none().then_some(*leader)
    }

    /// The leader, if exactly one server leads and every other one is in its quorum.
    fn settled_leader(&self) -> Option<u64> {
        let in_quorum = self
            .0
            .iter()
            .all(|(_, m)| leads(*m) || m.is_some_and(ServerMode::is_in_quorum));
        self.leader().filter(|_| in_quorum)
    }
}

/// A one-server cluster is standalone, as in Apache ZooKeeper (an ensemble needs two `server.N`
/// lines); it leads itself.
fn leads(mode: Option<ServerMode>) -> bool {
    matches!(mode, Some(ServerMode::Leader | ServerMode::Standalone))
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(id, m)| match m {
                Some(m) => format!("{id}: {m}"),
                None => format!("{id}: not serving"),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

impl TestCluster {
    /// A builder with the defaults: [`DEFAULT_SERVERS`](super::DEFAULT_SERVERS) voters, no observers,
    /// [`DEFAULT_TICK_TIME_MS`](super::DEFAULT_TICK_TIME_MS).
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    pub(super) async fn launch(
        dir: ClusterDir,
        rt: Runtime,
        network: Network,
        specs: Vec<NodeSpec>,
        launch: Launch,
        tick_time_ms: u32,
    ) -> Result<TestCluster, ClusterError> {
        let started = join_all(
            specs
                .iter()
                .map(|s| NodeThread::start(s.clone(), launch.clone())),
        )
        .await;
        let mut slots = BTreeMap::new();
        let mut failed = None;
        for (spec, node) in specs.into_iter().zip(started) {
            let (node, status) = match node {
                Ok(n) => {
                    let probe = n.probe().clone();
                    (
                        Some(n),
                        Status::Up {
                            probe,
                            paused: false,
                        },
                    )
                }
                Err(e) => {
                    failed.get_or_insert(e);
                    (None, Status::Down)
                }
            };
            let slot = Slot {
                spec,
                node: tokio::sync::Mutex::new(node),
                status: std::sync::Mutex::new(status),
            };
            slots.insert(slot.spec.id, slot);
        }
        let cluster = TestCluster {
            slots,
            network,
            rt: Some(rt),
            launch,
            tick_time_ms,
            dir,
        };
        match failed {
            // Dropping the cluster kills the servers that did start.
            Some(e) => Err(e),
            None => {
                info!(dir = %cluster.dir.path().display(), connect = %cluster.connect_string(), "test cluster started");
                Ok(cluster)
            }
        }
    }

    /// Every server's id, voters first (`1..=servers`), then observers.
    pub fn ids(&self) -> Vec<u64> {
        self.slots.keys().copied().collect()
    }

    /// `host:port,host:port,...` of every server, for a client (killed ones included: clients skip
    /// them as they would a crashed server).
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = self
            .slots
            .values()
            .map(|s| s.spec.client_addr.to_string())
            .collect();
        addrs.join(",")
    }

    /// The client address of server `id` (the same across restarts).
    pub fn client_addr(&self, id: u64) -> Result<SocketAddr, ClusterError> {
        Ok(self.slot(id)?.spec.client_addr)
    }

    /// The data dir of server `id` (the same across restarts).
    pub fn data_dir(&self, id: u64) -> Result<PathBuf, ClusterError> {
        Ok(self.slot(id)?.spec.config.data_dir.clone())
    }

    /// The cluster's directory (every data dir is in it). Removed on drop unless
    /// [`KEEP_DIRS_ENV`](super::KEEP_DIRS_ENV) is set.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The tickTime the servers run with.
    pub fn tick_time(&self) -> Duration {
        Duration::from_millis(self.tick_time_ms.into())
    }

    /// Whether server `id` is running (paused counts as running; killed and stopped do not).
    pub fn is_running(&self, id: u64) -> bool {
        self.slot(id)
            .is_ok_and(|s| matches!(s.status(), Status::Up { .. }))
    }

    /// Whether server `id` is paused.
    pub fn is_paused(&self, id: u64) -> bool {
        self.slot(id)
            .is_ok_and(|s| matches!(s.status(), Status::Up { paused: true, .. }))
    }

    /// Whether every peer link of server `id` is cut ([`isolate`](Self::isolate)).
    pub fn is_isolated(&self, id: u64) -> bool {
        self.network.is_isolated(id)
    }

    /// Crashes server `id` like `kill -9`: it stops at once, only what it had written survives,
    /// its connections drop. Returns once its ports and data dir are free for
    /// [`restart`](Self::restart).
    pub async fn kill(&self, id: u64) -> Result<(), ClusterError> {
        let slot = self.slot(id)?;
        let mut node = slot.node.lock().await;
        let n = node.take().ok_or(ClusterError::NotRunning(id))?;
        slot.set_status(Status::Down);
        n.kill().await;
        info!(id, "server killed");
        Ok(())
    }

    /// Stops server `id` gracefully (it finishes the writes in flight and closes its connections).
    pub async fn stop(&self, id: u64) -> Result<(), ClusterError> {
        let slot = self.slot(id)?;
        let mut node = slot.node.lock().await;
        let n = node.take().ok_or(ClusterError::NotRunning(id))?;
        slot.set_status(Status::Down);
        n.shutdown().await;
        info!(id, "server stopped");
        Ok(())
    }

    /// Starts server `id` again on the same ports and data dir; a running server is killed first (a
    /// crash and restart). Returns once its ports are bound; it rejoins the ensemble by itself
    /// ([`wait_for_quorum`](Self::wait_for_quorum) waits for that).
    pub async fn restart(&self, id: u64) -> Result<(), ClusterError> {
        let slot = self.slot(id)?;
        let mut node = slot.node.lock().await;
        if let Some(n) = node.take() {
            slot.set_status(Status::Down);
            n.kill().await;
        }
        let n = NodeThread::start(slot.spec.clone(), self.launch.clone()).await?;
        slot.set_status(Status::Up {
            probe: n.probe().clone(),
            paused: false,
        });
        *node = Some(n);
        info!(id, "server restarted");
        Ok(())
    }

    /// Freezes server `id`, like a long GC pause or `SIGSTOP`: nothing in it runs (no replies, no
    /// pings, no timers) until [`resume`](Self::resume), while the kernel still accepts its
    /// connections. Its peers and clients see it go silent, not away.
    pub async fn pause(&self, id: u64) -> Result<(), ClusterError> {
        let slot = self.slot(id)?;
        let node = slot.node.lock().await;
        let n = node.as_ref().ok_or(ClusterError::NotRunning(id))?;
        n.pause().await?;
        slot.set_status(Status::Up {
            probe: n.probe().clone(),
            paused: true,
        });
        info!(id, "server paused");
        Ok(())
    }

    /// Unfreezes server `id`; everything it missed (timers, bytes from peers and clients) is
    /// handled at once.
    pub async fn resume(&self, id: u64) -> Result<(), ClusterError> {
        let slot = self.slot(id)?;
        let node = slot.node.lock().await;
        let n = node.as_ref().ok_or(ClusterError::NotRunning(id))?;
        n.resume();
        slot.set_status(Status::Up {
            probe: n.probe().clone(),
            paused: false,
        });
        info!(id, "server resumed");
        Ok(())
    }

    /// Partitions servers `a` and `b` from each other: their peer connections (election and quorum,
    /// both directions) are cut and new ones refused until [`heal`](Self::heal). Clients are not
    /// affected: a server that loses its quorum stops serving them by itself.
    pub fn partition(&self, a: u64, b: u64) -> Result<(), ClusterError> {
        self.slot(a)?;
        self.slot(b)?;
        self.network.cut(a, b);
        info!(a, b, "partitioned");
        Ok(())
    }

    /// Partitions server `id` from every other server.
    pub fn isolate(&self, id: u64) -> Result<(), ClusterError> {
        self.slot(id)?;
        self.network.isolate(id);
        info!(id, "isolated");
        Ok(())
    }

    /// Restores every peer link.
    pub fn heal(&self) {
        self.network.heal();
        info!("partitions healed");
    }

    /// The pairs `(a, b)`, `a < b`, currently partitioned.
    pub fn partitions(&self) -> Vec<(u64, u64)> {
        self.network.cut_pairs()
    }

    /// Server `id`'s mode from its `srvr` answer; `None` if it is killed, paused, not serving, or
    /// does not answer within [`PROBE_TIMEOUT`](super::PROBE_TIMEOUT).
    pub async fn mode(&self, id: u64) -> Option<ServerMode> {
        match self.slot(id).ok()?.status() {
            Status::Up {
                probe,
                paused: false,
            } => probe.mode().await,
            _ => None,
        }
    }

    /// The leader, if exactly one server that is running, not paused and not isolated says it
    /// leads (a one-server cluster is standalone and leads itself). An isolated old leader may
    /// still believe it leads for up to syncLimit ticks; it is not asked.
    pub async fn leader(&self) -> Option<u64> {
        self.view().await.leader()
    }

    /// Waits until exactly one server leads and every running server that is neither paused nor
    /// isolated is in its quorum (leader, follower or observer). Returns the leader. A server cut
    /// off by [`partition`](Self::partition) from the leader alone cannot rejoin and makes this wait
    /// time out.
    pub async fn wait_for_quorum(&self, timeout: Duration) -> Result<u64, ClusterError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut poll = tokio::time::interval(QUORUM_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            let view = self.view().await;
            if let Some(leader) = view.settled_leader() {
                debug!(leader, %view, "quorum");
                return Ok(leader);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Timeout {
                    what: format!(
                        "a leader with every reachable server in its quorum (last: {view})"
                    ),
                    waited: timeout,
                });
            }
        }
    }

    /// Waits until server `id` reports `want` (`None`: not serving, as an isolated or paused server
    /// after a while), polling its `srvr` every [`QUORUM_POLL_INTERVAL`].
    pub async fn wait_for_mode(
        &self,
        id: u64,
        want: Option<ServerMode>,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        self.slot(id)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut poll = tokio::time::interval(QUORUM_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            let mode = self.mode(id).await;
            if mode == want {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let show =
                    |m: Option<ServerMode>| m.map_or("not serving".to_string(), |m| m.to_string());
                return Err(ClusterError::Timeout {
                    what: format!("server {id} to be {} (last: {})", show(want), show(mode)),
                    waited: timeout,
                });
            }
        }
    }

    /// Expires a client's session the way Curator's `KillSession` does: a second connection resumes
    /// the session (zk-server derives its password from the id) and closes it. Its ephemerals
    /// vanish everywhere and the client is told the session expired when it next talks to the
    /// ensemble. Tries the leader first, then every other reachable server. An already expired
    /// session is not an error.
    pub async fn expire_session(&self, session_id: i64) -> Result<(), ClusterError> {
        let view = self.view().await;
        let mut order: Vec<(u64, Option<ServerMode>)> = view.0;
        // Leader first, then in-quorum servers, then the rest.
        order.sort_by_key(|(id, m)| {
            let rank = match m {
                m if leads(*m) => 0,
                Some(m) if m.is_in_quorum() => 1,
                _ => 2,
            };
            (rank, *id)
        });
        let timeout_ms = i32::try_from(
            self.tick_time_ms
                .saturating_mul(crate::config::MAX_SESSION_TIMEOUT_TICKS),
        )
        .unwrap_or(i32::MAX);
        let mut errors = Vec::new();
        for (id, _) in order {
            let addr = self.slot(id)?.spec.client_addr;
            match close_session(addr, session_id, timeout_ms).await {
                Ok(Closed::Closed) => {
                    info!(
                        session = format_args!("{session_id:#x}"),
                        via = id,
                        "session expired"
                    );
                    return Ok(());
                }
                Ok(Closed::AlreadyGone) => {
                    info!(
                        session = format_args!("{session_id:#x}"),
                        via = id,
                        "session was already gone"
                    );
                    return Ok(());
                }
                Err(e) => errors.push(format!("server {id}: {e}")),
            }
        }
        if errors.is_empty() {
            errors.push("no server is running".into());
        }
        Err(ClusterError::NoServer(errors.join("; ")))
    }

    /// Stops every server gracefully, then removes the directory (unless kept). Dropping the cluster
    /// instead kills them.
    pub async fn shutdown(mut self) {
        for slot in self.slots.values() {
            if let Some(n) = slot.node.lock().await.take() {
                slot.set_status(Status::Down);
                n.shutdown().await;
            }
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    /// Modes of the servers that should be in the quorum: running, not paused, not isolated.
    async fn view(&self) -> View {
        let candidates: Vec<(u64, Probe)> = self
            .slots
            .iter()
            .filter(|(id, _)| !self.network.is_isolated(**id))
            .filter_map(|(id, s)| match s.status() {
                Status::Up {
                    probe,
                    paused: false,
                } => Some((*id, probe)),
                _ => None,
            })
            .collect();
        let modes = join_all(candidates.iter().map(|(_, p)| p.mode())).await;
        View(candidates.iter().map(|(id, _)| *id).zip(modes).collect())
    }

    fn slot(&self, id: u64) -> Result<&Slot, ClusterError> {
        self.slots.get(&id).ok_or(ClusterError::NoSuchServer(id))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Kill every server (each NodeThread joins its thread on drop), then stop the proxies; the
        // directory goes last, with the `dir` field.
        for slot in self.slots.values_mut() {
            drop(slot.node.get_mut().take());
        }
        if let Some(rt) = self.rt.take() {
            // Allowed inside an async context, unlike dropping the runtime.
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use ServerMode::*;

    /// Modes seen, expected leader, expected settled leader.
    type Case = (
        &'static [(u64, Option<ServerMode>)],
        Option<u64>,
        Option<u64>,
    );

    #[test]
    fn a_settled_leader_needs_one_leader_and_everyone_in_quorum() {
        let table: &[Case] = &[
            (
                &[(1, Some(Leader)), (2, Some(Follower)), (3, Some(Observer))],
                Some(1),
                Some(1),
            ),
            (
                &[(1, Some(Leader)), (2, None), (3, Some(Follower))],
                Some(1),
                None,
            ),
            (&[(1, Some(Leader)), (2, Some(Leader))], None, None),
            (&[(1, None), (2, Some(Follower))], None, None),
            (&[(1, Some(Standalone))], Some(1), Some(1)),
            (&[], None, None),
        ];
        for (modes, leader, settled) in table {
            let view = View(modes.to_vec());
            assert_eq!(view.leader(), *leader, "{view}");
            assert_eq!(view.settled_leader(), *settled, "{view}");
        }
    }

    #[test]
    fn the_cluster_and_its_operations_can_be_shared_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<TestCluster>();
        // Only type-checked: the futures of a shared cluster can be spawned.
        let _ = |c: &'static TestCluster| {
            send(&c.kill(1));
            send(&c.restart(1));
            send(&c.pause(1));
            send(&c.wait_for_quorum(Duration::ZERO));
            send(&c.expire_session(0));
        };
    }
}
