//! Vote ordering (Apache `FastLeaderElection.totalOrderPredicate`): a higher currentEpoch wins, then a higher
//! last zxid, then a higher server id. A vote for a non-voter never wins (Apache: weight 0).

use crate::{QuorumVerifier, Vote};

/// Whether `new` beats `cur`.
pub(crate) fn beats(new: &Vote, cur: &Vote, quorum: &QuorumVerifier) -> bool {
    if !quorum.is_voter(new.leader) {
        return false;
    }
    if !quorum.is_voter(cur.leader) {
        return true;
    }
    (new.peer_epoch, new.zxid, new.leader) > (cur.peer_epoch, cur.zxid, cur.leader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Epoch, PeerId, Zxid};

    fn v(leader: u64, epoch: u32, counter: u32, peer_epoch: u32) -> Vote {
        Vote::new(
            PeerId(leader),
            Zxid::new(Epoch(epoch), counter),
            Epoch(peer_epoch),
        )
    }

    #[test]
    fn total_order_table() {
        let q = QuorumVerifier::new([PeerId(1), PeerId(2), PeerId(3)], [PeerId(4)]);
        // (new, cur, new beats cur?)
        let table = [
            (v(1, 1, 5, 2), v(3, 1, 9, 1), true),  // currentEpoch first
            (v(1, 1, 9, 1), v(3, 1, 5, 1), true),  // then zxid
            (v(3, 1, 5, 1), v(1, 1, 5, 1), true),  // then id
            (v(1, 1, 5, 1), v(3, 1, 5, 1), false), // lower id loses
            (v(2, 1, 5, 1), v(2, 1, 5, 1), false), // equal does not beat
            (v(4, 9, 9, 9), v(1, 0, 0, 0), false), // an observer never wins
            (v(1, 0, 0, 0), v(4, 9, 9, 9), true),  // anything beats a vote for an observer
        ];
        for (new, cur, want) in table {
            assert_eq!(beats(&new, &cur, &q), want, "{new:?} vs {cur:?}");
        }
    }
}
