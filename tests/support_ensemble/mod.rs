//! Shared support for the process-level ensemble tests (`tests/ensemble_*.rs`): one scenario, run
//! against a 3-server Apache ZooKeeper 3.8 ensemble (the control) and a 3-server zk-server ensemble (the
//! target), both real processes on loopback killed with SIGKILL.
//!
//! - [`Target`] and [`start_or_skip`]: which implementation, the shared tuning ([`TICK_TIME`],
//!   [`MAX_SESSION_TIMEOUT_MS`]) and the skip policy (Apache needs Java and the Debian jars).
//! - [`serial`]: one ensemble at a time per test binary (2 cores).
//! - [`blocking`]: the testkit is blocking `std` code; this runs it from an async test.
//! - [`rng`]: the seeded generator behind every fault schedule. [`env_u64`]: knobs from the environment.
//! - [`connect_pinned`], [`connect_ordered`]: zk-client sessions on a chosen server.
//! - [`tree`]: reading a subtree through one server. [`converge`]: tree digests and mismatch counters.
//! - [`recorder`]: histories for zk-lincheck. [`fail`]: a failure with every server's log tail.
//! - [`kazoo`]: kazoo as a peer driven over a pipe (tests/python/ensemble_clients.py).
//! - [`workload`]: the recorded CAS/create/delete/sync+read client loop of the in-process nemesis test.
//!
//! Each test file declares `mod support_thirdparty;` (for the `zk-server` binary) next to this module.
#![allow(dead_code)]

pub mod converge;
pub mod kazoo;
pub mod recorder;
pub mod rng;
pub mod tree;
pub mod workload;

use std::net::SocketAddr;
use std::time::Duration;

use zk_client::Client;
use zk_testkit::{ApacheOptions, Ensemble, ZkServerOptions};

use crate::support_thirdparty::{skip_or_panic, zk_server_binary};

/// Servers per ensemble: the smallest that survives a crash.
pub const SERVERS: usize = 3;

/// `tickTime` of every ensemble here. Small, so elections (a few ticks) and the session bounds are quick,
/// which keeps a 50-iteration kill loop within a CI budget; 200 ms still leaves `syncLimit` (5 ticks =
/// 1 s) far above loopback latency.
pub const TICK_TIME: Duration = Duration::from_millis(200);

/// `maxSessionTimeout` (ms). With a 200 ms tick the default cap is 20 ticks = 4 s, shorter than a leader
/// election plus a restart on a loaded machine; sessions must outlive failovers for the tests to
/// check that they survive them.
pub const MAX_SESSION_TIMEOUT_MS: u64 = 30_000;

/// The session timeout the tests' clients ask for (within [`MAX_SESSION_TIMEOUT_MS`]).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a client request may wait for a connection before failing (never sent) with `Timeout`: longer
/// than an election, so a failover shows up as connection loss of in-flight requests only.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A leader must be back within this after a kill (issue 7's bound).
pub const LEADER_DEADLINE: Duration = Duration::from_secs(10);

/// A restarted server must have rejoined (every running server in the quorum, one leader) within this.
/// An Apache JVM needs a second or two to start on a loaded 2-core machine; zk-server milliseconds.
pub const REJOIN_DEADLINE: Duration = Duration::from_secs(30);

/// Which server implementation an ensemble runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Apache ZooKeeper 3.8 (Debian package): the control.
    Apache,
    /// The `zk-server` binary of this build: the target.
    ZkServer,
}

impl Target {
    /// Whether the servers' digest-mismatch counters (`mntr`) must stay 0 after crashes. Apache 3.8.0
    /// counts mismatches when, at startup, it replays log entries older than a snapshot it had received
    /// from a leader (`FileTxnSnapLog`: "highestZxid > next log"), although its tree ends up right; the
    /// count is printed for Apache and checked for zk-server, which must not replay onto a newer tree.
    pub fn checks_mismatch_counters(self) -> bool {
        self == Target::ZkServer
    }

