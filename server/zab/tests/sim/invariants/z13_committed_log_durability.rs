//! Z13 CommittedLogDurability (MET; the ZK-1154/1156/3642/4785 class): a truncation during sync (TRUNC, or a
//! snapshot replacing the log) never removes a txn that was committed when the leader decided it. Checked at
//! the Truncate / ApplySnapshot action. (A txn the leader commits while its TRUNC is in flight may be cut and
//! is re-sent right behind it; the learner's old ACKs were dropped when it reconnected, so no commit counted
//! that copy — seed 1035 showed the race, which Apache's TRUNC-to-maxCommittedLog has as well.)

use zk_zab::Zxid;

use super::show;
use crate::world::World;

fn check_removed(w: &World, i: usize, keep: Zxid, what: &str) -> Result<(), String> {
    let n = &w.nodes[i];
    let decided = w
        .chk
        .sync_decided
        .get(&(n.id, keep))
        .copied()
        .unwrap_or(w.chk.g.len());
    for (z, p) in n.mem_log.range(Zxid(keep.0 + 1)..) {
        if w.chk.g_pos.get(z).is_some_and(|&pos| pos < decided) {
            return Err(format!(
                "Z13 CommittedLogDurability: {what} at {keep} on server {} removes committed {}",
                n.id,
                show(&(*z, *p))
            ));
        }
    }
    if keep < n.applied_last() && what == "TRUNC" {
        return Err(format!(
            "Z13 CommittedLogDurability: TRUNC to {keep} on server {} below its applied {}",
            n.id,
            n.applied_last()
        ));
    }
    Ok(())
}

pub fn on_truncate(w: &World, i: usize, z: Zxid) -> Result<(), String> {
    check_removed(w, i, z, "TRUNC")
}

pub fn on_snapshot(w: &World, i: usize, z: Zxid) -> Result<(), String> {
    check_removed(w, i, z, "SNAP")
}
