//! What a check found: [`CheckResult`], and for a violation the operations that explain it.

use std::fmt::{self, Debug, Write as _};
use std::time::Duration;

use crate::history::{History, OpId};

/// The verdict on a history. Callers should treat [`Unknown`](CheckResult::Unknown) as a failure: a
/// history the checker could not decide proves nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult<K> {
    /// Every partition has a linearization.
    Ok,
    /// Some partition has none. Only the first such partition (in order of first operation) is reported.
    Illegal(Violation<K>),
    /// No partition is illegal, but some could not be decided within the budget.
    Unknown(Undecided<K>),
}

impl<K> CheckResult<K> {
    /// Whether the history is linearizable.
    pub fn is_ok(&self) -> bool {
        matches!(self, CheckResult::Ok)
    }

    /// Whether the history was proven not linearizable.
    pub fn is_illegal(&self) -> bool {
        matches!(self, CheckResult::Illegal(_))
    }

    /// Whether the check ran out of budget.
    pub fn is_unknown(&self) -> bool {
        matches!(self, CheckResult::Unknown(_))
    }

    /// The violation, if the history is illegal.
    pub fn violation(&self) -> Option<&Violation<K>> {
        match self {
            CheckResult::Illegal(v) => Some(v),
            _ => None,
        }
    }
}

impl<K: Debug> CheckResult<K> {
    /// A multi-line explanation for a test failure message: the verdict and, for a violation,
    /// [`Violation::explain`].
    pub fn explain<I: Debug, O: Debug>(&self, history: &History<I, O>) -> String {
        match self {
            CheckResult::Illegal(v) => v.explain(history),
            other => other.to_string(),
        }
    }
}

impl<K: Debug> fmt::Display for CheckResult<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Ok => f.write_str("linearizable"),
            CheckResult::Illegal(v) => {
                write!(
                    f,
                    "not linearizable on {:?}: nothing explains the reply to {}",
                    v.keys, v.culprit
                )
            }
            CheckResult::Unknown(u) => write!(
                f,
                "unknown on {:?}: {} after {} steps",
                u.keys, u.cause, u.steps
            ),
        }
    }
}

/// Why a partition could not be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownCause {
    /// The step budget ([`CheckOptions::max_steps`](crate::CheckOptions::max_steps)) ran out.
    StepBudget,
    /// The deadline ([`CheckOptions::timeout`](crate::CheckOptions::timeout)) passed.
    Timeout(Duration),
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownCause::StepBudget => f.write_str("step budget exhausted"),
            UnknownCause::Timeout(t) => write!(f, "timed out ({t:?})"),
        }
    }
}

/// A partition the check could not decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecided<K> {
    /// Its keys.
    pub keys: Vec<K>,
    /// Why.
    pub cause: UnknownCause,
    /// The steps spent on it.
    pub steps: u64,
}

/// A proof that one partition is not linearizable, shrunk to the shortest prefix of the history (in order
/// of replies) that is already illegal.
///
/// The prefix ends with the reply to [`culprit`](Self::culprit): before that reply arrived, the
/// partition's history so far was linearizable; with it, it is not. So the culprit's reply is the
/// observation that nothing can explain (with respect to the operations in the prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation<K> {
    /// The keys of the partition.
    pub keys: Vec<K>,
    /// The operation whose reply makes the prefix illegal.
    pub culprit: OpId,
    /// The operations of the prefix whose reply is in it (the culprit among them), in history order.
    pub completed: Vec<OpId>,
    /// The operations of the prefix that were invoked but whose reply is not in it (treated as
    /// indeterminate there), in history order. Indeterminate reads are left out.
    pub pending: Vec<OpId>,
    /// The longest partial linearization of the prefix that the search found, in linearization order.
    pub longest: Vec<OpId>,
    /// The model state after [`longest`](Self::longest) (its `Debug` form).
    pub longest_state: String,
    /// The completed operation that could not be placed after [`longest`](Self::longest).
    pub blocked_by: OpId,
}

impl<K: Debug> Violation<K> {
    /// A multi-line explanation: the operations of the shortest illegal prefix with their times, inputs and
    /// outputs, and the longest partial linearization.
    pub fn explain<I: Debug, O: Debug>(&self, history: &History<I, O>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "not linearizable on {:?}", self.keys);
        let _ = writeln!(
            out,
            "the shortest illegal prefix ends with the reply to {}; its operations (reply after the cut: …):",
            self.culprit
        );
        let mut ops: Vec<(OpId, bool)> = self.completed.iter().map(|&id| (id, true)).collect();
        ops.extend(self.pending.iter().map(|&id| (id, false)));
        ops.sort();
        for (id, completed) in ops {
            let Some(op) = history.get(id) else { continue };
            let end = op
                .completed_at()
                .filter(|_| completed)
                .map_or("…".to_string(), |t| t.to_string());
            let output = op
                .output()
                .filter(|_| completed)
                .map_or("…".to_string(), |o| format!("{o:?}"));
            let mark = if id == self.culprit {
                "   <- culprit"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:>6} client {:<8} [{:>6}, {:>6}] {:?} -> {}{}",
                id.to_string(),
                op.client.to_string(),
                op.invoked_at,
                end,
                op.input,
                output,
                mark
            );
        }
        let order: Vec<String> = self.longest.iter().map(OpId::to_string).collect();
        let _ = writeln!(
            out,
            "longest partial linearization: [{}] reaching {}; {} cannot be placed next",
            order.join(", "),
            self.longest_state,
            self.blocked_by
        );
        out
    }
}

/// Figures about one check, for tests that report how much work a history took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// The number of partitions.
    pub partitions: usize,
    /// The operations in the largest partition (after dropping indeterminate reads).
    pub largest_partition: usize,
    /// Search steps (entries visited) over all partitions.
    pub steps: u64,
    /// Search steps spent shrinking a violation to its shortest prefix.
    pub shrink_steps: u64,
    /// Distinct configurations memoized over all partitions.
    pub configurations: usize,
}
