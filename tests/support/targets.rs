//! The servers a test file compares: Apache ZooKeeper 3.8 (the reference, started by zk-testkit)
//! and zk-server (in process), both configured alike, shared by the tests of one file.
//!
//! Both get `tickTime` [`TICK_TIME_MS`] (so sessions may be as short as two ticks),
//! `maxSessionTimeout` [`MAX_SESSION_TIMEOUT_MS`], extended types (TTL nodes) enabled, a container
//! and TTL check every [`CONTAINER_CHECK_MS`], and the superDigest of
//! [`SUPER_CREDENTIALS`](super::runner::SUPER_CREDENTIALS).
//!
//! With `ZK_DIFF_SELF_CHECK=1` the candidate is a second Apache server instead of zk-server: the
//! two must then produce identical normalized transcripts, which checks the scripts and the
//! normalization themselves.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use zk_testkit::{ApacheOptions, ApacheServer};

use super::runner::SUPER_CREDENTIALS;
use super::script::digest_id;

/// `tickTime` of both servers, in milliseconds.
pub const TICK_TIME_MS: u32 = 250;

/// `maxSessionTimeout` of both servers: long enough for the default script session.
pub const MAX_SESSION_TIMEOUT_MS: u32 = 60_000;

/// How often both servers look for containers and TTL nodes to delete
/// (`znode.container.checkIntervalMs`, Apache's default is one minute).
pub const CONTAINER_CHECK_MS: u64 = 250;

/// Set to compare Apache with a second Apache server instead of zk-server.
pub const SELF_CHECK_ENV: &str = "ZK_DIFF_SELF_CHECK";

/// One running server.
pub struct Target {
    /// `apache` or `zk-server` (`apache-2` in a self-check).
    pub name: &'static str,
    /// Its client address.
    pub addr: SocketAddr,
    running: Running,
}

enum Running {
    Apache(#[allow(dead_code)] ApacheServer),
    ZkServer {
        runtime: tokio::runtime::Runtime,
        handle: Option<zk_server::ServerHandle>,
    },
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Running::ZkServer { runtime, handle } = &mut self.running {
            if let Some(handle) = handle.take() {
                runtime.block_on(handle.shutdown());
            }
        }
    }
}

/// The reference and the candidate, and a lock that runs one script at a time on them (a script's
/// reply zxids must not be moved by another script's writes).
pub struct Targets {
    /// Apache ZooKeeper.
    pub reference: Target,
    /// zk-server, or a second Apache in a self-check.
    pub candidate: Target,
    serial: Mutex<()>,
}

impl Targets {
    /// Takes the one-script-at-a-time lock.
    pub fn serial(&self) -> MutexGuard<'_, ()> {
        self.serial.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static SHARED: Mutex<Weak<Targets>> = Mutex::new(Weak::new());

/// True when [`SELF_CHECK_ENV`] asks for Apache-vs-Apache.
pub fn self_check() -> bool {
    std::env::var_os(SELF_CHECK_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The targets of this test binary, started on first use and stopped when the last test using
/// them returns; `None` (after printing why) when Apache ZooKeeper is unavailable and not required.
pub fn shared(test_name: &str) -> Option<Arc<Targets>> {
    zk_testkit::java_or_skip(test_name)?;
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(targets) = shared.upgrade() {
        return Some(targets);
    }
    let targets = Arc::new(start(test_name));
    *shared = Arc::downgrade(&targets);
    Some(targets)
}

fn start(test_name: &str) -> Targets {
    std::thread::scope(|scope| {
        let reference = scope.spawn(|| start_apache("apache", test_name));
        let candidate = if self_check() {
            start_apache("apache-2", test_name)
        } else {
            start_zk_server()
        };
        let reference = reference
            .join()
            .unwrap_or_else(|_| panic!("{test_name}: starting Apache ZooKeeper panicked"));
        Targets {
            reference,
            candidate,
            serial: Mutex::new(()),
        }
    })
}

fn super_digest() -> String {
    digest_id(SUPER_CREDENTIALS)
}

fn start_apache(name: &'static str, test_name: &str) -> Target {
    let options = ApacheOptions::new()
        .with_tick_time(Duration::from_millis(TICK_TIME_MS.into()))
        .with_cfg_line(format!("maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}"))
        .with_cfg_line("extendedTypesEnabled=true")
        .with_jvm_arg(format!(
            "-Dznode.container.checkIntervalMs={CONTAINER_CHECK_MS}"
        ))
        .with_jvm_arg(format!(
            "-Dzookeeper.DigestAuthenticationProvider.superDigest={}",
            super_digest()
        ));
    let server = options
        .start()
        .unwrap_or_else(|e| panic!("{test_name}: Apache ZooKeeper did not start: {e}"));
    Target {
        name,
        addr: server.addr(),
        running: Running::Apache(server),
    }
}

fn start_zk_server() -> Target {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("zk-server")
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("building the zk-server runtime: {e}"));
    let cfg = format!(
        "tickTime={TICK_TIME_MS}\n\
         maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}\n\
         extendedTypesEnabled=true\n\
         znode.container.checkIntervalMs={CONTAINER_CHECK_MS}\n\
         superDigest={}\n\
         4lw.commands.whitelist=*\n",
        super_digest()
    );
    let config = zk_server::ServerConfig::parse(&cfg)
        .unwrap_or_else(|e| panic!("zk-server rejected the test config: {e}\n{cfg}"));
    let handle = runtime
        .block_on(
            zk_server::Server::builder()
                .config(config)
                .storage(zk_server::MemStorage::new())
                .client_addr("127.0.0.1:0")
                .start(),
        )
        .unwrap_or_else(|e| panic!("zk-server did not start: {e}"));
    Target {
        name: "zk-server",
        addr: handle.addr(),
        running: Running::ZkServer {
            runtime,
            handle: Some(handle),
        },
    }
}
