//! [`Registration`]: one instance's node, kept registered across reconnects and session expiry.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tracing::{debug, info, warn, Instrument};
use zk_client::{Client, CreateMode, CreateOptions, SessionState};

use super::{ServiceInstance, ServiceType};
use crate::protected::ensure_path;
use crate::state::wait_connected;
use crate::task::AbortOnDrop;
use crate::Error;

/// How many times a registration write is retried across connection loss before the error is
/// returned (each try first waits for the connection).
pub(crate) const MAX_REGISTER_ATTEMPTS: usize = 10;

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    instance: Mutex<ServiceInstance>,
}

impl Inner {
    fn instance(&self) -> ServiceInstance {
        self.instance
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes sure our node exists in the current session with our data: creates it (parents as
    /// containers), or replaces a node left by an earlier session of ours (Curator deletes and
    /// re-creates too, so watchers see the change).
    async fn ensure(&self) -> Result<(), Error> {
        let mut last = None;
        for _ in 0..MAX_REGISTER_ATTEMPTS {
            wait_connected(&self.client, None).await?;
            match self.try_ensure().await {
                Ok(()) => return Ok(()),
                Err(Error::Client(e))
                    if e.is_retryable() || e == zk_client::Error::SessionExpired =>
                {
                    debug!(path = %self.path, error = %e, "registration interrupted; retrying");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Client(
            last.unwrap_or(zk_client::Error::ConnectionLoss),
        ))
    }

    async fn try_ensure(&self) -> Result<(), Error> {
        let instance = self.instance();
        let data = instance.to_json();
        let mode = match instance.service_type {
            ServiceType::Dynamic => CreateMode::Ephemeral,
            _ => CreateMode::Persistent,
        };
        let session = self.client.session_id().0;
        loop {
            match self
                .client
                .create(&self.path, &data, &CreateOptions::new(mode))
                .await
            {
                Ok(_) => return Ok(()),
                Err(zk_client::Error::NoNode) => {
                    let parent = self.path.rsplit_once('/').map_or("/", |(p, _)| p);
                    ensure_path(&self.client, parent).await?;
                }
                Err(zk_client::Error::NodeExists) => {
                    let (current, stat) = match self.client.get_data(&self.path).await {
                        Ok(found) => found,
                        Err(zk_client::Error::NoNode) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    let ours = mode == CreateMode::Persistent || stat.ephemeral_owner == session;
                    if ours {
                        // Ours already (a reconnect in the same session, a retried create that
                        // had been applied, or a persistent node): make sure it holds the current
                        // data, without a write (and a change event for every consumer) if it does.
                        if current != data {
                            self.client
                                .set_data(&self.path, &data, Some(stat.version))
                                .await?;
                        }
                        return Ok(());
                    }
                    info!(path = %self.path, owner = stat.ephemeral_owner, "replacing a stale registration node");
                    match self.client.delete(&self.path, Some(stat.version)).await {
                        Ok(()) | Err(zk_client::Error::NoNode | zk_client::Error::BadVersion) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A registered instance. While it lives, the instance's node is kept in ZooKeeper: after every
/// reconnect it is checked, and after a session expiry (which deletes ephemeral nodes) it is
/// created again in the new session, as Curator's `ServiceDiscoveryImpl` re-registers.
///
/// Dropping it removes the node in the background; [`Registration::unregister`] does it and
/// waits. If the process dies, the node goes when the server expires its session, so consumers
/// drop the instance within the session timeout.
#[derive(Debug)]
pub struct Registration {
    inner: Arc<Inner>,
    task: Option<AbortOnDrop>,
}

impl Registration {
    pub(crate) async fn start(
        client: &Client,
        path: String,
        instance: ServiceInstance,
    ) -> Result<Registration, Error> {
        let inner = Arc::new(Inner {
            client: client.clone(),
            path,
            instance: Mutex::new(instance),
        });
        // If this future is dropped before the registration is handed out, delete what we made.
        let mut guard = DeleteOnDrop(Some(inner.clone()));
        let states = client.state_stream();
        inner.ensure().await?;
        info!(path = %inner.path, "registered");
        let span = tracing::debug_span!("registration", path = %inner.path);
        let task = AbortOnDrop::spawn(keep_registered(inner.clone(), states).instrument(span));
        guard.0 = None;
        Ok(Registration {
            inner,
            task: Some(task),
        })
    }

    /// The node's path (`base/<name>/<id>`).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The registered instance, as last written.
    pub fn instance(&self) -> ServiceInstance {
        self.inner.instance()
    }

    /// Replaces the instance's data (Curator's `updateService`); later re-registrations use it.
    /// Its name and id must not change.
    pub async fn update(&self, instance: ServiceInstance) -> Result<(), Error> {
        let current = self.inner.instance();
        if (instance.name.as_str(), instance.id.as_str())
            != (current.name.as_str(), current.id.as_str())
        {
            return Err(Error::InvalidArgument(
                "an update must keep the instance's name and id".into(),
            ));
        }
        let data = instance.to_json();
        *self
            .inner
            .instance
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = instance;
        let policy = zk_client::RetryPolicy::default();
        zk_client::retry(&policy, || {
            self.inner.client.set_data(&self.inner.path, &data, None)
        })
        .await?;
        Ok(())
    }

    /// Stops re-registering and deletes the node, waiting for the server to confirm (retried
    /// across connection loss).
    pub async fn unregister(mut self) -> Result<(), Error> {
        self.task.take();
        let inner = self.inner.clone();
        delete(&inner).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.task.take().is_some() {
            spawn_delete(self.inner.clone());
        }
    }
}

struct DeleteOnDrop(Option<Arc<Inner>>);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            spawn_delete(inner);
        }
    }
}

fn spawn_delete(inner: Arc<Inner>) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                if let Err(e) = delete(&inner).await {
                    warn!(path = %inner.path, error = %e, "could not unregister; the node goes with the session");
                }
            });
        }
        Err(_) => {
            warn!(path = %inner.path, "no runtime to unregister; the node goes with the session")
        }
    }
}

async fn delete(inner: &Inner) -> Result<(), Error> {
    let policy = zk_client::RetryPolicy::default();
    match zk_client::retry(&policy, || inner.client.delete(&inner.path, None)).await {
        Ok(()) | Err(zk_client::Error::NoNode) => {
            info!(path = %inner.path, "unregistered");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Re-checks the node after every reconnect and re-creates it in every new session.
async fn keep_registered(inner: Arc<Inner>, mut states: zk_client::StateStream) {
    let mut expired = false;
    while let Some(state) = states.next().await {
        match state {
            SessionState::Expired => {
                warn!("session expired: the instance is unregistered until the new session re-registers it");
                expired = true;
            }
            SessionState::Connected => {
                let why = if expired {
                    "new session"
                } else {
                    "reconnected"
                };
                expired = false;
                match inner.ensure().await {
                    Ok(()) => info!(why, "registration verified"),
                    Err(e) => {
                        warn!(why, error = %e, "could not re-register; will try after the next reconnect")
                    }
                }
            }
            SessionState::Closed | SessionState::AuthFailed => return,
            SessionState::Disconnected | SessionState::ConnectedReadOnly => {}
        }
    }
}
