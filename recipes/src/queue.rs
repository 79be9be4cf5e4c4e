//! [`Queue`]: a distributed FIFO queue with any number of producers and consumers (the ZooKeeper
//! queue recipe; Curator's `SimpleDistributedQueue`, kazoo's `Queue`).
//!
//! ## Layout and order
//! Each item is a persistent-sequential node `path/qn-<guid>-<seq>` holding the encoded value.
//! Items are taken in sequence order (the order the server accepted the `put`s), by sequence
//! suffix only.
//!
//! ## Guarantees
//! - **Each item is taken by exactly one consumer.** A consumer claims the lowest item with one
//!   transaction that deletes it and creates an ephemeral claim marker `path/claim-<guid>`; if the
//!   reply is lost (connection loss) the marker tells, after reconnecting, whether the claim was
//!   applied — so a lost reply neither loses the item nor delivers it twice. Only if the session
//!   also expired before the marker could be checked is the outcome unknown
//!   ([`Error::OutcomeUnknown`]).
//! - **A `put` is applied at most once.** Its node name carries a per-attempt GUID (protected
//!   creation); after a lost reply the producer looks for it before creating again.
//! - **Cancellation**: dropping a `take` future after its claim was sent may lose that one item
//!   (it was removed from the queue but never returned). Bound waits with
//!   [`Queue::take_timeout`], which stops only *between* claims.
//!
//! Consumers waiting on an empty queue all watch its children (a put wakes every waiting
//! consumer, as in kazoo and Curator; one of them wins the item).
//!
//! ```no_run
//! # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
//! use zk_recipes::queue::Queue;
//! let jobs: Queue<String> = Queue::new(&client, "/app/jobs")?;
//! jobs.put(&"resize img-1".to_owned()).await?;
//! let job = jobs.take().await?;
//! assert_eq!(job, "resize img-1");
//! # Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;
use tracing::debug;
use zk_client::{Client, CreateMode, CreateOptions};

use crate::config::{Codec, Json};
use crate::protected::{ensure_path, join, new_guid, sorted_by_sequence, validate_path};
use crate::state::wait_connected;
use crate::Error;

/// The name prefix of item nodes (before the attempt GUID).
pub const ITEM_PREFIX: &str = "qn-";

/// The name prefix of claim markers.
pub const CLAIM_PREFIX: &str = "claim-";

/// A FIFO queue of `T` at one path. Cheap to clone.
pub struct Queue<T, C = Json> {
    client: Client,
    path: Arc<str>,
    codec: Arc<C>,
    _item: PhantomData<fn() -> T>,
}

impl<T, C> Clone for Queue<T, C> {
    fn clone(&self) -> Self {
        Queue {
            client: self.client.clone(),
            path: self.path.clone(),
            codec: self.codec.clone(),
            _item: PhantomData,
        }
    }
}

impl<T, C> fmt::Debug for Queue<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("path", &self.path).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T, Json> {
    /// A queue of JSON-encoded items at `path`.
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        Self::with_codec(client, path, Json)
    }
}

/// What one claim attempt found.
enum Claim<T> {
    Taken(T),
    /// Nothing to take; the watch on the children, if one was asked for.
    Empty(Option<zk_client::OneshotWatcher>),
}

impl<T, C: Codec<T>> Queue<T, C> {
    /// A queue at `path` whose items are stored with `codec`.
    pub fn with_codec(client: &Client, path: &str, codec: C) -> Result<Self, Error> {
        validate_path(path)?;
        Ok(Queue {
            client: client.clone(),
            path: path.into(),
            codec: Arc::new(codec),
            _item: PhantomData,
        })
    }

