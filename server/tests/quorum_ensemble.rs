//! Three in-process quorum drivers on loopback: election, failover, replication into Apache-format
//! logs, and catch-up of a restarted peer.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use zk_proto::records::txn::CreateTxn;
use zk_proto::{Acl, OpCode, TxnBody, TxnHeader};
use zk_server::config::{ServerConfig, ServerLine};
use zk_server::quorum::{self, QuorumConfig, QuorumEvent, QuorumHandle, RoleInfo};
use zk_storage::LoggedTxn;
use zk_testkit::TestDir;
use zk_zab::{PeerId, Role, Txn, ZabPhase, Zxid};

/// Generous: elections take a few ticks; CI machines can be slow.
const DEADLINE: Duration = Duration::from_secs(30);
/// tickTime of the test ensembles (10 core ticks of 20 ms each).
const TICK_TIME_MS: u32 = 200;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

struct Ensemble {
    dirs: Vec<TestDir>,
    cfgs: Vec<QuorumConfig>,
}

impl Ensemble {
    fn new(n: usize) -> Ensemble {
        Ensemble::with_observers(n, 0)
    }

    /// `voters` participants then `observers` observers, ids 1.. in that order.
    fn with_observers(voters: usize, observers: usize) -> Ensemble {
        let n = voters + observers;
        let ports = zk_testkit::free_ports(2 * n).unwrap();
        let dirs: Vec<TestDir> = (0..n)
            .map(|i| TestDir::new(&format!("quorum-{i}")).unwrap())
            .collect();
        let mut servers = BTreeMap::new();
        for i in 0..n {
            let id = i as u64 + 1;
            servers.insert(
                id,
                ServerLine {
                    id,
                    host: "127.0.0.1".into(),
                    quorum_port: ports[2 * i],
                    election_port: ports[2 * i + 1],
                    role: if i < voters {
                        "participant"
                    } else {
                        "observer"
                    }
                    .into(),
                    client: None,
                },
            );
        }
        let cfgs = (0..n)
            .map(|i| {
                let sc = ServerConfig {
                    tick_time: TICK_TIME_MS,
                    init_limit: 10,
                    sync_limit: 5,
                    data_dir: dirs[i].path().to_path_buf(),
                    servers: servers.clone(),
                    ..ServerConfig::default()
                };
                QuorumConfig::from_server_config(&sc, PeerId(i as u64 + 1)).unwrap()
            })
            .collect();
        Ensemble { dirs, cfgs }
    }

    async fn start(&self, i: usize) -> Peer {
        let mut h = quorum::start(self.cfgs[i].clone()).await.unwrap();
        let events = h.take_events().unwrap();
        Peer {
            role: h.role(),
            h,
            events,
            committed: Vec::new(),
        }
    }
}

struct Peer {
    h: QuorumHandle,
    role: watch::Receiver<RoleInfo>,
    events: mpsc::UnboundedReceiver<QuorumEvent>,
    committed: Vec<Txn>,
}

impl Peer {
    async fn wait_serving(&mut self) -> RoleInfo {
        let id = self.h.id();
        let mut rx = self.role.clone();
        let r =
            tokio::time::timeout(DEADLINE, rx.wait_for(|r| r.phase == ZabPhase::Broadcast)).await;
        match r {
            Ok(r) => *r.unwrap(),
            Err(_) => panic!("peer {id} not serving: {:?}", *self.role.borrow()),
        }
    }

    /// Collects committed txns until `zxid` is among them.
    async fn wait_committed(&mut self, zxid: Zxid) {
        let id = self.h.id();
        while self.committed.last().map_or(true, |t| t.zxid < zxid) {
            let ev = tokio::time::timeout(DEADLINE, self.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "peer {id}: {zxid} not committed; have {:?}",
                        self.committed.last().map(|t| t.zxid)
                    )
                })
                .expect("driver alive");
            if let QuorumEvent::Committed(t) = ev {
                if let Some(prev) = self.committed.last() {
                    assert!(t.zxid > prev.zxid, "commits out of order");
                }
                self.committed.push(t);
            }
        }
    }
}

