//! A znode's children: sorted by name, each held as the child's full path.
//!
//! The tree's path map keys every node by an `Arc<str>`; the parent's child set holds a clone of
//! that same `Arc`, so a child name costs 16 bytes in the set and no allocation of its own (it
//! used to be a separate `Box<str>` per name). Siblings share the prefix `parent + "/"`, so ordering
//! their full paths orders their names: `getChildren` still comes out sorted by name.
//!
//! The set is a list of sorted runs of at most [`RUN_MAX`] paths, every path of a run below every
//! path of the next: about 16 bytes a child, against about 40 in a `BTreeSet` (whose nodes of 11
//! keys stay half empty when names arrive in order, as sequential nodes do). A lookup is a binary
//! search over the runs' last paths, then within one run; an insert moves at most one run's
//! tail. A run that fills up splits, except that a path landing past the end of a full run
//! starts a new one, so names created in order fill their runs completely.
//!
//! Most znodes are leaves, so the set lives behind an `Option<Box<…>>`: a leaf pays one null
//! pointer.

use std::sync::Arc;

/// Paths per run: the longest memmove an insert or remove does is this many `Arc`s (8 KiB).
const RUN_MAX: usize = 512;
/// Neighbouring runs that together hold no more than this are merged after a remove, so runs
/// stay at least a quarter full on average however children are deleted.
const MERGE_BELOW: usize = RUN_MAX / 2;

/// The children of one znode.
#[derive(Debug, Clone, Default)]
pub struct Children(Option<Box<Runs>>);

/// A non-empty child set.
#[derive(Debug, Clone)]
struct Runs {
    /// Number of children (the sum of the runs' lengths), kept because every stat reply
    /// reports it.
    len: usize,
    /// Sorted, non-empty runs in order.
    runs: Vec<Vec<Arc<str>>>,
}

/// The last component of a child's path (its name).
fn name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

impl Runs {
    /// The run that holds `path` or would: the first whose last path is not below it (the
    /// last run for a path past every run).
    fn run_for(&self, path: &str) -> usize {
        let i = self
            .runs
            .partition_point(|r| r.last().is_some_and(|l| &**l < path));
        i.min(self.runs.len() - 1)
    }

    fn insert(&mut self, path: Arc<str>) -> bool {
        let r = self.run_for(&path);
        let run = &mut self.runs[r];
        let Err(at) = run.binary_search_by(|p| (**p).cmp(&*path)) else {
            return false;
        };
        self.len += 1;
        if run.len() < RUN_MAX {
            run.insert(at, path);
        } else if at == run.len() {
            self.runs.insert(r + 1, vec![path]);
        } else if at == 0 {
            self.runs.insert(r, vec![path]);
        } else {
            let mut tail = run.split_off(RUN_MAX / 2);
            if at <= RUN_MAX / 2 {
                run.insert(at, path);
            } else {
                tail.insert(at - RUN_MAX / 2, path);
            }
            self.runs.insert(r + 1, tail);
        }
        true
    }

    fn remove(&mut self, path: &str) -> bool {
        let r = self.run_for(path);
        let run = &mut self.runs[r];
        let Ok(at) = run.binary_search_by(|p| (**p).cmp(path)) else {
            return false;
        };
        run.remove(at);
        self.len -= 1;
        if run.is_empty() {
            self.runs.remove(r);
            return true;
        }
        if run.len() < run.capacity() / 4 {
            run.shrink_to_fit();
        }
        // Merge with the next run, or with the previous one, when both fit in half a run.
        let pair = if r + 1 < self.runs.len() {
            r
        } else {
            r.saturating_sub(1)
        };
        if pair + 1 < self.runs.len()
            && self.runs[pair].len() + self.runs[pair + 1].len() <= MERGE_BELOW
        {
            let next = self.runs.remove(pair + 1);
            self.runs[pair].extend(next);
        }
        true
    }
}

