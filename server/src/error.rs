//! Errors at the server's boundaries.

use crate::config::ConfigError;
use crate::persist::StorageError;

/// Why a server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage failed (recovery, log or snapshot).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The ensemble peer could not start or stopped.
    #[error(transparent)]
    Quorum(#[from] crate::quorum::QuorumError),
    /// Binding or another socket operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
