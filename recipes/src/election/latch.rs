//! [`LeaderLatch`]: join an election and stay in it until closed; the participant with the lowest
//! node leads. Node-compatible with Curator's `LeaderLatch` (`<path>/_c_<guid>-latch-<seq>`, data =
//! participant id), so Java and Rust participants elect one leader among them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn, Instrument};
use zk_client::{Client, CreateMode, EventType, OneshotWatcher};

use super::Leadership;
use crate::fence::{FencingToken, GuardedWrite};
use crate::lock::internals::watch_ended;
use crate::protected::{
    create_protected, join, new_guid, protected_prefix, sorted_by_sequence, validate_path, Cleanup,
    OwnNode, Target,
};
use crate::state::{until, wait_connected, Changes, Connection, Publisher};
use crate::Error;

/// The node name after the protected prefix: Curator's `LeaderLatch.LOCK_NAME`.
pub const LATCH_NAME: &str = "latch-";

/// How long the latch waits before trying again after an unexpected error (e.g. NoAuth on the
/// election path), so a persistent failure is logged at a bounded rate instead of spinning.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// A participant in a leader election that stays in it until closed (Curator's `LeaderLatch`).
///
/// Started with [`LeaderLatch::start`], it runs in the background: it creates a protected
/// ephemeral-sequential node carrying its id, leads while its node is the lowest, and otherwise
/// watches only its predecessor. Its [`Leadership`] is observable as a `watch` channel and a
/// stream of every transition:
/// - `Disconnected` → [`Leadership::Suspended`] at once (a leader must stop acting as leader);
/// - reconnected in the same session → the same node is re-verified (never deleted and
///   re-created: that is how Curator's latch produced two leaders, CURATOR-620/653/696), then
///   `Leader` or `Follower` again;
/// - session expired, or our node deleted → [`Leadership::Lost`], then it rejoins with a new node
///   in the new session (`Joining`, then `Leader`/`Follower`).
///
/// The leader's [`FencingToken`] (its node's czxid) strictly increases across leaders.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::election::LeaderLatch;
///
/// let latch = LeaderLatch::start(&client, "/app/election", "worker-1")?;
/// let token = latch.wait_leader().await?;
/// println!("leading with token {token}");
/// latch.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LeaderLatch {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    client: Client,
    path: String,
    id: String,
    publisher: Arc<Publisher<Leadership>>,
    node: Mutex<Option<OwnNode>>,
}

impl LeaderLatch {
    /// Joins the election at `path` as participant `id` (stored in the node, as Curator does).
    /// Must be called within a tokio runtime.
    pub fn start(client: &Client, path: &str, id: &str) -> Result<Self, Error> {
        validate_path(path)?;
        let shared = Arc::new(Shared {
            client: client.clone(),
            path: path.to_owned(),
            id: id.to_owned(),
            publisher: Publisher::new(Leadership::Joining),
            node: Mutex::new(None),
        });
        let span = tracing::info_span!("leader_latch", path, id);
        let task = tokio::spawn(run(shared.clone()).instrument(span));
        Ok(LeaderLatch { shared, task })
    }

    /// This participant's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The current leadership.
    pub fn leadership(&self) -> Leadership {
        self.shared.publisher.get()
    }

    /// Whether this participant currently leads (connected and verified).
    pub fn is_leader(&self) -> bool {
        self.leadership().is_leader()
    }

    /// A `watch` receiver of the leadership (latest value).
    pub fn watch(&self) -> watch::Receiver<Leadership> {
        self.shared.publisher.watch()
    }

    /// Every leadership transition, starting with the current one.
    pub fn changes(&self) -> Changes<Leadership> {
        self.shared.publisher.changes()
    }

    /// Waits until this participant leads; returns its fencing token.
    pub async fn wait_leader(&self) -> Result<FencingToken, Error> {
        self.wait_leader_until(None).await
    }

    /// Waits until this participant leads, or fails with [`Error::Timeout`].
    pub async fn wait_leader_timeout(&self, timeout: Duration) -> Result<FencingToken, Error> {
        self.wait_leader_until(Some(Instant::now() + timeout)).await
    }

    async fn wait_leader_until(&self, deadline: Option<Instant>) -> Result<FencingToken, Error> {
        let mut rx = self.watch();
        until(deadline, async move {
            let state = rx
                .wait_for(|l| l.is_leader() || *l == Leadership::Closed)
                .await
                .map_err(|_| Error::Closed)?;
            state.token().ok_or(Error::Closed)
        })
        .await
    }

