//! Z6 TotalOrder (both specs): a server delivers txns in one total order — zxid order — without repeats.
//! With Z3 this gives: whoever delivers b delivers every a before b that anyone delivered before b.

use super::show;
use crate::world::Node;

pub fn check(n: &Node, before: usize) -> Result<(), String> {
    let start = before.saturating_sub(1);
    for pair in n.applied[start..].windows(2) {
        if pair[0].0 >= pair[1].0 {
            return Err(format!(
                "Z6 TotalOrder: server {} delivered {} after {}",
                n.id,
                show(&pair[1]),
                show(&pair[0])
            ));
        }
    }
    Ok(())
}
