//! Z24 Digest agreement (`QuorumDigestTest`; the ZK-2846 workaround): once faults have healed and the
//! cluster is quiet, every server has applied the same txns (same "digest" and lastProcessedZxid), and
//! all agree on one leader.

use crate::world::World;

pub fn check(w: &World) -> Result<(), String> {
    let first = &w.nodes[0];
    for n in &w.nodes[1..] {
        if n.applied != first.applied {
            return Err(format!(
                "Z24 Digest agreement: server {} applied {} txns up to {}, server {} applied {} up to {}",
                first.id,
                first.applied.len(),
                first.applied_last(),
                n.id,
                n.applied.len(),
                n.applied_last()
            ));
        }
    }
    let leaders: Vec<_> = w
        .nodes
        .iter()
        .map(|n| n.zab.as_ref().and_then(|z| z.leader()))
        .collect();
    if leaders.iter().any(|l| *l != leaders[0] || l.is_none()) {
        return Err(format!(
            "Z24 Digest agreement: servers disagree on the leader when quiet: {leaders:?}"
        ));
    }
    Ok(())
}
