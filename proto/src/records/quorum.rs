//! Records the servers of an ensemble exchange on the quorum port.

use bytes::Bytes;

use crate::jute::record;
use crate::records::acl::Id;

record! {
    /// Sent by a learner when it connects to the leader (inside FOLLOWERINFO/OBSERVERINFO).
    pub struct LearnerInfo {
        /// The learner's myid.
        pub server_id: i64,
        /// The learner's protocol version (0x10000 in 3.4+).
        pub protocol_version: i32,
        /// The learner's config version.
        pub config_version: i64,
    }
}

record! {
    /// Every message between leader and learners.
    pub struct QuorumPacket {
        /// The packet type (PROPOSAL, ACK, COMMIT, PING, ...).
        pub packet_type: i32,
        /// The zxid the packet is about.
        pub zxid: i64,
        /// Type-specific payload.
        pub data: Option<Bytes>,
        /// Authentication info of forwarded requests.
        pub auth_info: Vec<Id>,
    }
}

record! {
    /// Quorum SASL authentication.
    pub struct QuorumAuthPacket {
        /// A magic number.
        pub magic: i64,
        /// The authentication status.
        pub status: i32,
        /// The SASL token.
        pub token: Option<Bytes>,
    }
}
