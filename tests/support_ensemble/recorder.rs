//! Recording what zk-client sessions did, for the checkers of zk-lincheck: a linearizability
//! [`History`] of writes and of sync-then-read operations (invariant C1), and a [`SessionOrderChecker`]
//! fed with every reply that carries a Stat, plain reads included (C2, C3).
//!
//! Times are nanoseconds since the recorder was made (one monotonic clock for every client). Replies
//! the model decides (OK, `NONODE`, `BADVERSION`, `NODEEXISTS`) complete an operation; connection loss,
//! expiry and timeouts leave it indeterminate, as zk-lincheck expects: it may have taken effect at any
//! time after its invocation, or never. Any other error is a failure of the test.

use std::sync::Mutex;
use std::time::Instant;

use zk_client::{Error, Stat};
use zk_lincheck::{
    ClientId, History, Observation, OpId, SessionOrderChecker, SessionViolation, ZkError, ZkOp,
    ZkOutput,
};

/// What became of a request, as the checkers see it.
#[derive(Debug)]
pub enum Reply<T> {
    /// OK, with the reply's value.
    Ok(T),
    /// An error the model decides.
    Refused(ZkError),
    /// No decision: the request may or may not have been applied.
    Unknown,
}

/// Classifies a zk-client result. Errors outside the model (and not indeterminate) panic: the test's
/// operations never ask for them.
pub fn classify<T>(what: &str, result: Result<T, Error>) -> Reply<T> {
    match result {
        Ok(value) => Reply::Ok(value),
        Err(Error::NoNode) => Reply::Refused(ZkError::NoNode),
        Err(Error::BadVersion) => Reply::Refused(ZkError::BadVersion),
        Err(Error::NodeExists) => Reply::Refused(ZkError::NodeExists),
        Err(
            Error::ConnectionLoss
            | Error::SessionExpired
            | Error::Timeout
            | Error::OperationTimeout
            | Error::Closed,
        ) => Reply::Unknown,
        Err(other) => panic!("{what}: unexpected error {other:?}"),
    }
}

/// The shared record of a test's clients.
pub struct Recorder {
    epoch: Instant,
    history: Mutex<History<ZkOp, ZkOutput>>,
    sessions: Mutex<(SessionOrderChecker, Vec<SessionViolation>)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            epoch: Instant::now(),
            history: Mutex::new(History::new()),
            sessions: Mutex::new((SessionOrderChecker::new(), Vec::new())),
        }
    }
}

impl Recorder {
    /// Nanoseconds since the recorder was made.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Records that `client` sends `op` now.
    pub fn invoke(&self, client: ClientId, op: ZkOp) -> OpId {
        let at = self.now();
        lock(&self.history).invoke(client, at, op)
    }

    /// Records the reply to `op`, arrived now.
    pub fn complete(&self, op: OpId, output: ZkOutput) {
        let at = self.now();
        lock(&self.history)
            .complete(op, at, output)
            .unwrap_or_else(|e| panic!("recording the reply to {op:?}: {e}"));
    }

    /// Feeds a reply of `session` (request number `seq` in its issue order) to the session-order
    /// checker: `stat` for replies carrying one (of `path`), `write_zxid` for a write's own zxid.
    pub fn observe(
        &self,
        session: i64,
        seq: u64,
        path: &str,
        stat: Option<&Stat>,
        write_zxid: Option<i64>,
    ) {
        let mut obs = Observation::reply(ClientId(session as u64), seq);
        if let Some(stat) = stat {
            obs = obs.with_stat(path, stat.mzxid);
        }
        if let Some(zxid) = write_zxid {
            obs = obs.with_zxid(zxid);
        }
        let mut sessions = lock(&self.sessions);
        if let Err(violation) = sessions.0.observe(obs) {
            sessions.1.push(violation);
        }
    }

    /// Takes the history out (at the end of the run).
    pub fn take_history(&self) -> History<ZkOp, ZkOutput> {
        std::mem::take(&mut *lock(&self.history))
    }

    /// The session-order violations seen so far.
    pub fn session_violations(&self) -> Vec<SessionViolation> {
        lock(&self.sessions).1.clone()
    }
}

/// Locks a mutex even if a panicking client poisoned it (the panic is reported on its own).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
