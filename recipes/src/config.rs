//! Pub/sub configuration: typed values under a path, published with compare-and-set on the
//! node's version, and followed by subscribers as a [`Stream`] (kazoo's `DataWatch`, Curator's
//! `NodeCache`/`SharedValue`, with a codec).
//!
//! ## Guarantees
//! - **Current value first, then every change, coalesced.** A [`Subscription`] yields the value at
//!   subscription time, then the value after each change it observes. Values that are overwritten
//!   before the subscriber reads them may be skipped (coalesced); the *latest* never is.
//! - **No final value lost across reconnects and expiry.** The subscription re-reads the node on
//!   every watch event *and* after every reconnect and every new session, not only when a watch
//!   fires: the server does not report changes made while a session was gone, and a reconnect can
//!   race a change. So once writes stop, every subscriber ends on the last written value (within a
//!   connection's reach of the ensemble).
//! - **Compare-and-set.** [`Config::compare_and_set`] writes only if the node is at the expected
//!   version (or absent, for `None`); [`Config::update`] retries a closure until its CAS wins.
//!
//! ## Connection-state policy
//! A subscription keeps its last value while disconnected (it is the last *known* value) and
//! yields nothing new until it has re-read after reconnecting. Config has no ownership, so
//! Suspended and Lost need no other action.
//!
//! ```no_run
//! # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
//! use futures::StreamExt;
//! use serde::{Deserialize, Serialize};
//! use zk_recipes::config::Config;
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct Limits { max_conns: u32 }
//!
//! let config: Config<Limits> = Config::new(&client, "/app/limits")?;
//! let mut updates = config.subscribe();
//! config.set(&Limits { max_conns: 100 }).await?;
//! while let Some(update) = updates.next().await {
//!     match update? {
//!         Some(v) => println!("limits v{}: {:?}", v.version, v.value),
//!         None => println!("not configured"),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{debug, Instrument};
use zk_client::{Client, CreateOptions, OneshotWatcher, SessionState, Stat};

use crate::protected::ensure_path;
use crate::task::AbortOnDrop;
use crate::Error;

/// How long a subscription waits before reading again after a read failed while the client still
/// looked connected (a request timeout): avoids spinning, converges well within a session timeout.
pub const REREAD_RETRY_DELAY: Duration = Duration::from_millis(100);

/// How many times [`Config::update`] re-reads and retries after losing a compare-and-set race
/// before giving up with the last conflict.
pub const MAX_UPDATE_ATTEMPTS: usize = 100;

/// Turns values into node data and back.
pub trait Codec<T>: Send + Sync + 'static {
    /// The bytes stored for `value`.
    fn encode(&self, value: &T) -> Result<Vec<u8>, Error>;
    /// The value stored as `bytes`.
    fn decode(&self, bytes: &[u8]) -> Result<T, Error>;
}

/// The default codec: JSON through serde.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
    fn encode(&self, value: &T) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(value).map_err(|e| Error::Serialization(e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Serialization(e.to_string()))
    }
}

/// A value with the node version it was read (or written) at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The node's data version: pass it to [`Config::compare_and_set`].
    pub version: i32,
    /// The node's Stat (its `mzxid` orders changes).
    pub stat: Stat,
}

/// What a subscription yields: the value (`None` while the node does not exist), or why it could
/// not be read (undecodable data; the subscription goes on) or why the subscription ended
/// ([`Error::Closed`], [`zk_client::Error::NoAuth`]).
pub type Update<T> = Result<Option<Versioned<T>>, Error>;

/// A typed configuration value stored at one path. Cheap to clone.
pub struct Config<T, C = Json> {
    client: Client,
    path: Arc<str>,
    codec: Arc<C>,
    _value: PhantomData<fn() -> T>,
}

impl<T, C> Clone for Config<T, C> {
    fn clone(&self) -> Self {
        Config {
            client: self.client.clone(),
            path: self.path.clone(),
            codec: self.codec.clone(),
            _value: PhantomData,
        }
    }
}

impl<T, C> fmt::Debug for Config<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config").field("path", &self.path).finish()
    }
}

impl<T> Config<T, Json>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// A JSON-encoded value at `path`.
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        Self::with_codec(client, path, Json)
    }
}

