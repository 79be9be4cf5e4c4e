//! A local ensemble of server processes on loopback, for ensemble load points and failover rounds.
//!
//! The harness is implementation-neutral: it writes one Apache-style `zoo.cfg` per server (the same
//! `tickTime`, `initLimit`, `syncLimit` and fsync setting for everyone, `server.N=127.0.0.1:quorum:election`
//! lines, `myid` in each `dataDir`) and runs the command given after `--` once per server, with `{cfg}`
//! replaced by that server's `zoo.cfg` and `{dir}` by its directory. So Apache ZooKeeper
//! (`java … QuorumPeerMain {cfg}`) and zk-server (`zk-server --config {cfg}`) are started, killed and
//! restarted by the same code. The command must exec the server itself (no wrapper shell), since the
//! harness SIGKILLs the process it spawned.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::args::Args;
use crate::error::BenchError;
use crate::fourlw::{self, Mode};

/// Servers in an ensemble unless `--servers` says otherwise.
pub const DEFAULT_SERVERS: usize = 3;
/// `tickTime` in ms (Apache's `conf/zoo_sample.cfg` value, also the standalone bench's).
pub const DEFAULT_TICK_TIME_MS: u32 = 2000;
/// `initLimit` in ticks (Apache's sample config).
pub const DEFAULT_INIT_LIMIT: u32 = 10;
/// `syncLimit` in ticks (Apache's sample config).
pub const DEFAULT_SYNC_LIMIT: u32 = 5;
/// How long servers get to form a quorum, at start and after a restart. A JVM ensemble on a loaded
/// 2-core machine needs a few seconds; the margin is for slow CI machines.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Replaced by a server's `zoo.cfg` path in the command template.
pub const CFG_PLACEHOLDER: &str = "{cfg}";
/// Replaced by a server's own directory in the command template (e.g. for `-Dzookeeper.log.dir`).
pub const DIR_PLACEHOLDER: &str = "{dir}";
/// How often the harness polls `srvr` while waiting for a quorum.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Lines of a server's console output quoted when it fails.
const LOG_TAIL_LINES: usize = 30;

/// How to build and run an ensemble (from `--dir`, `--servers`, `--tick-time`, `--init-limit`,
/// `--sync-limit`, `--start-timeout` and the command after `--`).
#[derive(Debug, Clone)]
pub struct EnsembleSpec {
    dir: PathBuf,
    servers: usize,
    tick_time_ms: u32,
    init_limit: u32,
    sync_limit: u32,
    start_timeout: Duration,
    command: Vec<String>,
}

impl EnsembleSpec {
    /// Reads the ensemble options; the server command is everything after `--`.
    pub fn from_args(args: &Args) -> Result<EnsembleSpec, BenchError> {
        let command = args.trailing.clone();
        if !command.iter().any(|w| w.contains(CFG_PLACEHOLDER)) {
            return Err(BenchError::Usage(format!(
                "the server command after `--` must contain {CFG_PLACEHOLDER}"
            )));
        }
        let servers = args.num("servers", DEFAULT_SERVERS)?;
        if servers == 0 {
            return Err(BenchError::Usage("--servers must be at least 1".into()));
        }
        Ok(EnsembleSpec {
            dir: PathBuf::from(args.req("dir")?),
            servers,
            tick_time_ms: args.num("tick-time", DEFAULT_TICK_TIME_MS)?,
            init_limit: args.num("init-limit", DEFAULT_INIT_LIMIT)?,
            sync_limit: args.num("sync-limit", DEFAULT_SYNC_LIMIT)?,
            start_timeout: Duration::from_secs_f64(
                args.num("start-timeout", DEFAULT_START_TIMEOUT.as_secs_f64())?,
            ),
            command,
        })
    }

    /// `tickTime` in ms.
    pub fn tick_time_ms(&self) -> u32 {
        self.tick_time_ms
    }
}

/// One server of the ensemble.
struct Member {
    myid: usize,
    dir: PathBuf,
    client_addr: String,
    child: Option<Child>,
}

