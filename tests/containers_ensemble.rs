//! A 3-container zk-server ensemble (tests/support_containers: host networking, each member on its
//! own `127.0.0.1` ports) under faults injected through Docker:
//! - the leader's container is killed: a new leader within the election timeout, the clients'
//!   sessions survive and their watches fire; the killed member restarts and catches up; a graceful
//!   restart of the new leader fails over again;
//! - a follower is paused (frozen, like a long GC pause) past the session timeout: the others go
//!   on, a session pinned to it expires, a session that could move survives; unpaused, it rejoins
//!   and catches up;
//! - zk-recipes' fair lock loses no update, and its leader latch keeps exactly one leader, across a
//!   leader container kill.
//!
//! The tests run one at a time (three containers each, on 2 cores). They skip (print
//! `skipping …`) without a Docker daemon or the image (scripts/build-image), unless
//! `ZK_REQUIRE_DOCKER=1` (CI).

mod support_containers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use support_containers::cluster::{ContainerCluster, QUORUM_TIMEOUT};
use support_containers::image::ZkServerImage;
use support_containers::{docker_or_skip, four_letter, poll_until, serial, server_zxid};
use zk_client::{Client, CreateOptions, EventType, SessionState};
use zk_recipes::election::{LeaderLatch, Leadership};
use zk_recipes::lock::FairLock;
use zk_testkit::ServerMode;

/// tickTime of the test ensembles: short, so limits and session timeouts are seconds.
const TICK: Duration = Duration::from_millis(300);
/// initLimit (ticks): how long a new leader may take to get a synced quorum.
const INIT_LIMIT: u32 = 10;
/// syncLimit (ticks): how long a follower may lag or stay silent before the leader drops it.
const SYNC_LIMIT: u32 = 5;

/// A leader is elected again within this long after the old one dies: followers notice within
/// syncLimit ticks (a killed container's sockets are closed by the kernel, so at once), and a
/// leader that has no synced quorum within initLimit ticks gives up.
const ELECTION_TIMEOUT: Duration = Duration::from_millis(300 * (INIT_LIMIT + SYNC_LIMIT) as u64);

/// The clients' session timeout: the largest the servers grant (20 ticks), so that a session
/// outlives a failover.
const SESSION_TIMEOUT: Duration = Duration::from_millis(300 * 20);

/// Longest wait for any one client-side condition.
const DEADLINE: Duration = Duration::from_secs(30);

fn configure(image: ZkServerImage) -> ZkServerImage {
    image
        .with_tick_time(TICK)
        .with_env("ZOO_INIT_LIMIT", INIT_LIMIT.to_string())
        .with_env("ZOO_SYNC_LIMIT", SYNC_LIMIT.to_string())
}

async fn start_cluster(
    test: &str,
) -> Option<(tokio::sync::MutexGuard<'static, ()>, ContainerCluster)> {
    if !docker_or_skip(test).await {
        return None;
    }
    let guard = serial().await;
    let started = Instant::now();
    let cluster = ContainerCluster::start(3, configure).await;
    eprintln!(
        "{test}: 3 containers serving with a leader after {:?}",
        started.elapsed()
    );
    Some((guard, cluster))
}

