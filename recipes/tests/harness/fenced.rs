//! Checking mutual exclusion through the server's own record rather than through timing: writes
//! made while holding (a lock, a lease, leadership) are guarded by the holder's node, a write whose
//! reply was lost is resolved by reading back after a `sync`, and every transition of a set of
//! election participants is logged so that "one leader at a time" and "tokens only go up" can be
//! checked afterwards.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::stream::{select_all, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zk_client::{Client, SessionState};
use zk_recipes::election::{LeaderLatch, LeaderSelector, Leadership};
use zk_recipes::fence::FencingToken;
use zk_recipes::state::{Changes, Ownership};
use zk_recipes::Error;

use super::within;

/// What became of a write made as a holder.
#[derive(Debug)]
pub enum Outcome {
    /// It took effect (its reply said so, or a read-back after a lost reply did).
    Applied,
    /// Ownership ended first (the guard's check failed, or the session expired): not applied.
    Lost,
    /// The server rejected it for another reason (nothing applied).
    Rejected(Error),
}

/// How to tell, after a lost reply, whether a write took effect.
#[derive(Debug, Clone, Copy)]
pub enum Probe<'a> {
    /// It created this node.
    Exists(&'a str),
    /// It deleted this node.
    Gone(&'a str),
    /// It created this node with this data (a per-attempt tag).
    Holds(&'a str, &'a [u8]),
}

impl Probe<'_> {
    fn path(&self) -> &str {
        match self {
            Probe::Exists(p) | Probe::Gone(p) | Probe::Holds(p, _) => p,
        }
    }
}

/// Whether the write `probe` describes has taken effect, as the leader sees it: `sync` (the
/// client's server catches up with every commit before it) then read. Retried across
/// connection loss and a new session (the question outlives the session).
pub async fn applied(client: &Client, probe: Probe<'_>) -> bool {
    within("resolving a write whose reply was lost", async {
        loop {
            let mut states = client.state_watcher();
            let _ = states.wait_for(|s| *s == SessionState::Connected).await;
            let synced = client.sync(probe.path());
            let read = client.get_data(probe.path());
            let result = match (synced.await, read.await) {
                (Ok(()), result) => result,
                (Err(e), _) => Err(e),
            };
            match (result, probe) {
                (Ok(_), Probe::Exists(_)) => return true,
                (Ok(_), Probe::Gone(_)) => return false,
                (Ok((data, _)), Probe::Holds(_, tag)) => return data == tag,
                (Err(zk_client::Error::NoNode), Probe::Gone(_)) => return true,
                (Err(zk_client::Error::NoNode), _) => return false,
                (Err(e), _) if e.is_retryable() || e == zk_client::Error::SessionExpired => {}
                (Err(e), _) => panic!("read back {}: {e}", probe.path()),
            }
        }
    })
    .await
}

/// Commits a holder's write: waits while ownership is unknown (disconnected), gives up once it is
/// lost, and resolves a lost reply with `probe` (trying again if the write did not take effect).
/// `commit` builds and sends the write; it fails with [`Error::Suspended`] while ownership is
/// unknown and [`Error::LockLost`] or [`Error::NotLeader`] once it is lost, as the recipes' guarded
/// writes do.
pub async fn commit_as_holder<F, Fut>(
    client: &Client,
    ownership: &mut watch::Receiver<Ownership>,
    commit: F,
    probe: Probe<'_>,
) -> Outcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    within("a holder's write", async {
        loop {
            if ownership
                .wait_for(|o| *o != Ownership::Unknown)
                .await
                .is_err()
            {
                return Outcome::Lost;
            }
            match commit().await {
                Ok(()) => return Outcome::Applied,
                Err(Error::Suspended) => {}
                Err(Error::LockLost(_) | Error::NotLeader) => return Outcome::Lost,
                Err(Error::Client(zk_client::Error::SessionExpired)) => return Outcome::Lost,
                Err(Error::Client(e)) if e.is_retryable() => {
                    if applied(client, probe).await {
                        return Outcome::Applied;
                    }
                }
                Err(e) => return Outcome::Rejected(e),
            }
        }
    })
    .await
}

/// Whether `outcome` is a rejected multi whose op `index` (counting the ops the test added)
/// failed with `error`.
pub fn op_failed(outcome: &Outcome, index: usize, error: zk_client::Error) -> bool {
    matches!(
        outcome,
        Outcome::Rejected(Error::Client(zk_client::Error::MultiFailed { index: i, error: e }))
            if *i == index && **e == error
    )
}

/// Safety violations seen by the workers, reported together at the end.
#[derive(Debug, Clone, Default)]
pub struct Violations(Arc<Mutex<Vec<String>>>);

