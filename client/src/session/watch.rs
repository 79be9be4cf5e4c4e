//! `WatchManager`: the local watchers by server path, how events reach them, and the setWatches
//! packets that re-register them after a reconnect.

use std::collections::{HashMap, HashSet};
use std::sync::Weak;

use tokio::sync::{mpsc, oneshot};
use zk_proto::records::watches::{SetWatches, SetWatches2};
use zk_proto::{EventType, KeeperState, RequestBody, WatcherEvent, WatcherType};

use super::{Command, Watcher};
use crate::connect_string::Chroot;
use crate::watcher::{OneshotWatcher, PersistentWatcher, WatchedEvent, WatcherId};

/// The kind of a local watcher; it decides which events it receives and which setWatches list
/// re-registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    /// getData, or exists on an existing node.
    Data,
    /// exists on a missing node.
    Exist,
    /// getChildren.
    Child,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    PersistentRecursive,
}

impl WatchKind {
    fn is_persistent(self) -> bool {
        matches!(self, WatchKind::Persistent | WatchKind::PersistentRecursive)
    }

    /// Whether a watcher of this kind on the event's own path receives the event.
    fn wants(self, event: EventType) -> bool {
        use EventType as E;
        use WatchKind as K;
        match event {
            E::NodeCreated | E::NodeDataChanged => {
                matches!(
                    self,
                    K::Data | K::Exist | K::Persistent | K::PersistentRecursive
                )
            }
            E::NodeDeleted => true,
            E::NodeChildrenChanged => matches!(self, K::Child | K::Persistent),
            _ => false,
        }
    }

    /// Whether `removeWatches(type)` removes watchers of this kind (as `ZKWatchManager.removeWatcher`).
    fn removed_by(self, ty: WatcherType) -> bool {
        match ty {
            WatcherType::Any => true,
            WatcherType::Data => matches!(self, WatchKind::Data | WatchKind::Exist),
            WatcherType::Children => self == WatchKind::Child,
        }
    }
}

#[derive(Debug)]
enum Sink {
    Oneshot(oneshot::Sender<WatchedEvent>),
    Stream(mpsc::UnboundedSender<WatchedEvent>),
}

#[derive(Debug)]
struct Entry {
    id: WatcherId,
    kind: WatchKind,
    sink: Sink,
}

impl Entry {
    /// Delivers `event`; returns false if the entry is used up (one-shot) or its receiver is gone.
    fn deliver(&mut self, event: &WatchedEvent) -> bool {
        match &self.sink {
            Sink::Stream(tx) => tx.send(event.clone()).is_ok(),
            Sink::Oneshot(_) => {
                let Sink::Oneshot(tx) = std::mem::replace(&mut self.sink, Sink::Stream(closed()))
                else {
                    unreachable!()
                };
                let _ = tx.send(event.clone());
                false
            }
        }
    }
}

fn closed() -> mpsc::UnboundedSender<WatchedEvent> {
    mpsc::unbounded_channel().0
}

/// Every local watcher, by server path.
#[derive(Debug)]
pub(crate) struct WatchManager {
    paths: HashMap<String, Vec<Entry>>,
    by_id: HashMap<WatcherId, String>,
    next_id: WatcherId,
    recursive: usize,
    /// Paths where the server still holds a persistent watch nobody wants any more (kept because
    /// other local watchers needed the path); removed once the path has no watcher.
    dangling: HashSet<String>,
    chroot: Chroot,
    commands: Weak<mpsc::UnboundedSender<Command>>,
}

impl WatchManager {
    pub(crate) fn new(chroot: Chroot, commands: Weak<mpsc::UnboundedSender<Command>>) -> Self {
        WatchManager {
            paths: HashMap::new(),
            by_id: HashMap::new(),
            next_id: 1,
            recursive: 0,
            dangling: HashSet::new(),
            chroot,
            commands,
        }
    }

    /// Number of local watchers.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Registers a watcher for `path` (a server path) after the server accepted the watch.
    pub(crate) fn register(&mut self, path: &str, kind: WatchKind) -> Watcher {
        let id = self.next_id;
        self.next_id += 1;
        let (sink, watcher) = if kind.is_persistent() {
            let (tx, rx) = mpsc::unbounded_channel();
            let w = PersistentWatcher::new(id, rx, self.commands.clone());
            (Sink::Stream(tx), Watcher::Persistent(w))
        } else {
            let (tx, rx) = oneshot::channel();
            let w = OneshotWatcher::new(id, rx, self.commands.clone());
            (Sink::Oneshot(tx), Watcher::Oneshot(w))
        };
        if kind == WatchKind::PersistentRecursive {
            self.recursive += 1;
        }
        self.paths
            .entry(path.to_owned())
            .or_default()
            .push(Entry { id, kind, sink });
        self.by_id.insert(id, path.to_owned());
        watcher
    }

