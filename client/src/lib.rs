//! # zk-client — an async ZooKeeper client that keeps its session and its watches through failures
//!
//! Works with Apache ZooKeeper 3.5–3.9 ensembles and with zk-server. Built on tokio.
//!
//! ## Quick start
//! ```no_run
//! use futures::StreamExt;
//! use zk_client::{Client, CreateOptions, SessionState};
//!
//! # async fn example() -> Result<(), zk_client::Error> {
//! // Hosts, then an optional chroot every path is relative to.
//! let client = Client::connect("127.0.0.1:2181,127.0.0.1:2182/app").await?;
//!
//! let (path, _stat) = client.create("/config", b"v1", &CreateOptions::persistent()).await?;
//! assert_eq!(path, "/config");
//!
//! // Read and leave a one-shot watch; the watcher is a future of the next event.
//! let (data, stat, watcher) = client.get_data_w("/config").await?;
//! assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));
//! client.set_data("/config", b"v2", Some(stat.version)).await?;
//! let event = watcher.await;
//! println!("{:?} on {}", event.event_type, event.path);
//!
//! // Follow the session: Connected, Disconnected, Expired (then a new session), Closed.
//! let mut states = client.state_stream();
//! tokio::spawn(async move {
//!     while let Some(state) = states.next().await {
//!         if state == SessionState::Expired {
//!             // Ephemeral nodes and watches are gone; re-create what the app relies on.
//!         }
//!     }
//! });
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! ## Notable behaviours
//! - **Call order is wire order.** Every [`Client`] method validates, encodes and queues its request
//!   before returning its future; the future only awaits the reply. Requests are pipelined on one
//!   connection and answered in order.
//! - **Connection loss.** Requests in flight fail with [`Error::ConnectionLoss`]; writes are
//!   **never retried silently** (a failed write may or may not have been applied — use [`retry`]
//!   for idempotent operations). The client reconnects, to the next host first, with a capped,
//!   jittered backoff ([`DEFAULT_BACKOFF_MAX`]), resuming the same session with its last seen zxid.
//!   Requests made while disconnected wait for the connection and are then sent in order; if none
//!   comes within the connect timeout they fail with [`Error::Timeout`] (never sent, so never
//!   applied). The state goes `Disconnected` → `Connected`.
//! - **Watches survive reconnects.** After reconnecting, every outstanding watch — one-shot data,
//!   exist and child watches, persistent and persistent-recursive — is re-registered with
//!   setWatches2 (split into packets of at most [`SET_WATCHES_MAX_BYTES`]) carrying the last seen
//!   zxid, so a node changed while disconnected still fires its one-shot watch. The server does not
//!   replay such changes to *persistent* watches; those receive `Disconnected` and `SyncConnected`
//!   session events instead, as the cue to re-read. If a server answers setWatches2 with
//!   UNIMPLEMENTED (3.5, which closes the connection), later connections to it use setWatches (101),
//!   which cannot carry persistent watches (3.5 has none).
//! - **Expiry.** When the server reports the session expired, or the client has been disconnected
//!   longer than the negotiated session timeout (it does not wait for a server to say so), the state
//!   becomes `Expired`: everything in flight or queued from the old session fails with
//!   [`Error::SessionExpired`], one-shot watchers resolve with an `Expired` session event and
//!   persistent watchers yield it and end. **The same `Client` then starts a fresh session on its
//!   own** (state `Connected`, new [`SessionId`]): handles held by recipes and tasks stay valid, and
//!   the state stream tells them to rebuild ephemeral nodes and watches. We chose this over a
//!   `reconnect_new_session()` call because every clone of the handle would otherwise need to
//!   coordinate who reconnects, and a forgotten call leaves the whole application dead. Requests
//!   submitted before the expiry never leak into the new session.
//! - **Chroot** (`host:port/app`) is added to every path sent and removed from every path received:
//!   created (sequential) names, watch events, multi results, `get_ephemerals`.
//! - **No endless loops.** [`Client::connect`] fails with [`Error::NoHostReachable`] when no host
//!   answers within the connect timeout. Dropping the last `Client` closes the session politely.
//! - **AuthFailed** is terminal, like `Closed`.
//! - **Server input never panics the client**: a malformed or unexpected reply drops the connection.
//!
//! ## Layout
//! - [`client`](Client): the handle and one method per operation; [`builder`](ClientBuilder).
//! - [`create`](CreateOptions): node mode, ACL and TTL.
//! - [`multi`](Transaction): transactions and [`MultiRead`].
//! - [`watcher`](OneshotWatcher): [`OneshotWatcher`], [`PersistentWatcher`], [`WatchedEvent`].
//! - [`acl`]: ACL lists and digest ids. [`ConnectString`]: hosts and chroot.
//! - `session/`: the task that owns the socket (`task`), pending requests by xid (`depot`), the
//!   watch manager (`watch`), [`SessionState`] (`state`).
//! - [`Error`], [`retry`].
#![deny(missing_docs)]

pub mod acl;
mod builder;
mod client;
mod connect_string;
mod create;
mod error;
mod multi;
mod session;
mod watcher;

pub use builder::{
    ClientBuilder, DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_SESSION_TIMEOUT, SET_WATCHES_MAX_BYTES,
};
pub use client::Client;
pub use connect_string::{ConnectString, DEFAULT_CLIENT_PORT};
pub use create::{CreateOptions, MAX_TTL};
pub use error::{
    retry, Error, RetryPolicy, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_INITIAL_BACKOFF,
    DEFAULT_RETRY_MAX_BACKOFF, SERVER_BAD_ARGUMENTS,
};
pub use multi::{MultiRead, OpResult, ReadResult, Transaction};
pub use session::state::{SessionId, SessionState, StateStream};
pub use watcher::{OneshotWatcher, PersistentWatcher, WatchedEvent};
pub use zk_proto::records::auth::ClientInfo;
pub use zk_proto::{AddWatchMode, CreateMode, EventType, KeeperState, Stat, WatcherType};
