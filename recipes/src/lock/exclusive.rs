//! [`ExclusiveLock`]: the simplest lock — whoever creates the one ephemeral node holds it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;
use zk_client::{Client, CreateOptions, SessionId, Stat};

use super::LockGuard;
use crate::protected::{ensure_path, new_guid, validate_path, Cleanup, OwnNode, Target};
use crate::state::{until, wait_connected};
use crate::Error;

/// A non-fair exclusive lock: every contender tries to create the ephemeral node at the lock path;
/// one wins, the others watch the node and race again when it goes.
///
/// Cheaper than [`FairLock`](super::FairLock) when contention is rare (one node, no queue), but
/// every release wakes every waiter (a herd) and waiters can starve. The node's data is the
/// attempt's GUID, so after a ConnectionLoss on create the contender recognises its own node
/// (data and ephemeral owner) instead of waiting for itself forever.
///
/// The guard has a [fencing token](LockGuard::fencing_token) (the node's czxid grows with every
/// new holder) but no guarded writes: a version check cannot tell our node from the next holder's
/// node of the same name.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// let lock = zk_recipes::lock::ExclusiveLock::new(&client, "/app/locks/cron")?;
/// if let Some(guard) = lock.try_acquire().await? {
///     // run the job
///     guard.release().await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ExclusiveLock {
    client: Client,
    path: Arc<str>,
}

enum Attempt {
    Acquired(OwnNode),
    Held(zk_client::OneshotWatcher),
    Retry,
}

impl ExclusiveLock {
    /// A lock whose node is `path` (its parents are created as containers when needed).
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        validate_path(path)?;
        Ok(ExclusiveLock {
            client: client.clone(),
            path: path.into(),
        })
    }

    /// Waits as long as it takes to acquire the lock.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        self.acquire_until(None).await
    }

    /// Acquires the lock or fails with [`Error::Timeout`] after `timeout`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// One attempt: the guard if the lock was free, `None` if someone holds it.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>, Error> {
        loop {
            wait_connected(&self.client, None).await?;
            let guid = new_guid();
            let cleanup = self.cleanup(&guid);
            match self.attempt(&guid, None).await? {
                Attempt::Acquired(node) => return Ok(Some(self.guard(cleanup, node, &guid))),
                Attempt::Held(_) => {
                    cleanup.disarm();
                    return Ok(None);
                }
                Attempt::Retry => continue,
            }
        }
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<LockGuard, Error> {
        loop {
            wait_connected(&self.client, deadline).await?;
            let guid = new_guid();
            let cleanup = self.cleanup(&guid);
            match self.attempt(&guid, deadline).await? {
                Attempt::Acquired(node) => return Ok(self.guard(cleanup, node, &guid)),
                Attempt::Held(watcher) => {
                    cleanup.disarm();
                    // Deleted, or the watch ended (expiry): try again either way.
                    let event = until(deadline, async { Ok(watcher.await) }).await?;
                    debug!(path = %self.path, ?event.event_type, "lock node changed");
                }
                Attempt::Retry => {}
            }
        }
    }

    fn cleanup(&self, guid: &str) -> Cleanup {
        Cleanup::new(
            &self.client,
            Target::Fixed {
                path: self.path.to_string(),
                guid: guid.to_owned(),
            },
        )
    }

    fn guard(&self, mut cleanup: Cleanup, node: OwnNode, guid: &str) -> LockGuard {
        cleanup.created(&node);
        cleanup.disarm();
        let target = Target::Fixed {
            path: self.path.to_string(),
            guid: guid.to_owned(),
        };
        LockGuard::new(&self.client, node, target, false)
    }

    async fn attempt(&self, guid: &str, deadline: Option<Instant>) -> Result<Attempt, Error> {
        let client = &self.client;
        let session = client.session_id();
        let created = until(deadline, async {
            Ok(client
                .create(&self.path, guid.as_bytes(), &CreateOptions::ephemeral())
                .await)
        })
        .await?;
        match created {
            Ok((path, stat)) => Ok(Attempt::Acquired(own(path, stat))),
            Err(zk_client::Error::NoNode) => {
                let parent = parent(&self.path);
                if parent != "/" {
                    until(deadline, ensure_path(client, parent)).await?;
                }
                Ok(Attempt::Retry)
            }
            Err(zk_client::Error::NodeExists) => self.inspect(guid, session, deadline).await,
            Err(e) if e.is_retryable() => {
                wait_connected(client, deadline).await?;
                self.inspect(guid, session, deadline).await
            }
            Err(zk_client::Error::SessionExpired) => Ok(Attempt::Retry),
            Err(e) => Err(e.into()),
        }
    }

    /// The node exists (or our create's outcome is unknown): is it ours? Else watch it.
    async fn inspect(
        &self,
        guid: &str,
        session: SessionId,
        deadline: Option<Instant>,
    ) -> Result<Attempt, Error> {
        let client = &self.client;
        if client.session_id() != session {
            return Ok(Attempt::Retry);
        }
        let read = until(deadline, async { Ok(client.get_data_w(&self.path).await) }).await?;
        match read {
            Ok((data, stat, _)) if data == guid.as_bytes() && stat.ephemeral_owner == session.0 => {
                debug!(path = %self.path, "found our lock node after connection loss");
                Ok(Attempt::Acquired(own(self.path.to_string(), stat)))
            }
            Ok((_, _, watcher)) => Ok(Attempt::Held(watcher)),
            Err(zk_client::Error::NoNode) => Ok(Attempt::Retry),
            Err(e) if e.is_retryable() || e == zk_client::Error::SessionExpired => {
                Ok(Attempt::Retry)
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn own(path: String, stat: Stat) -> OwnNode {
    OwnNode {
        path,
        session: SessionId(stat.ephemeral_owner),
        stat,
    }
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}
