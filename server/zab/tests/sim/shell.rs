//! The shell of each simulated server: executes its core's actions in order against the simulated disk,
//! network and state machine, checking the action-level invariants as it goes.

use zk_zab::{Action, Epoch, Message, Role, ZabPhase, Zxid};

use crate::disk::DiskOp;
use crate::invariants;
use crate::world::{mix, payload_id, Ev, World};

impl World {
    /// Executes a node's actions in order, checking the action-level invariants.
    pub fn drain(&mut self, i: usize) -> Result<(), String> {
        loop {
            let Some(zab) = self.nodes[i].zab.as_mut() else {
                return Ok(());
            };
            let actions = zab.drain_actions();
            if actions.is_empty() {
                return Ok(());
            }
            for a in actions {
                self.exec(i, a)?;
            }
        }
    }

    fn schedule_fsync(&mut self, i: usize) {
        if !self.nodes[i].disk.fsync_scheduled {
            self.nodes[i].disk.fsync_scheduled = true;
            let d = self.rng.range(5, 150);
            let inc = self.nodes[i].incarnation;
            self.schedule(d, Ev::Fsync(i, inc));
        }
    }

    fn exec(&mut self, i: usize, action: Action) -> Result<(), String> {
        match action {
            Action::Send { to, msg } => {
                invariants::on_send(self, i, to, &msg)?;
                let t = self.ids.iter().position(|&x| x == to).expect("member");
                self.send(i, t, msg);
            }
            Action::SendSnapshot { to, zxid } => {
                let n = &self.nodes[i];
                if n.applied_last() != zxid {
                    return Err(format!(
                        "SNAP: node {} asked to snapshot at {zxid} but has applied {}",
                        n.id,
                        n.applied_last()
                    ));
                }
                let mut data = Vec::with_capacity(n.applied.len() * 16);
                for (z, p) in &n.applied {
                    data.extend_from_slice(&z.0.to_le_bytes());
                    data.extend_from_slice(&p.to_le_bytes());
                }
                let t = self.ids.iter().position(|&x| x == to).expect("member");
                self.send(
                    i,
                    t,
                    Message::Snap {
                        zxid,
                        data: data.into(),
                    },
                );
            }
            Action::AppendTxns(txns) => {
                for t in &txns {
                    let p = payload_id(&t.payload);
                    invariants::z20_zxid_uniqueness::on_append(
                        &self.chk,
                        self.nodes[i].id,
                        t.zxid,
                        p,
                    )?;
                    self.nodes[i].mem_log.insert(t.zxid, p);
                }
                self.nodes[i].disk.pending.push_back(DiskOp::Append(txns));
                self.schedule_fsync(i);
            }
            Action::Truncate(z) => {
                invariants::z13_committed_log_durability::on_truncate(self, i, z)?;
                let n = &mut self.nodes[i];
                let _ = n.mem_log.split_off(&Zxid(z.0 + 1));
                n.disk.pending.push_back(DiskOp::Truncate(z));
                self.schedule_fsync(i);
            }
            Action::ApplySnapshot { zxid, data } => {
                let list: Vec<(Zxid, u64)> = data
                    .chunks(16)
                    .map(|c| {
                        let z = u64::from_le_bytes(c[..8].try_into().expect("8"));
                        let p = u64::from_le_bytes(c[8..].try_into().expect("8"));
                        (Zxid(z), p)
                    })
                    .collect();
                invariants::z13_committed_log_durability::on_snapshot(self, i, zxid)?;
                let n = &mut self.nodes[i];
                n.mem_log.clear();
                n.mem_base = zxid;
                n.applied = list.clone();
                n.disk
                    .pending
                    .push_back(DiskOp::InstallSnapshot(zxid, list));
                invariants::on_applied_replaced(self, i)?;
                self.schedule_fsync(i);
            }
            Action::PersistEpoch { accepted, current } => {
                self.nodes[i].disk.pending_epochs = Some((accepted, current));
                self.schedule_fsync(i);
            }
            Action::Commit { upto } => {
                if self.verbose {
                    println!("t={} {} commit {upto}", self.now, self.ids[i]);
                }
                self.apply(i, upto)?
            }
            Action::RoleChanged { role, phase } => {
                if self.verbose {
                    println!(
                        "t={} {} role {:?} {:?}  [{}]",
                        self.now,
                        self.ids[i],
                        role,
                        phase,
                        self.nodes[i].summary()
                    );
                }
                let n = &mut self.nodes[i];
                if matches!(phase, ZabPhase::Election | ZabPhase::Discovery) {
                    n.newleader_acked = false;
                    n.last_ack = Zxid::ZERO;
                }
                self.trace = mix(mix(self.trace, 10), i as u64 * 8 + phase as u64);
                invariants::on_role(self, i, role, phase)?;
            }
            Action::ForwardedRequest { .. }
            | Action::SyncReply { .. }
            | Action::LearnerPing { .. }
            | Action::Revalidate { .. } => {}
        }
        Ok(())
    }

    /// Applies the mirrored log up to `upto` to the state machine.
    fn apply(&mut self, i: usize, upto: Zxid) -> Result<(), String> {
        let leader = self.nodes[i]
            .zab
            .as_ref()
            .is_some_and(|z| z.role() == Role::Leading);
        let epoch = self.nodes[i]
            .zab
            .as_ref()
            .and_then(|z| z.epoch())
            .unwrap_or(Epoch(0));
        let n = &self.nodes[i];
        let from = n.applied_last();
        let txns: Vec<(Zxid, u64)> = n
            .mem_log
            .range(Zxid(from.0 + 1)..=upto)
            .map(|(z, p)| (*z, *p))
            .collect();
        if txns.last().map(|t| t.0) != Some(upto) {
            return Err(format!(
                "COMMIT: node {} told to apply up to {upto} but its log lacks it",
                n.id
            ));
        }
        if leader {
            invariants::z16_commit_consistent::on_leader_commit(self, i, epoch, &txns)?;
        }
        let before = self.nodes[i].applied.len();
        self.nodes[i].applied.extend(txns);
        invariants::on_applied(self, i, before, leader)
    }
}
