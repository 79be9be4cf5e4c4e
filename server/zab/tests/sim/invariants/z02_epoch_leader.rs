//! Z2 Leadership2 (both specs, history variable `epochLeader`): at most one server is ever established as
//! leader of a given epoch. Checked when a leader reaches BROADCAST.

use crate::world::World;

pub fn on_established(w: &mut World, i: usize) -> Result<(), String> {
    let id = w.nodes[i].id;
    let e = w.nodes[i]
        .zab
        .as_ref()
        .and_then(|z| z.epoch())
        .expect("established leader has an epoch");
    match w.chk.epoch_leader.insert(e, id) {
        Some(other) if other != id => Err(format!(
            "Z2 Leadership2: epoch {e} established by {other} and later by {id}"
        )),
        _ => Ok(()),
    }
}