    /// A transaction that commits only while this participant's node exists, i.e. while it is
    /// the leader (see [`GuardedWrite`]). [`Error::NotLeader`] or [`Error::Suspended`] if it is
    /// not currently the verified leader.
    pub fn guarded_write(&self) -> Result<GuardedWrite, Error> {
        match self.leadership() {
            Leadership::Leader { .. } => {}
            Leadership::Suspended => return Err(Error::Suspended),
            _ => return Err(Error::NotLeader),
        }
        let node = self.shared.node.lock().unwrap_or_else(|e| e.into_inner());
        let node = node.as_ref().ok_or(Error::NotLeader)?;
        Ok(GuardedWrite::new(
            &self.shared.client,
            &node.path,
            node.stat.version,
        ))
    }

    /// This participant's node, if it has one now.
    pub fn node_path(&self) -> Option<String> {
        let node = self.shared.node.lock().unwrap_or_else(|e| e.into_inner());
        node.as_ref().map(|n| n.path.clone())
    }

    /// The participants' ids in election order (the first leads), read now.
    pub async fn participants(&self) -> Result<Vec<String>, Error> {
        participants(&self.shared.client, &self.shared.path).await
    }

    /// Leaves the election: stops the background task and deletes this participant's node
    /// (waiting for that while the session lives). Leadership becomes [`Leadership::Closed`].
    pub async fn close(self) {
        self.task.abort();
        let node = self
            .shared
            .node
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(node) = node {
            crate::protected::delete_own(
                &self.shared.client,
                Target::Path(node.path),
                node.session,
            )
            .await;
        }
        self.shared.publisher.publish(Leadership::Closed);
        self.shared.publisher.close();
    }
}

impl Drop for LeaderLatch {
    /// Aborting the task drops its cleanup, which deletes the node in the background.
    fn drop(&mut self) {
        self.task.abort();
        self.shared.publisher.publish(Leadership::Closed);
        self.shared.publisher.close();
    }
}

/// The ids stored in the election's nodes, in election order (shared with [`super::LeaderSelector`]).
pub(crate) async fn participants(client: &Client, path: &str) -> Result<Vec<String>, Error> {
    participants_with(client, path, &[LATCH_NAME, crate::lock::LOCK_NAME]).await
}

