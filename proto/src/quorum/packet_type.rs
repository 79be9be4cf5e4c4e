//! Quorum packet types (`Leader.java` constants; values checked with
//! `javap -constants org.apache.zookeeper.server.quorum.Leader` on Apache 3.8.0's jar).

use crate::DecodeError;

/// The `type` of a quorum packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum PacketType {
    /// Learner → leader: a client request to run through the leader's pipeline.
    Request = 1,
    /// Leader → follower: a txn to log and acknowledge.
    Proposal = 2,
    /// Learner → leader: a proposal (or NEWLEADER/UPTODATE) is logged.
    Ack = 3,
    /// Leader → follower: apply everything up to this zxid.
    Commit = 4,
    /// Both ways: liveness, and session touches from learners.
    Ping = 5,
    /// Both ways: is this session (moving to a learner) still valid?
    Revalidate = 6,
    /// Leader → learner: a forwarded `sync` may now complete.
    Sync = 7,
    /// Leader → observer: a committed txn.
    Inform = 8,
    /// Leader → follower: commit a reconfig and activate its config.
    CommitAndActivate = 9,
    /// Leader → learner: end of sync; the new epoch's config.
    NewLeader = 10,
    /// Follower → leader: first packet, with [`LearnerInfo`](crate::records::quorum::LearnerInfo).
    FollowerInfo = 11,
    /// Leader → learner: synced; start serving.
    UpToDate = 12,
    /// Leader → learner: sync by the txns that follow.
    Diff = 13,
    /// Leader → learner: drop txns above this zxid, then the txns that follow.
    Trunc = 14,
    /// Leader → learner: a full snapshot follows.
    Snap = 15,
    /// Observer → leader: first packet, with `LearnerInfo`.
    ObserverInfo = 16,
    /// Leader → learner: the proposed epoch and protocol version.
    LeaderInfo = 17,
    /// Learner → leader: accepts the epoch; reports its current epoch and last zxid.
    AckEpoch = 18,
    /// Leader → observer: a committed reconfig txn to activate.
    InformAndActivate = 19,
}

impl PacketType {
    /// Every type, in value order.
    pub const ALL: [PacketType; 19] = [
        PacketType::Request,
        PacketType::Proposal,
        PacketType::Ack,
        PacketType::Commit,
        PacketType::Ping,
        PacketType::Revalidate,
        PacketType::Sync,
        PacketType::Inform,
        PacketType::CommitAndActivate,
        PacketType::NewLeader,
        PacketType::FollowerInfo,
        PacketType::UpToDate,
        PacketType::Diff,
        PacketType::Trunc,
        PacketType::Snap,
        PacketType::ObserverInfo,
        PacketType::LeaderInfo,
        PacketType::AckEpoch,
        PacketType::InformAndActivate,
    ];

    /// The wire value.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Apache's name for the type (`Leader.getPacketType`), e.g. `"COMMITANDACTIVATE"`.
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Request => "REQUEST",
            PacketType::Proposal => "PROPOSAL",
            PacketType::Ack => "ACK",
            PacketType::Commit => "COMMIT",
            PacketType::Ping => "PING",
            PacketType::Revalidate => "REVALIDATE",
            PacketType::Sync => "SYNC",
            PacketType::Inform => "INFORM",
            PacketType::CommitAndActivate => "COMMITANDACTIVATE",
            PacketType::NewLeader => "NEWLEADER",
            PacketType::FollowerInfo => "FOLLOWERINFO",
            PacketType::UpToDate => "UPTODATE",
            PacketType::Diff => "DIFF",
            PacketType::Trunc => "TRUNC",
            PacketType::Snap => "SNAP",
            PacketType::ObserverInfo => "OBSERVERINFO",
            PacketType::LeaderInfo => "LEADERINFO",
            PacketType::AckEpoch => "ACKEPOCH",
            PacketType::InformAndActivate => "INFORMANDACTIVATE",
        }
    }
}

impl TryFrom<i32> for PacketType {
    type Error = DecodeError;

    fn try_from(v: i32) -> Result<Self, DecodeError> {
        usize::try_from(v.wrapping_sub(1))
            .ok()
            .and_then(|i| PacketType::ALL.get(i).copied())
            .ok_or(DecodeError::BadValue {
                what: "quorum packet type",
                value: v.into(),
            })
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_leader_java() {
        // javap -constants -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.Leader
        let expected = [
            ("REQUEST", 1),
            ("PROPOSAL", 2),
            ("ACK", 3),
            ("COMMIT", 4),
            ("PING", 5),
            ("REVALIDATE", 6),
            ("SYNC", 7),
            ("INFORM", 8),
            ("COMMITANDACTIVATE", 9),
            ("NEWLEADER", 10),
            ("FOLLOWERINFO", 11),
            ("UPTODATE", 12),
            ("DIFF", 13),
            ("TRUNC", 14),
            ("SNAP", 15),
            ("OBSERVERINFO", 16),
            ("LEADERINFO", 17),
            ("ACKEPOCH", 18),
            ("INFORMANDACTIVATE", 19),
        ];
        for (t, (name, code)) in PacketType::ALL.iter().zip(expected) {
            assert_eq!((t.name(), t.code()), (name, code));
            assert_eq!(PacketType::try_from(code).unwrap(), *t);
        }
        assert!(PacketType::try_from(0).is_err());
        assert!(PacketType::try_from(20).is_err());
        assert!(PacketType::try_from(i32::MIN).is_err());
    }
}
