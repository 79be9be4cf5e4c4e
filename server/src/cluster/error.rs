//! [`ClusterError`]: why a [`TestCluster`](super::TestCluster) operation failed.

use std::time::Duration;

use crate::error::ServerError;

/// Why a cluster operation failed. Every variant names the server it concerns, so a failing test
/// says which one misbehaved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster's own plumbing failed (a temp dir, a proxy listener, a thread).
    #[error("test cluster: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A server failed to start.
    #[error("server {id} failed to start: {source}")]
    Start {
        /// The server.
        id: u64,
        /// Why.
        source: ServerError,
    },
    /// No server has this id.
    #[error("no server {0} in this cluster")]
    NoSuchServer(u64),
    /// The operation needs a running server, and this one is killed or stopped.
    #[error("server {0} is not running")]
    NotRunning(u64),
    /// The operation needs an unpaused server.
    #[error("server {0} is paused")]
    Paused(u64),
    /// A server's thread ended without saying why (it panicked).
    #[error("server {0}'s thread died")]
    ThreadDied(u64),
    /// A condition did not come true in time.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited, with the last state seen.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// No live server could take a client request (for [`expire_session`](super::TestCluster::expire_session)).
    #[error("no live server accepted the request: {0}")]
    NoServer(String),
}

impl ClusterError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> ClusterError {
        ClusterError::Io {
            what: what.into(),
            source,
        }
    }
}
