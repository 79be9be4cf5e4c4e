//! Mixed ensembles: two Apache ZooKeeper 3.8 servers (Debian's jars, `QuorumPeerMain`) and one zk-server
//! quorum driver elect a leader together and replicate txns, over Apache's own quorum protocol.
//!
//! Skipped (with a message) when Java or the ZooKeeper jars are missing, unless `ZK_REQUIRE_APACHE` is
//! set (see zk-testkit).

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use bytes::Bytes;
use zk_proto::records::txn::CreateTxn;
use zk_proto::{Acl, OpCode, TxnBody, TxnHeader};
use zk_server::config::{ServerConfig, ServerLine};
use zk_server::quorum::{self, QuorumConfig, QuorumEvent};
use zk_storage::LoggedTxn;
use zk_testkit::{ServerMode, TestDir};
use zk_zab::{PeerId, Role, ZabPhase};
use zookeeper_client as zkc;

/// JVM start-up plus an election.
const DEADLINE: Duration = Duration::from_secs(60);
const TICK_TIME_MS: u32 = 500;
/// Apache's log goes to the console file (shown when a test fails).
const LOG4J: &str = "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n\
    log4j.appender.C.layout=org.apache.log4j.PatternLayout\n\
    log4j.appender.C.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p [%t:%C{1}@%L] - %m%n\n";

/// An Apache server process, SIGKILLed on drop.
struct Apache {
    child: Child,
    client: std::net::SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Apache {
    fn mode(&self) -> Option<ServerMode> {
        zk_testkit::fourlw::server_mode(self.client)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
    }
}

struct Mixed {
    _dir: TestDir,
    apache: Vec<Apache>,
    ours: Vec<QuorumConfig>,
}

/// Servers 1..=3 on loopback; `our_ids` are zk-server drivers, the others Apache.
fn start_mixed(java: &zk_testkit::Java, our_ids: &[u64]) -> Mixed {
    let dir = TestDir::new("mixed").unwrap();
    let ports = zk_testkit::free_ports(9).unwrap();
    let mut servers = BTreeMap::new();
    let mut lines = Vec::new();
    for id in 1..=3u64 {
        let i = (id - 1) as usize;
        let (q, e) = (ports[3 * i], ports[3 * i + 1]);
        servers.insert(
            id,
            ServerLine {
                id,
                host: "127.0.0.1".into(),
                quorum_port: q,
                election_port: e,
                role: "participant".into(),
                client: None,
            },
        );
        lines.push(format!("server.{id}=127.0.0.1:{q}:{e}"));
    }
    let mut apache = Vec::new();
    for id in (1..=3u64).filter(|i| !our_ids.contains(i)) {
        let i = (id - 1) as usize;
        let sdir = dir.path().join(format!("server.{id}"));
        let data = sdir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{id}\n")).unwrap();
        let client_port = ports[3 * i + 2];
        let cfg = format!(
            "tickTime={TICK_TIME_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
             clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
             forceSync=no\nstandaloneEnabled=false\n{}\n",
            data.display(),
            lines.join("\n")
        );
        std::fs::write(sdir.join("zoo.cfg"), cfg).unwrap();
        std::fs::write(sdir.join("log4j.properties"), LOG4J).unwrap();
        let console = std::fs::File::create(sdir.join("console.log")).unwrap();
        let log4j = format!(
            "-Dlog4j.configuration=file:{}",
            sdir.join("log4j.properties").display()
        );
        let child = java
            .command(&[log4j.as_str()], zk_testkit::QUORUM_PEER_MAIN)
            .arg(sdir.join("zoo.cfg"))
            .current_dir(&sdir)
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .unwrap();
        apache.push(Apache {
            child,
            client: ([127, 0, 0, 1], client_port).into(),
            dir: sdir,
        });
    }
    let ours = our_ids
        .iter()
        .map(|&id| {
            let sc = ServerConfig {
                tick_time: TICK_TIME_MS,
                init_limit: 10,
                sync_limit: 5,
                data_dir: dir.path().join(format!("server.{id}")),
                servers: servers.clone(),
                ..ServerConfig::default()
            };
            QuorumConfig::from_server_config(&sc, PeerId(id)).unwrap()
        })
        .collect();
    Mixed {
        _dir: dir,
        apache,
        ours,
    }
}

async fn wait_apache_modes(m: &Mixed) -> Vec<ServerMode> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let modes: Vec<Option<ServerMode>> = m.apache.iter().map(Apache::mode).collect();
        if modes
            .iter()
            .all(|x| matches!(x, Some(ServerMode::Leader | ServerMode::Follower)))
        {
            return modes.into_iter().flatten().collect();
        }
        if tokio::time::Instant::now() > deadline {
            for a in &m.apache {
                eprintln!("---- {}\n{}", a.dir.display(), a.log());
            }
            panic!("apache servers not in quorum: {modes:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // polling a foreign process
    }
}

/// The txns in a data dir's log once it holds `zxid` (Apache writes its log from its own thread).
async fn wait_logged(dir: &std::path::Path, zxid: zk_zab::Zxid) -> Vec<LoggedTxn> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let logged = zk_storage::read_txns(dir, 0, zk_storage::DEFAULT_MAX_RECORD_SIZE).unwrap();
        if logged.iter().any(|t| t.zxid() as u64 == zxid.0) {
            return logged;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{zxid} not in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // polling a foreign process
    }
}

