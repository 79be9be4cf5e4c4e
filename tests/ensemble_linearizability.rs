//! Linearizability under failover, on real processes: [`CLIENTS`] zk-client sessions spread over a
//! 3-server ensemble do compare-and-set (setData with the version just read), blind sets, creates,
//! deletes and sync-then-reads on a few znodes while a nemesis kills (SIGKILL) the leader or a random
//! server and restarts it. Checked with zk-lincheck:
//! - **C1**: the writes and the sync+reads form a linearizable history against the versioned-znode model
//!   (Wing–Gong/Lowe search, partitioned per znode). Writes whose reply was lost are indeterminate.
//! - **C2/C3** for every reply with a Stat, plain reads included: replies in issue order, a session never
//!   sees a znode go back to an older mzxid, and a write's zxid never lies below what its session has
//!   already observed (a server behind the session must refuse it, even after a move).
//!
//! Each round has its own znodes (`/lin/r<round>/k<i>`), so every per-key history spans one fault and its
//! few indeterminate writes (Jepsen's "independent keys"; the checker's cost grows with open
//! indeterminate writes per key). Rounds: [`DEFAULT_ROUNDS`]; `ZK_LIN_ROUNDS` for a soak. The nemesis
//! schedule and each client's choices come from a printed seed (`ZK_ENSEMBLE_SEED` replays the
//! schedule; thread timing still varies). The Apache run is the control.

mod support_ensemble;
mod support_thirdparty;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support_ensemble::rng::{seed_for, Rng};
use support_ensemble::workload::{client_loop, corrupted_read_is_caught, Workload};
use support_ensemble::{
    blocking, connect_ordered, env_u64, fail, serial, start_or_skip, Target, LEADER_DEADLINE,
    REJOIN_DEADLINE,
};
use zk_client::CreateOptions;
use zk_lincheck::{check_with_stats, CheckOptions, ZkModel};

/// Client sessions doing operations.
const CLIENTS: usize = 5;
/// Znodes per round.
const KEYS: u64 = 3;
/// Fault rounds in CI.
const DEFAULT_ROUNDS: u64 = 12;
/// Overrides [`DEFAULT_ROUNDS`].
const ROUNDS_ENV: &str = "ZK_LIN_ROUNDS";
/// Operations (all clients) completed before each fault, and again while the victim is down: drawn
/// uniformly from these ranges, so faults land at varied points of the load.
const OPS_BEFORE_KILL: (u64, u64) = (30, 120);
const OPS_WHILE_DOWN: (u64, u64) = (10, 60);
/// Operations must keep completing within this (a quorum is always up).
const PROGRESS_DEADLINE: Duration = Duration::from_secs(30);
/// Wall-clock budget of the linearizability check (failing it is a failure: `Unknown`).
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);
/// Root of the test's znodes.
const ROOT: &str = "/lin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_synced_reads_are_linearizable_apache() {
    run(
        Target::Apache,
        "writes_and_synced_reads_are_linearizable_apache",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_synced_reads_are_linearizable_zk_server() {
    run(
        Target::ZkServer,
        "writes_and_synced_reads_are_linearizable_zk_server",
    )
    .await;
}

async fn run(target: Target, test: &str) {
    let _serial = serial().await;
    let Some(mut ensemble) = blocking(|| start_or_skip(target, test)) else {
        return;
    };
    let rounds = env_u64(ROUNDS_ENV, DEFAULT_ROUNDS) as usize;
    let mut rng = Rng::new(seed_for(test));
    let started = Instant::now();

    let admin = connect_ordered(&*ensemble, 0).await.expect("admin session");
    let persistent = CreateOptions::persistent();
    admin
        .create(ROOT, b"", &persistent)
        .await
        .expect("create root");
    let work = Arc::new(Workload::new(ROOT, KEYS));
    admin
        .create(&work.round_dir(0), b"", &persistent)
        .await
        .expect("create round 0");
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let client = connect_ordered(&*ensemble, c % ensemble.len())
            .await
            .expect("client session");
        clients.push(tokio::spawn(client_loop(
            client,
            c,
            rng.fork(),
            work.clone(),
        )));
    }

    let wait_ops = |range: (u64, u64), rng: &mut Rng| {
        let more = rng.range(range.0, range.1);
        let work = work.clone();
        async move { work.wait_ops(more, PROGRESS_DEADLINE).await }
    };
    for round in 0..rounds {
        if !wait_ops(OPS_BEFORE_KILL, &mut rng).await {
            fail(
                &*ensemble,
                &format!("round {round}: operations stalled before the kill"),
            );
        }
        let leader = blocking(|| ensemble.leader());
        let victim = match leader {
            Some(leader) if round % 2 == 0 => leader,
            _ => rng.index(ensemble.len()),
        };
        blocking(|| ensemble.kill(victim));
        let killed = Instant::now();
        if let Err(e) = blocking(|| ensemble.wait_for_leader_within(LEADER_DEADLINE)) {
            fail(
                &*ensemble,
                &format!("round {round}: no leader after killing server {victim}: {e}"),
            );
        }
        let leader_after = killed.elapsed();
        if !wait_ops(OPS_WHILE_DOWN, &mut rng).await {
            fail(
                &*ensemble,
                &format!("round {round}: operations stalled with server {victim} down"),
            );
        }
        if let Err(e) = blocking(|| {
            ensemble.restart(victim)?;
            ensemble.wait_for_quorum(REJOIN_DEADLINE)
        }) {
            fail(
                &*ensemble,
                &format!("round {round}: server {victim} did not rejoin: {e}"),
            );
        }
        eprintln!(
            "{test}: round {round}: killed server {victim} (leader: {}), leader after {leader_after:?}, {} ops",
            leader == Some(victim),
            work.completed()
        );
        admin
            .create(&work.round_dir(round + 1), b"", &persistent)
            .await
            .expect("create the next round's directory");
        work.start_round(round + 1);
    }
    work.stop();
    for client in clients {
        client.await.expect("client task");
    }
    admin.close().await;
    let run_time = started.elapsed();

    let violations = work.recorder.session_violations();
    let history = work.recorder.take_history();
    let indeterminate = history
        .operations()
        .iter()
        .filter(|o| o.completed_at().is_none())
        .count();
    let checked = Instant::now();
    let options = CheckOptions::default().with_timeout(CHECK_TIMEOUT);
    let (result, stats) = blocking(|| check_with_stats(&ZkModel::new(), &history, &options));
    eprintln!(
        "{test}: {} rounds in {run_time:?}; {} operations ({indeterminate} indeterminate) checked in {:?}: {stats:?}",
        rounds,
        history.len(),
        checked.elapsed()
    );
    if !result.is_ok() {
        fail(
            &*ensemble,
            &format!(
                "the history is not linearizable ({} operations):\n{}",
                history.len(),
                result.explain(&history)
            ),
        );
    }
    if let Err(e) = blocking(|| corrupted_read_is_caught(&history, &options)) {
        fail(
            &*ensemble,
            &format!("the checker missed a corrupted read: {e}"),
        );
    }
    if !violations.is_empty() {
        let lines: Vec<String> = violations
            .iter()
            .take(20)
            .map(ToString::to_string)
            .collect();
        fail(
            &*ensemble,
            &format!(
                "{} session-order violations, first ones:\n{}",
                violations.len(),
                lines.join("\n")
            ),
        );
    }
    eprintln!("{test}: {} passed", ensemble.kind());
}
