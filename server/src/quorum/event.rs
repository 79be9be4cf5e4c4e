//! What the network tasks report to the driver, on one channel (so that a connection's reports keep
//! their order).

use zk_zab::{Message, Notification, PeerId, Zxid};

use super::peer_net::ConnHandle;

/// A connection generation: every quorum connection gets a fresh one, and the driver delivers a report
/// only if its generation is the peer's current one (never a closed connection's message after a newer
/// connection opened).
pub type Generation = u64;

/// A report from the network tasks.
#[derive(Debug)]
pub enum NetEvent {
    /// An election notification from `from`.
    Notification {
        /// The sender.
        from: PeerId,
        /// The notification.
        n: Notification,
    },
    /// Leader side: a learner connected and said hello (FOLLOWERINFO / OBSERVERINFO).
    Accepted {
        /// The learner's sid.
        peer: PeerId,
        /// The connection's generation.
        gen: Generation,
        /// Sends on this connection.
        conn: ConnHandle,
        /// The hello.
        hello: Message,
    },
    /// A ZAB message on quorum connection `gen` with `peer`.
    Quorum {
        /// The peer.
        peer: PeerId,
        /// The connection's generation.
        gen: Generation,
        /// The message.
        msg: Message,
        /// A leader's PING zxid (the learner echoes it).
        ping_zxid: Option<Zxid>,
    },
    /// Quorum connection `gen` with `peer` closed (or never connected).
    Closed {
        /// The peer.
        peer: PeerId,
        /// The connection's generation.
        gen: Generation,
    },
}
