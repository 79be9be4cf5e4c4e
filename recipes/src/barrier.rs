//! Barriers: [`Barrier`] holds everyone back until it is removed (Curator's `DistributedBarrier`,
//! kazoo's `Barrier`); [`DoubleBarrier`] lets a fixed number of members enter together and leave
//! together (Curator's `DistributedDoubleBarrier`, kazoo's `DoubleBarrier`, the ZooKeeper recipe).
//!
//! ## Connection-state policy
//! Waiting survives disconnects (the watch is re-registered by the client) and session expiry
//! (the wait re-checks on the new session; a double-barrier member re-creates its node, since the
//! old one died with the session). Waits end only on success, on [`Error::Closed`], or when the
//! caller's timeout drops the future.

use futures::FutureExt;
use tracing::debug;
use zk_client::{Client, CreateMode, CreateOptions};

use crate::protected::{ensure_path, join, validate_path};
use crate::state::wait_connected;
use crate::Error;

/// The node whose creation tells double-barrier members that everyone has entered (the name
/// Curator's `DistributedDoubleBarrier` uses).
pub const READY_NODE: &str = "ready";

/// Whether a wait should retry after `e` (after the connection is back).
fn transient(e: &Error) -> bool {
    matches!(e, Error::Client(c) if c.is_retryable() || *c == zk_client::Error::SessionExpired)
}

