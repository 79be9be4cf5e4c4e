//! Apache ZooKeeper 3.8's quorum (peer) protocol, byte for byte: what the servers of an ensemble
//! say to each other on their election port and their quorum port. No sockets, no tasks: an I/O
//! shell wraps these codecs around its TCP streams and feeds the decoded messages to the ZAB core.
//!
//! Every layout here was checked against the 3.8.0 sources (`release-3.8.0-1`), the bytecode of
//! Debian's `zookeeper.jar` 3.8.0 (`javap -c -constants`), and golden bytes captured from a real
//! 3-node ensemble (`tests/quorum_golden.rs`, `scripts/capture/quorum_capture.py`).
//!
//! ## Election port (`QuorumCnxManager`, `FastLeaderElection`)
//! ```text
//! connecting peer:  InitialMessage (unframed)   long protocolVersion (-65536 = V1, -65535 = V2)
//!                                               long sid, int n (1..=2048), n bytes "host:port"
//!                   then frames                 int length (1..=512 KiB) + Notification
//! accepting peer:   frames only
//! Notification (3.8, 44 + n bytes): int state, long leader, long zxid, long electionEpoch,
//!                   long peerEpoch, int version (= 2), int n, n bytes of dynamic config text
//! ```
//! 3.8 sends protocol version **V1** (`-65536`) unless `zookeeper.multiAddress.enabled=true`, in
//! which case it sends V2 and `|`-separated addresses. Both peers dial each other; **only a
//! connection from the larger sid survives**: the accepting side closes a connection from a
//! smaller sid and dials back (to the address in the initial message), and a dialling side that
//! learns it called a larger sid closes its own connection (`handleConnection`,
//! `startConnection`). See [`InitialMessage`], [`ElectionCodec`], [`Notification`].
//!
//! ## Quorum port (`Leader`, `Learner`, `LearnerHandler`)
//! Both directions carry bare jute `QuorumPacket` records with **no length prefix** (Apache
//! writes them with `BinaryOutputArchive.writeRecord` on a buffered socket stream):
//! `int type, long zxid, buffer data, vector<Id> authinfo` ([`Packet`], [`PacketType`]).
//! The only exception: right after a SNAP packet the leader streams its database
//! ([`SnapshotItem`]) and the string `"BenWasHere"`. [`QuorumCodec`] frames both.
//! The typed views are [`LearnerMessage`] (learner → leader) and [`LeaderMessage`]
//! (leader → learner). A learner's connection goes:
//! ```text
//! learner → FOLLOWERINFO(zxid = acceptedEpoch << 32, LearnerInfo{sid, 0x10000, configVersion})
//! leader  → LEADERINFO(zxid = newEpoch << 32, int 0x10000)
//! learner → ACKEPOCH(zxid = lastLoggedZxid, int currentEpoch or -1 if it already accepted newEpoch)
//! leader  → DIFF(lastCommitted) [PROPOSAL, COMMIT]*  |  TRUNC(zxid) [PROPOSAL, COMMIT]*
//!         |  SNAP(zxid) snapshot "BenWasHere"
//! leader  → NEWLEADER(zxid = newEpoch << 32, config text)    learner → ACK(newEpoch << 32)
//! leader  → UPTODATE(zxid -1)                                learner → ACK(newEpoch << 32)
//! then: learner → REQUEST, ACK, PING(session touches), REVALIDATE
//!       leader  → PROPOSAL, COMMIT, PING(lastProposed), REVALIDATE answer, SYNC, INFORM (observers)
//! ```
//! The PROPOSAL / INFORM payload is a [`TxnEntry`]: `TxnHeader`, txn record and, with digests
//! on (3.8's default), a `TxnDigest`.

mod codec;
mod election_codec;
mod initial_message;
mod leader;
mod learner;
mod notification;
mod packet;
mod packet_type;
mod snapshot;
mod txn_entry;

#[cfg(test)]
mod tests;

pub use codec::{QuorumCodec, QuorumItem, DEFAULT_MAX_PACKET_LEN};
pub use election_codec::{ElectionCodec, ElectionItem, MAX_ELECTION_MESSAGE_LEN};
pub use initial_message::{
    InitialMessage, MAX_INITIAL_MESSAGE_ADDR_LEN, OBSERVER_ID, PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
};
pub use leader::LeaderMessage;
pub use learner::{ForwardedRequest, LearnerMessage, SessionTouch};
pub use notification::{Notification, ServerState, MIN_NOTIFICATION_LEN, NOTIFICATION_VERSION};
pub use packet::Packet;
pub use packet_type::PacketType;
pub use snapshot::{SnapshotDecoder, SnapshotItem, SNAPSHOT_SIGNATURE};
pub use txn_entry::TxnEntry;

/// The ZAB protocol version 3.4+ learners and leaders announce (`LearnerInfo.protocolVersion`,
/// the LEADERINFO payload): `0x10000`. A learner below it gets the pre-1.0 handshake.
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// The epoch of a zxid: its high 32 bits (`ZxidUtils.getEpochFromZxid`, an arithmetic shift).
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

/// The zxid that starts `epoch` with counter `counter` (`ZxidUtils.makeZxid`).
pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}
