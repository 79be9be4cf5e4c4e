//! Linearizability checking for ZooKeeper histories (invariant C1), and session-order checking for plain
//! reads (C2, C3).
//!
//! Simulations of the ZAB ensemble and nemesis tests on a `TestCluster` record what their clients did — a
//! [`History`] of operations, each with a client, an invocation time, a completion time (or none: an
//! indeterminate operation whose reply was lost) and the observed output — and ask [`check`] whether some
//! total order of the operations, consistent with real time, explains every observed output under a
//! sequential [`Model`]. [`ZkModel`] is a versioned ZooKeeper tree: create, delete, setData (CAS with a
//! version), check, getData/exists after a sync, multi.
//!
//! ```
//! use zk_lincheck::{check, CheckOptions, CheckResult, ClientId, History, ZkModel, ZkOp, ZkOutput};
//!
//! let model = ZkModel::new().with_node("/k", "0");
//! let (a, b) = (ClientId(0x100), ClientId(0x200));
//! let mut history = History::new();
//!
//! // a and b race to CAS /k from version 0: one must lose.
//! let cas_a = history.invoke(a, 10, ZkOp::set_data("/k", "a", Some(0)));
//! let cas_b = history.invoke(b, 11, ZkOp::set_data("/k", "b", Some(0)));
//! history.complete(cas_b, 20, ZkOutput::Set { version: 1 })?;
//! history.complete(cas_a, 21, ZkOutput::Error(zk_lincheck::ZkError::BadVersion))?;
//! // b's write is lost in flight (no reply): it may or may not have been applied.
//! let _lost = history.invoke(b, 30, ZkOp::set_data("/k", "c", None));
//! // a syncs and reads: "c" (the lost write took effect) and "b" are both fine.
//! let read = history.invoke(a, 40, ZkOp::get_data("/k"));
//! history.complete(read, 41, ZkOutput::data("c", 2))?;
//! assert_eq!(check(&model, &history, &CheckOptions::default()), CheckResult::Ok);
//!
//! // A read of "a", the value of the CAS that failed, cannot be explained.
//! let stale = history.invoke(b, 50, ZkOp::get_data("/k"));
//! history.complete(stale, 51, ZkOutput::data("a", 1))?;
//! let result = check(&model, &history, &CheckOptions::default());
//! let violation = result.violation().expect("illegal");
//! assert_eq!(violation.culprit, stale);
//! println!("{}", result.explain(&history)); // the ops of the shortest illegal prefix, with times
//! # Ok::<(), zk_lincheck::HistoryError>(())
//! ```
//!
//! # The algorithm
//! Wing & Gong's search (1993) with Lowe's improvements (2017), as Porcupine implements it: the history is
//! a linked list of call and return entries sorted by time; the search tries to linearize, one by one, the
//! operations whose call precedes the first pending return (*just-in-time linearization*), backtracks at a
//! return whose operation it could not place, and *memoizes* every (set of linearized operations, model
//! state) configuration it has visited, pruning a branch that reaches one again. Details in `search.rs`
//! and `memo.rs`.
//!
//! **Cost.** Deciding linearizability is NP-complete in general (Gibbons & Korach, 1997), and the search is
//! exponential in the worst case. With memoization it visits each configuration at most once, so it is
//! bounded by the number of distinct configurations: if at most `c` operations are ever open at once and
//! the model has `|S|` reachable states, at most about `n · 2^c · |S|` sets of linearized operations can
//! occur, each tried with up to `c` candidates, each costing a model step plus hashing an `n`-bit set
//! (`n / 64` words). In practice, a linearization of a few clients' history is found in near-linear time:
//! a 5-client, 1,000-operation history on one key takes a few thousand steps (see `tests/performance.rs`).
//! Memory is one memo entry (bitset + state) per configuration.
//!
//! **What makes it expensive.** An indeterminate write stays open from its invocation to the end of the
//! history, so it raises `c` for everything after it, and a search that must *exhaust* the configurations
//! (to prove a history illegal) considers every subset of the open indeterminate writes that may have
//! taken effect. Two sound reductions keep this in check: indeterminate reads are dropped (they constrain
//! nothing), and indeterminate operations with equal inputs are linearized only in invocation order
//! (they are interchangeable, so subsets collapse into counts), with [`ZkModel`] first replacing written
//! data that no reply shows by a placeholder
//! ([`Model::canonicalize_indeterminate`]), so lost writes of never-read values count as equal.
//! Linearizable histories are found quickly regardless (5 × 200 operations on one key with 75
//! indeterminate: about 5,000 steps). Proving illegality is still the expensive case: on one key with
//! 1,000 operations it takes about 20,000 steps with no indeterminate operation and about 250,000 with 6,
//! but from roughly 15 indeterminate operations open on one key it can exceed millions of steps and end
//! [`Unknown`](CheckResult::Unknown) (a failure all the same, without the explanation). Nemesis tests
//! should therefore keep per-key histories short and move to fresh znodes regularly (Jepsen's
//! "independent keys"), e.g. a new key every few hundred operations or after every fault. Writes of
//! *equal* values that are read also slow the search (it cannot tell the orders apart): write unique values.
//!
//! **Budget.** [`CheckOptions::max_steps`] bounds the work (deterministic; use it in simulations) and
//! [`CheckOptions::timeout`] the wall-clock time. Running out gives [`CheckResult::Unknown`], which callers
//! must treat as a failure.
//!
//! # Partitioning (P-compositionality)
//! Linearizability is local: a history is linearizable iff each object's sub-history is. [`check`] splits
//! the history by znode path and checks each part on its own, which keeps each search small. A multi
//! touches several paths, so paths joined by multis are merged into one partition (connected components);
//! every operation lies in exactly one, they share no state, and locality applies to them. This is sound
//! because [`ZkModel`] links no two paths: parents are assumed to exist and checked znodes to have no
//! children (see [`zk_model`] for what is not modelled). See [`partition`](mod@partition).
//!
//! # Session order
//! With [`CheckOptions::session_order`] (the default) a client's completed operations must also take effect
//! in the order it invoked them, which matters for pipelined requests (C2). Plain reads, which ZooKeeper
//! does not make linearizable, are checked separately by [`SessionOrderChecker`]: FIFO replies and zxids
//! that never go back (C2, C3).
//!
//! # Layout
//! - [`history`](mod@history): [`History`], [`Operation`], [`Outcome`] (completed or indeterminate),
//!   [`ClientId`], [`OpId`], [`Time`].
//! - [`model`](mod@model): the [`Model`] trait (init, step, keys).
//! - [`zk_model`]: [`ZkModel`], [`ZkOp`], [`ZkOutput`], [`ZkError`], [`ZkState`].
//! - [`partition`](mod@partition): [`partition()`] into connected components of keys.
//! - [`checker`]: [`check`], [`check_with_stats`], [`CheckOptions`], and shrinking a violation to the
//!   shortest illegal prefix.
//! - `search` and `memo`: the Wing–Gong/Lowe search and its memo of configurations (private).
//! - [`result`]: [`CheckResult`], [`Violation`] (with [`Violation::explain`]), [`CheckStats`].
//! - [`session_order`]: [`SessionOrderChecker`], [`Observation`], [`SessionViolation`].
//! - [`error`]: [`HistoryError`], the one error type (a history recorded inconsistently).
//!
//! # Limits
//! - One thread: partitions are checked one after another.
//! - Sequential creates, ephemerals, children, ACLs and stat fields other than the data version are not
//!   modelled (see [`zk_model`]).
//! - Session order is checked within a partition only; FIFO across paths is not compositional.
//! - Proving a history illegal can exhaust the budget when many indeterminate writes are open on one key
//!   (see above); such a check ends `Unknown`.
#![deny(missing_docs)]

pub mod checker;
pub mod error;
pub mod history;
mod memo;
pub mod model;
pub mod partition;
pub mod result;
mod search;
pub mod session_order;
pub mod zk_model;

pub use checker::{check, check_with_stats, CheckOptions, DEFAULT_MAX_STEPS};
pub use error::HistoryError;
pub use history::{ClientId, History, OpId, Operation, Outcome, Time};
pub use model::Model;
pub use partition::{partition, Partition};
pub use result::{CheckResult, CheckStats, Undecided, UnknownCause, Violation};
pub use session_order::{check_session_order, Observation, SessionOrderChecker, SessionViolation};
pub use zk_model::{ZkError, ZkModel, ZkOp, ZkOutput, ZkState};
