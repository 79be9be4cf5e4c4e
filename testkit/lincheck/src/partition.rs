//! Splitting a history into independently checkable parts (P-compositionality).
//!
//! Linearizability is *local* (Herlihy & Wing, 1990): a history of operations on several objects is
//! linearizable if and only if each object's sub-history is. The proof glues per-object linearizations
//! together along real-time order, which works because an operation on one object neither reads nor
//! writes another. Horn & Kroening call the generalisation to parts of one object P-compositionality.
//!
//! For ZooKeeper the objects are znode paths (the [`ZkModel`](crate::ZkModel) keeps no state that links
//! two paths: no parent existence, no children, no cversion). A multi touches several paths at once, so it
//! is not an operation on one object; instead, paths linked by any multi are merged into one object: the
//! connected components of the graph whose edges are "some operation touches both keys". Every operation
//! then lies in exactly one component, components share no state, and locality applies to them. A history
//! with multis over `/a,/b` and `/b,/c` is checked as one partition `{/a,/b,/c}`; one without multis is
//! checked per path.

use std::collections::BTreeMap;

use crate::history::{History, OpId};
use crate::model::Model;

/// A set of keys and the operations that touch them, checked on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition<K> {
    /// The keys of the component, sorted. Empty for the partition of operations without keys.
    pub keys: Vec<K>,
    /// Its operations, in history order.
    pub ops: Vec<OpId>,
}

/// Groups the operations of `history` into connected components of shared keys (see the module docs).
///
/// Partitions come in the order of their first operation.
pub fn partition<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
) -> Vec<Partition<M::Key>> {
    let mut key_index: BTreeMap<M::Key, usize> = BTreeMap::new();
    let mut keys: Vec<M::Key> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    let op_keys: Vec<Vec<usize>> = history
        .operations()
        .iter()
        .map(|op| {
            model
                .keys(&op.input)
                .into_iter()
                .map(|key| {
                    *key_index.entry(key.clone()).or_insert_with(|| {
                        keys.push(key);
                        parent.push(parent.len());
                        parent.len() - 1
                    })
                })
                .collect()
        })
        .collect();

    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for ks in &op_keys {
        for pair in ks.windows(2) {
            let (a, b) = (find(&mut parent, pair[0]), find(&mut parent, pair[1]));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }

    // Component root -> partition index, in order of first operation; keyless operations share one.
    let mut by_root: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    let mut partitions: Vec<Partition<M::Key>> = Vec::new();
    for (i, ks) in op_keys.iter().enumerate() {
        let root = ks.first().map(|&k| find(&mut parent, k));
        let index = *by_root.entry(root).or_insert_with(|| {
            partitions.push(Partition {
                keys: Vec::new(),
                ops: Vec::new(),
            });
            partitions.len() - 1
        });
        partitions[index].ops.push(OpId(i));
    }
    for (k, key) in keys.into_iter().enumerate() {
        let root = find(&mut parent, k);
        partitions[by_root[&Some(root)]].keys.push(key);
    }
    for p in &mut partitions {
        p.keys.sort();
    }
    partitions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ClientId;
    use crate::zk_model::{Path, ZkModel, ZkOp};

    #[test]
    fn multis_merge_paths() {
        let mut h = History::new();
        for op in [
            ZkOp::get_data("/x"),
            ZkOp::create("/a", ""),
            ZkOp::multi([ZkOp::create("/b", ""), ZkOp::create("/c", "")]),
            ZkOp::set_data("/d", "", None),
            ZkOp::multi([ZkOp::check("/a", None), ZkOp::delete("/c", None)]),
            ZkOp::multi([]),
            ZkOp::get_data("/x"),
        ] {
            h.invoke(ClientId(1), 0, op);
        }
        let parts = partition(&ZkModel::new(), &h);
        let keys = |ks: &[&str]| ks.iter().map(|k| Path::from(*k)).collect::<Vec<_>>();
        assert_eq!(
            parts,
            vec![
                Partition {
                    keys: keys(&["/x"]),
                    ops: vec![OpId(0), OpId(6)]
                },
                Partition {
                    keys: keys(&["/a", "/b", "/c"]),
                    ops: vec![OpId(1), OpId(2), OpId(4)]
                },
                Partition {
                    keys: keys(&["/d"]),
                    ops: vec![OpId(3)]
                },
                Partition {
                    keys: vec![],
                    ops: vec![OpId(5)]
                },
            ]
        );
    }
}