/// A running ensemble. Servers are addressed by index `0..n`; server `i` has `myid` `i + 1`.
/// Dropping it SIGKILLs every server (their directories stay, for post-mortems).
pub struct Ensemble {
    spec: EnsembleSpec,
    members: Vec<Member>,
}

impl Ensemble {
    /// Writes every server's configuration, starts them all and waits until they form a quorum with
    /// one leader.
    pub async fn start(spec: EnsembleSpec) -> Result<Ensemble, BenchError> {
        let n = spec.servers;
        let ports = free_ports(3 * n)?;
        let (client_ports, peer_ports) = ports.split_at(n);
        let server_lines: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{}",
                    i + 1,
                    peer_ports[2 * i],
                    peer_ports[2 * i + 1]
                )
            })
            .collect();
        let mut members = Vec::with_capacity(n);
        for (i, &port) in client_ports.iter().enumerate() {
            let myid = i + 1;
            let dir = spec.dir.join(format!("server.{myid}"));
            let data = dir.join("data");
            std::fs::create_dir_all(&data)?;
            std::fs::write(data.join("myid"), format!("{myid}\n"))?;
            std::fs::write(
                dir.join("zoo.cfg"),
                zoo_cfg(&spec, &data, port, &server_lines),
            )?;
            members.push(Member {
                myid,
                dir,
                client_addr: format!("127.0.0.1:{port}"),
                child: None,
            });
        }
        let mut ensemble = Ensemble { spec, members };
        for i in 0..n {
            ensemble.spawn(i)?;
        }
        ensemble.wait_serving().await?;
        Ok(ensemble)
    }

    /// The number of servers (running or not).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Every server's client address, in `myid` order.
    pub fn hosts(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_addr.clone()).collect()
    }

    /// The connect string listing every server, in `myid` order.
    pub fn connect_string(&self) -> String {
        self.hosts().join(",")
    }

    /// Pids of the running servers, in `myid` order.
    pub fn pids(&self) -> Vec<u32> {
        self.members
            .iter()
            .filter_map(|m| m.child.as_ref().and_then(Child::id))
            .collect()
    }

    /// The ensemble's options.
    pub fn spec(&self) -> &EnsembleSpec {
        &self.spec
    }

    /// Server `i`'s mode from `srvr`, or `None` if it is down or not serving.
    pub async fn mode(&self, i: usize) -> Option<Mode> {
        self.members[i].child.as_ref()?;
        fourlw::mode(&self.members[i].client_addr).await
    }

    /// Waits until every running server is in the quorum and exactly one leads; returns the leader.
    /// Fails early if a server process exits.
    pub async fn wait_serving(&mut self) -> Result<usize, BenchError> {
        let deadline = Instant::now() + self.spec.start_timeout;
        loop {
            self.check_alive()?;
            if let Some(leader) = self.serving_leader().await {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout(format!(
                    "ensemble in {} to form a quorum within {:?}",
                    self.spec.dir.display(),
                    self.spec.start_timeout
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn serving_leader(&self) -> Option<usize> {
        let mut leader = None;
        for (i, m) in self.members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            match fourlw::mode(&m.client_addr).await {
                Some(Mode::Leader) if leader.is_none() => leader = Some(i),
                Some(mode) if mode.in_quorum() && mode != Mode::Leader => {}
                _ => return None,
            }
        }
        leader
    }

    /// SIGKILLs server `i` (a crash: no shutdown hooks, the data dir stays as it was) and reaps it.
    /// Returns when the signal was sent and when the process was gone.
    pub async fn kill(&mut self, i: usize) -> Result<(Instant, Instant), BenchError> {
        let m = &mut self.members[i];
        let Some(mut child) = m.child.take() else {
            return Err(BenchError::Usage(format!(
                "server.{} is not running",
                m.myid
            )));
        };
        let signalled = Instant::now();
        child.start_kill()?;
        child.wait().await?;
        let gone = Instant::now();
        tracing::info!(myid = m.myid, "killed");
        Ok((signalled, gone))
    }

    /// Starts server `i` again with the same configuration and data dir (does not wait).
    pub fn restart(&mut self, i: usize) -> Result<(), BenchError> {
        self.spawn(i)
    }

    /// Kills every server and waits for them to exit.
    pub async fn shutdown(&mut self) {
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }

    fn spawn(&mut self, i: usize) -> Result<(), BenchError> {
        let m = &mut self.members[i];
        if m.child.is_some() {
            return Ok(());
        }
        let cfg = m.dir.join("zoo.cfg");
        let words: Vec<String> = self
            .spec
            .command
            .iter()
            .map(|w| {
                w.replace(CFG_PLACEHOLDER, &cfg.to_string_lossy())
                    .replace(DIR_PLACEHOLDER, &m.dir.to_string_lossy())
            })
            .collect();
        let console = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("console.log"))?;
        let child = Command::new(&words[0])
            .args(&words[1..])
            .current_dir(&m.dir)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Exited {
                server: format!("server.{}", m.myid),
                detail: format!("cannot run {:?}: {e}", words[0]),
            })?;
        tracing::info!(myid = m.myid, pid = child.id(), addr = %m.client_addr, "started");
        m.child = Some(child);
        Ok(())
    }

    fn check_alive(&mut self) -> Result<(), BenchError> {
        for m in &mut self.members {
            let Some(child) = &mut m.child else { continue };
            if let Some(status) = child.try_wait()? {
                m.child = None;
                return Err(BenchError::Exited {
                    server: format!("server.{}", m.myid),
                    detail: format!("{status}; console:\n{}", log_tail(&m.dir)),
                });
            }
        }
        Ok(())
    }
}

/// The last lines of a server's console output.
fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("console.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// One server's `zoo.cfg`. fsync stays on (`forceSync` defaults to yes in both implementations), as in
/// the standalone comparison.
fn zoo_cfg(spec: &EnsembleSpec, data_dir: &Path, client_port: u16, servers: &[String]) -> String {
    let mut cfg = format!(
        "tickTime={}\n\
         initLimit={}\n\
         syncLimit={}\n\
         dataDir={}\n\
         clientPort={client_port}\n\
         clientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n\
         4lw.commands.whitelist=*\n\
         admin.enableServer=false\n",
        spec.tick_time_ms,
        spec.init_limit,
        spec.sync_limit,
        data_dir.display()
    );
    for line in servers {
        cfg.push_str(line);
        cfg.push('\n');
    }
    // A one-server "ensemble" stays a quorum of one instead of turning standalone; for more servers
    // the key changes nothing, and both implementations accept it.
    cfg.push_str("standaloneEnabled=false\n");
    cfg
}

/// `n` distinct free loopback ports (all bound at once, then released).
fn free_ports(n: usize) -> Result<Vec<u16>, BenchError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EnsembleSpec {
        EnsembleSpec {
            dir: PathBuf::from("/e"),
            servers: 3,
            tick_time_ms: 500,
            init_limit: 10,
            sync_limit: 5,
            start_timeout: DEFAULT_START_TIMEOUT,
            command: vec![
                "zk-server".into(),
                "--config".into(),
                CFG_PLACEHOLDER.into(),
            ],
        }
    }

    #[test]
    fn config_names_every_server() {
        let lines = vec![
            "server.1=127.0.0.1:1:2".to_string(),
            "server.2=127.0.0.1:3:4".to_string(),
        ];
        let cfg = zoo_cfg(&spec(), Path::new("/e/server.1/data"), 2181, &lines);
        assert!(cfg.starts_with("tickTime=500\ninitLimit=10\nsyncLimit=5\n"));
        assert!(cfg.contains("dataDir=/e/server.1/data\nclientPort=2181\n"));
        assert!(cfg.ends_with(
            "server.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\nstandaloneEnabled=false\n"
        ));
        assert!(!cfg.contains("forceSync"));
    }

    #[test]
    fn ports_are_distinct() {
        let mut ports = free_ports(9).unwrap();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 9);
    }
}