    /// Appends an item; returns its node's path.
    pub async fn put(&self, item: &T) -> Result<String, Error> {
        let data = self.codec.encode(item)?;
        let guid = new_guid();
        let prefix = format!("{ITEM_PREFIX}{guid}-");
        let path = join(&self.path, &prefix);
        let options = CreateOptions::new(CreateMode::PersistentSequential);
        let mut look_first = false;
        loop {
            if look_first {
                wait_connected(&self.client, None).await?;
                match self.client.get_children(&self.path).await {
                    Ok(children) => {
                        if let Some(name) = children.into_iter().find(|c| c.starts_with(&prefix)) {
                            debug!(%name, "put applied before the connection dropped");
                            return Ok(join(&self.path, &name));
                        }
                        look_first = false;
                    }
                    Err(e) if e.is_retryable() => continue,
                    Err(zk_client::Error::NoNode) => look_first = false,
                    Err(e) => return Err(e.into()),
                }
            }
            match self.client.create(&path, &data, &options).await {
                Ok((created, _)) => return Ok(created),
                Err(zk_client::Error::NoNode) => ensure_path(&self.client, &self.path).await?,
                Err(e) if e.is_retryable() => look_first = true,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes the oldest item, waiting for one if the queue is empty.
    pub async fn take(&self) -> Result<T, Error> {
        self.take_until(None).await?.ok_or(Error::Timeout)
    }

    /// Takes the oldest item if there is one now.
    pub async fn try_take(&self) -> Result<Option<T>, Error> {
        match self.claim_next(false).await? {
            Claim::Taken(item) => Ok(Some(item)),
            Claim::Empty(_) => Ok(None),
        }
    }

    /// Takes the oldest item, waiting at most `timeout` for one; `Ok(None)` if none came.
    pub async fn take_timeout(&self, timeout: Duration) -> Result<Option<T>, Error> {
        self.take_until(Some(Instant::now() + timeout)).await
    }

    async fn take_until(&self, deadline: Option<Instant>) -> Result<Option<T>, Error> {
        loop {
            let connected = wait_connected(&self.client, deadline);
            match connected.await {
                Err(Error::Timeout) => return Ok(None),
                other => other?,
            }
            match self.claim_next(true).await {
                Ok(Claim::Taken(item)) => return Ok(Some(item)),
                Ok(Claim::Empty(None)) => {}
                Ok(Claim::Empty(Some(watcher))) => match deadline {
                    Some(deadline) => {
                        if tokio::time::timeout_at(deadline, watcher).await.is_err() {
                            return Ok(None);
                        }
                    }
                    None => drop(watcher.await),
                },
                Err(Error::Client(e))
                    if e.is_retryable() || e == zk_client::Error::SessionExpired =>
                {
                    debug!(error = %e, "take interrupted; retrying");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The number of items waiting.
    pub async fn len(&self) -> Result<usize, Error> {
        match self.client.get_children(&self.path).await {
            Ok(children) => Ok(sorted_by_sequence(children, &[ITEM_PREFIX]).len()),
            Err(zk_client::Error::NoNode) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether no item is waiting.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    /// Tries to claim items in order; if there is none, returns a watch on the children (when
    /// `watch`).
    async fn claim_next(&self, watch: bool) -> Result<Claim<T>, Error> {
        let (children, watcher) = if watch {
            match self.client.get_children_w(&self.path).await {
                Ok((children, _, watcher)) => (children, Some(watcher)),
                Err(zk_client::Error::NoNode) => {
                    ensure_path(&self.client, &self.path).await?;
                    return Err(zk_client::Error::ConnectionLoss.into()); // list again
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            match self.client.get_children(&self.path).await {
                Ok(children) => (children, None),
                Err(zk_client::Error::NoNode) => (Vec::new(), None),
                Err(e) => return Err(e.into()),
            }
        };
        for name in sorted_by_sequence(children, &[ITEM_PREFIX]) {
            if let Some(item) = self.claim(&join(&self.path, &name)).await? {
                return Ok(Claim::Taken(item));
            }
        }
        Ok(Claim::Empty(watcher))
    }

    /// Claims one item: `Some` if we took it, `None` if another consumer did.
    async fn claim(&self, item: &str) -> Result<Option<T>, Error> {
        let data = match self.client.get_data(item).await {
            Ok((data, _)) => data,
            Err(zk_client::Error::NoNode) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let marker = join(&self.path, &format!("{CLAIM_PREFIX}{}", new_guid()));
        let session = self.client.session_id();
        let claim = self
            .client
            .multi()
            .delete(item, None)
            .create(&marker, b"", &CreateOptions::new(CreateMode::Ephemeral))
            .commit()
            .await;
        let won = match claim {
            Ok(_) => true,
            Err(zk_client::Error::MultiFailed { index: 0, error })
                if *error == zk_client::Error::NoNode =>
            {
                return Ok(None)
            }
            Err(e) if e.is_retryable() => {
                debug!(%item, "claim outcome unknown; checking its marker");
                wait_connected(&self.client, None).await?;
                if self.client.session_id() != session {
                    return Err(Error::OutcomeUnknown(format!(
                        "claim of {item}: the session expired before its marker could be checked"
                    )));
                }
                let policy = zk_client::RetryPolicy::default();
                zk_client::retry(&policy, || self.client.exists(&marker))
                    .await?
                    .is_some()
            }
            Err(e) => return Err(e.into()),
        };
        if !won {
            return Ok(None);
        }
        // The marker only disambiguates lost replies; it dies with the session anyway.
        let _ = self.client.delete(&marker, None).await;
        self.codec.decode(&data).map(Some)
    }
}
