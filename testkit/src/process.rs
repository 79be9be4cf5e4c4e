//! One Apache ZooKeeper JVM (`QuorumPeerMain <zoo.cfg>`): spawn, wait until serving, SIGKILL, logs.
//!
//! [`crate::ApacheServer`] owns one of these, [`crate::ApacheEnsemble`] several. Each lives in a directory
//! that holds its `zoo.cfg`, `log4j.properties`, `zookeeper.log` (the server's log) and `console.log`
//! (the JVM's stdout and stderr, where startup failures land).

use std::fs::{self, File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::fourlw::{four_letter, server_mode, ServerMode};
use crate::{try_wait_for, Error, Java};

/// The main class the Debian `zkServer.sh` and `zkEnv.sh` run.
pub const QUORUM_PEER_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// Lines of `zookeeper.log` and of `console.log` quoted in start errors.
const LOG_TAIL_LINES: usize = 40;

/// The log4j 1.2 configuration: everything at INFO to `zookeeper.log` beside it, nothing to the console,
/// so server output never mixes with the test's.
const LOG4J_PROPERTIES: &str = "\
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zookeeper.log.dir}/zookeeper.log
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
";

/// A ZooKeeper server JVM that can be killed and started again with the same configuration.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: String,
    dir: PathBuf,
    java: Java,
    jvm_args: Vec<String>,
    client_addr: SocketAddr,
    child: Option<Child>,
}

impl ServerProcess {
    /// Writes `zoo.cfg` and `log4j.properties` into `dir` (which must exist); does not start the JVM.
    pub(crate) fn new(
        name: String,
        dir: &Path,
        java: Java,
        extra_jvm_args: &[String],
        zoo_cfg: &str,
        client_addr: SocketAddr,
    ) -> Result<Self, Error> {
        write(&dir.join("zoo.cfg"), zoo_cfg)?;
        write(&dir.join("log4j.properties"), LOG4J_PROPERTIES)?;
        let mut jvm_args = vec![
            format!("-Dzookeeper.log.dir={}", dir.display()),
            format!(
                "-Dlog4j.configuration=file:{}",
                dir.join("log4j.properties").display()
            ),
            "-Dzookeeper.jmx.log4j.disable=true".to_owned(),
        ];
        jvm_args.extend_from_slice(extra_jvm_args);
        Ok(ServerProcess {
            name,
            dir: dir.to_owned(),
            java,
            jvm_args,
            client_addr,
            child: None,
        })
    }

    /// The server's client address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The server's log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join("zookeeper.log")
    }

    /// Starts the JVM if it is not running. Does not wait for it to serve.
    pub(crate) fn spawn(&mut self) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("console.log"))
            .map_err(|e| Error::io("opening console.log", e))?;
        let console_err = console
            .try_clone()
            .map_err(|e| Error::io("cloning console.log", e))?;
        let child = self
            .java
            .command(&self.jvm_args, QUORUM_PEER_MAIN)
            .arg(self.dir.join("zoo.cfg"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_err)
            .spawn()
            .map_err(|e| {
                Error::io(
                    format!("spawning {} for {}", self.java.java().display(), self.name),
                    e,
                )
            })?;
        tracing::debug!(name = %self.name, pid = child.id(), addr = %self.client_addr, "spawned");
        self.child = Some(child);
        Ok(())
    }

    /// True while the JVM has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs the JVM (if running) and reaps it. Files stay.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the child has already exited; wait() reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            tracing::debug!(name = %self.name, "killed");
        }
    }

    /// Polls until the JVM answers `ruok` with `imok` and `srvr` reports a mode that `accept` takes.
    /// Fails early with [`Error::Exited`] if the JVM exits, and with [`Error::NotServing`] at the deadline.
    pub(crate) fn wait_serving(
        &mut self,
        timeout: Duration,
        accept: impl Fn(ServerMode) -> bool,
    ) -> Result<ServerMode, Error> {
        let what = format!("{} to serve on {}", self.name, self.client_addr);
        let result = try_wait_for(&what, timeout, || {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(Error::Exited {
                        name: self.name.clone(),
                        status,
                        log_tail: self.log_tail(),
                    });
                }
            } else {
                return Err(Error::Config(format!("{} is not running", self.name)));
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

    /// The last lines of `zookeeper.log` and `console.log`, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let mut out = String::new();
        for file in ["zookeeper.log", "console.log"] {
            let path = self.dir.join(file);
            let text = fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            out.push_str(&format!("==> {} <==\n", path.display()));
            for line in &lines[start..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// True if the logs say a port was taken, which a retry with fresh ports can fix.
    pub(crate) fn hit_port_conflict(&self) -> bool {
        self.log_tail().contains("Address already in use")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    File::create(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, contents.as_bytes()))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