    /// Delivers a server notification. Returns server paths whose dangling persistent watch can
    /// now be removed on the server.
    pub(crate) fn dispatch(&mut self, event: &WatcherEvent, zxid: i64) -> Vec<String> {
        let Ok(event_type) = EventType::try_from(event.event_type) else {
            tracing::warn!(event_type = event.event_type, "unknown event type");
            return Vec::new();
        };
        let user_event = WatchedEvent {
            event_type,
            state: KeeperState::try_from(event.state).unwrap_or(KeeperState::SyncConnected),
            path: self.chroot.to_client(&event.path),
            zxid,
        };
        let mut cleanup = Vec::new();
        let path = event.path.as_str();
        self.deliver_at(
            path,
            &user_event,
            |kind| kind.wants(event_type),
            &mut cleanup,
        );
        if self.recursive > 0 && event_type != EventType::NodeChildrenChanged {
            let mut ancestor = path;
            while ancestor.len() > 1 {
                let cut = ancestor.rfind('/').unwrap_or(0).max(1);
                ancestor = &ancestor[..cut];
                self.deliver_at(
                    ancestor,
                    &user_event,
                    |kind| kind == WatchKind::PersistentRecursive,
                    &mut cleanup,
                );
            }
        }
        cleanup
    }

    fn deliver_at(
        &mut self,
        path: &str,
        event: &WatchedEvent,
        wants: impl Fn(WatchKind) -> bool,
        cleanup: &mut Vec<String>,
    ) {
        let Some(entries) = self.paths.get_mut(path) else {
            return;
        };
        let mut gone = Vec::new();
        entries.retain_mut(|e| {
            if !wants(e.kind) || e.deliver(event) {
                return true;
            }
            gone.push((e.id, e.kind));
            false
        });
        let lost_persistent = gone.iter().any(|(_, k)| k.is_persistent());
        for (id, kind) in gone {
            self.forget(id, kind);
        }
        let still_persistent = self
            .paths
            .get(path)
            .is_some_and(|v| v.iter().any(|e| e.kind.is_persistent()));
        if lost_persistent && !still_persistent {
            self.dangling.insert(path.to_owned());
        }
        self.after_change(path, cleanup);
    }

    fn forget(&mut self, id: WatcherId, kind: WatchKind) {
        self.by_id.remove(&id);
        if kind == WatchKind::PersistentRecursive {
            self.recursive -= 1;
        }
    }

    /// Drops the path's entry when empty; reports a dangling server watch that can go.
    fn after_change(&mut self, path: &str, cleanup: &mut Vec<String>) {
        let empty = self.paths.get(path).map_or(true, Vec::is_empty);
        if empty {
            self.paths.remove(path);
            if self.dangling.remove(path) {
                cleanup.push(path.to_owned());
            }
        }
    }

    /// A watcher was dropped by the application. Returns a server path whose persistent watch
    /// should be removed on the server (no local watcher needs it any more).
    pub(crate) fn remove_watcher(&mut self, id: WatcherId) -> Option<String> {
        let path = self.by_id.get(&id)?.clone();
        let entries = self.paths.get_mut(&path)?;
        let i = entries.iter().position(|e| e.id == id)?;
        let entry = entries.swap_remove(i);
        let still_persistent = entries.iter().any(|e| e.kind.is_persistent());
        self.forget(id, entry.kind);
        if entry.kind.is_persistent() && !still_persistent {
            self.dangling.insert(path.clone());
        }
        let mut cleanup = Vec::new();
        self.after_change(&path, &mut cleanup);
        cleanup.pop()
    }

    /// After a successful `removeWatches(path, ty)`: removes the matching local watchers, which
    /// receive the matching `*WatchRemoved` event.
    pub(crate) fn removed_on_server(&mut self, path: &str, ty: WatcherType) {
        let Some(entries) = self.paths.get_mut(path) else {
            return;
        };
        let client_path = self.chroot.to_client(path);
        let mut gone = Vec::new();
        entries.retain_mut(|e| {
            if !e.kind.removed_by(ty) {
                return true;
            }
            let event_type = match e.kind {
                WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
                WatchKind::Child => EventType::ChildWatchRemoved,
                _ => EventType::PersistentWatchRemoved,
            };
            e.deliver(&WatchedEvent {
                event_type,
                state: KeeperState::SyncConnected,
                path: client_path.clone(),
                zxid: -1,
            });
            gone.push((e.id, e.kind));
            false
        });
        for (id, kind) in gone {
            self.forget(id, kind);
        }
        if ty == WatcherType::Any {
            self.dangling.remove(path);
        }
        let mut cleanup = Vec::new();
        self.after_change(path, &mut cleanup);
    }

