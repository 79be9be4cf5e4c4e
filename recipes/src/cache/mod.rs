//! [`TreeCache`]: a watched, always-current local copy of a subtree (Curator's `CuratorCache`,
//! kazoo's `TreeCache`).
//!
//! ## How it stays current
//! - **ZooKeeper 3.6+**: one persistent-recursive watch on the root (`addWatch`). Every create,
//!   data change and delete under it produces an event; the cache re-reads the node named by
//!   the event (or drops the subtree on `NodeDeleted`), in event order. Re-reads converge: any
//!   change after a read produces another event.
//! - **Older servers** (`addWatch` answers UNIMPLEMENTED), or [`WatchMode::PerNode`]: a data and a
//!   child watch on every cached node, plus an exists watch on a missing root, as Curator's old
//!   `TreeCache` does. Each fired watch is re-armed by the read that follows it.
//! - **Reconnect**: the server does not replay changes made while disconnected to persistent
//!   watches, so after every reconnect the cache re-reads the whole subtree and applies the
//!   difference (emitting events only for what changed). One-shot watches of per-node mode are
//!   re-registered by the client; the re-read is done in that mode too, for uniformity.
//! - **Session expiry**: every watch is gone; the cache re-adds them on the new session and
//!   re-reads everything.
//!
//! ## Connection-state policy
//! While disconnected the cache keeps serving its last contents but reports
//! [`CacheState::Suspended`] (data may be stale) and emits [`CacheEvent::Suspended`]; after the
//! re-read it is [`CacheState::Current`] again and emits [`CacheEvent::Resynced`]. Expiry is
//! handled the same way (the copy stays, is re-read, and only the difference is reported).
//!
//! Stat fields that describe children (`cversion`, `num_children`, `pzxid`) are refreshed only when
//! the node itself is re-read; use [`TreeCache::children`] for the children.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;
use zk_client::{Client, Stat};

mod worker;

use worker::Worker;

use crate::task::AbortOnDrop;
use crate::Error;

/// How long the cache waits before re-reading again after a re-read failed while the client still
/// looked connected (e.g. a request timed out): long enough not to spin, short enough to converge
/// within a fraction of a session timeout.
pub const RESYNC_RETRY_DELAY: Duration = Duration::from_millis(100);

/// One cached node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildData {
    /// Its full path.
    pub path: String,
    /// Its data when last read.
    pub data: Vec<u8>,
    /// Its Stat when last read.
    pub stat: Stat,
}

/// What changed in a [`TreeCache`], in the order it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// A node appeared.
    NodeCreated(ChildData),
    /// A node's data (or version) changed; the new state.
    NodeUpdated(ChildData),
    /// A node went away; its last cached state.
    NodeDeleted(ChildData),
    /// The first full read finished: the cache mirrors the subtree.
    Initialized,
    /// Disconnected (or session expired): the contents may be stale until `Resynced`.
    Suspended,
    /// Reconnected and re-read: the cache is current again.
    Resynced,
}

/// Whether a [`TreeCache`]'s contents can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheState {
    /// The first read has not finished.
    Initializing,
    /// The contents mirror the server (up to the events still in flight).
    Current,
    /// Disconnected or expired: the contents are the last known ones and may be stale.
    Suspended,
    /// The client was closed or the cache failed for good; the contents are frozen.
    Closed,
}

/// Which watches keep the cache current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WatchMode {
    /// A persistent-recursive watch if the server has them (3.6+), else per-node watches.
    #[default]
    Auto,
    /// Always a persistent-recursive watch (fails on servers without `addWatch`).
    PersistentRecursive,
    /// Always a data and a child watch per node (works on every server version).
    PerNode,
}

/// Builds a [`TreeCache`]; start with [`TreeCache::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TreeCacheBuilder {
    client: Client,
    pub(super) root: String,
    max_depth: Option<usize>,
    mode: WatchMode,
}

impl TreeCacheBuilder {
    /// Caches only nodes at most `depth` levels below the root (the root is level 0; `1` caches
    /// the root and its children).
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// Chooses the watches (default [`WatchMode::Auto`]).
    pub fn with_watch_mode(mut self, mode: WatchMode) -> Self {
        self.mode = mode;
        self
    }

