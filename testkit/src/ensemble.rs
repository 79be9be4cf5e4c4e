//! [`ApacheEnsemble`]: an n-server Apache ZooKeeper ensemble on loopback.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::apache::{StartFailure, START_ATTEMPTS};
use crate::fourlw::{self, server_mode, ServerMode};
use crate::process::ServerProcess;
use crate::{free_ports, wait_for, ApacheOptions, Error, Java, TestDir};

/// An ensemble of `n` Apache ZooKeeper servers on 127.0.0.1, each with its own client, quorum and
/// election port, `myid` and data dir, all in one temporary directory.
///
/// Servers are addressed by index `0..n`; server `i` has `myid` `i + 1` (`server.{i+1}` in `zoo.cfg`).
/// Dropping the ensemble SIGKILLs every server and removes the directory.
///
/// ```no_run
/// let mut ensemble = zk_testkit::ApacheEnsemble::start(3).unwrap();
/// let leader = ensemble.leader().unwrap();
/// ensemble.kill(leader);
/// let new_leader = ensemble.wait_for_leader().unwrap();
/// assert_ne!(leader, new_leader);
/// ensemble.restart(leader).unwrap();
/// ```
#[derive(Debug)]
pub struct ApacheEnsemble {
    // Declared before `dir` so the JVMs are killed before their directory is removed.
    servers: Vec<ServerProcess>,
    data_dirs: Vec<PathBuf>,
    options: ApacheOptions,
    dir: TestDir,
}

/// Any mode of a server that is part of a working quorum.
fn in_quorum(mode: ServerMode) -> bool {
    matches!(
        mode,
        ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
    )
}

impl ApacheEnsemble {
    /// Starts `n` servers with [`ApacheOptions::default`] (see [`ApacheEnsemble::start_with`]).
    pub fn start(n: usize) -> Result<Self, Error> {
        Self::start_with(n, ApacheOptions::default())
    }

    /// Starts `n` servers (all voting participants) and waits until every one serves as leader or
    /// follower and one of them is leader. `n == 1` gives a quorum of one (`standaloneEnabled=false`), whose
    /// server is leader. [`ApacheOptions::with_data_dir`] is rejected: each server has its own data dir.
    pub fn start_with(n: usize, options: ApacheOptions) -> Result<Self, Error> {
        if n == 0 {
            return Err(Error::Config(
                "an ensemble needs at least one server".into(),
            ));
        }
        if options.data_dir.is_some() {
            return Err(Error::Config(
                "with_data_dir applies to standalone servers; ensemble servers have their own data dirs"
                    .into(),
            ));
        }
        let java = Java::locate()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(n, &java, &options) {
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

    fn start_once(n: usize, java: &Java, options: &ApacheOptions) -> Result<Self, StartFailure> {
        let dir = TestDir::new(&format!("ensemble{n}"))?;
        let ports = free_ports(3 * n)?;
        let (client_ports, peer_ports) = ports.split_at(n);
        let mut server_lines: Vec<String> = (0..n)
            .map(|i| {
                let (quorum, election) = (peer_ports[2 * i], peer_ports[2 * i + 1]);
                format!("server.{}=127.0.0.1:{quorum}:{election}", i + 1)
            })
            .collect();
        server_lines.push("standaloneEnabled=false".to_owned());

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
            servers.push(ServerProcess::new(
                format!("apache server.{myid}"),
                &server_dir,
                java.clone(),
                &options.jvm_args,
                &cfg,
                SocketAddr::from((Ipv4Addr::LOCALHOST, client_port)),
            )?);
            data_dirs.push(data_dir);
        }
        let mut ensemble = ApacheEnsemble {
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
                let port_conflict = ensemble.servers.iter().any(|s| s.hit_port_conflict());
                return Err(StartFailure {
                    error,
                    port_conflict,
                });
            }
        }
        let leader = ensemble.wait_for_leader()?;
        tracing::info!(n, leader, connect = %ensemble.connect_string(), "apache ensemble serving");
        Ok(ensemble)
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
        self.servers.iter().map(ServerProcess::addr).collect()
    }

    /// `127.0.0.1:<p0>,127.0.0.1:<p1>,…` — every server, including killed ones, as a client would list them.
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = self.addrs().iter().map(ToString::to_string).collect();
        addrs.join(",")
    }

    /// Server `i`'s data dir (holds `myid` and `version-2/`).
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.data_dirs[i]
    }

    /// Server `i`'s log file.
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.servers[i].log_path()
    }

    /// The ensemble's temporary directory (one `server.<myid>/` per server).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// True while server `i`'s JVM runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.servers[i].is_running()
    }

    /// SIGKILLs server `i` and waits for the JVM to exit; its data dir is kept.
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
    /// If the server cannot be reached; use [`ApacheEnsemble::try_four_letter`] to handle that.
    pub fn four_letter(&self, i: usize, cmd: &str) -> String {
        self.try_four_letter(i, cmd)
            .unwrap_or_else(|e| panic!("four-letter word `{cmd}` to server {i} failed: {e}"))
    }

    /// Sends a four-letter word to server `i` and returns the reply, or the I/O error.
    pub fn try_four_letter(&self, i: usize, cmd: &str) -> Result<String, Error> {
        fourlw::four_letter(self.addr(i), cmd)
    }

    /// The last lines of server `i`'s log and console output.
    pub fn log_tail(&self, i: usize) -> String {
        self.servers[i].log_tail()
    }
}
