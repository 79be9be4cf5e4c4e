//! The zk-server image as a testcontainers [`Image`].
//!
//! Configuration is the official `zookeeper` image's: `ZOO_*` environment variables (see
//! `zk_server::env_config`). Readiness is Docker's health check, which runs the image's own binary
//! as a probe (`zk-server --from-env --healthcheck`: `ruok` to the configured client port, `imok`
//! expected) — the wait condition is the server answering `ruok`, not a sleep.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use testcontainers::core::WaitFor;
use testcontainers::{ContainerRequest, Healthcheck, Image, ImageExt};

use super::image_ref;

/// How often Docker runs the probe in test containers. The image's own interval (5 s) suits
/// production; Docker 20.10 has no separate start interval, so tests shorten the interval itself:
/// readiness is seen at most this long after the server answers. Each run is a `docker exec` (about
/// 5% of a core per container at 250 ms, measured), and the checks go on while the container lives,
/// so it is not shorter.
pub const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

/// Deadline of one probe run, as the image's HEALTHCHECK `--timeout`.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Failed probes in this window do not count against the container (recovery, waiting for a quorum).
pub const HEALTH_START_PERIOD: Duration = Duration::from_secs(60);

/// Failed probes after the start period before Docker calls the container unhealthy.
pub const HEALTH_RETRIES: u32 = 3;

/// Longest wait for a container to become healthy (testcontainers' startup timeout).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Four-letter words the test servers answer: all of them, so `ruok`, `srvr`, `envi`, … work.
pub const TEST_4LW_WHITELIST: &str = "*";

/// The zk-server image with a set of `ZOO_*` variables.
#[derive(Debug, Clone)]
pub struct ZkServerImage {
    name: String,
    tag: String,
    env: BTreeMap<String, String>,
}

impl Default for ZkServerImage {
    /// The image as built, every four-letter word whitelisted, otherwise the official defaults
    /// (standalone on `0.0.0.0:2181` — use [`ZkServerImage::standalone`] on a free port instead).
    fn default() -> Self {
        let image = image_ref();
        let (name, tag) = match image.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n.to_owned(), t.to_owned()),
            _ => (image, "latest".to_owned()),
        };
        ZkServerImage {
            name,
            tag,
            env: BTreeMap::new(),
        }
        .with_env("ZOO_4LW_COMMANDS_WHITELIST", TEST_4LW_WHITELIST)
    }
}

impl ZkServerImage {
    /// A standalone server on `127.0.0.1:client_port` (host networking).
    ///
    /// The client address goes on the server line, as the official image's default
    /// `server.1=localhost:2888:3888;2181` does; a single line is standalone, so its quorum ports
    /// are never bound.
    pub fn standalone(client_port: u16) -> Self {
        Self::default().with_env(
            "ZOO_SERVERS",
            format!("server.1=127.0.0.1:2888:3888;127.0.0.1:{client_port}"),
        )
    }

    /// Member `my_id` of an ensemble whose `server.N` lines are `servers` (whitespace-separated, as
    /// `ZOO_SERVERS` takes them).
    pub fn member(my_id: u64, servers: &str) -> Self {
        Self::default()
            .with_env("ZOO_MY_ID", my_id.to_string())
            .with_env("ZOO_SERVERS", servers)
    }

    /// Sets one environment variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// `ZOO_TICK_TIME`, in milliseconds: session timeouts, election and sync limits scale with it.
    pub fn with_tick_time(self, tick: Duration) -> Self {
        self.with_env("ZOO_TICK_TIME", tick.as_millis().to_string())
    }

    /// The value set for `name`, if any.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    /// The request the tests start: host networking, the fast health check, the startup timeout and
    /// a recognisable name (`zk-test-<pid>-<n>`, so a leftover container says where it came from).
    pub fn request(self) -> ContainerRequest<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "zk-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.with_network("host")
            .with_container_name(name)
            .with_health_check(
                Healthcheck::cmd(["/zk-server", "--from-env", "--healthcheck"])
                    .with_interval(HEALTH_INTERVAL)
                    .with_timeout(HEALTH_TIMEOUT)
                    .with_start_period(HEALTH_START_PERIOD)
                    .with_retries(HEALTH_RETRIES),
            )
            .with_startup_timeout(STARTUP_TIMEOUT)
    }
}

impl Image for ZkServerImage {
    fn name(&self) -> &str {
        &self.name
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    /// Healthy means the probe inside the container got `imok` from the server.
    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::healthcheck()]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
