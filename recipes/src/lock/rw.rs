//! [`ReadWriteLock`]: shared readers, exclusive writers, in Curator's
//! `InterProcessReadWriteLock` layout (`_c_<guid>-__READ__<seq>`, `_c_<guid>-__WRIT__<seq>` in one
//! directory, ordered by sequence).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use zk_client::Client;

use super::internals::{acquire, lowest_owns, Driver, Turn};
use super::LockGuard;
use crate::protected::validate_path;
use crate::Error;

/// Curator's `InterProcessReadWriteLock.READ_LOCK_NAME`.
pub const READ_LOCK_NAME: &str = "__READ__";
/// Curator's `InterProcessReadWriteLock.WRITE_LOCK_NAME`.
pub const WRITE_LOCK_NAME: &str = "__WRIT__";

const MARKERS: &[&str] = &[READ_LOCK_NAME, WRITE_LOCK_NAME];

const WRITE: Driver = Driver {
    base: WRITE_LOCK_NAME,
    markers: MARKERS,
    decide: lowest_owns,
};

const READ: Driver = Driver {
    base: READ_LOCK_NAME,
    markers: MARKERS,
    decide: reader_turn,
};

/// A reader owns the lock when no writer is ahead of it; otherwise it watches the nearest writer
/// ahead (Curator watches the first writer; the nearest one is the last to go, so this wakes the
/// reader fewer times for the same outcome).
fn reader_turn(children: &[String], ours: usize) -> Turn {
    match children[..ours]
        .iter()
        .rev()
        .find(|c| c.contains(WRITE_LOCK_NAME))
    {
        None => Turn::Owner,
        Some(writer) => Turn::WaitFor(writer.clone()),
    }
}

/// A read/write lock: any number of readers, or one writer, in arrival order. A writer waits for
/// everyone ahead of it; a reader waits only for writers ahead of it, so a waiting writer is not
/// starved by a stream of later readers.
///
/// Not reentrant, and no upgrade or downgrade (Curator lets a write holder take the read lock;
/// here, acquire the read lock before releasing the write lock if you need to downgrade).
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// let rw = zk_recipes::lock::ReadWriteLock::new(&client, "/app/locks/catalog")?;
/// let read = rw.read().await?;
/// drop(read);
/// let write = rw.write().await?;
/// write.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReadWriteLock {
    client: Client,
    path: Arc<str>,
    wakeups: Arc<AtomicU64>,
}

impl ReadWriteLock {
    /// A read/write lock at `path` (a container directory for both kinds of node).
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        validate_path(path)?;
        Ok(ReadWriteLock {
            client: client.clone(),
            path: path.into(),
            wakeups: Arc::default(),
        })
    }

    /// Acquires a shared read lock.
    pub async fn read(&self) -> Result<LockGuard, Error> {
        self.acquire(READ, None).await
    }

    /// Acquires a shared read lock or fails with [`Error::Timeout`].
    pub async fn read_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire(READ, Some(Instant::now() + timeout)).await
    }

    /// Acquires the exclusive write lock.
    pub async fn write(&self) -> Result<LockGuard, Error> {
        self.acquire(WRITE, None).await
    }

    /// Acquires the exclusive write lock or fails with [`Error::Timeout`].
    pub async fn write_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire(WRITE, Some(Instant::now() + timeout)).await
    }

    async fn acquire(&self, driver: Driver, deadline: Option<Instant>) -> Result<LockGuard, Error> {
        acquire(
            &self.client,
            &self.path,
            &[],
            driver,
            deadline,
            &self.wakeups,
        )
        .await
    }

    /// How many watch notifications this handle's waiters have received (diagnostics).
    pub fn watch_events(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_wait_only_for_writers_ahead() {
        let c: Vec<String> = [
            "_c_1-__READ__0000000001",
            "_c_2-__WRIT__0000000002",
            "_c_3-__READ__0000000003",
            "_c_4-__WRIT__0000000004",
            "_c_5-__READ__0000000005",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(reader_turn(&c, 0), Turn::Owner);
        assert_eq!(reader_turn(&c, 2), Turn::WaitFor(c[1].clone()));
        assert_eq!(reader_turn(&c, 4), Turn::WaitFor(c[3].clone()));
        assert_eq!(lowest_owns(&c, 1), Turn::WaitFor(c[0].clone()));
        assert_eq!(lowest_owns(&c, 3), Turn::WaitFor(c[2].clone()));
    }
}
