//! `TestCluster` with real zk-servers and a real client (the `zookeeper-client` crate): writes
//! replicate, a killed leader is replaced and catches up after its restart, an isolated or
//! partitioned follower stops serving and rejoins after the heal, a paused follower catches up,
//! an expired session's ephemerals vanish everywhere, observers serve reads.

use std::time::Duration;

use zk_server::cluster::{ServerMode, TestCluster};
use zookeeper_client as zkc;

/// Generous: elections take a few 100 ms ticks, but the machine may be busy with other tests.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long a client connect to a server that should not serve is given before we call it refused.
const REFUSED_WITHIN: Duration = Duration::from_secs(2);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

async fn cluster(servers: usize, observers: usize) -> TestCluster {
    init_tracing();
    TestCluster::builder()
        .servers(servers)
        .observers(observers)
        .start()
        .await
        .expect("cluster starts")
}

/// A client connected to server `id` only.
async fn connect_to(c: &TestCluster, id: u64) -> zkc::Client {
    let addr = c.client_addr(id).unwrap().to_string();
    tokio::time::timeout(DEADLINE, zkc::Client::connect(&addr))
        .await
        .unwrap_or_else(|_| panic!("connect to server {id} in time"))
        .unwrap_or_else(|e| panic!("connect to server {id}: {e}"))
}

fn persistent() -> zkc::CreateOptions<'static> {
    zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all())
}

fn ephemeral() -> zkc::CreateOptions<'static> {
    zkc::CreateMode::Ephemeral.with_acls(zkc::Acls::anyone_all())
}

/// Reads `path` through server `id` after a `sync`, so the read sees every committed write.
async fn read_on(c: &TestCluster, id: u64, path: &str) -> Option<Vec<u8>> {
    let client = connect_to(c, id).await;
    client.sync(path).await.unwrap();
    match client.get_data(path).await {
        Ok((data, _)) => Some(data),
        Err(zkc::Error::NoNode) => None,
        Err(e) => panic!("server {id}: get {path}: {e}"),
    }
}

fn others(c: &TestCluster, not: u64) -> Vec<u64> {
    c.ids().into_iter().filter(|&i| i != not).collect()
}

#[tokio::test]
async fn a_write_through_one_server_is_read_through_the_others() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let writer_on = others(&c, leader)[0];
    let w = connect_to(&c, writer_on).await;
    w.create("/a", b"1", &persistent()).await.unwrap();
    for id in c.ids() {
        assert_eq!(
            read_on(&c, id, "/a").await.as_deref(),
            Some(&b"1"[..]),
            "server {id}"
        );
    }
    // The connect string reaches the ensemble too.
    let any = zkc::Client::connect(&c.connect_string()).await.unwrap();
    assert_eq!(any.get_data("/a").await.unwrap().0, b"1");
}

#[tokio::test]
async fn a_killed_leader_is_replaced_and_catches_up_after_restart() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let w = connect_to(&c, others(&c, leader)[0]).await;
    w.create("/before", b"b", &persistent()).await.unwrap();

    c.kill(leader).await.unwrap();
    let next = c.wait_for_quorum(DEADLINE).await.unwrap();
    assert_ne!(next, leader);
    let w = connect_to(&c, next).await;
    w.create("/during", b"d", &persistent()).await.unwrap();

    c.restart(leader).await.unwrap();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), next);
    assert_eq!(c.mode(leader).await, Some(ServerMode::Follower));
    assert_eq!(
        read_on(&c, leader, "/before").await.as_deref(),
        Some(&b"b"[..])
    );
    assert_eq!(
        read_on(&c, leader, "/during").await.as_deref(),
        Some(&b"d"[..])
    );
}

