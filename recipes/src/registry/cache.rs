//! [`ServiceCache`]: the live list of a service's instances, and [`ServiceProvider`]: a cache
//! plus a [`Balancer`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::warn;

use super::{Balancer, ServiceInstance};
use crate::cache::{CacheState, ChildData, TreeCache};
use crate::Error;

/// A live, local list of the instances of one service, kept by a [`TreeCache`] of
/// `base/<name>` limited to its children (a persistent-recursive watch on 3.6+ servers, child and
/// data watches on older ones). An instance whose node disappears (unregistered, or its session
/// expired because its process died) leaves the list as soon as the server deletes the node.
///
/// Nodes that do not parse as a [`ServiceInstance`] are skipped with a warning.
#[derive(Debug, Clone)]
pub struct ServiceCache {
    name: Arc<str>,
    dir: Arc<str>,
    tree: TreeCache,
    /// The parsed list and the tree version it was parsed at.
    parsed: Arc<Mutex<(u64, Arc<Vec<ServiceInstance>>)>>,
}

impl ServiceCache {
    pub(crate) fn new(name: &str, dir: String, tree: TreeCache) -> Self {
        ServiceCache {
            name: name.into(),
            dir: dir.into(),
            tree,
            parsed: Arc::new(Mutex::new((u64::MAX, Arc::new(Vec::new())))),
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current instances, sorted by id (re-parsed only after a change).
    pub fn instances(&self) -> Arc<Vec<ServiceInstance>> {
        let version = self.tree.version();
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.0 != version {
            *parsed = (version, Arc::new(self.parse()));
        }
        parsed.1.clone()
    }

    fn parse(&self) -> Vec<ServiceInstance> {
        parse_instances(&self.dir, &self.tree.snapshot())
    }

    /// Whether the list mirrors the server right now (see [`CacheState`]): while suspended it is
    /// the last known list.
    pub fn state(&self) -> CacheState {
        self.tree.state()
    }

    /// Waits until `condition` holds for the instance list (checked now and after every change).
    /// Bound it with a timeout.
    pub async fn wait_until<F>(&self, mut condition: F) -> Result<(), Error>
    where
        F: FnMut(&[ServiceInstance]) -> bool,
    {
        self.tree
            .wait_until(|nodes| condition(&parse_instances(&self.dir, nodes)))
            .await
    }

    /// The underlying tree cache (for its event stream).
    pub fn tree(&self) -> &TreeCache {
        &self.tree
    }
}

/// The instances among the children of `dir` in `nodes`, sorted by id.
fn parse_instances(dir: &str, nodes: &BTreeMap<String, ChildData>) -> Vec<ServiceInstance> {
    let below = format!("{dir}/");
    let mut instances: Vec<ServiceInstance> = nodes
        .range(below.clone()..)
        .take_while(|(path, _)| path.starts_with(&below))
        .filter(|(path, _)| !path[below.len()..].contains('/'))
        .filter_map(
            |(path, node)| match ServiceInstance::from_json(&node.data) {
                Ok(instance) => Some(instance),
                Err(e) => {
                    warn!(%path, error = %e, "skipping an instance node that does not parse");
                    None
                }
            },
        )
        .collect();
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    instances
}

/// Picks instances of one service for requests: a [`ServiceCache`] plus a [`Balancer`]
/// (Curator's `ServiceProvider`). Cheap to clone; clones share the balancer's state.
///
/// ```no_run
/// # async fn f(registry: zk_recipes::registry::ServiceRegistry) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::registry::Strategy;
/// let provider = registry.provider("echo", Strategy::RoundRobin).await?;
/// if let Some(instance) = provider.pick() {
///     let addr = instance.socket_addr_string().unwrap_or_default();
///     // ... call it; after a failure:
///     provider.note_error(&instance);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    cache: ServiceCache,
    balancer: Arc<Balancer>,
}

impl ServiceProvider {
    pub(crate) fn new(cache: ServiceCache, balancer: Balancer) -> Self {
        ServiceProvider {
            cache,
            balancer: Arc::new(balancer),
        }
    }

    /// An instance chosen by the strategy among the enabled instances not marked down; `None`
    /// if there is none.
    pub fn pick(&self) -> Option<ServiceInstance> {
        self.balancer.pick(&self.cache.instances())
    }

    /// Records a failed request to `instance` (see [`DownPolicy`](super::DownPolicy)).
    pub fn note_error(&self, instance: &ServiceInstance) {
        self.balancer.note_error(instance);
    }

    /// Every current instance, usable or not.
    pub fn instances(&self) -> Arc<Vec<ServiceInstance>> {
        self.cache.instances()
    }

    /// The cache behind it.
    pub fn cache(&self) -> &ServiceCache {
        &self.cache
    }

    /// The balancer behind it.
    pub fn balancer(&self) -> &Balancer {
        &self.balancer
    }
}
