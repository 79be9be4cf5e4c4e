//! Session tracking: ids, passwords, timeout negotiation and expiry by ticks
//! (`SessionTrackerImpl`, `ExpiryQueue`, `ZooKeeperServer.generatePasswd`).
//!
//! The replicated part of a session (id and timeout) lives in the tree and changes only
//! through createSession/closeSession txns. This tracker holds the leader-local part: when
//! each session expires. Time is passed in (milliseconds on any monotonic clock), so the tracker
//! is deterministic under test.

use std::collections::{BTreeMap, HashSet};

/// `ZooKeeperServer.superSecret`: mixed into the password seed.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// The 16-byte password of a session, as Apache derives it:
/// `new java.util.Random(sessionId ^ superSecret).nextBytes(new byte[16])`. Deterministic,
/// so sessions survive restarts (and migrate between Apache and zk-server) without storing it.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut rng = JavaRandom::new(session_id ^ SUPER_SECRET);
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < out.len() {
        let mut rnd = rng.next_i32();
        let n = (out.len() - i).min(4);
        for _ in 0..n {
            out[i] = rnd as u8;
            i += 1;
            rnd >>= 8;
        }
    }
    out
}

/// `java.util.Random`'s 48-bit linear congruential generator.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next_i32(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> 16) as i32
    }
}

/// `SessionTrackerImpl.initializeNextSessionId`: `(serverId << 56) | ((millis << 24) >>> 8)`.
pub fn initial_session_id(server_id: u8, now_millis: i64) -> i64 {
    let mut id = ((now_millis << 24) as u64 >> 8) as i64;
    id |= (server_id as i64) << 56;
    if id == crate::tree::CONTAINER_EPHEMERAL_OWNER {
        id += 1;
    }
    id
}

/// Clamps a requested timeout into `[min, max]` (`processConnectRequest`).
pub fn negotiate_timeout(requested: i32, min: i32, max: i32) -> i32 {
    requested.max(min).min(max)
}

#[derive(Debug, Clone)]
struct Tracked {
    timeout: i32,
    expires_at: u64,
    closing: bool,
}

/// Expiry buckets keyed by tick-rounded deadlines, as Apache's `ExpiryQueue`.
#[derive(Debug)]
pub struct SessionTracker {
    sessions: crate::hash::FastMap<i64, Tracked>,
    buckets: BTreeMap<u64, HashSet<i64>>,
    tick_ms: u64,
    next_id: i64,
}

impl SessionTracker {
    /// A tracker with `tick_ms` expiry granularity, handing out ids from `first_id`.
    pub fn new(tick_ms: u64, first_id: i64) -> Self {
        SessionTracker {
            sessions: Default::default(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1),
            next_id: first_id,
        }
    }

    /// A fresh id (never one in use).
    pub fn next_session_id(&mut self) -> i64 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn round(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Starts tracking (or re-tracks) a session with `timeout` ms from `now`.
    pub fn track(&mut self, id: i64, timeout: i32, now: u64) {
        self.sessions.entry(id).or_insert(Tracked {
            timeout,
            expires_at: 0,
            closing: false,
        });
        self.touch(id, timeout, now);
    }

    /// Replaces every tracked session with `sessions`, each due `timeout` from `now` (a new
    /// leader starts every global session's clock afresh, as Apache's `LeaderSessionTracker`
    /// does); the id sequence continues.
    pub fn reset(&mut self, sessions: impl IntoIterator<Item = (i64, i32)>, now: u64) {
        self.sessions.clear();
        self.buckets.clear();
        for (id, timeout) in sessions {
            self.track(id, timeout, now);
        }
    }

    /// Whether the session exists and is not closing.
    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Whether the session is tracked at all.
    pub fn contains(&self, id: i64) -> bool {
        self.sessions.contains_key(&id)
    }

    /// The session's timeout.
    pub fn timeout(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|s| s.timeout)
    }

    /// Pushes the deadline of a live session to `now + timeout` (`touchSession`); false if the
    /// session is unknown or closing.
    pub fn touch(&mut self, id: i64, timeout: i32, now: u64) -> bool {
        let deadline = self.round(now + timeout.max(0) as u64);
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        if s.expires_at == deadline {
            return true;
        }
        let old = s.expires_at;
        s.expires_at = deadline;
        if let Some(b) = self.buckets.get_mut(&old) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&old);
            }
        }
        self.buckets.entry(deadline).or_default().insert(id);
        true
    }

    /// Touches with the session's own timeout.
    pub fn touch_own(&mut self, id: i64, now: u64) -> bool {
        match self.timeout(id) {
            Some(t) => self.touch(id, t, now),
            None => false,
        }
    }

    /// Marks a session closing: it accepts no more requests and never expires again.
    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
            }
        }
    }

    /// Forgets a session (after its closeSession is applied).
    pub fn remove(&mut self, id: i64) {
        if let Some(s) = self.sessions.remove(&id) {
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&s.expires_at);
                }
            }
        }
    }

    /// Sessions whose deadline is at or before `now`; they are marked closing.
    pub fn expired(&mut self, now: u64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&t, _)) = self.buckets.first_key_value() {
            if t > now {
                break;
            }
            let ids = self.buckets.remove(&t).unwrap_or_default();
            out.extend(ids);
        }
        out.sort_unstable();
        for id in &out {
            if let Some(s) = self.sessions.get_mut(id) {
                s.closing = true;
            }
        }
        out
    }

    /// Number of sessions tracked.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Every tracked session with its timeout, sorted by id.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        let mut v: Vec<_> = self.sessions.iter().map(|(k, s)| (*k, s.timeout)).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_jdk() {
        // new java.util.Random(42).nextInt() == -1170105035 (JDK spec'd LCG).
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_i32(), -1170105035);
        assert_eq!(r.next_i32(), 234785527);
    }

    #[test]
    fn ids_and_timeouts() {
        let id = initial_session_id(1, 1_700_000_000_000);
        assert_eq!(id >> 56, 1);
        assert_eq!(negotiate_timeout(1000, 4000, 40000), 4000);
        assert_eq!(negotiate_timeout(100000, 4000, 40000), 40000);
        assert_eq!(negotiate_timeout(10000, 4000, 40000), 10000);
    }

    #[test]
    fn expiry_by_ticks() {
        let mut t = SessionTracker::new(2000, 1);
        t.track(7, 4000, 0);
        assert!(t.expired(4000).is_empty());
        assert!(t.touch_own(7, 3000)); // deadline round(7000) = 8000
        assert!(t.expired(7999).is_empty());
        assert_eq!(t.expired(8000), vec![7]);
        assert!(!t.is_live(7));
        assert!(!t.touch_own(7, 9000));
        t.remove(7);
        assert!(t.is_empty());
    }
}
