//! `zk-bench failover`: how long writes stop when an ensemble loses its leader.
//!
//! Each round: start `--writers` fresh sessions spread round-robin over the servers (writer `i` on
//! server `i % n`), let them write for `--settle` seconds, SIGKILL the server whose `srvr` says
//! `Mode: leader`, and time, for every writer, the span from the signal to the first successful
//! setData sent after the process was gone. Sessions resume on another server as a real client's
//! would ([`crate::writer`]). Then the killed server is restarted and the round ends once it is back
//! in the quorum. One `failover-round` line per round, then a `failover` summary line
//! (of the rounds that finished, also when a later one failed).
//!
//! ```text
//! zk-bench failover --dir DIR [--rounds 5] [--writers 6] [--settle 2] [--session-timeout 10000]
//!                   [--servers 3] [--tick-time 2000] [--init-limit 10] [--sync-limit 5] [--label L]
//!                   -- <server command with {cfg}>
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zk_proto::records::node::CreateRequest;
use zk_proto::{Acl, ErrorCode, RequestBody};

use crate::args::Args;
use crate::conn::Conn;
use crate::ensemble::{Ensemble, EnsembleSpec};
use crate::error::BenchError;
use crate::fourlw::Mode;
use crate::load::{BENCH_ROOT, DEFAULT_VALUE_SIZE};
use crate::report::Json;
use crate::writer::{Writer, WriterStats};

/// Rounds (leader kills) unless `--rounds` says otherwise.
pub const DEFAULT_ROUNDS: usize = 5;
/// Writers unless `--writers` says otherwise: two per server of a 3-server ensemble.
pub const DEFAULT_WRITERS: usize = 6;
/// Seconds of steady writing before the kill.
pub const DEFAULT_SETTLE_SECS: f64 = 2.0;
/// Session timeout the writers ask for, in ms: long enough that no session expires during an
/// election (so the figure is about the servers, not about re-creating sessions), and inside the
/// 4–40 s range a tickTime of 2000 ms allows.
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 10_000;
/// How long a round waits for every writer to write again before it gives up on the stragglers.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(60);
/// Once every writer writes again, how much longer `srvr` gets to name the new leader (a leader
/// serves when it says so; the two are observed by separate polls a few ms apart).
const ELECTED_GRACE: Duration = Duration::from_secs(2);
/// How often the coordinator checks the writers and polls the survivors' `srvr`.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// What one round measured.
struct Round {
    killed: usize,
    new_leader: Option<usize>,
    /// Per writer: signal to first successful write, `None` if it never wrote again in time.
    recovery: Vec<Option<Duration>>,
    elected: Option<Duration>,
    rejoin: Duration,
    steady_ops_per_sec: f64,
    totals: WriterStats,
}

