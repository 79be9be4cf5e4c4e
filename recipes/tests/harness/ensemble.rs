//! Test support for the ensemble fault tests: a three-server [`TestCluster`] with short ticks and
//! sessions of a few seconds, clients that start at a chosen server (so a test knows whose
//! connection a fault cuts), and where a session is connected now (the `cons` four-letter word,
//! as an operator would look it up), and the bookkeeping of work done while faults are injected.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use zk_client::{Client, ClientBuilder, CreateOptions, SessionId, SessionState};
use zk_server::cluster::TestCluster;

use super::{init_tracing, unique, within, DEADLINE};

/// Voting servers: the smallest ensemble that survives one failure.
pub const ENSEMBLE_SERVERS: usize = 3;

/// tickTime of the test ensembles: elections and failure detection (syncLimit, 5 ticks) within a
/// second. 100 ms ticks give a 500 ms syncLimit, which a busy two-core machine overruns now and
/// then (a starved thread, a spurious election); 200 ms keeps the tests fast and quiet.
pub const ENSEMBLE_TICK_MS: u32 = 200;

/// The session timeout the clients ask for, and the servers' maxSessionTimeout (set explicitly:
/// the default cap is 20 ticks). A few seconds: long enough that a leader failover (election, sync,
/// reconnect) does not expire healthy sessions, short enough that the tests which wait for an
/// expiry stay short.
pub const ENSEMBLE_SESSION_TIMEOUT: Duration = Duration::from_secs(4);

/// The container reaper's interval on the test servers, so emptied lock and election parents
/// go quickly (Apache's `znode.container.checkIntervalMs` defaults to a minute).
pub const CONTAINER_CHECK_MS: u64 = 100;

/// How long a `cons` probe may take before the server counts as not answering (a paused server
/// never answers).
pub const CONS_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts a [`ENSEMBLE_SERVERS`]-server cluster and waits for its quorum.
pub async fn ensemble() -> TestCluster {
    init_tracing();
    let max_session_ms = ENSEMBLE_SESSION_TIMEOUT.as_millis() as u32;
    within(
        "the test cluster to start",
        TestCluster::builder()
            .servers(ENSEMBLE_SERVERS)
            .tick_time(ENSEMBLE_TICK_MS)
            .configure(move |_, config| {
                config.max_session_timeout = Some(max_session_ms);
                config.container_check_interval_ms = CONTAINER_CHECK_MS;
            })
            .start(),
    )
    .await
    .unwrap_or_else(|e| panic!("start the test cluster: {e}"))
}

/// Every server id but `not`, in id order.
pub fn others(cluster: &TestCluster, not: u64) -> Vec<u64> {
    cluster.ids().into_iter().filter(|&id| id != not).collect()
}