async fn participants_with(
    client: &Client,
    path: &str,
    markers: &[&str],
) -> Result<Vec<String>, Error> {
    let children = match client.get_children(path).await {
        Ok(children) => children,
        Err(zk_client::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut ids = Vec::new();
    for name in sorted_by_sequence(children, markers) {
        match client.get_data(&join(path, &name)).await {
            Ok((data, _)) => ids.push(String::from_utf8_lossy(&data).into_owned()),
            Err(zk_client::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ids)
}

/// How one term of participation (one node) ended.
enum End {
    Lost,
    Closed,
}

async fn run(shared: Arc<Shared>) {
    let client = &shared.client;
    loop {
        shared.publisher.publish(Leadership::Joining);
        if wait_connected(client, None).await.is_err() {
            break;
        }
        let guid = new_guid();
        let mut cleanup = Cleanup::new(
            client,
            Target::Prefix {
                dir: shared.path.clone(),
                prefix: protected_prefix(&guid),
            },
        );
        let created = create_protected(
            client,
            &shared.path,
            &guid,
            LATCH_NAME,
            shared.id.as_bytes(),
            CreateMode::EphemeralSequential,
            None,
        )
        .await;
        let node = match created {
            Ok(node) => node,
            Err(Error::Client(zk_client::Error::SessionExpired)) => continue,
            Err(Error::Closed | Error::Client(zk_client::Error::Closed)) => break,
            Err(e) => {
                warn!(error = %e, "could not join the election; retrying");
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        };
        cleanup.created(&node);
        info!(path = %node.path, "joined the election");
        *shared.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node.clone());
        let end = follow(&shared, &node).await;
        *shared.node.lock().unwrap_or_else(|e| e.into_inner()) = None;
        drop(cleanup); // deletes the node if it still exists in our session
        match end {
            End::Lost => {
                info!(path = %node.path, "leadership lost; rejoining with a new node");
                shared.publisher.publish(Leadership::Lost);
            }
            End::Closed => break,
        }
    }
    shared.publisher.publish(Leadership::Closed);
    shared.publisher.close();
}

/// What a check of the election found.
enum Check {
    Lost,
    /// Our predecessor vanished between listing and watching: look again.
    Again,
    Leader(OneshotWatcher),
    Follower(Option<String>, OneshotWatcher),
}

/// Follows the election with `node` until the node is lost or the client closes.
///
/// The state stream is polled beside every check, so a leader cut off from the server is told
/// `Suspended` at once, even while a check waits for a connection.
async fn follow(shared: &Shared, node: &OwnNode) -> End {
    let client = &shared.client;
    let mut states = client.state_stream();
    let mut watcher = None;
    let mut need_check = true;
    let mut backoff: Option<Instant> = None;
    loop {
        let checking = async {
            if need_check && Connection::from(client.state()) == Connection::Connected {
                if let Some(until) = backoff {
                    tokio::time::sleep_until(until).await;
                }
                check(shared, node).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            result = checking => {
                need_check = false;
                backoff = None;
                match result {
                    Ok(Check::Lost) => return End::Lost,
                    Ok(Check::Again) => need_check = true,
                    Ok(Check::Leader(w)) => {
                        let token = FencingToken(node.stat.czxid);
                        if shared.publisher.publish(Leadership::Leader { token }) {
                            info!(path = %node.path, %token, "leader");
                        }
                        watcher = Some(w);
                    }
                    Ok(Check::Follower(leader, w)) => {
                        shared.publisher.publish(Leadership::Follower { leader });
                        watcher = Some(w);
                    }
                    // Checked again when the connection comes back.
                    Err(Error::Client(e)) if e.is_retryable() => {}
                    Err(Error::Client(zk_client::Error::SessionExpired)) => return End::Lost,
                    Err(Error::Closed | Error::Client(zk_client::Error::Closed)) => {
                        return End::Closed
                    }
                    Err(e) => {
                        warn!(error = %e, "election check failed; retrying");
                        backoff = Some(Instant::now() + RETRY_BACKOFF);
                        need_check = true;
                    }
                }
            }
            event = async { watcher.as_mut().expect("guarded").await }, if watcher.is_some() => {
                watcher = None;
                // A watch ended by expiry: the state stream tells what happened.
                if !(event.event_type == EventType::None && watch_ended(event.state)) {
                    need_check = true;
                }
            }
            state = states.next() => match state.map(Connection::from) {
                Some(Connection::Suspended) => {
                    need_check = false;
                    if shared.publisher.publish(Leadership::Suspended) {
                        info!("connection suspended: leadership unknown");
                    }
                }
                Some(Connection::Connected) => {
                    if client.session_id() != node.session {
                        return End::Lost;
                    }
                    need_check = true;
                }
                Some(Connection::Lost) => return End::Lost,
                Some(Connection::Closed) | None => return End::Closed,
            },
        }
    }
}

async fn check(shared: &Shared, node: &OwnNode) -> Result<Check, Error> {
    let client = &shared.client;
    if client.session_id() != node.session {
        return Ok(Check::Lost);
    }
    let children = match client.get_children(&shared.path).await {
        Ok(children) => children,
        Err(zk_client::Error::NoNode) => return Ok(Check::Lost),
        Err(e) => return Err(e.into()),
    };
    if client.session_id() != node.session {
        return Ok(Check::Lost);
    }
    let sorted = sorted_by_sequence(children, &[LATCH_NAME]);
    let Some(ours) = sorted.iter().position(|c| c == node.name()) else {
        return Ok(Check::Lost);
    };
    if ours == 0 {
        // Watch our own node: its deletion (by an operator, or expiry) ends the term.
        return match client.exists_w(&node.path).await? {
            (Some(stat), w) if stat.czxid == node.stat.czxid => Ok(Check::Leader(w)),
            _ => Ok(Check::Lost),
        };
    }
    let predecessor = join(&shared.path, &sorted[ours - 1]);
    let (stat, watcher) = client.exists_w(&predecessor).await?;
    if stat.is_none() {
        return Ok(Check::Again);
    }
    let leader = match client.get_data(&join(&shared.path, &sorted[0])).await {
        Ok((data, _)) => Some(String::from_utf8_lossy(&data).into_owned()),
        Err(_) => None,
    };
    Ok(Check::Follower(leader, watcher))
}