fn create_txn(path: &str) -> Bytes {
    LoggedTxn {
        header: TxnHeader {
            client_id: 0,
            cxid: 0,
            zxid: 0,
            time: 1_700_000_000_000,
            txn_type: OpCode::Create.code(),
        },
        body: TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::from_static(b"from zk-server")),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: -1,
        }),
        digest: None,
    }
    .to_bytes()
}

async fn connect(a: &Apache) -> zkc::Client {
    match tokio::time::timeout(
        Duration::from_secs(20),
        zkc::Client::connect(&a.client.to_string()),
    )
    .await
    {
        Ok(Ok(c)) => c,
        other => panic!(
            "connect to {}: {:?}\n{}",
            a.dir.display(),
            other.map(|r| r.err()),
            a.log()
        ),
    }
}

/// zk-server is server 3: with every log empty the largest sid wins, so it leads two Apache followers.
/// A txn it proposes is applied by both Apache followers and lands in their txn logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_server_leads_two_apache_followers() {
    let Some(java) = zk_testkit::java_or_skip("zk_server_leads_two_apache_followers") else {
        return;
    };
    let m = start_mixed(&java, &[3]);
    let mut h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut role = h.role();
    let mut events = h.take_events().unwrap();
    let modes = wait_apache_modes(&m).await;
    assert_eq!(modes, vec![ServerMode::Follower, ServerMode::Follower]);
    let info = *tokio::time::timeout(DEADLINE, role.wait_for(|r| r.is_serving_leader()))
        .await
        .expect("zk-server leads")
        .unwrap();
    assert_eq!(info.role, Role::Leading);

    let zxid = h.propose(create_txn("/mixed")).await.unwrap();
    loop {
        match tokio::time::timeout(DEADLINE, events.recv()).await.unwrap() {
            Some(QuorumEvent::Committed(t)) if t.zxid == zxid => break,
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    }
    // No client can open a session on an Apache follower yet (it forwards createSession to this leader,
    // and session txns are the server core's job, the next integration step). So check each follower
    // through its own eyes: `srvr` reports the txn applied, and its txn log holds the very bytes.
    for a in &m.apache {
        let want = format!("Zxid: 0x{:x}", zxid.0);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let srvr = zk_testkit::four_letter(a.client, "srvr").unwrap_or_default();
            if srvr.contains(&want) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{srvr}\n{}",
                a.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await; // polling a foreign process
        }
        let logged = wait_logged(&a.dir.join("data"), zxid).await;
        let t = logged
            .iter()
            .find(|t| t.zxid() as u64 == zxid.0)
            .expect("txn in Apache's log");
        let TxnBody::Create(c) = &t.body else {
            panic!("{t:?}")
        };
        assert_eq!(c.path, "/mixed");
        assert_eq!(c.data.as_deref(), Some(&b"from zk-server"[..]));
    }
    h.shutdown().await.unwrap();
}

