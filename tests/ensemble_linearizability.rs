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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support_ensemble::recorder::{classify, Recorder, Reply};
use support_ensemble::rng::{seed_for, Rng};
use support_ensemble::{
    blocking, connect_ordered, env_u64, fail, serial, session_i64, start_or_skip, Target,
    LEADER_DEADLINE, REJOIN_DEADLINE,
};
use tokio::sync::watch;
use zk_client::{Client, CreateOptions};
use zk_lincheck::{
    check, check_with_stats, CheckOptions, ClientId, History, Outcome, ZkModel, ZkOp, ZkOutput,
};

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

/// What the clients share with the nemesis.
struct Shared {
    recorder: Recorder,
    round: AtomicUsize,
    stop: AtomicBool,
    completed: watch::Sender<u64>,
}

fn round_dir(round: usize) -> String {
    format!("{ROOT}/r{round}")
}

/// One client: a random operation on a random key of the current round, one at a time, until stopped.
async fn client_loop(client: Client, c: usize, mut rng: Rng, shared: Arc<Shared>) {
    let me = ClientId(c as u64);
    let rec = &shared.recorder;
    let mut seq = 0u64;
    let mut next_seq = || {
        seq += 1;
        seq
    };
    let mut n = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let round = shared.round.load(Ordering::Relaxed);
        let dir = round_dir(round);
        let key = format!("{dir}/k{}", rng.below(KEYS));
        n += 1;
        let value = format!("c{c}n{n}");
        let session = session_i64(&client);
        match rng.below(100) {
            // Compare-and-set: a plain read, then setData with the version it showed.
            0..=29 => {
                let read = client.get_data(&key).await;
                let version = match classify("getData", read) {
                    Reply::Ok((_, stat)) => {
                        rec.observe(session, next_seq(), &key, Some(&stat), None);
                        Some(stat.version)
                    }
                    Reply::Refused(_) | Reply::Unknown => None,
                };
                let Some(version) = version else { continue };
                let op = rec.invoke(me, ZkOp::set_data(&key, &value, Some(version)));
                let reply = client.set_data(&key, value.as_bytes(), Some(version)).await;
                match classify("setData", reply) {
                    Reply::Ok(stat) => {
                        rec.complete(
                            op,
                            ZkOutput::Set {
                                version: stat.version,
                            },
                        );
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Blind set.
            30..=44 => {
                let op = rec.invoke(me, ZkOp::set_data(&key, &value, None));
                match classify(
                    "setData",
                    client.set_data(&key, value.as_bytes(), None).await,
                ) {
                    Reply::Ok(stat) => {
                        rec.complete(
                            op,
                            ZkOutput::Set {
                                version: stat.version,
                            },
                        );
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Create.
            45..=62 => {
                let op = rec.invoke(me, ZkOp::create(&key, &value));
                let reply = client
                    .create(&key, value.as_bytes(), &CreateOptions::persistent())
                    .await;
                match classify("create", reply) {
                    Reply::Ok((_, stat)) => {
                        rec.complete(op, ZkOutput::Created);
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Delete, at any version or at a version guessed from the write count.
            63..=72 => {
                let version = rng.percent(50).then(|| rng.below(3) as i32);
                let op = rec.invoke(me, ZkOp::delete(&key, version));
                match classify("delete", client.delete(&key, version).await) {
                    Reply::Ok(()) => {
                        rec.complete(op, ZkOutput::Deleted);
                        rec.observe(session, next_seq(), &key, None, None);
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // sync, then getData or exists: one linearizable read from the sync's invocation.
            73..=92 => {
                let exists = rng.percent(30);
                let input = if exists {
                    ZkOp::exists(&key)
                } else {
                    ZkOp::get_data(&key)
                };
                let op = rec.invoke(me, input);
                let sync = client.sync(&dir);
                if !matches!(classify("sync", sync.await), Reply::Ok(())) {
                    continue; // an indeterminate read constrains nothing
                }
                if exists {
                    if let Reply::Ok(stat) = classify("exists", client.exists(&key).await) {
                        rec.complete(
                            op,
                            ZkOutput::Exists {
                                version: stat.as_ref().map(|s| s.version),
                            },
                        );
                        rec.observe(session, next_seq(), &key, stat.as_ref(), None);
                    }
                } else {
                    match classify("getData", client.get_data(&key).await) {
                        Reply::Ok((data, stat)) => {
                            rec.complete(op, ZkOutput::data(&data, stat.version));
                            rec.observe(session, next_seq(), &key, Some(&stat), None);
                        }
                        Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                        Reply::Unknown => {}
                    }
                }
            }
            // A plain read: not linearizable, but it must never go back for this session.
            _ => {
                if let Reply::Ok((_, stat)) = classify("getData", client.get_data(&key).await) {
                    rec.observe(session, next_seq(), &key, Some(&stat), None);
                }
            }
        }
        shared.completed.send_modify(|done| *done += 1);
    }
    client.close().await;
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
    admin
        .create(&round_dir(0), b"", &persistent)
        .await
        .expect("create round 0");

    let (completed, done) = watch::channel(0u64);
    let shared = Arc::new(Shared {
        recorder: Recorder::default(),
        round: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        completed,
    });
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let client = connect_ordered(&*ensemble, c % ensemble.len())
            .await
            .expect("client session");
        clients.push(tokio::spawn(client_loop(
            client,
            c,
            rng.fork(),
            shared.clone(),
        )));
    }

    let wait_ops = |range: (u64, u64), rng: &mut Rng| {
        let target = *done.borrow() + rng.range(range.0, range.1);
        let mut done = done.clone();
        async move {
            tokio::time::timeout(PROGRESS_DEADLINE, done.wait_for(|&d| d >= target))
                .await
                .is_ok_and(|r| r.is_ok())
        }
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
            *done.borrow()
        );
        admin
            .create(&round_dir(round + 1), b"", &persistent)
            .await
            .expect("create the next round's directory");
        shared.round.store(round + 1, Ordering::Relaxed);
    }
    shared.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    admin.close().await;
    let run_time = started.elapsed();

    let violations = shared.recorder.session_violations();
    let history = shared.recorder.take_history();
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
    corrupted_read_is_caught(&history, &options);
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

/// A checker that never fails proves nothing: the same history with one synced read changed to a value
/// nobody wrote must be rejected, which shows the recorded reads are really checked.
fn corrupted_read_is_caught(history: &History<ZkOp, ZkOutput>, options: &CheckOptions) {
    let mut corrupted = history.clone();
    let read = corrupted
        .operations_mut()
        .iter_mut()
        .rev()
        .find_map(|op| match &mut op.outcome {
            Outcome::Completed {
                output: ZkOutput::Data { data, .. },
                ..
            } => Some(data),
            _ => None,
        });
    let Some(data) = read else {
        panic!("the history holds no completed synced read to corrupt");
    };
    *data = b"never written".as_slice().into();
    let result = blocking(|| {
        check(
            &ZkModel::new(),
            &corrupted,
            &options.clone().with_shrink(false),
        )
    });
    assert!(
        result.is_illegal(),
        "a read of a value nobody wrote was not caught: {result:?}"
    );
}
