//! Linearizability under partitions (issue 7), on an in-process 3-server
//! [`TestCluster`]: [`CLIENTS`] zk-client sessions do compare-and-set, blind sets, creates, deletes,
//! sync-then-reads and plain reads on a few znodes while a seeded nemesis isolates the leader, cuts
//! the link between two servers, pauses a follower, or kills a server and restarts it, then heals.
//! `tests/ensemble_linearizability.rs` covers crashes of real processes; the peer network of a
//! `TestCluster` goes through proxies the test can cut, which processes cannot do.
//!
//! Half the clients are pinned to one server each (a one-host connect string), so some client is
//! always on the isolated, cut or paused server and sees what it serves while it is cut off; the
//! other half list every server and move. Checked with zk-lincheck:
//! - **C1**: the writes and the sync+reads are linearizable per znode against the versioned-znode
//!   model. Writes whose reply was lost (connection loss, timeout) are indeterminate. A check the
//!   budget cannot decide (`Unknown`) fails the test.
//! - **C2/C3**: every reply with a Stat, plain reads included, arrives in issue order and never shows
//!   a session an older mzxid or zxid than it has already seen.
//!
//! The nemesis schedule and the clients' choices come from one printed seed; `ZK_ENSEMBLE_SEED`
//! replays the schedule (thread timing still varies). Rounds: [`DEFAULT_ROUNDS`], `ZK_LIN_ROUNDS`
//! for a soak. Every fault kind is used once every [`FAULT_KINDS`] rounds.

mod support_ensemble;
mod support_thirdparty;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support_ensemble::rng::{seed_for, Rng};
use support_ensemble::workload::{client_loop, corrupted_read_is_caught, Workload};
use support_ensemble::{
    blocking, connect_pinned, env_u64, CONNECT_TIMEOUT, LEADER_DEADLINE, MAX_SESSION_TIMEOUT_MS,
    REJOIN_DEADLINE, SESSION_TIMEOUT, TICK_TIME,
};
use zk_client::{Client, CreateOptions};
use zk_lincheck::{check_with_stats, CheckOptions, ZkModel};
use zk_server::cluster::{ClusterError, TestCluster, KEEP_DIRS_ENV};

/// Voting servers: the smallest ensemble that keeps a quorum with one server cut off.
const SERVERS: usize = 3;
/// Client sessions: one pinned to each server, and as many over the whole connect string.
const CLIENTS: usize = 2 * SERVERS;
/// Znodes per round.
const KEYS: u64 = 3;
/// Fault rounds in CI: three of each fault kind, about 20 s of load on 2 cores.
const DEFAULT_ROUNDS: u64 = 12;
/// Overrides [`DEFAULT_ROUNDS`] (the same knob as the process-level test's).
const ROUNDS_ENV: &str = "ZK_LIN_ROUNDS";
/// Operations (all clients) completed before each fault, and again once the fault has taken effect:
/// drawn uniformly from these ranges, so faults land at varied points of the load and last varied
/// times. In-process clients complete 2,000-3,000 operations a second on 2 cores (debug build), so
/// a fault lasts from a few tenths of a second to about two seconds: past syncLimit (5 ticks = 1 s)
/// in many rounds, so that a frozen follower is dropped and must resynchronize.
const OPS_BEFORE_FAULT: (u64, u64) = (100, 1_000);
const OPS_DURING_FAULT: (u64, u64) = (500, 5_000);
/// Operations must keep completing within this: every fault leaves a quorum connected, and the
/// clients over the whole connect string move to it.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(20);
/// The clients must have finished their last operation within this after being told to stop: a
/// pinned client may still wait [`CONNECT_TIMEOUT`] for its server.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Wall-clock budget of the linearizability check (running out is a failure: `Unknown`).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// Root of the test's znodes.
const ROOT: &str = "/linp";
/// How many kinds of [`Fault`] the nemesis draws from.
const FAULT_KINDS: usize = 4;

/// One fault of the nemesis, and what undoes it.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Every peer link of the leader cut: the other two elect a new leader while the old one may
    /// still believe it leads (syncLimit) and its pinned client keeps talking to it. Undone by heal.
    IsolateLeader(u64),
    /// The link between two servers cut (the leader's link to a follower, or two followers' link).
    /// Undone by heal.
    Partition(u64, u64),
    /// A follower frozen: its clients and peers see it go silent, not away. Undone by resume.
    PauseFollower(u64),
    /// A server crashed (the leader on even draws); its data dir survives. Undone by restart.
    Kill(u64),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::IsolateLeader(id) => write!(f, "isolate leader {id}"),
            Fault::Partition(a, b) => write!(f, "partition {a} | {b}"),
            Fault::PauseFollower(id) => write!(f, "pause follower {id}"),
            Fault::Kill(id) => write!(f, "kill {id}"),
        }
    }
}

/// The nemesis's steps, with the recorder's clock so they line up with the history's times.
#[derive(Default)]
struct NemesisLog(Mutex<Vec<String>>);

