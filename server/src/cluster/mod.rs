//! An in-process ZooKeeper ensemble for tests: [`TestCluster`] runs N zk-servers on loopback, each
//! a real quorum peer with its own data dir, and injects the faults distributed code must survive:
//! crashes and restarts, long pauses, network partitions and session expiry. For zk's own recipe
//! tests and for applications' integration tests alike.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zk_server::cluster::ClusterError> {
//! use std::time::Duration;
//! use zk_server::cluster::{ServerMode, TestCluster};
//!
//! // Three voters on free loopback ports; `start` returns once they have elected a leader.
//! let cluster = TestCluster::builder().servers(3).start().await?;
//! let connect = cluster.connect_string(); // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3": hand to a client
//! assert_eq!(connect.split(',').count(), 3);
//! let leader = cluster.leader().await.expect("a leader");
//!
//! // Crash the leader: the other two elect a new one.
//! cluster.kill(leader).await?;
//! let new_leader = cluster.wait_for_quorum(Duration::from_secs(30)).await?;
//! assert_ne!(new_leader, leader);
//!
//! // Bring it back on the same ports and data dir: it rejoins as a follower.
//! cluster.restart(leader).await?;
//! cluster.wait_for_quorum(Duration::from_secs(30)).await?;
//! assert_eq!(cluster.mode(leader).await, Some(ServerMode::Follower));
//!
//! // Cut a follower off from its peers: it stops serving until the partition heals.
//! cluster.isolate(leader)?;
//! cluster.wait_for_mode(leader, None, Duration::from_secs(30)).await?;
//! cluster.heal();
//! cluster.wait_for_quorum(Duration::from_secs(30)).await?;
//! # Ok(())
//! # }
//! // Dropped: every server is killed and the temp dir removed.
//! ```
//!
//! ## How it works
//! ```text
//!   test ── client ──► 127.0.0.1:client_1   127.0.0.1:client_2   127.0.0.1:client_3   (real ports)
//!                        server 1 ◄──────────── proxy 2→1 ◄─────── server 2
//!                        (thread +  ─────────► proxy 1→2 ──────────► (thread +
//!                         runtime)                                  runtime)
//! ```
//! - **One thread and runtime per server** (`node.rs`): `kill` crashes that server alone (its tasks
//!   dropped, its data dir left as a crash leaves it), `pause` blocks its runtime so nothing in it
//!   runs. A restart rebinds the same ports and reopens the same data dir.
//! - **Partitions without touching the quorum code** (`network.rs`, `proxy.rs`): each server's
//!   `server.N` lines list its own real ports, but every other server's quorum and election ports
//!   are a proxy of the link between the two, owned by the cluster. Cutting a link closes what it
//!   carries and refuses new connections; client ports are never proxied.
//! - **Roles from outside** (`probe.rs`): the `srvr` four-letter word, as monitoring does.
//! - **Session expiry** (`expire.rs`): a second connection resumes the session and closes it, as
//!   Curator's `KillSession` does; the ephemerals vanish through the ensemble.
//! - Data dirs live under one temp dir, removed on drop unless [`KEEP_DIRS_ENV`] is set. Timing
//!   defaults are short ([`DEFAULT_TICK_TIME_MS`]); session timeouts are 2..20 ticks unless
//!   [`TestClusterBuilder::configure`] says otherwise.
//!
//! The cluster's async methods run on the caller's tokio runtime and use its timers (do not pause
//! tokio time around them); the servers and proxies run on their own threads, so a test may block
//! its own thread without stalling the ensemble.

mod builder;
mod dirs;
mod error;
mod expire;
mod launch;
mod network;
mod node;
mod ports;
mod probe;
mod proxy;
mod test_cluster;

pub use builder::{
    TestClusterBuilder, DEFAULT_FORCE_SYNC, DEFAULT_INIT_LIMIT, DEFAULT_OBSERVERS, DEFAULT_SERVERS,
    DEFAULT_START_TIMEOUT, DEFAULT_SYNC_LIMIT, DEFAULT_TICK_TIME_MS, START_ATTEMPTS,
};
pub use dirs::KEEP_DIRS_ENV;
pub use error::ClusterError;
pub use expire::SESSION_CLOSE_TIMEOUT;
pub use probe::{ServerMode, PROBE_TIMEOUT};
pub use proxy::{ACCEPT_ERROR_BACKOFF, PROXY_CONNECT_TIMEOUT};
pub use test_cluster::{TestCluster, QUORUM_POLL_INTERVAL};

#[cfg(test)]
mod tests;
