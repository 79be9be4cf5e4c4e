//! Session order and zxid monotonicity for plain (non-linearizable) reads: invariants C2 and C3.
//!
//! ZooKeeper serves reads from the connected server, so a plain read may be stale and is not checked for
//! linearizability. What ZooKeeper does promise for every session (consistency-guarantees.mdx):
//! - **C2, FIFO**: replies arrive in the order the requests were issued.
//! - **C3, single system image**: the zxid a session observes never decreases, even when it reconnects to
//!   another server (a server behind the session's last zxid must refuse the connection).
//!
//! [`SessionOrderChecker`] takes each reply as the session received it, as an [`Observation`]: the
//! request's issue sequence number (the xid, or any counter that follows issue order), the reply header
//! zxid when the client exposes it (for a read, the server's last processed zxid; for a write, its txn's
//! zxid), and for replies carrying a Stat, the znode's path and `mzxid`. It checks:
//! 1. sequence numbers strictly increase per session ([`SessionViolation::OutOfOrder`]);
//! 2. header zxids never go below the highest zxid the session has observed so far, whether from a
//!    header or a Stat ([`SessionViolation::ZxidWentBack`]) — this also gives read-your-writes;
//! 3. a Stat's mzxid is not above the same reply's header zxid: the server cannot show a change it has not
//!    applied ([`SessionViolation::MzxidAboveZxid`]);
//! 4. per session and path, the mzxid never decreases: once a session has seen a version of a znode, it
//!    never sees an older one ([`SessionViolation::StatWentBack`]). A delete and re-create yields a larger
//!    mzxid, so this holds across them.
//!
//! Key observations by ZooKeeper session id: it survives reconnects, which is exactly where C3 bites.
//!
//! ```
//! use zk_lincheck::{ClientId, Observation, SessionOrderChecker, SessionViolation};
//!
//! let mut checker = SessionOrderChecker::new();
//! let s = ClientId(0x100);
//! checker.observe(Observation::reply(s, 1).with_zxid(0x10).with_stat("/a", 0x10)).unwrap(); // setData
//! // Reconnected to a lagging server that should have refused the session:
//! let stale = checker.observe(Observation::reply(s, 2).with_zxid(0x0c).with_stat("/a", 0x08));
//! assert!(matches!(stale, Err(SessionViolation::ZxidWentBack { .. })));
//! ```

use std::collections::HashMap;

use crate::history::ClientId;

/// One reply as a session received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The session.
    pub session: ClientId,
    /// The request's position in the session's issue order (e.g. its xid).
    pub seq: u64,
    /// The reply header zxid, if the client exposes it.
    pub zxid: Option<i64>,
    /// For a reply with a Stat: the znode's path and its `mzxid`.
    pub stat: Option<(String, i64)>,
}

impl Observation {
    /// A reply to request `seq` of `session`, with nothing observed yet.
    pub fn reply(session: ClientId, seq: u64) -> Self {
        Observation {
            session,
            seq,
            zxid: None,
            stat: None,
        }
    }

    /// The reply header zxid.
    pub fn with_zxid(mut self, zxid: i64) -> Self {
        self.zxid = Some(zxid);
        self
    }

    /// The Stat of `path` in the reply.
    pub fn with_stat(mut self, path: &str, mzxid: i64) -> Self {
        self.stat = Some((path.to_string(), mzxid));
        self
    }
}

