//! Shared support for the mixed-ensemble tests (`tests/ensemble_mixed_apache.rs`): three servers on
//! loopback, some of them Apache ZooKeeper 3.8 JVMs (Debian's jars, `QuorumPeerMain` with a
//! hand-written `zoo.cfg`) and the others zk-server ensemble members running in this process, all in
//! one quorum over Apache's own election and quorum protocols.
//!
//! - [`ensemble`]: [`MixedEnsemble`] (start with the leader on a chosen side, kill, restart, modes,
//!   waiting for a quorum; Apache's console logs are printed when a test panics).
//! - [`apache`]: one Apache server process.
//! - [`session`]: a zk-client session behind a cuttable TCP proxy ([`Proxy`], zk-client's own test
//!   proxy), so a test can move a live session from one server to another.
//! - [`ledger`]: every acknowledged write, checked against what each server reads back.
//! - [`load`]: a background writer that runs through a leader kill and remembers what was acknowledged.
//! - [`tree`]: reading a whole tree with full stats through one server, and diffing two of them.
//! - [`converge`]: the servers' own tree digests (`hash`) and mismatch counters (`mntr`).
#![allow(dead_code)]

pub mod apache;
pub mod converge;
pub mod ensemble;
pub mod ledger;
pub mod load;
pub mod session;
pub mod tree;

/// The cuttable TCP proxy of zk-client's tests, shared as one file rather than copied.
#[path = "../../client/tests/common/proxy.rs"]
mod proxy;

use std::future::Future;
use std::time::Duration;

pub use ensemble::{Kind, MixedEnsemble};
pub use proxy::Proxy;

/// `tickTime` (ms) of every server. Small, so the session bounds and sync limits stay short, yet large
/// enough that `syncLimit` ticks comfortably cover a JVM pause on a loaded 2-core machine.
pub const TICK_TIME_MS: u32 = 250;

/// `initLimit` in ticks (5 s): a learner's whole sync, including a SNAP to a freshly started JVM.
pub const INIT_LIMIT_TICKS: u32 = 20;

/// `syncLimit` in ticks (2.5 s): how far a follower may fall behind before the leader drops it.
pub const SYNC_LIMIT_TICKS: u32 = 10;

/// `maxSessionTimeout` (ms): above the default 20 ticks (5 s), so sessions outlive a leader election
/// plus a JVM restart, which the tests require of them.
pub const MAX_SESSION_TIMEOUT_MS: u32 = 30_000;

/// The session timeout the tests' clients ask for (within [`MAX_SESSION_TIMEOUT_MS`]).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a request may wait for a connection: longer than a failover, so a failover shows up as
/// the connection loss of requests in flight only.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// JVM start-up plus the first election, with every server of the test machine busy.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// A new leader after the old one was killed (several election rounds on a loaded machine).
pub const FAILOVER_DEADLINE: Duration = Duration::from_secs(20);

/// A restarted server back in the quorum: an Apache JVM needs seconds to start and sync.
pub const REJOIN_DEADLINE: Duration = Duration::from_secs(45);

/// Any single client step (a batch of writes, a tree read) of a healthy ensemble.
pub const OP_DEADLINE: Duration = Duration::from_secs(20);

/// How often four-letter words are polled while waiting for a state of a foreign process.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Serializes the tests of the binary: two mixed ensembles starting JVMs together on 2 cores would
/// make each other's elections and failovers slow enough to miss their deadlines.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Logs the in-process zk-server members (and zk-client) to the test's output when `RUST_LOG` is
/// set, e.g. `RUST_LOG=zk_server=debug`; Apache's side is always in its `console.log`.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        // Err only if another test of this binary installed it first.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Runs blocking code (four-letter words with their own socket timeouts, process control) without
/// stalling the runtime's other tasks. Needs the multi-threaded runtime.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

/// Awaits `fut`, panicking with `what` if it takes longer than [`OP_DEADLINE`]: a request that a
/// healthy ensemble never answers is a bug to report, not a hang.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(OP_DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {OP_DEADLINE:?}"),
    }
}