    /// `"apache"` or `"zk-server"`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Apache => "apache",
            Target::ZkServer => "zk-server",
        }
    }
}

/// Starts a [`SERVERS`]-server ensemble of `target` with the shared tuning, or applies the skip policy
/// (Apache only: prints `skipping <test>: …` and returns `None` without Java, panics under
/// `ZK_REQUIRE_APACHE=1`). A start failure always panics, with the servers' log tails.
pub fn start_or_skip(target: Target, test: &str) -> Option<Box<dyn Ensemble>> {
    let max_session = format!("maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}");
    let ensemble: Box<dyn Ensemble> = match target {
        Target::Apache => {
            zk_testkit::java_or_skip(test)?;
            let options = ApacheOptions::new()
                .with_tick_time(TICK_TIME)
                .with_cfg_line(max_session);
            Box::new(
                options
                    .start_ensemble(SERVERS)
                    .unwrap_or_else(|e| panic!("{test}: Apache ensemble did not start: {e}")),
            )
        }
        Target::ZkServer => {
            let options = ZkServerOptions::new(zk_server_binary())
                .with_tick_time(TICK_TIME)
                .with_cfg_line(max_session);
            Box::new(
                options
                    .start_ensemble(SERVERS)
                    .unwrap_or_else(|e| panic!("{test}: zk-server ensemble did not start: {e}")),
            )
        }
    };
    eprintln!(
        "{test}: {} ensemble at {} in {}",
        ensemble.kind(),
        ensemble.connect_string(),
        ensemble.dir().display()
    );
    Some(ensemble)
}

/// Applies the skip policy for a dependency other than Apache (kazoo), as [`skip_or_panic`] does.
pub fn skip(test: &str, reason: &str) {
    skip_or_panic(test, reason);
}

/// Serializes the ensemble tests of one test binary: two ensembles under load on 2 cores would make
/// each other's timings (failover, rejoin) meaningless. Hold the guard for the whole test.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Runs blocking testkit code (process control, four-letter words with their own timeouts) from an
/// async test without stalling the runtime's other tasks. Needs the multi-threaded runtime.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

/// An unsigned integer from the environment variable `name`, or `default` when unset or empty.
///
/// # Panics
/// If the variable is set to something that is not a number (a typo should not silently mean default).
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        _ => default,
    }
}

/// The connect string listing every server, starting with server `first` and going round.
pub fn rotated(ensemble: &dyn Ensemble, first: usize) -> String {
    let n = ensemble.len();
    (0..n)
        .map(|k| ensemble.addr((first + k) % n).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A zk-client session on exactly the server at `addr` (a one-host connect string: it never moves).
pub async fn connect_pinned(addr: SocketAddr) -> Result<Client, zk_client::Error> {
    Client::builder()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .connect(&addr.to_string())
        .await
}

/// A zk-client session over every server, tried in the order of [`rotated`] from `first` (no shuffle),
/// so it starts on server `first` when that one serves and moves along the list when it fails.
pub async fn connect_ordered(
    ensemble: &dyn Ensemble,
    first: usize,
) -> Result<Client, zk_client::Error> {
    Client::builder()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_shuffle(false)
        .connect(&rotated(ensemble, first))
        .await
}

/// A zk-client session id as ZooKeeper's wire carries it.
pub fn session_i64(client: &Client) -> i64 {
    client.session_id().0
}

/// Panics with `what`, where the servers' files are, and every server's log tail.
pub fn fail(ensemble: &dyn Ensemble, what: &str) -> ! {
    let mut logs = String::new();
    for i in 0..ensemble.len() {
        logs.push_str(&format!(
            "--- server {i} ({}) ---\n{}\n",
            ensemble.log_path(i).display(),
            ensemble.log_tail(i)
        ));
    }
    panic!(
        "{} ensemble: {what}\n(servers' directory: {}; set ZK_TESTKIT_KEEP_DIRS=1 to keep it)\n{logs}",
        ensemble.kind(),
        ensemble.dir().display()
    );
}
