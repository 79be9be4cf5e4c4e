//! Z3 PrefixConsistency (both specs): for any two servers, the committed (applied) prefixes agree entry by
//! entry up to the shorter one. Every applied sequence is compared with the longest one seen so far.

use super::{show, Checker};
use crate::world::Node;

pub fn check(chk: &mut Checker, n: &Node, before: usize) -> Result<(), String> {
    for (k, t) in n.applied.iter().enumerate().skip(before) {
        match chk.longest.get(k) {
            Some(o) if o != t => {
                return Err(format!(
                    "Z3 PrefixConsistency: server {} applied {} at position {k}, another server applied {}",
                    n.id,
                    show(t),
                    show(o)
                ))
            }
            Some(_) => {}
            None => chk.longest.push(*t),
        }
    }
    Ok(())
}
