//! Z17 ackConsistent (`ZkV3_7_0.tla`; MET; violated by ZK-4685): an ACK names a zxid the sender has logged,
//! ACKed zxids rise on a connection, and a NEWLEADER-ACK carries the sender's current epoch.

use zk_zab::Zxid;

use crate::world::World;

pub fn on_ack(w: &mut World, i: usize, z: Zxid) -> Result<(), String> {
    let n = &mut w.nodes[i];
    let Some(zab) = n.zab.as_ref() else {
        return Ok(());
    };
    if z.counter() == 0 {
        if z.epoch() != zab.current_epoch() {
            return Err(format!(
                "Z17 ackConsistent: server {} acks NEWLEADER {z} with currentEpoch {}",
                n.id,
                zab.current_epoch()
            ));
        }
        return Ok(());
    }
    if !n.mem_log.contains_key(&z) {
        return Err(format!(
            "Z17 ackConsistent: server {} acks {z} it has not logged",
            n.id
        ));
    }
    if z <= n.last_ack {
        return Err(format!(
            "Z17 ackConsistent: server {} acks {z} after {}",
            n.id, n.last_ack
        ));
    }
    n.last_ack = z;
    Ok(())
}
