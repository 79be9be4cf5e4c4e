//! Server configuration in ZooKeeper's own `zoo.cfg` format (`QuorumPeerConfig`).
//!
//! Every default is a named constant that says where Apache ZooKeeper defines the same value.
//! Unknown keys are logged as warnings (Apache also passes unknown keys on as system
//! properties); a bad value is an error naming the key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// `clientPort` when none is given (the conventional ZooKeeper port).
pub const DEFAULT_CLIENT_PORT: u16 = 2181;

/// zoo.cfg keys Apache ZooKeeper 3.8 knows that have no effect in zk-server (it has no admin
/// HTTP server, metrics provider, TLS or SASL yet; ensemble keys take effect with the ensemble).
/// They are accepted with an info line instead of the unknown-key warning, so an Apache zoo.cfg
/// starts zk-server quietly.
pub const APACHE_KEYS_WITHOUT_EFFECT: &[&str] = &[
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.idleTimeout",
    "admin.commandURL",
    "admin.portUnification",
    "standaloneEnabled",
    "reconfigEnabled",
    "electionAlg",
    "peerType",
    "quorumListenOnAllIPs",
    "metricsProvider.className",
    "metricsProvider.httpPort",
    "metricsProvider.httpHost",
    "metricsProvider.exportJvmInfo",
    "audit.enable",
    "globalOutstandingLimit",
    "preAllocSize",
    "syncEnabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortListenBacklog",
    "connectToLearnerMasterLimit",
];
/// `clientPortAddress` when none is given. Apache binds every interface; zk-server binds
/// loopback unless told otherwise, the safer default for a development server.
pub const DEFAULT_CLIENT_ADDRESS: &str = "127.0.0.1";
/// `tickTime` when none is given: `ZooKeeperServer.DEFAULT_TICK_TIME` (3000 ms). The sample
/// `zoo.cfg` Apache ships sets 2000.
pub const DEFAULT_TICK_TIME: u32 = 3000;
/// `maxClientCnxns`: `NIOServerCnxnFactory`'s default of 60 connections per client IP.
pub const DEFAULT_MAX_CLIENT_CNXNS: u32 = 60;
/// `snapCount`: `SyncRequestProcessor`'s default of 100000 txns between snapshots.
pub const DEFAULT_SNAP_COUNT: u32 = 100_000;
/// `autopurge.snapRetainCount`: `DatadirCleanupManager`'s default (and minimum) of 3.
pub const DEFAULT_SNAP_RETAIN_COUNT: u32 = 3;
/// `jute.maxbuffer`: `BinaryInputArchive.maxBuffer`'s default, 0xfffff bytes.
pub const DEFAULT_JUTE_MAXBUFFER: usize = zk_proto::DEFAULT_JUTE_MAXBUFFER;
/// Minimum session timeout as a multiple of tickTime (`ZooKeeperServer.getMinSessionTimeout`).
pub const MIN_SESSION_TIMEOUT_TICKS: u32 = 2;
/// Maximum session timeout as a multiple of tickTime (`ZooKeeperServer.getMaxSessionTimeout`).
pub const MAX_SESSION_TIMEOUT_TICKS: u32 = 20;
/// `4lw.commands.whitelist` when unset: Apache always enables `srvr` (zkServer.sh uses it).
pub const DEFAULT_4LW_WHITELIST: &str = "srvr";
/// `extendedTypesEnabled` default for zk-server: **on**, so TTL nodes work out of the box.
/// (Apache's default is off; set `extendedTypesEnabled=false` to get UNIMPLEMENTED for TTLs.)
pub const DEFAULT_EXTENDED_TYPES: bool = true;
/// `znode.container.checkIntervalMs`: `ContainerManager`'s default check interval, 60 s.
pub const DEFAULT_CONTAINER_CHECK_INTERVAL_MS: u64 = 60_000;
/// `znode.container.maxPerMinute`: `ContainerManager`'s default cap of 10000 container/TTL
/// deletions per minute (one every 6 ms).
pub const DEFAULT_CONTAINER_MAX_PER_MINUTE: u32 = 10_000;
/// `znode.container.maxNeverUsedIntervalMs`: 0 keeps containers that never had a child forever.
pub const DEFAULT_CONTAINER_MAX_NEVER_USED_INTERVAL_MS: u64 = 0;
/// `zookeeper.digest.enabled`: Apache 3.6+ keeps a tree digest by default.
pub const DEFAULT_DIGEST_ENABLED: bool = true;
/// The data directory used when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./zk-data";
/// Every four-letter word zk-server knows.
pub const FOUR_LETTER_WORDS: [&str; 15] = [
    "ruok", "srvr", "stat", "conf", "cons", "crst", "envi", "mntr", "srst", "wchs", "wchc", "wchp",
    "dump", "isro", "hash",
];
/// The environment variable (and `-D` flag name) for the super user digest, as Apache's
/// `zookeeper.DigestAuthenticationProvider.superDigest` system property.
pub const SUPER_DIGEST_PROPERTY: &str = "zookeeper.DigestAuthenticationProvider.superDigest";

