//! [`ApacheOptions`]: how to configure the Apache servers the testkit starts, and the `zoo.cfg` it writes.

use std::path::PathBuf;
use std::time::Duration;

use crate::{ApacheEnsemble, ApacheServer, Error};

/// The testkit's default `tickTime`: 2000 ms, the value of Apache's `conf/zoo_sample.cfg` (the code default
/// in `ZooKeeperServer.DEFAULT_TICK_TIME` is 3000). Sessions can then last 4 s to 40 s
/// (`minSessionTimeout` = 2 ticks, `maxSessionTimeout` = 20 ticks).
pub const DEFAULT_TICK_TIME: Duration = Duration::from_millis(2000);

/// How long [`ApacheServer::start`] and [`ApacheEnsemble::start`] wait for servers to serve. A JVM starts in
/// one or two seconds; the margin is for a loaded 2-core CI machine starting several at once.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// `initLimit` in ticks (Apache's sample config uses 10).
pub const INIT_LIMIT_TICKS: u32 = 10;

/// `syncLimit` in ticks (Apache's sample config uses 5).
pub const SYNC_LIMIT_TICKS: u32 = 5;

/// Options for [`ApacheServer`] and [`ApacheEnsemble`]; a builder with `with_*` methods.
///
/// The generated `zoo.cfg` holds, in order: `tickTime`, `initLimit`, `syncLimit`, `dataDir`, `clientPort`,
/// `clientPortAddress=127.0.0.1`, `4lw.commands.whitelist=*`, `admin.enableServer=false`, `forceSync=no`
/// (SIGKILL keeps the page cache, so data survives without fsync, and tests run faster), the ensemble's
/// `server.N` lines, then the [`ApacheOptions::with_cfg_line`] lines. Java's `Properties` keeps the last
/// value of a repeated key, so an extra line overrides a default (e.g. `forceSync=yes`).
///
/// ```no_run
/// use std::time::Duration;
/// use zk_testkit::ApacheOptions;
///
/// let server = ApacheOptions::new()
///     .with_tick_time(Duration::from_millis(500))
///     .with_cfg_line("extendedTypesEnabled=true")
///     .start()
///     .unwrap();
/// println!("{}", server.connect_string());
/// ```
#[derive(Debug, Clone)]
pub struct ApacheOptions {
    pub(crate) tick_time: Duration,
    pub(crate) cfg_lines: Vec<String>,
    pub(crate) jvm_args: Vec<String>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) start_timeout: Duration,
}

impl Default for ApacheOptions {
    fn default() -> Self {
        ApacheOptions {
            tick_time: DEFAULT_TICK_TIME,
            cfg_lines: Vec::new(),
            jvm_args: Vec::new(),
            data_dir: None,
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }
}

impl ApacheOptions {
    /// The defaults (same as [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `tickTime` (whole milliseconds, at least 1).
    pub fn with_tick_time(mut self, tick_time: Duration) -> Self {
        self.tick_time = tick_time;
        self
    }

    /// Appends a raw `zoo.cfg` line such as `extendedTypesEnabled=true` or `maxClientCnxns=0`.
    pub fn with_cfg_line(mut self, line: impl Into<String>) -> Self {
        self.cfg_lines.push(line.into());
        self
    }

    /// Appends a JVM argument such as `-Dzookeeper.extendedTypesEnabled=true`.
    pub fn with_jvm_arg(mut self, arg: impl Into<String>) -> Self {
        self.jvm_args.push(arg.into());
        self
    }

    /// Uses `dir` as `dataDir` (created if missing, never removed), so a later server started with the same
    /// directory recovers the same tree. Standalone servers only; an ensemble rejects it.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// How long to wait for the server(s) to serve, at start and at each restart.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Starts a standalone server with these options ([`ApacheServer::start_with`]).
    pub fn start(self) -> Result<ApacheServer, Error> {
        ApacheServer::start_with(self)
    }

    /// Starts an `n`-server ensemble with these options ([`ApacheEnsemble::start_with`]).
    pub fn start_ensemble(self, n: usize) -> Result<ApacheEnsemble, Error> {
        ApacheEnsemble::start_with(n, self)
    }

    /// Renders `zoo.cfg`. `servers` are the ensemble's `server.N=…` lines (empty for standalone).
    pub(crate) fn zoo_cfg(
        &self,
        data_dir: &std::path::Path,
        client_port: u16,
        servers: &[String],
    ) -> Result<String, Error> {
        let tick = self.tick_time.as_millis();
        if tick == 0 {
            return Err(Error::Config("tickTime must be at least 1 ms".into()));
        }
        let mut cfg = format!(
            "# written by zk-testkit\n\
             tickTime={tick}\n\
             initLimit={INIT_LIMIT_TICKS}\n\
             syncLimit={SYNC_LIMIT_TICKS}\n\
             dataDir={}\n\
             clientPort={client_port}\n\
             clientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             forceSync=no\n",
            data_dir.display()
        );
        for line in servers.iter().chain(&self.cfg_lines) {
            cfg.push_str(line);
            cfg.push('\n');
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_lines_come_last() {
        let cfg = ApacheOptions::new()
            .with_tick_time(Duration::from_millis(500))
            .with_cfg_line("extendedTypesEnabled=true")
            .zoo_cfg(std::path::Path::new("/d"), 1234, &["server.1=x".into()])
            .unwrap();
        assert!(cfg.contains("tickTime=500\n"));
        assert!(cfg.contains("dataDir=/d\nclientPort=1234\n"));
        assert!(cfg.ends_with("server.1=x\nextendedTypesEnabled=true\n"));
    }

    #[test]
    fn zero_tick_is_rejected() {
        let err = ApacheOptions::new()
            .with_tick_time(Duration::ZERO)
            .zoo_cfg(std::path::Path::new("/d"), 1, &[])
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
    }
}