#[tokio::test]
async fn an_isolated_follower_stops_serving_and_rejoins_after_heal() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let f = others(&c, leader)[0];
    c.isolate(f).unwrap();
    c.wait_for_mode(f, None, DEADLINE).await.unwrap();
    // Clients cannot get a session from it...
    let addr = c.client_addr(f).unwrap().to_string();
    let attempt = tokio::time::timeout(REFUSED_WITHIN, zkc::Client::connect(&addr)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "an isolated server gave a session"
    );
    // ...while the majority goes on.
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
    let w = connect_to(&c, leader).await;
    w.create("/while-isolated", b"i", &persistent())
        .await
        .unwrap();

    c.heal();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
    assert_eq!(
        read_on(&c, f, "/while-isolated").await.as_deref(),
        Some(&b"i"[..])
    );
}

#[tokio::test]
async fn a_follower_cut_from_the_leader_alone_stops_serving() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let [f1, f2] = others(&c, leader)[..] else {
        panic!("three servers")
    };
    c.partition(leader, f1).unwrap();
    assert_eq!(c.partitions(), vec![(leader.min(f1), leader.max(f1))]);
    c.wait_for_mode(f1, None, DEADLINE).await.unwrap();
    assert_eq!(c.mode(f2).await, Some(ServerMode::Follower));
    assert_eq!(c.leader().await, Some(leader));
    c.heal();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
}

#[tokio::test]
async fn a_paused_follower_catches_up_after_resume() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let f = others(&c, leader)[0];
    c.pause(f).await.unwrap();
    assert_eq!(c.mode(f).await, None);
    let w = connect_to(&c, leader).await;
    w.create("/while-paused", b"p", &persistent())
        .await
        .unwrap();
    c.resume(f).await.unwrap();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
    assert_eq!(
        read_on(&c, f, "/while-paused").await.as_deref(),
        Some(&b"p"[..])
    );
}

#[tokio::test]
async fn an_expired_session_loses_its_ephemerals_everywhere() {
    let c = cluster(3, 0).await;
    let leader = c.leader().await.unwrap();
    let owner_on = others(&c, leader)[0];
    let owner = connect_to(&c, owner_on).await;
    owner.create("/eph", b"", &ephemeral()).await.unwrap();
    let watcher = connect_to(&c, others(&c, leader)[1]).await;
    watcher.sync("/eph").await.unwrap();
    let (_, _, gone) = watcher.get_and_watch_data("/eph").await.unwrap();
    let mut state = owner.state_watcher();

    c.expire_session(owner.session_id().0).await.unwrap();

    let ev = tokio::time::timeout(DEADLINE, gone.changed())
        .await
        .expect("the ephemeral's deletion is seen");
    assert_eq!(ev.event_type, zkc::EventType::NodeDeleted);
    for id in c.ids() {
        assert_eq!(read_on(&c, id, "/eph").await, None, "server {id}");
    }
    let expired = tokio::time::timeout(DEADLINE, async {
        loop {
            if state.changed().await == zkc::SessionState::Expired {
                return;
            }
        }
    })
    .await;
    assert!(expired.is_ok(), "the owner is told its session expired");
    // Expiring it again is not an error.
    c.expire_session(owner.session_id().0).await.unwrap();
}

#[tokio::test]
async fn observers_serve_reads() {
    let c = cluster(3, 1).await;
    assert_eq!(c.mode(4).await, Some(ServerMode::Observer));
    let w = connect_to(&c, 1).await;
    w.create("/o", b"o", &persistent()).await.unwrap();
    assert_eq!(read_on(&c, 4, "/o").await.as_deref(), Some(&b"o"[..]));
    // Losing the observer costs the quorum nothing.
    c.kill(4).await.unwrap();
    c.wait_for_quorum(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_single_server_cluster_is_standalone() {
    let c = cluster(1, 0).await;
    assert_eq!(c.mode(1).await, Some(ServerMode::Standalone));
    assert_eq!(c.leader().await, Some(1));
    let w = connect_to(&c, 1).await;
    w.create("/s", b"s", &persistent()).await.unwrap();
    c.restart(1).await.unwrap();
    c.wait_for_quorum(DEADLINE).await.unwrap();
    assert_eq!(read_on(&c, 1, "/s").await.as_deref(), Some(&b"s"[..]));
}
