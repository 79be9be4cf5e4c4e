//! What the application holds for a watch: [`OneshotWatcher`] (a future) and [`PersistentWatcher`]
//! (a stream), both yielding [`WatchedEvent`]s. Dropping either unregisters it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use zk_proto::{EventType, KeeperState};

use crate::session::Command;

/// A watch notification: a node event (`event_type` other than `None`, `state` SyncConnected) or a
/// session event (`event_type` `None`, `state` telling what happened, `path` empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedEvent {
    /// What happened to the node, or `EventType::None` for a session event.
    pub event_type: EventType,
    /// The session state when the event was produced.
    pub state: KeeperState,
    /// The node's path, relative to the chroot (empty for session events).
    pub path: String,
    /// The zxid of the change if the server sent one (3.9+), else -1.
    pub zxid: i64,
}

impl WatchedEvent {
    pub(crate) fn session(state: KeeperState) -> Self {
        WatchedEvent {
            event_type: EventType::None,
            state,
            path: String::new(),
            zxid: -1,
        }
    }

    /// Whether this is a session event rather than a node event.
    pub fn is_session_event(&self) -> bool {
        self.event_type == EventType::None
    }
}

pub(crate) type WatcherId = u64;

/// Sends `RemoveWatcher` to the session task when dropped before its watch completed.
#[derive(Debug)]
struct Registration {
    id: WatcherId,
    commands: Weak<mpsc::UnboundedSender<Command>>,
    done: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(commands) = self.commands.upgrade() {
            let _ = commands.send(Command::RemoveWatcher(self.id));
        }
    }
}

/// A one-shot watch (`get_data_w`, `exists_w`, `get_children_w`): a future resolving to the first
/// event for its node.
///
/// It survives disconnects (the client re-registers it after reconnecting, so a change made while
/// disconnected still fires it). It resolves early with a session event only when it can never
/// fire: `Expired`, `AuthFailed` or `Closed`. Dropping it unregisters it locally (the server's
/// one-shot watch is left to fire into nothing).
#[derive(Debug)]
pub struct OneshotWatcher {
    rx: oneshot::Receiver<WatchedEvent>,
    registration: Registration,
}

impl OneshotWatcher {
    pub(crate) fn new(
        id: WatcherId,
        rx: oneshot::Receiver<WatchedEvent>,
        commands: Weak<mpsc::UnboundedSender<Command>>,
    ) -> Self {
        OneshotWatcher {
            rx,
            registration: Registration {
                id,
                commands,
                done: false,
            },
        }
    }
}

impl Future for OneshotWatcher {
    type Output = WatchedEvent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        let event = match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(event)) => event,
            // The session task is gone.
            Poll::Ready(Err(_)) => WatchedEvent::session(KeeperState::Closed),
        };
        self.registration.done = true;
        Poll::Ready(event)
    }
}

/// A persistent or persistent-recursive watch (`add_watch`): a stream of every event under its path.
///
/// Besides node events it yields session events: `Disconnected` when the connection is lost and
/// `SyncConnected`/`ConnectedReadOnly` when it is back. The server does **not** replay changes made
/// while disconnected to persistent watches (it only re-arms them), so treat a reconnect event as
/// "re-read what you cache". After `Expired`, `AuthFailed` or `Closed` the stream ends (after an
/// `Expired` event, add the watch again on the new session). Dropping it unregisters it, and removes
/// the server's watch once no local watcher needs that path.
#[derive(Debug)]
pub struct PersistentWatcher {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
    registration: Registration,
}

impl PersistentWatcher {
    pub(crate) fn new(
        id: WatcherId,
        rx: mpsc::UnboundedReceiver<WatchedEvent>,
        commands: Weak<mpsc::UnboundedSender<Command>>,
    ) -> Self {
        PersistentWatcher {
            rx,
            registration: Registration {
                id,
                commands,
                done: false,
            },
        }
    }
}

#[cfg(test)]
impl PersistentWatcher {
    pub(crate) fn registration_id(&self) -> WatcherId {
        self.registration.id
    }
}

impl Stream for PersistentWatcher {
    type Item = WatchedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        let item = self.rx.poll_recv(cx);
        if let Poll::Ready(None) = item {
            self.registration.done = true;
        }
        item
    }
}