/// Runs the rounds, printing one JSON line per round and then the summary.
pub async fn run(args: &Args) -> Result<String, BenchError> {
    let spec = EnsembleSpec::from_args(args)?;
    let label = args.get("label").unwrap_or("server").to_string();
    let rounds: usize = args.num("rounds", DEFAULT_ROUNDS)?;
    let writers: usize = args.num("writers", DEFAULT_WRITERS)?.max(1);
    let settle = Duration::from_secs_f64(args.num("settle", DEFAULT_SETTLE_SECS)?);
    let session_timeout: i32 = args.num("session-timeout", DEFAULT_SESSION_TIMEOUT_MS)?;
    let value = Bytes::from(vec![b'x'; args.num("value-size", DEFAULT_VALUE_SIZE)?]);

    let mut ensemble = Ensemble::start(spec).await?;
    let nodes = create_nodes(&ensemble.hosts()[0], writers).await?;
    // Lines go out as rounds finish, so a run that fails late still leaves its finished rounds
    // (and a summary of them) behind.
    let mut done = Vec::new();
    let mut failure = None;
    for r in 0..rounds {
        match round(&mut ensemble, &nodes, &value, settle, session_timeout).await {
            Ok(round) => {
                println!("{}", round_line(&label, r, &round));
                done.push(round);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    ensemble.shutdown().await;
    if !done.is_empty() {
        println!(
            "{}",
            summary_line(&label, &ensemble, writers, session_timeout, &done)
        );
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(String::new()),
    }
}

/// Creates one node per writer (under a per-process parent) and returns their paths.
async fn create_nodes(addr: &str, writers: usize) -> Result<Vec<String>, BenchError> {
    let mut conn = Conn::connect(addr).await?;
    let parent = format!("{BENCH_ROOT}-failover-{}", std::process::id());
    let mut paths = vec![BENCH_ROOT.to_string(), parent.clone()];
    let nodes: Vec<String> = (0..writers).map(|i| format!("{parent}/w{i}")).collect();
    paths.extend(nodes.iter().cloned());
    for path in paths {
        let create = RequestBody::Create(CreateRequest {
            path,
            data: Some(Bytes::new()),
            acl: Acl::open_unsafe(),
            flags: 0,
        });
        let (h, _) = conn.call("create", &create).await?;
        if h.err != 0 && h.err != ErrorCode::NodeExists.code() {
            return Err(BenchError::Server {
                op: "create",
                code: h.err,
            });
        }
    }
    Ok(nodes)
}

async fn round(
    ensemble: &mut Ensemble,
    nodes: &[String],
    value: &Bytes,
    settle: Duration,
    session_timeout: i32,
) -> Result<Round, BenchError> {
    let leader = ensemble.wait_serving().await?;
    let hosts = ensemble.hosts();
    let (failure_tx, failure_rx) = watch::channel(None);
    let mut stats = Vec::with_capacity(nodes.len());
    let mut tasks: Vec<JoinHandle<Result<(), BenchError>>> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let s = Arc::new(Mutex::new(WriterStats::default()));
        let w = Writer::new(
            hosts.clone(),
            i,
            node.clone(),
            value.clone(),
            session_timeout,
        );
        tasks.push(tokio::spawn(w.run(s.clone(), failure_rx.clone())));
        stats.push(s);
    }
    // Steady state: every writer must be writing before the leader goes. The second half of the
    // settling time gives the write rate the kill interrupts.
    tokio::time::sleep(settle / 2).await;
    let before: u64 = snapshot(&stats).iter().map(|s| s.ok).sum();
    let steady_from = Instant::now();
    tokio::time::sleep(settle / 2).await;
    let snap = snapshot(&stats);
    let steady_ops_per_sec = (snap.iter().map(|s| s.ok).sum::<u64>() - before) as f64
        / steady_from.elapsed().as_secs_f64();
    if let Some(idle) = snap.iter().position(|s| s.ok == 0) {
        abort(&tasks);
        return Err(BenchError::Timeout(format!(
            "writer {idle} did not write within {settle:?}"
        )));
    }

    let (signalled, gone) = ensemble.kill(leader).await?;
    failure_tx.send_replace(Some(gone));
    let mut elected = None;
    let mut new_leader = None;
    let mut all_back_at: Option<Instant> = None;
    let deadline = signalled + RECOVERY_DEADLINE;
    loop {
        if elected.is_none() {
            for i in (0..ensemble.len()).filter(|&i| i != leader) {
                if ensemble.mode(i).await == Some(Mode::Leader) {
                    elected = Some(signalled.elapsed());
                    new_leader = Some(i);
                }
            }
        }
        let all_back = snapshot(&stats)
            .iter()
            .all(|s| s.first_ok_after_failure.is_some());
        if all_back {
            let since = *all_back_at.get_or_insert_with(Instant::now);
            if elected.is_some() || since.elapsed() > ELECTED_GRACE {
                break;
            }
        }
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    abort(&tasks);
    let snap = snapshot(&stats);
    for (i, t) in tasks.into_iter().enumerate() {
        if let Ok(Err(e)) = t.await {
            tracing::warn!(writer = i, error = %e, "writer failed");
        }
    }
    let recovery = snap
        .iter()
        .map(|s| s.first_ok_after_failure.map(|t| t - signalled))
        .collect();
    let mut totals = WriterStats::default();
    for s in &snap {
        totals.ok += s.ok;
        totals.reconnects += s.reconnects;
        totals.new_sessions += s.new_sessions;
        totals.stalls += s.stalls;
        totals.errors += s.errors;
    }

    let restart_at = Instant::now();
    ensemble.restart(leader)?;
    ensemble.wait_serving().await?;
    let rejoin = restart_at.elapsed();
    tracing::info!(killed = leader + 1, ?elected, ?rejoin, "round done");
    Ok(Round {
        killed: leader,
        new_leader,
        recovery,
        elected,
        rejoin,
        steady_ops_per_sec,
        totals,
    })
}

fn snapshot(stats: &[Arc<Mutex<WriterStats>>]) -> Vec<WriterStats> {
    stats
        .iter()
        .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .collect()
}

fn abort(tasks: &[JoinHandle<Result<(), BenchError>>]) {
    for t in tasks {
        t.abort();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `q` quantile (nearest rank) of `values`, which must be sorted.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn sorted_ms(ds: impl Iterator<Item = Duration>) -> Vec<f64> {
    let mut v: Vec<f64> = ds.map(ms).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn round_line(label: &str, r: usize, round: &Round) -> String {
    let rec = sorted_ms(round.recovery.iter().flatten().copied());
    let mut j = Json::new("failover-round");
    j.str("label", label)
        .num("round", r as f64)
        .num("killed_myid", (round.killed + 1) as f64)
        .num(
            "new_leader_myid",
            round.new_leader.map_or(f64::NAN, |i| (i + 1) as f64),
        )
        .num("writers", round.recovery.len() as f64)
        .num("recovered", rec.len() as f64)
        .num("recovery_min_ms", quantile(&rec, 0.0).unwrap_or(f64::NAN))
        .num("recovery_p50_ms", quantile(&rec, 0.5).unwrap_or(f64::NAN))
        .num("recovery_max_ms", quantile(&rec, 1.0).unwrap_or(f64::NAN))
        .num("elected_ms", round.elected.map_or(f64::NAN, ms))
        .num("rejoin_ms", ms(round.rejoin))
        .num("steady_ops_per_sec", round.steady_ops_per_sec)
        .num("reconnects", round.totals.reconnects as f64)
        .num("new_sessions", round.totals.new_sessions as f64)
        .num("stalls", round.totals.stalls as f64)
        .num("errors", round.totals.errors as f64);
    j.finish()
}

fn summary_line(
    label: &str,
    ensemble: &Ensemble,
    writers: usize,
    session_timeout: i32,
    rounds: &[Round],
) -> String {
    let complete: Vec<&Round> = rounds
        .iter()
        .filter(|r| r.recovery.iter().all(Option::is_some))
        .collect();
    let round_max = sorted_ms(
        complete
            .iter()
            .filter_map(|r| r.recovery.iter().flatten().max().copied()),
    );
    let all = sorted_ms(
        complete
            .iter()
            .flat_map(|r| r.recovery.iter().flatten().copied()),
    );
    let elected = sorted_ms(rounds.iter().filter_map(|r| r.elected));
    let rejoin = sorted_ms(rounds.iter().map(|r| r.rejoin));
    let steady: Vec<f64> = rounds.iter().map(|r| r.steady_ops_per_sec).collect();
    let nan = f64::NAN;
    let mut j = Json::new("failover");
    j.str("label", label)
        .num("servers", ensemble.len() as f64)
        .num("tick_time_ms", ensemble.spec().tick_time_ms() as f64)
        .num("session_timeout_ms", session_timeout as f64)
        .num("rounds", rounds.len() as f64)
        .num("failed_rounds", (rounds.len() - complete.len()) as f64)
        .num("writers", writers as f64)
        .num(
            "recovery_max_ms_p50",
            quantile(&round_max, 0.5).unwrap_or(nan),
        )
        .num(
            "recovery_max_ms_worst",
            quantile(&round_max, 1.0).unwrap_or(nan),
        )
        .num("recovery_p50_ms", quantile(&all, 0.5).unwrap_or(nan))
        .num("elected_ms_p50", quantile(&elected, 0.5).unwrap_or(nan))
        .num("rejoin_ms_p50", quantile(&rejoin, 0.5).unwrap_or(nan))
        .num(
            "steady_ops_per_sec",
            steady.iter().sum::<f64>() / steady.len().max(1) as f64,
        )
        .num(
            "new_sessions",
            rounds.iter().map(|r| r.totals.new_sessions).sum::<u64>() as f64,
        )
        .num(
            "stalls",
            rounds.iter().map(|r| r.totals.stalls).sum::<u64>() as f64,
        );
    j.finish()
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank_quantiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.5), Some(2.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