    /// Starts the cache and waits for its first full read (which waits for a connection if the
    /// client has none). Fails only if the client is closed, the root path is invalid, or
    /// reading is not allowed (ACL); wrap it in a timeout to bound the wait.
    pub async fn start(self) -> Result<TreeCache, Error> {
        zk_proto::validate_path(&self.root, false)
            .map_err(|e| Error::InvalidArgument(format!("tree cache root: {e}")))?;
        let shared = Arc::new(Shared {
            root: self.root.clone(),
            nodes: Mutex::new(BTreeMap::new()),
            subscribers: Mutex::new(Vec::new()),
            status: watch::channel((CacheState::Initializing, 0)).0,
        });
        let worker = Worker::new(self.client, shared.clone(), self.max_depth, self.mode);
        let (ready_tx, ready_rx) = oneshot::channel();
        let span = tracing::debug_span!("tree_cache", root = %self.root);
        let task = AbortOnDrop::spawn(worker.run(ready_tx).instrument(span));
        match ready_rx.await {
            Ok(Ok(())) => Ok(TreeCache {
                shared,
                _task: Arc::new(task),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    root: String,
    pub(super) nodes: Mutex<BTreeMap<String, ChildData>>,
    pub(super) subscribers: Mutex<Vec<mpsc::UnboundedSender<CacheEvent>>>,
    /// The state and a counter bumped on every applied change (for `wait_until`).
    pub(super) status: watch::Sender<(CacheState, u64)>,
}

impl Shared {
    pub(super) fn emit(&self, event: CacheEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|tx| tx.send(event.clone()).is_ok());
    }

    pub(super) fn set_state(&self, state: CacheState) {
        self.status.send_if_modified(|(s, _)| {
            let changed = *s != state;
            *s = state;
            changed
        });
    }

    pub(super) fn bump(&self) {
        self.status.send_modify(|(_, version)| *version += 1);
    }

    /// Inserts or replaces a node; emits Created/Updated if it is new or its data/version changed.
    pub(super) fn upsert(&self, node: ChildData) {
        let event = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            match nodes.insert(node.path.clone(), node.clone()) {
                None => Some(CacheEvent::NodeCreated(node)),
                Some(old) if old.stat.mzxid != node.stat.mzxid || old.data != node.data => {
                    Some(CacheEvent::NodeUpdated(node))
                }
                Some(_) => None,
            }
        };
        if let Some(event) = event {
            self.bump();
            self.emit(event);
        }
    }

    /// Removes `path` and everything below it; emits NodeDeleted for each, deepest first.
    pub(super) fn remove_subtree(&self, path: &str) {
        let removed: Vec<ChildData> = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            let below = below_prefix(path);
            let keys: Vec<String> = nodes
                .keys()
                .filter(|k| k.as_str() == path || k.starts_with(&below))
                .cloned()
                .collect();
            keys.iter().rev().filter_map(|k| nodes.remove(k)).collect()
        };
        if !removed.is_empty() {
            self.bump();
            for node in removed {
                self.emit(CacheEvent::NodeDeleted(node));
            }
        }
    }

    /// Replaces the contents with `fresh`, emitting the difference.
    pub(super) fn replace_all(&self, fresh: BTreeMap<String, ChildData>) {
        let old = {
            let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            nodes.clone()
        };
        let gone: Vec<&String> = old.keys().filter(|k| !fresh.contains_key(*k)).collect();
        for path in gone.into_iter().rev() {
            self.remove_subtree(path);
        }
        for node in fresh.into_values() {
            self.upsert(node);
        }
    }
}

/// `path` + `/`, the prefix of every descendant (`/` for the root).
pub(super) fn below_prefix(path: &str) -> String {
    if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    }
}

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A live copy of the subtree under a root path. Cheap to clone; the background task that keeps it
/// current stops when the last clone is dropped.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use futures::StreamExt;
/// use zk_recipes::cache::{CacheEvent, TreeCache};
///
/// let cache = TreeCache::builder(&client, "/app/config").start().await?;
/// println!("{} nodes now", cache.len());
/// let mut events = cache.events();
/// while let Some(event) = events.next().await {
///     if let CacheEvent::NodeUpdated(node) = event {
///         println!("{} changed to {:?}", node.path, String::from_utf8_lossy(&node.data));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TreeCache {
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

impl TreeCache {
    /// A builder for a cache of the subtree at `root` (the root itself included; it need not exist).
    pub fn builder(client: &Client, root: &str) -> TreeCacheBuilder {
        TreeCacheBuilder {
            client: client.clone(),
            root: root.to_owned(),
            max_depth: None,
            mode: WatchMode::Auto,
        }
    }

    /// The root path.
    pub fn root(&self) -> &str {
        &self.shared.root
    }

    /// The cached node at `path`.
    pub fn get(&self, path: &str) -> Option<ChildData> {
        self.lock().get(path).cloned()
    }

    /// The names of the cached children of `path`, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let below = below_prefix(path);
        self.lock()
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .filter_map(|(k, _)| {
                let rest = &k[below.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect()
    }

    /// Every cached node, by path.
    pub fn snapshot(&self) -> BTreeMap<String, ChildData> {
        self.lock().clone()
    }

    /// How many nodes are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached (the root does not exist).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether the contents can be trusted right now.
    pub fn state(&self) -> CacheState {
        self.shared.status.borrow().0
    }

    /// A counter that grows with every applied change (cheap change detection for derived views).
    pub fn version(&self) -> u64 {
        self.shared.status.borrow().1
    }

    /// A stream of every change from now on (and state events). Each call makes an independent
    /// stream; events are buffered until read.
    pub fn events(&self) -> CacheEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        CacheEvents { rx }
    }

    /// Waits until `condition` holds for the cached contents (checked now and after every
    /// change). Fails with [`Error::Closed`] if the cache stops first. Bound it with a timeout.
    pub async fn wait_until<F>(&self, mut condition: F) -> Result<(), Error>
    where
        F: FnMut(&BTreeMap<String, ChildData>) -> bool,
    {
        let mut status = self.shared.status.subscribe();
        loop {
            let state = status.borrow_and_update().0;
            if condition(&self.lock()) {
                return Ok(());
            }
            if state == CacheState::Closed || status.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// Waits until the cache is [`CacheState::Current`].
    pub async fn wait_current(&self) -> Result<(), Error> {
        let mut status = self.shared.status.subscribe();
        loop {
            match status.borrow_and_update().0 {
                CacheState::Current => return Ok(()),
                CacheState::Closed => return Err(Error::Closed),
                _ => {}
            }
            if status.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ChildData>> {
        self.shared.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The stream of [`TreeCache::events`]. It ends when the cache stops.
#[derive(Debug)]
pub struct CacheEvents {
    rx: mpsc::UnboundedReceiver<CacheEvent>,
}

impl Stream for CacheEvents {
    type Item = CacheEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CacheEvent>> {
        self.rx.poll_recv(cx)
    }
}
