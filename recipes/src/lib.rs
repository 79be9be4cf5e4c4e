//! # zk-recipes — coordination recipes on zk-client, correct under failure
//!
//! Locks, leader election, configuration, service discovery, barriers, counters, queues and
//! caches, built on [`zk_client::Client`]. Each recipe says what it guarantees, what it does while
//! the connection is suspended and after the session is lost, and which Curator or kazoo recipe
//! it corresponds to. The locks and elections share Curator 5's node layout, so Rust and Java
//! processes can take part in one lock or one election.
//!
//! ## Quick start
//! ```no_run
//! use zk_recipes::lock::FairLock;
//! use zk_recipes::state::Ownership;
//!
//! # async fn f() -> Result<(), zk_recipes::Error> {
//! let client = zk_client::Client::connect("127.0.0.1:2181").await?;
//! let lock = FairLock::new(&client, "/app/locks/report")?;
//! let guard = lock.acquire().await?;
//! assert_eq!(guard.ownership(), Ownership::Owned);
//! // Writes in ZooKeeper that must not happen once the lock is lost:
//! guard.guarded_write()?.set_data("/app/report", b"done", None).commit().await?;
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! ## Connection-state policy (every recipe)
//! A recipe sees zk-client's session states through one policy ([`state`]):
//! - **Connected**: normal operation.
//! - **Suspended** (disconnected, or connected to a read-only server; the session may be alive):
//!   holders are told at once that ownership is **unknown** ([`state::Ownership::Unknown`],
//!   [`election::Leadership::Suspended`]) and must not act as owner until told otherwise. On
//!   reconnection in the same session the recipe **re-verifies that its node still exists** before
//!   reporting ownership again; it never deletes and re-creates its node on reconnect.
//! - **Lost** (session expired): the node is gone and ownership with it
//!   ([`state::Ownership::Lost`], [`election::Leadership::Lost`]). A holder's guard stays lost; a
//!   participant (election) rejoins with a new node once the client has a new session. A lock
//!   acquire still waiting re-queues with a new node (it owned nothing yet).
//!
//! Further rules shared by the node-based recipes:
//! - **Protected creation**: ephemeral(-sequential) nodes are named `_c_<guid>-<name>` with a
//!   per-attempt GUID (Curator's protected mode); after a ConnectionLoss on create the recipe lists
//!   the parent and adopts the node with its GUID instead of creating a second one.
//! - **Container parents**: missing parents are created as container nodes (persistent on servers
//!   without containers), so the server removes them once empty.
//! - **Order by sequence only**, **watch only the node you wait for** (one waiter woken per
//!   release), **re-list on every notification**; a node found missing is reported, never
//!   silently re-created as if nothing happened.
//! - **Cancellation safety**: dropping (or timing out) an acquire future deletes its node in the
//!   background, even one whose create is still in flight; guards release on drop, and have an
//!   async `release` that waits.
//! - **Fencing**: lock guards and leaders carry a [`fence::FencingToken`] (the node's czxid,
//!   strictly increasing across holders) and offer [`fence::GuardedWrite`]s (a multi that first
//!   checks the holder's node).
//!
//! ## Recipes
//! - [`lock::ExclusiveLock`] — one ephemeral node at the lock path; whoever creates it holds the
//!   lock. Mutual exclusion among live sessions; not fair (a release wakes all waiters). Suspended:
//!   guard reports `Unknown`; Lost: guard reports `Lost`. (kazoo's simple lock pattern.)
//! - [`lock::FairLock`] — FIFO lock on ephemeral-sequential nodes (`_c_<guid>-lock-<seq>`), with
//!   timeouts, fencing tokens and guarded writes. At most one holder among live sessions; waiters
//!   acquire in request order. Same state handling. (Curator `InterProcessMutex`, kazoo `Lock`;
//!   node-compatible with Curator.)
//! - [`lock::ReadWriteLock`] — readers share, writers exclude, in arrival order (writers are not
//!   starved). (Curator `InterProcessReadWriteLock` layout, kazoo `ReadLock`/`WriteLock`.)
//! - [`lock::Semaphore`] — at most N leases at once; acquirers serialise on a fair lock so only
//!   one watches the lease count. Leases are guards with the same state handling. (Curator
//!   `InterProcessSemaphoreV2` layout, kazoo `Semaphore`.)
//! - [`election::LeaderLatch`] — stay in the election until closed; the lowest node leads.
//!   Leadership is a stream (joining / leader / follower of X / suspended / lost / closed);
//!   Suspended: `Suspended` at once; Lost: `Lost`, then it rejoins with a new node. (Curator
//!   `LeaderLatch`, kazoo `Election`; node-compatible with Curator.)
//! - [`election::LeaderSelector`] — take leadership, run a task, give it up; the task is cancelled
//!   when leadership is lost (optionally already when suspended), then the participant queues
//!   again. (Curator `LeaderSelector`; node-compatible with Curator.)
//! - [`config::Config`] — typed values (JSON by default, any [`config::Codec`]) under one path,
//!   published with compare-and-set on the node version; a [`config::Subscription`] yields the
//!   current value and every later change. It re-reads after every reconnect and every new session,
//!   so the final value is never lost (intermediate ones may be coalesced). Suspended: the stream
//!   keeps the last value and resumes; Lost: it re-reads under the new session. (Curator
//!   `NodeCache`/`SharedValue`, kazoo `DataWatch`.)
//! - [`registry::ServiceRegistry`] — instances register an ephemeral node carrying Curator's
//!   `ServiceInstance` JSON under `base/<name>/<id>` and re-register after expiry; consumers keep a
//!   live [`registry::ServiceCache`] and pick through a [`registry::ServiceProvider`] with a
//!   round-robin, random, weighted or sticky strategy, marking instances down after errors. A
//!   crashed instance leaves every cache once the server expires its session. (curator-x-discovery;
//!   interoperable with it.)
//! - [`barrier::Barrier`] and [`barrier::DoubleBarrier`] — block until a node is removed; enter
//!   and leave together once N members are present. (Curator `DistributedBarrier`,
//!   `DistributedDoubleBarrier`, kazoo `Barrier`/`DoubleBarrier`.)
//! - [`counter::SharedCount`] — a 32-bit counter in Curator's 4-byte big-endian layout, changed
//!   only by compare-and-set; a lost reply is resolved by reading back, never by adding twice.
//!   (Curator `SharedCount`, kazoo `Counter`.)
//! - [`queue::Queue`] — a FIFO of persistent-sequential items; a take claims its item atomically
//!   (one multi deleting the item and creating a claim marker), so no item is delivered twice.
//!   (Curator `DistributedQueue`, kazoo `Queue`.)
//! - [`cache::TreeCache`] — an always-current local copy of a subtree, on one persistent-recursive
//!   watch (per-node watches on servers older than 3.6); after a reconnect or a new session it
//!   re-reads the subtree and emits only the differences. (Curator `CuratorCache`, kazoo
//!   `TreeCache`.)
//!
//! ## Layout
//! - [`lock`]: `exclusive`, `fair`, `rw`, `semaphore`, `guard` ([`lock::LockGuard`] and its
//!   ownership monitor), `internals` (the sequential-node queue).
//! - [`election`]: `latch`, `selector`, [`election::Leadership`].
//! - [`fence`]: fencing tokens and guarded writes. [`state`]: the connection-state policy and
//!   the state streams. `protected`: protected creation, sequence ordering, container parents,
//!   cleanup of abandoned nodes. [`Error`].
//! - [`config`], [`registry`] (`instance`, `registration`, `cache`, `balancer`), [`barrier`],
//!   [`counter`], [`queue`], [`cache`] (`worker` keeps the copy current).
#![deny(missing_docs)]

pub mod barrier;
pub mod cache;
pub mod config;
pub mod counter;
pub mod election;
mod error;
pub mod fence;
pub mod lock;
mod protected;
pub mod queue;
pub mod registry;
pub mod state;
mod task;

pub use error::Error;
