//! Z1 Leadership1 (`ZkV3_7_0.tla` `Leadership1`): no two servers are both LEADING in SYNCHRONIZATION or
//! BROADCAST with the same epoch. Checked after every event.

use std::collections::BTreeMap;

use zk_zab::{Role, ZabPhase};

use crate::world::World;

pub fn check(w: &World) -> Result<(), String> {
    let mut seen = BTreeMap::new();
    for n in &w.nodes {
        let Some(z) = n.zab.as_ref() else { continue };
        if z.role() != Role::Leading || z.phase() < ZabPhase::Synchronization {
            continue;
        }
        let e = z.epoch().expect("a leader in synchronization has an epoch");
        if let Some(other) = seen.insert(e, n.id) {
            return Err(format!(
                "Z1 Leadership1: servers {other} and {} both lead epoch {e}",
                n.id
            ));
        }
    }
    Ok(())
}