impl<T, C> Config<T, C>
where
    T: Clone + Send + Sync + 'static,
    C: Codec<T>,
{
    /// A value at `path` stored with `codec`.
    pub fn with_codec(client: &Client, path: &str, codec: C) -> Result<Self, Error> {
        crate::protected::validate_path(path)?;
        Ok(Config {
            client: client.clone(),
            path: path.into(),
            codec: Arc::new(codec),
            _value: PhantomData,
        })
    }

    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads the current value (`None` if the node does not exist).
    pub async fn get(&self) -> Result<Option<Versioned<T>>, Error> {
        match self.client.get_data(&self.path).await {
            Ok((data, stat)) => Ok(Some(self.decode(&data, stat)?)),
            Err(zk_client::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `value` whatever the current version, creating the node (and its parents, as
    /// containers) if needed. Retried across connection loss (writing the same value twice is
    /// harmless).
    pub async fn set(&self, value: &T) -> Result<Versioned<T>, Error> {
        let data = self.codec.encode(value)?;
        let policy = zk_client::RetryPolicy::default();
        loop {
            let set = zk_client::retry(&policy, || self.client.set_data(&self.path, &data, None));
            match set.await {
                Ok(stat) => return Ok(self.versioned(value, stat)),
                Err(zk_client::Error::NoNode) => match self.create(&data).await {
                    Ok(stat) => return Ok(self.versioned(value, stat)),
                    Err(Error::Client(zk_client::Error::NodeExists)) => continue,
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes `value` only if the node is at version `expected` (`None`: only if it does not exist
    /// yet). A lost race fails with [`zk_client::Error::BadVersion`] (or `NodeExists`, or `NoNode`
    /// if it was deleted), wrapped in [`Error::Client`].
    ///
    /// If the connection drops before the reply, the node is read back: holding exactly our bytes
    /// at `expected + 1` counts as success (the outcome is indistinguishable from ours); otherwise
    /// the original `ConnectionLoss` is returned and the write may or may not have happened.
    pub async fn compare_and_set(
        &self,
        value: &T,
        expected: Option<i32>,
    ) -> Result<Versioned<T>, Error> {
        let data = self.codec.encode(value)?;
        let result = match expected {
            None => self.create(&data).await,
            Some(version) => self
                .client
                .set_data(&self.path, &data, Some(version))
                .await
                .map_err(Error::from),
        };
        match result {
            Ok(stat) => Ok(self.versioned(value, stat)),
            Err(Error::Client(e)) if e.is_retryable() => {
                debug!(path = %self.path, error = %e, "compare-and-set outcome unknown; reading back");
                let want = expected.map_or(0, |v| v + 1);
                let policy = zk_client::RetryPolicy::default();
                match zk_client::retry(&policy, || self.client.get_data(&self.path)).await {
                    Ok((current, stat)) if stat.version == want && current == data => {
                        Ok(self.versioned(value, stat))
                    }
                    _ => Err(Error::Client(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Read-modify-write: calls `f` with the current value (`None` if absent) and writes its
    /// result with compare-and-set, re-reading and calling `f` again after each lost race (at
    /// most [`MAX_UPDATE_ATTEMPTS`] times).
    pub async fn update<F>(&self, mut f: F) -> Result<Versioned<T>, Error>
    where
        F: FnMut(Option<&T>) -> T,
    {
        let mut last = None;
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let current = self.get().await?;
            let next = f(current.as_ref().map(|v| &v.value));
            match self
                .compare_and_set(&next, current.as_ref().map(|v| v.version))
                .await
            {
                Err(Error::Client(
                    e @ (zk_client::Error::BadVersion
                    | zk_client::Error::NodeExists
                    | zk_client::Error::NoNode),
                )) => last = Some(e),
                other => return other,
            }
        }
        Err(Error::Client(last.unwrap_or(zk_client::Error::BadVersion)))
    }

    /// Deletes the node if it is at version `expected` (`None`: any version). Subscribers then
    /// see `None`.
    pub async fn delete(&self, expected: Option<i32>) -> Result<(), Error> {
        match self.client.delete(&self.path, expected).await {
            Ok(()) | Err(zk_client::Error::NoNode) if expected.is_none() => Ok(()),
            other => other.map_err(Error::from),
        }
    }

    /// Follows the value: the current one first, then every change (see the module docs for the
    /// guarantees). The background reader stops when the subscription is dropped.
    pub fn subscribe(&self) -> Subscription<T> {
        let (tx, rx) = watch::channel(None);
        let span = tracing::debug_span!("config_subscription", path = %self.path);
        let reader = Reader {
            client: self.client.clone(),
            path: self.path.clone(),
            codec: self.codec.clone(),
            tx,
            last: None,
        };
        let task = AbortOnDrop::spawn(reader.run().instrument(span));
        let stream = futures::stream::unfold(rx.clone(), |mut rx| async move {
            loop {
                if rx.changed().await.is_err() {
                    return None;
                }
                let item = rx.borrow_and_update().clone();
                if let Some(item) = item {
                    return Some((item, rx));
                }
            }
        })
        .boxed();
        Subscription {
            latest: rx,
            stream,
            _task: task,
        }
    }

    async fn create(&self, data: &[u8]) -> Result<Stat, Error> {
        let options = CreateOptions::persistent();
        match self.client.create(&self.path, data, &options).await {
            Err(zk_client::Error::NoNode) => {
                if let Some((parent, _)) = self.path.rsplit_once('/') {
                    if !parent.is_empty() {
                        ensure_path(&self.client, parent).await?;
                    }
                }
                Ok(self.client.create(&self.path, data, &options).await?.1)
            }
            other => Ok(other?.1),
        }
    }

    fn decode(&self, data: &[u8], stat: Stat) -> Result<Versioned<T>, Error> {
        Ok(Versioned {
            value: self.codec.decode(data)?,
            version: stat.version,
            stat,
        })
    }

    fn versioned(&self, value: &T, stat: Stat) -> Versioned<T> {
        Versioned {
            value: value.clone(),
            version: stat.version,
            stat,
        }
    }
}

/// A live view of a [`Config`] value: a [`Stream`] of [`Update`]s, plus [`Subscription::latest`].
/// Dropping it stops its background reader.
pub struct Subscription<T> {
    latest: watch::Receiver<Option<Update<T>>>,
    stream: BoxStream<'static, Update<T>>,
    _task: AbortOnDrop,
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl<T: Clone> Subscription<T> {
    /// The latest update read (`None` before the first read completes), whether or not the stream
    /// has yielded it yet.
    pub fn latest(&self) -> Option<Update<T>> {
        self.latest.borrow().clone()
    }
}

impl<T> Stream for Subscription<T> {
    type Item = Update<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Update<T>>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// What the reader last published, to publish each change once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Missing,
    At(i64),
}

/// The background task of a [`Subscription`].
struct Reader<T, C> {
    client: Client,
    path: Arc<str>,
    codec: Arc<C>,
    tx: watch::Sender<Option<Update<T>>>,
    last: Option<Seen>,
}

enum Read {
    /// Read; the watch fires on the next change.
    Watching(OneshotWatcher),
    /// The read failed transiently; read again after the next reconnect (or a short delay).
    Retry,
    /// Nothing more will happen.
    Stop,
}

impl<T: Clone + Send + Sync + 'static, C: Codec<T>> Reader<T, C> {
    async fn run(mut self) {
        let mut states = self.client.state_stream();
        // The stream starts with the current state; the first read below covers it.
        let _ = states.next().await;
        loop {
            let read = if self.client.state() == SessionState::Connected {
                self.read().await
            } else {
                Read::Retry
            };
            let watcher = match read {
                Read::Stop => return,
                Read::Watching(w) => Some(w),
                Read::Retry => None,
            };
            let retry_soon = watcher.is_none() && self.client.state() == SessionState::Connected;
            let fired = async {
                match watcher {
                    Some(w) => drop(w.await),
                    None => std::future::pending().await,
                }
            };
            let retry = async {
                if retry_soon {
                    tokio::time::sleep(REREAD_RETRY_DELAY).await
                } else {
                    std::future::pending().await
                }
            };
            // Wait for a reason to read again: a change, a reconnect or new session, or a retry.
            tokio::select! {
                _ = fired => {}
                _ = retry => {}
                state = wait_connected_edge(&mut states) => {
                    if state.is_none() {
                        let _ = self.tx.send(Some(Err(Error::Closed)));
                        return;
                    }
                }
            }
        }
    }

    /// Reads the node, leaving a watch, and publishes what changed.
    async fn read(&mut self) -> Read {
        let (seen, update, watcher) = match self.client.get_data_w(&self.path).await {
            Ok((data, stat, watcher)) => {
                let mzxid = stat.mzxid;
                let update = self.codec.decode(&data).map(|value| {
                    Some(Versioned {
                        value,
                        version: stat.version,
                        stat,
                    })
                });
                (Seen::At(mzxid), update, watcher)
            }
            Err(zk_client::Error::NoNode) => match self.client.exists_w(&self.path).await {
                // Created between the two reads: read it again.
                Ok((Some(_), _)) => return Box::pin(self.read()).await,
                Ok((None, watcher)) => (Seen::Missing, Ok(None), watcher),
                Err(e) => return self.failed(e),
            },
            Err(e) => return self.failed(e),
        };
        if self.last != Some(seen) {
            debug!(?seen, "config changed");
            self.last = Some(seen);
            let _ = self.tx.send(Some(update));
        }
        Read::Watching(watcher)
    }

    fn failed(&mut self, e: zk_client::Error) -> Read {
        match e {
            zk_client::Error::Closed | zk_client::Error::AuthFailed | zk_client::Error::NoAuth => {
                let _ = self.tx.send(Some(Err(e.into())));
                Read::Stop
            }
            e => {
                debug!(error = %e, "config read failed; will re-read");
                Read::Retry
            }
        }
    }
}

/// Waits for the next transition into `Connected` (a reconnect or a new session); `None` when the
/// client is closed.
async fn wait_connected_edge(states: &mut zk_client::StateStream) -> Option<()> {
    loop {
        match states.next().await? {
            SessionState::Connected => return Some(()),
            SessionState::Closed | SessionState::AuthFailed => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_codec_round_trips_and_reports_garbage() {
        let codec = Json;
        let bytes = Codec::<Vec<u32>>::encode(&codec, &vec![1, 2]).unwrap();
        assert_eq!(bytes, b"[1,2]");
        let back: Vec<u32> = codec.decode(&bytes).unwrap();
        assert_eq!(back, [1, 2]);
        let bad: Result<Vec<u32>, _> = codec.decode(b"{");
        assert!(matches!(bad, Err(Error::Serialization(_))));
    }

    #[test]
    fn paths_are_checked() {
        // Validation happens before any I/O, so a never-connected client is not needed: check the
        // rule directly.
        assert!(crate::protected::validate_path("/app/config").is_ok());
        assert!(crate::protected::validate_path("app").is_err());
    }
}