/// A connect string listing every server, `first` first, then the others in id order.
pub fn preferring(cluster: &TestCluster, first: u64) -> String {
    std::iter::once(first)
        .chain(others(cluster, first))
        .map(|id| cluster.client_addr(id).unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The client builder of the ensemble tests: hosts in the order written (so a client starts at a
/// known server and moves to the next one in its list when it loses it).
pub fn ensemble_builder() -> ClientBuilder {
    Client::builder()
        .with_session_timeout(ENSEMBLE_SESSION_TIMEOUT)
        .with_connect_timeout(Duration::from_secs(10))
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .with_shuffle(false)
}

/// A client that knows every server and starts at `first`.
pub async fn connect_preferring(cluster: &TestCluster, first: u64) -> Client {
    let hosts = preferring(cluster, first);
    within("connect", ensemble_builder().connect(&hosts))
        .await
        .unwrap_or_else(|e| panic!("connect to {hosts}: {e}"))
}

/// A client that knows server `id` only: when that server is gone, so is the client.
pub async fn connect_only(cluster: &TestCluster, id: u64) -> Client {
    let host = cluster.client_addr(id).unwrap().to_string();
    within("connect", ensemble_builder().connect(&host))
        .await
        .unwrap_or_else(|e| panic!("connect to server {id} ({host}): {e}"))
}

/// The server that holds a connection of `session` now, from every running server's `cons`
/// (servers that do not answer within [`CONS_TIMEOUT`] are skipped).
pub async fn server_of(cluster: &TestCluster, session: SessionId) -> Option<u64> {
    let needle = format!("sid={:#x},", session.0);
    for id in cluster.ids() {
        if !cluster.is_running(id) || cluster.is_paused(id) {
            continue;
        }
        let addr = cluster.client_addr(id).unwrap();
        let answer = tokio::time::timeout(CONS_TIMEOUT, async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.write_all(b"cons").await?;
            let mut out = String::new();
            stream.read_to_string(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        })
        .await;
        if let Ok(Ok(out)) = answer {
            if out.contains(&needle) {
                return Some(id);
            }
        }
    }
    None
}

/// Waits until `session` is connected to some server and returns that server.
pub async fn wait_server_of(cluster: &TestCluster, client: &Client) -> u64 {
    within("the session's server", async {
        loop {
            let mut states = client.state_watcher();
            let _ = states
                .wait_for(|s| *s == zk_client::SessionState::Connected)
                .await;
            if let Some(id) = server_of(cluster, client.session_id()).await {
                return id;
            }
            // Connected by the client's account but not yet listed by the server (the handshake
            // reply is written before `cons` sees it): ask the server a question, which is
            // answered only once the connection is established there, and look again.
            let _ = client.exists("/").await;
        }
    })
    .await
}

/// Waits until the cluster has a leader with every running, reachable server in its quorum.
pub async fn quorum(cluster: &TestCluster) -> u64 {
    cluster
        .wait_for_quorum(DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("quorum: {e}"))
}

/// How many times one unit of work (an increment, a lease, a read or write under the lock) may
/// fail before the test calls it stuck: each failure is a fault the test injected (a lost
/// session, a reply lost in a failover), and a test injects a handful.
pub const MAX_ATTEMPTS: usize = 50;

/// Creates a persistent node unless it exists.
pub async fn ensure(client: &Client, path: &str) {
    ensure_with(client, path, b"").await;
}

/// Creates a persistent node holding `data` unless it exists, across connection loss (a create
/// whose reply was lost shows as NodeExists on the next try).
pub async fn ensure_with(client: &Client, path: &str, data: &[u8]) {
    within(&format!("create {path}"), async {
        loop {
            match client
                .create(path, data, &CreateOptions::persistent())
                .await
            {
                Ok(_) | Err(zk_client::Error::NodeExists) => return,
                Err(e) if e.is_retryable() || e == zk_client::Error::SessionExpired => {
                    let mut states = client.state_watcher();
                    let _ = states.wait_for(|s| *s == SessionState::Connected).await;
                }
                Err(e) => panic!("create {path}: {e}"),
            }
        }
    })
    .await
}

/// Runs a recipe call until it does not fail with a retryable client error (connection loss and
/// the like): for a test's setup and final reads, which the ensemble's own hiccups must not fail.
pub async fn retrying<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, zk_recipes::Error>>,
{
    within(what, async {
        loop {
            match f().await {
                Ok(v) => return v,
                Err(zk_recipes::Error::Client(e)) if e.is_retryable() => {}
                Err(e) => panic!("{what}: {e}"),
            }
        }
    })
    .await
}

/// A fresh directory under `/recipes` for one test.
pub async fn base_dir(client: &Client, name: &str) -> String {
    let base = unique(name);
    ensure(client, "/recipes").await;
    ensure(client, &base).await;
    base
}

/// Runs `work` until it reports success, at most [`MAX_ATTEMPTS`] times.
pub async fn until_done<F, Fut>(what: &str, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..MAX_ATTEMPTS {
        if work().await {
            return;
        }
    }
    panic!("{what} failed {MAX_ATTEMPTS} times");
}

/// Paces the workers of a fault test so that each fault lands while work is in flight and more
/// work follows it, however fast the machine: workers [`claim`](Work::claim) each unit within a
/// budget the test raises stage by stage ([`allow`](Work::allow)), and the test waits until a
/// number of units is [`reached`](Work::reached). Raising the budget a window above the next
/// stage's count leaves up to a window of units in flight when that count is reached.
#[derive(Clone, Default)]
pub struct Work(Arc<WorkState>);

#[derive(Default)]
struct WorkState {
    budget: watch::Sender<usize>,
    claimed: std::sync::Mutex<usize>,
    done: watch::Sender<usize>,
    /// Set when a worker panicked, so the test stops waiting for its work at once.
    failed: watch::Sender<bool>,
}

/// Held by a worker task: if the task panics, the [`Work`] is marked failed and
/// [`Work::reached`] fails at once (instead of timing out with the cause hidden in a task).
pub struct Worker(Work);

impl Drop for Worker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0 .0.failed.send_replace(true);
        }
    }
}