/// zk-server is server 1: an Apache server leads it. A write through an Apache server reaches the
/// zk-server follower's commit stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_server_follows_an_apache_leader() {
    let Some(java) = zk_testkit::java_or_skip("zk_server_follows_an_apache_leader") else {
        return;
    };
    let m = start_mixed(&java, &[1]);
    let mut h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut role = h.role();
    let mut events = h.take_events().unwrap();
    let modes = wait_apache_modes(&m).await;
    assert!(modes.contains(&ServerMode::Leader), "{modes:?}");
    let info = *tokio::time::timeout(DEADLINE, role.wait_for(|r| r.phase == ZabPhase::Broadcast))
        .await
        .expect("zk-server follows")
        .unwrap();
    assert!(
        matches!(info.role, Role::Following { leader } if leader != PeerId(1)),
        "{info:?}"
    );

    let c = connect(&m.apache[0]).await;
    c.create(
        "/from-apache",
        b"hello",
        &zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all()),
    )
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("commit reaches zk-server")
        {
            Some(QuorumEvent::Committed(t)) => {
                let entry = zk_proto::quorum::TxnEntry::decode(t.payload.clone()).unwrap();
                if let TxnBody::Create(c) = &entry.body {
                    if c.path == "/from-apache" {
                        assert_eq!(entry.header.zxid as u64, t.zxid.0);
                        break;
                    }
                }
            }
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    }
    h.shutdown().await.unwrap();
}

/// zk-server (server 3) leads, crashes, the two Apache servers elect a new leader and take writes, and
/// the restarted zk-server rejoins as their follower and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_server_leader_crashes_and_rejoins_under_an_apache_leader() {
    let Some(java) =
        zk_testkit::java_or_skip("zk_server_leader_crashes_and_rejoins_under_an_apache_leader")
    else {
        return;
    };
    let m = start_mixed(&java, &[3]);
    let h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut role = h.role();
    wait_apache_modes(&m).await;
    tokio::time::timeout(DEADLINE, role.wait_for(|r| r.is_serving_leader()))
        .await
        .expect("zk-server leads")
        .unwrap();
    let mut ours = Vec::new();
    for n in 0..5 {
        ours.push(h.propose(create_txn(&format!("/ours{n}"))).await.unwrap());
    }
    // Wait until both followers applied them, then crash.
    let want = format!("Zxid: 0x{:x}", ours[4].0);
    for a in &m.apache {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !zk_testkit::four_letter(a.client, "srvr")
            .unwrap_or_default()
            .contains(&want)
        {
            assert!(tokio::time::Instant::now() < deadline, "{}", a.log());
            tokio::time::sleep(Duration::from_millis(100)).await; // polling a foreign process
        }
    }
    h.kill().await;

    // The Apache pair elects one of them and serves writes (sessions work: Apache leads).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !m
        .apache
        .iter()
        .any(|a| a.mode() == Some(ServerMode::Leader))
    {
        assert!(tokio::time::Instant::now() < deadline, "no Apache leader");
        tokio::time::sleep(Duration::from_millis(100)).await; // polling a foreign process
    }
    let c = connect(&m.apache[0]).await;
    c.create(
        "/after",
        b"x",
        &zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all()),
    )
    .await
    .unwrap();
    let (data, _) = c.get_data("/ours4").await.unwrap();
    assert_eq!(
        data, b"from zk-server",
        "the txns zk-server committed survived"
    );

    // zk-server restarts from its data dir and follows the Apache leader.
    let mut h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut role = h.role();
    let mut events = h.take_events().unwrap();
    let info = *tokio::time::timeout(DEADLINE, role.wait_for(|r| r.phase == ZabPhase::Broadcast))
        .await
        .expect("zk-server follows again")
        .unwrap();
    assert!(
        matches!(info.role, Role::Following { leader } if leader != PeerId(3)),
        "{info:?}"
    );
    let mut paths = Vec::new();
    let mut snapshot = None;
    while !paths.iter().any(|p: &String| p == "/after") {
        match tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("catch-up")
        {
            Some(QuorumEvent::Committed(t)) => {
                let entry = zk_proto::quorum::TxnEntry::decode(t.payload.clone()).unwrap();
                if let TxnBody::Create(c) = &entry.body {
                    paths.push(c.path.clone());
                }
            }
            Some(QuorumEvent::Snapshot { zxid, .. }) => snapshot = Some(zxid),
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    }
    eprintln!("caught up: snapshot {snapshot:?}, created {paths:?}");
    let leader = m
        .apache
        .iter()
        .find(|a| a.mode() == Some(ServerMode::Leader))
        .unwrap();
    let log = leader.log();
    assert!(
        log.lines()
            .any(|l| l.contains("Sending DIFF") && l.contains("peer sid: 3")),
        "the Apache leader synced zk-server by DIFF:\n{log}"
    );
    if snapshot.is_none() {
        // Re-delivered from its own log, then the Apache leader's DIFF.
        assert_eq!(
            &paths[..5],
            ["/ours0", "/ours1", "/ours2", "/ours3", "/ours4"]
        );
    }
    h.shutdown().await.unwrap();
}