/// A client that tries the hosts in the order given (no shuffling), with [`SESSION_TIMEOUT`].
async fn connect(connect_string: &str) -> Client {
    tokio::time::timeout(
        DEADLINE,
        Client::builder()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connect_timeout(DEADLINE)
            .with_shuffle(false)
            .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .connect(connect_string),
    )
    .await
    .unwrap_or_else(|_| panic!("connect to {connect_string}: timed out"))
    .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// Runs `f` until it succeeds, across connection loss (a failover in progress).
async fn retry<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, zk_client::Error>>,
{
    tokio::time::timeout(DEADLINE, async {
        loop {
            match f().await {
                Ok(v) => return v,
                Err(e) if e.is_retryable() => {}
                Err(e) => panic!("{what}: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no success within {DEADLINE:?}"))
}

/// Records whether a client's session ever expired.
fn expiry_recorder(client: &Client) -> Arc<Mutex<bool>> {
    let expired = Arc::new(Mutex::new(false));
    let flag = expired.clone();
    let mut states = client.state_stream();
    tokio::spawn(async move {
        while let Some(s) = states.next().await {
            if s == SessionState::Expired {
                *flag.lock().unwrap() = true;
            }
        }
    });
    expired
}

async fn ensure(client: &Client, path: &str) {
    match client.create(path, b"", &CreateOptions::persistent()).await {
        Ok(_) | Err(zk_client::Error::NodeExists) => {}
        Err(e) => panic!("create {path}: {e}"),
    }
}

/// Waits until member `i` reports the same last zxid as member `leader`.
async fn wait_caught_up(cluster: &ContainerCluster, i: usize, leader: usize) {
    let caught_up = poll_until(QUORUM_TIMEOUT, || async {
        let (a, b) = (
            server_zxid(cluster.addr(i)).await?,
            server_zxid(cluster.addr(leader)).await?,
        );
        (a == b).then_some(a)
    })
    .await;
    assert!(
        caught_up.is_some(),
        "member {i} did not catch up with leader {leader}\n{}",
        cluster.describe().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_container_elects_a_new_leader_and_sessions_and_watches_survive() {
    let test = "killing_the_leader_container_elects_a_new_leader_and_sessions_and_watches_survive";
    let Some((_serial, cluster)) = start_cluster(test).await else {
        return;
    };
    let leader = cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    // One client starting at each member: one of them is on the leader and must move.
    let mut clients = Vec::new();
    for i in 0..cluster.len() {
        clients.push(connect(&cluster.connect_string_from(i)).await);
    }
    ensure(&clients[0], "/failover").await;
    clients[0]
        .create("/failover/watched", b"before", &CreateOptions::persistent())
        .await
        .unwrap();
    let mut watchers = Vec::new();
    let mut sessions = Vec::new();
    let mut expired = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        c.create(&format!("/failover/e{i}"), b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        // A sync first, so each member has seen the node before its client watches it.
        c.sync("/failover/watched").await.unwrap();
        let (data, _, w) = c.get_data_w("/failover/watched").await.unwrap();
        assert_eq!(data, b"before");
        watchers.push(w);
        sessions.push(c.session_id());
        expired.push(expiry_recorder(c));
    }

    let killed_at = Instant::now();
    cluster.kill(leader).await;
    let new_leader = cluster
        .wait_for_leader_without(&[leader], ELECTION_TIMEOUT)
        .await;
    let election = killed_at.elapsed();
    eprintln!(
        "{test}: member {new_leader} leads {election:?} after the leader's container was killed"
    );
    assert_ne!(new_leader, leader);

    let writer = clients[new_leader].clone();
    retry("set after failover", || {
        writer.set_data("/failover/watched", b"after", None)
    })
    .await;
    for (i, w) in watchers.into_iter().enumerate() {
        let event = tokio::time::timeout(DEADLINE, w)
            .await
            .unwrap_or_else(|_| panic!("client {i}'s watch did not fire"));
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeDataChanged, "/failover/watched"),
            "client {i}"
        );
    }
    for (i, c) in clients.iter().enumerate() {
        let present = retry("ephemeral", || c.exists(&format!("/failover/e{i}"))).await;
        assert!(present.is_some(), "client {i}'s ephemeral node is gone");
        assert_eq!(c.session_id(), sessions[i], "client {i} got a new session");
        assert!(!*expired[i].lock().unwrap(), "client {i}'s session expired");
    }

    // The killed member comes back on its volume, follows, and catches up.
    clients[new_leader]
        .create("/failover/while-down", b"", &CreateOptions::persistent())
        .await
        .unwrap();
    cluster.start_member(leader).await;
    cluster
        .wait_for_mode(leader, ServerMode::Follower, QUORUM_TIMEOUT)
        .await;
    wait_caught_up(&cluster, leader, new_leader).await;
    let direct = connect(&cluster.addr(leader).to_string()).await;
    assert!(direct
        .exists("/failover/while-down")
        .await
        .unwrap()
        .is_some());
    direct.close().await;

    // A graceful restart of the new leader (docker stop: SIGTERM to PID 1) fails over again, and
    // the sessions still hold.
    cluster.restart(new_leader).await;
    cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    for (i, c) in clients.iter().enumerate() {
        let present = retry("ephemeral", || c.exists(&format!("/failover/e{i}"))).await;
        assert!(
            present.is_some(),
            "client {i}'s ephemeral node is gone after the restart"
        );
        assert_eq!(c.session_id(), sessions[i]);
        assert!(!*expired[i].lock().unwrap(), "client {i}'s session expired");
    }
    for c in clients {
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_paused_past_the_session_timeout_rejoins_and_catches_up() {
    let test = "a_follower_paused_past_the_session_timeout_rejoins_and_catches_up";
    let Some((_serial, cluster)) = start_cluster(test).await else {
        return;
    };
    const WRITES: usize = 100;
    let leader = cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    let paused = (leader + 1) % cluster.len();
    // `mover` starts at the follower but may move; `pinned` knows only the follower.
    let mover = connect(&cluster.connect_string_from(paused)).await;
    let pinned = connect(&cluster.addr(paused).to_string()).await;
    let writer = connect(&cluster.connect_string_from(leader)).await;
    ensure(&writer, "/pause").await;
    mover
        .create("/pause/mover", b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    pinned
        .create("/pause/pinned", b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let mover_session = mover.session_id();
    let mover_expired = expiry_recorder(&mover);
    let pinned_expired = expiry_recorder(&pinned);
    writer.sync("/pause").await.unwrap();
    let (present, pinned_gone) = writer.exists_w("/pause/pinned").await.unwrap();
    assert!(present.is_some());

    let paused_at = Instant::now();
    cluster.pause(paused).await;
    // Frozen: the kernel still accepts a connection, nothing answers before the read deadline.
    let answer = four_letter(cluster.addr(paused), "ruok").await;
    assert!(answer.is_err(), "a paused member answered: {answer:?}");

    for i in 0..WRITES {
        retry("write during the pause", || {
            writer.create(&format!("/pause/n{i}"), b"", &CreateOptions::persistent())
        })
        .await;
    }
    // The pinned session cannot reach a live member: the leader expires it once the session
    // timeout has passed, and its ephemeral node goes.
    let event = tokio::time::timeout(SESSION_TIMEOUT + DEADLINE, pinned_gone)
        .await
        .expect("the pinned session's ephemeral node deleted");
    assert_eq!(event.event_type, EventType::NodeDeleted);
    let frozen_for = paused_at.elapsed();
    assert!(
        frozen_for >= SESSION_TIMEOUT,
        "expired after {frozen_for:?}, before the session timeout"
    );
    eprintln!("{test}: member {paused} frozen for {frozen_for:?}; the pinned session expired");

    cluster.unpause(paused).await;
    cluster
        .wait_for_mode(paused, ServerMode::Follower, QUORUM_TIMEOUT)
        .await;
    let leader_now = cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    wait_caught_up(&cluster, paused, leader_now).await;
    let direct = connect(&cluster.addr(paused).to_string()).await;
    let children = direct.get_children("/pause").await.unwrap();
    assert_eq!(
        children.iter().filter(|c| c.starts_with('n')).count(),
        WRITES,
        "the rejoined follower serves every write made while it was frozen"
    );
    assert!(children.contains(&"mover".to_owned()));
    assert!(!children.contains(&"pinned".to_owned()));
    // The movable session survived; the pinned one is told it expired when it reconnects.
    assert_eq!(mover.session_id(), mover_session);
    assert!(
        !*mover_expired.lock().unwrap(),
        "the movable session expired"
    );
    let told = poll_until(DEADLINE, || async {
        (*pinned_expired.lock().unwrap()).then_some(())
    })
    .await;
    assert!(told.is_some(), "the pinned client never saw Expired");
    for c in [direct, mover, pinned, writer] {
        c.close().await;
    }
}

/// zk-recipes' FairLock: increments of a shared counter under the lock, with guarded writes and
/// an applied-marker per increment, lose nothing while the leader's container is killed and
/// restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fair_lock_loses_no_update_across_a_leader_container_kill() {
    const CLIENTS: usize = 3;
    const TASKS_PER_CLIENT: usize = 2;
    const ROUNDS: usize = 6;
    let test = "fair_lock_loses_no_update_across_a_leader_container_kill";
    let Some((_serial, cluster)) = start_cluster(test).await else {
        return;
    };
    let leader = cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    let admin = connect(&cluster.connect_string_from((leader + 1) % cluster.len())).await;
    ensure(&admin, "/lock").await;
    admin
        .create("/lock/counter", b"0", &CreateOptions::persistent())
        .await
        .unwrap();
    let (progress, mut progress_rx) = tokio::sync::watch::channel(0usize);
    let progress = Arc::new(progress);
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = connect(&cluster.connect_string_from(c)).await;
        for t in 0..TASKS_PER_CLIENT {
            let client = client.clone();
            let lock = FairLock::new(&client, "/lock/mutex").unwrap();
            let progress = progress.clone();
            tasks.push(tokio::spawn(async move {
                for r in 0..ROUNDS {
                    let marker = format!("/lock/applied-{c}-{t}-{r}");
                    let mut attempts = 0;
                    while !increment(&client, &lock, &marker).await {
                        attempts += 1;
                        assert!(attempts < 50, "increment {marker} keeps failing");
                    }
                    progress.send_modify(|n| *n += 1);
                }
            }));
        }
        clients.push(client);
    }
    let total = CLIENTS * TASKS_PER_CLIENT * ROUNDS;
    tokio::time::timeout(DEADLINE, progress_rx.wait_for(|n| *n >= total / 3))
        .await
        .expect("a third of the increments")
        .unwrap();
    cluster.kill(leader).await;
    cluster
        .wait_for_leader_without(&[leader], ELECTION_TIMEOUT)
        .await;
    tokio::time::timeout(DEADLINE, progress_rx.wait_for(|n| *n >= 2 * total / 3))
        .await
        .expect("two thirds of the increments")
        .unwrap();
    cluster.start_member(leader).await;
    for task in tasks {
        tokio::time::timeout(DEADLINE, task)
            .await
            .expect("workers finish")
            .unwrap();
    }
    let (data, _) = retry("counter", || admin.get_data("/lock/counter")).await;
    assert_eq!(
        std::str::from_utf8(&data).unwrap(),
        total.to_string(),
        "lost update"
    );
    let children = retry("markers", || admin.get_children("/lock")).await;
    assert_eq!(
        children
            .iter()
            .filter(|m| m.starts_with("applied-"))
            .count(),
        total
    );
    for c in clients {
        c.close().await;
    }
    admin.close().await;
}

/// One increment under the lock: read the counter, then write value + 1 in a guarded write that
/// also creates a marker node, so an increment whose outcome is unknown (ConnectionLoss on
/// commit) can be told apart. Returns whether this increment is now applied.
async fn increment(client: &Client, lock: &FairLock, marker: &str) -> bool {
    let Ok(guard) = lock.acquire_timeout(DEADLINE).await else {
        return false;
    };
    let Ok((data, _)) = client.get_data("/lock/counter").await else {
        return false;
    };
    let Some(value) = std::str::from_utf8(&data)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        panic!("counter holds {data:?}");
    };
    let Ok(write) = guard.guarded_write() else {
        return false;
    };
    let result = write
        .set_data("/lock/counter", (value + 1).to_string().as_bytes(), None)
        .create(marker, b"", &CreateOptions::persistent())
        .commit()
        .await;
    match result {
        Ok(_) => true,
        Err(zk_recipes::Error::Client(e)) if e.is_retryable() => loop {
            match client.exists(marker).await {
                Ok(stat) => return stat.is_some(),
                Err(e) if e.is_retryable() => continue,
                Err(_) => return false,
            }
        },
        Err(_) => false,
    }
}

/// zk-recipes' LeaderLatch: exactly one latch leads before and after the ensemble leader's
/// container is killed (the sessions survive, so leadership need not change); when the latch
/// leader leaves, exactly one other takes over with a larger fencing token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_latch_keeps_exactly_one_leader_across_a_leader_container_kill() {
    let test = "leader_latch_keeps_exactly_one_leader_across_a_leader_container_kill";
    let Some((_serial, cluster)) = start_cluster(test).await else {
        return;
    };
    let leader = cluster.wait_for_leader(QUORUM_TIMEOUT).await;
    let admin = connect(&cluster.connect_string()).await;
    ensure(&admin, "/election").await;
    let mut latches = Vec::new();
    let mut clients = Vec::new();
    for i in 0..cluster.len() {
        let client = connect(&cluster.connect_string_from(i)).await;
        let latch = LeaderLatch::start(&client, "/election/latch", &format!("p{i}")).unwrap();
        if i == 0 {
            tokio::time::timeout(DEADLINE, latch.wait_leader())
                .await
                .expect("a first latch leader")
                .unwrap();
        }
        latches.push(latch);
        clients.push(client);
    }
    let settled = |latches: &[LeaderLatch]| {
        let leaders: Vec<usize> = (0..latches.len())
            .filter(|&i| latches[i].is_leader())
            .collect();
        let followers = latches
            .iter()
            .filter(|l| matches!(l.leadership(), Leadership::Follower { .. }))
            .count();
        (leaders.len() == 1 && followers == latches.len() - 1).then(|| leaders[0])
    };
    let first = poll_until(DEADLINE, || async { settled(&latches) })
        .await
        .expect("one latch leader, two followers");
    let first_token = latches[first].leadership().token().unwrap();

    cluster.kill(leader).await;
    cluster
        .wait_for_leader_without(&[leader], ELECTION_TIMEOUT)
        .await;
    // Never two leaders while the ensemble fails over.
    let during = poll_until(DEADLINE, || async {
        let leaders = latches.iter().filter(|l| l.is_leader()).count();
        assert!(leaders <= 1, "{leaders} latch leaders at once");
        settled(&latches)
    })
    .await
    .expect("one latch leader after the failover");
    assert_eq!(during, first, "sessions survived, so the leader stayed");
    assert_eq!(latches[during].leadership().token(), Some(first_token));

    let old = latches.remove(first);
    old.close().await;
    let next = poll_until(DEADLINE, || async { settled(&latches) })
        .await
        .expect("one new latch leader");
    let next_token = latches[next].leadership().token().unwrap();
    assert!(next_token > first_token, "fencing tokens increase");
    latches[next]
        .guarded_write()
        .unwrap()
        .create("/election/done", b"", &CreateOptions::persistent())
        .commit()
        .await
        .unwrap();
    let other = 1 - next;
    assert_eq!(
        latches[other].guarded_write().unwrap_err(),
        zk_recipes::Error::NotLeader
    );
    for latch in latches {
        latch.close().await;
    }
    for c in clients {
        c.close().await;
    }
    admin.close().await;
}