/// A barrier node: while it exists, [`Barrier::wait`] blocks.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::barrier::Barrier;
/// let barrier = Barrier::new(&client, "/app/maintenance")?;
/// barrier.set().await?;       // coordinator: hold everyone
/// // workers: barrier.wait().await?;
/// barrier.remove().await?;    // coordinator: let them go
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// The barrier at `path`.
    pub fn new(client: &Client, path: &str) -> Result<Self, Error> {
        validate_path(path)?;
        Ok(Barrier {
            client: client.clone(),
            path: path.to_owned(),
        })
    }

    /// Raises the barrier (creates its node, and parents as containers). Idempotent.
    pub async fn set(&self) -> Result<(), Error> {
        let options = CreateOptions::persistent();
        loop {
            match self.client.create(&self.path, b"", &options).await {
                Ok(_) | Err(zk_client::Error::NodeExists) => return Ok(()),
                Err(zk_client::Error::NoNode) => {
                    let parent = self.path.rsplit_once('/').map_or("/", |(p, _)| p);
                    if !parent.is_empty() {
                        ensure_path(&self.client, parent).await?;
                    }
                }
                Err(e) if e.is_retryable() => wait_connected(&self.client, None).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the barrier, releasing every waiter. Idempotent.
    pub async fn remove(&self) -> Result<(), Error> {
        loop {
            match self.client.delete(&self.path, None).await {
                Ok(()) | Err(zk_client::Error::NoNode) => return Ok(()),
                Err(e) if e.is_retryable() => wait_connected(&self.client, None).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the barrier is up.
    pub async fn is_set(&self) -> Result<bool, Error> {
        Ok(self.client.exists(&self.path).await?.is_some())
    }

    /// Waits until the barrier is removed (returns at once if it is not up).
    pub async fn wait(&self) -> Result<(), Error> {
        loop {
            wait_connected(&self.client, None).await?;
            match self.client.exists_w(&self.path).await {
                Ok((None, _)) => return Ok(()),
                // Any event (deleted, changed, or the session ended): look again.
                Ok((Some(_), watcher)) => drop(watcher.await),
                Err(e) => {
                    let e = Error::from(e);
                    if !transient(&e) {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// A double barrier for `members` participants: [`DoubleBarrier::enter`] returns when all have
/// entered; [`Entered::leave`] returns when all have left.
///
/// Layout (as Curator's): each member's ephemeral node `path/<uuid>`; the last to arrive creates
/// `path/ready`, which wakes the others (each watched it before creating its own node, so none can
/// miss it). Leaving follows the ZooKeeper recipe: the lowest node waits for the highest to go;
/// the others delete themselves and wait for the lowest — no herd.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::barrier::DoubleBarrier;
/// let barrier = DoubleBarrier::new(&client, "/jobs/round-1", 3)?;
/// let entered = barrier.enter().await?; // all three are here
/// // ... compute ...
/// entered.leave().await?;               // all three are done
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    members: usize,
}

impl DoubleBarrier {
    /// A double barrier at `path` for `members` participants (at least 1).
    pub fn new(client: &Client, path: &str, members: usize) -> Result<Self, Error> {
        validate_path(path)?;
        if members == 0 {
            return Err(Error::InvalidArgument(
                "a double barrier needs at least one member".into(),
            ));
        }
        Ok(DoubleBarrier {
            client: client.clone(),
            path: path.to_owned(),
            members,
        })
    }

    /// Joins and waits until `members` participants have joined. Dropping the future before it
    /// completes removes this member's node.
    pub async fn enter(&self) -> Result<Entered, Error> {
        let name = uuid::Uuid::new_v4().to_string();
        let mine = join(&self.path, &name);
        let ready = join(&self.path, READY_NODE);
        let entered = Entered {
            client: self.client.clone(),
            path: self.path.clone(),
            name,
            armed: true,
        };
        loop {
            wait_connected(&self.client, None).await?;
            match self.try_enter(&mine, &ready).await {
                Ok(()) => return Ok(entered),
                Err(e) if transient(&e) => {
                    debug!(error = %e, "double barrier enter interrupted; retrying")
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_enter(&self, mine: &str, ready: &str) -> Result<(), Error> {
        // Watch `ready` before creating our node: whoever completes the group creates it after
        // seeing our node, so the watch cannot miss it.
        let (ready_stat, ready_watch) = self.client.exists_w(ready).await?;
        let ephemeral = CreateOptions::new(CreateMode::Ephemeral);
        match self.client.create(mine, b"", &ephemeral).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(zk_client::Error::NoNode) => {
                ensure_path(&self.client, &self.path).await?;
                return Err(zk_client::Error::ConnectionLoss.into()); // retry from the top
            }
            Err(e) => return Err(e.into()),
        }
        if ready_stat.is_some() {
            return Ok(());
        }
        let count = self
            .client
            .get_children(&self.path)
            .await?
            .iter()
            .filter(|c| *c != READY_NODE)
            .count();
        if count >= self.members {
            match self
                .client
                .create(ready, b"", &CreateOptions::persistent())
                .await
            {
                Ok(_) | Err(zk_client::Error::NodeExists) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        let event = ready_watch.await;
        if event.event_type == zk_client::EventType::NodeCreated {
            return Ok(());
        }
        // A session event (expired: our node is gone too) or a spurious one: start over.
        match event.state {
            zk_client::KeeperState::Closed | zk_client::KeeperState::AuthFailed => {
                Err(Error::Closed)
            }
            _ => Err(zk_client::Error::SessionExpired.into()),
        }
    }
}

/// Membership of an entered [`DoubleBarrier`]. [`Entered::leave`] waits for everyone to leave;
/// dropping it leaves without waiting (deletes this member's node in the background).
#[derive(Debug)]
#[must_use = "dropping it leaves the barrier at once"]
pub struct Entered {
    client: Client,
    path: String,
    name: String,
    armed: bool,
}

impl Entered {
    /// Leaves and waits until every member has left.
    pub async fn leave(mut self) -> Result<(), Error> {
        let ready = join(&self.path, READY_NODE);
        let mine = join(&self.path, &self.name);
        // Nobody can still be waiting for `ready` (all saw it or its creation event), so it goes
        // first, which lets the barrier path be used for another round.
        loop {
            wait_connected(&self.client, None).await?;
            match self.try_leave(&ready, &mine).await {
                Ok(()) => {
                    self.armed = false;
                    return Ok(());
                }
                Err(e) if transient(&e) => {
                    debug!(error = %e, "double barrier leave interrupted; retrying")
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_leave(&self, ready: &str, mine: &str) -> Result<(), Error> {
        match self.client.delete(ready, None).await {
            Ok(()) | Err(zk_client::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            let mut members: Vec<String> = match self.client.get_children(&self.path).await {
                Ok(c) => c.into_iter().filter(|c| c != READY_NODE).collect(),
                Err(zk_client::Error::NoNode) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            members.sort();
            let (Some(lowest), Some(highest)) = (members.first(), members.last()) else {
                return Ok(());
            };
            let present = members.contains(&self.name);
            if members.len() == 1 && present {
                return self.delete(mine).await;
            }
            let watch = if present && *lowest == self.name {
                // The lowest leaves last: wait for the highest to go.
                join(&self.path, highest)
            } else {
                if present {
                    self.delete(mine).await?;
                }
                join(&self.path, lowest)
            };
            if let (Some(_), watcher) = self.client.exists_w(&watch).await? {
                let event = watcher.await;
                if event.is_session_event() {
                    return Err(zk_client::Error::SessionExpired.into());
                }
            }
        }
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        match self.client.delete(path, None).await {
            Ok(()) | Err(zk_client::Error::NoNode) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let delete = self.client.delete(&join(&self.path, &self.name), None);
            runtime.spawn(delete.map(drop));
        }
    }
}