/// One Apache server (1) and two zk-server drivers (2, 3): server 3 leads, the Apache server and
/// zk-server 2 follow, and a txn proposed by the leader reaches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_zk_servers_and_one_apache_server() {
    let Some(java) = zk_testkit::java_or_skip("two_zk_servers_and_one_apache_server") else {
        return;
    };
    let m = start_mixed(&java, &[2, 3]);
    let follower = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut leader = quorum::start(m.ours[1].clone()).await.unwrap();
    let mut events = leader.take_events().unwrap();
    let modes = wait_apache_modes(&m).await;
    assert_eq!(modes, vec![ServerMode::Follower]);
    tokio::time::timeout(DEADLINE, leader.role().wait_for(|r| r.is_serving_leader()))
        .await
        .expect("zk-server 3 leads")
        .unwrap();
    let f = *tokio::time::timeout(
        DEADLINE,
        follower.role().wait_for(|r| r.phase == ZabPhase::Broadcast),
    )
    .await
    .expect("zk-server 2 follows")
    .unwrap();
    assert_eq!(f.role, Role::Following { leader: PeerId(3) });

    let zxid = leader.propose(create_txn("/mixed")).await.unwrap();
    while !matches!(
        tokio::time::timeout(DEADLINE, events.recv()).await.unwrap(),
        Some(QuorumEvent::Committed(t)) if t.zxid == zxid
    ) {}
    let a = &m.apache[0];
    let want = format!("Zxid: 0x{:x}", zxid.0);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !zk_testkit::four_letter(a.client, "srvr")
        .unwrap_or_default()
        .contains(&want)
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await; // polling a foreign process
    }
    follower.shutdown().await.unwrap();
    leader.shutdown().await.unwrap();
    for dir in [
        &m.ours[0].data_dir,
        &m.ours[1].data_dir,
        &a.dir.join("data"),
    ] {
        let logged = wait_logged(dir, zxid).await;
        assert_eq!(
            logged.iter().map(|t| t.zxid() as u64).collect::<Vec<_>>(),
            [zxid.0],
            "{}",
            dir.display()
        );
    }
}

/// zk-server (server 1) follows an Apache leader, loses its data dir and rejoins: the Apache leader
/// sends SNAP, and zk-server installs the snapshot stream in Apache's snapshot format.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_server_with_a_wiped_data_dir_rejoins_by_snap() {
    let Some(java) = zk_testkit::java_or_skip("zk_server_with_a_wiped_data_dir_rejoins_by_snap")
    else {
        return;
    };
    let m = start_mixed(&java, &[1]);
    let h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut role = h.role();
    wait_apache_modes(&m).await;
    tokio::time::timeout(DEADLINE, role.wait_for(|r| r.phase == ZabPhase::Broadcast))
        .await
        .expect("zk-server follows")
        .unwrap();
    let c = connect(&m.apache[0]).await;
    for n in 0..5 {
        c.create(
            &format!("/snap{n}"),
            b"data",
            &zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all()),
        )
        .await
        .unwrap();
    }
    h.kill().await;
    std::fs::remove_dir_all(&m.ours[0].data_dir).unwrap();

    let mut h = quorum::start(m.ours[0].clone()).await.unwrap();
    let mut events = h.take_events().unwrap();
    let mut role = h.role();
    tokio::time::timeout(DEADLINE, role.wait_for(|r| r.phase == ZabPhase::Broadcast))
        .await
        .expect("zk-server follows again")
        .unwrap();
    let (zxid, data) = loop {
        match tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("a SNAP")
        {
            Some(QuorumEvent::Snapshot { zxid, data }) => break (zxid, data),
            Some(QuorumEvent::Committed(t)) => panic!("expected SNAP first, got commit {}", t.zxid),
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    };
    let tree = quorum::snapshot::stream_to_data(&data).unwrap();
    let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
    for n in 0..5 {
        assert!(paths.contains(&format!("/snap{n}").as_str()), "{paths:?}");
    }
    h.shutdown().await.unwrap();
    let (snap_zxid, on_disk) = zk_storage::load_newest_snapshot(&m.ours[0].data_dir, 1)
        .unwrap()
        .expect("snapshot written");
    assert_eq!(snap_zxid as u64, zxid.0);
    assert_eq!(on_disk.nodes.len(), tree.nodes.len());
}
