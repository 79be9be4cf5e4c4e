//! The search: Wing & Gong's algorithm with Lowe's just-in-time linearization and memoization, over one
//! partition's operations.
//!
//! The history becomes a doubly linked list of call and return entries sorted by time (calls before returns
//! at equal times). The search walks the list from its head:
//! - at a **call** entry, it tries to linearize that operation now: if the model accepts it from the current
//!   state (and its session predecessor is already linearized) and the resulting configuration was never
//!   visited, the operation is pushed on a stack, its call and return entries are unlinked ("lifted"), and
//!   the walk restarts from the head. Otherwise it moves on to the next entry.
//! - at a **return** entry, the operation that returned has not been linearized, yet every order from here
//!   would have to place it later than its reply: dead end. The search pops the last linearized operation,
//!   relinks its entries (dancing links, in reverse order of unlinking), restores the state and continues
//!   with the entry after it. With an empty stack, the history is not linearizable.
//!
//! Only operations whose call precedes the first remaining return are ever tried: the *minimal* operations
//! (Lowe's just-in-time linearization). Indeterminate operations have no return entry: they can be
//! linearized any time after their call, or never. The search succeeds as soon as every completed
//! operation is linearized.

use std::time::Instant;

use crate::history::Time;
use crate::memo::{Bitset, Memo};
use crate::model::Model;

/// One operation as the search sees it; indices are local to the partition.
pub(crate) struct SearchOp<'a, I, O> {
    pub(crate) input: &'a I,
    /// `None`: indeterminate (no return entry).
    pub(crate) output: Option<&'a O>,
    pub(crate) call: Time,
    pub(crate) ret: Option<Time>,
    /// An operation that must be linearized before this one (the same client's previous completed one).
    pub(crate) after: Option<usize>,
}

/// Why a search stopped undecided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutOfBudget {
    Steps,
    Deadline,
}

/// How many steps a search may take and until when.
pub(crate) struct Budget {
    pub(crate) steps_left: u64,
    pub(crate) deadline: Option<Instant>,
}

/// The deepest dead end the search reached: the partial linearization, the state after it, and the
/// operation whose return stopped it.
pub(crate) struct DeadEnd<S> {
    pub(crate) order: Vec<usize>,
    pub(crate) state: S,
    pub(crate) blocked_by: usize,
}

pub(crate) enum Outcome<S> {
    /// A linearization of the completed operations (and of the indeterminate ones that took effect).
    Linearizable(Vec<usize>),
    Illegal(DeadEnd<S>),
    Unknown(OutOfBudget),
}

pub(crate) struct Search<S> {
    pub(crate) outcome: Outcome<S>,
    pub(crate) steps: u64,
    pub(crate) configurations: usize,
}

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// How often (in steps) the deadline is read.
const DEADLINE_CHECK_INTERVAL: u64 = 1 << 12;

#[derive(Clone, Copy)]
struct Entry {
    op: u32,
    is_return: bool,
    prev: u32,
    next: u32,
}

/// The call/return list with O(1) unlink and relink.
struct Entries {
    nodes: Vec<Entry>,
    /// For each operation, its return entry (or NIL).
    ret_of: Vec<u32>,
}