/// Why a configuration is invalid.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key has a value that does not parse or is out of range.
    #[error("invalid value {value:?} for {key}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule across keys failed.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A `server.N` line: `host:quorumPort:electionPort[:role][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// The id N.
    pub id: u64,
    /// The host.
    pub host: String,
    /// Quorum (peer) port.
    pub quorum_port: u16,
    /// Leader election port.
    pub election_port: u16,
    /// `participant` or `observer`.
    pub role: String,
    /// The client address, if the line carries one.
    pub client: Option<String>,
}

/// The parsed configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Milliseconds per tick.
    pub tick_time: u32,
    /// Snapshot directory.
    pub data_dir: PathBuf,
    /// Txn log directory (defaults to `data_dir`).
    pub data_log_dir: Option<PathBuf>,
    /// Client port.
    pub client_port: u16,
    /// Client bind address.
    pub client_port_address: String,
    /// initLimit (ticks), for ensembles.
    pub init_limit: u32,
    /// syncLimit (ticks), for ensembles.
    pub sync_limit: u32,
    /// Connections per client IP (0 = unlimited).
    pub max_client_cnxns: u32,
    /// Minimum session timeout in ms (`None` = 2 ticks).
    pub min_session_timeout: Option<u32>,
    /// Maximum session timeout in ms (`None` = 20 ticks).
    pub max_session_timeout: Option<u32>,
    /// Txns between snapshots.
    pub snap_count: u32,
    /// Snapshots kept by autopurge.
    pub snap_retain_count: u32,
    /// Hours between purges (0 = off).
    pub purge_interval: u32,
    /// Enabled four-letter words.
    pub four_letter_whitelist: BTreeSet<String>,
    /// Maximum request size.
    pub jute_maxbuffer: usize,
    /// fsync the log before acknowledging.
    pub force_sync: bool,
    /// TTL nodes allowed.
    pub extended_types: bool,
    /// `super:<base64 sha1>`; a client authenticating with a matching digest is super.
    pub super_digest: Option<String>,
    /// `server.N` lines.
    pub servers: BTreeMap<u64, ServerLine>,
    /// Container/TTL reaper interval (`znode.container.checkIntervalMs`).
    pub container_check_interval_ms: u64,
    /// Container/TTL deletions per minute at most (`znode.container.maxPerMinute`).
    pub container_max_per_minute: u32,
    /// Containers that never had a child are reaped after this long; 0 = never
    /// (`znode.container.maxNeverUsedIntervalMs`).
    pub container_max_never_used_interval_ms: u64,
    /// Keep the tree digest, log it with each txn and snapshot, check it on replay
    /// (`zookeeper.digest.enabled`).
    pub digest_enabled: bool,
    /// `readonlymode.enabled` (a system property in Apache): an ensemble member that lost its
    /// quorum serves reads to clients that allow read-only sessions.
    pub read_only_mode: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time: DEFAULT_TICK_TIME,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            data_log_dir: None,
            client_port: DEFAULT_CLIENT_PORT,
            client_port_address: DEFAULT_CLIENT_ADDRESS.into(),
            init_limit: 10,
            sync_limit: 5,
            max_client_cnxns: DEFAULT_MAX_CLIENT_CNXNS,
            min_session_timeout: None,
            max_session_timeout: None,
            snap_count: DEFAULT_SNAP_COUNT,
            snap_retain_count: DEFAULT_SNAP_RETAIN_COUNT,
            purge_interval: 0,
            four_letter_whitelist: parse_whitelist(DEFAULT_4LW_WHITELIST),
            jute_maxbuffer: DEFAULT_JUTE_MAXBUFFER,
            force_sync: true,
            extended_types: DEFAULT_EXTENDED_TYPES,
            super_digest: std::env::var(SUPER_DIGEST_PROPERTY).ok(),
            servers: BTreeMap::new(),
            container_check_interval_ms: DEFAULT_CONTAINER_CHECK_INTERVAL_MS,
            container_max_per_minute: DEFAULT_CONTAINER_MAX_PER_MINUTE,
            container_max_never_used_interval_ms: DEFAULT_CONTAINER_MAX_NEVER_USED_INTERVAL_MS,
            digest_enabled: DEFAULT_DIGEST_ENABLED,
            read_only_mode: false,
        }
    }
}

