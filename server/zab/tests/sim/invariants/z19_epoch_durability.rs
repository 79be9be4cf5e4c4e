//! Z19 Epoch durability (Zab paper f.p/f.a; ZK-1343, ZK-2307, ZK-4269, ZK-4643): acceptedEpoch ≥
//! currentEpoch, both are durable before anything that depends on them is sent (LEADERINFO and ACKEPOCH on
//! acceptedEpoch; NEWLEADER and its ACK on currentEpoch), and the on-disk values never go backwards — so a
//! restart, which reads them back, never regresses either.

use zk_zab::Message;

use crate::disk::Flushed;
use crate::world::{Node, World};

pub fn on_send(w: &World, i: usize, msg: &Message) -> Result<(), String> {
    let n = &w.nodes[i];
    let Some(z) = n.zab.as_ref() else {
        return Ok(());
    };
    let (needed_accepted, needed_current) = match msg {
        Message::LeaderInfo { epoch } => (Some(*epoch), None),
        Message::AckEpoch { .. } => (z.epoch(), None),
        Message::NewLeader { zxid } => (None, Some(zxid.epoch())),
        Message::Ack { zxid } if zxid.counter() == 0 => (None, Some(zxid.epoch())),
        _ => (None, None),
    };
    if let Some(e) = needed_accepted {
        if n.disk.accepted < e {
            return Err(format!(
                "Z19 Epoch durability: server {} sends {} for epoch {e} with acceptedEpoch {} on disk",
                n.id,
                msg.kind(),
                n.disk.accepted
            ));
        }
    }
    if let Some(e) = needed_current {
        if n.disk.current < e {
            return Err(format!(
                "Z19 Epoch durability: server {} sends {} for epoch {e} with currentEpoch {} on disk",
                n.id,
                msg.kind(),
                n.disk.current
            ));
        }
    }
    Ok(())
}

pub fn on_flush(n: &Node, f: &Flushed) -> Result<(), String> {
    if let Some((a, c)) = f.epochs {
        let (oa, oc) = f.old_epochs;
        if a < oa || c < oc {
            return Err(format!(
                "Z19 Epoch durability: server {} rewrites epochs ({oa}, {oc}) to ({a}, {c})",
                n.id
            ));
        }
    }
    Ok(())
}

pub fn check_disks(w: &World) -> Result<(), String> {
    for n in &w.nodes {
        if n.disk.accepted < n.disk.current {
            return Err(format!(
                "Z19 Epoch durability: server {} has acceptedEpoch {} < currentEpoch {} on disk",
                n.id, n.disk.accepted, n.disk.current
            ));
        }
    }
    Ok(())
}