impl Violations {
    pub fn report(&self, what: String) {
        tracing::error!(%what, "violation");
        self.0.lock().unwrap().push(what);
    }

    pub fn assert_none(&self) {
        let seen = self.0.lock().unwrap();
        assert!(seen.is_empty(), "{} violations: {seen:#?}", seen.len());
    }
}

/// Every leadership transition of a set of participants, in the order they arrived at one task
/// (each participant's own transitions in its order; across participants, the order they were
/// published in, give or take the scheduling of one task).
pub struct LeadershipLog {
    log: Arc<Mutex<Vec<(String, Leadership)>>>,
    task: JoinHandle<()>,
}

/// A participant whose transitions a [`LeadershipLog`] records.
pub trait Participant {
    fn participant_id(&self) -> String;
    fn transitions(&self) -> Changes<Leadership>;
}

impl Participant for LeaderLatch {
    fn participant_id(&self) -> String {
        self.id().to_owned()
    }
    fn transitions(&self) -> Changes<Leadership> {
        self.changes()
    }
}

impl Participant for LeaderSelector {
    fn participant_id(&self) -> String {
        self.id().to_owned()
    }
    fn transitions(&self) -> Changes<Leadership> {
        self.changes()
    }
}

impl LeadershipLog {
    /// Starts recording every transition of `participants` (from their current state on).
    pub fn start<P: Participant>(participants: &[&P]) -> Self {
        let streams = participants.iter().map(|p| {
            let id = p.participant_id();
            p.transitions().map(move |l| (id.clone(), l))
        });
        let mut all = select_all(streams);
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                while let Some(entry) = all.next().await {
                    log.lock().unwrap().push(entry);
                }
            }
        });
        LeadershipLog { log, task }
    }

    /// Waits until every participant's stream ended (call after closing them all), then checks:
    /// at most one participant leads at any point of the log; a new leader's token is greater
    /// than every earlier one; a leader that comes back after a suspension keeps its term's
    /// token or gets a greater one. Returns the log.
    ///
    /// For latches. A selector's leader reports giving up only after its node's deletion
    /// commits, just when the next leader is told it leads, so its log cannot show the order:
    /// use [`finish_terms`](Self::finish_terms) and check its fenced writes instead.
    pub async fn finish(self) -> Vec<(String, Leadership)> {
        let log = self.entries().await;
        check_leadership(&log);
        log
    }

    /// Waits until every participant's stream ended, then checks the terms: no two participants
    /// ever report the same token, and each participant's tokens never go down.
    pub async fn finish_terms(self) -> Vec<(String, Leadership)> {
        let log = self.entries().await;
        let mut owners = std::collections::BTreeMap::new();
        let mut last = std::collections::BTreeMap::new();
        for (i, (id, leadership)) in log.iter().enumerate() {
            let Some(token) = leadership.token() else {
                continue;
            };
            let owner = owners.entry(token).or_insert(id);
            assert_eq!(
                *owner, id,
                "{token:?} reported by two leaders (entry {i}): {log:#?}"
            );
            let previous = last.insert(id, token).unwrap_or(token);
            assert!(
                token >= previous,
                "{id}'s token went back (entry {i}): {log:#?}"
            );
        }
        log
    }

    async fn entries(self) -> Vec<(String, Leadership)> {
        within("the leadership log", self.task).await.unwrap();
        let log = self.log.lock().unwrap().clone();
        log
    }
}

/// The checks of [`LeadershipLog::finish`], on a finished log.
pub fn check_leadership(log: &[(String, Leadership)]) {
    let mut now: std::collections::BTreeMap<&str, &Leadership> = Default::default();
    let mut last_term: Option<(&str, FencingToken)> = None;
    for (i, (id, leadership)) in log.iter().enumerate() {
        now.insert(id, leadership);
        let leaders: Vec<&str> = now
            .iter()
            .filter(|(_, l)| l.is_leader())
            .map(|(id, _)| *id)
            .collect();
        assert!(
            leaders.len() <= 1,
            "two leaders at once ({leaders:?}) at entry {i}: {log:#?}"
        );
        if let Leadership::Leader { token } = leadership {
            if let Some((previous, previous_token)) = last_term {
                let ok = if previous == id.as_str() {
                    *token >= previous_token
                } else {
                    *token > previous_token
                };
                assert!(
                    ok,
                    "{id} leads with {token:?} after {previous} led with {previous_token:?} \
                     (entry {i}): {log:#?}"
                );
            }
            last_term = Some((id, *token));
        }
    }
}
