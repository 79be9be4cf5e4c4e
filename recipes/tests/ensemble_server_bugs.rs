//! Regression tests for zk-server ensemble bugs that the recipes' fault tests
//! (`ensemble_faults.rs`) ran into, each reduced to a deterministic reproduction on a
//! three-server `TestCluster` (fixed in `server/src/core/replica.rs` and `core/mod.rs`).

mod harness;

use harness::ensemble::*;
use harness::*;
use zk_client::{CreateMode, CreateOptions, SessionState};

/// How long a `sync` on an idle, healthy ensemble may take: a round trip through the leader,
/// far below the clients' read timeout (two thirds of the session timeout).
const SYNC_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// Found by the selector fault test
/// (`ensemble_faults::selector_terms_stay_fenced_and_ordered_across_leader_and_server_kills`):
/// a session that resumes on a newly elected leader and asks for a `sync` before anything was
/// written in the new epoch gets no answer — nor to anything it sends after it, pings included —
/// until some write commits in the new epoch; on an idle ensemble its client times out and
/// reconnects elsewhere (2/3 of the session timeout later). The leader queues the sync until its
/// tree reaches the zxid it last assigned, which a new leader sets to the first zxid of its epoch
/// (`epoch << 32`) although no txn of that epoch exists yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_sync_on_a_newly_elected_leader_is_answered_before_any_write() {
    let cluster = ensemble().await;
    let old = cluster.leader().await.unwrap();
    // A session created through the old leader, whose client can reach no other server.
    let original = connect_only(&cluster, old).await;
    cluster.kill(old).await.unwrap();
    let leader = quorum(&cluster).await;
    // Resume it on the new leader (no txn: nothing is written in the new epoch).
    let resumed = ensemble_builder()
        .with_session(original.session_id(), original.session_password())
        .connect(&cluster.client_addr(leader).unwrap().to_string())
        .await
        .unwrap();
    let synced = tokio::time::timeout(SYNC_BOUND, resumed.sync("/")).await;
    assert!(
        matches!(synced, Ok(Ok(()))),
        "sync on the new leader {leader}: {synced:?}"
    );
}

/// Containers emptied at once in the reaper regression: with one deletion a second, some stay
/// candidates for seconds, far longer than a check interval.
const EMPTY_CONTAINERS: usize = 5;
/// The reaper's pace in that test: one deletion a second (`znode.container.maxPerMinute`).
const REAPS_PER_MINUTE: u32 = 60;
/// How long a follower's client must stay connected while containers wait to be reaped: many
/// container checks.
const REAP_WATCH: std::time::Duration = std::time::Duration::from_secs(2);

/// Found by the semaphore fault test
/// (`ensemble_faults::semaphore_and_rw_lock_are_released_by_session_expiry_and_survive_leader_failover`:
/// a setup step failed with ConnectionLoss while no fault was injected): the container/TTL reaper
/// runs on followers too. A follower that finds an empty container proposes its deletion; the
/// quorum driver refuses ("not the leader") and the follower's core stops serving, closing every
/// client connection on it — at every container check while a candidate exists (the leader
/// deletes them, paced by maxPerMinute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_follower_keeps_its_clients_while_containers_wait_to_be_reaped() {
    init_tracing();
    let cluster = within(
        "the test cluster to start",
        zk_server::cluster::TestCluster::builder()
            .servers(ENSEMBLE_SERVERS)
            .tick_time(ENSEMBLE_TICK_MS)
            .configure(|_, config| {
                config.container_check_interval_ms = CONTAINER_CHECK_MS;
                config.container_max_per_minute = REAPS_PER_MINUTE;
            })
            .start(),
    )
    .await
    .unwrap();
    let leader = cluster.leader().await.unwrap();
    let follower = others(&cluster, leader)[0];
    let admin = connect_only(&cluster, leader).await;
    let bystander = connect_only(&cluster, follower).await;
    let mut states = bystander.state_stream();
    ensure(&admin, "/recipes").await;
    let container = CreateOptions::new(CreateMode::Container);
    for i in 0..EMPTY_CONTAINERS {
        let dir = format!("/recipes/container-{i}");
        admin.create(&dir, b"", &container).await.unwrap();
        let child = format!("{dir}/child");
        admin
            .create(&child, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        admin.delete(&child, None).await.unwrap();
    }
    // The follower has the empty containers too.
    bystander.sync("/recipes").await.unwrap();
    let dropped = tokio::time::timeout(
        REAP_WATCH,
        wait_item("disconnected", &mut states, |s| {
            *s == SessionState::Disconnected
        }),
    )
    .await;
    assert!(
        dropped.is_err(),
        "follower {follower} dropped its client while containers were being reaped"
    );
}
