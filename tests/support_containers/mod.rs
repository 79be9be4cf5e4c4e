//! Test support for the container tests: the `FROM scratch` zk-server image (docker/Dockerfile, built
//! by scripts/build-image) as a testcontainers [`Image`](testcontainers::Image), and a cluster of such
//! containers with faults injected through Docker.
//!
//! - [`image::ZkServerImage`]: the image, configured through the official image's `ZOO_*` variables;
//!   ready when Docker's health check (the binary itself asking `ruok`) passes.
//! - [`cluster::ContainerCluster`]: N containers as an ensemble; kill/stop/start, pause/unpause;
//!   leader detection through `srvr`.
//! - [`docker_or_skip`]: the skip policy. Without a Docker daemon, or without the image, a test prints
//!   `skipping <test>: <reason>` and passes, unless [`REQUIRE_DOCKER_ENV`] is set (CI), then it fails.
//! - [`serial`]: container tests of one binary run one at a time (2 cores; and testcontainers shares one
//!   Docker client between the tests' runtimes).
//!
//! Networking is host networking only: every server binds its own free `127.0.0.1` ports, and tests
//! talk to `127.0.0.1`. No traffic goes to a bridge network's private addresses.
#![allow(dead_code)]

pub mod cluster;
pub mod image;

use std::net::SocketAddr;
use std::time::Duration;

use testcontainers::bollard::Docker;
use zk_testkit::ServerMode;

/// When set to anything but empty or `0`, a missing Docker daemon or image fails a container test
/// instead of skipping it. `.ci/run` sets it.
pub const REQUIRE_DOCKER_ENV: &str = "ZK_REQUIRE_DOCKER";

/// The image the tests run; overridden by [`IMAGE_ENV`]. scripts/build-image builds this tag.
pub const DEFAULT_IMAGE: &str = "zk-server:dev";

/// Names another image (`name:tag`) to run instead of [`DEFAULT_IMAGE`].
pub const IMAGE_ENV: &str = "ZK_SERVER_IMAGE";

/// How long the daemon may take to answer a ping before the tests treat it as absent.
pub const DOCKER_PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Deadline of one four-letter exchange from the host. A paused container accepts the connection
/// (the kernel does) and then answers nothing, so every read needs one.
pub const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(2);

/// True if [`REQUIRE_DOCKER_ENV`] is set to anything but empty or `0`.
pub fn docker_required() -> bool {
    std::env::var_os(REQUIRE_DOCKER_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The image reference (`name:tag`) the tests run.
pub fn image_ref() -> String {
    std::env::var(IMAGE_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_owned())
}

/// The Docker client testcontainers uses (the daemon from `DOCKER_HOST`, else the local socket).
pub async fn docker() -> Docker {
    testcontainers::core::client::docker_client_instance()
        .await
        .unwrap_or_else(|e| panic!("Docker client: {e}"))
}

/// Checks that a Docker daemon answers and that the image exists locally, or applies the skip policy:
/// prints `skipping <test>: <reason>` and returns false, or panics if [`docker_required`].
/// Nothing is pulled: an image missing locally is a skip (or a failure), never a download.
pub async fn docker_or_skip(test: &str) -> bool {
    match check_docker().await {
        Ok(()) => true,
        Err(reason) if docker_required() => {
            panic!("{test}: {REQUIRE_DOCKER_ENV} is set but {reason}")
        }
        Err(reason) => {
            eprintln!("skipping {test}: {reason}");
            false
        }
    }
}

async fn check_docker() -> Result<(), String> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| format!("no Docker client: {e}"))?;
    match tokio::time::timeout(DOCKER_PING_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("the Docker daemon does not answer: {e}")),
        Err(_) => {
            return Err(format!(
                "the Docker daemon did not answer a ping within {DOCKER_PING_TIMEOUT:?}"
            ))
        }
    }
    let image = image_ref();
    docker
        .inspect_image(&image)
        .await
        .map_err(|e| format!("image {image} is not built ({e}); run scripts/build-image"))?;
    Ok(())
}

/// Serializes the container tests of one test binary: hold the guard for the whole test.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Sends a four-letter word from the host, with [`FOUR_LETTER_TIMEOUT`] on connect, write and read.
pub async fn four_letter(addr: SocketAddr, cmd: &'static str) -> Result<String, zk_testkit::Error> {
    tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, cmd))
        .await
        .unwrap_or_else(|e| panic!("four-letter task: {e}"))
}

/// The server's mode from `srvr`, or `None` if it does not answer (in time) or is not serving.
pub async fn server_mode(addr: SocketAddr) -> Option<ServerMode> {
    four_letter(addr, "srvr")
        .await
        .ok()
        .and_then(|reply| ServerMode::parse(&reply))
}

/// The last zxid a server reports on the `Zxid:` line of `srvr`.
pub async fn server_zxid(addr: SocketAddr) -> Option<i64> {
    let reply = four_letter(addr, "srvr").await.ok()?;
    let hex = reply.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
    i64::from_str_radix(hex.trim(), 16).ok()
}

/// Polls `probe` every [`zk_testkit::DEFAULT_POLL_INTERVAL`] until it returns `Some`, for at most
/// `timeout`; `None` when the deadline passed. The probe always runs once more at the deadline.
pub async fn poll_until<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep_until((now + zk_testkit::DEFAULT_POLL_INTERVAL).min(deadline)).await;
    }
}