/// A broken session guarantee. Zxids print in hex, as ZooKeeper prints them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionViolation {
    /// C2: a reply arrived before the reply to an earlier request.
    #[error("session {session}: reply to request {seq} arrived after the reply to later request {previous}")]
    OutOfOrder {
        /// The session.
        session: ClientId,
        /// The request whose reply came late.
        seq: u64,
        /// The later request already answered.
        previous: u64,
    },
    /// C3: a reply's zxid is below one the session had already observed.
    #[error("session {session}: reply to request {seq} has zxid {zxid:#x}, below {seen:#x} observed at request {seen_at}")]
    ZxidWentBack {
        /// The session.
        session: ClientId,
        /// The request.
        seq: u64,
        /// Its reply zxid.
        zxid: i64,
        /// The highest zxid observed before.
        seen: i64,
        /// The request where it was observed.
        seen_at: u64,
    },
    /// A reply shows a change (mzxid) newer than the state it claims to come from (header zxid).
    #[error("session {session}: reply to request {seq} shows {path} at mzxid {mzxid:#x}, above its zxid {zxid:#x}")]
    MzxidAboveZxid {
        /// The session.
        session: ClientId,
        /// The request.
        seq: u64,
        /// The znode.
        path: String,
        /// Its mzxid in the reply.
        mzxid: i64,
        /// The reply header zxid.
        zxid: i64,
    },
    /// C3 per znode: a session saw an older version of a znode after a newer one.
    #[error("session {session}: reply to request {seq} shows {path} at mzxid {mzxid:#x}, older than {seen:#x} seen at request {seen_at}")]
    StatWentBack {
        /// The session.
        session: ClientId,
        /// The request.
        seq: u64,
        /// The znode.
        path: String,
        /// Its mzxid in this reply.
        mzxid: i64,
        /// The newer mzxid seen before.
        seen: i64,
        /// The request where it was seen.
        seen_at: u64,
    },
}

#[derive(Default)]
struct SessionState {
    last_seq: Option<u64>,
    /// The highest zxid observed and the request where it was.
    high_water: Option<(i64, u64)>,
    /// Per path, the highest mzxid observed and the request where it was.
    mzxid: HashMap<String, (i64, u64)>,
}

/// Checks replies session by session as they arrive (see the module docs).
#[derive(Default)]
pub struct SessionOrderChecker {
    sessions: HashMap<ClientId, SessionState>,
}

impl SessionOrderChecker {
    /// A checker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one reply against what its session observed before, then records it. After a violation
    /// the checker goes on with the highest values seen, so one stale reply is reported once.
    pub fn observe(&mut self, obs: Observation) -> Result<(), SessionViolation> {
        let session = self.sessions.entry(obs.session).or_default();
        let mut violation = None;
        let mut report = |v: SessionViolation| {
            violation.get_or_insert(v);
        };
        if let Some(previous) = session.last_seq.filter(|&p| p >= obs.seq) {
            report(SessionViolation::OutOfOrder {
                session: obs.session,
                seq: obs.seq,
                previous,
            });
        }
        session.last_seq = Some(session.last_seq.map_or(obs.seq, |p| p.max(obs.seq)));

        if let (Some(zxid), Some((seen, seen_at))) = (obs.zxid, session.high_water) {
            if zxid < seen {
                report(SessionViolation::ZxidWentBack {
                    session: obs.session,
                    seq: obs.seq,
                    zxid,
                    seen,
                    seen_at,
                });
            }
        }
        if let (Some(zxid), Some((path, mzxid))) = (obs.zxid, &obs.stat) {
            if *mzxid > zxid {
                let (path, mzxid) = (path.clone(), *mzxid);
                report(SessionViolation::MzxidAboveZxid {
                    session: obs.session,
                    seq: obs.seq,
                    path,
                    mzxid,
                    zxid,
                });
            }
        }
        if let Some((path, mzxid)) = &obs.stat {
            match session.mzxid.get_mut(path) {
                Some((seen, seen_at)) if *mzxid < *seen => report(SessionViolation::StatWentBack {
                    session: obs.session,
                    seq: obs.seq,
                    path: path.clone(),
                    mzxid: *mzxid,
                    seen: *seen,
                    seen_at: *seen_at,
                }),
                Some(entry) => *entry = (*mzxid, obs.seq),
                None => {
                    session.mzxid.insert(path.clone(), (*mzxid, obs.seq));
                }
            }
        }
        let observed = obs
            .zxid
            .into_iter()
            .chain(obs.stat.as_ref().map(|(_, m)| *m))
            .max();
        if let Some(z) = observed {
            if session.high_water.map_or(true, |(seen, _)| z > seen) {
                session.high_water = Some((z, obs.seq));
            }
        }
        violation.map_or(Ok(()), Err)
    }
}

