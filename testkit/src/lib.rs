//! Test support for zk: start real Apache ZooKeeper servers on loopback, so tests can compare zk-client
//! and zk-server with the reference implementation.
//!
//! The servers come from Debian's `zookeeper` package (Apache ZooKeeper 3.8): the testkit runs
//! `java -cp /usr/share/java/zookeeper.jar:… org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`
//! with a generated `zoo.cfg`, on free `127.0.0.1` ports, in a fresh directory under the system temp dir.
//! Everything is blocking `std` code, usable from sync and async tests alike.
//!
//! # Using it in a test
//! ```no_run
//! #[test]
//! fn my_differential_test() {
//!     // Skips (prints "skipping …") without Java or the jars, unless ZK_REQUIRE_APACHE=1.
//!     let Some(mut server) = zk_testkit::apache_or_skip("my_differential_test") else { return };
//!     let connect = server.connect_string(); // "127.0.0.1:<port>"
//!     // ... run a client against `connect` ...
//!     server.kill(); // SIGKILL, data dir kept
//!     server.restart().unwrap(); // same port, same data
//!     assert!(server.four_letter("srvr").contains("Mode: standalone"));
//! } // drop: SIGKILL + remove the temp dir
//! ```
//! Ensembles work the same way: [`ensemble_or_skip`] gives an [`ApacheEnsemble`] with `kill(i)`,
//! `restart(i)`, `leader()` and `wait_for_leader()`. [`ZkServerEnsemble`] is the same for the `zk-server`
//! binary (whose path the caller supplies), and the [`Ensemble`] trait covers both, so one scenario can run
//! against the reference and against zk-server.
//!
//! # Skip policy
//! Without Java or the ZooKeeper jars, [`apache_or_skip`] and friends print `skipping <test>: <reason>`
//! and return `None`, so `cargo test` passes on a machine without the Debian package. With
//! `ZK_REQUIRE_APACHE=1` (as CI runs) they panic instead. When the dependencies are present, a server
//! that fails to start always panics, with the tail of its log.
//!
//! # Layout
//! - [`apache`](ApacheServer): one standalone server; [`options`](ApacheOptions): its builder and `zoo.cfg`.
//! - [`ensemble`](ApacheEnsemble): n servers with quorum and election ports and `myid` files.
//! - [`zk_ensemble`](ZkServerEnsemble): the same for zk-server processes ([`ZkServerOptions`]);
//!   `zk_process`: one zk-server process.
//! - [`any_ensemble`](Ensemble): the trait over both, with `wait_for_quorum`, `digest_log` (`hash`) and
//!   `server_with_session` (`cons`); [`digest`](DigestEntry): parsing and comparing `hash` replies.
//! - `process`: one ZooKeeper JVM: spawn, wait until serving, SIGKILL, log tail.
//! - [`java`](Java): finding `java` and the jars, building `java -cp … Main` commands.
//! - [`fourlw`]: four-letter words (`ruok`, `srvr`, `mntr`, …) and [`ServerMode`].
//! - [`port`](free_port), [`wait`](wait_for), [`tempdir`](TestDir): free ports, polling with a deadline,
//!   self-removing directories.
//! - [`skip`](apache_or_skip): the skip policy; [`error`](Error): the one error type.
//!
//! # Environment
//! - `ZK_REQUIRE_APACHE=1`: missing dependencies fail instead of skip.
//! - `ZK_APACHE_CLASSPATH=<cp>`: run another ZooKeeper build instead of the Debian jars.
//! - `ZK_TESTKIT_KEEP_DIRS=1`: keep server directories (configs, logs, data) after the test.
//! - `JAVA_HOME`: which Java to use (else `java` on `PATH`).
#![deny(missing_docs)]

mod any_ensemble;
mod apache;
mod digest;
mod ensemble;
mod error;
pub mod fourlw;
mod java;
mod options;
mod port;
mod process;
mod skip;
mod tempdir;
mod wait;
mod zk_ensemble;
mod zk_process;

pub use any_ensemble::Ensemble;
pub use apache::ApacheServer;
pub use digest::{agree_on_common_zxids, parse_digest_log, DigestEntry, DIGEST_LOG_INTERVAL};
pub use ensemble::ApacheEnsemble;
pub use error::Error;
pub use fourlw::{four_letter, ServerMode};
pub use java::{
    Java, CLASSPATH_ENV, DEBIAN_JAVA_DIR, DEFAULT_JVM_ARGS, LOGGING_JARS, REQUIRED_JARS,
    ZOOKEEPER_LIB_DIR,
};
pub use options::{
    ApacheOptions, DEFAULT_START_TIMEOUT, DEFAULT_TICK_TIME, INIT_LIMIT_TICKS, SYNC_LIMIT_TICKS,
};
pub use port::{free_port, free_ports};
pub use process::QUORUM_PEER_MAIN;
pub use skip::{
    apache_or_skip, apache_required, apache_with_or_skip, ensemble_or_skip, ensemble_with_or_skip,
    java_or_skip, REQUIRE_APACHE_ENV,
};
pub use tempdir::{TestDir, KEEP_DIRS_ENV};
pub use wait::{try_wait_for, wait_for, DEFAULT_POLL_INTERVAL};
pub use zk_ensemble::{
    ZkServerEnsemble, ZkServerOptions, ZK_DEFAULT_RUST_LOG, ZK_DEFAULT_TICK_TIME, ZK_START_TIMEOUT,
};

/// True if the environment variable `name` is set to anything but empty or `0`.
fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}
