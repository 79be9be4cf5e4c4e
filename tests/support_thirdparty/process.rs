//! The `zk-server` binary as a real process: started with a generated `zoo.cfg`, waited for with
//! a deadline, killed with SIGKILL.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::zk_server_binary;

/// How long a starting zk-server may take to accept connections (recovery included).
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// One `zk-server --config <dir>/zoo.cfg` process.
#[derive(Debug)]
pub struct ZkServerProcess {
    child: Option<Child>,
    cfg: PathBuf,
    log: PathBuf,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    starts: u32,
}

impl ZkServerProcess {
    /// Writes `<dir>/zoo.cfg` (`clientPort`, `clientPortAddress=127.0.0.1`, `dataDir=<data_dir>`,
    /// every four-letter word, then `extra` lines) and starts the server on it.
    pub async fn start(dir: &Path, data_dir: &Path, port: u16, extra: &[&str]) -> Self {
        let cfg = dir.join("zoo.cfg");
        let mut text = format!(
            "clientPort={port}\nclientPortAddress=127.0.0.1\ndataDir={}\n4lw.commands.whitelist=*\n",
            data_dir.display()
        );
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&cfg, text).expect("writing zoo.cfg");
        let mut p = ZkServerProcess {
            child: None,
            cfg,
            log: dir.join("zk-server.log"),
            addr: format!("127.0.0.1:{port}"),
            starts: 0,
        };
        p.restart().await;
        p
    }

    /// Starts the process again (same config, same data) and waits until it accepts connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running zk-server");
        self.starts += 1;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        let child = Command::new(zk_server_binary())
            .arg("--config")
            .arg(&self.cfg)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawning zk-server");
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("try_wait") {
                panic!(
                    "zk-server exited with {status} during start {}:\n{}",
                    self.starts,
                    self.log_tail()
                );
            }
            if super::fourlw(&self.addr, "ruok").await.as_deref() == Some("imok") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "zk-server did not serve within {START_DEADLINE:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (`kill -9`) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL zk-server");
            child.wait().expect("reaping zk-server");
        }
    }

    /// The server's whole log (all its starts).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 60 lines of the server's log (all its starts).
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for ZkServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
