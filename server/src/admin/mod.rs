//! Four-letter words (`org.apache.zookeeper.server.command`): the text the admin commands print,
//! in Apache ZooKeeper's formats so that tools parsing them (zkServer.sh, kazoo, monitoring
//! scripts) work. The core gathers a [`ServerView`]; the functions here only format it.

use std::fmt::Write;

/// The ZooKeeper version zk-server reports compatibility with; `envi`, `srvr` and `mntr` print
/// it first so that clients parsing `zookeeper.version=` see a 3.8 server.
pub const ZK_COMPAT_VERSION: &str = "3.8.4";

/// The full version line (`Version.getFullVersion()` style).
pub fn full_version() -> String {
    format!(
        "{ZK_COMPAT_VERSION}-zk-server-{}, built on 1970-01-01 00:00 UTC",
        env!("CARGO_PKG_VERSION")
    )
}

/// One connection as `cons` and `stat` show it.
#[derive(Debug, Clone)]
pub struct ConnView {
    /// Remote address.
    pub peer: String,
    /// Requests waiting.
    pub queued: usize,
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Session id, once established.
    pub session: Option<i64>,
    /// Negotiated timeout.
    pub timeout: i32,
    /// Last zxid sent.
    pub last_zxid: i64,
}

/// Everything the commands print.
#[derive(Debug, Clone, Default)]
pub struct ServerView {
    /// Connections.
    pub conns: Vec<ConnView>,
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Requests in flight.
    pub outstanding: usize,
    /// Last applied zxid.
    pub zxid: i64,
    /// Node count as Apache counts it (its map holds the root twice).
    pub node_count: usize,
    /// Sessions with their ephemerals.
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// Sessions with timeouts.
    pub sessions: Vec<(i64, i32)>,
    /// Total watches.
    pub watch_count: usize,
    /// Watched paths.
    pub watch_paths: usize,
    /// Watching connections.
    pub watch_conns: usize,
    /// session -> paths.
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    /// path -> sessions.
    pub watches_by_path: Vec<(String, Vec<i64>)>,
    /// Approximate data size.
    pub data_size: u64,
    /// Uptime in ms.
    pub uptime_ms: u64,
    /// `conf` lines.
    pub conf: Vec<(String, String)>,
    /// Failed auths.
    pub auth_failed: u64,
}

fn conn_line(out: &mut String, c: &ConnView, brief: bool) {
    let _ = write!(
        out,
        " /{}[1](queued={},recved={},sent={}",
        c.peer, c.queued, c.received, c.sent
    );
    if !brief {
        if let Some(s) = c.session {
            let _ = write!(
                out,
                ",sid=0x{:x},lop=NA,est=0,to={},lzxid=0x{:x},lresp=0,llat=0,minlat=0,avglat=0.0,maxlat=0",
                s, c.timeout, c.last_zxid
            );
        }
    }
    out.push(')');
}

