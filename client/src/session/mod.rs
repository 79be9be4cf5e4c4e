//! The session: one task per [`Client`](crate::Client) that owns the socket.
//!
//! - [`task`]: connect (with backoff across hosts), handshake, re-authenticate and re-register
//!   watches, then serve: write requests, read replies and notifications, ping, notice a dead
//!   connection, declare the session expired when disconnected too long, close politely.
//! - [`depot`]: requests written and awaiting their reply, matched by xid (replies come in order).
//! - [`watch`]: the `WatchManager`: local watchers by path, event dispatch, setWatches packets.
//! - [`state`]: [`SessionState`](crate::SessionState) and how it is published.
//!
//! `Client` handles talk to the task through an unbounded channel of [`Command`]s: a request is
//! encoded by the caller and queued at call time, so call order is wire order.

pub(crate) mod connect;
pub(crate) mod depot;
pub(crate) mod state;
pub(crate) mod task;
pub(crate) mod watch;

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use zk_proto::records::auth::AuthPacket;
use zk_proto::OpCode;

use crate::watcher::{OneshotWatcher, PersistentWatcher, WatcherId};
use crate::Error;

pub(crate) use watch::WatchKind;

/// A message from a `Client` handle (or a dropped watcher) to the session task.
#[derive(Debug)]
pub(crate) enum Command {
    /// A request to send.
    Request(Request),
    /// `addauth`: remembered for later connections and sent now if connected.
    Auth {
        packet: AuthPacket,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// A watcher was dropped.
    RemoveWatcher(WatcherId),
    /// Close the session and stop.
    Close { reply: oneshot::Sender<()> },
}

/// One request, encoded by the caller (body only; the task adds the header and xid).
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) opcode: OpCode,
    pub(crate) body: Bytes,
    /// The watch to register when the reply arrives.
    pub(crate) watch: Option<(String, WatchKind)>,
    /// For removeWatches: the path and type to clear locally on success.
    pub(crate) remove: Option<(String, zk_proto::WatcherType)>,
    /// The session epoch at submission.
    pub(crate) epoch: u64,
    pub(crate) reply: Option<oneshot::Sender<Result<Reply, Error>>>,
}

/// A reply (error or not) as the task hands it to the caller, who decodes the body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) err: i32,
    pub(crate) body: Bytes,
    pub(crate) watcher: Option<Watcher>,
}

/// A watcher registered on reply.
#[derive(Debug)]
pub(crate) enum Watcher {
    Oneshot(OneshotWatcher),
    Persistent(PersistentWatcher),
}

/// The settings the task runs with (from the builder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) hosts: Vec<(String, u16)>,
    pub(crate) session_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_only: bool,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) auth: Vec<AuthPacket>,
    pub(crate) session: Option<(i64, Vec<u8>)>,
    pub(crate) max_frame_len: usize,
    pub(crate) set_watches_max_bytes: usize,
}