fn parse_whitelist(v: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for cmd in v.split(',').map(str::trim) {
        if cmd == "*" {
            set.extend(FOUR_LETTER_WORDS.iter().map(|s| s.to_string()));
        } else if !cmd.is_empty() {
            set.insert(cmd.to_string());
        }
    }
    set.insert("srvr".into());
    set
}

fn bad(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse::<T>()
        .map_err(|e| bad(key, value, e.to_string()))
}

fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(bad(key, value, "expected true/false or yes/no")),
    }
}

fn server_line(key: &str, id: u64, value: &str) -> Result<ServerLine, ConfigError> {
    let (addr, client) = match value.split_once(';') {
        Some((a, c)) => (a, Some(c.trim().to_string())),
        None => (value, None),
    };
    let parts: Vec<&str> = addr.trim().split(':').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return Err(bad(
            key,
            value,
            "expected host:quorumPort:electionPort[:role]",
        ));
    }
    Ok(ServerLine {
        id,
        host: parts[0].to_string(),
        quorum_port: num(key, parts[1])?,
        election_port: num(key, parts[2])?,
        role: parts.get(3).unwrap_or(&"participant").to_string(),
        client,
    })
}

impl ServerConfig {
    /// Reads and parses a `zoo.cfg` file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses `zoo.cfg` text (Java properties: `key=value`, `#`/`!` comments).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut c = ServerConfig::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| bad(line, "", "expected key=value"))?;
            c.set(key.trim(), value.trim())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Sets one key (also used for `-D`-style overrides). Apache turns unknown zoo.cfg keys
    /// into `zookeeper.<key>` system properties, so the system properties zk-server honours
    /// are accepted both with and without the `zookeeper.` prefix.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let property = key.strip_prefix("zookeeper.").unwrap_or(key);
        let positive = |n: u64| {
            if n == 0 {
                Err(bad(key, value, "must be positive"))
            } else {
                Ok(n)
            }
        };
        match property {
            "digest.enabled" => self.digest_enabled = boolean(key, value)?,
            "readonlymode.enabled" => self.read_only_mode = boolean(key, value)?,
            "znode.container.checkIntervalMs" => {
                self.container_check_interval_ms = positive(num(key, value)?)?
            }
            "znode.container.maxPerMinute" => {
                self.container_max_per_minute = positive(u64::from(num::<u32>(key, value)?))? as u32
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                self.container_max_never_used_interval_ms = num(key, value)?
            }
            _ => return self.set_zoo_cfg_key(key, value),
        }
        Ok(())
    }

    fn set_zoo_cfg_key(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "tickTime" => self.tick_time = num(key, value)?,
            "dataDir" => self.data_dir = PathBuf::from(value),
            "dataLogDir" => self.data_log_dir = Some(PathBuf::from(value)),
            "clientPort" => self.client_port = num(key, value)?,
            "clientPortAddress" => self.client_port_address = value.to_string(),
            "initLimit" => self.init_limit = num(key, value)?,
            "syncLimit" => self.sync_limit = num(key, value)?,
            "maxClientCnxns" => self.max_client_cnxns = num(key, value)?,
            "minSessionTimeout" => self.min_session_timeout = non_negative(key, value)?,
            "maxSessionTimeout" => self.max_session_timeout = non_negative(key, value)?,
            "snapCount" => self.snap_count = num(key, value)?,
            "autopurge.snapRetainCount" => self.snap_retain_count = num(key, value)?,
            "autopurge.purgeInterval" => self.purge_interval = num(key, value)?,
            "4lw.commands.whitelist" => self.four_letter_whitelist = parse_whitelist(value),
            "jute.maxbuffer" => self.jute_maxbuffer = num(key, value)?,
            "forceSync" => self.force_sync = boolean(key, value)?,
            "extendedTypesEnabled" => self.extended_types = boolean(key, value)?,
            "superDigest" | SUPER_DIGEST_PROPERTY => self.super_digest = Some(value.to_string()),
            k if k.starts_with("server.") => {
                let id: u64 = num(key, &k["server.".len()..])?;
                self.servers.insert(id, server_line(key, id, value)?);
            }
            k if APACHE_KEYS_WITHOUT_EFFECT.contains(&k) => {
                tracing::info!(
                    key,
                    value,
                    "Apache ZooKeeper setting without effect in zk-server"
                )
            }
            _ => tracing::warn!(key, value, "unknown configuration key ignored"),
        }
        Ok(())
    }

    /// Cross-key rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick_time == 0 {
            return Err(bad("tickTime", "0", "must be positive"));
        }
        if self.min_session_timeout() > self.max_session_timeout() {
            return Err(ConfigError::Invalid(format!(
                "minSessionTimeout {} must not be larger than maxSessionTimeout {}",
                self.min_session_timeout(),
                self.max_session_timeout()
            )));
        }
        if self.snap_count < 2 {
            return Err(bad(
                "snapCount",
                &self.snap_count.to_string(),
                "must be at least 2",
            ));
        }
        Ok(())
    }

    /// Effective minimum session timeout (ms).
    pub fn min_session_timeout(&self) -> u32 {
        self.min_session_timeout
            .unwrap_or(self.tick_time * MIN_SESSION_TIMEOUT_TICKS)
    }

    /// Effective maximum session timeout (ms).
    pub fn max_session_timeout(&self) -> u32 {
        self.max_session_timeout
            .unwrap_or(self.tick_time * MAX_SESSION_TIMEOUT_TICKS)
    }

    /// The txn log directory.
    pub fn log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// The client socket address.
    pub fn client_addr(&self) -> Result<SocketAddr, ConfigError> {
        let s = format!("{}:{}", self.client_port_address, self.client_port);
        s.parse()
            .or_else(|_| {
                std::net::ToSocketAddrs::to_socket_addrs(&s)
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or(())
            })
            .map_err(|()| {
                bad(
                    "clientPortAddress",
                    &self.client_port_address,
                    "not an address",
                )
            })
    }
}

