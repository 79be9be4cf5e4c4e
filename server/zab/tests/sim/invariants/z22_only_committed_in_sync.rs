//! Z22 Only committed txns applied during sync (ZK-4394): before its NEWLEADER-ACK, a learner applies only
//! txns that some leader has committed.

use super::{show, Checker};
use crate::world::Node;

pub fn check(chk: &Checker, n: &Node, before: usize) -> Result<(), String> {
    if n.newleader_acked {
        return Ok(());
    }
    for t in &n.applied[before..] {
        if !chk.g_pos.contains_key(&t.0) {
            return Err(format!(
                "Z22 Only committed applied during sync: learner {} applied uncommitted {} before its NEWLEADER-ACK",
                n.id,
                show(t)
            ));
        }
    }
    Ok(())
}
