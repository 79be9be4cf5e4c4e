//! Z21 Persist before ACK (`internals.mdx` line 54; the fix of ZK-3911): a server sends ACK(z) only when
//! every txn up to z is durable — fsynced on the simulated disk, not merely queued — and its NEWLEADER-ACK
//! only when its whole synced history is.

use zk_zab::Zxid;

use crate::world::World;

pub fn on_ack(w: &World, i: usize, z: Zxid) -> Result<(), String> {
    let n = &w.nodes[i];
    let upto = if z.counter() == 0 {
        n.mem_log.keys().next_back().copied().unwrap_or(n.mem_base)
    } else {
        z
    };
    let not_durable = n
        .mem_log
        .range(..=upto)
        .map(|(z, _)| *z)
        .find(|&x| !n.disk.holds(x));
    if let Some(x) = not_durable {
        return Err(format!(
            "Z21 Persist before ACK: server {} sends ACK {z} but {x} is not durable",
            n.id
        ));
    }
    if z.counter() == 0 && n.disk.snapshot_pending() {
        return Err(format!(
            "Z21 Persist before ACK: server {} acks NEWLEADER before its SNAP is durable",
            n.id
        ));
    }
    Ok(())
}
