//! An in-process 3-server zk-server ensemble serves clients: writes through any server, reads
//! everywhere, sessions created on followers, failover after the leader is killed.

use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions};
use zk_server::{Server, ServerConfig, ServerHandle};
use zk_testkit::{free_ports, TestDir};

const DEADLINE: Duration = Duration::from_secs(30);

struct Node {
    cfg: ServerConfig,
    handle: Option<ServerHandle>,
}

async fn mode(addr: &str) -> Option<String> {
    let addr = addr.parse().ok()?;
    let out = tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, "srvr"))
        .await
        .ok()?
        .ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::to_string)
}

async fn wait_for_leader(nodes: &[Node]) -> usize {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut leader = None;
        let mut serving = 0;
        for (i, n) in nodes.iter().enumerate() {
            if let Some(h) = &n.handle {
                match mode(&h.connect_string()).await.as_deref() {
                    Some("leader") => {
                        leader = Some(i);
                        serving += 1
                    }
                    Some("follower") | Some("observer") => serving += 1,
                    _ => {}
                }
            }
        }
        let live = nodes.iter().filter(|n| n.handle.is_some()).count();
        if let Some(l) = leader {
            if serving == live {
                return l;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leader within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three zk-server peers on loopback (not started), with `extra` config lines.
fn ensemble(dir: &TestDir, extra: &str) -> Vec<Node> {
    let ports = free_ports(9).unwrap();
    let mut servers = String::new();
    for i in 0..3 {
        servers.push_str(&format!(
            "server.{}=127.0.0.1:{}:{};127.0.0.1:{}\n",
            i + 1,
            ports[i * 3],
            ports[i * 3 + 1],
            ports[i * 3 + 2]
        ));
    }
    let mut nodes = Vec::new();
    for i in 0..3 {
        let data = dir.path().join(format!("s{}", i + 1));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
        let text = format!(
            "4lw.commands.whitelist=*\ntickTime=100\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n{servers}{extra}",
            data.display(),
            ports[i * 3 + 2]
        );
        let cfg = ServerConfig::parse(&text).unwrap();
        nodes.push(Node { cfg, handle: None });
    }
    nodes
}

async fn start_all(nodes: &mut [Node]) {
    for n in nodes.iter_mut() {
        n.handle = Some(
            Server::builder()
                .config(n.cfg.clone())
                .start()
                .await
                .unwrap(),
        );
    }
}

async fn shutdown_all(nodes: &mut [Node]) {
    for n in nodes.iter_mut() {
        if let Some(h) = n.handle.take() {
            h.shutdown().await;
        }
    }
}

async fn isro(addr: &str) -> Option<String> {
    let addr = addr.parse().ok()?;
    tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, "isro"))
        .await
        .ok()?
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_serve_clients_and_fail_over() {
    let dir = TestDir::new("ensemble-smoke").unwrap();
    let mut nodes = ensemble(&dir, "");
    start_all(&mut nodes).await;
    let leader = wait_for_leader(&nodes).await;
    let leader_addr = nodes[leader].handle.as_ref().unwrap().addr();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mntr =
            tokio::task::spawn_blocking(move || zk_testkit::four_letter(leader_addr, "mntr"))
                .await
                .unwrap()
                .unwrap();
        assert!(
            mntr.contains("zk_peer_state\tleading - broadcast\n"),
            "{mntr}"
        );
        assert!(mntr.contains("zk_quorum_size\t3\n"), "{mntr}");
        if mntr.contains("zk_synced_followers\t2\n") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{mntr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| n.handle.as_ref().unwrap().connect_string())
        .collect();
    let mut clients = Vec::new();
    for a in &addrs {
        clients.push(Client::connect(a).await.unwrap());
    }
    let opts = CreateOptions::new(CreateMode::Persistent);
    for (i, c) in clients.iter().enumerate() {
        c.create(&format!("/n{i}"), format!("v{i}").as_bytes(), &opts)
            .await
            .unwrap();
    }
    let eph = CreateOptions::new(CreateMode::Ephemeral);
    let follower = (leader + 1) % 3;
    clients[follower].create("/eph", b"e", &eph).await.unwrap();
    for c in &clients {
        c.sync("/").await.unwrap();
        for i in 0..3 {
            let (d, _) = c.get_data(&format!("/n{i}")).await.unwrap();
            assert_eq!(d, format!("v{i}").as_bytes());
        }
        assert!(c.exists("/eph").await.unwrap().is_some());
    }
    let stat = clients[follower]
        .set_data("/n0", b"x", Some(0))
        .await
        .unwrap();
    assert_eq!(stat.version, 1);
    // Kill the leader: the others elect a new one and go on serving.
    nodes[leader].handle.take().unwrap().kill().await;
    let new_leader = wait_for_leader(&nodes).await;
    assert_ne!(new_leader, leader);
    let survivor = (0..3).find(|i| *i != leader).unwrap();
    let c = Client::connect(&addrs[survivor]).await.unwrap();
    c.create("/after", b"a", &opts).await.unwrap();
    // The session created through the follower survived the failover: its client reconnects
    // (the follower closed every connection when its leader went away) and the ephemeral is
    // still there, seen from every live server.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match clients[follower].exists("/eph").await {
            Ok(Some(_)) => break,
            Ok(None) => panic!("the follower's session lost its ephemeral"),
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    c.sync("/").await.unwrap();
    assert!(c.exists("/eph").await.unwrap().is_some());
    // Closing that session deletes the ephemeral everywhere.
    clients[follower].close().await;
    c.sync("/").await.unwrap();
    assert!(c.exists("/eph").await.unwrap().is_none());
    // Restart the old leader: it catches up.
    nodes[leader].handle = Some(
        Server::builder()
            .config(nodes[leader].cfg.clone())
            .start()
            .await
            .unwrap(),
    );
    wait_for_leader(&nodes).await;
    let back = Client::connect(&addrs[leader]).await.unwrap();
    back.sync("/").await.unwrap();
    assert_eq!(back.get_data("/after").await.unwrap().0, b"a");
    assert_eq!(back.get_data("/n0").await.unwrap().0, b"x");
    shutdown_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_without_quorum_serves_read_only_sessions() {
    let dir = TestDir::new("ensemble-ro").unwrap();
    let mut nodes = ensemble(&dir, "readonlymode.enabled=true\n");
    start_all(&mut nodes).await;
    let leader = wait_for_leader(&nodes).await;
    let addr = nodes[leader].handle.as_ref().unwrap().connect_string();
    let c = Client::connect(&addr).await.unwrap();
    c.create(
        "/ro",
        b"before",
        &CreateOptions::new(CreateMode::Persistent),
    )
    .await
    .unwrap();
    c.close().await;
    let lone = (leader + 1) % 3;
    let lone_addr = nodes[lone].handle.as_ref().unwrap().connect_string();
    zk_client::Client::connect(&lone_addr)
        .await
        .unwrap()
        .sync("/")
        .await
        .unwrap();
    for (i, n) in nodes.iter_mut().enumerate() {
        if i != lone {
            n.handle.take().unwrap().kill().await;
        }
    }
    // The survivor looks for a leader, then serves read-only sessions.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while isro(&lone_addr).await.as_deref() != Some("ro") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never went read-only: {:?} {:?}",
            isro(&lone_addr).await,
            mode(&lone_addr).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mode(&lone_addr).await.as_deref(), Some("read-only"));
    let ro = Client::builder()
        .with_read_only(true)
        .connect(&lone_addr)
        .await
        .unwrap();
    assert_eq!(ro.get_data("/ro").await.unwrap().0, b"before");
    let err = ro.set_data("/ro", b"x", None).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("read-only"),
        "{err}"
    );
    // A client that does not allow read-only sessions is refused (it keeps trying).
    let strict =
        tokio::time::timeout(Duration::from_millis(500), Client::connect(&lone_addr)).await;
    assert!(
        !matches!(strict, Ok(Ok(_))),
        "a read-write session on a read-only server"
    );
    // A quorum again: back to read-write.
    let back = (lone + 1) % 3;
    nodes[back].handle = Some(
        Server::builder()
            .config(nodes[back].cfg.clone())
            .start()
            .await
            .unwrap(),
    );
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while isro(&lone_addr).await.as_deref() != Some("rw") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never went back to read-write"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rw = Client::connect(&lone_addr).await.unwrap();
    rw.set_data("/ro", b"after", None).await.unwrap();
    shutdown_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_follower_catches_up_from_the_leaders_snapshot() {
    let dir = TestDir::new("ensemble-snap").unwrap();
    let mut nodes = ensemble(&dir, "snapCount=50\n");
    start_all(&mut nodes).await;
    let leader = wait_for_leader(&nodes).await;
    let wiped = (leader + 1) % 3;
    nodes[wiped].handle.take().unwrap().kill().await;
    let data = nodes[wiped].cfg.data_dir.clone();
    std::fs::remove_dir_all(data.join("version-2")).unwrap();
    for f in ["acceptedEpoch", "currentEpoch"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let addr = nodes[leader].handle.as_ref().unwrap().connect_string();
    let c = Client::connect(&addr).await.unwrap();
    let opts = CreateOptions::new(CreateMode::Persistent);
    // Enough txns for snapshots and for the leader to forget the oldest ones.
    let writes: Vec<_> = (0..1200)
        .map(|i| c.create(&format!("/k{i}"), format!("{i}").as_bytes(), &opts))
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    nodes[wiped].handle = Some(
        Server::builder()
            .config(nodes[wiped].cfg.clone())
            .start()
            .await
            .unwrap(),
    );
    wait_for_leader(&nodes).await;
    let back = Client::connect(&nodes[wiped].handle.as_ref().unwrap().connect_string())
        .await
        .unwrap();
    back.sync("/").await.unwrap();
    for i in [0, 599, 1199] {
        assert_eq!(
            back.get_data(&format!("/k{i}")).await.unwrap().0,
            format!("{i}").as_bytes()
        );
    }
    let mut children = back.get_children("/").await.unwrap();
    children.retain(|c| c.starts_with('k'));
    assert_eq!(children.len(), 1200);
    shutdown_all(&mut nodes).await;
}
