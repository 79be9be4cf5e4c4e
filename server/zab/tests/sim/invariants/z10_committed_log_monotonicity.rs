//! Z10 CommittedLogMonotonicity (MET `zk_test_v1.tla` "monotonicRead"; broken by ZK-3911): the globally
//! committed log only grows, and the committed prefix of the newest established leader always extends it.

use zk_zab::{Role, ZabPhase};

use super::show;
use crate::world::World;

pub fn on_leader_commit(w: &mut World, i: usize) -> Result<(), String> {
    let n = &w.nodes[i];
    let common = n.applied.len().min(w.chk.g.len());
    for k in 0..common {
        if n.applied[k] != w.chk.g[k] {
            return Err(format!(
                "Z10 CommittedLogMonotonicity: leader {} committed {} at position {k} where the committed log has {}",
                n.id,
                show(&n.applied[k]),
                show(&w.chk.g[k])
            ));
        }
    }
    let from = w.chk.g.len();
    if n.applied.len() > from {
        let new: Vec<_> = n.applied[from..].to_vec();
        for (k, t) in new.iter().enumerate() {
            w.chk.g_pos.insert(t.0, from + k);
        }
        w.chk.g.extend(new);
        super::z11_leader_completeness::on_committed_grew(w, from)?;
    }
    // The newest established leader holds the whole committed log.
    let newest = w
        .nodes
        .iter()
        .filter_map(|n| {
            let z = n.zab.as_ref()?;
            (z.role() == Role::Leading && z.phase() == ZabPhase::Broadcast).then(|| (z.epoch(), n))
        })
        .max_by_key(|(e, _)| *e);
    if let Some((_, n)) = newest {
        if n.applied.len() < w.chk.g.len() {
            return Err(format!(
                "Z10 CommittedLogMonotonicity: newest leader {} applied {} txns, {} are committed",
                n.id,
                n.applied.len(),
                w.chk.g.len()
            ));
        }
    }
    Ok(())
}
