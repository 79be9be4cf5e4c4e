//! A simulated network. Election notifications are datagrams: delayed, dropped, duplicated, reordered.
//! ZAB messages travel over TCP-like connections: FIFO per direction; a connection is opened by the
//! learner's FOLLOWERINFO/OBSERVERINFO and identified by a generation number; a lost message breaks the
//! connection (everything after it on that connection is lost too), as a reset TCP stream would.

use std::collections::{BTreeMap, BTreeSet};

use zk_zab::PeerId;

#[derive(Default)]
pub struct Net {
    next_gen: u64,
    /// (me, peer) -> generation I send on to `peer`.
    out_gen: BTreeMap<(PeerId, PeerId), u64>,
    /// (me, peer) -> generation I accept from `peer`.
    in_gen: BTreeMap<(PeerId, PeerId), u64>,
    broken: BTreeSet<u64>,
    /// FIFO: the time the last message on (from, to, gen) is delivered.
    last_delivery: BTreeMap<(PeerId, PeerId, u64), u64>,
    /// Pairs that cannot talk (symmetric).
    blocked: BTreeSet<(PeerId, PeerId)>,
}

impl Net {
    pub fn partitioned(&self, a: PeerId, b: PeerId) -> bool {
        self.blocked.contains(&(a, b))
    }

    pub fn partition(&mut self, side: &[PeerId], all: &[PeerId]) {
        for &a in side {
            for &b in all {
                if !side.contains(&b) {
                    self.blocked.insert((a, b));
                    self.blocked.insert((b, a));
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// The learner opens a new connection to `to`.
    pub fn open(&mut self, from: PeerId, to: PeerId) -> u64 {
        self.next_gen += 1;
        let g = self.next_gen;
        self.out_gen.insert((from, to), g);
        self.in_gen.insert((from, to), g);
        g
    }

    /// The generation `from` currently sends on to `to` (0 = no connection).
    pub fn out(&self, from: PeerId, to: PeerId) -> u64 {
        let g = self.out_gen.get(&(from, to)).copied().unwrap_or(0);
        if self.broken.contains(&g) {
            0
        } else {
            g
        }
    }

    pub fn current_in(&self, me: PeerId, peer: PeerId) -> u64 {
        self.in_gen.get(&(me, peer)).copied().unwrap_or(0)
    }

    pub fn break_conn(&mut self, g: u64) {
        if g != 0 {
            self.broken.insert(g);
        }
    }

    pub fn is_broken(&self, g: u64) -> bool {
        self.broken.contains(&g)
    }

    /// FIFO delivery time on a connection.
    pub fn fifo_time(&mut self, from: PeerId, to: PeerId, g: u64, at: u64) -> u64 {
        let slot = self.last_delivery.entry((from, to, g)).or_insert(0);
        *slot = (*slot).max(at);
        *slot
    }

    /// Whether `to` accepts a message of generation `g` from `from`; a FOLLOWERINFO of a newer generation
    /// is an incoming connection and is accepted (replacing the old one).
    pub fn accept(&mut self, to: PeerId, from: PeerId, g: u64, opens: bool) -> bool {
        if self.broken.contains(&g) {
            return false;
        }
        let cur = self.current_in(to, from);
        if opens && g > cur {
            self.in_gen.insert((to, from), g);
            self.out_gen.insert((to, from), g);
            return true;
        }
        g == cur
    }

    /// A crashed node forgets all its connections.
    pub fn forget(&mut self, node: PeerId) {
        let mine: Vec<u64> = self
            .in_gen
            .iter()
            .chain(self.out_gen.iter())
            .filter(|((a, b), _)| *a == node || *b == node)
            .map(|(_, g)| *g)
            .collect();
        for g in mine {
            self.broken.insert(g);
        }
        self.in_gen.retain(|(a, _), _| *a != node);
        self.out_gen.retain(|(a, _), _| *a != node);
    }

    /// Peers that had a connection with `node`, and its generation, as seen from the peer.
    pub fn peers_of(&self, node: PeerId) -> Vec<(PeerId, u64)> {
        let mut v: Vec<(PeerId, u64)> = self
            .in_gen
            .iter()
            .filter(|((_, b), _)| *b == node)
            .map(|((a, _), g)| (*a, *g))
            .collect();
        v.sort();
        v
    }
}
