//! The ensemble's membership and timing, as a quorum peer needs them: the `server.N=…` lines of zoo.cfg
//! (parsed by [`crate::config`] into [`ServerLine`]s) and the `myid` file in dataDir.
//!
//! ```text
//! server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]
//! <dataDir>/myid          the decimal N of this server
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zk_zab::PeerId;

use crate::config::{ConfigError, ServerConfig, ServerLine};

/// The name of the file in dataDir that holds this server's id (Apache `QuorumPeerConfig`).
pub const MYID_FILE: &str = "myid";

/// One member of the ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    /// Its id (`N`).
    pub id: PeerId,
    /// Host of both its ports.
    pub host: String,
    /// The quorum port (learners dial the leader here).
    pub quorum_port: u16,
    /// The election port (fast leader election).
    pub election_port: u16,
    /// Whether it is an observer (never votes).
    pub observer: bool,
    /// The client address text of the line, if any (`[clientHost:]clientPort`).
    pub client: Option<String>,
}

impl PeerAddr {
    /// `host:quorumPort`.
    pub fn quorum_addr(&self) -> String {
        format!("{}:{}", self.host, self.quorum_port)
    }

    /// `host:electionPort`.
    pub fn election_addr(&self) -> String {
        format!("{}:{}", self.host, self.election_port)
    }

    fn from_line(line: &ServerLine) -> Result<Self, ConfigError> {
        let observer = match line.role.as_str() {
            "participant" => false,
            "observer" => true,
            other => {
                return Err(ConfigError::BadValue {
                    key: format!("server.{}", line.id),
                    value: other.into(),
                    reason: "role must be participant or observer".into(),
                })
            }
        };
        Ok(PeerAddr {
            id: PeerId(line.id),
            host: line.host.clone(),
            quorum_port: line.quorum_port,
            election_port: line.election_port,
            observer,
            client: line.client.clone(),
        })
    }
}

/// What the quorum shell needs to run one peer.
#[derive(Debug, Clone)]
pub struct QuorumConfig {
    /// This server's id (the `myid` file).
    pub my_id: PeerId,
    /// Every member, this server included.
    pub peers: BTreeMap<PeerId, PeerAddr>,
    /// ZooKeeper's `tickTime`.
    pub tick_time: Duration,
    /// `initLimit` in tickTimes.
    pub init_limit: u32,
    /// `syncLimit` in tickTimes.
    pub sync_limit: u32,
    /// Core ticks per tickTime ([`zk_zab::DEFAULT_TICKS_PER_TICK_TIME`]).
    pub ticks_per_tick_time: u32,
    /// Snapshots and epoch files.
    pub data_dir: PathBuf,
    /// Txn log (defaults to `data_dir`).
    pub data_log_dir: PathBuf,
    /// fsync the log before acknowledging (`forceSync`).
    pub force_sync: bool,
}

impl QuorumConfig {
    /// The quorum part of a parsed zoo.cfg, with `my_id` read from the `myid` file by the caller
    /// ([`read_myid`]). Fails if the config has no `server.N` line for `my_id` or names an unknown role.
    pub fn from_server_config(cfg: &ServerConfig, my_id: PeerId) -> Result<Self, ConfigError> {
        let mut peers = BTreeMap::new();
        for line in cfg.servers.values() {
            let p = PeerAddr::from_line(line)?;
            peers.insert(p.id, p);
        }
        let qc = QuorumConfig {
            my_id,
            peers,
            tick_time: Duration::from_millis(cfg.tick_time.into()),
            init_limit: cfg.init_limit,
            sync_limit: cfg.sync_limit,
            ticks_per_tick_time: zk_zab::DEFAULT_TICKS_PER_TICK_TIME,
            data_dir: cfg.data_dir.clone(),
            data_log_dir: cfg
                .data_log_dir
                .clone()
                .unwrap_or_else(|| cfg.data_dir.clone()),
            force_sync: cfg.force_sync,
        };
        qc.validate()?;
        Ok(qc)
    }

