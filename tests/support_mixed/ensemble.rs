//! [`MixedEnsemble`]: three servers, each either an Apache ZooKeeper JVM or an in-process zk-server
//! ensemble member, in one quorum.
//!
//! Every member gets the same hand-written `zoo.cfg` (its own `dataDir` and `clientPort`), which
//! zk-server parses with [`ServerConfig::parse`]; zk-server takes Apache's keys that it has no use for.
//!
//! # Choosing the leader
//! Apache's FastLeaderElection elects the greatest `(epoch, zxid, sid)`; with every data dir empty that
//! is the greatest sid, but only if its vote arrives while the others are still looking: two zk-servers
//! started beside a JVM that is still warming up elect one of their own before the JVM's vote comes
//! in. So the intended leader is always server 3, and it starts as a pair with one server of the other
//! implementation: two voters can only agree on the higher sid, whatever the timing. The third server
//! joins once that pair serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zk_server::{Server, ServerConfig, ServerHandle};
use zk_testkit::{free_ports, Java, ServerMode, TestDir};

use super::apache::ApacheProcess;
use super::{
    blocking, INIT_LIMIT_TICKS, MAX_SESSION_TIMEOUT_MS, POLL_INTERVAL, START_DEADLINE,
    SYNC_LIMIT_TICKS, TICK_TIME_MS,
};

/// Servers in a mixed ensemble: the smallest quorum that survives a crash, and enough for both
/// "2 + 1" splits.
pub const SERVERS: usize = 3;

/// The sid started first so that it leads (see the module doc).
pub const LEADER_SID: u64 = SERVERS as u64;

/// Which implementation a member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache ZooKeeper 3.8, a JVM.
    Apache,
    /// zk-server, in this process.
    ZkServer,
}

impl Kind {
    /// `"apache"` or `"zk-server"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Apache => "apache",
            Kind::ZkServer => "zk-server",
        }
    }
}

enum Runner {
    Apache(ApacheProcess),
    ZkServer {
        cfg: Box<ServerConfig>,
        handle: Option<ServerHandle>,
    },
}

/// One server of the ensemble.
pub struct Member {
    /// Its `myid`.
    pub sid: u64,
    /// Its implementation.
    pub kind: Kind,
    /// Its client address.
    pub addr: SocketAddr,
    runner: Runner,
}

impl Member {
    /// `"server.2 (apache)"`, for messages.
    pub fn label(&self) -> String {
        format!("server.{} ({})", self.sid, self.kind.name())
    }
}

/// Three servers on loopback, indexed `0..3` (index `i` has sid `i + 1`). Dropping it kills the JVMs;
/// if the thread is panicking, it first prints every Apache console tail and every server's mode.
pub struct MixedEnsemble {
    members: Vec<Member>,
    name: String,
    // Last, so the servers stop before their directory is removed.
    dir: TestDir,
}

