//! Result codes (`KeeperException.Code`).

/// The `err` field of a [`ReplyHeader`](crate::ReplyHeader), as `KeeperException.Code` defines it.
///
/// The wire carries a plain `int`; [`ErrorCode::from_code`] maps it to this enum and returns
/// `None` for codes this crate does not know (callers keep the raw value then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// Everything is OK.
    Ok = 0,
    /// A system or server-side error (never thrown by the server itself; a range marker).
    SystemError = -1,
    /// A runtime inconsistency; in a failed multi, the ops after the failing one.
    RuntimeInconsistency = -2,
    /// A data inconsistency.
    DataInconsistency = -3,
    /// Connection to the server was lost.
    ConnectionLoss = -4,
    /// Error while marshalling or unmarshalling data.
    MarshallingError = -5,
    /// The operation is not implemented.
    Unimplemented = -6,
    /// The operation timed out.
    OperationTimeout = -7,
    /// Invalid arguments.
    BadArguments = -8,
    /// No quorum of the new config is connected and up to date with the leader.
    NewConfigNoQuorum = -13,
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14,
    /// The session does not exist on the server.
    UnknownSession = -12,
    /// An API error (a range marker).
    ApiError = -100,
    /// The node does not exist.
    NoNode = -101,
    /// Not authenticated.
    NoAuth = -102,
    /// Version conflict.
    BadVersion = -103,
    /// Ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108,
    /// The node already exists.
    NodeExists = -110,
    /// The node has children.
    NotEmpty = -111,
    /// The session has been expired by the server.
    SessionExpired = -112,
    /// Invalid callback specified.
    InvalidCallback = -113,
    /// Invalid ACL specified.
    InvalidAcl = -114,
    /// Client authentication failed.
    AuthFailed = -115,
    /// The session moved to another server, so the operation is ignored.
    SessionMoved = -118,
    /// State-changing request was passed to a read-only server.
    NotReadOnly = -119,
    /// Attempt to create an ephemeral node on a local session.
    EphemeralOnLocalSession = -120,
    /// Attempt to remove a watcher that does not exist.
    NoWatcher = -121,
    /// The request took too long to be processed.
    RequestTimeout = -122,
    /// Reconfiguration is disabled.
    ReconfigDisabled = -123,
    /// The session was closed and needs SASL authentication.
    SessionClosedRequireSaslAuth = -124,
    /// A quota was exceeded.
    QuotaExceeded = -125,
    /// The operation was throttled and not executed.
    ThrottledOp = -127,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Ok,
        ErrorCode::SystemError,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::DataInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::MarshallingError,
        ErrorCode::Unimplemented,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress,
        ErrorCode::UnknownSession,
        ErrorCode::ApiError,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::InvalidCallback,
        ErrorCode::InvalidAcl,
        ErrorCode::AuthFailed,
        ErrorCode::SessionMoved,
        ErrorCode::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession,
        ErrorCode::NoWatcher,
        ErrorCode::RequestTimeout,
        ErrorCode::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSaslAuth,
        ErrorCode::QuotaExceeded,
        ErrorCode::ThrottledOp,
    ];

    /// The wire value.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Maps a wire value to a known code.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The text Apache ZooKeeper's `KeeperException` prints for this code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "SystemError",
            ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
            ErrorCode::DataInconsistency => "DataInconsistency",
            ErrorCode::ConnectionLoss => "ConnectionLoss",
            ErrorCode::MarshallingError => "MarshallingError",
            ErrorCode::Unimplemented => "Unimplemented",
            ErrorCode::OperationTimeout => "OperationTimeout",
            ErrorCode::BadArguments => "BadArguments",
            ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
            ErrorCode::ReconfigInProgress => "ReconfigInProgress",
            ErrorCode::UnknownSession => "UnknownSession",
            ErrorCode::ApiError => "APIError",
            ErrorCode::NoNode => "NoNode",
            ErrorCode::NoAuth => "NoAuth",
            ErrorCode::BadVersion => "BadVersion",
            ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ErrorCode::NodeExists => "NodeExists",
            ErrorCode::NotEmpty => "Directory not empty",
            ErrorCode::SessionExpired => "Session expired",
            ErrorCode::InvalidCallback => "Invalid callback",
            ErrorCode::InvalidAcl => "InvalidACL",
            ErrorCode::AuthFailed => "AuthFailed",
            ErrorCode::SessionMoved => "Session moved",
            ErrorCode::NotReadOnly => "Not a read-only call",
            ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
            ErrorCode::NoWatcher => "No such watcher",
            ErrorCode::RequestTimeout => "Request timeout",
            ErrorCode::ReconfigDisabled => "Reconfig is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "Session closed because client failed to authenticate"
            }
            ErrorCode::QuotaExceeded => "Quota has exceeded",
            ErrorCode::ThrottledOp => "Op throttled due to high load",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_keeper_exception() {
        // Values read from KeeperException$Code in the zookeeper-3.8.0 jar.
        let table = [
            (ErrorCode::Ok, 0),
            (ErrorCode::RuntimeInconsistency, -2),
            (ErrorCode::UnknownSession, -12),
            (ErrorCode::NewConfigNoQuorum, -13),
            (ErrorCode::NoNode, -101),
            (ErrorCode::NoChildrenForEphemerals, -108),
            (ErrorCode::NodeExists, -110),
            (ErrorCode::SessionExpired, -112),
            (ErrorCode::NoWatcher, -121),
            (ErrorCode::ThrottledOp, -127),
        ];
        for (c, v) in table {
            assert_eq!(c.code(), v);
            assert_eq!(ErrorCode::from_code(v), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-126), None);
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
    }
}
