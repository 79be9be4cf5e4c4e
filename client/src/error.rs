//! [`Error`]: every ZooKeeper result code plus the client's own conditions, and [`retry`] for
//! idempotent operations.

use std::future::Future;
use std::time::Duration;

use zk_proto::{DecodeError, ErrorCode, PathError};

/// Why an operation failed.
///
/// One variant per `KeeperException.Code` the server can return, plus conditions the client itself
/// detects (connection loss, session expiry noticed locally, timeouts, bad input, closed client).
/// `Clone + PartialEq + Eq`, so one failure can be handed to every waiting request and compared in tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system or server-side error (`SYSTEMERROR`).
    #[error("system error")]
    SystemError,
    /// A runtime inconsistency; in a failed multi, the result of the ops after the failing one.
    #[error("runtime inconsistency")]
    RuntimeInconsistency,
    /// A data inconsistency.
    #[error("data inconsistency")]
    DataInconsistency,
    /// The connection was lost while the request was in flight. The request may or may not have
    /// been applied; it is never re-sent by the client.
    #[error("connection lost")]
    ConnectionLoss,
    /// The server could not marshal or unmarshal the request.
    #[error("marshalling error")]
    MarshallingError,
    /// The server does not implement the operation (e.g. a 3.5 server asked for a 3.6 opcode).
    #[error("operation not implemented by the server")]
    Unimplemented,
    /// The server timed out the operation.
    #[error("operation timed out on the server")]
    OperationTimeout,
    /// Invalid arguments: rejected by the client before sending (with the reason), or by the server.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The path is not a valid ZooKeeper path (checked by the client before sending).
    #[error("invalid path: {0}")]
    InvalidPath(PathError),
    /// No quorum of the new config is connected and up to date with the leader.
    #[error("new config has no quorum")]
    NewConfigNoQuorum,
    /// Another reconfiguration is in progress.
    #[error("reconfiguration in progress")]
    ReconfigInProgress,
    /// The session does not exist on the server.
    #[error("unknown session")]
    UnknownSession,
    /// A generic API error.
    #[error("api error")]
    ApiError,
    /// The node does not exist.
    #[error("node does not exist")]
    NoNode,
    /// The session is not authorized for the operation by the node's ACL.
    #[error("not authorized")]
    NoAuth,
    /// The expected version did not match the node's.
    #[error("version conflict")]
    BadVersion,
    /// Ephemeral nodes may not have children.
    #[error("ephemeral nodes may not have children")]
    NoChildrenForEphemerals,
    /// The node already exists.
    #[error("node already exists")]
    NodeExists,
    /// The node has children.
    #[error("node has children")]
    NotEmpty,
    /// The session expired (told by the server, or declared by the client after being
    /// disconnected for longer than the session timeout).
    #[error("session expired")]
    SessionExpired,
    /// Invalid callback.
    #[error("invalid callback")]
    InvalidCallback,
    /// The ACL is invalid (empty, malformed id, or `auth` scheme without any authentication).
    #[error("invalid ACL")]
    InvalidAcl,
    /// Authentication failed; the client is closed.
    #[error("authentication failed")]
    AuthFailed,
    /// The session moved to another server.
    #[error("session moved")]
    SessionMoved,
    /// A write was sent to a read-only server.
    #[error("server is read-only")]
    NotReadOnly,
    /// An ephemeral node cannot be created by a local session.
    #[error("ephemeral on local session")]
    EphemeralOnLocalSession,
    /// No such watch to remove.
    #[error("no such watcher")]
    NoWatcher,
    /// The request took too long to be processed by the server.
    #[error("request timed out")]
    RequestTimeout,
    /// Reconfiguration is disabled.
    #[error("reconfiguration disabled")]
    ReconfigDisabled,
    /// The session was closed and needs SASL authentication.
    #[error("session closed; SASL authentication required")]
    SessionClosedRequireSaslAuth,
    /// A quota was exceeded.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The server throttled the operation without executing it.
    #[error("operation throttled")]
    ThrottledOp,
    /// A result code this client does not know.
    #[error("unknown error code {0}")]
    UnknownCode(i32),
    /// An op of a multi (transaction) failed; nothing was applied.
    #[error("transaction op {index} failed: {error}")]
    MultiFailed {
        /// Index of the first failing op.
        index: usize,
        /// Its error.
        error: Box<Error>,
    },
    /// A request made while disconnected found no connection within the connect timeout. It was
    /// never sent, so (unlike [`Error::ConnectionLoss`]) it was certainly not applied.
    #[error("timed out")]
    Timeout,
    /// No host of the connect string could be reached within the connect timeout.
    #[error("no host reachable: {0}")]
    NoHostReachable(String),
    /// The server sent a reply the client could not decode; the connection is dropped.
    #[error("malformed reply: {0}")]
    MalformedReply(DecodeError),
    /// The client was closed (explicitly, or because every handle was dropped).
    #[error("client closed")]
    Closed,
}

