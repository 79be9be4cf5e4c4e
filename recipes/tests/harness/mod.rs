//! Test support for the lock, election and Curator-interop tests: the servers under test (Apache
//! ZooKeeper via zk-testkit, and the embedded zk-server), a cuttable TCP proxy, forced session
//! expiry, and waits with deadlines (never fixed sleeps); for the ensemble fault tests, a
//! three-server `TestCluster` ([`ensemble`]) and checks through the server's record ([`fenced`]).
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use zk_client::{Client, ClientBuilder, SessionState, StateStream};
use zk_testkit::{ApacheOptions, ApacheServer, TestDir};

/// A three-server zk-server ensemble (`zk_server::cluster::TestCluster`) and its helpers.
pub mod ensemble;
/// Holders' writes resolved through the server's record, and the leadership log.
pub mod fenced;
/// What holders write while they hold, so that overlaps show in the server's record.
pub mod holders;

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The session timeout the tests ask for (granted as is: with tickTime 500 ms the servers allow
/// 1 s to 10 s).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// tickTime of the servers the tests start: short, so sessions expire quickly.
pub const TICK: Duration = Duration::from_millis(500);

/// Which servers to run against: `ZK_RECIPES_SERVERS=apache`, `zk`, or both (default).
pub const SERVERS_ENV: &str = "ZK_RECIPES_SERVERS";

/// A server the recipes are tested against.
pub enum TestServer {
    /// Apache ZooKeeper (Debian package), started by zk-testkit.
    Apache(ApacheServer),
    /// zk-server, embedded in the test process, with a data dir so it survives a restart.
    Zk {
        handle: Option<zk_server::ServerHandle>,
        addr: SocketAddr,
        dir: TestDir,
    },
}

impl TestServer {
    pub fn name(&self) -> &'static str {
        match self {
            TestServer::Apache(_) => "apache",
            TestServer::Zk { .. } => "zk-server",
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            TestServer::Apache(s) => s.addr(),
            TestServer::Zk { addr, .. } => *addr,
        }
    }

    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// Kills the server (SIGKILL / abort), keeping its data.
    pub async fn kill(&mut self) {
        match self {
            TestServer::Apache(s) => tokio::task::block_in_place(|| s.kill()),
            TestServer::Zk { handle, .. } => {
                if let Some(h) = handle.take() {
                    h.kill().await;
                }
            }
        }
    }

    /// Restarts it on the same port with the same data.
    pub async fn restart(&mut self) {
        match self {
            TestServer::Apache(s) => tokio::task::block_in_place(|| s.restart().unwrap()),
            TestServer::Zk { handle, addr, dir } => {
                if let Some(h) = handle.take() {
                    h.kill().await;
                }
                *handle = Some(start_zk(&addr.to_string(), dir).await);
            }
        }
    }
}

async fn start_zk(addr: &str, dir: &TestDir) -> zk_server::ServerHandle {
    zk_server::Server::builder()
        .client_addr(addr)
        .data_dir(dir.path())
        .tick_time(TICK.as_millis() as u32)
        .container_check_interval(100)
        .start()
        .await
        .unwrap_or_else(|e| panic!("start zk-server: {e}"))
}

fn wanted(name: &str) -> bool {
    match std::env::var(SERVERS_ENV) {
        Ok(list) if !list.is_empty() => list.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

/// The servers to run a test against: Apache (skipped without Java, unless ZK_REQUIRE_APACHE)
/// and zk-server.
pub async fn servers(test: &str) -> Vec<TestServer> {
    init_tracing();
    let mut servers = Vec::new();
    if wanted("apache") {
        if let Some(s) = apache(test) {
            servers.push(TestServer::Apache(s));
        }
    }
    if wanted("zk") {
        let dir = TestDir::new(test).unwrap();
        let handle = start_zk("127.0.0.1:0", &dir).await;
        servers.push(TestServer::Zk {
            addr: handle.addr(),
            handle: Some(handle),
            dir,
        });
    }
    servers
}

/// Only Apache (for the Curator tests' first server).
pub fn apache(test: &str) -> Option<ApacheServer> {
    init_tracing();
    let options = ApacheOptions::new()
        .with_tick_time(TICK)
        .with_jvm_arg("-Dznode.container.checkIntervalMs=100");
    tokio::task::block_in_place(|| zk_testkit::apache_with_or_skip(test, options))
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// The builder the tests use.
pub fn builder() -> ClientBuilder {
    Client::builder()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connect_timeout(Duration::from_secs(10))
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

pub async fn connect(connect_string: &str) -> Client {
    within("connect", builder().connect(connect_string))
        .await
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// A path unique within the test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/recipes/{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Awaits `f`, failing the test after [`DEADLINE`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// Reads a stream until an item matching `pred`, failing after [`DEADLINE`].
pub async fn wait_item<S, T>(what: &str, s: &mut S, pred: impl Fn(&T) -> bool) -> T
where
    S: Stream<Item = T> + Unpin,
    T: std::fmt::Debug,
{
    within(what, async {
        while let Some(item) = s.next().await {
            if pred(&item) {
                return item;
            }
        }
        panic!("stream ended while waiting for {what}");
    })
    .await
}

/// Reads the state stream until `want`.
pub async fn wait_state(states: &mut StateStream, want: SessionState) {
    wait_item(&format!("state {want:?}"), states, |s| *s == want).await;
}

/// Waits until `dir` has exactly `n` children (watch-driven); returns them.
pub async fn wait_children(client: &Client, dir: &str, n: usize) -> Vec<String> {
    within(&format!("{n} children of {dir}"), async {
        loop {
            match client.get_children_w(dir).await {
                Ok((children, _, _)) if children.len() == n => return children,
                Ok((_, _, w)) => {
                    w.await;
                }
                Err(zk_client::Error::NoNode) if n == 0 => return Vec::new(),
                Err(zk_client::Error::NoNode) => {
                    if let Ok((_, w)) = client.exists_w(dir).await {
                        w.await;
                    }
                }
                // The server (or an ensemble member) went away for a moment: ask again.
                Err(e) if e.is_retryable() => {}
                Err(e) => panic!("list {dir}: {e}"),
            }
        }
    })
    .await
}

/// Expires `client`'s session for good: cuts its proxy, takes the session over from a second
/// connection with the same id and password, closes that (the server deletes the session's
/// ephemerals at once), and reconnects the proxy. The client then sees Expired and starts a new
/// session.
pub async fn expire(client: &Client, proxy: &Proxy, server: &str) {
    let mut states = client.state_stream();
    let id = client.session_id();
    let password = client.session_password();
    proxy.block();
    wait_state(&mut states, SessionState::Disconnected).await;
    let thief = within(
        "thief",
        builder().with_session(id, password).connect(server),
    )
    .await
    .expect("take the session over");
    assert_eq!(thief.session_id(), id);
    thief.close().await;
    proxy.unblock();
    wait_state(&mut states, SessionState::Expired).await;
}

/// The cuttable TCP proxy of zk-client's tests, shared as one file rather than copied.
#[path = "../../../client/tests/common/proxy.rs"]
mod proxy;
pub use proxy::Proxy;

/// Runs a read until it succeeds, across connection loss and the test client's own session expiry
/// (a slow server restart can outlast a bystander's session; the read itself is what matters).
pub async fn read<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, zk_client::Error>>,
{
    within(what, async {
        loop {
            match f().await {
                Ok(v) => return v,
                Err(e) if e.is_retryable() || e == zk_client::Error::SessionExpired => {}
                Err(e) => panic!("{what}: {e}"),
            }
        }
    })
    .await
}
