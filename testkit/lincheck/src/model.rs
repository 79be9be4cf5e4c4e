//! The sequential specification a history is checked against.

use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: the states of an object and how each operation moves between them.
///
/// The checker searches for an order of the history's operations that respects real time (and, if asked,
/// each client's issue order) and that this model accepts step by step.
///
/// # Determinism
/// [`step`](Model::step) returns at most one next state: given a state and an input, the model decides the
/// output. This holds for ZooKeeper's operations on known paths (sequential creates, whose name the server
/// picks, are out of scope). A nondeterministic object can be modelled by putting the choice in the output.
///
/// # Partitioning
/// [`keys`](Model::keys) names the independent parts of the state an operation touches (for ZooKeeper: the
/// znode paths). Operations are grouped into connected components of shared keys, and each component is
/// checked on its own from [`init`](Model::init) of its keys (P-compositionality; see the crate docs for
/// why this is sound). A model of one indivisible object returns the same single key for every input.
pub trait Model {
    /// What an operation asks for. `Eq + Hash` so that indeterminate operations with equal inputs can be
    /// recognised as interchangeable (see [`canonicalize_indeterminate`](Model::canonicalize_indeterminate)).
    type Input: Debug + Eq + Hash;
    /// What a reply says.
    type Output: Debug;
    /// The object's state. `Eq + Hash` because the checker memoizes visited (linearized set, state) pairs.
    type State: Clone + Eq + Hash + Debug;
    /// A part of the state that operations on other keys never read or write.
    type Key: Clone + Ord + Debug;

    /// The keys `input` reads or writes. An input without keys is checked in one partition with every other
    /// input without keys.
    fn keys(&self, input: &Self::Input) -> Vec<Self::Key>;

    /// The state before the history starts, restricted to `keys` (the keys of one partition).
    fn init(&self, keys: &[Self::Key]) -> Self::State;

    /// Applies `input` to `state`.
    ///
    /// With `Some(output)`, returns the next state if `output` is what the specification replies in
    /// `state`, and `None` if the reply is impossible there. With `None` (an indeterminate operation, whose
    /// reply was lost), returns the next state whatever the reply would have been.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Whether `input` never changes the state. The checker drops indeterminate read-only operations:
    /// a read whose reply was lost constrains nothing.
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }

    /// Optionally rewrites the inputs of a partition's indeterminate operations into canonical forms that
    /// no reply in the partition can tell apart from the originals; `None` (the default) keeps them.
    ///
    /// `indeterminate` are the inputs of the partition's indeterminate operations and `completed` the
    /// outputs of its completed ones. The returned vector, if any, has one input per indeterminate one.
    ///
    /// Why: an indeterminate operation stays open until the end of the history, so with many of them
    /// the search must consider every subset that may have taken effect, and proving a history illegal
    /// gets exponential. The checker linearizes indeterminate operations with *equal* inputs (and the same
    /// session constraint) only in invocation order, which is sound because they are interchangeable, and
    /// collapses those subsets into counts. Canonical inputs make more of them equal: [`ZkModel`] replaces
    /// written data that no reply ever shows by one placeholder, so lost writes of distinct, never-read
    /// values become interchangeable.
    ///
    /// The rewrite must not change which histories are linearizable: for every state reachable with the
    /// original inputs there must be one reachable with the canonical ones that every completed operation
    /// in the partition treats the same, and conversely.
    ///
    /// [`ZkModel`]: crate::ZkModel
    fn canonicalize_indeterminate(
        &self,
        _indeterminate: &[&Self::Input],
        _completed: &[&Self::Output],
    ) -> Option<Vec<Self::Input>> {
        None
    }
}