impl Entries {
    fn new<I, O>(ops: &[SearchOp<'_, I, O>]) -> Self {
        let mut events: Vec<(Time, bool, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, false, i as u32));
            if let Some(ret) = op.ret {
                events.push((ret, true, i as u32));
            }
        }
        // Calls before returns at equal times: operations touching in time are concurrent.
        events.sort_unstable();
        let mut nodes = Vec::with_capacity(events.len() + 1);
        nodes.push(Entry {
            op: NIL,
            is_return: false,
            prev: NIL,
            next: if events.is_empty() { NIL } else { 1 },
        });
        let mut ret_of = vec![NIL; ops.len()];
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            let index = k as u32 + 1;
            let next = if k + 1 < events.len() { index + 1 } else { NIL };
            nodes.push(Entry {
                op,
                is_return,
                prev: index - 1,
                next,
            });
            if is_return {
                ret_of[op as usize] = index;
            }
        }
        Entries { nodes, ret_of }
    }

    fn unlink(&mut self, n: u32) {
        let Entry { prev, next, .. } = self.nodes[n as usize];
        self.nodes[prev as usize].next = next;
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    fn relink(&mut self, n: u32) {
        let Entry { prev, next, .. } = self.nodes[n as usize];
        self.nodes[prev as usize].next = n;
        if next != NIL {
            self.nodes[next as usize].prev = n;
        }
    }

    /// Removes a call entry and its return entry.
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.ret_of[self.nodes[call as usize].op as usize];
        if ret != NIL {
            self.unlink(ret);
        }
    }

    /// Undoes [`lift`](Self::lift) (it must be the last lift not yet undone).
    fn unlift(&mut self, call: u32) {
        let ret = self.ret_of[self.nodes[call as usize].op as usize];
        if ret != NIL {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// Searches for a linearization of `ops` from `init`.
pub(crate) fn search<M: Model>(
    model: &M,
    init: M::State,
    ops: &[SearchOp<'_, M::Input, M::Output>],
    budget: &mut Budget,
) -> Search<M::State> {
    let mut entries = Entries::new(ops);
    let mut linearized = Bitset::new(ops.len());
    let mut memo = Memo::new();
    let mut stack: Vec<(u32, M::State)> = Vec::new();
    let mut state = init;
    let mut remaining = ops.iter().filter(|op| op.ret.is_some()).count();
    let mut deepest: Option<DeadEnd<M::State>> = None;
    let mut steps = 0u64;
    let mut cur = entries.nodes[HEAD as usize].next;

    let finish = |outcome, steps, memo: &Memo<M::State>| Search {
        outcome,
        steps,
        configurations: memo.len(),
    };
    while remaining > 0 {
        if budget.steps_left == 0 {
            return finish(Outcome::Unknown(OutOfBudget::Steps), steps, &memo);
        }
        budget.steps_left -= 1;
        steps += 1;
        if steps % DEADLINE_CHECK_INTERVAL == 0
            && budget.deadline.is_some_and(|d| Instant::now() >= d)
        {
            return finish(Outcome::Unknown(OutOfBudget::Deadline), steps, &memo);
        }

        // While a completed operation is open, its return entry is in the list after every entry the walk
        // can be at, so the walk never runs off the end.
        assert!(
            cur != NIL,
            "lincheck bug: walked off the list with {remaining} completed operations open"
        );
        let entry = entries.nodes[cur as usize];
        if !entry.is_return {
            let i = entry.op as usize;
            let op = &ops[i];
            if op.after.map_or(true, |p| linearized.get(p)) {
                if let Some(next) = model.step(&state, op.input, op.output) {
                    let mut next_linearized = linearized.clone();
                    next_linearized.set(i);
                    if memo.insert(next_linearized, next.clone()) {
                        stack.push((cur, std::mem::replace(&mut state, next)));
                        linearized.set(i);
                        entries.lift(cur);
                        if op.ret.is_some() {
                            remaining -= 1;
                        }
                        cur = entries.nodes[HEAD as usize].next;
                        continue;
                    }
                }
            }
            cur = entry.next;
        } else {
            let blocked_by = entry.op as usize;
            if deepest
                .as_ref()
                .map_or(true, |d| stack.len() > d.order.len())
            {
                let order = stack
                    .iter()
                    .map(|&(n, _)| entries.nodes[n as usize].op as usize)
                    .collect();
                deepest = Some(DeadEnd {
                    order,
                    state: state.clone(),
                    blocked_by,
                });
            }
            let Some((call, previous)) = stack.pop() else {
                let dead_end = deepest.expect("recorded above");
                return finish(Outcome::Illegal(dead_end), steps, &memo);
            };
            state = previous;
            let i = entries.nodes[call as usize].op as usize;
            linearized.clear(i);
            entries.unlift(call);
            if ops[i].ret.is_some() {
                remaining += 1;
            }
            cur = entries.nodes[call as usize].next;
        }
    }
    let order = stack
        .iter()
        .map(|&(n, _)| entries.nodes[n as usize].op as usize)
        .collect();
    finish(Outcome::Linearizable(order), steps, &memo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk_model::{ZkModel, ZkOp, ZkOutput};

    fn op<'a>(
        input: &'a ZkOp,
        output: Option<&'a ZkOutput>,
        call: Time,
        ret: Option<Time>,
    ) -> SearchOp<'a, ZkOp, ZkOutput> {
        SearchOp {
            input,
            output,
            call,
            ret,
            after: None,
        }
    }

    fn run(ops: &[SearchOp<'_, ZkOp, ZkOutput>]) -> Search<crate::zk_model::ZkState> {
        let model = ZkModel::new().with_node("/k", "0");
        let mut budget = Budget {
            steps_left: 1_000_000,
            deadline: None,
        };
        search(&model, model.init(&["/k".into()]), ops, &mut budget)
    }

    #[test]
    fn finds_the_only_order_of_overlapping_ops() {
        let (w1, w2, r) = (
            ZkOp::set_data("/k", "1", None),
            ZkOp::set_data("/k", "2", None),
            ZkOp::get_data("/k"),
        );
        let (s1, s2, d) = (
            ZkOutput::Set { version: 2 },
            ZkOutput::Set { version: 1 },
            ZkOutput::data("1", 2),
        );
        // w1 and w2 overlap; the versions say w2 went first; the read overlaps both.
        let ops = [
            op(&w1, Some(&s1), 0, Some(10)),
            op(&w2, Some(&s2), 1, Some(9)),
            op(&r, Some(&d), 2, Some(20)),
        ];
        let Outcome::Linearizable(order) = run(&ops).outcome else {
            panic!("not linearizable")
        };
        assert_eq!(order, vec![1, 0, 2]);
    }

    #[test]
    fn dead_end_names_the_blocking_return() {
        let (w, r) = (ZkOp::set_data("/k", "1", None), ZkOp::get_data("/k"));
        let (s, stale) = (ZkOutput::Set { version: 1 }, ZkOutput::data("0", 0));
        let ops = [
            op(&w, Some(&s), 0, Some(1)),
            op(&r, Some(&stale), 2, Some(3)),
        ];
        let Outcome::Illegal(dead_end) = run(&ops).outcome else {
            panic!("linearizable")
        };
        assert_eq!(dead_end.order, vec![0]);
        assert_eq!(dead_end.blocked_by, 1);
    }

    #[test]
    fn indeterminate_ops_need_not_be_linearized() {
        let (w, r) = (ZkOp::set_data("/k", "1", None), ZkOp::get_data("/k"));
        let d = ZkOutput::data("0", 0);
        let ops = [op(&w, None, 0, None), op(&r, Some(&d), 5, Some(6))];
        let Outcome::Linearizable(order) = run(&ops).outcome else {
            panic!("not linearizable")
        };
        assert_eq!(order, vec![1]);
    }

    #[test]
    fn session_predecessor_is_respected() {
        // Two pipelined writes of one client, both overlapping; their versions say the second went first.
        let (w1, w2) = (
            ZkOp::set_data("/k", "1", None),
            ZkOp::set_data("/k", "2", None),
        );
        let (s1, s2) = (ZkOutput::Set { version: 2 }, ZkOutput::Set { version: 1 });
        let mut ops = vec![
            op(&w1, Some(&s1), 0, Some(10)),
            op(&w2, Some(&s2), 1, Some(11)),
        ];
        assert!(matches!(run(&ops).outcome, Outcome::Linearizable(_)));
        ops[1].after = Some(0);
        assert!(matches!(run(&ops).outcome, Outcome::Illegal(_)));
    }

    #[test]
    fn runs_out_of_steps() {
        let w = ZkOp::set_data("/k", "1", None);
        let s = ZkOutput::Set { version: 1 };
        let ops = [op(&w, Some(&s), 0, Some(1))];
        let model = ZkModel::new().with_node("/k", "0");
        let mut budget = Budget {
            steps_left: 0,
            deadline: None,
        };
        let result = search(&model, model.init(&["/k".into()]), &ops, &mut budget);
        assert!(matches!(
            result.outcome,
            Outcome::Unknown(OutOfBudget::Steps)
        ));
    }
}
