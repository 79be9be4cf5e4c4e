//! # zk-server — a wire-compatible Apache ZooKeeper server
//!
//! Real ZooKeeper clients (the Java client and zkCli, Curator, kazoo, Rust clients) work against
//! it unchanged. Standalone mode is an ensemble of one: every state change is a [`Txn`] with a
//! zxid, made durable before it is acknowledged, and applied by one deterministic function,
//! [`DataTree::apply`].
//!
//! ## Request flow
//! ```text
//! client conn ──decode──► session check ──┬─ read ──► wait for this session's earlier writes ──► tree ──► reply
//!  (net/conn.rs)        (core/dispatch.rs) │                                              (core/read.rs)
//!                                          └─ write ─► prep: validate + ACL + version ──► txn (zxid)
//!                                                       (prep/)
//!                                                      ──► log append + group-commit fsync (persist.rs)
//!                                                      ──► apply to tree ─► fire watches ─► reply
//!                                                          (tree/apply.rs)  (watch.rs)   (core/commit.rs)
//! ```
//! - One core task owns the tree, sessions, watches and pending changes; connection tasks decode
//!   and encode; one log thread appends and syncs batches (everything that arrived during the
//!   previous fsync goes into the next one).
//! - Replies leave in request order per session; a watch event reaches a client before the reply
//!   to any later request.
//! - Sessions are txns too (createSession, closeSession, expiry), so ephemerals are consistent
//!   and sessions survive restarts.
//! - The tree keeps Apache's running digest (`zookeeper.digest.enabled`, on by default): prep
//!   precalculates the digest after each txn and logs it with the txn, apply recomputes it and
//!   counts a mismatch (`zk_digest_mismatches_count`), snapshots record it, and recovery checks
//!   every replayed txn against it once past the snapshot's fuzzy range.
//! - Recovery replays the log over a fuzzy snapshot idempotently, as Apache does (a create that
//!   finds its node, a delete that finds none, still bring the parent's cversion/pzxid forward). The ZAB core (a later step) slots in between "txn" and
//!   "apply" without changing either side.
//!
//! ## Modules
//! [`config`] (zoo.cfg), [`tree`] (DataTree + apply), [`prep`] (request -> txn), [`acl`],
//! [`session`], [`watch`], [`persist`] (durability boundary), `core` (the task: dispatch,
//! commit, stats, the container reaper), `net` (listener, connections), [`admin`]
//! (four-letter words), [`server`] (builder and handle), [`hash`] (the hot maps' hasher),
//! [`ensemble`] (the core as an ensemble member), [`cluster`] (an in-process test ensemble),
//! [`env_config`] (the official Docker image's `ZOO_*` variables) and [`probe`] (the `ruok` health
//! probe of the container image).
//!
//! ## Embedding a server in a test
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zk_server::ServerError> {
//! let server = zk_server::Server::builder()
//!     .client_addr("127.0.0.1:0") // any free port
//!     .start()
//!     .await?;
//! let connect = server.connect_string(); // hand this to a client
//! assert!(connect.starts_with("127.0.0.1:"));
//! server.shutdown().await; // finishes writes in flight, closes connections
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod acl;
pub mod admin;
/// An in-process N-server ensemble on loopback with fault injection, for tests.
pub mod cluster;
pub mod config;
mod core;
mod durability;
pub mod ensemble;
pub mod env_config;
mod error;
pub mod hash;
mod net;
pub mod persist;
pub mod prep;
pub mod probe;
/// The quorum I/O shell: drives the ZAB core (zk-zab) over Apache 3.8's peer protocol and data dir.
pub mod quorum;
pub mod server;
pub mod session;
pub mod tree;
pub mod txn;
pub mod watch;

pub use config::{ConfigError, ServerConfig};
pub use error::ServerError;
pub use persist::{MemStorage, Storage, StorageError};
pub use server::{Server, ServerBuilder, ServerHandle};
pub use tree::DataTree;
pub use txn::{Txn, Zxid};
