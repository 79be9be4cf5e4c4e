//! [`ZkServerEnsemble`]: an n-server zk-server ensemble of real processes on loopback, with the same API
//! as [`ApacheEnsemble`](crate::ApacheEnsemble), so a test can run one scenario against both (see
//! [`Ensemble`](crate::Ensemble)).
//!
//! Each server gets a directory `server.<myid>/` holding its `zoo.cfg` (`server.N=127.0.0.1:q:e` lines,
//! `clientPort`, `tickTime`, `initLimit`, `syncLimit`, every four-letter word), its data dir with a `myid`
//! file, and `zk-server.log`. Killing is SIGKILL (a crash: nothing is flushed that was not already
//! written); restarting reuses the same ports and data dir.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apache::{StartFailure, START_ATTEMPTS};
use crate::fourlw::{self, server_mode, ServerMode};
use crate::zk_process::{ZkCommand, ZkProcess};
use crate::{free_ports, wait_for, Error, TestDir, INIT_LIMIT_TICKS, SYNC_LIMIT_TICKS};

/// The tick the zk-server ensembles of the testkit use unless told otherwise: 2000 ms, as
/// [`DEFAULT_TICK_TIME`](crate::DEFAULT_TICK_TIME) for Apache.
pub const ZK_DEFAULT_TICK_TIME: Duration = crate::DEFAULT_TICK_TIME;

/// How long a zk-server ensemble may take to serve at start and after each restart. zk-server starts in
/// milliseconds; the time goes to leader election (a few ticks) and, on a loaded 2-core CI machine, to
/// recovery of a long log.
pub const ZK_START_TIMEOUT: Duration = Duration::from_secs(60);

/// `RUST_LOG` for the servers unless [`ZkServerOptions::with_env`] sets another.
pub const ZK_DEFAULT_RUST_LOG: &str = "info";

/// Options for [`ZkServerEnsemble`]; a builder with `with_*` methods, like
/// [`ApacheOptions`](crate::ApacheOptions).
///
/// The generated `zoo.cfg` holds, in order: `tickTime`, `initLimit`, `syncLimit`, `dataDir`, `clientPort`,
/// `clientPortAddress=127.0.0.1`, `4lw.commands.whitelist=*`, `admin.enableServer=false`, the `server.N`
/// lines and `standaloneEnabled=false`, then the [`ZkServerOptions::with_cfg_line`] lines (a repeated key
/// keeps its last value, as in Apache). zk-server keeps its own durability default (`forceSync=yes`): the
/// ensembles exist to prove durability.
#[derive(Debug, Clone)]
pub struct ZkServerOptions {
    binary: PathBuf,
    tick_time: Duration,
    init_limit: u32,
    sync_limit: u32,
    cfg_lines: Vec<String>,
    env: Vec<(String, String)>,
    start_timeout: Duration,
}

impl ZkServerOptions {
    /// Options for servers run from `binary` (the `zk-server` executable; the testkit does not build it).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        ZkServerOptions {
            binary: binary.into(),
            tick_time: ZK_DEFAULT_TICK_TIME,
            init_limit: INIT_LIMIT_TICKS,
            sync_limit: SYNC_LIMIT_TICKS,
            cfg_lines: Vec::new(),
            env: vec![
                ("RUST_LOG".to_owned(), ZK_DEFAULT_RUST_LOG.to_owned()),
                ("NO_COLOR".to_owned(), "1".to_owned()),
            ],
            start_timeout: ZK_START_TIMEOUT,
        }
    }

    /// Sets `tickTime` (whole milliseconds, at least 1).
    pub fn with_tick_time(mut self, tick_time: Duration) -> Self {
        self.tick_time = tick_time;
        self
    }

    /// Sets `initLimit` and `syncLimit` (in ticks).
    pub fn with_limits(mut self, init_limit: u32, sync_limit: u32) -> Self {
        self.init_limit = init_limit;
        self.sync_limit = sync_limit;
        self
    }

    /// Appends a raw `zoo.cfg` line such as `maxSessionTimeout=30000`.
    pub fn with_cfg_line(mut self, line: impl Into<String>) -> Self {
        self.cfg_lines.push(line.into());
        self
    }

    /// Sets an environment variable of the server processes (e.g. `RUST_LOG=debug`).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// How long to wait for the servers to serve, at start and at each restart.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// The start and restart timeout.
    pub fn start_timeout(&self) -> Duration {
        self.start_timeout
    }

    /// Starts an `n`-server ensemble with these options ([`ZkServerEnsemble::start_with`]).
    pub fn start_ensemble(self, n: usize) -> Result<ZkServerEnsemble, Error> {
        ZkServerEnsemble::start_with(n, self)
    }

    /// Renders server `myid`'s `zoo.cfg`.
    fn zoo_cfg(
        &self,
        data_dir: &Path,
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
             initLimit={}\n\
             syncLimit={}\n\
             dataDir={}\n\
             clientPort={client_port}\n\
             clientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n",
            self.init_limit,
            self.sync_limit,
            data_dir.display()
        );
        for line in servers.iter().chain(&self.cfg_lines) {
            cfg.push_str(line);
            cfg.push('\n');
        }
        Ok(cfg)
    }
}