impl NemesisLog {
    fn step(&self, work: &Workload, what: impl fmt::Display) {
        let line = format!("t={:>12} ns: {what}", work.recorder.now());
        eprintln!("nemesis {line}");
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }
}

/// What a failure message carries besides its cause.
struct Context<'a> {
    seed: u64,
    cluster: &'a TestCluster,
    nemesis: &'a NemesisLog,
}

impl Context<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\nseed {:#x} (replay with ZK_ENSEMBLE_SEED={:#x}); cluster dir {} (set {KEEP_DIRS_ENV}=1 to keep it)\nnemesis steps:\n{}",
            self.seed,
            self.seed,
            self.cluster.dir().display(),
            self.nemesis.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_synced_reads_are_linearizable_under_partitions() {
    run("writes_and_synced_reads_are_linearizable_under_partitions").await;
}

/// A session over every server, tried in order from `first` (no shuffle), so the three movable
/// clients start on different servers.
async fn connect_all(cluster: &TestCluster, first: usize) -> Result<Client, zk_client::Error> {
    let hosts: Vec<String> = cluster
        .connect_string()
        .split(',')
        .map(String::from)
        .collect();
    let rotated: Vec<String> = (0..hosts.len())
        .map(|k| hosts[(first + k) % hosts.len()].clone())
        .collect();
    Client::builder()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_shuffle(false)
        .connect(&rotated.join(","))
        .await
}

/// Draws the fault of `round`: the kind goes round-robin from a random offset, the victims are random.
async fn draw_fault(cluster: &TestCluster, round: usize, offset: usize, rng: &mut Rng) -> Fault {
    let ids = cluster.ids();
    let leader = cluster
        .leader()
        .await
        .expect("a leader after wait_for_quorum");
    let followers: Vec<u64> = ids.iter().copied().filter(|&id| id != leader).collect();
    match (round + offset) % FAULT_KINDS {
        0 => Fault::IsolateLeader(leader),
        1 => {
            let a = ids[rng.index(ids.len())];
            let others: Vec<u64> = ids.iter().copied().filter(|&id| id != a).collect();
            Fault::Partition(a, others[rng.index(others.len())])
        }
        2 => Fault::PauseFollower(followers[rng.index(followers.len())]),
        _ if rng.percent(50) => Fault::Kill(leader),
        _ => Fault::Kill(ids[rng.index(ids.len())]),
    }
}

async fn inject(cluster: &TestCluster, fault: Fault) -> Result<(), ClusterError> {
    match fault {
        Fault::IsolateLeader(id) => cluster.isolate(id),
        Fault::Partition(a, b) => cluster.partition(a, b),
        Fault::PauseFollower(id) => cluster.pause(id).await,
        Fault::Kill(id) => cluster.kill(id).await,
    }
}

/// Waits until `fault` has taken effect: the servers cut off from the leader have stopped serving
/// and the rest have a leader (within [`LEADER_DEADLINE`], issue 7's bound). A frozen server cannot
/// be asked, and a cut between two followers changes nothing, so those take effect at once. Returns
/// the leader of the side that serves, when there is one to ask for.
async fn settle(cluster: &TestCluster, fault: Fault) -> Result<Option<u64>, ClusterError> {
    match fault {
        Fault::IsolateLeader(old) => {
            cluster.wait_for_mode(old, None, LEADER_DEADLINE).await?;
            cluster.wait_for_quorum(LEADER_DEADLINE).await.map(Some)
        }
        Fault::Partition(a, b) => match cluster.leader().await {
            Some(leader) if leader == a || leader == b => {
                let cut = if leader == a { b } else { a };
                cluster.wait_for_mode(cut, None, LEADER_DEADLINE).await?;
                Ok(Some(leader))
            }
            _ => Ok(None),
        },
        Fault::PauseFollower(_) => Ok(None),
        Fault::Kill(_) => cluster.wait_for_quorum(LEADER_DEADLINE).await.map(Some),
    }
}

async fn repair(cluster: &TestCluster, fault: Fault) -> Result<(), ClusterError> {
    match fault {
        Fault::IsolateLeader(_) | Fault::Partition(..) => {
            cluster.heal();
            Ok(())
        }
        Fault::PauseFollower(id) => cluster.resume(id).await,
        Fault::Kill(id) => cluster.restart(id).await,
    }
}

/// Creates the persistent znode `path`, retrying while the admin session's server is cut off: a
/// server that was frozen or isolated past syncLimit drops its clients when it finds out, after
/// the quorum looked whole again, so a create can lose its connection. Each retry waits for a
/// connection (up to [`CONNECT_TIMEOUT`]); `NodeExists` after a lost reply means it took effect.
async fn create_dir(admin: &Client, path: &str) -> Result<(), zk_client::Error> {
    let deadline = Instant::now() + PROGRESS_DEADLINE;
    let mut retried = false;
    loop {
        match admin.create(path, b"", &CreateOptions::persistent()).await {
            Ok(_) => return Ok(()),
            Err(zk_client::Error::NodeExists) if retried => return Ok(()),
            Err(zk_client::Error::ConnectionLoss | zk_client::Error::Timeout)
                if Instant::now() < deadline =>
            {
                retried = true
            }
            Err(e) => return Err(e),
        }
    }
}

async fn run(test: &str) {
    let rounds = env_u64(ROUNDS_ENV, DEFAULT_ROUNDS) as usize;
    let seed = seed_for(test);
    let mut rng = Rng::new(seed);
    let cluster = TestCluster::builder()
        .servers(SERVERS)
        .tick_time(TICK_TIME.as_millis() as u32)
        // Sessions must outlive a fault and its repair (see MAX_SESSION_TIMEOUT_MS).
        .configure(|_, config| config.max_session_timeout = Some(MAX_SESSION_TIMEOUT_MS as u32))
        .start()
        .await
        .expect("start the cluster");
    eprintln!("{test}: cluster at {}", cluster.connect_string());
    let nemesis = NemesisLog::default();
    let cx = Context {
        seed,
        cluster: &cluster,
        nemesis: &nemesis,
    };
    let started = Instant::now();

    let work = Arc::new(Workload::new(ROOT, KEYS));
    let admin = connect_all(&cluster, 0).await.expect("admin session");
    let persistent = CreateOptions::persistent();
    admin
        .create(ROOT, b"", &persistent)
        .await
        .expect("create root");
    admin
        .create(&work.round_dir(0), b"", &persistent)
        .await
        .expect("create round 0");

    let ids = cluster.ids();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let client = match ids.get(c) {
            Some(&id) => connect_pinned(cluster.client_addr(id).expect("client address")).await,
            None => connect_all(&cluster, c - SERVERS).await,
        };
        let client = client.unwrap_or_else(|e| cx.fail(&format!("client {c}: {e}")));
        clients.push(tokio::spawn(client_loop(
            client,
            c,
            rng.fork(),
            work.clone(),
        )));
    }

