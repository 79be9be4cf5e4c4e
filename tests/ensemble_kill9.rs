//! Issue 7's durability proof on real processes: a 3-server ensemble on loopback under write load, one
//! server killed with SIGKILL per iteration (the leader at least every third time, otherwise a random
//! one, which is the leader a third of the time again) and restarted on the same data dir and ports.
//!
//! Checked:
//! - **no acknowledged write is lost**: at the end, after a `sync`, every server holds every create that
//!   was acknowledged, with its value, and each counter holds the last acknowledged setData or a later
//!   one that was sent; nothing that was never sent exists, and the counter versions count only txns
//!   that were sent (a write whose reply was lost may or may not have been applied: that is all);
//! - **a leader again within 10 s** of every kill (`srvr` says `Mode: leader`), and the restarted server
//!   back in the quorum within [`REJOIN_DEADLINE`];
//! - **writes resume** after every fault (the next kill waits for fresh acknowledgements);
//! - **identical trees**: every server's tree, read through that server, is the same, and so are the
//!   tree digests the servers compute themselves (`hash` at a common zxid; `mntr` mismatch counters 0).
//!
//! Load: [`WRITERS`] zk-client sessions, each pipelining up to [`WINDOW`] writes of unique values
//! (alternately a create of a fresh znode and a setData of its counter), each starting on a different
//! server and moving when that server dies.
//!
//! Iterations: [`DEFAULT_ITERATIONS`] (CI: about 1 min per target on 2 cores); soak with
//! `ZK_KILL9_ITERATIONS=1000`, and heavier with `ZK_KILL9_WRITE_INTERVAL_MS=0` (unpaced writers: the
//! tree grows by thousands of znodes per iteration). The fault schedule (victims, kill points) comes
//! from a printed seed; replay it with `ZK_ENSEMBLE_SEED`. `ZK_TESTKIT_KEEP_DIRS=1` keeps the servers'
//! logs and data dirs.
//!
//! The Apache run is the control, and it passes at the CI pace. Unpaced, Debian's Apache 3.8.0 does not
//! always: in 2 of 3 runs one server ended up without a range of committed txns that the other two held
//! (acknowledged creates missing on it, a digest mismatch when it replayed its own log, "NEWLEADER ACK
//! from sid: 2 is from a different epoch" in the leader's log) — the ZOOKEEPER-4643/4646/4685/4712
//! family, fixed after 3.8.0. Apache also counts digest mismatches after replaying log entries older
//! than a snapshot it received from a leader, so its `mntr` counter is printed, not checked.

mod support_ensemble;
mod support_thirdparty;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesOrdered, StreamExt};
use support_ensemble::converge::check_digests;
use support_ensemble::rng::{seed_for, Rng};
use support_ensemble::tree::{diff_trees, read_subtree, NodeState};
use support_ensemble::{
    blocking, connect_ordered, connect_pinned, env_u64, fail, serial, start_or_skip, Target,
    LEADER_DEADLINE, REJOIN_DEADLINE,
};
use tokio::sync::watch;
use zk_client::{Client, CreateOptions, Error};