/// An ensemble of `n` zk-server processes on 127.0.0.1, each with its own client, quorum and election
/// port, `myid` and data dir, all in one temporary directory.
///
/// Servers are addressed by index `0..n`; server `i` has `myid` `i + 1`. Dropping the ensemble SIGKILLs
/// every server and removes the directory (unless `ZK_TESTKIT_KEEP_DIRS` is set).
///
/// ```no_run
/// use zk_testkit::{ZkServerEnsemble, ZkServerOptions};
///
/// let options = ZkServerOptions::new("target/debug/zk-server");
/// let mut ensemble = ZkServerEnsemble::start_with(3, options).unwrap();
/// let leader = ensemble.leader().unwrap();
/// ensemble.kill(leader); // SIGKILL
/// let new_leader = ensemble.wait_for_leader().unwrap();
/// assert_ne!(leader, new_leader);
/// ensemble.restart(leader).unwrap(); // same ports, same data dir
/// ```
#[derive(Debug)]
pub struct ZkServerEnsemble {
    // Declared before `dir` so the processes are killed before their directory is removed.
    servers: Vec<ZkProcess>,
    data_dirs: Vec<PathBuf>,
    options: ZkServerOptions,
    dir: TestDir,
}

/// Any mode of a server that is part of a working quorum.
pub(crate) fn in_quorum(mode: ServerMode) -> bool {
    matches!(
        mode,
        ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
    )
}

impl ZkServerEnsemble {
    /// Starts `n` servers (all voting participants) and waits until every one serves as leader or
    /// follower and one of them is leader. `n == 1` gives a quorum of one (`standaloneEnabled=false`).
    pub fn start_with(n: usize, options: ZkServerOptions) -> Result<Self, Error> {
        if n == 0 {
            return Err(Error::Config(
                "an ensemble needs at least one server".into(),
            ));
        }
        if !options.binary.is_file() {
            return Err(Error::Config(format!(
                "zk-server binary {} does not exist",
                options.binary.display()
            )));
        }
        let mut attempt = 1;
        loop {
            match Self::start_once(n, &options) {
                Err(StartFailure {
                    error,
                    port_conflict,
                }) => {
                    if port_conflict && attempt < START_ATTEMPTS {
                        tracing::warn!(attempt, "port taken, retrying with fresh ports");
                        attempt += 1;
                        continue;
                    }
                    return Err(error);
                }
                Ok(ensemble) => return Ok(ensemble),
            }
        }
    }

