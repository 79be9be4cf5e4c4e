//! The one error type of the testkit.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while locating, starting or talking to Apache ZooKeeper.
///
/// [`Error::is_unavailable`] separates "the dependencies are not installed" (a test may skip) from every
/// other failure (a test must fail); see [`crate::apache_or_skip`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `java` executable was found (`$JAVA_HOME/bin/java`, then `$PATH`).
    #[error("java not found: {0}")]
    JavaNotFound(String),

    /// A jar the Apache ZooKeeper server needs is missing (the Debian package `zookeeper` is not installed).
    #[error("Apache ZooKeeper jar not found: {} (install the Debian package `zookeeper`)", .0.display())]
    JarNotFound(PathBuf),

    /// An I/O operation failed; `context` says which one.
    #[error("{context}: {source}")]
    Io {
        /// What the testkit was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A condition polled by [`crate::wait_for`] did not become true in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// The awaited condition.
        what: String,
        /// How long the testkit waited.
        timeout: Duration,
    },

    /// A server process exited while the testkit was waiting for it to serve.
    #[error("{name} exited with {status} before serving\n--- log tail ---\n{log_tail}")]
    Exited {
        /// Which server (e.g. `apache standalone`, `apache server.2`).
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its log files.
        log_tail: String,
    },

    /// A server process is running but did not start serving in time.
    #[error("{name} did not start serving: {reason}\n--- log tail ---\n{log_tail}")]
    NotServing {
        /// Which server.
        name: String,
        /// Why the testkit gave up (usually a timeout).
        reason: String,
        /// The last lines of its log files.
        log_tail: String,
    },

    /// The requested configuration cannot be started.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// True when the error means "Java or the Apache ZooKeeper jars are not installed", the only errors
    /// a test may turn into a skip.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::JavaNotFound(_) | Error::JarNotFound(_))
    }

    /// Wraps an [`io::Error`] with what the testkit was doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