impl Children {
    /// Number of children.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len)
    }

    /// Whether the node has no children.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Child names, sorted.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.paths().map(|p| name(p))
    }

    /// Child paths, sorted by name (the tree's own path allocations).
    pub(super) fn paths(&self) -> impl DoubleEndedIterator<Item = &Arc<str>> + '_ {
        self.0.iter().flat_map(|s| s.runs.iter().flatten())
    }

    /// Adds the child at `path` (a key of the tree's map); false if already there.
    pub(super) fn insert(&mut self, path: Arc<str>) -> bool {
        match &mut self.0 {
            Some(runs) => runs.insert(path),
            None => {
                self.0 = Some(Box::new(Runs {
                    len: 1,
                    runs: vec![vec![path]],
                }));
                true
            }
        }
    }

    /// Removes the child at `path`; the set's allocations go with its last child.
    pub(super) fn remove(&mut self, path: &str) -> bool {
        let Some(runs) = self.0.as_mut() else {
            return false;
        };
        let removed = runs.remove(path);
        if runs.len == 0 {
            self.0 = None;
        }
        removed
    }
}

impl PartialEq for Children {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Children {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Checks the runs' invariants against a model set.
    fn check(c: &Children, model: &BTreeSet<String>) {
        assert_eq!(c.len(), model.len());
        assert_eq!(c.is_empty(), model.is_empty());
        let paths: Vec<&str> = c.paths().map(|p| &**p).collect();
        assert_eq!(paths, model.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        if let Some(r) = &c.0 {
            assert!(r
                .runs
                .iter()
                .all(|run| !run.is_empty() && run.len() <= RUN_MAX));
        }
    }

    #[test]
    fn names_sorted_and_empty_set_freed() {
        let mut c = Children::default();
        for p in ["/p/b", "/p/a-x", "/p/a"] {
            assert!(c.insert(p.into()));
        }
        assert!(!c.insert("/p/a".into()));
        assert_eq!(c.iter().collect::<Vec<_>>(), ["a", "a-x", "b"]);
        assert_eq!(c.iter().next_back(), Some("b"));
        assert_eq!(c.len(), 3);
        assert!(c.remove("/p/a-x"));
        assert!(!c.remove("/p/a-x"));
        assert!(c.remove("/p/a") && c.remove("/p/b"));
        assert!(c.is_empty() && c.0.is_none());
    }

    #[test]
    fn root_children_are_named_without_the_slash() {
        let mut c = Children::default();
        c.insert("/zookeeper".into());
        assert_eq!(c.iter().collect::<Vec<_>>(), ["zookeeper"]);
    }

    #[test]
    fn names_in_order_fill_runs_completely() {
        let mut c = Children::default();
        for i in 0..RUN_MAX * 3 {
            c.insert(format!("/p/n{i:08}").into());
        }
        let runs = &c.0.as_ref().unwrap().runs;
        assert_eq!(runs.len(), 3);
        assert!(runs.iter().all(|r| r.len() == RUN_MAX));
        // Descending order too.
        let mut d = Children::default();
        for i in (0..RUN_MAX * 2).rev() {
            d.insert(format!("/p/n{i:08}").into());
        }
        assert_eq!(d.0.as_ref().unwrap().runs.len(), 2);
    }

    #[test]
    fn random_inserts_and_removes_match_a_set() {
        let mut c = Children::default();
        let mut model = BTreeSet::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = format!("/q/{}", x % 3000);
            // Grow for a while, then shrink to nothing.
            if (step < 12_000 && x % 3 != 0) || (step >= 12_000 && x % 5 == 0) {
                assert_eq!(c.insert(p.as_str().into()), model.insert(p));
            } else {
                assert_eq!(c.remove(&p), model.remove(&p));
            }
            if step % 997 == 0 {
                check(&c, &model);
            }
        }
        check(&c, &model);
        for p in model.clone() {
            assert!(c.remove(&p));
            model.remove(&p);
        }
        check(&c, &model);
        assert!(c.0.is_none());
    }
}
