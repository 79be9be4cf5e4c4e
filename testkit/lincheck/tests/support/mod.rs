//! Shared test support: a table syntax for hand-written histories, a generator of linearizable histories
//! (a random schedule run against the model), and a brute-force oracle to compare the checker with.
#![allow(dead_code)]

use std::collections::HashMap;

use zk_lincheck::{
    ClientId, History, Model, OpId, Operation, Time, ZkModel, ZkOp, ZkOutput, ZkState,
};

pub type ZkHistory = History<ZkOp, ZkOutput>;

/// One row of a hand-written history: client, invoked, completed (`None`: indeterminate), input, output.
pub type Row = (u64, Time, Option<Time>, ZkOp, Option<ZkOutput>);

pub fn history(rows: Vec<Row>) -> ZkHistory {
    let ops: Vec<_> = rows
        .into_iter()
        .map(|(client, call, ret, input, output)| match (ret, output) {
            (Some(ret), Some(output)) => {
                Operation::completed(ClientId(client), call, input, ret, output)
            }
            (None, None) => Operation::indeterminate(ClientId(client), call, input),
            _ => panic!("a row needs both a completion time and an output, or neither"),
        })
        .collect();
    History::try_from(ops).expect("valid history")
}

/// SplitMix64: a tiny seeded generator, so a failing case replays from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// What the generator produces.
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub clients: usize,
    pub ops_per_client: usize,
    pub keys: Vec<&'static str>,
    /// Percent of writes whose reply is lost after they took effect.
    pub lost_reply_percent: u64,
    /// Percent of writes lost before taking effect; each may still be applied at any later step, or never.
    pub lost_request_percent: u64,
    /// Percent of operations that are a multi over two keys (needs two keys).
    pub multi_percent: u64,
    /// Whether values are unique per write (else drawn from a tiny set, so reads can be ambiguous).
    pub unique_values: bool,
    /// Whether creates and deletes are generated (else only setData, getData and exists).
    pub creates_and_deletes: bool,
    /// The most requests a client has outstanding at once (1: one at a time).
    pub pipeline: usize,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            clients: 3,
            ops_per_client: 10,
            keys: vec!["/k"],
            lost_reply_percent: 5,
            lost_request_percent: 5,
            multi_percent: 0,
            unique_values: true,
            creates_and_deletes: true,
            pipeline: 1,
        }
    }
}

/// One outstanding request of a client: invoked, and applied (with its reply) or not yet.
struct Outstanding {
    id: OpId,
    reply: Option<ZkOutput>,
}

/// Runs a random schedule of `config.clients` clients against the model. Each client has up to
/// `config.pipeline` outstanding requests, applied and answered in the order it issued them (ZooKeeper's
/// session FIFO order). Each step either invokes a request, applies a client's oldest unapplied one (its
/// linearization point), delivers a client's oldest reply, or applies an orphaned lost request. A lost
/// request is never answered and may be applied at any later step or never; a lost reply is never
/// delivered. The result is linearizable by construction.
pub fn generate(config: &GenConfig, seed: u64) -> (ZkModel, ZkHistory) {
    let mut rng = Rng::new(seed);
    let model = ZkModel::new().with_node(config.keys[0], "init");
    let keys: Vec<_> = config.keys.iter().map(|k| (*k).into()).collect::<Vec<_>>();
    let mut state = model.init(&keys);
    let mut history = History::new();
    let mut queues: Vec<std::collections::VecDeque<Outstanding>> =
        (0..config.clients).map(|_| Default::default()).collect();
    let mut issued = vec![0usize; config.clients];
    let mut orphans: Vec<OpId> = Vec::new();
    let mut counter = 0u64;
    let mut t: Time = 0;
    loop {
        t += 1;
        let active: Vec<usize> = (0..config.clients)
            .filter(|&c| issued[c] < config.ops_per_client || !queues[c].is_empty())
            .collect();
        if active.is_empty() {
            break;
        }
        if !orphans.is_empty() && rng.chance(5) {
            let id = orphans.swap_remove(rng.below(orphans.len()));
            state = model.apply(&state, &history[id].input).0;
            continue;
        }
        let c = active[rng.below(active.len())];
        let client = ClientId(c as u64 + 1);
        let can_invoke =
            issued[c] < config.ops_per_client && queues[c].len() < config.pipeline.max(1);
        let unapplied = queues[c].iter().position(|o| o.reply.is_none());
        match rng.below(3) {
            0 if can_invoke => {
                counter += 1;
                let op = random_op(config, &mut rng, &state, c, counter);
                queues[c].push_back(Outstanding {
                    id: history.invoke(client, t, op),
                    reply: None,
                });
                issued[c] += 1;
            }
            1 if unapplied.is_some() => {
                let index = unapplied.expect("some");
                let id = queues[c][index].id;
                let write = !model.is_read_only(&history[id].input);
                if write && rng.chance(config.lost_request_percent) {
                    queues[c].remove(index);
                    orphans.push(id); // never answered; maybe applied later
                } else {
                    let (next, output) = model.apply(&state, &history[id].input);
                    state = next;
                    queues[c][index].reply = Some(output);
                }
            }
            2 if queues[c].front().is_some_and(|o| o.reply.is_some()) => {
                let Outstanding { id, reply } = queues[c].pop_front().expect("front");
                let write = !model.is_read_only(&history[id].input);
                if !(write && rng.chance(config.lost_reply_percent)) {
                    history
                        .complete(id, t, reply.expect("applied"))
                        .expect("valid completion");
                }
            }
            _ => {}
        }
    }
    (model, history)
}

