//! [`Semaphore`]: a counting semaphore of leases, in Curator's `InterProcessSemaphoreV2` layout:
//! `<path>/locks` (a fair lock serialising acquirers) and `<path>/leases/_c_<guid>-lease-<seq>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;
use zk_client::{Client, CreateMode, EventType};

use super::{FairLock, LockGuard};
use crate::protected::{
    create_protected, join, new_guid, protected_prefix, validate_path, Cleanup, Target,
};
use crate::state::{until, wait_connected};
use crate::Error;

/// Curator's `InterProcessSemaphoreV2.LOCK_PARENT`.
pub const LOCK_PARENT: &str = "locks";
/// Curator's `InterProcessSemaphoreV2.LEASE_PARENT`.
pub const LEASE_PARENT: &str = "leases";
/// Curator's `InterProcessSemaphoreV2.LEASE_BASE_NAME`.
pub const LEASE_BASE_NAME: &str = "lease-";

/// A counting semaphore: at most `max_leases` leases exist at once across all processes.
///
/// An acquirer first takes the fair lock at `<path>/locks` (so only one acquirer at a time watches
/// the lease directory: no herd), creates its lease node, and waits until the number of lease
/// nodes is at most `max_leases`. Every participant must use the same `max_leases`. Each lease is a
/// [`LockGuard`]: it reports [`Ownership`](crate::state::Ownership) and is returned by dropping or
/// [releasing](LockGuard::release) it. Leases are not fair among themselves beyond the acquirers'
/// lock order.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// let pool = zk_recipes::lock::Semaphore::new(&client, "/app/db-connections", 10)?;
/// let lease = pool.acquire().await?;
/// // use one of the 10 slots
/// lease.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    leases: Arc<str>,
    max_leases: usize,
    mutex: FairLock,
    wakeups: Arc<AtomicU64>,
}

impl Semaphore {
    /// A semaphore at `path` with `max_leases` leases (at least 1).
    pub fn new(client: &Client, path: &str, max_leases: usize) -> Result<Self, Error> {
        validate_path(path)?;
        if max_leases == 0 {
            return Err(Error::InvalidArgument(
                "a semaphore needs at least one lease".to_owned(),
            ));
        }
        Ok(Semaphore {
            client: client.clone(),
            leases: join(path, LEASE_PARENT).into(),
            max_leases,
            mutex: FairLock::new(client, &join(path, LOCK_PARENT))?,
            wakeups: Arc::default(),
        })
    }

    /// Waits as long as it takes to get a lease.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        self.acquire_until(None).await
    }

    /// Gets a lease or fails with [`Error::Timeout`] after `timeout`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// The number of leases currently held (lease nodes present).
    pub async fn leases(&self) -> Result<usize, Error> {
        match self.client.get_children(&self.leases).await {
            Ok(children) => Ok(children.len()),
            Err(zk_client::Error::NoNode) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// How many lease-directory notifications this handle's acquirers have received (diagnostics).
    pub fn watch_events(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<LockGuard, Error> {
        loop {
            let mutex = self.mutex.acquire_until(deadline).await?;
            let lease = self.lease(deadline).await;
            let _ = mutex.release().await;
            match lease {
                Err(Error::LockLost(path)) => {
                    debug!(%path, "lease node lost while waiting; starting over");
                }
                other => return other,
            }
        }
    }

    /// Creates a lease node and waits until it is within the limit. [`Error::LockLost`] if the
    /// session changed meanwhile.
    async fn lease(&self, deadline: Option<Instant>) -> Result<LockGuard, Error> {
        let client = &self.client;
        let guid = new_guid();
        let mut cleanup = Cleanup::new(
            client,
            Target::Prefix {
                dir: self.leases.to_string(),
                prefix: protected_prefix(&guid),
            },
        );
        let node = match create_protected(
            client,
            &self.leases,
            &guid,
            LEASE_BASE_NAME,
            &[],
            CreateMode::EphemeralSequential,
            deadline,
        )
        .await
        {
            Err(Error::Client(zk_client::Error::SessionExpired)) => {
                return Err(Error::LockLost(self.leases.to_string()))
            }
            other => other?,
        };
        cleanup.created(&node);
        let lost = || Error::LockLost(node.path.clone());
        loop {
            if client.session_id() != node.session {
                return Err(lost());
            }
            let listed = until(deadline, async {
                Ok(client.get_children_w(&self.leases).await)
            })
            .await?;
            let (children, watcher) = match listed {
                Ok((children, _, watcher)) => (children, watcher),
                Err(e) if e.is_retryable() => {
                    wait_connected(client, deadline).await?;
                    continue;
                }
                Err(zk_client::Error::NoNode | zk_client::Error::SessionExpired) => {
                    return Err(lost())
                }
                Err(e) => return Err(e.into()),
            };
            if client.session_id() != node.session || !children.iter().any(|c| c == node.name()) {
                return Err(lost());
            }
            if children.len() <= self.max_leases {
                cleanup.disarm();
                return Ok(LockGuard::new(
                    client,
                    node.clone(),
                    Target::Path(node.path.clone()),
                    true,
                ));
            }
            let event = until(deadline, async { Ok(watcher.await) }).await?;
            if event.event_type != EventType::None {
                self.wakeups.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
