//! Data-dir takeover between Apache ZooKeeper 3.8 and zk-server, both ways, end to end with the
//! real servers:
//!
//! - Apache writes (sequentials, deletes, ACLs of every scheme, a container, a TTL node, a multi,
//!   ephemerals of a live session, a closed session, enough txns to cross several snapshots), is
//!   killed, and zk-server serves the same tree (data, Stat, ACL, children of every node) and the
//!   same sessions (the live one reattaches with id + password and keeps its ephemerals; the
//!   closed one stays closed). zk-server then writes more, is killed, and Apache serves that tree
//!   and those sessions again.
//! - zk-server writes the same workload on a fresh data dir, is killed, Apache serves it.
//! - Apache's own tools read zk-server's files: TxnLogToolkit on every txn log and
//!   SnapshotFormatter on every snapshot exit 0 and list the txns and nodes written.
//!
//! Apache's log must not report digest mismatches when it loads zk-server's files.
//! Skips without Java and the ZooKeeper jars unless `ZK_REQUIRE_APACHE` is set.

mod support_thirdparty;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use support_thirdparty::raw::{create, create_open, delete, get_data, set_data, Session};
use support_thirdparty::tree::{differences, read_tree, Node};
use support_thirdparty::{digest, run_with_deadline};
use zk_proto::records::node::{CreateRequest, CreateTtlRequest, SetAclRequest};
use zk_proto::{Acl, Id, MultiOp, MultiRequest, RequestBody, ResponseBody};
use zk_server::{Server, ServerConfig, ServerHandle};
use zk_testkit::{ApacheOptions, ApacheServer, TestDir};

/// Requested session timeout: long enough to survive two server switches.
const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Txns between snapshots, on both servers (Apache takes one between snapCount/2 and snapCount).
const SNAP_COUNT: u32 = 50;
/// What Apache logs when a tree digest (snapshot or txn) disagrees with its own computation.
const DIGEST_MISMATCH: &str = "Digests are not matching";

/// The sessions a workload leaves behind.
struct Sessions {
    /// Still open, owns `/eph/live` and `/eph/live-seq-…`.
    live: (i64, Bytes),
    /// Closed by its client before the takeover.
    closed: (i64, Bytes),
    /// The live session's ephemerals.
    live_ephemerals: Vec<String>,
}

fn alice_digest_acl() -> Vec<Acl> {
    vec![Acl::new(31, Id::new("digest", digest("alice", "secret")))]
}

fn created_path(rsp: ResponseBody) -> String {
    match rsp {
        ResponseBody::Create(c) => c.path,
        other => panic!("{other:?}"),
    }
}

