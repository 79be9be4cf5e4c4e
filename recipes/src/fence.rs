//! Fencing: a [`FencingToken`] that grows strictly from one holder to the next, and
//! [`GuardedWrite`], a transaction that only commits while the holder's node still exists.
//!
//! A lock or leadership can end without its holder noticing in time (a long GC pause, a partition:
//! the session expires and another process takes over while the old holder still runs). Two
//! defences, as in Kleppmann's "How to do distributed locking":
//! - pass the token to the resource you protect and have it reject tokens older than the newest it
//!   has seen: the token is the holder node's czxid, and each new holder's node was created after
//!   the previous holder's (it was behind it in the queue, or created later), so tokens strictly
//!   increase across holders of one lock or election;
//! - for data in ZooKeeper itself, a [`GuardedWrite`]: a multi whose first op checks the holder's
//!   node. Sequence numbers only grow, so while our node exists no one can be ahead of us: the
//!   check succeeds exactly when we still hold the lock, at the zxid of the write.

use std::fmt;

use zk_client::{Client, CreateOptions, OpResult, Transaction};

use crate::Error;

/// A fencing token: the czxid of the holder's (or leader's) node. Strictly increasing across
/// successive holders of one lock or election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub i64);

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A transaction that commits only if the holder's node still exists (checked at its creation
/// version): ZooKeeper-side fencing. Add ops like on a [`Transaction`], then [`commit`](Self::commit).
///
/// ```no_run
/// # async fn f(lock: zk_recipes::lock::FairLock) -> Result<(), zk_recipes::Error> {
/// let guard = lock.acquire().await?;
/// guard
///     .guarded_write()?
///     .set_data("/app/balance", b"42", None)
///     .commit()
///     .await?; // Err(LockLost) if the lock node is gone
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a guarded write does nothing until committed"]
pub struct GuardedWrite {
    tx: Transaction,
    holder: String,
}

impl GuardedWrite {
    /// A transaction on `client` guarded by a check of `holder` at `version`.
    pub(crate) fn new(client: &Client, holder: &str, version: i32) -> Self {
        GuardedWrite {
            tx: client.multi().check(holder, version),
            holder: holder.to_owned(),
        }
    }

    /// Adds a create.
    pub fn create(mut self, path: &str, data: &[u8], options: &CreateOptions) -> Self {
        self.tx = self.tx.create(path, data, options);
        self
    }

    /// Adds a delete (`None`: any version).
    pub fn delete(mut self, path: &str, version: Option<i32>) -> Self {
        self.tx = self.tx.delete(path, version);
        self
    }

    /// Adds a set_data (`None`: any version).
    pub fn set_data(mut self, path: &str, data: &[u8], version: Option<i32>) -> Self {
        self.tx = self.tx.set_data(path, data, version);
        self
    }

    /// Adds a version check.
    pub fn check(mut self, path: &str, version: i32) -> Self {
        self.tx = self.tx.check(path, version);
        self
    }

    /// Commits. On success, one result per op *you* added (the guard's check is not included).
    /// Fails with [`Error::LockLost`] if the holder's node is gone (nothing was applied), and
    /// with `MultiFailed` (index counting your ops) if one of your ops failed.
    pub async fn commit(self) -> Result<Vec<OpResult>, Error> {
        match self.tx.commit().await {
            Ok(mut results) => {
                results.remove(0);
                Ok(results)
            }
            Err(zk_client::Error::MultiFailed { index: 0, .. }) => {
                Err(Error::LockLost(self.holder))
            }
            Err(zk_client::Error::MultiFailed { index, error }) => {
                Err(zk_client::Error::MultiFailed {
                    index: index - 1,
                    error,
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }
}
