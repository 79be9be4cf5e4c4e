//! Configuration from `ZOO_*` environment variables, the way the official `zookeeper` Docker image
//! takes it (`zk-server --from-env`, the entry point of the `FROM scratch` image in `docker/`).
//!
//! The official image's `docker-entrypoint.sh` writes `$ZOO_CONF_DIR/zoo.cfg` from environment
//! variables unless a `zoo.cfg` is mounted there, and writes `$ZOO_DATA_DIR/myid` unless the file
//! exists. A `FROM scratch` image has no shell to run that script, so zk-server does the same in
//! process, with the same variables and defaults: a compose file written for the official image runs
//! zk-server unchanged.
//!
//! | variable | zoo.cfg line | default |
//! |---|---|---|
//! | `ZOO_CONF_DIR` | a mounted `$ZOO_CONF_DIR/zoo.cfg` replaces everything below but `ZOO_MY_ID` | `/conf` |
//! | `ZOO_DATA_DIR` | `dataDir` | `/data` |
//! | `ZOO_DATA_LOG_DIR` | `dataLogDir` | `/datalog` |
//! | `ZOO_TICK_TIME` | `tickTime` | 2000 |
//! | `ZOO_INIT_LIMIT` / `ZOO_SYNC_LIMIT` | `initLimit` / `syncLimit` | 5 / 2 |
//! | `ZOO_AUTOPURGE_SNAPRETAINCOUNT` / `ZOO_AUTOPURGE_PURGEINTERVAL` | `autopurge.*` | 3 / 0 |
//! | `ZOO_MAX_CLIENT_CNXNS` | `maxClientCnxns` | 60 |
//! | `ZOO_STANDALONE_ENABLED` | `standaloneEnabled` | true |
//! | `ZOO_ADMINSERVER_ENABLED` | `admin.enableServer` (no effect: zk-server has no admin server) | true |
//! | `ZOO_PORT` | `clientPort` (the official 3.4 images' variable) | unset |
//! | `ZOO_SERVERS` | one `server.N=…` line per whitespace-separated entry | `server.1=localhost:2888:3888;2181` |
//! | `ZOO_4LW_COMMANDS_WHITELIST` | `4lw.commands.whitelist` | unset (`srvr` only) |
//! | `ZOO_CFG_EXTRA` | one `key=value` line per whitespace-separated entry, last | unset |
//! | `ZOO_MY_ID` | `$ZOO_DATA_DIR/myid`, written only if absent | 1 |
//!
//! Two rules of Apache's `QuorumPeerConfig` complete the picture, because the image's default server
//! line carries the client port (`;2181`) instead of a `clientPort` key:
//! - the client port and address come from this server's own `server.N` line when it has a
//!   `;[host:]port` part (a `clientPort` key that disagrees is an error); the address defaults to
//!   every interface, `0.0.0.0`, as Apache binds — zk-server's command-line default of loopback
//!   suits a development machine, not a container;
//! - with `standaloneEnabled` and at most one voting member the server runs standalone.
//!
//! Empty variables count as unset, as `${ZOO_MY_ID:-1}` does in the script.

use std::collections::BTreeMap;
use std::path::PathBuf;

use zk_zab::PeerId;

use crate::config::{ConfigError, ServerConfig};
use crate::quorum::config::MYID_FILE;
use crate::quorum::{read_myid, write_myid};

