//! One Apache ZooKeeper 3.8 server process: `java … QuorumPeerMain zoo.cfg` from Debian's jars, its
//! whole log on the console, and the console in `console.log` beside the `zoo.cfg`.
//!
//! zk-testkit's own process type is private to it; this one is the harness of
//! `server/tests/quorum_mixed_apache.rs`, made restartable.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use zk_testkit::{Java, QUORUM_PEER_MAIN};

/// log4j 1.2: everything at INFO on the console (`console.log`), with thread and class, as the
/// harness of `server/tests/quorum_mixed_apache.rs` has it.
const LOG4J: &str = "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n\
    log4j.appender.C.layout=org.apache.log4j.PatternLayout\n\
    log4j.appender.C.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p [%t:%C{1}@%L] - %m%n\n";

/// Set (to anything but empty or `0`) to log Apache's quorum package (leader, learner, commit
/// processor) at DEBUG, for tracing a request across the two implementations.
pub const APACHE_DEBUG_ENV: &str = "ZK_MIXED_APACHE_DEBUG";

/// The extra log4j line [`APACHE_DEBUG_ENV`] adds.
const QUORUM_DEBUG: &str = "log4j.logger.org.apache.zookeeper.server.quorum=DEBUG\n";

/// Lines of `console.log` quoted when a test fails.
pub const LOG_TAIL_LINES: usize = 150;

/// An Apache server that can be killed (SIGKILL) and started again on the same directory.
#[derive(Debug)]
pub struct ApacheProcess {
    java: Java,
    dir: PathBuf,
    child: Option<Child>,
}

impl ApacheProcess {
    /// Writes `zoo.cfg` and `log4j.properties` into `dir` (which must exist); does not start it.
    pub fn new(java: Java, dir: &Path, zoo_cfg: &str) -> Self {
        std::fs::write(dir.join("zoo.cfg"), zoo_cfg).unwrap();
        let debug = std::env::var(APACHE_DEBUG_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let log4j = if debug {
            format!("{LOG4J}{QUORUM_DEBUG}")
        } else {
            LOG4J.to_owned()
        };
        std::fs::write(dir.join("log4j.properties"), log4j).unwrap();
        ApacheProcess {
            java,
            dir: dir.to_owned(),
            child: None,
        }
    }

    /// Starts the JVM (appending to `console.log`); returns at once.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.dir.display());
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.console_path())
            .unwrap();
        let log4j = format!(
            "-Dlog4j.configuration=file:{}",
            self.dir.join("log4j.properties").display()
        );
        let child = self
            .java
            .command(
                &[log4j.as_str(), "-Dzookeeper.jmx.log4j.disable=true"],
                QUORUM_PEER_MAIN,
            )
            .arg(self.dir.join("zoo.cfg"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning Apache in {}: {e}", self.dir.display()));
        self.child = Some(child);
    }

    /// SIGKILL (`kill -9`), then reap. The data dir stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the JVM already exited; wait() reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// True while the JVM has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The JVM's console, which is its whole log.
    pub fn console_path(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// The last [`LOG_TAIL_LINES`] lines of the console.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.console_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for ApacheProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
