//! The linearizability check: partition the history, search each partition, shrink a violation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::history::{ClientId, History, OpId, Time};
use crate::model::Model;
use crate::partition::{partition, Partition};
use crate::result::{CheckResult, CheckStats, Undecided, UnknownCause, Violation};
use crate::search::{search, Budget, OutOfBudget, Outcome, SearchOp};

/// The default step budget of a check: enough for thousands of operations with a handful of clients (a
/// 5-client, 1,000-operation history on one key takes well under a million steps), small enough that a
/// pathological history gives up in seconds rather than hours.
pub const DEFAULT_MAX_STEPS: u64 = 20_000_000;

/// How a check runs. A plain struct with a [`Default`]; the `with_*` methods are shorthands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// The most search steps (entries visited) over all partitions before giving up with
    /// [`CheckResult::Unknown`]. Deterministic: simulations should bound checks with this, not a timeout.
    pub max_steps: u64,
    /// A wall-clock limit for the whole check, if any (read every few thousand steps).
    pub timeout: Option<Duration>,
    /// Require each client's completed operations to take effect in the order it invoked them, even when
    /// pipelined (ZooKeeper's session FIFO order, invariant C2). An operation must then be linearized after
    /// the client's previous *completed* operation in the same partition; an indeterminate operation
    /// orders nothing after it, because a request lost with its connection may still be applied after
    /// the client's requests on a new connection. Order between different partitions is not checked.
    pub session_order: bool,
    /// On a violation, search for the shortest illegal prefix (a binary search over replies, each probe
    /// a full search with the same `max_steps`). Off, the violation lists the whole partition.
    pub shrink: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            max_steps: DEFAULT_MAX_STEPS,
            timeout: None,
            session_order: true,
            shrink: true,
        }
    }
}

impl CheckOptions {
    /// Sets [`max_steps`](Self::max_steps).
    pub fn with_max_steps(mut self, max_steps: u64) -> Self {
        self.max_steps = max_steps;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`session_order`](Self::session_order).
    pub fn with_session_order(mut self, session_order: bool) -> Self {
        self.session_order = session_order;
        self
    }

    /// Sets [`shrink`](Self::shrink).
    pub fn with_shrink(mut self, shrink: bool) -> Self {
        self.shrink = shrink;
        self
    }
}

/// Checks that `history` is linearizable with respect to `model`.
///
/// See the crate docs for the algorithm, its cost and an example.
pub fn check<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    options: &CheckOptions,
) -> CheckResult<M::Key> {
    check_with_stats(model, history, options).0
}

/// [`check`], also returning how much work it took.
pub fn check_with_stats<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    options: &CheckOptions,
) -> (CheckResult<M::Key>, CheckStats) {
    let deadline = options.timeout.map(|t| Instant::now() + t);
    let mut budget = Budget {
        steps_left: options.max_steps,
        deadline,
    };
    let mut stats = CheckStats::default();
    let mut undecided = None;
    let partitions = partition(model, history);
    stats.partitions = partitions.len();
    for part in &partitions {
        let checker = PartitionCheck::new(model, history, part, options);
        stats.largest_partition = stats.largest_partition.max(checker.ops.len());
        let result = checker.search(None, &mut budget);
        stats.steps += result.steps;
        stats.configurations += result.configurations;
        match result.outcome {
            Outcome::Linearizable(_) => {}
            Outcome::Unknown(why) => {
                let cause = match why {
                    OutOfBudget::Steps => UnknownCause::StepBudget,
                    OutOfBudget::Deadline => {
                        UnknownCause::Timeout(options.timeout.unwrap_or_default())
                    }
                };
                undecided.get_or_insert(Undecided {
                    keys: part.keys.clone(),
                    cause,
                    steps: result.steps,
                });
                if budget.steps_left == 0 || why == OutOfBudget::Deadline {
                    break;
                }
            }
            Outcome::Illegal(dead_end) => {
                let full = Probe {
                    k: checker.ret_order.len(),
                    dead_end,
                };
                let probe = if options.shrink {
                    checker.shrink(full, deadline, &mut stats)
                } else {
                    full
                };
                return (CheckResult::Illegal(checker.violation(probe)), stats);
            }
        }
    }
    match undecided {
        Some(u) => (CheckResult::Unknown(u), stats),
        None => (CheckResult::Ok, stats),
    }
}

