//! The connection-state policy shared by every recipe (documented in the crate root), and the
//! channels recipes use to tell their users about it.
//!
//! - [`Ownership`]: what a lock or lease holder knows about its ownership.
//! - [`Changes`]: a stream of every transition of a recipe's state (never coalesced), next to a
//!   `watch` receiver of the latest one.
//! - `Connection`: zk-client's [`SessionState`] seen through the policy (connected / suspended /
//!   lost / closed), and `wait_connected`, used before every (re)try.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use zk_client::{Client, SessionState};

use crate::Error;

/// What a holder (of a lock, a lease, leadership) knows about its ownership, as its recipe tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ownership {
    /// Connected, and the holder's node was verified to exist in the current session.
    Owned,
    /// Disconnected with the session possibly alive (Curator's SUSPENDED): the node may or may not
    /// still exist. Do not act as owner until this turns back into [`Ownership::Owned`] (reconnected
    /// and re-verified) — or into [`Ownership::Lost`].
    Unknown,
    /// The node is gone (session expired, or the node was deleted): ownership ended at some point
    /// before this was reported. Terminal for this guard.
    Lost,
}

/// The connection-state policy's view of a [`SessionState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Connected read-write: ZooKeeper can confirm ownership.
    Connected,
    /// Disconnected, or connected to a read-only server (which cannot confirm anything about the
    /// quorum's view): the session may be alive, ownership is unknown.
    Suspended,
    /// The session expired: every ephemeral node of it is gone.
    Lost,
    /// The client is closed (or failed authentication): nothing more will happen.
    Closed,
}

impl From<SessionState> for Connection {
    fn from(state: SessionState) -> Self {
        match state {
            SessionState::Connected => Connection::Connected,
            SessionState::Disconnected | SessionState::ConnectedReadOnly => Connection::Suspended,
            SessionState::Expired => Connection::Lost,
            SessionState::AuthFailed | SessionState::Closed => Connection::Closed,
        }
    }
}

/// Waits until the client is connected read-write, or fails with [`Error::Timeout`] at `deadline`
/// or [`Error::Closed`] when the client is closed.
pub(crate) async fn wait_connected(
    client: &Client,
    deadline: Option<Instant>,
) -> Result<(), Error> {
    let mut states = client.state_watcher();
    let wait = async {
        loop {
            let state = *states.borrow_and_update();
            match Connection::from(state) {
                Connection::Connected => return Ok(()),
                Connection::Closed => return Err(Error::Closed),
                Connection::Suspended | Connection::Lost => {}
            }
            if states.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    };
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, wait)
            .await
            .unwrap_or(Err(Error::Timeout)),
        None => wait.await,
    }
}

/// Awaits `future`, failing with [`Error::Timeout`] at `deadline` (if any).
pub(crate) async fn until<T>(
    deadline: Option<Instant>,
    future: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future)
            .await
            .unwrap_or(Err(Error::Timeout)),
        None => future.await,
    }
}

/// Publishes a recipe's state: the latest value through a `watch` channel, and every transition
/// to each [`Changes`] stream (so a `Lost` quickly followed by `Owned` is never coalesced away).
#[derive(Debug)]
pub(crate) struct Publisher<T> {
    latest: watch::Sender<T>,
    streams: Mutex<Vec<mpsc::UnboundedSender<T>>>,
}

impl<T: Clone + PartialEq> Publisher<T> {
    pub(crate) fn new(initial: T) -> Arc<Self> {
        Arc::new(Publisher {
            latest: watch::channel(initial).0,
            streams: Mutex::new(Vec::new()),
        })
    }

    /// Publishes `value` if it differs from the current one; returns whether it did.
    pub(crate) fn publish(&self, value: T) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if *self.latest.borrow() == value {
            return false;
        }
        self.latest.send_replace(value.clone());
        streams.retain(|tx| tx.send(value.clone()).is_ok());
        true
    }

    pub(crate) fn get(&self) -> T {
        self.latest.borrow().clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<T> {
        self.latest.subscribe()
    }

    /// A stream starting with the current value, then every transition.
    pub(crate) fn changes(&self) -> Changes<T> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let _ = tx.send(self.latest.borrow().clone());
        streams.push(tx);
        Changes { rx }
    }

    /// Ends every [`Changes`] stream (after the values already sent).
    pub(crate) fn close(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// A stream of a recipe's state: the value current when it was created, then every transition,
/// none coalesced. It ends when the recipe (guard, latch, selector) is dropped or closed.
#[derive(Debug)]
pub struct Changes<T> {
    rx: mpsc::UnboundedReceiver<T>,
}

impl<T> Stream for Changes<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn session_states_map_to_the_policy() {
        use SessionState::*;
        let table = [
            (Connected, Connection::Connected),
            (ConnectedReadOnly, Connection::Suspended),
            (Disconnected, Connection::Suspended),
            (Expired, Connection::Lost),
            (AuthFailed, Connection::Closed),
            (Closed, Connection::Closed),
        ];
        for (state, want) in table {
            assert_eq!(Connection::from(state), want, "{state:?}");
        }
    }

    #[tokio::test]
    async fn changes_see_every_transition_once() {
        let publisher = Publisher::new(Ownership::Owned);
        let mut changes = publisher.changes();
        assert!(publisher.publish(Ownership::Unknown));
        assert!(!publisher.publish(Ownership::Unknown));
        assert!(publisher.publish(Ownership::Owned));
        assert!(publisher.publish(Ownership::Lost));
        publisher.close();
        let seen: Vec<_> = changes.by_ref().collect().await;
        use Ownership::*;
        assert_eq!(seen, [Owned, Unknown, Owned, Lost]);
        assert_eq!(publisher.get(), Lost);
    }
}
