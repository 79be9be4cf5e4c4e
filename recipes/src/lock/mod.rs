//! Locks: [`ExclusiveLock`], [`FairLock`] (Curator `InterProcessMutex`), [`ReadWriteLock`]
//! (Curator `InterProcessReadWriteLock`) and the counting [`Semaphore`] (Curator
//! `InterProcessSemaphoreV2`). Each hands out a [`LockGuard`].
//!
//! - `guard`: [`LockGuard`] and the monitor that applies the connection-state policy to it.
//! - `internals`: the sequential-node queue shared by the fair, read/write and semaphore locks.

mod exclusive;
mod fair;
mod guard;
pub(crate) mod internals;
mod rw;
mod semaphore;

pub use exclusive::ExclusiveLock;
pub use fair::{FairLock, LOCK_NAME};
pub use guard::LockGuard;
pub use rw::{ReadWriteLock, READ_LOCK_NAME, WRITE_LOCK_NAME};
pub use semaphore::{Semaphore, LEASE_BASE_NAME, LEASE_PARENT, LOCK_PARENT};
