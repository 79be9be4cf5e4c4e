//! The machinery every sequential-node recipe shares (Curator's `LockInternals` +
//! `StandardLockInternalsDriver`, kazoo's `Lock._inner_acquire`): create a protected
//! ephemeral-sequential node, then loop — list the children, order them by sequence, decide from
//! our position whether we own the lock, else watch the one node we wait for (never the parent,
//! so a release wakes one waiter, not the herd) and list again when it changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::time::Instant;
use tracing::{debug, trace};
use zk_client::{Client, CreateMode, EventType};

pub(crate) use super::guard::watch_ended;
use super::guard::LockGuard;
use crate::protected::{
    create_protected, join, new_guid, protected_prefix, sorted_by_sequence, Cleanup, OwnNode,
    Target,
};
use crate::state::{until, wait_connected};
use crate::Error;

/// What a recipe decides from the ordered children and our index among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Turn {
    /// We own it.
    Owner,
    /// Wait until this child (a name) changes, then decide again.
    WaitFor(String),
}

/// How a sequential recipe names and judges its nodes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Driver {
    /// The node name after the protected prefix, e.g. `lock-`.
    pub(crate) base: &'static str,
    /// Name fragments of the nodes that take part in the ordering (e.g. both `__READ__` and
    /// `__WRIT__` for a read/write lock).
    pub(crate) markers: &'static [&'static str],
    /// The decision.
    pub(crate) decide: fn(&[String], usize) -> Turn,
}

/// Lowest node owns; the others each watch their predecessor. (Curator's standard driver with
/// `maxLeases = 1`.)
pub(crate) fn lowest_owns(children: &[String], ours: usize) -> Turn {
    match ours {
        0 => Turn::Owner,
        i => Turn::WaitFor(children[i - 1].clone()),
    }
}

/// Creates our node and waits for our turn; on success returns a guard. A node lost while waiting
/// (session expired) is replaced by a new one: nothing was owned yet, so there is no continuity to
/// claim, but the place in the queue is lost. Cancellation-safe: if this future is dropped or
/// times out, the node (even one whose create is still in flight) is deleted in the background.
pub(crate) async fn acquire(
    client: &Client,
    dir: &str,
    data: &[u8],
    driver: Driver,
    deadline: Option<Instant>,
    wakeups: &Arc<AtomicU64>,
) -> Result<LockGuard, Error> {
    loop {
        wait_connected(client, deadline).await?;
        let guid = new_guid();
        let mut cleanup = Cleanup::new(
            client,
            Target::Prefix {
                dir: dir.to_owned(),
                prefix: protected_prefix(&guid),
            },
        );
        let node = match create_protected(
            client,
            dir,
            &guid,
            driver.base,
            data,
            CreateMode::EphemeralSequential,
            deadline,
        )
        .await
        {
            Ok(node) => node,
            Err(Error::Client(zk_client::Error::SessionExpired)) => continue,
            Err(e) => return Err(e),
        };
        cleanup.created(&node);
        debug!(path = %node.path, "waiting for our turn");
        match wait_for_turn(client, dir, &node, driver, deadline, wakeups).await {
            Ok(()) => {
                cleanup.disarm();
                let target = Target::Path(node.path.clone());
                return Ok(LockGuard::new(client, node, target, true));
            }
            Err(Error::LockLost(path)) => {
                debug!(%path, "our node vanished while waiting; queueing again with a new node");
            }
            Err(e) => return Err(e),
        }
    }
}

/// Loops until `driver` says we own it. Fails with [`Error::LockLost`] if our node is gone or
/// the session changed.
pub(crate) async fn wait_for_turn(
    client: &Client,
    dir: &str,
    node: &OwnNode,
    driver: Driver,
    deadline: Option<Instant>,
    wakeups: &AtomicU64,
) -> Result<(), Error> {
    let lost = || Error::LockLost(node.path.clone());
    loop {
        if client.session_id() != node.session {
            return Err(lost());
        }
        let children = match until(deadline, async { Ok(client.get_children(dir).await?) }).await {
            Ok(children) => children,
            Err(Error::Client(zk_client::Error::NoNode)) => return Err(lost()),
            Err(Error::Client(e)) if e.is_retryable() => {
                wait_connected(client, deadline).await?;
                continue;
            }
            Err(Error::Client(zk_client::Error::SessionExpired)) => return Err(lost()),
            Err(e) => return Err(e),
        };
        // The listing was answered in the session that owns our node only if it is still current.
        if client.session_id() != node.session {
            return Err(lost());
        }
        let sorted = sorted_by_sequence(children, driver.markers);
        let Some(ours) = sorted.iter().position(|c| c == node.name()) else {
            return Err(lost());
        };
        let watched = match (driver.decide)(&sorted, ours) {
            Turn::Owner => return Ok(()),
            Turn::WaitFor(name) => join(dir, &name),
        };
        trace!(%watched, "waiting for predecessor");
        match until(deadline, async { Ok(client.exists_w(&watched).await?) }).await {
            Ok((None, _)) => continue,
            Ok((Some(_), watcher)) => {
                let event = until(deadline, async { Ok(watcher.await) }).await?;
                if event.event_type != EventType::None {
                    wakeups.fetch_add(1, Ordering::Relaxed);
                } else if watch_ended(event.state) {
                    debug!(state = ?event.state, "watch ended; re-checking");
                }
            }
            Err(Error::Client(e)) if e.is_retryable() => wait_connected(client, deadline).await?,
            Err(Error::Client(zk_client::Error::SessionExpired)) => return Err(lost()),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_owns_and_others_watch_their_predecessor() {
        let children: Vec<String> = ["a-01", "b-02", "c-03"].map(String::from).to_vec();
        assert_eq!(lowest_owns(&children, 0), Turn::Owner);
        assert_eq!(lowest_owns(&children, 1), Turn::WaitFor("a-01".into()));
        assert_eq!(lowest_owns(&children, 2), Turn::WaitFor("b-02".into()));
    }
}
