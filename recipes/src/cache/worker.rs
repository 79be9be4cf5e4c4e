//! The task behind a [`TreeCache`](super::TreeCache): owns the watches (one persistent-recursive
//! watch, or one-shot watches per node), re-reads what they report, and re-reads everything after
//! a reconnect or a new session.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::future::{join_all, BoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};
use zk_client::{
    AddWatchMode, Client, EventType, OneshotWatcher, PersistentWatcher, SessionState, WatchedEvent,
};

use super::{
    below_prefix, join, CacheEvent, CacheState, ChildData, Shared, WatchMode, RESYNC_RETRY_DELAY,
};
use crate::Error;

/// Which one-shot watch fired (per-node mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Data,
    Child,
    Exists,
}

type Fired = BoxFuture<'static, (String, Kind, WatchedEvent)>;

/// The background task: owns the watches and applies what they report.
pub(super) struct Worker {
    client: Client,
    shared: Arc<Shared>,
    max_depth: Option<usize>,
    mode: WatchMode,
    per_node: bool,
    recursive: Option<PersistentWatcher>,
    oneshots: FuturesUnordered<Fired>,
    /// One-shot watches currently armed, so a re-read never stacks a second one.
    watched: HashSet<(String, Kind)>,
}

/// Errors after which the cache cannot go on.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Closed
            | Error::Client(
                zk_client::Error::Closed
                    | zk_client::Error::AuthFailed
                    | zk_client::Error::NoAuth
                    | zk_client::Error::InvalidPath(_)
                    | zk_client::Error::BadArguments(_)
            )
    )
}

impl Worker {
    pub(super) fn new(
        client: Client,
        shared: Arc<Shared>,
        max_depth: Option<usize>,
        mode: WatchMode,
    ) -> Self {
        Worker {
            client,
            shared,
            max_depth,
            per_node: mode == WatchMode::PerNode,
            mode,
            recursive: None,
            oneshots: FuturesUnordered::new(),
            watched: HashSet::new(),
        }
    }