    /// Delivers a session event. `Disconnected` and (re)connected states reach persistent watchers
    /// only; `Expired`, `AuthFailed` and `Closed` reach every watcher, which is then dropped.
    pub(crate) fn session_event(&mut self, state: KeeperState) {
        let event = WatchedEvent::session(state);
        let terminal = matches!(
            state,
            KeeperState::Expired | KeeperState::AuthFailed | KeeperState::Closed
        );
        for entries in self.paths.values_mut() {
            entries.retain_mut(|e| {
                if terminal {
                    e.deliver(&event);
                    return false;
                }
                !e.kind.is_persistent() || e.deliver(&event)
            });
        }
        if terminal {
            self.paths.clear();
            self.by_id.clear();
            self.recursive = 0;
            self.dangling.clear();
        } else {
            // Persistent watchers whose stream was dropped are forgotten lazily here.
            let live: HashSet<WatcherId> = self
                .paths
                .values()
                .flat_map(|v| v.iter().map(|e| e.id))
                .collect();
            let dead: Vec<WatcherId> = self
                .by_id
                .keys()
                .filter(|id| !live.contains(id))
                .copied()
                .collect();
            for id in dead {
                self.by_id.remove(&id);
            }
            self.recursive = self
                .paths
                .values()
                .flatten()
                .filter(|e| e.kind == WatchKind::PersistentRecursive)
                .count();
            self.paths.retain(|_, v| !v.is_empty());
        }
    }