/// Apache treats -1 (and absence) as "derive from tickTime".
fn non_negative(key: &str, value: &str) -> Result<Option<u32>, ConfigError> {
    let v: i64 = num(key, value)?;
    if v < 0 {
        Ok(None)
    } else {
        u32::try_from(v)
            .map(Some)
            .map_err(|e| bad(key, value, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let c = ServerConfig::parse(
            "# comment\ntickTime=2000\ndataDir=/d\ndataLogDir=/l\nclientPort=2182\n\
             clientPortAddress=0.0.0.0\ninitLimit=5\nsyncLimit=2\nmaxClientCnxns=10\n\
             minSessionTimeout=1000\nmaxSessionTimeout=9000\nsnapCount=1000\n\
             autopurge.snapRetainCount=5\nautopurge.purgeInterval=1\n4lw.commands.whitelist=ruok, stat\n\
             jute.maxbuffer=2048\nforceSync=no\nextendedTypesEnabled=false\nsuperDigest=super:x\n\
             server.1=localhost:2888:3888;2181\nserver.2=h2:2889:3889:observer\nmystery=1\n",
        )
        .unwrap();
        assert_eq!(c.tick_time, 2000);
        assert_eq!(c.log_dir(), Path::new("/l"));
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.min_session_timeout(), 1000);
        assert_eq!(c.max_session_timeout(), 9000);
        assert!(c.four_letter_whitelist.contains("ruok"));
        assert!(c.four_letter_whitelist.contains("srvr"));
        assert!(!c.force_sync);
        assert!(!c.extended_types);
        assert_eq!(c.servers[&1].client.as_deref(), Some("2181"));
        assert_eq!(c.servers[&2].role, "observer");
        assert_eq!(c.jute_maxbuffer, 2048);
    }

    #[test]
    fn system_properties_with_or_without_prefix() {
        let c = ServerConfig::parse(
            "digest.enabled=false\nznode.container.checkIntervalMs=500\n\
             zookeeper.znode.container.maxPerMinute=60\nznode.container.maxNeverUsedIntervalMs=9\n",
        )
        .unwrap();
        assert!(!c.digest_enabled);
        assert_eq!(c.container_check_interval_ms, 500);
        assert_eq!(c.container_max_per_minute, 60);
        assert_eq!(c.container_max_never_used_interval_ms, 9);
        let mut c = ServerConfig::default();
        assert!(c.digest_enabled);
        assert_eq!(c.container_max_per_minute, DEFAULT_CONTAINER_MAX_PER_MINUTE);
        c.set("zookeeper.digest.enabled", "true").unwrap();
        let e = c.set("znode.container.maxPerMinute", "0").unwrap_err();
        assert!(e.to_string().contains("maxPerMinute"), "{e}");
    }

    #[test]
    fn defaults_derive_from_tick_time() {
        let c = ServerConfig::parse("tickTime=2000\n").unwrap();
        assert_eq!(c.min_session_timeout(), 4000);
        assert_eq!(c.max_session_timeout(), 40000);
        assert_eq!(ServerConfig::default().tick_time, DEFAULT_TICK_TIME);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = ServerConfig::parse("clientPort=abc\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clientPort"), "{e}");
        let e = ServerConfig::parse("forceSync=maybe\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("forceSync"), "{e}");
        let e = ServerConfig::parse("server.1=nohost\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.1"), "{e}");
        let e = ServerConfig::parse("minSessionTimeout=50000\nmaxSessionTimeout=100\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("minSessionTimeout"), "{e}");
    }
}
