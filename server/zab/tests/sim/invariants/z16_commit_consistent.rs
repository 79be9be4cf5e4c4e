//! Z16 commitConsistent (`ZkV3_7_0.tla` `LeaderTryToCommit`): a leader commits in zxid order, and commits a
//! txn only when a quorum of voters — itself included — has acked it in this epoch and still holds it
//! durably. Checked at every leader commit, txn by txn.

use zk_zab::{Epoch, Zxid};

use crate::world::World;

pub fn on_leader_commit(
    w: &World,
    i: usize,
    epoch: Epoch,
    txns: &[(Zxid, u64)],
) -> Result<(), String> {
    let leader = &w.nodes[i];
    let voters: Vec<_> = w.nodes.iter().filter(|n| n.voter).collect();
    let quorum = voters.len() / 2 + 1;
    let mut prev = leader.applied_last();
    for &(z, _) in txns {
        if z <= prev {
            return Err(format!(
                "Z16 commitConsistent: leader {} commits {z} after {prev}",
                leader.id
            ));
        }
        prev = z;
        let holders = voters
            .iter()
            .filter(|v| {
                let acked =
                    v.id == leader.id || w.chk.acks.get(&(v.id, epoch)).is_some_and(|&a| a >= z);
                acked && v.disk.holds(z)
            })
            .count();
        if holders < quorum {
            return Err(format!(
                "Z16 commitConsistent: leader {} of epoch {epoch} commits {z} with {holders} durable acks, quorum is {quorum}",
                leader.id
            ));
        }
    }
    Ok(())
}