    /// The packets that re-register every watch after a reconnect: setWatches2 (opcode 105), or
    /// setWatches (101) when `v2` is false (3.5 servers, which have no persistent watches).
    /// Each packet's paths take at most `max_bytes` (counting each string's 4-byte length), so
    /// packets stay below the server's jute.maxbuffer.
    pub(crate) fn set_watches(
        &self,
        last_zxid: i64,
        max_bytes: usize,
        v2: bool,
    ) -> Vec<RequestBody> {
        let mut packets = Vec::new();
        let mut cur = SetWatches2 {
            relative_zxid: last_zxid,
            ..Default::default()
        };
        let mut bytes = 0;
        let mut dropped = 0usize;
        for (path, entries) in &self.paths {
            let mut seen = [false; 5];
            for e in entries {
                let i = e.kind as usize;
                if seen[i] {
                    continue;
                }
                seen[i] = true;
                if !v2 && e.kind.is_persistent() {
                    dropped += 1;
                    continue;
                }
                let size = path.len() + 4;
                if bytes + size > max_bytes && bytes > 0 {
                    packets.push(std::mem::replace(
                        &mut cur,
                        SetWatches2 {
                            relative_zxid: last_zxid,
                            ..Default::default()
                        },
                    ));
                    bytes = 0;
                }
                bytes += size;
                let list = match e.kind {
                    WatchKind::Data => &mut cur.data_watches,
                    WatchKind::Exist => &mut cur.exist_watches,
                    WatchKind::Child => &mut cur.child_watches,
                    WatchKind::Persistent => &mut cur.persistent_watches,
                    WatchKind::PersistentRecursive => &mut cur.persistent_recursive_watches,
                };
                list.push(path.clone());
            }
        }
        if bytes > 0 {
            packets.push(cur);
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "server lacks setWatches2: persistent watches not restored"
            );
        }
        packets
            .into_iter()
            .map(|p| {
                if v2 {
                    RequestBody::SetWatches2(p)
                } else {
                    RequestBody::SetWatches(SetWatches {
                        relative_zxid: p.relative_zxid,
                        data_watches: p.data_watches,
                        exist_watches: p.exist_watches,
                        child_watches: p.child_watches,
                    })
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn manager() -> WatchManager {
        WatchManager::new(Chroot::new(Some("/root")), Weak::new())
    }

    fn ev(t: EventType, path: &str) -> WatcherEvent {
        WatcherEvent {
            event_type: t.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.into(),
        }
    }

    fn oneshot(w: Watcher) -> OneshotWatcher {
        match w {
            Watcher::Oneshot(w) => w,
            _ => panic!("not one-shot"),
        }
    }

    fn persistent(w: Watcher) -> PersistentWatcher {
        match w {
            Watcher::Persistent(w) => w,
            _ => panic!("not persistent"),
        }
    }

    #[tokio::test]
    async fn events_reach_the_right_kinds_and_strip_the_chroot() {
        let mut m = manager();
        let data = oneshot(m.register("/root/a", WatchKind::Data));
        let child = oneshot(m.register("/root/a", WatchKind::Child));
        let mut rec = persistent(m.register("/root", WatchKind::PersistentRecursive));
        let mut pers = persistent(m.register("/root/a", WatchKind::Persistent));
        assert_eq!(m.len(), 4);

        m.dispatch(&ev(EventType::NodeChildrenChanged, "/root/a"), -1);
        let e = child.await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeChildrenChanged, "/a")
        );
        assert_eq!(
            pers.next().await.unwrap().event_type,
            EventType::NodeChildrenChanged
        );

        m.dispatch(&ev(EventType::NodeDataChanged, "/root/a"), 7);
        let e = data.await;
        assert_eq!(
            (e.event_type, e.path.as_str(), e.zxid),
            (EventType::NodeDataChanged, "/a", 7)
        );
        assert_eq!(rec.next().await.unwrap().path, "/a");
        assert_eq!(
            pers.next().await.unwrap().event_type,
            EventType::NodeDataChanged
        );
        assert_eq!(m.len(), 2);

        m.dispatch(&ev(EventType::NodeCreated, "/root/a/b/c"), -1);
        assert_eq!(rec.next().await.unwrap().path, "/a/b/c");

        m.session_event(KeeperState::Disconnected);
        assert_eq!(rec.next().await.unwrap().state, KeeperState::Disconnected);
        m.session_event(KeeperState::Expired);
        assert_eq!(rec.next().await.unwrap().state, KeeperState::Expired);
        assert!(rec.next().await.is_none());
        assert_eq!(m.len(), 0);
    }

    #[tokio::test]
    async fn dropping_the_last_persistent_watcher_frees_the_server_watch() {
        let mut m = manager();
        let p = persistent(m.register("/root/a", WatchKind::Persistent));
        let d = oneshot(m.register("/root/a", WatchKind::Data));
        let pid = p.registration_id();
        std::mem::forget(p);
        // A one-shot still needs the path: keep the server watch for now.
        assert_eq!(m.remove_watcher(pid), None);
        let cleanup = m.dispatch(&ev(EventType::NodeDataChanged, "/root/a"), -1);
        assert_eq!(cleanup, vec!["/root/a".to_string()]);
        assert_eq!(d.await.event_type, EventType::NodeDataChanged);
    }

    #[test]
    fn set_watches_split_below_the_limit_and_keep_every_kind() {
        let mut m = manager();
        let mut keep = Vec::new();
        for i in 0..100 {
            keep.push(m.register(&format!("/root/n{i:03}"), WatchKind::Exist));
        }
        keep.push(m.register("/root", WatchKind::PersistentRecursive));
        keep.push(m.register("/root", WatchKind::Persistent));
        keep.push(m.register("/root/x", WatchKind::Child));
        keep.push(m.register("/root/x", WatchKind::Data));
        let packets = m.set_watches(42, 200, true);
        assert!(packets.len() > 5);
        let (mut exist, mut other) = (0, 0);
        for p in &packets {
            let RequestBody::SetWatches2(p) = p else {
                panic!()
            };
            assert_eq!(p.relative_zxid, 42);
            let lists = [
                &p.data_watches,
                &p.exist_watches,
                &p.child_watches,
                &p.persistent_watches,
                &p.persistent_recursive_watches,
            ];
            let bytes: usize = lists
                .iter()
                .flat_map(|l| l.iter())
                .map(|s| s.len() + 4)
                .sum();
            assert!(bytes <= 200);
            exist += p.exist_watches.len();
            other += p.data_watches.len()
                + p.child_watches.len()
                + p.persistent_watches.len()
                + p.persistent_recursive_watches.len();
        }
        assert_eq!((exist, other), (100, 4));
        let v1 = m.set_watches(42, usize::MAX, false);
        assert_eq!(v1.len(), 1);
        let RequestBody::SetWatches(p) = &v1[0] else {
            panic!()
        };
        assert_eq!(
            p.exist_watches.len() + p.data_watches.len() + p.child_watches.len(),
            102
        );
    }
}
