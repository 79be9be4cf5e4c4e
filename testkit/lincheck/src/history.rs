//! Histories: what clients asked for, when, and what they saw.
//!
//! A [`History`] is a list of [`Operation`]s. Each one has the [`ClientId`] that issued it, the [`Time`] it was
//! invoked, its input, and an [`Outcome`]: either it completed at some time with an observed output, or it is
//! [`Outcome::Indeterminate`] — its reply never arrived (connection loss, a crash, the test ending), so it may
//! or may not have taken effect, at any time after its invocation. This is the convention of Knossos and
//! Porcupine, where a lost reply is a return "at infinity" whose output the model accepts whatever it is.
//!
//! Simulations record as they go: [`History::invoke`] when a request is sent, [`History::complete`] when its
//! reply arrives. An operation never completed is indeterminate when the history is checked.

use std::fmt;

use crate::error::HistoryError;

/// A point in time: any clock that is monotonic across all clients of one history (simulated ticks,
/// nanoseconds since the test began, a global event counter). Only the order of times matters.
///
/// Equal times count as concurrent: an operation invoked at the very time another completes may be ordered
/// either way (Porcupine sorts calls before returns at equal times for the same reason).
pub type Time = u64;

/// The client that issued an operation: the ZooKeeper session id, or any per-client label.
///
/// Shown as hex (`0x…`), the way ZooKeeper prints session ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// The index of an operation in its [`History`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub usize);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<O> {
    /// The reply arrived at `at` and said `output`.
    Completed {
        /// When the client received the reply.
        at: Time,
        /// What the reply said.
        output: O,
    },
    /// No reply: the operation may have taken effect at any time after its invocation, or never.
    Indeterminate,
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Who issued it.
    pub client: ClientId,
    /// When the request was sent.
    pub invoked_at: Time,
    /// What was asked.
    pub input: I,
    /// How it ended.
    pub outcome: Outcome<O>,
}

impl<I, O> Operation<I, O> {
    /// A completed operation.
    pub fn completed(
        client: ClientId,
        invoked_at: Time,
        input: I,
        completed_at: Time,
        output: O,
    ) -> Self {
        Operation {
            client,
            invoked_at,
            input,
            outcome: Outcome::Completed {
                at: completed_at,
                output,
            },
        }
    }

    /// An operation whose reply never arrived.
    pub fn indeterminate(client: ClientId, invoked_at: Time, input: I) -> Self {
        Operation {
            client,
            invoked_at,
            input,
            outcome: Outcome::Indeterminate,
        }
    }

    /// When the reply arrived, if it did.
    pub fn completed_at(&self) -> Option<Time> {
        match self.outcome {
            Outcome::Completed { at, .. } => Some(at),
            Outcome::Indeterminate => None,
        }
    }

    /// The observed output, if the reply arrived.
    pub fn output(&self) -> Option<&O> {
        match &self.outcome {
            Outcome::Completed { output, .. } => Some(output),
            Outcome::Indeterminate => None,
        }
    }

    fn validate(&self, id: OpId) -> Result<(), HistoryError> {
        match self.completed_at() {
            Some(completed_at) if completed_at < self.invoked_at => {
                Err(HistoryError::CompletedBeforeInvoked {
                    op: id,
                    invoked_at: self.invoked_at,
                    completed_at,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A concurrent history: the operations of all clients against one system.
///
/// ```
/// use zk_lincheck::{ClientId, History};
///
/// let mut history: History<&str, u32> = History::new();
/// let a = history.invoke(ClientId(1), 10, "read");
/// let _lost = history.invoke(ClientId(2), 11, "write"); // never completed: indeterminate
/// history.complete(a, 20, 7).unwrap();
/// assert_eq!(history.len(), 2);
/// assert_eq!(history[a].completed_at(), Some(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<I, O> {
    ops: Vec<Operation<I, O>>,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

impl<I, O> History<I, O> {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `client` sent `input` at `at`. The operation stays indeterminate until
    /// [`complete`](Self::complete)d.
    pub fn invoke(&mut self, client: ClientId, at: Time, input: I) -> OpId {
        self.ops.push(Operation::indeterminate(client, at, input));
        OpId(self.ops.len() - 1)
    }

    /// Records that the reply to `op` arrived at `at` and said `output`.
    pub fn complete(&mut self, op: OpId, at: Time, output: O) -> Result<(), HistoryError> {
        let operation = self.ops.get_mut(op.0).ok_or(HistoryError::UnknownOp(op))?;
        if let Outcome::Completed { .. } = operation.outcome {
            return Err(HistoryError::AlreadyCompleted(op));
        }
        if at < operation.invoked_at {
            return Err(HistoryError::CompletedBeforeInvoked {
                op,
                invoked_at: operation.invoked_at,
                completed_at: at,
            });
        }
        operation.outcome = Outcome::Completed { at, output };
        Ok(())
    }

    /// Appends a whole operation (completed or not).
    pub fn push(&mut self, operation: Operation<I, O>) -> Result<OpId, HistoryError> {
        let id = OpId(self.ops.len());
        operation.validate(id)?;
        self.ops.push(operation);
        Ok(id)
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operation `op`, if it exists.
    pub fn get(&self, op: OpId) -> Option<&Operation<I, O>> {
        self.ops.get(op.0)
    }

    /// All operations, in the order they were recorded.
    pub fn operations(&self) -> &[Operation<I, O>] {
        &self.ops
    }

    /// Mutable access to the operations (tests use it to corrupt a history).
    pub fn operations_mut(&mut self) -> &mut [Operation<I, O>] {
        &mut self.ops
    }

    /// The operations with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (OpId, &Operation<I, O>)> {
        self.ops.iter().enumerate().map(|(i, op)| (OpId(i), op))
    }
}

impl<I, O> std::ops::Index<OpId> for History<I, O> {
    type Output = Operation<I, O>;

    fn index(&self, op: OpId) -> &Operation<I, O> {
        &self.ops[op.0]
    }
}

impl<I, O> TryFrom<Vec<Operation<I, O>>> for History<I, O> {
    type Error = HistoryError;

    fn try_from(ops: Vec<Operation<I, O>>) -> Result<Self, HistoryError> {
        for (i, op) in ops.iter().enumerate() {
            op.validate(OpId(i))?;
        }
        Ok(History { ops })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_then_complete() {
        let mut h: History<u8, u8> = History::new();
        let op = h.invoke(ClientId(7), 5, 1);
        assert_eq!(h[op].outcome, Outcome::Indeterminate);
        h.complete(op, 5, 2).unwrap();
        assert_eq!(h[op].output(), Some(&2));
        assert_eq!(
            h.complete(op, 6, 3),
            Err(HistoryError::AlreadyCompleted(op))
        );
    }

    #[test]
    fn rejects_bad_records() {
        let mut h: History<u8, u8> = History::new();
        let op = h.invoke(ClientId(1), 10, 1);
        assert_eq!(
            h.complete(op, 9, 0),
            Err(HistoryError::CompletedBeforeInvoked {
                op,
                invoked_at: 10,
                completed_at: 9
            })
        );
        assert_eq!(
            h.complete(OpId(3), 11, 0),
            Err(HistoryError::UnknownOp(OpId(3)))
        );
        let bad = Operation::completed(ClientId(1), 4, 0, 3, 0);
        assert!(h.push(bad.clone()).is_err());
        assert!(History::try_from(vec![bad]).is_err());
    }

    #[test]
    fn ids_print_like_zookeeper() {
        assert_eq!(ClientId(0x1000abc).to_string(), "0x1000abc");
        assert_eq!(OpId(4).to_string(), "#4");
    }
}