/// The same writes on any server: every kind of txn the takeover must carry.
async fn workload(addr: &str) -> Sessions {
    let mut s = Session::connect(addr, SESSION_TIMEOUT_MS).await;
    assert_eq!(s.auth("digest", b"alice:secret").await, 0);
    s.ok(&create_open("/app", b"root-data", 0)).await;
    for i in 0..60 {
        let path = format!("/app/n{i:03}");
        s.ok(&create_open(&path, format!("v{i}").as_bytes(), 0))
            .await;
    }
    for i in (0..60).step_by(3) {
        s.ok(&set_data(
            &format!("/app/n{i:03}"),
            format!("v{i}-b").as_bytes(),
            0,
        ))
        .await;
    }
    for i in (0..60).step_by(5) {
        s.ok(&delete(&format!("/app/n{i:03}"), -1)).await;
    }
    let mut seqs = Vec::new();
    for _ in 0..4 {
        seqs.push(created_path(s.ok(&create_open("/app/seq-", b"s", 2)).await));
    }
    s.ok(&delete(&seqs[1], 0)).await;

    s.ok(&create_open("/acl", b"", 0)).await;
    s.ok(&create("/acl/digest", b"d", alice_digest_acl(), 0))
        .await;
    s.ok(&create("/acl/auth", b"a", Acl::creator_all(), 0))
        .await;
    let ip = vec![Acl::new(31, Id::new("ip", "127.0.0.1"))];
    s.ok(&create("/acl/ip", b"i", ip, 0)).await;
    s.ok(&create("/acl/read-only", b"r", Acl::read_unsafe(), 0))
        .await;
    // read + admin, so the ACL can be changed afterwards.
    let read_admin = vec![Acl::new(1 | 16, Id::anyone())];
    s.ok(&create("/acl/changed", b"c", read_admin, 0)).await;
    s.ok(&RequestBody::SetAcl(SetAclRequest {
        path: "/acl/changed".into(),
        acl: Acl::open_unsafe(),
        version: 0,
    }))
    .await;

    let container = CreateRequest {
        path: "/container".into(),
        data: Some(Bytes::from_static(b"box")),
        acl: Acl::open_unsafe(),
        flags: 4,
    };
    s.ok(&RequestBody::CreateContainer(container)).await;
    s.ok(&create_open("/container/item", b"x", 0)).await;
    s.ok(&RequestBody::CreateTtl(CreateTtlRequest {
        path: "/ttl".into(),
        data: Some(Bytes::from_static(b"t")),
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 3_600_000,
    }))
    .await;

    s.ok(&create_open("/multi", b"", 0)).await;
    let multi = MultiRequest {
        ops: vec![
            MultiOp::Create(CreateRequest {
                path: "/multi/a".into(),
                data: Some(Bytes::from_static(b"ma")),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
            MultiOp::Create(CreateRequest {
                path: "/multi/b-".into(),
                data: Some(Bytes::from_static(b"mb")),
                acl: Acl::open_unsafe(),
                flags: 2,
            }),
            MultiOp::SetData(zk_proto::records::node::SetDataRequest {
                path: "/multi".into(),
                data: Some(Bytes::from_static(b"after-multi")),
                version: 0,
            }),
        ],
    };
    s.ok(&RequestBody::Multi(multi)).await;

    s.ok(&create_open("/eph", b"", 0)).await;
    let mut live = Session::connect(addr, SESSION_TIMEOUT_MS).await;
    let live_ephemerals = vec![
        created_path(live.ok(&create_open("/eph/live", b"l", 1)).await),
        created_path(live.ok(&create_open("/eph/live-seq-", b"ls", 3)).await),
    ];
    let mut closed = Session::connect(addr, SESSION_TIMEOUT_MS).await;
    closed.ok(&create_open("/eph/closed", b"c", 1)).await;
    let closed_id = (closed.id, closed.passwd.clone());
    closed.close().await;

    // Enough txns to cross several snapshots.
    s.ok(&create_open("/counter", b"0", 0)).await;
    for i in 1..=120 {
        s.ok(&set_data("/counter", i.to_string().as_bytes(), -1))
            .await;
    }
    assert!(
        s.call(&get_data("/eph/closed")).await.0 == -101,
        "closed session's ephemeral is gone"
    );
    Sessions {
        live: (live.id, live.passwd.clone()),
        closed: closed_id,
        live_ephemerals,
    }
}

/// Every node, read by a session authenticated as alice (so digest/auth ACL'd nodes are readable).
async fn tree_of(addr: &str) -> BTreeMap<String, Node> {
    let mut r = Session::connect(addr, SESSION_TIMEOUT_MS).await;
    assert_eq!(r.auth("digest", b"alice:secret").await, 0);
    let tree = read_tree(&mut r, "/", &[]).await;
    r.close().await;
    tree
}

/// The live session reattaches and still owns its ephemerals; the closed one is refused.
async fn check_sessions(addr: &str, sessions: &Sessions, server: &str) -> Session {
    let (id, pw) = &sessions.live;
    let mut live = Session::resume(addr, SESSION_TIMEOUT_MS, *id, pw)
        .await
        .unwrap_or_else(|| panic!("{server}: live session {id:#x} was not resumed"));
    for path in &sessions.live_ephemerals {
        match live.call(&get_data(path)).await {
            (0, Some(ResponseBody::GetData(d))) => {
                assert_eq!(d.stat.ephemeral_owner, *id, "{server}: owner of {path}")
            }
            (err, _) => panic!("{server}: ephemeral {path} of the live session: error {err}"),
        }
    }
    let (cid, cpw) = &sessions.closed;
    assert!(
        Session::resume(addr, SESSION_TIMEOUT_MS, *cid, cpw)
            .await
            .is_none(),
        "{server}: closed session {cid:#x} came back"
    );
    live
}

fn assert_same_tree(
    before_name: &str,
    before: &BTreeMap<String, Node>,
    after_name: &str,
    after: &BTreeMap<String, Node>,
) {
    let diff = differences(before_name, before, after_name, after);
    assert!(
        diff.is_empty(),
        "{after_name} serves a different tree than {before_name} wrote:\n{diff}"
    );
}

async fn zk_server_on(dir: &Path) -> ServerHandle {
    let cfg = ServerConfig::parse(&format!(
        "dataDir={}\ntickTime=2000\nsnapCount={SNAP_COUNT}\n",
        dir.display()
    ))
    .expect("zoo.cfg parses");
    Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .expect("zk-server starts on the data dir")
}

fn apache_options(dir: &Path) -> ApacheOptions {
    ApacheOptions::new()
        .with_data_dir(dir)
        .with_cfg_line("extendedTypesEnabled=true")
        .with_cfg_line(format!("snapCount={SNAP_COUNT}"))
}

async fn start_apache(dir: &Path) -> ApacheServer {
    let options = apache_options(dir);
    tokio::task::spawn_blocking(move || options.start().expect("Apache starts on the data dir"))
        .await
        .unwrap()
}

fn assert_no_digest_mismatch(apache: &ApacheServer, what: &str) {
    let log = std::fs::read_to_string(apache.log_path()).unwrap_or_default();
    let bad: Vec<&str> = log
        .lines()
        // The testkit's four-letter-word probes make Apache log "Error closing a command socket".
        .filter(|l| {
            l.contains(DIGEST_MISMATCH) || (l.contains("ERROR") && !l.contains("command socket"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "Apache reported errors loading {what}:\n{}",
        bad.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_data_dir_served_by_zk_server_and_handed_back() {
    let test = "apache_data_dir_served_by_zk_server_and_handed_back";
    if zk_testkit::java_or_skip(test).is_none() {
        return;
    }
    let dir = TestDir::new("takeover-a2z2a").unwrap();
    let data = dir.path().join("data");

    // Apache writes.
    let mut apache = start_apache(&data).await;
    let sessions = workload(&apache.connect_string()).await;
    let written = tree_of(&apache.connect_string()).await;
    apache.kill();
    drop(apache);
    // A copy for a control Apache: what would Apache itself answer next?
    let control_data = dir.path().join("control");
    copy_dir(&data, &control_data);
    let control = start_apache(&control_data).await;
    let mut c = Session::connect(&control.connect_string(), SESSION_TIMEOUT_MS).await;
    let apache_seq = created_path(c.ok(&create_open("/app/seq-", b"z", 2)).await);
    drop((c, control));

    // zk-server takes over: same tree, same sessions.
    let ours = zk_server_on(&data).await;
    let addr = ours.connect_string();
    let mut live = check_sessions(&addr, &sessions, "zk-server").await;
    let served = tree_of(&addr).await;
    assert_same_tree("Apache", &written, "zk-server", &served);

    // zk-server writes on: the live session adds an ephemeral; data, sequentials, deletes.
    let more = created_path(live.ok(&create_open("/eph/live-2", b"", 1)).await);
    let mut w = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
    w.ok(&set_data("/app", b"from zk-server", 0)).await;
    let seq = created_path(w.ok(&create_open("/app/seq-", b"z", 2)).await);
    assert_eq!(
        seq, apache_seq,
        "next sequential name on zk-server vs Apache on a copy of the same data dir"
    );
    w.ok(&delete("/app/n001", -1)).await;
    for i in 0..60 {
        w.ok(&set_data("/counter", format!("z{i}").as_bytes(), -1))
            .await;
    }
    w.close().await;
    let written_by_us = tree_of(&addr).await;
    ours.kill().await;
    drop(live);

    // Apache takes the data dir back.
    let apache = start_apache(&data).await;
    let mut handed_back = Sessions {
        live: sessions.live.clone(),
        closed: sessions.closed.clone(),
        live_ephemerals: sessions.live_ephemerals.clone(),
    };
    handed_back.live_ephemerals.push(more);
    let _live = check_sessions(&apache.connect_string(), &handed_back, "Apache").await;
    let served = tree_of(&apache.connect_string()).await;
    assert_same_tree("zk-server", &written_by_us, "Apache", &served);
    assert_no_digest_mismatch(&apache, "zk-server's txns on top of its own data dir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_server_data_dir_served_by_apache() {
    let test = "zk_server_data_dir_served_by_apache";
    if zk_testkit::java_or_skip(test).is_none() {
        return;
    }
    let dir = TestDir::new("takeover-z2a").unwrap();
    let data = dir.path().join("data");

    let ours = zk_server_on(&data).await;
    let sessions = workload(&ours.connect_string()).await;
    let written = tree_of(&ours.connect_string()).await;
    ours.kill().await;
    let snapshots = files_with_prefix(&data.join("version-2"), "snapshot.");
    assert!(
        snapshots.len() >= 2,
        "zk-server crossed snapshots: {snapshots:?}"
    );

    let apache = start_apache(&data).await;
    let _live = check_sessions(&apache.connect_string(), &sessions, "Apache").await;
    let served = tree_of(&apache.connect_string()).await;
    assert_same_tree("zk-server", &written, "Apache", &served);
    assert_no_digest_mismatch(&apache, "zk-server's data dir");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    // By zxid (the hex suffix), not by name: log.1f < log.100.
    files.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        u64::from_str_radix(&name[prefix.len()..], 16).unwrap_or(u64::MAX)
    });
    files
}

/// Runs one of Apache's tools on `file`; returns its output (exit status asserted 0).
async fn apache_tool(java: &zk_testkit::Java, main_class: &str, file: &Path) -> String {
    let cmd = java.command::<&str>(&[], main_class);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.arg(file);
    let out = run_with_deadline(cmd, None, Duration::from_secs(60)).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{main_class} {} exited with {}:\n{stdout}\n{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_tools_read_zk_server_files() {
    let test = "apache_tools_read_zk_server_files";
    let Some(java) = zk_testkit::java_or_skip(test) else {
        return;
    };
    let dir = TestDir::new("apache-tools").unwrap();
    let data = dir.path().join("data");
    let ours = zk_server_on(&data).await;
    let sessions = workload(&ours.connect_string()).await;
    let tree = tree_of(&ours.connect_string()).await;
    ours.kill().await;
    let v2 = data.join("version-2");

    // Every txn log: readable to its end, and together they hold every kind of txn written.
    let logs = files_with_prefix(&v2, "log.");
    assert!(!logs.is_empty(), "no txn log in {}", v2.display());
    let mut dumped = String::new();
    for log in &logs {
        let out = apache_tool(
            &java,
            "org.apache.zookeeper.server.persistence.TxnLogToolkit",
            log,
        )
        .await;
        assert!(
            out.contains("ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"),
            "{}: header\n{out}",
            log.display()
        );
        assert!(
            out.contains("EOF reached after"),
            "{}: read to its end\n{out}",
            log.display()
        );
        for bad in ["CRC ERROR", "Exception", "ERROR"] {
            assert!(!out.contains(bad), "{}: {bad}\n{out}", log.display());
        }
        dumped.push_str(&out);
    }
    let live = format!("session {:#x} ", sessions.live.0);
    for needle in [
        " createSession 30000",
        " closeSession v{'/eph/closed}",
        " create /app,root-data,[31,s{'world,'anyone}",
        " create /app/seq-00000000",
        " setData /app/n000,v0-b,1",
        " delete '/app/n005",
        " setACL '/acl/changed,v{s{31,s{'world,'anyone}}},1",
        " create /acl/digest,d,[31,s{'digest,'alice:",
        " createContainer /container,box,",
        " createTtl /ttl,t,",
        " multi create:",
        "/multi/b-0000000001",
        " setData /counter,120,120",
        live.as_str(),
    ] {
        assert!(
            dumped.contains(needle),
            "TxnLogToolkit output of {} logs lacks {needle:?}:\n{dumped}",
            logs.len()
        );
    }

    // Every snapshot: formatted completely; the last one lists the live session and only paths
    // that existed.
    let snapshots = files_with_prefix(&v2, "snapshot.");
    assert!(snapshots.len() >= 2, "snapshots: {snapshots:?}");
    let mut last = String::new();
    for snap in &snapshots {
        last = apache_tool(&java, "org.apache.zookeeper.server.SnapshotFormatter", snap).await;
        assert!(
            last.contains("ZNode Details (count="),
            "{}\n{last}",
            snap.display()
        );
        assert!(
            last.contains("Session Details"),
            "{}\n{last}",
            snap.display()
        );
    }
    let snap = snapshots.last().unwrap();
    let count: usize = last
        .split("ZNode Details (count=")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("node count in\n{last}"));
    let paths: Vec<&str> = last.lines().filter(|l| l.starts_with('/')).collect();
    // Apache's DataTree maps both "" and "/" to the root, and counts both.
    assert_eq!(
        paths.len() + 1,
        count,
        "{}: one entry per node",
        snap.display()
    );
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/app", "/acl/digest"] {
        assert!(paths.contains(&p), "{}: {p} listed\n{last}", snap.display());
    }
    for p in &paths {
        // Deleted later: /app/n… and /app/seq-… children, the closed session's ephemeral.
        let known = tree.contains_key(*p) || p.starts_with("/app/") || *p == "/eph/closed";
        assert!(known, "{}: {p} was never written", snap.display());
    }
    assert!(
        last.contains(&format!("{:#x}", sessions.live.0)),
        "{}: live session {:#x} listed\n{last}",
        snap.display(),
        sessions.live.0
    );
}
