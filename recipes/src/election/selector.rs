//! [`LeaderSelector`]: take leadership, run a task, give it up. Node-compatible with Curator's
//! `LeaderSelector` (an `InterProcessMutex` at the election path whose nodes carry the participant
//! id), so Java and Rust participants take turns on one election.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn, Instrument};
use zk_client::Client;

use super::Leadership;
use crate::fence::{FencingToken, GuardedWrite};
use crate::lock::{FairLock, LockGuard};
use crate::state::{Changes, Ownership, Publisher};
use crate::Error;

/// How long the selector waits before queueing again after an unexpected error.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// What the leader's task gets: its term's fencing token, a live view of its ownership, and
/// guarded writes.
#[derive(Debug)]
pub struct LeaderContext {
    client: Client,
    token: FencingToken,
    node: String,
    version: i32,
    ownership: watch::Receiver<Ownership>,
}

impl LeaderContext {
    /// The client the selector uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// This term's fencing token (strictly greater than every earlier leader's).
    pub fn token(&self) -> FencingToken {
        self.token
    }

    /// The ownership of the leader's node right now. While it is [`Ownership::Unknown`]
    /// (disconnected), do not act as leader; on [`Ownership::Lost`] the task is cancelled.
    pub fn ownership(&self) -> Ownership {
        *self.ownership.borrow()
    }

    /// Waits until ownership is [`Ownership::Owned`] (returns at once if it is).
    pub async fn owned(&mut self) {
        let _ = self.ownership.wait_for(|o| *o == Ownership::Owned).await;
    }

    /// A `watch` receiver of the ownership.
    pub fn ownership_watch(&self) -> watch::Receiver<Ownership> {
        self.ownership.clone()
    }

    /// A transaction that commits only while this leader's node exists (see [`GuardedWrite`]).
    pub fn guarded_write(&self) -> Result<GuardedWrite, Error> {
        match self.ownership() {
            Ownership::Owned => Ok(GuardedWrite::new(&self.client, &self.node, self.version)),
            Ownership::Unknown => Err(Error::Suspended),
            Ownership::Lost => Err(Error::NotLeader),
        }
    }
}

/// Builds a [`LeaderSelector`].
#[derive(Debug, Clone)]
pub struct LeaderSelectorBuilder {
    client: Client,
    path: String,
    id: String,
    requeue: bool,
    cancel_on_suspend: bool,
}

impl LeaderSelectorBuilder {
    /// The participant id stored in this participant's node (default: empty).
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }

    /// Whether to queue again after the task returns (Curator's `autoRequeue`; default `true`).
    /// Without it the selector closes once its task has run to completion.
    pub fn with_requeue(mut self, requeue: bool) -> Self {
        self.requeue = requeue;
        self
    }

    /// Whether to cancel the task as soon as the connection is suspended (Curator's default
    /// `LeaderSelectorListenerAdapter` behaviour), instead of telling it through
    /// [`LeaderContext::ownership`] and cancelling only when leadership is lost. Default `false`.
    pub fn with_cancel_on_suspend(mut self, cancel: bool) -> Self {
        self.cancel_on_suspend = cancel;
        self
    }

    /// Starts queueing for leadership; `task` runs each time this participant becomes leader,
    /// and leadership is given up when it returns. Must be called within a tokio runtime.
    pub fn start<F, Fut>(self, task: F) -> Result<LeaderSelector, Error>
    where
        F: Fn(LeaderContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let lock = FairLock::new(&self.client, &self.path)?.with_data(self.id.as_bytes());
        let publisher = Publisher::new(Leadership::Joining);
        let span = tracing::info_span!("leader_selector", path = %self.path, id = %self.id);
        let handle = tokio::spawn(
            run(self.clone(), lock, publisher.clone(), Arc::new(task)).instrument(span),
        );
        Ok(LeaderSelector {
            client: self.client,
            path: self.path,
            id: self.id,
            publisher,
            task: handle,
        })
    }
}