    fn start_once(n: usize, options: &ZkServerOptions) -> Result<Self, StartFailure> {
        let dir = TestDir::new(&format!("zk-ensemble{n}"))?;
        let ports = free_ports(3 * n)?;
        let (client_ports, peer_ports) = ports.split_at(n);
        let mut server_lines: Vec<String> = (0..n)
            .map(|i| {
                let (quorum, election) = (peer_ports[2 * i], peer_ports[2 * i + 1]);
                format!("server.{}=127.0.0.1:{quorum}:{election}", i + 1)
            })
            .collect();
        server_lines.push("standaloneEnabled=false".to_owned());
        let command = ZkCommand {
            binary: options.binary.clone(),
            env: options.env.clone(),
        };

        let mut servers = Vec::with_capacity(n);
        let mut data_dirs = Vec::with_capacity(n);
        for (i, &client_port) in client_ports.iter().enumerate() {
            let myid = i + 1;
            let server_dir = dir.path().join(format!("server.{myid}"));
            let data_dir = server_dir.join("data");
            fs::create_dir_all(&data_dir)
                .and_then(|()| fs::write(data_dir.join("myid"), format!("{myid}\n")))
                .map_err(|e| Error::io(format!("preparing {}", data_dir.display()), e))?;
            let cfg = options.zoo_cfg(&data_dir, client_port, &server_lines)?;
            servers.push(ZkProcess::new(
                format!("zk-server server.{myid}"),
                &server_dir,
                command.clone(),
                &cfg,
                SocketAddr::from((Ipv4Addr::LOCALHOST, client_port)),
            )?);
            data_dirs.push(data_dir);
        }
        let mut ensemble = ZkServerEnsemble {
            servers,
            data_dirs,
            options: options.clone(),
            dir,
        };
        for server in &mut ensemble.servers {
            server.spawn()?;
        }
        let timeout = ensemble.options.start_timeout;
        for i in 0..n {
            if let Err(error) = ensemble.servers[i].wait_serving(timeout, in_quorum) {
                let port_conflict = ensemble.servers.iter().any(ZkProcess::hit_port_conflict);
                return Err(StartFailure {
                    error,
                    port_conflict,
                });
            }
        }
        let leader = ensemble.wait_for_leader()?;
        tracing::info!(n, leader, connect = %ensemble.connect_string(), "zk-server ensemble serving");
        Ok(ensemble)
    }

    /// The options the ensemble was started with.
    pub fn options(&self) -> &ZkServerOptions {
        &self.options
    }

    /// The number of servers (running or killed).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always false: an ensemble has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Server `i`'s client address.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.servers[i].addr()
    }

    /// Every server's client address, in index order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(ZkProcess::addr).collect()
    }

    /// `127.0.0.1:<p0>,127.0.0.1:<p1>,…` — every server, including killed ones.
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = self.addrs().iter().map(ToString::to_string).collect();
        addrs.join(",")
    }

    /// Server `i`'s data dir (holds `myid`, `version-2/` and the epoch files).
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.data_dirs[i]
    }

    /// Server `i`'s log file (every start appended).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.servers[i].log_path()
    }

    /// The ensemble's temporary directory (one `server.<myid>/` per server).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Server `i`'s process id while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].pid()
    }

    /// True while server `i`'s process runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.servers[i].is_running()
    }

    /// SIGKILLs server `i` (`kill -9`) and reaps it; its data dir is kept.
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Kills server `i` if it runs, starts it again with the same ports and data dir, and waits until it
    /// serves as leader or follower (which needs a quorum of running servers).
    pub fn restart(&mut self, i: usize) -> Result<(), Error> {
        let timeout = self.options.start_timeout;
        let server = &mut self.servers[i];
        server.kill();
        server.spawn()?;
        server.wait_serving(timeout, in_quorum)?;
        Ok(())
    }

    /// Server `i`'s mode from `srvr`, or `None` if it is down or not serving (no quorum, electing).
    pub fn mode(&self, i: usize) -> Option<ServerMode> {
        server_mode(self.addr(i))
    }

    /// The index of the server that reports `Mode: leader` now, if any.
    pub fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.mode(i) == Some(ServerMode::Leader))
    }

    /// Polls until some server reports `Mode: leader` (at most the start timeout) and returns its index.
    pub fn wait_for_leader(&self) -> Result<usize, Error> {
        wait_for("a leader", self.options.start_timeout, || self.leader())
    }

    /// Sends a four-letter word to server `i` and returns the reply.
    ///
    /// # Panics
    /// If the server cannot be reached; use [`ZkServerEnsemble::try_four_letter`] to handle that.
    pub fn four_letter(&self, i: usize, cmd: &str) -> String {
        self.try_four_letter(i, cmd)
            .unwrap_or_else(|e| panic!("four-letter word `{cmd}` to server {i} failed: {e}"))
    }

    /// Sends a four-letter word to server `i` and returns the reply, or the I/O error.
    pub fn try_four_letter(&self, i: usize, cmd: &str) -> Result<String, Error> {
        fourlw::four_letter(self.addr(i), cmd)
    }

    /// The last lines of server `i`'s log.
    pub fn log_tail(&self, i: usize) -> String {
        self.servers[i].log_tail()
    }
}