/// The directory whose `zoo.cfg`, when present, is used as is (the official image's `/conf`).
pub const DEFAULT_CONF_DIR: &str = "/conf";
/// The name of the config file in the conf dir.
pub const ZOO_CFG_FILE: &str = "zoo.cfg";
/// `ZOO_DATA_DIR`'s default: the image's snapshot (and `myid`) volume.
pub const IMAGE_DATA_DIR: &str = "/data";
/// `ZOO_DATA_LOG_DIR`'s default: the image's txn-log volume.
pub const IMAGE_DATA_LOG_DIR: &str = "/datalog";
/// `ZOO_TICK_TIME`'s default: the official image's 2000 ms (the sample zoo.cfg's value), not
/// `ZooKeeperServer.DEFAULT_TICK_TIME`.
pub const IMAGE_TICK_TIME: u32 = 2000;
/// `ZOO_INIT_LIMIT`'s default in the official image (ticks).
pub const IMAGE_INIT_LIMIT: u32 = 5;
/// `ZOO_SYNC_LIMIT`'s default in the official image (ticks).
pub const IMAGE_SYNC_LIMIT: u32 = 2;
/// `ZOO_AUTOPURGE_SNAPRETAINCOUNT`'s default in the official image.
pub const IMAGE_AUTOPURGE_SNAP_RETAIN_COUNT: u32 = 3;
/// `ZOO_AUTOPURGE_PURGEINTERVAL`'s default in the official image (hours; 0 = off).
pub const IMAGE_AUTOPURGE_PURGE_INTERVAL: u32 = 0;
/// `ZOO_MAX_CLIENT_CNXNS`'s default in the official image.
pub const IMAGE_MAX_CLIENT_CNXNS: u32 = 60;
/// `ZOO_STANDALONE_ENABLED`'s default in the official image.
pub const IMAGE_STANDALONE_ENABLED: bool = true;
/// `ZOO_ADMINSERVER_ENABLED`'s default in the official image (written, without effect).
pub const IMAGE_ADMINSERVER_ENABLED: bool = true;
/// `ZOO_SERVERS` when unset: the entry point's single local server whose line carries the client port.
pub const IMAGE_SERVERS: &str = "server.1=localhost:2888:3888;2181";
/// `ZOO_MY_ID` when unset (`${ZOO_MY_ID:-1}`).
pub const IMAGE_MY_ID: u64 = 1;
/// The client address when neither the own server line nor `clientPortAddress` names one: every
/// interface, as Apache binds.
pub const IMAGE_CLIENT_ADDRESS: &str = "0.0.0.0";

/// See the module table.
pub const ZOO_CONF_DIR: &str = "ZOO_CONF_DIR";
/// See the module table.
pub const ZOO_DATA_DIR: &str = "ZOO_DATA_DIR";
/// See the module table.
pub const ZOO_DATA_LOG_DIR: &str = "ZOO_DATA_LOG_DIR";
/// See the module table.
pub const ZOO_TICK_TIME: &str = "ZOO_TICK_TIME";
/// See the module table.
pub const ZOO_INIT_LIMIT: &str = "ZOO_INIT_LIMIT";
/// See the module table.
pub const ZOO_SYNC_LIMIT: &str = "ZOO_SYNC_LIMIT";
/// See the module table.
pub const ZOO_AUTOPURGE_SNAPRETAINCOUNT: &str = "ZOO_AUTOPURGE_SNAPRETAINCOUNT";
/// See the module table.
pub const ZOO_AUTOPURGE_PURGEINTERVAL: &str = "ZOO_AUTOPURGE_PURGEINTERVAL";
/// See the module table.
pub const ZOO_MAX_CLIENT_CNXNS: &str = "ZOO_MAX_CLIENT_CNXNS";
/// See the module table.
pub const ZOO_STANDALONE_ENABLED: &str = "ZOO_STANDALONE_ENABLED";
/// See the module table.
pub const ZOO_ADMINSERVER_ENABLED: &str = "ZOO_ADMINSERVER_ENABLED";
/// See the module table.
pub const ZOO_PORT: &str = "ZOO_PORT";
/// See the module table.
pub const ZOO_SERVERS: &str = "ZOO_SERVERS";
/// See the module table.
pub const ZOO_4LW_COMMANDS_WHITELIST: &str = "ZOO_4LW_COMMANDS_WHITELIST";
/// See the module table.
pub const ZOO_CFG_EXTRA: &str = "ZOO_CFG_EXTRA";
/// See the module table.
pub const ZOO_MY_ID: &str = "ZOO_MY_ID";

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A `zoo.cfg` mounted into the conf dir.
    Mounted(PathBuf),
    /// Generated from the variables; the text is what the official entry point would have written.
    Generated(String),
}

/// A configuration read from the environment.
#[derive(Debug, Clone)]
pub struct EnvConfig {
    /// The server configuration, with the client address and standalone rules applied.
    pub config: ServerConfig,
    /// This server's id: the existing `myid` file's, else `ZOO_MY_ID`'s.
    pub my_id: PeerId,
    /// Whether `<dataDir>/myid` has to be written ([`EnvConfig::write_myid`]).
    pub myid_missing: bool,
    /// The mounted file or the generated zoo.cfg text.
    pub source: ConfigSource,
}

impl EnvConfig {
    /// Writes `<dataDir>/myid` unless it exists, as the entry point does before starting the server.
    pub fn write_myid(&self) -> Result<(), ConfigError> {
        if !self.myid_missing {
            return Ok(());
        }
        let dir = &self.config.data_dir;
        write_myid(dir, self.my_id).map_err(|source| ConfigError::Read {
            path: dir.join(MYID_FILE),
            source,
        })
    }
}

/// Reads the configuration from the process environment.
pub fn from_process_env() -> Result<EnvConfig, ConfigError> {
    from_env(|name| std::env::var(name).ok())
}