impl MixedEnsemble {
    /// Starts a member of kind `kinds[i]` with sid `i + 1` for each `i`, so that [`LEADER_SID`] leads
    /// (see the module doc); panics if another server does. Returns without waiting for the last
    /// server to join.
    pub async fn start(java: &Java, name: &str, kinds: [Kind; SERVERS]) -> MixedEnsemble {
        let dir = TestDir::new(name).unwrap();
        let ports = free_ports(3 * SERVERS).unwrap();
        let lines: Vec<String> = (0..SERVERS)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{}",
                    i + 1,
                    ports[3 * i],
                    ports[3 * i + 1]
                )
            })
            .collect();
        let mut members = Vec::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let sid = i as u64 + 1;
            let sdir = dir.path().join(format!("server.{sid}"));
            let data = sdir.join("data");
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("myid"), format!("{sid}\n")).unwrap();
            let client_port = ports[3 * i + 2];
            let cfg = zoo_cfg(&data, client_port, &lines);
            let runner = match kind {
                Kind::Apache => Runner::Apache(ApacheProcess::new(java.clone(), &sdir, &cfg)),
                Kind::ZkServer => Runner::ZkServer {
                    cfg: Box::new(ServerConfig::parse(&cfg).unwrap()),
                    handle: None,
                },
            };
            members.push(Member {
                sid,
                kind,
                addr: ([127, 0, 0, 1], client_port).into(),
                runner,
            });
        }
        let mut ensemble = MixedEnsemble {
            members,
            name: name.to_owned(),
            dir,
        };
        eprintln!(
            "{name}: {} in {}",
            ensemble.describe(),
            ensemble.dir.path().display()
        );
        // The leader-to-be and one server of the other implementation first: of two voters the
        // lower sid always takes the higher one's vote, so this pair elects server 3 whatever the
        // timing. The third server then joins a serving leader.
        let leader = LEADER_SID as usize - 1;
        let partner = (0..SERVERS)
            .find(|&i| ensemble.members[i].kind != ensemble.members[leader].kind)
            .expect("a mixed ensemble");
        ensemble.start_member(leader).await;
        ensemble.start_member(partner).await;
        let first = ensemble.wait_for_quorum(START_DEADLINE).await;
        assert_eq!(
            first,
            leader,
            "{name}: the first pair elected {}",
            ensemble.members[first].label()
        );
        for i in (0..SERVERS).filter(|&i| i != leader && i != partner) {
            ensemble.start_member(i).await;
        }
        ensemble
    }

    /// `"server.1=apache server.2=apache server.3=zk-server"`.
    pub fn describe(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("server.{}={}@{}", m.sid, m.kind.name(), m.addr))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The members, by index.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Member `i`.
    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// Member `i`'s client address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].addr
    }

    /// Member `i`'s data dir.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("server.{}", self.members[i].sid))
            .join("data")
    }

    async fn start_member(&mut self, i: usize) {
        match &mut self.members[i].runner {
            Runner::Apache(p) => p.spawn(),
            Runner::ZkServer { cfg, handle } => {
                assert!(handle.is_none(), "server.{} already runs", i + 1);
                let started = Server::builder().config((**cfg).clone()).start().await;
                *handle = Some(started.unwrap_or_else(|e| panic!("zk-server {}: {e}", i + 1)));
            }
        }
    }

    /// Starts member `i` again (after [`MixedEnsemble::kill`]) on the same ports and data dir;
    /// returns without waiting for it to rejoin.
    pub async fn restart(&mut self, i: usize) {
        self.start_member(i).await;
    }

    /// Crashes member `i`: SIGKILL for a JVM, [`ServerHandle::kill`] for zk-server. Either way the
    /// peers see its sockets close, and what it acknowledged is on its disk.
    pub async fn kill(&mut self, i: usize) {
        match &mut self.members[i].runner {
            Runner::Apache(p) => blocking(|| p.kill()),
            Runner::ZkServer { handle, .. } => {
                if let Some(h) = handle.take() {
                    h.kill().await;
                }
            }
        }
    }

    /// True while member `i` runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        match &mut self.members[i].runner {
            Runner::Apache(p) => p.is_running(),
            Runner::ZkServer { handle, .. } => handle.is_some(),
        }
    }

    /// The indexes of the running members.
    pub fn running(&mut self) -> Vec<usize> {
        (0..SERVERS).filter(|&i| self.is_running(i)).collect()
    }

    /// Sends a four-letter word to member `i`.
    pub fn four_letter(&self, i: usize, cmd: &str) -> Result<String, zk_testkit::Error> {
        let addr = self.addr(i);
        blocking(|| zk_testkit::four_letter(addr, cmd))
    }

    /// Member `i`'s mode from `srvr`, or `None` if it is down or not serving.
    pub fn mode(&self, i: usize) -> Option<ServerMode> {
        self.four_letter(i, "srvr")
            .ok()
            .and_then(|r| ServerMode::parse(&r))
    }

    /// Polls `srvr` until every running member serves as leader or follower and exactly one leads;
    /// returns the leader's index. Panics (printing the logs) after `timeout`.
    pub async fn wait_for_quorum(&mut self, timeout: Duration) -> usize {
        let running = self.running();
        let deadline = Instant::now() + timeout;
        loop {
            let modes: Vec<Option<ServerMode>> = running.iter().map(|&i| self.mode(i)).collect();
            let serving = modes
                .iter()
                .all(|m| matches!(m, Some(ServerMode::Leader | ServerMode::Follower)));
            let leaders: Vec<usize> = running
                .iter()
                .zip(&modes)
                .filter(|(_, m)| **m == Some(ServerMode::Leader))
                .map(|(i, _)| *i)
                .collect();
            if serving && leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "{}: servers {running:?} not in one quorum within {timeout:?}: modes {modes:?}",
                self.name
            );
            tokio::time::sleep(POLL_INTERVAL).await; // polling servers' 4lw with a deadline
        }
    }

    /// Stops the zk-server members gracefully and kills the JVMs.
    pub async fn shutdown(mut self) {
        for m in &mut self.members {
            match &mut m.runner {
                Runner::Apache(p) => blocking(|| p.kill()),
                Runner::ZkServer { handle, .. } => {
                    if let Some(h) = handle.take() {
                        h.shutdown().await;
                    }
                }
            }
        }
    }

    /// Every member's mode and, for Apache members, the console tail.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            let srvr = self
                .four_letter(i, "srvr")
                .unwrap_or_else(|e| format!("({e})"));
            out.push_str(&format!("==== {} srvr:\n{srvr}\n", m.label()));
            if let Runner::Apache(p) = &m.runner {
                out.push_str(&format!(
                    "==== {} {}:\n{}\n",
                    m.label(),
                    p.console_path().display(),
                    p.log_tail()
                ));
            }
        }
        out
    }
}

impl Drop for MixedEnsemble {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{}: failed with {}; logs in {} (ZK_TESTKIT_KEEP_DIRS=1 keeps them)\n{}",
                self.name,
                self.describe(),
                self.dir.path().display(),
                self.diagnostics()
            );
        }
    }
}

/// The `zoo.cfg` of one member; the same text for both implementations.
fn zoo_cfg(data: &std::path::Path, client_port: u16, servers: &[String]) -> String {
    format!(
        "tickTime={TICK_TIME_MS}\ninitLimit={INIT_LIMIT_TICKS}\nsyncLimit={SYNC_LIMIT_TICKS}\n\
         dataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
         maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}\n4lw.commands.whitelist=*\n\
         admin.enableServer=false\nforceSync=no\nstandaloneEnabled=false\n{}\n",
        data.display(),
        servers.join("\n")
    )
}
