//! Server-side watches (`WatchManager`, `WatcherModeManager`, `PathParentIterator`).
//!
//! Like Apache, two tables — data/exist watches and child watches — map a path to the
//! connections watching it, each with a mode. One-shot watches are removed when they fire;
//! persistent ones stay; persistent-recursive ones also fire for every descendant (matched by
//! whole path components, walking `/a/b/c` -> `/a/b` -> `/a` -> `/`) but never for
//! NodeChildrenChanged. A watcher is a connection: each trigger notifies a connection once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use zk_proto::{EventType, WatcherType};

/// Identifies a client connection.
pub type ConnId = u64;

/// How a watch behaves when it fires (`WatcherMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// One-shot (getData/exists/getChildren with watch=true).
    Standard,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    PersistentRecursive,
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Data and exist watches.
    Data,
    /// Child watches.
    Child,
}

#[derive(Debug, Default)]
struct WatchTable {
    by_path: HashMap<String, HashMap<ConnId, WatchMode>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive: usize,
}

impl WatchTable {
    fn add(&mut self, path: &str, conn: ConnId, mode: WatchMode) {
        let old = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .insert(conn, mode);
        if old == Some(WatchMode::PersistentRecursive) {
            self.recursive -= 1;
        }
        if mode == WatchMode::PersistentRecursive {
            self.recursive += 1;
        }
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    fn remove(&mut self, path: &str, conn: ConnId) -> bool {
        let Some(set) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = set.remove(&conn) else {
            return false;
        };
        if mode == WatchMode::PersistentRecursive {
            self.recursive -= 1;
        }
        if set.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        true
    }

    /// checkWatches as Apache 3.8's `WatchManager.containsWatcher` answers it: true when *any*
    /// connection watches exactly `path` in this table. (Apache does not check that the watcher
    /// at the leaf is the caller's; the differential suite confirmed this on 3.8.0, and clients
    /// see it, so we match it.)
    fn watched(&self, path: &str) -> bool {
        self.by_path.get(path).is_some_and(|s| !s.is_empty())
    }

    fn remove_conn(&mut self, conn: ConnId) {
        for p in self.by_conn.remove(&conn).unwrap_or_default() {
            if let Some(set) = self.by_path.get_mut(&p) {
                if set.remove(&conn) == Some(WatchMode::PersistentRecursive) {
                    self.recursive -= 1;
                }
                if set.is_empty() {
                    self.by_path.remove(&p);
                }
            }
        }
    }

    fn trigger(&mut self, path: &str, event: EventType, out: &mut Vec<ConnId>) {
        let mut local = path;
        let mut at_parent = false;
        loop {
            let mut fired_one_shot = Vec::new();
            if let Some(set) = self.by_path.get(local) {
                for (&conn, &mode) in set {
                    match mode {
                        WatchMode::PersistentRecursive
                            if event != EventType::NodeChildrenChanged =>
                        {
                            out.push(conn);
                        }
                        WatchMode::PersistentRecursive => {}
                        _ if !at_parent => {
                            out.push(conn);
                            if mode == WatchMode::Standard {
                                fired_one_shot.push(conn);
                            }
                        }
                        _ => {}
                    }
                }
            }
            for conn in fired_one_shot {
                self.remove(local, conn);
            }
            if self.recursive == 0 || local == "/" {
                break;
            }
            local = match local.rfind('/') {
                Some(0) => "/",
                Some(i) => &local[..i],
                None => break,
            };
            at_parent = true;
        }
    }

    fn count(&self) -> usize {
        self.by_path.values().map(HashMap::len).sum()
    }
}

/// Both watch tables.
#[derive(Debug, Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

impl WatchManager {
    /// A manager with no watches.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a one-shot watch.
    pub fn add(&mut self, table: Table, path: &str, conn: ConnId) {
        self.table(table).add(path, conn, WatchMode::Standard);
    }

    /// addWatch: persistent and persistent-recursive watches go into both tables
    /// (`DataTree.addWatch`; recursive ones never fire for NodeChildrenChanged anyway, but
    /// checkWatches/removeWatches of type Children see them, as on Apache 3.8).
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        self.restore_persistent(path, conn, recursive);
    }