/// Reads the configuration from `var` (a variable lookup; tests pass a map) and the files it names:
/// a mounted `$ZOO_CONF_DIR/zoo.cfg` and an existing `$ZOO_DATA_DIR/myid`.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<EnvConfig, ConfigError> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let conf_dir = PathBuf::from(var(ZOO_CONF_DIR).unwrap_or_else(|| DEFAULT_CONF_DIR.into()));
    let mounted = conf_dir.join(ZOO_CFG_FILE);
    let (text, source) = if mounted.is_file() {
        let text = std::fs::read_to_string(&mounted).map_err(|source| ConfigError::Read {
            path: mounted.clone(),
            source,
        })?;
        (text, ConfigSource::Mounted(mounted))
    } else {
        let text = generated_zoo_cfg(&var);
        (text.clone(), ConfigSource::Generated(text))
    };
    let mut config = ServerConfig::parse(&text)?;
    let (my_id, myid_missing) = if config.data_dir.join(MYID_FILE).is_file() {
        (read_myid(&config.data_dir)?, false)
    } else {
        let id =
            match var(ZOO_MY_ID) {
                Some(v) => v.trim().parse().map_err(|e: std::num::ParseIntError| {
                    ConfigError::BadValue {
                        key: ZOO_MY_ID.into(),
                        value: v.clone(),
                        reason: e.to_string(),
                    }
                })?,
                None => IMAGE_MY_ID,
            };
        (PeerId(id), true)
    };
    apply_quorum_peer_rules(&mut config, &keys(&text), my_id)?;
    Ok(EnvConfig {
        config,
        my_id,
        myid_missing,
        source,
    })
}