/// Waits until every running peer serves, and exactly one leads; returns the leader's index.
async fn wait_for_leader(peers: &mut [Option<Peer>]) -> usize {
    let mut infos = Vec::new();
    for p in peers.iter_mut().flatten() {
        infos.push((p.h.id(), p.wait_serving().await));
    }
    // A peer may have served under an older leader; wait until the views agree.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let now: Vec<RoleInfo> = peers.iter().flatten().map(|p| *p.role.borrow()).collect();
        let leaders: Vec<_> = now.iter().filter(|r| r.role == Role::Leading).collect();
        let agree = now.iter().all(|r| {
            r.phase == ZabPhase::Broadcast && r.epoch == now[0].epoch && r.leader == now[0].leader
        });
        if leaders.len() == 1 && agree {
            let id = now[0].leader.unwrap();
            return peers
                .iter()
                .position(|p| p.as_ref().is_some_and(|p| p.h.id() == id))
                .unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreement: {now:?}"
        );
        // Wake on any role change.
        let mut changed = Vec::new();
        for p in peers.iter_mut().flatten() {
            let mut rx = p.role.clone();
            changed.push(Box::pin(async move { rx.changed().await.ok() }));
        }
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            futures::future::select_all(changed),
        )
        .await;
    }
}

fn create_txn(n: u32) -> Bytes {
    LoggedTxn {
        header: TxnHeader {
            client_id: 0x100,
            cxid: n as i32,
            zxid: 0, // stamped by the driver
            time: 1_700_000_000_000,
            txn_type: OpCode::Create.code(),
        },
        body: TxnBody::Create(CreateTxn {
            path: format!("/n{n}"),
            data: Some(Bytes::from(format!("v{n}"))),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: n as i32,
        }),
        digest: None,
    }
    .to_bytes()
}