    /// setWatches2's persistent lists go into both tables (`DataTree.setWatches`).
    pub fn restore_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        let mode = if recursive {
            WatchMode::PersistentRecursive
        } else {
            WatchMode::Persistent
        };
        self.data.add(path, conn, mode);
        self.child.add(path, conn, mode);
    }

    fn table(&mut self, t: Table) -> &mut WatchTable {
        match t {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    /// Fires `event` on `path` in one table; returns the connections to notify (each once).
    pub fn trigger(&mut self, table: Table, path: &str, event: EventType) -> Vec<ConnId> {
        let mut out = Vec::new();
        self.table(table).trigger(path, event, &mut out);
        dedup(out)
    }

    /// Fires a deletion: data watches, then child watches of connections not yet notified.
    pub fn trigger_delete(&mut self, path: &str) -> Vec<ConnId> {
        let mut out = Vec::new();
        self.data.trigger(path, EventType::NodeDeleted, &mut out);
        self.child.trigger(path, EventType::NodeDeleted, &mut out);
        dedup(out)
    }

    /// checkWatches: whether `path` is watched in the tables `kind` names, with Apache 3.8's
    /// semantics (see `WatchTable::contains`).
    pub fn contains(&self, path: &str, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Children => self.child.watched(path),
            WatcherType::Data => self.data.watched(path),
            WatcherType::Any => self.child.watched(path) || self.data.watched(path),
        }
    }

    /// removeWatches: removes and reports whether anything was removed.
    pub fn remove(&mut self, path: &str, kind: WatcherType, conn: ConnId) -> bool {
        match kind {
            WatcherType::Children => self.child.remove(path, conn),
            WatcherType::Data => self.data.remove(path, conn),
            WatcherType::Any => {
                let c = self.child.remove(path, conn);
                let d = self.data.remove(path, conn);
                c || d
            }
        }
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// Total watches (both tables), as `wchs` counts them.
    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }

    /// Number of distinct watched paths.
    pub fn path_count(&self) -> usize {
        let mut paths: HashSet<&String> = self.data.by_path.keys().collect();
        paths.extend(self.child.by_path.keys());
        paths.len()
    }

    /// Connections that watch anything.
    pub fn conn_count(&self) -> usize {
        let mut conns: HashSet<&ConnId> = self.data.by_conn.keys().collect();
        conns.extend(self.child.by_conn.keys());
        conns.len()
    }

    /// conn -> watched paths (for `wchc`).
    pub fn by_conn(&self) -> BTreeMap<ConnId, BTreeSet<String>> {
        let mut m: BTreeMap<ConnId, BTreeSet<String>> = BTreeMap::new();
        for t in [&self.data, &self.child] {
            for (c, ps) in &t.by_conn {
                m.entry(*c).or_default().extend(ps.iter().cloned());
            }
        }
        m
    }

    /// path -> watching connections (for `wchp`).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        let mut m: BTreeMap<String, BTreeSet<ConnId>> = BTreeMap::new();
        for t in [&self.data, &self.child] {
            for (p, cs) in &t.by_path {
                m.entry(p.clone()).or_default().extend(cs.keys().copied());
            }
        }
        m
    }
}

fn dedup(mut v: Vec<ConnId>) -> Vec<ConnId> {
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_fires_once() {
        let mut w = WatchManager::new();
        w.add(Table::Data, "/a", 1);
        assert_eq!(
            w.trigger(Table::Data, "/a", EventType::NodeDataChanged),
            vec![1]
        );
        assert!(w
            .trigger(Table::Data, "/a", EventType::NodeDataChanged)
            .is_empty());
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn recursive_matches_whole_components_and_skips_child_events() {
        let mut w = WatchManager::new();
        w.add_persistent("/a/w", 1, true);
        assert!(w
            .trigger(Table::Data, "/a/w2", EventType::NodeCreated)
            .is_empty());
        assert_eq!(
            w.trigger(Table::Data, "/a/w/x/y", EventType::NodeCreated),
            vec![1]
        );
        assert_eq!(
            w.trigger(Table::Data, "/a/w", EventType::NodeDataChanged),
            vec![1]
        );
        assert!(w
            .trigger(Table::Data, "/a/w", EventType::NodeChildrenChanged)
            .is_empty());
        assert!(w
            .trigger(Table::Child, "/a/w", EventType::NodeChildrenChanged)
            .is_empty());
        assert!(w.contains("/a/w", WatcherType::Children));
        assert_eq!(w.count(), 2, "in both tables, as Apache 3.8 keeps it");
    }

    #[test]
    fn persistent_fires_for_children_changes_but_not_descendants() {
        let mut w = WatchManager::new();
        w.add_persistent("/p", 1, false);
        assert_eq!(
            w.trigger(Table::Child, "/p", EventType::NodeChildrenChanged),
            vec![1]
        );
        assert!(w
            .trigger(Table::Data, "/p/c", EventType::NodeCreated)
            .is_empty());
        assert_eq!(w.trigger_delete("/p"), vec![1]);
        assert_eq!(w.count(), 2);
    }

    #[test]
    fn standard_watch_below_recursive_parent_still_one_shot() {
        let mut w = WatchManager::new();
        w.add_persistent("/", 1, true);
        w.add(Table::Data, "/x", 2);
        assert_eq!(
            w.trigger(Table::Data, "/x", EventType::NodeCreated),
            vec![1, 2]
        );
        assert_eq!(
            w.trigger(Table::Data, "/x", EventType::NodeDataChanged),
            vec![1]
        );
    }

    #[test]
    fn remove_and_check() {
        let mut w = WatchManager::new();
        w.add(Table::Child, "/c", 3);
        assert!(w.contains("/c", WatcherType::Any));
        assert!(!w.contains("/c", WatcherType::Data));
        assert!(!w.remove("/c", WatcherType::Data, 3));
        assert!(w.remove("/c", WatcherType::Any, 3));
        assert!(!w.contains("/c", WatcherType::Children));
        w.add(Table::Data, "/d", 4);
        w.remove_conn(4);
        assert_eq!(w.count(), 0);
    }
}