    pub(super) async fn run(mut self, ready: oneshot::Sender<Result<(), Error>>) {
        let mut ready = Some(ready);
        let mut states = self.client.state_stream();
        // The stream starts with the current state; the first read below covers it.
        let _ = states.next().await;
        let mut dirty = true;
        loop {
            if dirty && self.client.state() == SessionState::Connected {
                match self.resync().await {
                    Ok(()) => {
                        dirty = false;
                        self.shared.set_state(CacheState::Current);
                        if let Some(ready) = ready.take() {
                            info!(
                                nodes = self.shared.nodes.lock().map(|n| n.len()).unwrap_or(0),
                                per_node = self.per_node,
                                "tree cache initialized"
                            );
                            self.shared.emit(CacheEvent::Initialized);
                            let _ = ready.send(Ok(()));
                        } else {
                            debug!("tree cache resynced");
                            self.shared.emit(CacheEvent::Resynced);
                        }
                    }
                    Err(e) if is_fatal(&e) => {
                        warn!(error = %e, "tree cache stopped");
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(e));
                        }
                        break;
                    }
                    Err(e) => debug!(error = %e, "tree cache re-read failed; will retry"),
                }
            }
            let retry = async {
                if dirty {
                    tokio::time::sleep(RESYNC_RETRY_DELAY).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                state = states.next() => match state {
                    None | Some(SessionState::Closed | SessionState::AuthFailed) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(Error::Closed));
                        }
                        break;
                    }
                    Some(SessionState::Disconnected | SessionState::ConnectedReadOnly) => self.suspend(),
                    Some(SessionState::Expired) => {
                        self.suspend();
                        self.recursive = None;
                        self.oneshots = FuturesUnordered::new();
                        self.watched.clear();
                        dirty = true;
                    }
                    Some(SessionState::Connected) => dirty = true,
                },
                event = next_event(&mut self.recursive, &mut self.oneshots) => {
                    if let Err(e) = self.handle(event).await {
                        if is_fatal(&e) {
                            warn!(error = %e, "tree cache stopped");
                            break;
                        }
                        debug!(error = %e, "tree cache event handling failed; re-reading");
                        dirty = true;
                    }
                }
                _ = retry => {}
            }
        }
        self.shared.set_state(CacheState::Closed);
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn suspend(&self) {
        if self.shared.status.borrow().0 == CacheState::Current {
            self.shared.set_state(CacheState::Suspended);
            self.shared.emit(CacheEvent::Suspended);
        }
    }

    fn depth(&self, path: &str) -> Option<usize> {
        let root = &self.shared.root;
        if path == root {
            return Some(0);
        }
        let rest = path.strip_prefix(&below_prefix(root))?;
        Some(rest.split('/').count())
    }

    fn in_scope(&self, path: &str) -> bool {
        self.depth(path)
            .is_some_and(|d| self.max_depth.map_or(true, |max| d <= max))
    }

    fn wants_children(&self, path: &str) -> bool {
        self.depth(path)
            .is_some_and(|d| self.max_depth.map_or(true, |max| d < max))
    }

    /// Re-reads the whole subtree (arming watches as the mode needs) and applies the difference.
    async fn resync(&mut self) -> Result<(), Error> {
        let root = self.shared.root.clone();
        if !self.per_node && self.recursive.is_none() {
            match self
                .client
                .add_watch(&root, AddWatchMode::PersistentRecursive)
                .await
            {
                Ok(watcher) => self.recursive = Some(watcher),
                Err(zk_client::Error::Unimplemented) if self.mode == WatchMode::Auto => {
                    info!("server has no persistent watches; using per-node watches");
                    self.per_node = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut fresh = BTreeMap::new();
        let mut level = vec![root.clone()];
        while !level.is_empty() {
            // One level at a time, all of its reads pipelined.
            let reads: Vec<_> = level.iter().map(|p| self.read(p.clone())).collect();
            let results = join_all(reads).await;
            let mut next = Vec::new();
            let mut first_error = None;
            for (path, read) in level.into_iter().zip(results) {
                match self.settle(read) {
                    Ok(Some((node, children))) => {
                        next.extend(children.into_iter().map(|c| join(&path, &c)));
                        fresh.insert(path, node);
                    }
                    Ok(None) => {}
                    Err(e) => first_error = first_error.or(Some(e)),
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            level = next;
        }
        if self.per_node && !fresh.contains_key(&root) {
            self.arm_exists(&root).await?;
        }
        self.shared.replace_all(fresh);
        Ok(())
    }

    /// Starts reading one node and (within depth) its children's names, arming the per-node
    /// watches that are not armed yet. Both requests are queued before this returns (call order is
    /// wire order); the future only awaits the replies. Pass its output to [`Worker::settle`].
    fn read(&mut self, path: String) -> BoxFuture<'static, Read> {
        let client = &self.client;
        let want_children = self.wants_children(&path);
        let watch_data = self.per_node && self.watched.insert((path.clone(), Kind::Data));
        let watch_children =
            self.per_node && want_children && self.watched.insert((path.clone(), Kind::Child));
        let data = if watch_data {
            client
                .get_data_w(&path)
                .map(|r| r.map(|(d, s, w)| (d, s, Some(w))))
                .boxed()
        } else {
            client
                .get_data(&path)
                .map(|r| r.map(|(d, s)| (d, s, None)))
                .boxed()
        };
        let children = if !want_children {
            async { Ok((Vec::new(), None)) }.boxed()
        } else if watch_children {
            client
                .get_children_w(&path)
                .map(|r| r.map(|(c, _, w)| (c, Some(w))))
                .boxed()
        } else {
            client
                .get_children(&path)
                .map(|r| r.map(|c| (c, None)))
                .boxed()
        };
        async move {
            let (data, children) = futures::join!(data, children);
            let mut read = Read {
                result: Ok(None),
                armed: Vec::new(),
                unarmed: Vec::new(),
            };
            let (children, child_watch) = match children {
                Ok((c, w)) => (Ok(c), w),
                Err(e) => (Err(e), None),
            };
            match child_watch {
                Some(w) => read.armed.push((path.clone(), Kind::Child, w)),
                None if watch_children => read.unarmed.push((path.clone(), Kind::Child)),
                None => {}
            }
            let (data, stat, data_watch) = match data {
                Ok(v) => v,
                Err(e) => {
                    if watch_data {
                        read.unarmed.push((path.clone(), Kind::Data));
                    }
                    if e != zk_client::Error::NoNode {
                        read.result = Err(e.into());
                    }
                    return read;
                }
            };
            if let Some(w) = data_watch {
                read.armed.push((path.clone(), Kind::Data, w));
            }
            read.result = match children {
                Ok(children) => Ok(Some((ChildData { path, data, stat }, children))),
                // Deleted between the two reads: a NodeDeleted event follows.
                Err(zk_client::Error::NoNode) => Ok(None),
                Err(e) => Err(e.into()),
            };
            read
        }
        .boxed()
    }

    /// Takes the watches a read armed into the worker, and returns its result.
    fn settle(&mut self, read: Read) -> Result<Option<(ChildData, Vec<String>)>, Error> {
        for key in read.unarmed {
            self.watched.remove(&key);
        }
        for (path, kind, watcher) in read.armed {
            self.push(path, kind, watcher);
        }
        read.result
    }

    async fn read_now(&mut self, path: &str) -> Result<Option<(ChildData, Vec<String>)>, Error> {
        let read = self.read(path.to_owned()).await;
        self.settle(read)
    }

    async fn arm_exists(&mut self, path: &str) -> Result<(), Error> {
        if !self.watched.insert((path.to_owned(), Kind::Exists)) {
            return Ok(());
        }
        match self.client.exists_w(path).await {
            Ok((stat, watcher)) => {
                self.push(path.to_owned(), Kind::Exists, watcher);
                if stat.is_some() {
                    // Created since our read: this watch fires only on its next change.
                    self.load_subtree(path).await?;
                }
                Ok(())
            }
            Err(e) => {
                self.watched.remove(&(path.to_owned(), Kind::Exists));
                Err(e.into())
            }
        }
    }

    fn push(&mut self, path: String, kind: Kind, watcher: OneshotWatcher) {
        self.oneshots
            .push(async move { (path, kind, watcher.await) }.boxed());
    }

    /// Reads `path` and everything below it into the cache (per-node mode, when a node appears).
    async fn load_subtree(&mut self, path: &str) -> Result<(), Error> {
        let mut level = vec![path.to_owned()];
        while let Some(p) = level.pop() {
            if let Some((node, children)) = self.read_now(&p).await? {
                level.extend(children.into_iter().map(|c| join(&p, &c)));
                self.shared.upsert(node);
            }
        }
        Ok(())
    }

    /// Applies one watch event.
    async fn handle(
        &mut self,
        fired: Option<(String, Option<Kind>, WatchedEvent)>,
    ) -> Result<(), Error> {
        let Some((path, kind, event)) = fired else {
            return Ok(());
        };
        if let Some(kind) = kind {
            self.watched.remove(&(path, kind));
        }
        if event.is_session_event() || !self.in_scope(&event.path) {
            return Ok(());
        }
        let path = event.path;
        debug!(?event.event_type, %path, "watch event");
        match event.event_type {
            EventType::NodeDeleted => {
                self.shared.remove_subtree(&path);
                if self.per_node && path == self.shared.root {
                    self.arm_exists(&path).await?;
                }
            }
            EventType::NodeCreated if self.per_node => self.load_subtree(&path).await?,
            EventType::NodeCreated | EventType::NodeDataChanged => {
                match self.read_now(&path).await? {
                    Some((node, _)) => self.shared.upsert(node),
                    None => self.shared.remove_subtree(&path),
                }
            }
            EventType::NodeChildrenChanged => {
                let listed: HashSet<String> = match self.read_now(&path).await? {
                    Some((node, children)) => {
                        self.shared.upsert(node);
                        children.into_iter().map(|c| join(&path, &c)).collect()
                    }
                    None => {
                        self.shared.remove_subtree(&path);
                        return Ok(());
                    }
                };
                let cached: HashSet<String> = {
                    let nodes = self.shared.nodes.lock().unwrap_or_else(|e| e.into_inner());
                    let below = below_prefix(&path);
                    nodes
                        .keys()
                        .filter(|k| k.strip_prefix(&below).is_some_and(|r| !r.contains('/')))
                        .cloned()
                        .collect()
                };
                for gone in cached.difference(&listed) {
                    self.shared.remove_subtree(gone);
                }
                for new in listed.difference(&cached) {
                    self.load_subtree(new).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What [`Worker::read`] found, and the one-shot watches it armed (or failed to arm).
struct Read {
    result: Result<Option<(ChildData, Vec<String>)>, Error>,
    armed: Vec<(String, Kind, OneshotWatcher)>,
    unarmed: Vec<(String, Kind)>,
}

/// The next event of the recursive watch or of any one-shot watch; pending if there are none.
async fn next_event(
    recursive: &mut Option<PersistentWatcher>,
    oneshots: &mut FuturesUnordered<Fired>,
) -> Option<(String, Option<Kind>, WatchedEvent)> {
    let persistent = async {
        match recursive.as_mut() {
            Some(w) => match w.next().await {
                Some(event) => Some((event.path.clone(), None, event)),
                None => {
                    // Ended (expired/closed): the state stream says what to do.
                    *recursive = None;
                    std::future::pending().await
                }
            },
            None => std::future::pending().await,
        }
    };
    let oneshot = async {
        if oneshots.is_empty() {
            return std::future::pending().await;
        }
        oneshots
            .next()
            .await
            .map(|(path, kind, event)| (path, Some(kind), event))
    };
    tokio::select! {
        e = persistent => e,
        e = oneshot => e,
    }
}