fn logged(dir: &std::path::Path) -> Vec<LoggedTxn> {
    zk_storage::read_txns(dir, 0, zk_storage::DEFAULT_MAX_RECORD_SIZE).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_peers_elect_one_leader_and_agree_on_the_epoch() {
    init_tracing();
    let e = Ensemble::new(3);
    let mut peers = vec![
        Some(e.start(0).await),
        Some(e.start(1).await),
        Some(e.start(2).await),
    ];
    let leader = wait_for_leader(&mut peers).await;
    let infos: Vec<RoleInfo> = peers.iter().flatten().map(|p| *p.role.borrow()).collect();
    assert_eq!(infos.iter().filter(|r| r.role == Role::Leading).count(), 1);
    let epoch = infos[0].epoch.unwrap();
    assert!(epoch.0 >= 1);
    for (i, r) in infos.iter().enumerate() {
        assert_eq!(r.epoch, Some(epoch));
        if i != leader {
            assert_eq!(
                r.role,
                Role::Following {
                    leader: PeerId(leader as u64 + 1)
                }
            );
        }
        // The epoch files are Apache's, in each data dir.
        let cur = zk_storage::read_epoch(e.dirs[i].path(), zk_storage::EpochFile::Current).unwrap();
        assert_eq!(cur, Some(epoch.0 as i64));
    }
    for p in peers.into_iter().flatten() {
        p.h.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proposals_commit_everywhere_in_order_into_apache_logs() {
    init_tracing();
    let e = Ensemble::new(3);
    let mut peers = vec![
        Some(e.start(0).await),
        Some(e.start(1).await),
        Some(e.start(2).await),
    ];
    let leader = wait_for_leader(&mut peers).await;
    let mut last = Zxid::ZERO;
    let mut zxids = Vec::new();
    for n in 0..50 {
        last = peers[leader]
            .as_ref()
            .unwrap()
            .h
            .propose(create_txn(n))
            .await
            .unwrap();
        zxids.push(last);
    }
    // Followers refuse to propose.
    let follower = (leader + 1) % 3;
    assert!(peers[follower]
        .as_ref()
        .unwrap()
        .h
        .propose(create_txn(99))
        .await
        .is_err());
    for p in peers.iter_mut().flatten() {
        p.wait_committed(last).await;
        let got: Vec<Zxid> = p.committed.iter().map(|t| t.zxid).collect();
        assert_eq!(got, zxids, "peer {}", p.h.id());
    }
    let reference = peers[leader].as_ref().unwrap().committed.clone();
    for p in peers.into_iter().flatten() {
        p.h.shutdown().await.unwrap();
    }
    for d in &e.dirs {
        let log = logged(d.path());
        assert_eq!(log.len(), 50, "{}", d.path().display());
        for (t, r) in log.iter().zip(&reference) {
            assert_eq!(t.zxid() as u64, r.zxid.0);
            assert_eq!(
                t.to_bytes(),
                r.payload,
                "log entry = proposed payload with its zxid"
            );
        }
        let TxnBody::Create(c) = &log[7].body else {
            panic!()
        };
        assert_eq!(c.path, "/n7");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_elects_another_and_a_restarted_peer_catches_up() {
    init_tracing();
    let e = Ensemble::new(3);
    let mut peers = vec![
        Some(e.start(0).await),
        Some(e.start(1).await),
        Some(e.start(2).await),
    ];
    let old = wait_for_leader(&mut peers).await;
    let old_epoch = peers[old].as_ref().unwrap().role.borrow().epoch.unwrap();
    let mut last = Zxid::ZERO;
    for n in 0..10 {
        last = peers[old]
            .as_ref()
            .unwrap()
            .h
            .propose(create_txn(n))
            .await
            .unwrap();
    }
    for p in peers.iter_mut().flatten() {
        p.wait_committed(last).await;
    }

    // Crash the leader.
    peers[old].take().unwrap().h.kill().await;
    let new = wait_for_leader(&mut peers).await;
    assert_ne!(new, old);
    let new_epoch = peers[new].as_ref().unwrap().role.borrow().epoch.unwrap();
    assert!(new_epoch > old_epoch, "{new_epoch} > {old_epoch}");
    for n in 10..30 {
        last = peers[new]
            .as_ref()
            .unwrap()
            .h
            .propose(create_txn(n))
            .await
            .unwrap();
    }
    assert_eq!(last.epoch(), new_epoch);
    for p in peers.iter_mut().flatten() {
        p.wait_committed(last).await;
    }

    // Restart the old leader from its data dir: it follows and catches up (DIFF: no snapshot source).
    peers[old] = Some(e.start(old).await);
    let leader = wait_for_leader(&mut peers).await;
    assert_eq!(leader, new);
    let p = peers[old].as_mut().unwrap();
    p.wait_committed(last).await;
    assert_eq!(p.committed.len(), 30);
    let reference = peers[new].as_ref().unwrap().committed.clone();
    assert_eq!(peers[old].as_ref().unwrap().committed, reference);
    for p in peers.into_iter().flatten() {
        p.h.shutdown().await.unwrap();
    }
    let log = logged(e.dirs[old].path());
    assert_eq!(
        log.iter().map(|t| t.zxid() as u64).collect::<Vec<_>>(),
        reference.iter().map(|t| t.zxid.0).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_observer_syncs_and_receives_commits_without_voting() {
    init_tracing();
    let e = Ensemble::with_observers(3, 1);
    let mut peers = Vec::new();
    for i in 0..4 {
        peers.push(Some(e.start(i).await));
    }
    let leader = wait_for_leader(&mut peers).await;
    let observer = *peers[3].as_ref().unwrap().role.borrow();
    assert_eq!(
        observer.role,
        Role::Observing {
            leader: PeerId(leader as u64 + 1)
        }
    );
    let mut last = Zxid::ZERO;
    for n in 0..10 {
        last = peers[leader]
            .as_ref()
            .unwrap()
            .h
            .propose(create_txn(n))
            .await
            .unwrap();
    }
    for p in peers.iter_mut().flatten() {
        p.wait_committed(last).await;
    }
    let reference = peers[leader].as_ref().unwrap().committed.clone();
    assert_eq!(peers[3].as_ref().unwrap().committed, reference);
    for p in peers.into_iter().flatten() {
        p.h.shutdown().await.unwrap();
    }
    assert_eq!(
        logged(e.dirs[3].path()).len(),
        10,
        "the observer logs what it learns"
    );
}