/// A claimed unit of work: [`done`](Claim::done) counts it; dropped unfinished (its worker was
/// cancelled), it goes back to the budget.
pub struct Claim {
    work: Work,
    finished: bool,
}

impl Work {
    /// Lets the workers start up to `n` units in all.
    pub fn allow(&self, n: usize) {
        self.0.budget.send_modify(|b| *b = (*b).max(n));
    }

    /// Waits until a unit is within the budget and claims it.
    pub async fn claim(&self) -> Claim {
        let mut budget = self.0.budget.subscribe();
        loop {
            {
                let mut claimed = self.0.claimed.lock().unwrap();
                if *claimed < *budget.borrow_and_update() {
                    *claimed += 1;
                    return Claim {
                        work: self.clone(),
                        finished: false,
                    };
                }
            }
            budget
                .changed()
                .await
                .expect("the budget lives with the claims");
        }
    }

    /// Registers a worker task (hold the guard for the task's life).
    pub fn worker(&self) -> Worker {
        Worker(self.clone())
    }

    /// Waits until `n` units are done; fails as soon as a worker panicked.
    pub async fn reached(&self, n: usize) {
        let mut done = self.0.done.subscribe();
        let mut failed = self.0.failed.subscribe();
        within(&format!("{n} units of work"), async {
            tokio::select! {
                _ = done.wait_for(|d| *d >= n) => {}
                _ = failed.wait_for(|f| *f) => panic!("a worker panicked (see its message above)"),
            }
        })
        .await;
    }

    /// Units done so far.
    pub fn done(&self) -> usize {
        *self.0.done.borrow()
    }
}

impl Claim {
    /// The unit is finished.
    pub fn done(mut self) {
        self.finished = true;
        self.work.0.done.send_modify(|d| *d += 1);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.finished {
            *self.work.0.claimed.lock().unwrap() -= 1;
            // Wake a worker waiting for room in the budget.
            self.work.0.budget.send_modify(|_| {});
        }
    }
}

/// Reads `path` through server `id` alone, after a `sync`: what that server has applied of
/// everything committed. The read is pipelined behind the sync, as ZooKeeper's per-session order
/// allows (the server answers it only after the sync). Retried across connection loss.
pub async fn read_on(cluster: &zk_server::cluster::TestCluster, id: u64, path: &str) -> Vec<u8> {
    let client = connect_only(cluster, id).await;
    let data = within(&format!("read {path} on server {id}"), async {
        loop {
            let synced = client.sync(path);
            let read = client.get_data(path);
            match (synced.await, read.await) {
                (Ok(()), Ok((data, _))) => return data,
                (Err(e), _) | (_, Err(e)) if e.is_retryable() => {}
                (Err(e), _) | (_, Err(e)) => panic!("read {path} on server {id}: {e}"),
            }
        }
    })
    .await;
    client.close().await;
    data
}
