//! [`LockGuard`]: proof of holding a lock or a lease, with a live view of its [`Ownership`].
//!
//! A guard owns a background monitor task that applies the connection-state policy to its node:
//! `Disconnected` → [`Ownership::Unknown`]; reconnected in the same session → re-verify that the
//! node still exists and is ours → [`Ownership::Owned`]; session expired, or the node deleted →
//! [`Ownership::Lost`] (terminal). Dropping the guard stops the monitor and deletes the node in the
//! background; [`LockGuard::release`] does it and waits.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info};
use zk_client::{Client, EventType, KeeperState};

use crate::fence::{FencingToken, GuardedWrite};
use crate::protected::{delete_own, spawn_delete, OwnNode, Target};
use crate::state::{Changes, Connection, Ownership, Publisher};
use crate::Error;

/// Proof of holding a lock ([`ExclusiveLock`](super::ExclusiveLock), [`FairLock`](super::FairLock),
/// [`ReadWriteLock`](super::ReadWriteLock)) or a [`Semaphore`](super::Semaphore) lease.
///
/// Ownership is only as good as the connection: watch [`ownership`](Self::ownership) (or
/// [`changes`](Self::changes)) and stop acting as owner while it is not [`Ownership::Owned`]. For
/// writes that must never happen after the lock is lost, use [`guarded_write`](Self::guarded_write)
/// or pass [`fencing_token`](Self::fencing_token) to the resource.
///
/// Dropping the guard releases the lock in the background (it needs a tokio runtime; without one
/// the node lives until the session ends). [`release`](Self::release) releases and waits.
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    client: Client,
    node: OwnNode,
    /// Fixed-name nodes (exclusive lock) must be re-identified before deleting.
    target: Target,
    guardable: bool,
    publisher: Arc<Publisher<Ownership>>,
    monitor: JoinHandle<()>,
    released: bool,
}

impl LockGuard {
    /// A guard for `node` (just acquired, so owned), starting its monitor.
    pub(crate) fn new(client: &Client, node: OwnNode, target: Target, guardable: bool) -> Self {
        let publisher = Publisher::new(Ownership::Owned);
        let monitor = tokio::spawn(monitor(client.clone(), node.clone(), publisher.clone()));
        info!(path = %node.path, token = %FencingToken(node.stat.czxid), "acquired");
        LockGuard {
            client: client.clone(),
            node,
            target,
            guardable,
            publisher,
            monitor,
            released: false,
        }
    }

    /// The holder's node (full path).
    pub fn path(&self) -> &str {
        &self.node.path
    }

    /// The fencing token: the node's czxid, strictly increasing across holders of this lock.
    pub fn fencing_token(&self) -> FencingToken {
        FencingToken(self.node.stat.czxid)
    }

    /// The node's version at creation (what a guarded write checks).
    pub(crate) fn node_version(&self) -> i32 {
        self.node.stat.version
    }

    /// What this holder currently knows about its ownership.
    pub fn ownership(&self) -> Ownership {
        self.publisher.get()
    }

    /// A `watch` receiver of the ownership (latest value).
    pub fn ownership_watch(&self) -> watch::Receiver<Ownership> {
        self.publisher.watch()
    }

    /// Every ownership transition, starting with the current one.
    pub fn changes(&self) -> Changes<Ownership> {
        self.publisher.changes()
    }

    /// Resolves when ownership is [`Ownership::Lost`]; use it in a `select!` beside the work the
    /// lock protects.
    pub async fn lost(&self) {
        let mut rx = self.publisher.watch();
        let _ = rx.wait_for(|o| *o == Ownership::Lost).await;
    }

    /// A transaction that commits only while this holder's node exists (see [`GuardedWrite`]).
    /// Fails with [`Error::Suspended`] or [`Error::LockLost`] when ownership is not currently
    /// [`Ownership::Owned`] (the check in the transaction would catch a loss anyway). Not available
    /// for the [`ExclusiveLock`](super::ExclusiveLock), whose fixed node name cannot be told apart
    /// from the next holder's in a version check.
    pub fn guarded_write(&self) -> Result<GuardedWrite, Error> {
        if !self.guardable {
            return Err(Error::InvalidArgument(
                "guarded writes need a sequential lock node: use FairLock".to_owned(),
            ));
        }
        match self.ownership() {
            Ownership::Owned => Ok(GuardedWrite::new(
                &self.client,
                &self.node.path,
                self.node.stat.version,
            )),
            Ownership::Unknown => Err(Error::Suspended),
            Ownership::Lost => Err(Error::LockLost(self.node.path.clone())),
        }
    }

    /// Releases the lock and waits until the node is deleted (retrying across connection loss
    /// while the session lives; if the session ended, the node is already gone).
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        self.monitor.abort();
        delete_own(&self.client, self.target.clone(), self.node.session).await;
        self.publisher.publish(Ownership::Lost);
        self.publisher.close();
        debug!(path = %self.node.path, "released");
        Ok(())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.monitor.abort();
        self.publisher.close();
        if !self.released {
            spawn_delete(&self.client, self.target.clone(), self.node.session);
        }
    }
}

/// Applies the connection-state policy to a held node until it is lost.
///
/// The state stream is polled beside every request, so a disconnect is reported at once even
/// while a verification is waiting for a connection (requests queued while disconnected wait up
/// to the connect timeout).
async fn monitor(client: Client, node: OwnNode, publisher: Arc<Publisher<Ownership>>) {
    let mut states = client.state_stream();
    let mut watcher = None;
    let mut verify = true;
    loop {
        if client.session_id() != node.session {
            break;
        }
        let verification = async {
            if verify && Connection::from(client.state()) == Connection::Connected {
                client.exists_w(&node.path).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            result = verification => {
                verify = false;
                match result {
                    Ok((Some(stat), w))
                        if stat.czxid == node.stat.czxid && client.session_id() == node.session =>
                    {
                        publisher.publish(Ownership::Owned);
                        watcher = Some(w);
                    }
                    Ok(_) => break,
                    // Retried when the connection comes back.
                    Err(e) if e.is_retryable() => {}
                    Err(_) => break,
                }
            }
            event = async { watcher.as_mut().expect("guarded").await }, if watcher.is_some() => {
                watcher = None;
                match event.event_type {
                    EventType::NodeDeleted => break,
                    EventType::None if watch_ended(event.state) => break,
                    _ => verify = true,
                }
            }
            state = states.next() => match state.map(Connection::from) {
                Some(Connection::Suspended) => {
                    verify = false;
                    if publisher.publish(Ownership::Unknown) {
                        info!(path = %node.path, "connection suspended: ownership unknown");
                    }
                }
                Some(Connection::Connected) => verify = true,
                Some(Connection::Lost | Connection::Closed) | None => break,
            },
        }
    }
    info!(path = %node.path, "lock lost");
    publisher.publish(Ownership::Lost);
}

/// Whether a one-shot watcher resolved with a session event that means it can never fire.
pub(crate) fn watch_ended(state: KeeperState) -> bool {
    matches!(
        state,
        KeeperState::Expired | KeeperState::AuthFailed | KeeperState::Closed
    )
}