/// Runs one command. `cmd` must be a known four-letter word.
pub fn run(cmd: &str, v: &ServerView) -> String {
    let mut o = String::new();
    match cmd {
        "ruok" => o.push_str("imok"),
        "isro" => o.push_str("rw"),
        "srvr" | "stat" => {
            let _ = writeln!(o, "Zookeeper version: {}", full_version());
            if cmd == "stat" {
                o.push_str("Clients:\n");
                for c in &v.conns {
                    conn_line(&mut o, c, true);
                    o.push('\n');
                }
                o.push('\n');
            }
            let _ = write!(
                o,
                "Latency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\n\
                 Outstanding: {}\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
                v.received,
                v.sent,
                v.conns.len(),
                v.outstanding,
                v.zxid,
                v.node_count
            );
        }
        "cons" => {
            for c in &v.conns {
                conn_line(&mut o, c, false);
                o.push('\n');
            }
            o.push('\n');
        }
        "crst" => o.push_str("Connection stats reset.\n"),
        "srst" => o.push_str("Server stats reset.\n"),
        "conf" => {
            for (k, val) in &v.conf {
                let _ = writeln!(o, "{k}={val}");
            }
        }
        "envi" => {
            o.push_str("Environment:\n");
            let _ = writeln!(o, "zookeeper.version={}", full_version());
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
            let _ = writeln!(o, "host.name={host}");
            let _ = writeln!(o, "os.name={}", std::env::consts::OS);
            let _ = writeln!(o, "os.arch={}", std::env::consts::ARCH);
            let _ = writeln!(
                o,
                "user.dir={}",
                std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            let _ = writeln!(o, "zk-server.version={}", env!("CARGO_PKG_VERSION"));
        }
        "mntr" => {
            let eph: usize = v.ephemerals.iter().map(|(_, p)| p.len()).sum();
            let lines: Vec<(&str, String)> = vec![
                ("zk_version", full_version()),
                ("zk_server_state", "standalone".into()),
                ("zk_ephemerals_count", eph.to_string()),
                ("zk_num_alive_connections", v.conns.len().to_string()),
                ("zk_avg_latency", "0.0".into()),
                ("zk_outstanding_requests", v.outstanding.to_string()),
                ("zk_znode_count", v.node_count.to_string()),
                ("zk_global_sessions", v.sessions.len().to_string()),
                ("zk_local_sessions", "0".into()),
                ("zk_packets_sent", v.sent.to_string()),
                ("zk_packets_received", v.received.to_string()),
                ("zk_watch_count", v.watch_count.to_string()),
                ("zk_approximate_data_size", v.data_size.to_string()),
                ("zk_min_latency", "0".into()),
                ("zk_max_latency", "0".into()),
                ("zk_auth_failed_count", v.auth_failed.to_string()),
                ("zk_uptime", v.uptime_ms.to_string()),
            ];
            for (k, val) in lines {
                let _ = writeln!(o, "{k}\t{val}");
            }
        }
        "wchs" => {
            let _ = writeln!(
                o,
                "{} connections watching {} paths\nTotal watches:{}\n",
                v.watch_conns, v.watch_paths, v.watch_count
            );
        }
        "wchc" => {
            for (s, paths) in &v.watches_by_session {
                let _ = writeln!(o, "0x{s:x}");
                for p in paths {
                    let _ = writeln!(o, "\t{p}");
                }
            }
            o.push('\n');
        }
        "wchp" => {
            for (p, sessions) in &v.watches_by_path {
                let _ = writeln!(o, "{p}");
                for s in sessions {
                    let _ = writeln!(o, "\t0x{s:x}");
                }
            }
            o.push('\n');
        }
        "dump" => {
            o.push_str("SessionTracker dump:\n");
            let _ = writeln!(
                o,
                "Session Sets ({})/({}):",
                v.sessions.len(),
                v.sessions.len()
            );
            for (s, t) in &v.sessions {
                let _ = writeln!(o, "0x{s:x} (timeout {t})");
            }
            o.push_str("ephemeral nodes dump:\n");
            let _ = writeln!(o, "Sessions with Ephemerals ({}):", v.ephemerals.len());
            for (s, paths) in &v.ephemerals {
                let _ = writeln!(o, "0x{s:x}:");
                for p in paths {
                    let _ = writeln!(o, "\t{p}");
                }
            }
            o.push_str("Connections dump:\n");
            let _ = writeln!(
                o,
                "Connections Sets ({})/({}):",
                v.conns.len(),
                v.conns.len()
            );
            for c in &v.conns {
                let _ = writeln!(
                    o,
                    "\tip: /{} sessionId: 0x{:x}",
                    c.peer,
                    c.session.unwrap_or(0)
                );
            }
        }
        _ => {}
    }
    o
}

/// Apache's answer for a command outside `4lw.commands.whitelist` (`NopCommand`).
pub fn not_whitelisted(cmd: &str) -> String {
    format!("{cmd} is not executed because it is not in the whitelist.\n")
}
