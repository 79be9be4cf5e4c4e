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
    /// The last operation (`lop`: GETD, SETD, PING, ...).
    pub last_op: &'static str,
    /// When the connection was established (wall-clock ms).
    pub established_ms: i64,
    /// The last request's xid (-1 before any).
    pub last_cxid: i64,
    /// When the last reply went out (ms since the server started).
    pub last_response_ms: u64,
    /// Latency of the last request, ms.
    pub last_latency_ms: u64,
    /// Smallest latency, ms.
    pub min_latency_ms: u64,
    /// Mean latency, whole ms.
    pub avg_latency_ms: u64,
    /// Largest latency, ms.
    pub max_latency_ms: u64,
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
    /// Smallest request latency, ms.
    pub min_latency_ms: u64,
    /// Mean request latency, ms (4 decimals).
    pub avg_latency_ms: f64,
    /// Largest request latency, ms.
    pub max_latency_ms: u64,
    /// Reply sizes: last, min, max (-1 before any reply).
    pub response_size: (i64, i64, i64),
    /// The digest history (`hash`): zxid, digest.
    pub digest_log: Vec<(i64, i64)>,
    /// Digest mismatches seen.
    pub digest_mismatches: u64,
    /// `standalone`, `leader`, `follower` or `observer` (`ServerStats.getServerState`).
    pub mode: &'static str,
    /// Whether the server serves clients (an ensemble member without a quorum does not).
    pub serving: bool,
    /// Voting members of the ensemble (1 standalone).
    pub quorum_size: usize,
    /// Ensemble members: `zk_peer_state` (e.g. `leading - broadcast`).
    pub peer_state: Option<String>,
    /// Leader only: its learners.
    pub learners: Option<zk_zab::LearnerCounts>,
}

/// The server state `srvr`/`mntr` report for a server without an ensemble
/// (`ServerStats.getServerState`).
pub const SERVER_STATE: &str = "standalone";

/// What Apache answers most four-letter words with while its ZooKeeperServer is not running
/// (an ensemble member looking for a leader).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Words Apache still answers while not serving.
const ANSWERED_WHEN_NOT_SERVING: &[&str] = &["ruok", "conf", "envi", "isro", "srst", "crst"];

/// Open and maximum file descriptors of this process (`zk_open_file_descriptor_count`,
/// `zk_max_file_descriptor_count`), where the OS tells (Linux `/proc`).
fn file_descriptors() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let max = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())?;
    Some((open, max))
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
                ",sid=0x{:x},lop={},est={},to={}",
                s, c.last_op, c.established_ms, c.timeout
            );
            if c.last_cxid >= 0 {
                let _ = write!(out, ",lcxid=0x{:x}", c.last_cxid);
            }
            let _ = write!(
                out,
                ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                c.last_zxid,
                c.last_response_ms,
                c.last_latency_ms,
                c.min_latency_ms,
                c.avg_latency_ms,
                c.max_latency_ms
            );
        }
    }
    out.push(')');
}

/// Runs one command. `cmd` must be a known four-letter word.
pub fn run(cmd: &str, v: &ServerView) -> String {
    let mut o = String::new();
    if !v.serving && !ANSWERED_WHEN_NOT_SERVING.contains(&cmd) {
        return NOT_SERVING.to_string();
    }
    match cmd {
        "ruok" => o.push_str("imok"),
        "isro" => o.push_str(match (v.serving, v.mode) {
            (true, "read-only") => "ro",
            (true, _) => "rw",
            (false, _) => "null",
        }),
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
                "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\n\
                 Outstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
                v.min_latency_ms,
                crate::core::java_double(v.avg_latency_ms),
                v.max_latency_ms,
                v.received,
                v.sent,
                v.conns.len(),
                v.outstanding,
                v.zxid,
                v.mode,
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
        "mntr" => mntr(&mut o, v),
        "hash" => {
            // DigestCommand: the digest history, one "<hex zxid>: <digest>" line each.
            for (zxid, digest) in &v.digest_log {
                let _ = writeln!(o, "{zxid:x}: {digest}");
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

/// `mntr` (`MonitorCommand`): `zk_<key>\t<value>` lines, the server's gauges in the order
/// Apache 3.8 prints them, then the counters zk-server keeps.
fn mntr(o: &mut String, v: &ServerView) {
    let eph: usize = v.ephemerals.iter().map(|(_, p)| p.len()).sum();
    let (last_size, min_size, max_size) = v.response_size;
    let mut lines: Vec<(&str, String)> = vec![
        ("version", full_version()),
        ("server_state", v.mode.into()),
        ("ephemerals_count", eph.to_string()),
        ("num_alive_connections", v.conns.len().to_string()),
        ("avg_latency", crate::core::java_double(v.avg_latency_ms)),
        ("outstanding_requests", v.outstanding.to_string()),
        ("znode_count", v.node_count.to_string()),
        ("global_sessions", v.sessions.len().to_string()),
        ("non_mtls_remote_conn_count", "0".into()),
        ("last_client_response_size", last_size.to_string()),
        ("packets_sent", v.sent.to_string()),
        ("packets_received", v.received.to_string()),
        ("max_client_response_size", max_size.to_string()),
        ("connection_drop_probability", "0.0".into()),
        ("watch_count", v.watch_count.to_string()),
        ("auth_failed_count", v.auth_failed.to_string()),
        ("min_latency", v.min_latency_ms.to_string()),
    ];
    let fds = file_descriptors();
    if let Some((_, max)) = fds {
        lines.push(("max_file_descriptor_count", max.to_string()));
    }
    lines.push(("approximate_data_size", v.data_size.to_string()));
    if let Some((open, _)) = fds {
        lines.push(("open_file_descriptor_count", open.to_string()));
    }
    lines.extend([
        ("local_sessions", "0".into()),
        ("uptime", v.uptime_ms.to_string()),
        ("max_latency", v.max_latency_ms.to_string()),
        ("outstanding_tls_handshake", "0".into()),
        ("min_client_response_size", min_size.to_string()),
        ("non_mtls_local_conn_count", "0".into()),
        ("quorum_size", v.quorum_size.to_string()),
        ("digest_mismatches_count", v.digest_mismatches.to_string()),
    ]);
    if let Some(state) = &v.peer_state {
        lines.push(("peer_state", state.clone()));
    }
    if let Some(l) = v.learners {
        lines.extend([
            ("learners", l.learners.to_string()),
            ("synced_followers", l.synced_followers.to_string()),
            ("synced_non_voting_followers", "0".into()),
            ("synced_observers", l.synced_observers.to_string()),
            ("pending_syncs", l.pending_syncs.to_string()),
        ]);
    }
    for (k, val) in lines {
        let _ = writeln!(o, "zk_{k}\t{val}");
    }
}

/// Apache's answer for a command outside `4lw.commands.whitelist` (`NopCommand`).
pub fn not_whitelisted(cmd: &str) -> String {
    format!("{cmd} is not executed because it is not in the whitelist.\n")
}
