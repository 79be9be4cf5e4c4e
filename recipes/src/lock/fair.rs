//! [`FairLock`]: a FIFO lock on ephemeral-sequential nodes, node-compatible with Curator's
//! `InterProcessMutex` (`<path>/_c_<guid>-lock-<seq>`), so Rust and Java processes can share one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use zk_client::Client;

use super::internals::{acquire, lowest_owns, Driver};
use super::LockGuard;
use crate::protected::validate_path;
use crate::Error;

/// The node name after the protected prefix: Curator's `InterProcessMutex` `LOCK_NAME`.
pub const LOCK_NAME: &str = "lock-";

pub(crate) const DRIVER: Driver = Driver {
    base: LOCK_NAME,
    markers: &[LOCK_NAME],
    decide: lowest_owns,
};

/// A fair (first come, first served) distributed lock.
///
/// Each acquire creates a protected ephemeral-sequential node under the lock path; the lowest
/// sequence holds the lock and every other contender watches only its predecessor, so a release
/// wakes exactly one waiter. The guard carries a [`FencingToken`](crate::fence::FencingToken) and
/// offers [guarded writes](LockGuard::guarded_write).
///
/// Not reentrant: acquiring twice from one process queues twice (Curator's mutex counts re-entries
/// per thread; async tasks have no thread identity to count on).
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use std::time::Duration;
/// use zk_recipes::lock::FairLock;
///
/// let lock = FairLock::new(&client, "/app/locks/billing")?;
/// let guard = lock.acquire_timeout(Duration::from_secs(10)).await?;
/// println!("holding with token {}", guard.fencing_token());
/// guard.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FairLock {
    client: Client,
    path: Arc<str>,
    data: Arc<[u8]>,
    wakeups: Arc<AtomicU64>,
}

impl FairLock {
    /// A lock at `path` (created as a container node when first needed).
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        validate_path(path)?;
        Ok(FairLock {
            client: client.clone(),
            path: path.into(),
            data: Arc::from(&[][..]),
            wakeups: Arc::default(),
        })
    }

    /// Sets the payload of this handle's lock nodes (e.g. a participant id; Curator's
    /// `LeaderSelector` stores its id there).
    pub fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.into();
        self
    }

    /// The lock path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Waits as long as it takes to acquire the lock.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        self.acquire_until(None).await
    }

    /// Acquires the lock or fails with [`Error::Timeout`] after `timeout`; the node created for
    /// the attempt is removed either way.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    pub(crate) async fn acquire_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<LockGuard, Error> {
        acquire(
            &self.client,
            &self.path,
            &self.data,
            DRIVER,
            deadline,
            &self.wakeups,
        )
        .await
    }

    /// How many watch notifications this handle's waiters have received (diagnostics: with one
    /// waiter per predecessor, each release wakes exactly one waiter).
    pub fn watch_events(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}
