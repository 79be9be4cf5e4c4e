//! Z25 Liveness sanity (`FastLeaderElection.tla` `ShouldBeTriggered1/2`): after faults heal and every server
//! is up, a leader reaches BROADCAST and a txn proposed there is applied by every server within a bounded
//! simulated time (`Options::liveness_ticks`).

use zk_zab::Zxid;

use crate::world::World;

pub fn report(w: &World, probe: Option<Zxid>) -> String {
    let states: Vec<String> = w
        .nodes
        .iter()
        .map(|n| match n.zab.as_ref() {
            Some(z) => format!(
                "{}:{:?}/{:?} e{:?} last {} applied {}",
                n.id,
                z.role(),
                z.phase(),
                z.epoch(),
                z.last_zxid(),
                n.applied_last()
            ),
            None => format!("{}:down", n.id),
        })
        .collect();
    format!(
        "Z25 Liveness: {} ticks after healing, probe {:?} has not reached every server: {}",
        w.opts.liveness_ticks,
        probe,
        states.join("; ")
    )
}