/// Kill/restart iterations in CI (issue 7 asks for at least 50).
const DEFAULT_ITERATIONS: u64 = 50;
/// Overrides [`DEFAULT_ITERATIONS`] (soak mode).
const ITERATIONS_ENV: &str = "ZK_KILL9_ITERATIONS";
/// Writer sessions.
const WRITERS: usize = 4;
/// Writes each writer keeps in flight.
const WINDOW: usize = 8;
/// Each writer starts one write per interval (4 writers: 500 writes/s). Unpaced, the writers would
/// produce tens of thousands of writes per iteration, and every restart would spend its time recovering
/// and syncing an ever larger tree instead of exercising the crash; paced, 50 iterations stay within a
/// CI budget and the tree within tens of thousands of znodes. The interval paces the load: nothing waits
/// on it for a condition.
const WRITE_INTERVAL: Duration = Duration::from_millis(8);
/// Overrides [`WRITE_INTERVAL`] (milliseconds); `0` writes as fast as the ensemble acknowledges (heavy
/// soak: the tree grows by tens of thousands of znodes per iteration).
const WRITE_INTERVAL_ENV: &str = "ZK_KILL9_WRITE_INTERVAL_MS";
/// Each kill comes after this many fresh acknowledgements (all writers together) since the previous
/// restart, drawn uniformly: sometimes right after the rejoin, sometimes deep into steady load.
const KILL_AFTER_ACKS: (u64, u64) = (5, 200);
/// Acknowledgements must resume within this after a restart; longer means the ensemble is stuck.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(30);
/// Every server must list a common digest zxid within this once the load has stopped.
const DIGEST_DEADLINE: Duration = Duration::from_secs(20);
/// Differences quoted when two servers' trees differ.
const DIFF_LINES: usize = 20;
/// Root of the load.
const ROOT: &str = "/kill9";
/// The scratch znode the digest padding writes.
const PAD: &str = "/kill9-pad";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loop_loses_no_acknowledged_write_apache() {
    run(
        Target::Apache,
        "kill9_loop_loses_no_acknowledged_write_apache",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loop_loses_no_acknowledged_write_zk_server() {
    run(
        Target::ZkServer,
        "kill9_loop_loses_no_acknowledged_write_zk_server",
    )
    .await;
}

/// One write as the writer sent it and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The reply said OK.
    Acked,
    /// No reply (connection loss, expiry, timeout): applied or not.
    Unknown,
}

/// Write `n` of writer `w`: even `n` creates `ROOT/w<w>/n<n>`, odd `n` sets `ROOT/k<w>`; both write
/// [`value`]`(w, n)`.
fn is_create(n: usize) -> bool {
    n % 2 == 0
}

fn value(w: usize, n: usize) -> String {
    format!("w{w}n{n}")
}

fn node_path(w: usize, n: usize) -> String {
    format!("{ROOT}/w{w}/n{n:08}")
}

fn counter_path(w: usize) -> String {
    format!("{ROOT}/k{w}")
}

/// What one writer sent, by write number.
#[derive(Debug, Default)]
struct WriterLog {
    outcomes: Vec<Outcome>,
    /// Replies that were neither OK nor an indeterminate failure (a server bug or a test bug).
    refused: Vec<(usize, Error)>,
}

/// Pipelines writes until `stop`, then drains what is in flight.
async fn writer(
    client: Client,
    w: usize,
    interval: Duration,
    stop: Arc<AtomicBool>,
    acks: watch::Sender<u64>,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut in_flight = FuturesOrdered::new();
    let mut pace = (!interval.is_zero()).then(|| {
        let mut pace = tokio::time::interval(interval);
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pace
    });
    loop {
        if in_flight.len() < WINDOW && !stop.load(Ordering::Relaxed) {
            if let Some(pace) = &mut pace {
                // Issue the next write at the next tick, unless a reply comes first.
                let reply = tokio::select! {
                    _ = pace.tick() => None,
                    reply = in_flight.next(), if !in_flight.is_empty() => reply,
                };
                if let Some(reply) = reply {
                    record(&mut log, reply, &acks);
                    continue;
                }
            }
            let n = log.outcomes.len() + in_flight.len();
            let v = value(w, n);
            let reply: std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
            > = if is_create(n) {
                let f = client.create(&node_path(w, n), v.as_bytes(), &CreateOptions::persistent());
                Box::pin(async move { f.await.map(drop) })
            } else {
                let f = client.set_data(&counter_path(w), v.as_bytes(), None);
                Box::pin(async move { f.await.map(drop) })
            };
            in_flight.push_back(async move { (n, reply.await) });
            continue;
        }
        let Some(reply) = in_flight.next().await else {
            break; // stopped and drained
        };
        record(&mut log, reply, &acks);
    }
    client.close().await;
    log
}

/// Records the reply to write `n`, which must be the next one (replies come in request order).
fn record(log: &mut WriterLog, (n, reply): (usize, Result<(), Error>), acks: &watch::Sender<u64>) {
    assert_eq!(n, log.outcomes.len(), "replies out of order");
    let outcome = match reply {
        Ok(()) => {
            acks.send_modify(|a| *a += 1);
            Outcome::Acked
        }
        Err(
            Error::ConnectionLoss
            | Error::SessionExpired
            | Error::Timeout
            | Error::OperationTimeout,
        ) => Outcome::Unknown,
        Err(e) => {
            log.refused.push((n, e));
            Outcome::Unknown
        }
    };
    log.outcomes.push(outcome);
}

/// Timings of one iteration.
#[derive(Debug)]
struct Iteration {
    victim: usize,
    was_leader: bool,
    leader_after: Duration,
    rejoin_after: Duration,
}

async fn run(target: Target, test: &str) {
    let _serial = serial().await;
    let Some(mut ensemble) = blocking(|| start_or_skip(target, test)) else {
        return;
    };
    let iterations = env_u64(ITERATIONS_ENV, DEFAULT_ITERATIONS);
    let interval = Duration::from_millis(env_u64(
        WRITE_INTERVAL_ENV,
        WRITE_INTERVAL.as_millis() as u64,
    ));
    let mut rng = Rng::new(seed_for(test));
    let started = Instant::now();

    let setup = connect_ordered(&*ensemble, 0).await.expect("setup session");
    setup
        .create(ROOT, b"", &CreateOptions::persistent())
        .await
        .expect("create root");
    for w in 0..WRITERS {
        let p = CreateOptions::persistent();
        setup
            .create(&format!("{ROOT}/w{w}"), b"", &p)
            .await
            .expect("create writer dir");
        setup
            .create(&counter_path(w), b"", &p)
            .await
            .expect("create counter");
    }
    setup.close().await;

    let stop = Arc::new(AtomicBool::new(false));
    let (acks, mut acked) = watch::channel(0u64);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = connect_ordered(&*ensemble, w % ensemble.len())
            .await
            .expect("writer session");
        writers.push(tokio::spawn(writer(
            client,
            w,
            interval,
            stop.clone(),
            acks.clone(),
        )));
    }

    let mut history = Vec::new();
    for it in 0..iterations {
        let target_acks = *acked.borrow() + rng.range(KILL_AFTER_ACKS.0, KILL_AFTER_ACKS.1);
        let progressed =
            tokio::time::timeout(PROGRESS_DEADLINE, acked.wait_for(|&a| a >= target_acks))
                .await
                .is_ok_and(|r| r.is_ok());
        if !progressed {
            fail(&*ensemble, &format!(
                "iteration {it}: writes stalled: {} acknowledged, {target_acks} awaited for {PROGRESS_DEADLINE:?}",
                *acked.borrow()
            ));
        }
        let leader = blocking(|| ensemble.leader());
        let victim = match leader {
            Some(leader) if it % 3 == 0 => leader,
            _ => rng.index(ensemble.len()),
        };
        let was_leader = leader == Some(victim);
        blocking(|| ensemble.kill(victim));
        let killed_at = Instant::now();
        if let Err(e) = blocking(|| ensemble.wait_for_leader_within(LEADER_DEADLINE)) {
            fail(&*ensemble, &format!("iteration {it}: no leader within {LEADER_DEADLINE:?} of killing server {victim} (leader: {was_leader}): {e}"));
        }
        let leader_after = killed_at.elapsed();
        let restarted_at = Instant::now();
        let rejoined = blocking(|| {
            ensemble.restart(victim)?;
            ensemble.wait_for_quorum(REJOIN_DEADLINE)
        });
        if let Err(e) = rejoined {
            fail(
                &*ensemble,
                &format!("iteration {it}: server {victim} did not rejoin: {e}"),
            );
        }
        let step = Iteration {
            victim,
            was_leader,
            leader_after,
            rejoin_after: restarted_at.elapsed(),
        };
        eprintln!(
            "{test}: iteration {it}: killed server {} (leader: {}), leader after {:?}, rejoined after {:?}, {} acks",
            step.victim, step.was_leader, step.leader_after, step.rejoin_after, *acked.borrow()
        );
        history.push(step);
    }

    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for handle in writers {
        logs.push(handle.await.expect("writer task"));
    }
    let load_time = started.elapsed();

    // Every server, read through itself after a sync, must hold every acknowledged write.
    let mut trees = Vec::new();
    for i in 0..ensemble.len() {
        let reader = connect_pinned(ensemble.addr(i))
            .await
            .expect("reader session");
        reader.sync(ROOT).await.expect("sync");
        trees.push(read_subtree(&reader, ROOT).await.expect("reading the tree"));
        reader.close().await;
    }
    let mut report = String::new();
    for (i, tree) in trees.iter().enumerate() {
        let problems = check_writes(&logs, tree);
        if problems.is_empty() {
            continue;
        }
        report.push_str(&format!(
            "server {i}: {} problems with acknowledged writes, first ones:\n",
            problems.len()
        ));
        for problem in problems.iter().take(DIFF_LINES) {
            // Where the other servers stand on the same znode, to tell loss from divergence.
            let path = problem
                .split_whitespace()
                .find(|w| w.starts_with(ROOT))
                .unwrap_or("");
            let elsewhere: Vec<String> = trees
                .iter()
                .enumerate()
                .map(|(j, t)| match t.get(path) {
                    Some(node) => format!("server {j}: mzxid {:#x}", node.mzxid),
                    None => format!("server {j}: absent"),
                })
                .collect();
            report.push_str(&format!("  {problem} [{}]\n", elsewhere.join(", ")));
        }
    }
    if !report.is_empty() {
        fail(&*ensemble, &report);
    }
    for i in 1..trees.len() {
        if let Some(diff) = diff_trees((0, &trees[0]), (i, &trees[i]), DIFF_LINES) {
            fail(&*ensemble, &format!("the servers' trees differ: {diff}"));
        }
    }
    let client = connect_ordered(&*ensemble, 0)
        .await
        .expect("digest session");
    let digest = check_digests(&*ensemble, &client, PAD, DIGEST_DEADLINE).await;
    client.close().await;
    let convergence = digest.unwrap_or_else(|e| fail(&*ensemble, &e));
    if let Some((i, n)) = convergence.first_mismatching() {
        let what =
            format!("server {i} counted {n} digest mismatches (mntr zk_digest_mismatches_count)");
        if target.checks_mismatch_counters() {
            fail(&*ensemble, &what);
        }
        eprintln!("{test}: {what}; not checked for {}", ensemble.kind());
    }
    let digest = convergence.agreed;

    let refused: Vec<String> = logs
        .iter()
        .enumerate()
        .flat_map(|(w, log)| {
            log.refused
                .iter()
                .map(move |(n, e)| format!("writer {w} write {n}: {e}"))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "writes refused with unexpected errors: {refused:?}"
    );

    let acked_total: usize = logs
        .iter()
        .map(|l| l.outcomes.iter().filter(|o| **o == Outcome::Acked).count())
        .sum();
    let unknown_total: usize = logs
        .iter()
        .map(|l| {
            l.outcomes
                .iter()
                .filter(|o| **o == Outcome::Unknown)
                .count()
        })
        .sum();
    let leader_kills = history.iter().filter(|s| s.was_leader).count();
    let mut failovers: Vec<Duration> = history
        .iter()
        .filter(|s| s.was_leader)
        .map(|s| s.leader_after)
        .collect();
    failovers.sort();
    eprintln!(
        "{test}: {} passed: {iterations} iterations ({leader_kills} leader kills) in {:?}; {acked_total} writes acknowledged, \
         {unknown_total} indeterminate, none lost; {} znodes identical on {} servers; digest {} at zxid {:#x}; \
         leader failover median {:?}, max {:?}",
        ensemble.kind(),
        load_time,
        trees[0].len(),
        trees.len(),
        digest.digest,
        digest.zxid,
        failovers.get(failovers.len() / 2),
        failovers.last(),
    );
    assert!(
        leader_kills as u64 * 3 >= iterations,
        "only {leader_kills} of {iterations} kills hit the leader"
    );
}

/// Compares one server's tree with what the writers sent; returns one line per problem.
fn check_writes(logs: &[WriterLog], tree: &BTreeMap<String, NodeState>) -> Vec<String> {
    let mut problems = Vec::new();
    for (w, log) in logs.iter().enumerate() {
        // Creates: every acknowledged one is there, with its value.
        for (n, outcome) in log.outcomes.iter().enumerate() {
            if !is_create(n) {
                continue;
            }
            let path = node_path(w, n);
            match (outcome, tree.get(&path)) {
                (Outcome::Acked, None) => problems.push(format!("LOST acknowledged create {path}")),
                (_, Some(node)) if node.data != value(w, n).as_bytes() => problems.push(format!(
                    "{path} holds {:?}, written as {:?}",
                    String::from_utf8_lossy(&node.data),
                    value(w, n)
                )),
                _ => {}
            }
        }
        // Nothing under the writer's dir that it never sent.
        let dir = format!("{ROOT}/w{w}/");
        for path in tree.keys().filter(|p| p.starts_with(&dir)) {
            let sent = path[dir.len()..]
                .strip_prefix('n')
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| is_create(n) && n < log.outcomes.len());
            if !sent {
                problems.push(format!("{path} exists but was never sent"));
            }
        }
        // The counter: the last acknowledged set or a later sent one; its version counts sent sets only.
        let path = counter_path(w);
        let Some(counter) = tree.get(&path) else {
            problems.push(format!("{path} is missing"));
            continue;
        };
        let sets: Vec<(usize, Outcome)> = log
            .outcomes
            .iter()
            .enumerate()
            .filter(|(n, _)| !is_create(*n))
            .map(|(n, o)| (n, *o))
            .collect();
        let last_acked = sets
            .iter()
            .rev()
            .find(|(_, o)| *o == Outcome::Acked)
            .map(|(n, _)| *n);
        let held = String::from_utf8_lossy(&counter.data).into_owned();
        let held_n = held
            .strip_prefix(&format!("w{w}n"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| !is_create(*n) && *n < log.outcomes.len());
        match (held_n, last_acked) {
            (None, None) if counter.data.is_empty() && counter.version == 0 => {}
            (None, _) => problems.push(format!("{path} holds {held:?}, which was never sent (last acknowledged set: {last_acked:?})")),
            (Some(m), Some(a)) if m < a => problems.push(format!(
                "LOST acknowledged set: {path} holds write {m}, but write {a} was acknowledged"
            )),
            (Some(m), _) => {
                let sent_up_to_m = sets.iter().filter(|(n, _)| *n <= m).count() as i32;
                let acked_up_to_m = sets.iter().filter(|(n, o)| *n <= m && *o == Outcome::Acked).count() as i32;
                if counter.version > sent_up_to_m || counter.version < acked_up_to_m {
                    problems.push(format!(
                        "{path} holds write {m} at version {}, but {acked_up_to_m} sets up to it were acknowledged and {sent_up_to_m} sent",
                        counter.version
                    ));
                }
            }
        }
    }
    problems
}