    /// Checks the rules the shell relies on, naming the failed one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.peers.contains_key(&self.my_id) {
            return Err(ConfigError::Invalid(format!(
                "myid {} has no server.{} line",
                self.my_id, self.my_id
            )));
        }
        if self.tick_time.is_zero() {
            return Err(ConfigError::Invalid("tickTime must be positive".into()));
        }
        self.zab_config()
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// This server's own line.
    pub fn me(&self) -> &PeerAddr {
        &self.peers[&self.my_id]
    }

    /// The ZAB core's configuration: membership and limits.
    pub fn zab_config(&self) -> zk_zab::Config {
        let voters = self.peers.values().filter(|p| !p.observer).map(|p| p.id);
        let observers = self.peers.values().filter(|p| p.observer).map(|p| p.id);
        let mut c = zk_zab::Config::new(self.my_id, voters, observers);
        c.init_limit = self.init_limit;
        c.sync_limit = self.sync_limit;
        c.ticks_per_tick_time = self.ticks_per_tick_time;
        c
    }

    /// The period of [`zk_zab::Zab::tick`]: `tickTime / ticks_per_tick_time`.
    pub fn tick_period(&self) -> Duration {
        self.tick_time / self.ticks_per_tick_time.max(1)
    }

    /// How long a learner keeps trying to reach its leader: `initLimit × tickTime` (Apache
    /// `Learner.connectToLeader`).
    pub fn connect_timeout(&self) -> Duration {
        self.tick_time * self.init_limit
    }

    /// The membership as Apache's `QuorumVerifier.toString()` prints it (notifications and NEWLEADER
    /// carry it): one `server.N=host:quorumPort:electionPort:role[;client]` line each, then `version=0`.
    pub fn config_text(&self) -> String {
        let mut s = String::new();
        for p in self.peers.values() {
            let role = if p.observer {
                "observer"
            } else {
                "participant"
            };
            s.push_str(&format!(
                "server.{}={}:{}:{}:{}",
                p.id, p.host, p.quorum_port, p.election_port, role
            ));
            if let Some(c) = &p.client {
                s.push(';');
                s.push_str(c);
            }
            s.push('\n');
        }
        s.push_str("version=0");
        s
    }
}

/// Reads `<data_dir>/myid`: a decimal server id, surrounding whitespace ignored.
pub fn read_myid(data_dir: &Path) -> Result<PeerId, ConfigError> {
    let path = data_dir.join(MYID_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    text.trim()
        .parse::<u64>()
        .map(PeerId)
        .map_err(|e| ConfigError::BadValue {
            key: path.display().to_string(),
            value: text.trim().into(),
            reason: e.to_string(),
        })
}

/// Writes `<data_dir>/myid` (for tests and tooling).
pub fn write_myid(data_dir: &Path, id: PeerId) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(data_dir.join(MYID_FILE), format!("{id}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "tickTime=100\ninitLimit=5\nsyncLimit=2\ndataDir=/tmp/x\n\
        server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889:participant;2182\n\
        server.3=127.0.0.1:2890:3890:observer\n";

    #[test]
    fn server_lines_become_voters_and_observers() {
        let cfg = ServerConfig::parse(CFG).unwrap();
        let q = QuorumConfig::from_server_config(&cfg, PeerId(2)).unwrap();
        assert_eq!(q.me().quorum_addr(), "127.0.0.1:2889");
        assert_eq!(q.me().election_addr(), "127.0.0.1:3889");
        let z = q.zab_config();
        assert_eq!(z.voters, [PeerId(1), PeerId(2)].into_iter().collect());
        assert_eq!(z.observers, [PeerId(3)].into_iter().collect());
        assert_eq!(q.tick_period(), Duration::from_millis(10));
        assert_eq!(q.connect_timeout(), Duration::from_millis(500));
        assert_eq!(
            q.config_text(),
            "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant;2182\n\
             server.3=127.0.0.1:2890:3890:observer\nversion=0"
        );
    }

    #[test]
    fn myid_must_have_a_line() {
        let cfg = ServerConfig::parse(CFG).unwrap();
        let e = QuorumConfig::from_server_config(&cfg, PeerId(9)).unwrap_err();
        assert!(e.to_string().contains("myid 9"), "{e}");
    }

    #[test]
    fn myid_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("zk-quorum-myid-{}", std::process::id()));
        write_myid(&dir, PeerId(7)).unwrap();
        assert_eq!(read_myid(&dir).unwrap(), PeerId(7));
        std::fs::write(dir.join(MYID_FILE), "x").unwrap();
        assert!(read_myid(&dir).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