/// A participant that takes leadership to run a task, then gives it up (Curator's
/// `LeaderSelector`).
///
/// It queues on a [`FairLock`] at the election path (Curator's layout: `_c_<guid>-lock-<seq>`,
/// data = participant id). When it gets the lock it runs the task with a [`LeaderContext`];
/// when the task returns the lock is released (and, with requeue, the participant queues again).
/// If leadership is lost (session expired, node deleted) the task is **cancelled** (dropped at
/// its next `.await`), [`Leadership::Lost`] is reported, and the participant queues again with a
/// new node. While suspended the task is told through [`LeaderContext::ownership`] (or cancelled,
/// with [`LeaderSelectorBuilder::with_cancel_on_suspend`]).
///
/// While queued it reports [`Leadership::Follower`] with `leader: None`; read
/// [`participants`](Self::participants) to learn who leads.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::election::LeaderSelector;
///
/// let selector = LeaderSelector::builder(&client, "/app/scheduler")
///     .with_id("node-a")
///     .start(|ctx| async move {
///         println!("leading, token {}", ctx.token());
///         // do leader work; return to hand leadership to the next participant
///     })?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LeaderSelector {
    client: Client,
    path: String,
    id: String,
    publisher: Arc<Publisher<Leadership>>,
    task: JoinHandle<()>,
}

impl LeaderSelector {
    /// A builder for a selector at `path`.
    pub fn builder(client: &Client, path: &str) -> LeaderSelectorBuilder {
        LeaderSelectorBuilder {
            client: client.clone(),
            path: path.to_owned(),
            id: String::new(),
            requeue: true,
            cancel_on_suspend: false,
        }
    }

    /// This participant's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current leadership.
    pub fn leadership(&self) -> Leadership {
        self.publisher.get()
    }

    /// A `watch` receiver of the leadership.
    pub fn watch(&self) -> watch::Receiver<Leadership> {
        self.publisher.watch()
    }

    /// Every leadership transition, starting with the current one.
    pub fn changes(&self) -> Changes<Leadership> {
        self.publisher.changes()
    }

    /// The participants' ids in queue order (the first leads), read now.
    pub async fn participants(&self) -> Result<Vec<String>, Error> {
        super::latch::participants(&self.client, &self.path).await
    }

    /// Leaves the election: cancels the task if running and waits for it to stop; this
    /// participant's node is deleted in the background.
    pub async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        self.publisher.publish(Leadership::Closed);
        self.publisher.close();
    }
}

impl Drop for LeaderSelector {
    /// Aborting the loop drops the task (cancelling it) and the lock guard (deleting the node).
    fn drop(&mut self) {
        self.task.abort();
        self.publisher.publish(Leadership::Closed);
        self.publisher.close();
    }
}

/// Aborts a spawned task when dropped (so cancelling the selector loop cancels the leader task).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a term ended.
enum Term {
    Finished,
    Lost,
    Suspended,
}

async fn run<F, Fut>(
    config: LeaderSelectorBuilder,
    lock: FairLock,
    publisher: Arc<Publisher<Leadership>>,
    task: Arc<F>,
) where
    F: Fn(LeaderContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        publisher.publish(Leadership::Follower { leader: None });
        let guard: LockGuard = match lock.acquire().await {
            Ok(guard) => guard,
            Err(Error::Closed | Error::Client(zk_client::Error::Closed)) => break,
            Err(e) => {
                warn!(error = %e, "could not queue for leadership; retrying");
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        };
        let token = guard.fencing_token();
        let mut ownership = guard.ownership_watch();
        publisher.publish(Leadership::Leader { token });
        info!(path = guard.path(), %token, "leader");
        let context = LeaderContext {
            client: config.client.clone(),
            token,
            node: guard.path().to_owned(),
            version: guard.node_version(),
            ownership: ownership.clone(),
        };
        let mut work = AbortOnDrop(tokio::spawn((task)(context)));
        let term = loop {
            tokio::select! {
                _ = &mut work.0 => break Term::Finished,
                changed = ownership.changed() => {
                    let now = *ownership.borrow_and_update();
                    match (changed, now) {
                        (Err(_), _) | (_, Ownership::Lost) => break Term::Lost,
                        (_, Ownership::Unknown) => {
                            publisher.publish(Leadership::Suspended);
                            if config.cancel_on_suspend {
                                break Term::Suspended;
                            }
                        }
                        (_, Ownership::Owned) => {
                            publisher.publish(Leadership::Leader { token });
                        }
                    }
                }
            }
        };
        drop(work);
        match term {
            Term::Finished => {
                let _ = guard.release().await;
                info!(%token, "leadership given up");
                if !config.requeue {
                    break;
                }
            }
            Term::Suspended => {
                info!(%token, "connection suspended: task cancelled, leadership given up");
                let _ = guard.release().await;
            }
            Term::Lost => {
                info!(%token, "leadership lost: task cancelled");
                publisher.publish(Leadership::Lost);
            }
        }
    }
    publisher.publish(Leadership::Closed);
    publisher.close();
}
