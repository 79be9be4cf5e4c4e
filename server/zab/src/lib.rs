//! # zk-zab: the ZAB consensus core, sans I/O
//!
//! ZooKeeper Atomic Broadcast as a plain state machine, in the style of raft-rs's `RawNode`: inputs go in
//! as verbs, outputs come out as [`Action`]s, and nothing inside touches a socket, a file, a clock or an
//! entropy source. The caller (zk-server's quorum shell, or the simulator in `tests/sim`) owns the network,
//! the disk and time. Apache ZooKeeper's quorum message kinds map 1:1 onto [`Message`]; the shell owns their
//! wire encoding.
//!
//! ## Layout
//! - [`Zab`] (`node.rs`): the node, its input verbs and accessors.
//! - `election/`: fast leader election — vote order (`vote.rs`), notification handling, rounds, back-off.
//! - `discovery.rs`: phase 1 — new epoch = max acceptedEpoch + 1 from a quorum, ACKEPOCH after persisting.
//! - `sync.rs`: phase 2 — DIFF / TRUNC / SNAP, NEWLEADER after persisting, establishment, UPTODATE.
//! - `broadcast.rs`: phase 3 — PROPOSAL, ACK after persisting, COMMIT in zxid order on a quorum, INFORM.
//! - `tick.rs`: initLimit / syncLimit timeouts, pings, quorum loss.
//! - `leader.rs`, `learner.rs`: per-role state and message dispatch; `quorum.rs`: majorities;
//!   `log.rs`: the core's view of the log ([`History`]); `messages.rs`, `actions.rs`, `state.rs`.
//!
//! ## Tutorial
//!
//! A node is created from its configuration and whatever it finds on disk ([`PersistentState`]; a new node
//! has none), plus a seed for its election jitter:
//!
//! ```
//! use zk_zab::{Action, Config, PeerId, PersistentState, Role, Zab, ZabPhase};
//!
//! let cfg = Config::new(PeerId(1), [PeerId(1)], []); // an ensemble of one voter
//! let mut node = Zab::new(cfg, PersistentState::default(), 42).unwrap();
//! assert_eq!(node.role(), Role::Looking);
//! # let _ = node.drain_actions();
//! ```
//!
//! Time is ticks. The lone voter's own vote is a quorum; after FLE's finalize wait it leads, and proposes a
//! new epoch. The epoch must be durable before anything depends on it, so the node asks for that:
//!
//! ```
//! # use zk_zab::{Action, Config, PeerId, PersistentState, Role, Zab, ZabPhase};
//! # let mut node = Zab::new(Config::new(PeerId(1), [PeerId(1)], []), PersistentState::default(), 42).unwrap();
//! # let _ = node.drain_actions();
//! node.tick();
//! assert_eq!(node.role(), Role::Leading);
//! let actions = node.drain_actions();
//! assert!(actions.contains(&Action::PersistEpoch { accepted: zk_zab::Epoch(1), current: zk_zab::Epoch(0) }));
//! ```
//!
//! The caller executes actions in order and reports durability back. Here is the whole shell loop, with a
//! `Vec` for a disk and no peers to send to:
//!
//! ```
//! # use zk_zab::{Action, Config, PeerId, PersistentState, Role, Zab, ZabPhase, Txn, Zxid};
//! struct Shell { log: Vec<Txn>, applied: Vec<Txn>, epochs: (zk_zab::Epoch, zk_zab::Epoch) }
//!
//! fn run(node: &mut Zab, shell: &mut Shell) {
//!     loop {
//!         let actions = node.drain_actions();
//!         if actions.is_empty() { return; }
//!         for action in actions {
//!             match action {
//!                 Action::PersistEpoch { accepted, current } => {
//!                     shell.epochs = (accepted, current); // write + fsync both files
//!                     node.epoch_persisted(accepted, current);
//!                 }
//!                 Action::AppendTxns(txns) => {
//!                     let last = txns.last().unwrap().zxid;
//!                     shell.log.extend(txns); // append + fsync (group commit is fine)
//!                     node.persisted(last);
//!                 }
//!                 Action::Commit { upto } => {
//!                     let done = shell.applied.len();
//!                     let next: Vec<Txn> = shell.log[done..].iter().filter(|t| t.zxid <= upto).cloned().collect();
//!                     shell.applied.extend(next); // apply to the DataTree, answer clients
//!                 }
//!                 Action::Send { .. } | Action::SendSnapshot { .. } => {} // no peers here
//!                 _ => {}
//!             }
//!         }
//!     }
//! }
//!
//! # let mut node = Zab::new(Config::new(PeerId(1), [PeerId(1)], []), PersistentState::default(), 42).unwrap();
//! let mut shell = Shell { log: vec![], applied: vec![], epochs: Default::default() };
//! node.tick();
//! run(&mut node, &mut shell);
//! assert_eq!(node.phase(), ZabPhase::Broadcast); // established: epoch durable, history durable
//!
//! let zxid = node.propose("create /a".into()).unwrap();
//! assert_eq!(zxid, Zxid::new(zk_zab::Epoch(1), 1));
//! // Nothing is committed before it is durable on a quorum (here: this node's own disk).
//! assert_eq!(node.committed_zxid(), Zxid::ZERO);
//! run(&mut node, &mut shell);
//! assert_eq!(node.committed_zxid(), zxid);
//! assert_eq!(shell.applied.len(), 1);
//! ```
//!
//! With peers, [`Action::Send`] goes to the network and the peer's core gets [`Zab::step`]; see `tests/sim`
//! for a complete shell with a simulated network and disk. A restart is `Zab::new` with the state read back
//! from disk:
//!
//! ```
//! # use zk_zab::{Config, PeerId, PersistentState, Role, Zab, Txn, Zxid, Epoch};
//! let state = PersistentState {
//!     accepted_epoch: Epoch(1),
//!     current_epoch: Epoch(1),
//!     snapshot_zxid: Zxid::ZERO,
//!     log: vec![Txn::new(Zxid::new(Epoch(1), 1), "create /a")],
//!     applied: Zxid::ZERO, // the log tail is committed again once a leader vouches for it
//! };
//! let node = Zab::new(Config::new(PeerId(1), [PeerId(1), PeerId(2), PeerId(3)], []), state, 7).unwrap();
//! assert_eq!(node.last_zxid(), Zxid::new(Epoch(1), 1));
//! assert_eq!(node.current_vote().zxid, node.last_zxid()); // it votes with its last zxid
//! ```
//!
//! ## Guarantees and the caller's duties
//! - Execute actions in order. Log-changing actions (append, truncate, snapshot) must reach disk in that
//!   order; `persisted(z)` says all of them, up to `z`, are durable.
//! - ZAB connections are FIFO (TCP). Sending `FollowerInfo`/`ObserverInfo` opens a new connection; never
//!   deliver a message of an older connection after it. Report a closed connection with
//!   [`Zab::disconnected`]. Election notifications may be lost, duplicated or reordered.
//! - Call [`Zab::tick`] at a fixed period ([`Config`] explains the unit).

#![deny(missing_docs)]

mod actions;
mod broadcast;
mod config;
mod discovery;
mod election;
mod error;
mod ids;
mod leader;
mod learner;
mod log;
mod messages;
mod node;
#[cfg(test)]
mod node_test;
mod quorum;
pub mod rng;
mod state;
mod sync;
mod tick;
mod txn;

pub use actions::{Action, Role, ZabPhase};
#[cfg(feature = "bug-injection")]
pub use config::Bugs;
pub use config::{
    Config, ConfigError, DEFAULT_COMMITTED_LOG_RETAIN, DEFAULT_FINALIZE_WAIT_TICKS,
    DEFAULT_INIT_LIMIT, DEFAULT_MAX_NOTIFICATION_INTERVAL_TICKS, DEFAULT_SYNC_LIMIT,
    DEFAULT_TICKS_PER_TICK_TIME,
};
pub use error::ZabError;
pub use ids::{Epoch, PeerId, Zxid};
pub use log::History;
pub use messages::{Message, Notification, ServerState, Vote};
pub use node::{LearnerCounts, Zab};
pub use quorum::QuorumVerifier;
pub use rng::SplitMix64;
pub use state::PersistentState;
pub use txn::Txn;
