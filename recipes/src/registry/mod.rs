//! Service discovery with client-side load balancing, in Curator's curator-x-discovery layout.
//!
//! - **Register**: [`ServiceRegistry::register`] writes the instance's JSON
//!   ([`ServiceInstance`], Curator's `ServiceInstance` format) to an ephemeral node
//!   `base/<name>/<id>`, parents as containers, and keeps it there: it is re-created in every new
//!   session after an expiry (Curator re-registers on reconnect the same way). The
//!   [`Registration`] removes it when dropped or unregistered.
//! - **Discover**: [`ServiceRegistry::cache`] keeps a live [`ServiceCache`] of a service's
//!   instances (a [`TreeCache`] of `base/<name>`); a crashed instance's
//!   node is deleted when the server expires its session, so it leaves every consumer's cache
//!   within the session timeout.
//! - **Balance**: a [`ServiceProvider`] picks one with a [`Strategy`] (round-robin, random,
//!   weighted, sticky) and skips instances callers marked down after errors ([`DownPolicy`],
//!   Curator's `DownInstancePolicy`).
//!
//! Rust and Java (Curator 5) processes share one registry: each discovers the other's instances.
//!
//! ## Connection-state policy
//! While disconnected a cache serves its last known list ([`CacheState::Suspended`](crate::cache::CacheState));
//! it is re-read after reconnecting. A registration has nothing to do while suspended; after
//! expiry it re-registers.
//!
//! ```no_run
//! # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
//! use zk_recipes::registry::{ServiceInstance, ServiceRegistry, Strategy};
//!
//! let registry = ServiceRegistry::new(&client, "/services")?;
//! let me = ServiceInstance::builder("echo").address("10.0.0.5").port(7000).build();
//! let _registration = registry.register(me).await?;
//!
//! let provider = registry.provider("echo", Strategy::RoundRobin).await?;
//! let target = provider.pick().expect("at least this instance");
//! println!("calling {}", target.socket_addr_string().unwrap());
//! # Ok(()) }
//! ```

mod balancer;
mod cache;
mod instance;
mod registration;

pub use balancer::{
    Balancer, DownPolicy, Strategy, DEFAULT_DOWN_ERROR_THRESHOLD, DEFAULT_DOWN_TIMEOUT,
};
pub use cache::{ServiceCache, ServiceProvider};
pub use instance::{
    ServiceInstance, ServiceInstanceBuilder, ServiceType, UriSpec, UriSpecPart, DEFAULT_WEIGHT,
    JACKSON_CLASS_KEY, JAVA_MAP_CLASS, METADATA_KEY, WEIGHT_KEY,
};
pub use registration::Registration;

use std::sync::Arc;

use zk_client::Client;

use crate::cache::TreeCache;
use crate::protected::{join, validate_path};
use crate::Error;

/// A registry rooted at a base path (Curator's `ServiceDiscovery` `basePath`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceRegistry {
    client: Client,
    base: Arc<str>,
}

impl ServiceRegistry {
    /// A registry whose services live under `base_path`.
    pub fn new(client: &Client, base_path: &str) -> Result<Self, Error> {
        validate_path(base_path)?;
        Ok(ServiceRegistry {
            client: client.clone(),
            base: base_path.into(),
        })
    }

    /// The base path.
    pub fn base_path(&self) -> &str {
        &self.base
    }

    /// The node path of `name`'s instances.
    pub fn service_path(&self, name: &str) -> String {
        join(&self.base, name)
    }

    /// Registers `instance` and keeps it registered until the returned [`Registration`] is
    /// dropped or unregistered. If this future is dropped before it finishes, the node is removed.
    pub async fn register(&self, instance: ServiceInstance) -> Result<Registration, Error> {
        check_name("service name", &instance.name)?;
        check_name("instance id", &instance.id)?;
        if instance.service_type == ServiceType::DynamicSequential {
            return Err(Error::InvalidArgument(
                "DYNAMIC_SEQUENTIAL instances are not supported: ids must be stable to re-register"
                    .into(),
            ));
        }
        let path = join(&self.service_path(&instance.name), &instance.id);
        Registration::start(&self.client, path, instance).await
    }

    /// The names of the registered services (children of the base path).
    pub async fn names(&self) -> Result<Vec<String>, Error> {
        match self.client.get_children(&self.base).await {
            Ok(mut names) => {
                names.sort();
                Ok(names)
            }
            Err(zk_client::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// A one-off read of `name`'s instances (Curator's `queryForInstances`); prefer a
    /// [`ServiceCache`] for repeated use.
    pub async fn query(&self, name: &str) -> Result<Vec<ServiceInstance>, Error> {
        check_name("service name", name)?;
        let dir = self.service_path(name);
        let ids = match self.client.get_children(&dir).await {
            Ok(ids) => ids,
            Err(zk_client::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let reads: Vec<_> = ids
            .iter()
            .map(|id| self.client.get_data(&join(&dir, id)))
            .collect();
        let mut instances = Vec::new();
        for read in futures::future::join_all(reads).await {
            match read {
                Ok((data, _)) => match ServiceInstance::from_json(&data) {
                    Ok(instance) => instances.push(instance),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an instance that does not parse")
                    }
                },
                Err(zk_client::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(instances)
    }

    /// Starts a live cache of `name`'s instances and waits for its first read.
    pub async fn cache(&self, name: &str) -> Result<ServiceCache, Error> {
        check_name("service name", name)?;
        let dir = self.service_path(name);
        let tree = TreeCache::builder(&self.client, &dir)
            .with_max_depth(1)
            .start()
            .await?;
        Ok(ServiceCache::new(name, dir, tree))
    }

    /// A [`ServiceProvider`] for `name`: a new cache plus a balancer with `strategy`.
    pub async fn provider(&self, name: &str, strategy: Strategy) -> Result<ServiceProvider, Error> {
        Ok(ServiceProvider::new(
            self.cache(name).await?,
            Balancer::new(strategy),
        ))
    }

    /// A [`ServiceProvider`] for `name` with a balancer of your own (seeded, or another
    /// [`DownPolicy`]).
    pub async fn provider_with(
        &self,
        name: &str,
        balancer: Balancer,
    ) -> Result<ServiceProvider, Error> {
        Ok(ServiceProvider::new(self.cache(name).await?, balancer))
    }
}

/// A service name or instance id must be one path component.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::InvalidArgument(format!(
            "{what} {name:?} must be a single, non-empty node name"
        )));
    }
    Ok(())
}