impl Error {
    /// Maps a non-zero wire result code to an error.
    pub fn from_code(code: i32) -> Error {
        match ErrorCode::from_code(code) {
            Some(code) => Error::from(code),
            None => Error::UnknownCode(code),
        }
    }

    /// Whether trying the same operation again may succeed: connection loss, server or client
    /// timeouts, throttling and session moves.
    ///
    /// A retryable failure of a *write* does not say whether the write was applied; retry writes
    /// only when they are idempotent (e.g. a versioned `set_data`, or a `create` whose
    /// `NodeExists` you treat as success).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::OperationTimeout
                | Error::RequestTimeout
                | Error::Timeout
                | Error::ThrottledOp
                | Error::SessionMoved
        )
    }

    /// The wire code of a server error, if this is one.
    pub fn code(&self) -> Option<i32> {
        if let Error::BadArguments(_) = self {
            return Some(ErrorCode::BadArguments.code());
        }
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| *c != ErrorCode::Ok && Error::from(*c) == *self)
            .map(ErrorCode::code)
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        match code {
            ErrorCode::Ok => Error::UnknownCode(0),
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments(SERVER_BAD_ARGUMENTS.to_owned()),
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::ThrottledOp => Error::ThrottledOp,
        }
    }
}

impl From<PathError> for Error {
    fn from(e: PathError) -> Error {
        Error::InvalidPath(e)
    }
}

/// The text of [`Error::BadArguments`] when the server, not the client, rejected the arguments.
pub const SERVER_BAD_ARGUMENTS: &str = "rejected by the server";

/// How [`retry`] retries: at most `max_attempts` tries, sleeping `initial_backoff` after the first
/// failure and doubling up to `max_backoff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, including the first (at least 1).
    pub max_attempts: u32,
    /// Sleep after the first failure.
    pub initial_backoff: Duration,
    /// Cap on the sleep.
    pub max_backoff: Duration,
}

/// [`RetryPolicy::default`]'s tries: like Curator's `ExponentialBackoffRetry(…, 3)` plus the first try.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 4;
/// [`RetryPolicy::default`]'s first sleep.
pub const DEFAULT_RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// [`RetryPolicy::default`]'s cap on the sleep.
pub const DEFAULT_RETRY_MAX_BACKOFF: Duration = Duration::from_secs(1);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_RETRY_ATTEMPTS,
            initial_backoff: DEFAULT_RETRY_INITIAL_BACKOFF,
            max_backoff: DEFAULT_RETRY_MAX_BACKOFF,
        }
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error ([`Error::is_retryable`]), or
/// `policy.max_attempts` tries are used up; returns the last result.
///
/// Only for idempotent operations (reads, versioned writes, creates that tolerate `NodeExists`):
/// a retried write that failed with `ConnectionLoss` may already have been applied.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_client::Error> {
/// use zk_client::{retry, RetryPolicy};
/// let (data, _stat) = retry(&RetryPolicy::default(), || client.get_data("/config")).await?;
/// # Ok(()) }
/// ```
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut backoff = policy.initial_backoff;
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < policy.max_attempts.max(1) => {
                tracing::debug!(error = %e, attempt, "retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(policy.max_backoff);
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_code_maps_and_back() {
        for code in ErrorCode::ALL {
            if code == ErrorCode::Ok {
                continue;
            }
            let e = Error::from_code(code.code());
            assert_eq!(e.code(), Some(code.code()), "{code:?}");
        }
        assert_eq!(Error::from_code(-9999), Error::UnknownCode(-9999));
        assert!(Error::ConnectionLoss.is_retryable());
        assert!(!Error::NoNode.is_retryable());
        assert!(!Error::SessionExpired.is_retryable());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_on_success_and_on_fatal_errors() {
        let mut calls = 0;
        let r: Result<u32, Error> = retry(&RetryPolicy::default(), || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(Error::ConnectionLoss)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(3));

        let mut calls = 0;
        let r: Result<(), Error> = retry(&RetryPolicy::default(), || {
            calls += 1;
            async { Err(Error::NoNode) }
        })
        .await;
        assert_eq!((r, calls), (Err(Error::NoNode), 1));

        let mut calls = 0;
        let r: Result<(), Error> = retry(&RetryPolicy::default(), || {
            calls += 1;
            async { Err(Error::ConnectionLoss) }
        })
        .await;
        assert_eq!((r, calls), (Err(Error::ConnectionLoss), 4));
    }
}