fn random_op(
    config: &GenConfig,
    rng: &mut Rng,
    state: &ZkState,
    client: usize,
    counter: u64,
) -> ZkOp {
    let key = config.keys[rng.below(config.keys.len())];
    let value = if config.unique_values {
        format!("c{client}-{counter}")
    } else {
        format!("v{}", rng.below(2))
    };
    let current = state.nodes.get(key).map(|n| n.version);
    let version = |rng: &mut Rng| match current {
        Some(v) if rng.chance(60) => Some(v),
        Some(v) => Some(v + rng.below(3) as i32 - 1),
        None => Some(rng.below(2) as i32),
    };
    if config.keys.len() > 1 && rng.chance(config.multi_percent) {
        let other = config
            .keys
            .iter()
            .copied()
            .find(|k| *k != key)
            .expect("two keys");
        return match rng.below(3) {
            0 => ZkOp::multi([
                ZkOp::check(key, version(rng)),
                ZkOp::set_data(other, &value, None),
            ]),
            1 => ZkOp::multi([
                ZkOp::set_data(key, &value, version(rng)),
                ZkOp::set_data(other, &value, None),
            ]),
            _ => ZkOp::multi([ZkOp::get_data(key), ZkOp::exists(other)]),
        };
    }
    let roll = if config.creates_and_deletes {
        rng.below(100)
    } else {
        rng.below(80)
    };
    match roll {
        0..=34 => ZkOp::get_data(key),
        35..=39 => ZkOp::exists(key),
        40..=64 => ZkOp::set_data(key, &value, version(rng)),
        65..=79 => ZkOp::set_data(key, &value, None),
        80..=89 => ZkOp::create(key, &value),
        _ => ZkOp::delete(key, if rng.chance(50) { version(rng) } else { None }),
    }
}

/// Exhaustive search over every order (no just-in-time list, no memo): the reference the checker is
/// compared with on small histories. Same conventions: equal times are concurrent, indeterminate
/// operations may be left out, and with `session_order` a client's completed operation precedes its later
/// operations in the same partition (here: the whole history is one partition).
pub fn brute_force(model: &ZkModel, history: &ZkHistory, session_order: bool) -> bool {
    let ops = history.operations();
    let keys: Vec<_> = {
        let mut k: Vec<_> = ops.iter().flat_map(|op| model.keys(&op.input)).collect();
        k.sort();
        k.dedup();
        k
    };
    // pred[i]: the same client's nearest earlier-invoked completed operation.
    let mut pred: Vec<Option<usize>> = vec![None; ops.len()];
    if session_order {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| (ops[i].invoked_at, i));
        let mut last: HashMap<ClientId, usize> = HashMap::new();
        for &i in &order {
            pred[i] = last.get(&ops[i].client).copied();
            if ops[i].completed_at().is_some() {
                last.insert(ops[i].client, i);
            }
        }
    }
    fn go(
        model: &ZkModel,
        ops: &[Operation<ZkOp, ZkOutput>],
        pred: &[Option<usize>],
        done: &mut Vec<bool>,
        state: &ZkState,
    ) -> bool {
        if (0..ops.len()).all(|i| done[i] || ops[i].completed_at().is_none()) {
            return true;
        }
        for i in 0..ops.len() {
            if done[i] || pred[i].is_some_and(|p| !done[p]) {
                continue;
            }
            // Real time: every open completed op that returned strictly before i's call must come first.
            let blocked = (0..ops.len()).any(|j| {
                !done[j] && j != i && ops[j].completed_at().is_some_and(|r| r < ops[i].invoked_at)
            });
            if blocked {
                continue;
            }
            if let Some(next) = model.step(state, &ops[i].input, ops[i].output()) {
                done[i] = true;
                if go(model, ops, pred, done, &next) {
                    return true;
                }
                done[i] = false;
            }
        }
        false
    }
    go(
        model,
        ops,
        &pred,
        &mut vec![false; ops.len()],
        &model.init(&keys),
    )
}