    let offset = rng.index(FAULT_KINDS);
    for round in 0..rounds {
        if !work
            .wait_ops(
                rng.range(OPS_BEFORE_FAULT.0, OPS_BEFORE_FAULT.1),
                PROGRESS_DEADLINE,
            )
            .await
        {
            cx.fail(&format!(
                "round {round}: operations stalled before the fault"
            ));
        }
        let fault = draw_fault(&cluster, round, offset, &mut rng).await;
        nemesis.step(&work, format_args!("round {round}: {fault}"));
        if let Err(e) = inject(&cluster, fault).await {
            cx.fail(&format!("round {round}: {fault}: {e}"));
        }
        match settle(&cluster, fault).await {
            Ok(leader) => nemesis.step(
                &work,
                format_args!("round {round}: {fault} took effect (leader {leader:?})"),
            ),
            Err(e) => cx.fail(&format!("round {round}: {fault} did not take effect: {e}")),
        }
        if !work
            .wait_ops(
                rng.range(OPS_DURING_FAULT.0, OPS_DURING_FAULT.1),
                PROGRESS_DEADLINE,
            )
            .await
        {
            cx.fail(&format!("round {round}: operations stalled during {fault}"));
        }
        nemesis.step(&work, format_args!("round {round}: undo {fault}"));
        if let Err(e) = repair(&cluster, fault).await {
            cx.fail(&format!("round {round}: undoing {fault}: {e}"));
        }
        match cluster.wait_for_quorum(REJOIN_DEADLINE).await {
            Ok(leader) => nemesis.step(
                &work,
                format_args!("round {round}: healed, leader {leader}"),
            ),
            Err(e) => cx.fail(&format!(
                "round {round}: no full quorum after undoing {fault}: {e}"
            )),
        }
        if let Err(e) = create_dir(&admin, &work.round_dir(round + 1)).await {
            cx.fail(&format!("creating round {}'s directory: {e}", round + 1));
        }
        work.start_round(round + 1);
    }
    work.stop();
    for client in clients {
        match tokio::time::timeout(STOP_DEADLINE, client).await {
            Ok(joined) => joined.expect("client task"),
            Err(_) => cx.fail("a client did not finish its last operation"),
        }
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
        "{test}: {rounds} rounds, {} ops in {run_time:?}; {} in the history ({indeterminate} indeterminate), checked in {:?}: {stats:?}",
        work.completed(),
        history.len(),
        checked.elapsed()
    );
    if !result.is_ok() {
        cx.fail(&format!(
            "the history is not linearizable ({} operations):\n{}",
            history.len(),
            result.explain(&history)
        ));
    }
    if !violations.is_empty() {
        let lines: Vec<String> = violations
            .iter()
            .take(20)
            .map(ToString::to_string)
            .collect();
        cx.fail(&format!(
            "{} session-order violations, first ones:\n{}",
            violations.len(),
            lines.join("\n")
        ));
    }
    if let Err(e) = blocking(|| corrupted_read_is_caught(&history, &options)) {
        cx.fail(&e);
    }
    eprintln!("{test}: passed");
}
