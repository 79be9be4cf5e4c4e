//! The invariants of `/work/shared/ZAB-INVARIANTS.md`, one per file, each citing its row. They are checked
//! incrementally: at the action that can break them (a send, an apply, a truncation, a commit) and after
//! every event for the global ones, so every check sees every step.

pub mod z01_leadership;
pub mod z02_epoch_leader;
pub mod z03_prefix_consistency;
pub mod z04_integrity;
pub mod z06_total_order;
pub mod z10_committed_log_monotonicity;
pub mod z11_leader_completeness;
pub mod z12_process_consistency;
pub mod z13_committed_log_durability;
pub mod z15_proposal_consistent;
pub mod z16_commit_consistent;
pub mod z17_ack_consistent;
pub mod z19_epoch_durability;
pub mod z20_zxid_uniqueness;
pub mod z21_persist_before_ack;
pub mod z22_only_committed_in_sync;
pub mod z24_agreement;
pub mod z25_liveness;

use std::collections::BTreeMap;

use zk_zab::{Epoch, Message, PeerId, Role, ZabPhase, Zxid};

use crate::world::World;

/// Global history the checks compare against.
#[derive(Default)]
pub struct Checker {
    /// The globally committed log: what leaders committed, in order (`Zab.tla`'s committed history).
    pub g: Vec<(Zxid, u64)>,
    pub g_pos: BTreeMap<Zxid, usize>,
    /// Every txn ever proposed: zxid -> payload id.
    pub registry: BTreeMap<Zxid, u64>,
    /// `epochLeader`: the server established in each epoch.
    pub epoch_leader: BTreeMap<Epoch, PeerId>,
    /// The highest zxid each voter ACKed (durably, by Z21) to the leader of an epoch.
    pub acks: BTreeMap<(PeerId, Epoch), Zxid>,
    /// For a TRUNC or SNAP in flight, (learner, point) -> length of the committed log when the leader decided
    /// it (Z13).
    pub sync_decided: BTreeMap<(PeerId, Zxid), usize>,
    /// The longest applied sequence seen on any server.
    pub longest: Vec<(Zxid, u64)>,
}

/// Checks after every event.
pub fn check_step(w: &World) -> Result<(), String> {
    z01_leadership::check(w)?;
    z19_epoch_durability::check_disks(w)
}

/// Checks at a send.
pub fn on_send(w: &mut World, i: usize, to: PeerId, msg: &Message) -> Result<(), String> {
    z19_epoch_durability::on_send(w, i, msg)?;
    match msg {
        Message::Trunc { zxid } | Message::Snap { zxid, .. } => {
            let len = w.chk.g.len();
            w.chk.sync_decided.insert((to, *zxid), len);
        }
        _ => {}
    }
    if let Message::Ack { zxid } = msg {
        let first_newleader_ack = zxid.counter() == 0 && !w.nodes[i].newleader_acked;
        if zxid.counter() != 0 || first_newleader_ack {
            z21_persist_before_ack::on_ack(w, i, *zxid)?;
            z17_ack_consistent::on_ack(w, i, *zxid)?;
        }
        if first_newleader_ack {
            z12_process_consistency::on_newleader_ack(w, i, to)?;
            w.nodes[i].newleader_acked = true;
        }
        let epoch = w.nodes[i]
            .zab
            .as_ref()
            .and_then(|z| z.epoch())
            .unwrap_or(Epoch(0));
        let last = w.nodes[i].zab.as_ref().map(|z| z.last_zxid());
        let upto = if zxid.counter() == 0 {
            last
        } else {
            Some(*zxid)
        };
        if let (Some(upto), true) = (upto, zxid.counter() != 0 || first_newleader_ack) {
            let slot = w
                .chk
                .acks
                .entry((w.nodes[i].id, epoch))
                .or_insert(Zxid::ZERO);
            *slot = (*slot).max(upto);
        }
    }
    Ok(())
}

/// Checks when a role or phase changes.
pub fn on_role(w: &mut World, i: usize, role: Role, phase: ZabPhase) -> Result<(), String> {
    if role == Role::Leading {
        match phase {
            ZabPhase::Synchronization => z11_leader_completeness::on_sync_or_established(w, i)?,
            ZabPhase::Broadcast => {
                z11_leader_completeness::on_sync_or_established(w, i)?;
                z02_epoch_leader::on_established(w, i)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks after a node applied txns `applied[before..]`.
pub fn on_applied(w: &mut World, i: usize, before: usize, leader: bool) -> Result<(), String> {
    z06_total_order::check(&w.nodes[i], before)?;
    z03_prefix_consistency::check(&mut w.chk, &w.nodes[i], before)?;
    if leader {
        z10_committed_log_monotonicity::on_leader_commit(w, i)?;
    } else {
        z22_only_committed_in_sync::check(&w.chk, &w.nodes[i], before)?;
        z04_integrity::check(&w.chk, &w.nodes[i], before)?;
    }
    Ok(())
}

/// Checks after a node's state was replaced by a received snapshot.
pub fn on_applied_replaced(w: &mut World, i: usize) -> Result<(), String> {
    on_applied(w, i, 0, false)
}

/// Renders a txn for messages.
pub fn show(t: &(Zxid, u64)) -> String {
    format!("{}#{}", t.0, t.1)
}
