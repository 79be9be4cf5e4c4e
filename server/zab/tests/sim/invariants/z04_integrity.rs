//! Z4 Integrity (both specs; Zab paper): every txn a learner delivers was committed by some leader — it is
//! in the global committed log, at the same position. (Stronger than "was broadcast".)

use super::{show, Checker};
use crate::world::Node;

pub fn check(chk: &Checker, n: &Node, before: usize) -> Result<(), String> {
    for (k, t) in n.applied.iter().enumerate().skip(before) {
        if chk.g.get(k) != Some(t) {
            return Err(format!(
                "Z4 Integrity: learner {} applied {} at position {k}, but the committed log has {:?}",
                n.id,
                show(t),
                chk.g.get(k).map(show)
            ));
        }
    }
    Ok(())
}
