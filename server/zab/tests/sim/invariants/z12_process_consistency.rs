//! Z12 ProcessConsistency (MET; broken by ZK-2845): once a follower takes NEWLEADER (acks it with
//! currentEpoch = acceptedEpoch), its history is a prefix of its leader's history. Checked at the
//! NEWLEADER-ACK, against the leader's state at that moment.

use zk_zab::{PeerId, Role};

use super::show;
use crate::world::World;

pub fn on_newleader_ack(w: &World, i: usize, to: PeerId) -> Result<(), String> {
    let f = &w.nodes[i];
    let Some(fz) = f.zab.as_ref() else {
        return Ok(());
    };
    let Some(l) = w.nodes.iter().find(|n| n.id == to) else {
        return Ok(());
    };
    let Some(lz) = l.zab.as_ref() else {
        return Ok(());
    };
    if lz.role() != Role::Leading || lz.epoch() != fz.epoch() {
        return Ok(()); // the leader moved on; the ACK will be dropped
    }
    if fz.current_epoch() != fz.accepted_epoch() {
        return Err(format!(
            "Z12: follower {} acks NEWLEADER with currentEpoch != acceptedEpoch",
            f.id
        ));
    }
    let fh = f.history();
    let lh = l.history();
    for (k, t) in fh.iter().enumerate() {
        if lh.get(k) != Some(t) {
            return Err(format!(
                "Z12 ProcessConsistency: follower {} holds {} at position {k}, leader {} holds {:?}",
                f.id,
                show(t),
                l.id,
                lh.get(k).map(show)
            ));
        }
    }
    Ok(())
}
