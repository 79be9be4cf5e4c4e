//! Z15 proposalConsistent (`ZkV3_7_0.tla` `violatedInvariants`): a PROPOSAL in BROADCAST carries the next
//! zxid after the last logged one; a TRUNC point lies in [lastCommitted, last logged]. Checked at delivery to
//! a learner of the sender.

use zk_zab::{Message, ZabPhase, Zxid};

use crate::world::World;

fn next_after(last: Zxid, z: Zxid) -> bool {
    if last.epoch() == z.epoch() {
        z.counter() == last.counter() + 1
    } else {
        last.epoch() < z.epoch() && z.counter() == 1
    }
}

pub fn on_deliver(w: &World, from: usize, to: usize, msg: &Message) -> Result<(), String> {
    let Some(z) = w.nodes[to].zab.as_ref() else {
        return Ok(());
    };
    if z.leader() != Some(w.nodes[from].id) || z.leader() == Some(z.id()) {
        return Ok(());
    }
    match msg {
        Message::Proposal(t)
            if z.phase() == ZabPhase::Broadcast && !next_after(z.last_zxid(), t.zxid) =>
        {
            return Err(format!(
                "Z15 proposalConsistent: server {} got PROPOSAL {} after last logged {}",
                z.id(),
                t.zxid,
                z.last_zxid()
            ));
        }
        Message::Trunc { zxid } if *zxid < z.committed_zxid() || *zxid > z.last_zxid() => {
            return Err(format!(
                "Z15 proposalConsistent: server {} got TRUNC {zxid} outside [{}, {}]",
                z.id(),
                z.committed_zxid(),
                z.last_zxid()
            ));
        }
        _ => {}
    }
    Ok(())
}