/// The zoo.cfg the official entry point writes for these variables, line for line.
fn generated_zoo_cfg(var: &impl Fn(&str) -> Option<String>) -> String {
    let or = |name: &str, default: &dyn ToString| var(name).unwrap_or_else(|| default.to_string());
    let mut lines = vec![
        format!("dataDir={}", or(ZOO_DATA_DIR, &IMAGE_DATA_DIR)),
        format!("dataLogDir={}", or(ZOO_DATA_LOG_DIR, &IMAGE_DATA_LOG_DIR)),
        format!("tickTime={}", or(ZOO_TICK_TIME, &IMAGE_TICK_TIME)),
        format!("initLimit={}", or(ZOO_INIT_LIMIT, &IMAGE_INIT_LIMIT)),
        format!("syncLimit={}", or(ZOO_SYNC_LIMIT, &IMAGE_SYNC_LIMIT)),
        format!(
            "autopurge.snapRetainCount={}",
            or(
                ZOO_AUTOPURGE_SNAPRETAINCOUNT,
                &IMAGE_AUTOPURGE_SNAP_RETAIN_COUNT
            )
        ),
        format!(
            "autopurge.purgeInterval={}",
            or(ZOO_AUTOPURGE_PURGEINTERVAL, &IMAGE_AUTOPURGE_PURGE_INTERVAL)
        ),
        format!(
            "maxClientCnxns={}",
            or(ZOO_MAX_CLIENT_CNXNS, &IMAGE_MAX_CLIENT_CNXNS)
        ),
        format!(
            "standaloneEnabled={}",
            or(ZOO_STANDALONE_ENABLED, &IMAGE_STANDALONE_ENABLED)
        ),
        format!(
            "admin.enableServer={}",
            or(ZOO_ADMINSERVER_ENABLED, &IMAGE_ADMINSERVER_ENABLED)
        ),
    ];
    if let Some(port) = var(ZOO_PORT) {
        lines.push(format!("clientPort={port}"));
    }
    let servers = or(ZOO_SERVERS, &IMAGE_SERVERS);
    lines.extend(servers.split_whitespace().map(str::to_owned));
    if let Some(list) = var(ZOO_4LW_COMMANDS_WHITELIST) {
        lines.push(format!("4lw.commands.whitelist={list}"));
    }
    if let Some(extra) = var(ZOO_CFG_EXTRA) {
        lines.extend(extra.split_whitespace().map(str::to_owned));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The keys a zoo.cfg text sets (last one wins), to tell a key given from a default.
fn keys(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once('=').or_else(|| l.split_once(':')))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Apache `QuorumPeerConfig`'s client-address and standalone rules (see the module doc).
fn apply_quorum_peer_rules(
    config: &mut ServerConfig,
    keys: &BTreeMap<String, String>,
    my_id: PeerId,
) -> Result<(), ConfigError> {
    let own_client = config
        .servers
        .get(&my_id.0)
        .and_then(|line| line.client.clone());
    let (own_host, own_port) = match &own_client {
        Some(client) => split_client(&format!("server.{}", my_id.0), client)?,
        None => (None, None),
    };
    if let Some(port) = own_port {
        if keys.contains_key("clientPort") && config.client_port != port {
            return Err(ConfigError::Invalid(format!(
                "clientPort {} disagrees with the client port {port} of server.{}",
                config.client_port, my_id.0
            )));
        }
        config.client_port = port;
    }
    if !keys.contains_key("clientPortAddress") {
        config.client_port_address = own_host.unwrap_or_else(|| IMAGE_CLIENT_ADDRESS.into());
    }
    // A port-only client part means every interface (Apache prints such a line back as
    // `0.0.0.0:port`); the ensemble binds the own line's client part as written, so it gets the
    // host spelled out, the one the configuration settled on.
    for line in config.servers.values_mut() {
        let Some(client) = &line.client else { continue };
        if let (None, Some(port)) = split_client(&format!("server.{}", line.id), client)? {
            let host = if line.id == my_id.0 {
                config.client_port_address.clone()
            } else {
                IMAGE_CLIENT_ADDRESS.to_owned()
            };
            line.client = Some(format!("{host}:{port}"));
        }
    }
    let standalone_enabled = match keys.get("standaloneEnabled") {
        Some(v) => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes"),
        None => IMAGE_STANDALONE_ENABLED,
    };
    let voters = config
        .servers
        .values()
        .filter(|l| l.role != "observer")
        .count();
    if standalone_enabled && voters <= 1 && !config.servers.is_empty() {
        tracing::info!(
            servers = config.servers.len(),
            "one voting member and standaloneEnabled: running standalone"
        );
        config.servers.clear();
    }
    Ok(())
}

/// Splits a server line's client part, `[host:]port`.
fn split_client(key: &str, client: &str) -> Result<(Option<String>, Option<u16>), ConfigError> {
    let bad = |reason: &str| ConfigError::BadValue {
        key: key.into(),
        value: client.into(),
        reason: reason.into(),
    };
    let (host, port) = match client.rsplit_once(':') {
        Some((h, p)) => (Some(h.trim_matches(|c| c == '[' || c == ']').to_owned()), p),
        None => (None, client),
    };
    let port = port
        .trim()
        .parse::<u16>()
        .map_err(|_| bad("the client part must be [host:]port"))?;
    Ok((host, Some(port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "zk-env-config-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The variables plus a conf dir and data dir under `dir`, so no test reads the real `/conf`.
    fn env(dir: &Path, vars: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.entry(ZOO_CONF_DIR.into())
            .or_insert_with(|| dir.join("conf").display().to_string());
        m.entry(ZOO_DATA_DIR.into())
            .or_insert_with(|| dir.join("data").display().to_string());
        m
    }

    fn load(vars: &HashMap<String, String>) -> Result<EnvConfig, ConfigError> {
        from_env(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_official_images_and_run_standalone_on_every_interface() {
        let dir = scratch("defaults");
        let c = load(&env(&dir, &[])).unwrap();
        assert_eq!(c.config.tick_time, IMAGE_TICK_TIME);
        assert_eq!(c.config.init_limit, IMAGE_INIT_LIMIT);
        assert_eq!(c.config.sync_limit, IMAGE_SYNC_LIMIT);
        assert_eq!(c.config.max_client_cnxns, IMAGE_MAX_CLIENT_CNXNS);
        assert_eq!(c.config.log_dir(), Path::new(IMAGE_DATA_LOG_DIR));
        assert_eq!(c.config.client_port, 2181);
        assert_eq!(c.config.client_port_address, IMAGE_CLIENT_ADDRESS);
        assert!(c.config.servers.is_empty(), "one server line = standalone");
        assert_eq!(c.my_id, PeerId(IMAGE_MY_ID));
        assert!(c.myid_missing);
        let ConfigSource::Generated(text) = &c.source else {
            panic!("{:?}", c.source)
        };
        assert!(
            text.contains("server.1=localhost:2888:3888;2181\n"),
            "{text}"
        );
        assert!(text.contains("admin.enableServer=true\n"), "{text}");
    }

    #[test]
    fn an_ensemble_member_takes_its_client_address_from_its_own_line() {
        let dir = scratch("member");
        let servers = "server.1=127.0.0.1:2888:3888;127.0.0.1:2181 \
                       server.2=127.0.0.1:2889:3889;127.0.0.1:2182\n\
                       server.3=127.0.0.1:2890:3890:observer;2183";
        let c = load(&env(
            &dir,
            &[
                (ZOO_MY_ID, "2"),
                (ZOO_SERVERS, servers),
                (ZOO_TICK_TIME, "100"),
                (ZOO_4LW_COMMANDS_WHITELIST, "ruok,srvr"),
                (ZOO_CFG_EXTRA, "forceSync=no snapCount=1000"),
            ],
        ))
        .unwrap();
        assert_eq!(c.my_id, PeerId(2));
        assert_eq!(c.config.servers.len(), 3);
        assert_eq!(c.config.servers[&3].role, "observer");
        assert_eq!(
            c.config.client_addr().unwrap(),
            "127.0.0.1:2182".parse().unwrap()
        );
        assert_eq!(c.config.tick_time, 100);
        assert!(c.config.four_letter_whitelist.contains("ruok"));
        assert!(!c.config.force_sync);
        assert_eq!(c.config.snap_count, 1000);
    }

    #[test]
    fn a_port_only_client_part_binds_every_interface_and_extras_win() {
        let dir = scratch("portonly");
        let servers = "server.1=a:1:2;2191 server.2=b:1:2;2192";
        let c = load(&env(&dir, &[(ZOO_SERVERS, servers)])).unwrap();
        assert_eq!(c.config.client_port, 2191);
        assert_eq!(c.config.client_port_address, IMAGE_CLIENT_ADDRESS);
        assert_eq!(c.config.servers[&1].client.as_deref(), Some("0.0.0.0:2191"));
        assert_eq!(c.config.servers[&2].client.as_deref(), Some("0.0.0.0:2192"));
        let c = load(&env(
            &dir,
            &[
                (ZOO_SERVERS, servers),
                (ZOO_CFG_EXTRA, "clientPortAddress=127.0.0.1"),
            ],
        ))
        .unwrap();
        assert_eq!(c.config.client_port_address, "127.0.0.1");
        assert_eq!(
            c.config.servers[&1].client.as_deref(),
            Some("127.0.0.1:2191")
        );
    }

    #[test]
    fn a_disagreeing_client_port_is_an_error() {
        let dir = scratch("disagree");
        let e = load(&env(
            &dir,
            &[
                (ZOO_SERVERS, "server.1=a:1:2;2191 server.2=b:1:2;2192"),
                (ZOO_PORT, "2000"),
            ],
        ))
        .unwrap_err();
        assert!(e.to_string().contains("clientPort 2000"), "{e}");
        let e = load(&env(&dir, &[(ZOO_MY_ID, "x")])).unwrap_err();
        assert!(e.to_string().contains(ZOO_MY_ID), "{e}");
        let e = load(&env(&dir, &[(ZOO_TICK_TIME, "soon")])).unwrap_err();
        assert!(e.to_string().contains("tickTime"), "{e}");
    }

    #[test]
    fn standalone_disabled_keeps_a_single_member() {
        let dir = scratch("single");
        let c = load(&env(&dir, &[(ZOO_STANDALONE_ENABLED, "false")])).unwrap();
        assert_eq!(c.config.servers.len(), 1);
    }

    #[test]
    fn a_mounted_zoo_cfg_wins_and_an_existing_myid_is_kept() {
        let dir = scratch("mounted");
        let data = dir.join("data");
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(
            dir.join("conf").join(ZOO_CFG_FILE),
            format!(
                "dataDir={}\nclientPort=2999\ntickTime=500\n",
                data.display()
            ),
        )
        .unwrap();
        write_myid(&data, PeerId(7)).unwrap();
        let c = load(&env(&dir, &[(ZOO_MY_ID, "3"), (ZOO_TICK_TIME, "100")])).unwrap();
        assert_eq!(
            c.source,
            ConfigSource::Mounted(dir.join("conf").join(ZOO_CFG_FILE))
        );
        assert_eq!(c.config.tick_time, 500);
        assert_eq!(c.config.client_port, 2999);
        assert_eq!(c.config.client_port_address, IMAGE_CLIENT_ADDRESS);
        assert_eq!(c.my_id, PeerId(7));
        assert!(!c.myid_missing);
    }

    #[test]
    fn myid_is_written_once() {
        let dir = scratch("write");
        let vars = env(&dir, &[(ZOO_MY_ID, "4")]);
        let c = load(&vars).unwrap();
        c.write_myid().unwrap();
        assert_eq!(read_myid(&dir.join("data")).unwrap(), PeerId(4));
        let vars = env(&dir, &[(ZOO_MY_ID, "5")]);
        let c = load(&vars).unwrap();
        assert_eq!(c.my_id, PeerId(4), "an existing myid file wins");
        c.write_myid().unwrap();
        assert_eq!(read_myid(&dir.join("data")).unwrap(), PeerId(4));
    }
}
