//! Z20 zxid uniqueness (`internals.mdx`): no two different txns ever carry the same zxid. Checked when a
//! leader proposes and whenever any server logs a txn.

use zk_zab::{PeerId, Zxid};

use super::Checker;

pub fn on_propose(chk: &mut Checker, z: Zxid, payload: u64) -> Result<(), String> {
    match chk.registry.insert(z, payload) {
        Some(old) if old != payload => Err(format!(
            "Z20 zxid uniqueness: {z} proposed for txn #{old} and again for #{payload}"
        )),
        _ => Ok(()),
    }
}

pub fn on_append(chk: &Checker, node: PeerId, z: Zxid, payload: u64) -> Result<(), String> {
    match chk.registry.get(&z) {
        Some(&p) if p == payload => Ok(()),
        Some(&p) => Err(format!(
            "Z20 zxid uniqueness: server {node} logs {z} as #{payload}, it was proposed as #{p}"
        )),
        None => Err(format!(
            "Z20 zxid uniqueness: server {node} logs {z} that no leader proposed"
        )),
    }
}
