//! One `zk-server --config <dir>/zoo.cfg` process: spawn, wait until serving, SIGKILL, log tail.
//!
//! [`crate::ZkServerEnsemble`] owns several. The testkit does not build zk-server (it does not depend on
//! it); the caller passes the binary's path. Each process lives in a directory that holds its `zoo.cfg`
//! and `zk-server.log` (stdout and stderr of every start, appended, each start introduced by a marker
//! line so a kill -9 loop's log reads as a sequence of lives).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::fourlw::{four_letter, server_mode, ServerMode};
use crate::{try_wait_for, Error};

/// Lines of `zk-server.log` quoted in start errors and [`ZkProcess::log_tail`].
const LOG_TAIL_LINES: usize = 60;

/// The log file name inside a server's directory.
pub(crate) const ZK_SERVER_LOG: &str = "zk-server.log";

/// How a zk-server binary is run: the executable and the environment it gets.
#[derive(Debug, Clone)]
pub(crate) struct ZkCommand {
    pub(crate) binary: PathBuf,
    pub(crate) env: Vec<(String, String)>,
}

/// A zk-server process that can be killed and started again with the same configuration and data dir.
#[derive(Debug)]
pub(crate) struct ZkProcess {
    name: String,
    dir: PathBuf,
    command: ZkCommand,
    client_addr: SocketAddr,
    child: Option<Child>,
    starts: u32,
}

impl ZkProcess {
    /// Writes `zoo.cfg` into `dir` (which must exist); does not start the process.
    pub(crate) fn new(
        name: String,
        dir: &Path,
        command: ZkCommand,
        zoo_cfg: &str,
        client_addr: SocketAddr,
    ) -> Result<Self, Error> {
        let cfg = dir.join("zoo.cfg");
        fs::write(&cfg, zoo_cfg).map_err(|e| Error::io(format!("writing {}", cfg.display()), e))?;
        Ok(ZkProcess {
            name,
            dir: dir.to_owned(),
            command,
            client_addr,
            child: None,
            starts: 0,
        })
    }

    /// The server's client address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The server's log file (all its starts).
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join(ZK_SERVER_LOG)
    }

    /// The operating-system process id while the server runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process if it is not running. Does not wait for it to serve.
    pub(crate) fn spawn(&mut self) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        self.starts += 1;
        let log_path = self.log_path();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io(format!("opening {}", log_path.display()), e))?;
        // The marker separates the lives of the server in one file; a failed write only loses it.
        let _ = writeln!(
            log,
            "=== zk-testkit: start {} of {}",
            self.starts, self.name
        );
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io("cloning the log file handle", e))?;
        let mut cmd = Command::new(&self.command.binary);
        cmd.arg("--config")
            .arg(self.dir.join("zoo.cfg"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        for (k, v) in &self.command.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| {
            Error::io(
                format!(
                    "spawning {} for {}",
                    self.command.binary.display(),
                    self.name
                ),
                e,
            )
        })?;
        tracing::debug!(name = %self.name, pid = child.id(), addr = %self.client_addr, "spawned");
        self.child = Some(child);
        Ok(())
    }

    /// True while the process has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs the process (if running) and reaps it. Files stay.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the child has already exited; wait() reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            tracing::debug!(name = %self.name, "killed");
        }
    }

    /// Polls until the server answers `ruok` with `imok` and `srvr` reports a mode that `accept` takes.
    /// Fails early with [`Error::Exited`] if the process exits, and with [`Error::NotServing`] at the
    /// deadline.
    pub(crate) fn wait_serving(
        &mut self,
        timeout: Duration,
        accept: impl Fn(ServerMode) -> bool,
    ) -> Result<ServerMode, Error> {
        let what = format!("{} to serve on {}", self.name, self.client_addr);
        let result = try_wait_for(&what, timeout, || {
            let Some(child) = &mut self.child else {
                return Err(Error::Config(format!("{} is not running", self.name)));
            };
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(Error::Exited {
                    name: self.name.clone(),
                    status,
                    log_tail: self.log_tail(),
                });
            }
            let ok = four_letter(self.client_addr, "ruok").is_ok_and(|r| r == "imok");
            Ok(ok
                .then(|| server_mode(self.client_addr))
                .flatten()
                .filter(|mode| accept(*mode)))
        });
        result.map_err(|e| match e {
            Error::Timeout { what, timeout } => Error::NotServing {
                name: self.name.clone(),
                reason: format!("timed out after {timeout:?} waiting for {what}"),
                log_tail: self.log_tail(),
            },
            other => other,
        })
    }

    /// The last lines of the server's log.
    pub(crate) fn log_tail(&self) -> String {
        let path = self.log_path();
        let text = fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        let mut out = format!("==> {} <==\n", path.display());
        for line in &lines[start..] {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// True if the log of the latest start says a port was taken, which a retry with fresh ports can fix.
    pub(crate) fn hit_port_conflict(&self) -> bool {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let marker = format!("=== zk-testkit: start {} of", self.starts);
        let latest = text
            .rsplit_once(&marker)
            .map_or(&text[..], |(_, tail)| tail);
        latest.contains("Address already in use") || latest.contains("AddrInUse")
    }
}

impl Drop for ZkProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