/// Checks a whole list of replies, each session's in the order it received them; returns every
/// violation found.
pub fn check_session_order(
    observations: impl IntoIterator<Item = Observation>,
) -> Result<(), Vec<SessionViolation>> {
    let mut checker = SessionOrderChecker::new();
    let violations: Vec<_> = observations
        .into_iter()
        .filter_map(|obs| checker.observe(obs).err())
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ClientId = ClientId(0x1);
    const T: ClientId = ClientId(0x2);

    fn reply(session: ClientId, seq: u64, zxid: i64) -> Observation {
        Observation::reply(session, seq).with_zxid(zxid)
    }

    #[test]
    fn good_sessions_pass() {
        let obs = vec![
            reply(S, 1, 5).with_stat("/a", 3),
            reply(T, 1, 2), // another session may be behind
            reply(S, 2, 5),
            reply(S, 4, 9).with_stat("/a", 9), // seq gaps are fine (an op without reply)
            reply(T, 2, 9).with_stat("/b", 1),
            Observation::reply(S, 5).with_stat("/b", 1), // no header zxid: older znodes are fine
            reply(S, 6, 9),
        ];
        assert_eq!(check_session_order(obs), Ok(()));
    }

    #[test]
    fn each_violation_is_named() {
        type Case = (Vec<Observation>, fn(&SessionViolation) -> bool);
        let cases: Vec<Case> = vec![
            (vec![reply(S, 2, 1), reply(S, 1, 1)], |v| {
                matches!(
                    v,
                    SessionViolation::OutOfOrder {
                        seq: 1,
                        previous: 2,
                        ..
                    }
                )
            }),
            (vec![reply(S, 1, 1), reply(S, 1, 1)], |v| {
                matches!(v, SessionViolation::OutOfOrder { .. })
            }),
            (vec![reply(S, 1, 7), reply(S, 2, 6)], |v| {
                matches!(
                    v,
                    SessionViolation::ZxidWentBack {
                        zxid: 6,
                        seen: 7,
                        seen_at: 1,
                        ..
                    }
                )
            }),
            (
                vec![Observation::reply(S, 1).with_stat("/a", 7), reply(S, 2, 6)],
                |v| {
                    matches!(
                        v,
                        SessionViolation::ZxidWentBack {
                            zxid: 6,
                            seen: 7,
                            ..
                        }
                    )
                },
            ),
            (vec![reply(S, 1, 5).with_stat("/a", 6)], |v| {
                matches!(
                    v,
                    SessionViolation::MzxidAboveZxid {
                        mzxid: 6,
                        zxid: 5,
                        ..
                    }
                )
            }),
            (
                vec![
                    Observation::reply(S, 1).with_stat("/a", 6),
                    Observation::reply(S, 2).with_stat("/a", 4),
                ],
                |v| {
                    matches!(
                        v,
                        SessionViolation::StatWentBack {
                            mzxid: 4,
                            seen: 6,
                            seen_at: 1,
                            ..
                        }
                    )
                },
            ),
        ];
        for (i, (obs, expected)) in cases.into_iter().enumerate() {
            let violations = check_session_order(obs).expect_err(&format!("case {i} passed"));
            assert_eq!(violations.len(), 1, "case {i}: {violations:?}");
            assert!(expected(&violations[0]), "case {i}: {violations:?}");
        }
    }

    #[test]
    fn a_stale_reply_is_reported_once() {
        let obs = vec![
            reply(S, 1, 9),
            reply(S, 2, 4),
            reply(S, 3, 9),
            reply(S, 4, 10),
        ];
        assert_eq!(check_session_order(obs).unwrap_err().len(), 1);
    }

    #[test]
    fn messages_print_zxids_in_hex() {
        let v = SessionViolation::ZxidWentBack {
            session: S,
            seq: 2,
            zxid: 0x1_0000_0004,
            seen: 0x1_0000_0007,
            seen_at: 1,
        };
        assert_eq!(
            v.to_string(),
            "session 0x1: reply to request 2 has zxid 0x100000004, below 0x100000007 observed at request 1"
        );
    }
}
