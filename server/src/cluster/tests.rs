//! The cluster's machinery against bare quorum drivers (no server core): elections through the
//! proxies, crash and restart, pause, partitions, observers.

use std::time::Duration;

use super::launch::quorum_driver;
use super::{ClusterError, ServerMode, TestCluster, TestClusterBuilder};

/// Generous: elections take a few ticks, but the machine may be busy with other tests.
const DEADLINE: Duration = Duration::from_secs(30);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn drivers() -> TestClusterBuilder {
    init_tracing();
    TestCluster::builder().launch(quorum_driver())
}

#[tokio::test]
async fn kill_elects_a_new_leader_and_restart_rejoins() {
    let c = drivers().start().await.unwrap();
    assert_eq!(c.ids(), vec![1, 2, 3]);
    assert_eq!(c.connect_string().split(',').count(), 3);
    let leader = c.leader().await.expect("a leader after start");
    c.kill(leader).await.unwrap();
    assert!(!c.is_running(leader));
    assert!(matches!(
        c.kill(leader).await,
        Err(ClusterError::NotRunning(_))
    ));
    let next = c.wait_for_quorum(DEADLINE).await.unwrap();
    assert_ne!(next, leader);
    c.restart(leader).await.unwrap();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), next);
    assert_eq!(c.mode(leader).await, Some(ServerMode::Follower));
    // Restarting a running server crashes it first.
    c.restart(leader).await.unwrap();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), next);
}

#[tokio::test]
async fn an_isolated_leader_steps_down_and_rejoins_after_heal() {
    let c = drivers().start().await.unwrap();
    let leader = c.leader().await.unwrap();
    c.isolate(leader).unwrap();
    assert!(c.is_isolated(leader));
    assert_eq!(c.partitions().len(), 2);
    let next = c.wait_for_quorum(DEADLINE).await.unwrap();
    assert_ne!(next, leader);
    // Without its quorum the old leader stops leading by itself.
    c.wait_for_mode(leader, None, DEADLINE).await.unwrap();
    c.heal();
    assert!(c.partitions().is_empty());
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), next);
    assert_eq!(c.mode(leader).await, Some(ServerMode::Follower));
}

#[tokio::test]
async fn a_partition_between_followers_leaves_the_quorum_alone() {
    let c = drivers().start().await.unwrap();
    let leader = c.leader().await.unwrap();
    let followers: Vec<u64> = c.ids().into_iter().filter(|&i| i != leader).collect();
    c.partition(followers[0], followers[1]).unwrap();
    assert_eq!(c.partitions(), vec![(followers[0], followers[1])]);
    // Both still reach the leader.
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
    // Cut one follower from the leader too: the leader keeps its quorum with the other.
    c.partition(followers[0], leader).unwrap();
    c.wait_for_mode(followers[0], None, DEADLINE).await.unwrap();
    assert_eq!(c.leader().await, Some(leader));
    c.heal();
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), leader);
}

#[tokio::test]
async fn a_paused_leader_is_replaced_and_follows_after_resume() {
    let c = drivers().start().await.unwrap();
    let leader = c.leader().await.unwrap();
    c.pause(leader).await.unwrap();
    assert!(c.is_paused(leader));
    assert_eq!(c.mode(leader).await, None);
    let next = c.wait_for_quorum(DEADLINE).await.unwrap();
    assert_ne!(next, leader);
    c.resume(leader).await.unwrap();
    assert!(!c.is_paused(leader));
    assert_eq!(c.wait_for_quorum(DEADLINE).await.unwrap(), next);
    assert_eq!(c.mode(leader).await, Some(ServerMode::Follower));
}

#[tokio::test]
async fn a_paused_server_can_be_killed_and_restarted() {
    let c = drivers().start().await.unwrap();
    let follower = c.ids().into_iter().find(|&i| i != 1).unwrap();
    c.pause(follower).await.unwrap();
    c.kill(follower).await.unwrap();
    assert!(!c.is_paused(follower) && !c.is_running(follower));
    c.restart(follower).await.unwrap();
    c.wait_for_quorum(DEADLINE).await.unwrap();
    assert!(c.mode(follower).await.is_some_and(ServerMode::is_in_quorum));
}

#[tokio::test]
async fn observers_observe() {
    let c = drivers().servers(3).observers(1).start().await.unwrap();
    assert_eq!(c.ids(), vec![1, 2, 3, 4]);
    assert_eq!(c.mode(4).await, Some(ServerMode::Observer));
    let leader = c.leader().await.unwrap();
    assert!(leader <= 3);
}

#[tokio::test]
async fn unknown_ids_are_errors_and_the_dir_goes_away_on_drop() {
    let c = drivers().servers(1).start().await.unwrap();
    assert_eq!(c.leader().await, Some(1));
    assert!(matches!(
        c.kill(9).await,
        Err(ClusterError::NoSuchServer(9))
    ));
    assert!(c.partition(1, 9).is_err());
    let data = c.data_dir(1).unwrap();
    assert!(data.join("myid").is_file());
    let dir = c.dir().to_owned();
    drop(c);
    assert!(!dir.exists() || std::env::var_os(super::KEEP_DIRS_ENV).is_some());
}
