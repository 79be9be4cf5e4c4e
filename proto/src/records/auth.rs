//! Authentication: auth packets, SASL tokens and whoAmI.

use bytes::Bytes;

use crate::jute::record;

record! {
    /// addAuth (sent with xid [`AUTH_XID`](crate::AUTH_XID)).
    pub struct AuthPacket {
        /// Unused, 0.
        pub auth_type: i32,
        /// The scheme, e.g. `digest`.
        pub scheme: String,
        /// Scheme-specific credentials, e.g. `user:password`.
        pub auth: Option<Bytes>,
    }
}

record! {
    /// A SASL token from client or server (`GetSASLRequest`, `SetSASLRequest`, `SetSASLResponse`).
    pub struct SaslToken {
        /// The token.
        pub token: Option<Bytes>,
    }
}

record! {
    /// One authenticated identity of a session (`org.apache.zookeeper.data.ClientInfo`).
    pub struct ClientInfo {
        /// The scheme, e.g. `digest` or `ip`.
        pub auth_scheme: String,
        /// The identity, e.g. `user` or `127.0.0.1`.
        pub user: String,
    }
}

record! {
    /// The answer to whoAmI.
    pub struct WhoAmIResponse {
        /// The session's identities.
        pub client_info: Vec<ClientInfo>,
    }
}
