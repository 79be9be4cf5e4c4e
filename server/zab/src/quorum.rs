//! Voter sets and majorities (Apache `QuorumMaj`). Observers are members that never vote.

use std::collections::BTreeSet;

use crate::PeerId;

/// The ensemble's membership: voters (`participant`) and observers (`server.N=…:observer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumVerifier {
    voters: BTreeSet<PeerId>,
    observers: BTreeSet<PeerId>,
}

impl QuorumVerifier {
    /// Membership from the two lists (validated by [`Config::validate`](crate::Config::validate)).
    pub fn new(
        voters: impl IntoIterator<Item = PeerId>,
        observers: impl IntoIterator<Item = PeerId>,
    ) -> Self {
        QuorumVerifier {
            voters: voters.into_iter().collect(),
            observers: observers.into_iter().collect(),
        }
    }

    /// The voting members.
    pub fn voters(&self) -> &BTreeSet<PeerId> {
        &self.voters
    }

    /// The observers.
    pub fn observers(&self) -> &BTreeSet<PeerId> {
        &self.observers
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: PeerId) -> bool {
        self.voters.contains(&id)
    }

    /// Whether `id` is an observer.
    pub fn is_observer(&self, id: PeerId) -> bool {
        self.observers.contains(&id)
    }

    /// Whether `id` is any member.
    pub fn is_member(&self, id: PeerId) -> bool {
        self.is_voter(id) || self.is_observer(id)
    }

    /// The smallest number of voters that forms a majority.
    pub fn quorum_size(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Whether the voters among `ids` form a strict majority of all voters (`QuorumMaj.containsQuorum`).
    /// Non-voters and duplicates are ignored.
    pub fn has_quorum<'a>(&self, ids: impl IntoIterator<Item = &'a PeerId>) -> bool {
        let mut seen = BTreeSet::new();
        for id in ids {
            if self.is_voter(*id) {
                seen.insert(*id);
            }
        }
        seen.len() >= self.quorum_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<PeerId> {
        v.iter().map(|&i| PeerId(i)).collect()
    }

    #[test]
    fn majority_table() {
        // (voters, observers, acking ids, quorum?)
        type Row<'a> = (&'a [u64], &'a [u64], &'a [u64], bool);
        let table: &[Row] = &[
            (&[1], &[], &[1], true),
            (&[1], &[], &[], false),
            (&[1, 2, 3], &[], &[1], false),
            (&[1, 2, 3], &[], &[1, 3], true),
            (&[1, 2, 3], &[], &[3, 3], false),
            (&[1, 2, 3], &[4], &[1, 4], false),
            (&[1, 2, 3, 4], &[], &[1, 2], false),
            (&[1, 2, 3, 4], &[], &[1, 2, 4], true),
            (&[1, 2, 3, 4, 5], &[6], &[2, 4, 6], false),
            (&[1, 2, 3, 4, 5], &[6], &[2, 4, 5], true),
            (&[1, 2, 3], &[], &[7, 8], false),
        ];
        for (voters, observers, acks, want) in table {
            let q = QuorumVerifier::new(ids(voters), ids(observers));
            assert_eq!(
                q.has_quorum(ids(acks).iter()),
                *want,
                "{voters:?} {observers:?} {acks:?}"
            );
        }
    }
}
