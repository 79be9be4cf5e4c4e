//! Shared test support: the servers under test, a TCP proxy that can cut connections, and helpers
//! that wait on events with deadlines (never fixed sleeps).
#![allow(dead_code)]

pub mod proxy;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use zk_client::{Client, ClientBuilder, SessionState, StateStream, WatchedEvent};
use zk_testkit::{ApacheEnsemble, ApacheOptions, ApacheServer};

#[allow(unused_imports)]
pub use proxy::Proxy;

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The session timeout tests use unless they need another (with tickTime 500 ms, Apache grants
/// 1 s to 10 s).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// tickTime of the servers the tests start: short, so session timeouts and elections are quick.
pub const TICK: Duration = Duration::from_millis(500);

/// A server the client is tested against.
pub enum TestServer {
    /// Apache ZooKeeper (Debian package), started by zk-testkit.
    Apache(ApacheServer),
    /// zk-server, in this process, with a durable data dir so that kill/restart keep the data.
    Zk(ZkServer),
}

/// An in-process zk-server that can be killed and restarted on the same port and data dir.
pub struct ZkServer {
    handle: Option<zk_server::ServerHandle>,
    addr: std::net::SocketAddr,
    dir: zk_testkit::TestDir,
}

impl ZkServer {
    fn start(addr: &str, dir: zk_testkit::TestDir) -> ZkServer {
        let handle = Self::launch(addr, &dir);
        ZkServer {
            addr: handle.addr(),
            handle: Some(handle),
            dir,
        }
    }

    fn launch(addr: &str, dir: &zk_testkit::TestDir) -> zk_server::ServerHandle {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(
                zk_server::Server::builder()
                    .client_addr(addr)
                    .data_dir(dir.path().join("data"))
                    .tick_time(TICK.as_millis() as u32)
                    .container_check_interval(100)
                    .start(),
            )
        })
        .expect("zk-server starts")
    }
}

impl TestServer {
    pub fn name(&self) -> &'static str {
        match self {
            TestServer::Apache(_) => "apache",
            TestServer::Zk(_) => "zk-server",
        }
    }

    pub fn connect_string(&self) -> String {
        match self {
            TestServer::Apache(s) => s.connect_string(),
            TestServer::Zk(s) => s.addr.to_string(),
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        match self {
            TestServer::Apache(s) => s.addr(),
            TestServer::Zk(s) => s.addr,
        }
    }

    /// Kills the server (SIGKILL), keeping its data.
    pub fn kill(&mut self) {
        match self {
            TestServer::Apache(s) => tokio::task::block_in_place(|| s.kill()),
            TestServer::Zk(s) => {
                if let Some(h) = s.handle.take() {
                    tokio::task::block_in_place(|| {
                        tokio::runtime::Handle::current().block_on(h.kill())
                    });
                }
            }
        }
    }

    /// Restarts it on the same port with the same data.
    pub fn restart(&mut self) {
        match self {
            TestServer::Apache(s) => tokio::task::block_in_place(|| s.restart().unwrap()),
            TestServer::Zk(s) => {
                assert!(s.handle.is_none(), "restart without kill");
                s.handle = Some(ZkServer::launch(&s.addr.to_string(), &s.dir));
            }
        }
    }

    /// A four-letter word's reply.
    pub fn four_letter(&self, cmd: &str) -> String {
        match self {
            TestServer::Apache(s) => tokio::task::block_in_place(|| s.four_letter(cmd)),
            TestServer::Zk(s) => {
                tokio::task::block_in_place(|| zk_testkit::four_letter(s.addr, cmd).unwrap())
            }
        }
    }
}

/// Options of every Apache server the tests start: short ticks, TTL nodes enabled, and containers
/// and TTL nodes reaped every 100 ms.
pub fn apache_options() -> ApacheOptions {
    ApacheOptions::new()
        .with_tick_time(TICK)
        .with_cfg_line("extendedTypesEnabled=true")
        .with_jvm_arg("-Dznode.container.checkIntervalMs=100")
}

/// The servers to run a test against: Apache ZooKeeper (unless skipped) and zk-server.
pub fn servers(test: &str) -> Vec<TestServer> {
    init_tracing();
    let mut servers = Vec::new();
    if let Some(s) =
        tokio::task::block_in_place(|| zk_testkit::apache_with_or_skip(test, apache_options()))
    {
        servers.push(TestServer::Apache(s));
    }
    let dir = zk_testkit::TestDir::new(test).expect("temp dir");
    servers.push(TestServer::Zk(ZkServer::start("127.0.0.1:0", dir)));
    servers
}

/// A 3-server Apache ensemble, or None (skipped).
pub fn ensemble(test: &str) -> Option<ApacheEnsemble> {
    init_tracing();
    tokio::task::block_in_place(|| zk_testkit::ensemble_with_or_skip(test, 3, apache_options()))
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
}

pub async fn connect(connect_string: &str) -> Client {
    builder()
        .connect(connect_string)
        .await
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// A path unique within the test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("/{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Awaits `f`, failing the test after [`DEADLINE`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// The next item of a stream, failing the test after [`DEADLINE`] or if the stream ended.
pub async fn next<S: Stream + Unpin>(what: &str, s: &mut S) -> S::Item {
    within(what, s.next())
        .await
        .unwrap_or_else(|| panic!("stream ended while waiting for {what}"))
}

/// Reads the state stream until `want`.
pub async fn wait_state(states: &mut StateStream, want: SessionState) {
    within(&format!("state {want:?}"), async {
        while let Some(s) = states.next().await {
            if s == want {
                return;
            }
        }
        panic!("state stream ended before {want:?}");
    })
    .await
}

/// Reads a persistent watcher until an event matching `pred`.
pub async fn wait_event<S>(
    what: &str,
    s: &mut S,
    pred: impl Fn(&WatchedEvent) -> bool,
) -> WatchedEvent
where
    S: Stream<Item = WatchedEvent> + Unpin,
{
    within(what, async {
        while let Some(e) = s.next().await {
            if pred(&e) {
                return e;
            }
        }
        panic!("watch stream ended while waiting for {what}");
    })
    .await
}
