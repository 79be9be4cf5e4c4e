//! The quorum I/O shell: runs the sans-IO ZAB core ([`zk_zab::Zab`]) against real sockets, a real data
//! dir and a real clock, speaking Apache ZooKeeper 3.8's quorum protocol byte for byte, so zk-server
//! peers and Apache peers form one ensemble.
//!
//! ```text
//!   election port ──► election_net ─┐                         ┌─► disk (zk-storage: log, snapshots, epochs)
//!                                   ├─► NetEvent ─► driver ───┤
//!   quorum port   ──► peer_net ─────┘     (Zab core, ticks)   └─► QuorumEvent stream / RoleInfo watch
//!                     ▲   wire: core Message <-> Apache packets          (the server core)
//! ```
//! - [`config`](crate::quorum::config): `server.N=` lines and `myid` → [`QuorumConfig`](crate::quorum::QuorumConfig).
//! - [`wire`](crate::quorum::wire): pure mapping between [`zk_zab::Message`] and `zk_proto::quorum` packets/notifications.
//! - [`election_net`](crate::quorum::election_net): election-port listener and dialers (larger sid wins), latest-vote send slots.
//! - [`peer_net`](crate::quorum::peer_net): quorum-port connections with generations; learner dial-out, leader accept.
//! - [`snapshot`](crate::quorum::snapshot): the SNAP stream <-> zk-storage snapshots. `disk`: the data dir.
//! - [`driver`](crate::quorum::driver): the task owning the core. [`handle`](crate::quorum::handle): its
//!   [`QuorumHandle`](crate::quorum::QuorumHandle), the API for the server core.

pub mod config;
mod disk;
pub mod driver;
pub mod election_net;
mod event;
pub mod handle;
pub mod peer_net;
pub mod snapshot;
pub mod wire;

pub use config::{read_myid, write_myid, PeerAddr, QuorumConfig};
pub use driver::{start, start_with};
pub use event::{Generation, NetEvent};
pub use handle::{
    NoSnapshots, ProposeError, QuorumError, QuorumEvent, QuorumHandle, QuorumSender, RoleInfo,
    SnapshotSource, TouchTable,
};