/// One operation of a partition.
struct PartOp<'a, I, O> {
    id: OpId,
    client: ClientId,
    input: &'a I,
    output: Option<&'a O>,
    call: Time,
    ret: Option<Time>,
    read_only: bool,
}

/// An illegal prefix: the first `k` replies (in reply order), and the search's dead end on it.
struct Probe<S> {
    k: usize,
    dead_end: crate::search::DeadEnd<S>,
}

struct PartitionCheck<'a, M: Model> {
    model: &'a M,
    keys: &'a [M::Key],
    session_order: bool,
    max_steps: u64,
    ops: Vec<PartOp<'a, M::Input, M::Output>>,
    /// Completed operations (indices into `ops`) in reply order; ties in history order.
    ret_order: Vec<usize>,
    /// For each operation, its position in `ret_order` (`usize::MAX` if indeterminate).
    ret_rank: Vec<usize>,
}

impl<'a, M: Model> PartitionCheck<'a, M> {
    fn new(
        model: &'a M,
        history: &'a History<M::Input, M::Output>,
        part: &'a Partition<M::Key>,
        options: &CheckOptions,
    ) -> Self {
        let ops: Vec<_> = part
            .ops
            .iter()
            .map(|&id| {
                let op = &history[id];
                let read_only = model.is_read_only(&op.input);
                PartOp {
                    id,
                    client: op.client,
                    input: &op.input,
                    output: op.output(),
                    call: op.invoked_at,
                    ret: op.completed_at(),
                    read_only,
                }
            })
            .filter(|op| op.ret.is_some() || !op.read_only)
            .collect();
        let mut ret_order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_some()).collect();
        ret_order.sort_by_key(|&i| (ops[i].ret, i));
        let mut ret_rank = vec![usize::MAX; ops.len()];
        for (rank, &i) in ret_order.iter().enumerate() {
            ret_rank[i] = rank;
        }
        PartitionCheck {
            model,
            keys: &part.keys,
            session_order: options.session_order,
            max_steps: options.max_steps,
            ops,
            ret_order,
            ret_rank,
        }
    }

    /// The operations of the prefix of the first `k` replies (all of them with `None`), in invocation
    /// order: indices into `ops`, and whether the operation is completed in the prefix.
    fn plan(&self, k: Option<usize>) -> Vec<(usize, bool)> {
        let cut = k.map(|k| self.ops[self.ret_order[k - 1]].ret.expect("completed"));
        let mut plan: Vec<(usize, bool)> = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            let included = cut.map_or(true, |t| op.call <= t);
            let completed = op.ret.is_some() && k.map_or(true, |k| self.ret_rank[i] < k);
            if included && (completed || !op.read_only) {
                plan.push((i, completed));
            }
        }
        plan.sort_by_key(|&(i, _)| (self.ops[i].call, i));
        plan
    }

    /// The model's canonical inputs for the plan's indeterminate operations, aligned with the plan.
    fn canonical_inputs(&self, plan: &[(usize, bool)]) -> Vec<Option<M::Input>> {
        let indeterminate: Vec<&M::Input> = plan
            .iter()
            .filter(|p| !p.1)
            .map(|&(i, _)| self.ops[i].input)
            .collect();
        let completed: Vec<&M::Output> = plan
            .iter()
            .filter_map(|&(i, c)| self.ops[i].output.filter(|_| c))
            .collect();
        let mut aligned: Vec<Option<M::Input>> = plan.iter().map(|_| None).collect();
        if indeterminate.is_empty() {
            return aligned;
        }
        if let Some(canonical) = self
            .model
            .canonicalize_indeterminate(&indeterminate, &completed)
        {
            assert_eq!(
                canonical.len(),
                indeterminate.len(),
                "canonicalize_indeterminate: one input per operation"
            );
            let slots = aligned
                .iter_mut()
                .zip(plan)
                .filter(|(_, p)| !p.1)
                .map(|(slot, _)| slot);
            slots
                .zip(canonical)
                .for_each(|(slot, input)| *slot = Some(input));
        }
        aligned
    }

    /// The plan as the search sees it, with its ordering constraints:
    /// - session order (if enabled): an operation comes after its client's previous completed one;
    /// - interchangeable indeterminate operations (equal canonical inputs and the same session
    ///   constraint) are linearized in invocation order. Sound: given any linearization, assigning the
    ///   class's uses to its members in invocation order gives another one with the same states, because
    ///   the i-th member by invocation is invoked no later than the i-th use.
    fn view<'b>(
        &'b self,
        plan: &[(usize, bool)],
        canonical: &'b [Option<M::Input>],
    ) -> Vec<SearchOp<'b, M::Input, M::Output>> {
        let mut last_completed: HashMap<ClientId, usize> = HashMap::new();
        let mut class_last: HashMap<(&M::Input, Option<usize>), usize> = HashMap::new();
        let mut view = Vec::with_capacity(plan.len());
        for (local, &(i, completed)) in plan.iter().enumerate() {
            let op = &self.ops[i];
            let input = canonical[local].as_ref().unwrap_or(op.input);
            let pred = if self.session_order {
                last_completed.get(&op.client).copied()
            } else {
                None
            };
            let after = if completed {
                if self.session_order {
                    last_completed.insert(op.client, local);
                }
                pred
            } else {
                // A predecessor that returned before this call is already forced first by real time.
                let pred = pred.filter(|&p| self.ops[plan[p].0].ret.is_some_and(|r| r >= op.call));
                class_last.insert((input, pred), local).or(pred)
            };
            view.push(SearchOp {
                input,
                output: if completed { op.output } else { None },
                call: op.call,
                ret: if completed { op.ret } else { None },
                after,
            });
        }
        view
    }

    fn search(&self, k: Option<usize>, budget: &mut Budget) -> crate::search::Search<M::State> {
        let plan = self.plan(k);
        let canonical = self.canonical_inputs(&plan);
        let view = self.view(&plan, &canonical);
        let mut result = search(self.model, self.model.init(self.keys), &view, budget);
        // Map the search's local indices back to indices into `ops`.
        match &mut result.outcome {
            Outcome::Linearizable(lin) => lin.iter_mut().for_each(|i| *i = plan[*i].0),
            Outcome::Illegal(dead_end) => {
                dead_end.order.iter_mut().for_each(|i| *i = plan[*i].0);
                dead_end.blocked_by = plan[dead_end.blocked_by].0;
            }
            Outcome::Unknown(_) => {}
        }
        result
    }

    /// Binary search for the shortest illegal prefix. Illegality is monotone in `k`: a linearization of a
    /// longer prefix, cut before the first operation invoked after the shorter prefix's last reply, is one of
    /// the shorter prefix (whose later replies are indeterminate there). A probe that runs out of budget
    /// counts as "not shown illegal", which keeps the answer a proven illegal prefix.
    fn shrink(
        &self,
        full: Probe<M::State>,
        deadline: Option<Instant>,
        stats: &mut CheckStats,
    ) -> Probe<M::State> {
        let (mut lo, mut best) = (0, full);
        while best.k - lo > 1 {
            let mid = lo + (best.k - lo) / 2;
            let mut budget = Budget {
                steps_left: self.max_steps,
                deadline,
            };
            let result = self.search(Some(mid), &mut budget);
            stats.shrink_steps += result.steps;
            match result.outcome {
                Outcome::Illegal(dead_end) => best = Probe { k: mid, dead_end },
                Outcome::Linearizable(_) => lo = mid,
                Outcome::Unknown(OutOfBudget::Steps) => lo = mid,
                Outcome::Unknown(OutOfBudget::Deadline) => break,
            }
        }
        best
    }

    fn violation(&self, probe: Probe<M::State>) -> Violation<M::Key> {
        let mut completed = Vec::new();
        let mut pending = Vec::new();
        for (i, is_completed) in self.plan(Some(probe.k)) {
            if is_completed {
                completed.push(self.ops[i].id);
            } else {
                pending.push(self.ops[i].id);
            }
        }
        completed.sort();
        pending.sort();
        Violation {
            keys: self.keys.to_vec(),
            culprit: self.ops[self.ret_order[probe.k - 1]].id,
            completed,
            pending,
            longest: probe
                .dead_end
                .order
                .iter()
                .map(|&i| self.ops[i].id)
                .collect(),
            longest_state: format!("{:?}", probe.dead_end.state),
            blocked_by: self.ops[probe.dead_end.blocked_by].id,
        }
    }
}
