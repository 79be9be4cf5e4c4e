//! [`SessionState`], [`SessionId`], and how the session task publishes state changes: a
//! `tokio::sync::watch` channel (latest state) plus one unbounded queue per [`StateStream`]
//! (every transition, none coalesced).

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, watch};
use zk_proto::KeeperState;

/// A ZooKeeper session id; prints as Apache does (`0x` + hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// The state of the client's session, as the state channel and [`StateStream`] report it.
///
/// Transitions: `Disconnected → Connected | ConnectedReadOnly` (handshake done);
/// `Connected → Disconnected` (connection lost, session possibly alive: the client reconnects);
/// `Disconnected → Expired` (the server said so, or the client was disconnected longer than the
/// session timeout) `→ Connected` (a **new** session, started automatically);
/// any state `→ AuthFailed | Closed` (terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Not connected; the session may still be alive (Curator's SUSPENDED). Also the state before
    /// the first connection.
    Disconnected,
    /// Connected to a server that accepts reads and writes.
    Connected,
    /// Connected to a read-only server (only with [`with_read_only(true)`](crate::ClientBuilder::with_read_only)).
    ConnectedReadOnly,
    /// The session expired: its ephemeral nodes are gone and its watches with it. The client goes on
    /// with a fresh session (the next state is `Connected`, with a new [`SessionId`]).
    Expired,
    /// Authentication failed; the client is closed. Terminal.
    AuthFailed,
    /// The client was closed. Terminal.
    Closed,
}

impl SessionState {
    /// Connected, read-write or read-only.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// AuthFailed or Closed: nothing more will happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::AuthFailed | SessionState::Closed)
    }

    /// The `KeeperState` Apache's `WatchedEvent` would carry for this state.
    pub fn keeper_state(self) -> KeeperState {
        match self {
            SessionState::Disconnected => KeeperState::Disconnected,
            SessionState::Connected => KeeperState::SyncConnected,
            SessionState::ConnectedReadOnly => KeeperState::ConnectedReadOnly,
            SessionState::Expired => KeeperState::Expired,
            SessionState::AuthFailed => KeeperState::AuthFailed,
            SessionState::Closed => KeeperState::Closed,
        }
    }
}

/// A stream of every session state transition, starting with the state current when it was created.
/// Unlike the `watch` channel of [`Client::state_watcher`](crate::Client::state_watcher), it never
/// coalesces: an `Expired` quickly followed by `Connected` is seen as both. It ends after a terminal state.
#[derive(Debug)]
pub struct StateStream {
    rx: mpsc::UnboundedReceiver<SessionState>,
}

impl Stream for StateStream {
    type Item = SessionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        self.rx.poll_recv(cx)
    }
}

/// The negotiated session, as the task last saw it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionInfo {
    pub(crate) id: SessionId,
    pub(crate) password: Vec<u8>,
    pub(crate) timeout: Duration,
}

/// State shared by every `Client` handle and the session task.
#[derive(Debug)]
pub(crate) struct Shared {
    state: watch::Sender<SessionState>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<SessionState>>>,
    session: Mutex<SessionInfo>,
    /// Incremented when a session ends (expiry); a request carries the epoch of its submission and
    /// fails with SessionExpired if it reaches the task in a later epoch.
    epoch: AtomicU64,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            state: watch::channel(SessionState::Disconnected).0,
            subscribers: Mutex::new(Vec::new()),
            session: Mutex::new(SessionInfo::default()),
            epoch: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> SessionState {
        *self.state.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<SessionState> {
        self.state.subscribe()
    }

    pub(crate) fn stream(&self) -> StateStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let current = *self.state.borrow();
        let _ = tx.send(current);
        if !current.is_terminal() {
            subs.push(tx);
        }
        StateStream { rx }
    }

    /// Publishes a transition (no-op if unchanged). Holding the subscriber lock while replacing the
    /// value keeps `stream()` from missing or duplicating a transition.
    pub(crate) fn publish(&self, state: SessionState) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if *self.state.borrow() == state {
            return;
        }
        self.state.send_replace(state);
        subs.retain(|tx| tx.send(state).is_ok());
        if state.is_terminal() {
            subs.clear();
        }
    }

    pub(crate) fn session(&self) -> SessionInfo {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_session(&self, info: SessionInfo) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = info;
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn next_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn streams_see_every_transition_and_end_after_terminal() {
        let shared = Shared::new();
        let mut early = shared.stream();
        shared.publish(SessionState::Connected);
        shared.publish(SessionState::Connected);
        shared.publish(SessionState::Disconnected);
        let mut late = shared.stream();
        shared.publish(SessionState::Expired);
        shared.publish(SessionState::Connected);
        shared.publish(SessionState::Closed);
        let early: Vec<_> = early.by_ref().collect().await;
        let late: Vec<_> = late.by_ref().collect().await;
        use SessionState::*;
        assert_eq!(
            early,
            [
                Disconnected,
                Connected,
                Disconnected,
                Expired,
                Connected,
                Closed
            ]
        );
        assert_eq!(late, [Disconnected, Expired, Connected, Closed]);
        assert_eq!(SessionId(0x1f).to_string(), "0x1f");
    }
}
