//! The load generator: N sessions, each keeping K requests in flight for a fixed window.
//!
//! All sessions connect and prepare their nodes first, then start together. Latency is measured
//! from queueing a request to decoding its reply; only requests that complete inside the
//! measured window (after the warm-up) count. When `--server-pid` is given, the server process's
//! CPU time (user + system, from /proc) over the same window is reported per operation.
//!
//! `--connect` may list several servers (`h1:p1,h2:p2,h3:p3`, an ensemble): session `i` connects to
//! server `i % n`, so the spread is the same on every run and for every implementation, and
//! `--server-pid` then takes every server's pid (`p1,p2,p3`) and reports the ensemble's summed CPU
//! and memory.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use zk_proto::records::node::{CreateRequest, GetDataRequest, SetDataRequest};
use zk_proto::{Acl, CreateMode, ErrorCode, Record, ReplyHeader, RequestBody, NOTIFICATION_XID};

use crate::args::Args;
use crate::conn::{self, Conn};
use crate::error::BenchError;
use crate::proc_stat;
use crate::report::Json;

/// Parent of every node the bench creates.
pub const BENCH_ROOT: &str = "/zk-bench";
/// Default value size in bytes (the reference figures use 100).
pub const DEFAULT_VALUE_SIZE: usize = 100;
/// Default measured window in seconds.
pub const DEFAULT_DURATION_SECS: f64 = 5.0;
/// Default warm-up in seconds.
pub const DEFAULT_WARMUP_SECS: f64 = 1.0;
/// Highest latency the histogram tracks (60 s, in µs).
const MAX_LATENCY_US: u64 = 60_000_000;

/// What each request does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// setData on the session's own node.
    Set,
    /// getData on the session's own node.
    Get,
    /// create a persistent-sequential node under the session's node.
    Create,
    /// getData with probability `read_ratio`, setData otherwise.
    Mixed,
}

/// A load point.
pub struct LoadSpec {
    hosts: Vec<String>,
    op: Op,
    sessions: usize,
    inflight: usize,
    duration: Duration,
    warmup: Duration,
    value_size: usize,
    read_ratio: f64,
    server_pids: Vec<u32>,
    label: String,
}

impl LoadSpec {
    /// Reads a load point from the command line.
    pub fn from_args(args: &Args) -> Result<LoadSpec, BenchError> {
        let op = match args.get("op").unwrap_or("set") {
            "set" => Op::Set,
            "get" => Op::Get,
            "create" => Op::Create,
            "mixed" => Op::Mixed,
            other => return Err(BenchError::Usage(format!("unknown --op {other:?}"))),
        };
        let hosts = conn::hosts(args.req("connect")?);
        if hosts.is_empty() {
            return Err(BenchError::Usage("--connect lists no server".into()));
        }
        let spec = LoadSpec {
            hosts,
            op,
            sessions: args.num("sessions", 1usize)?.max(1),
            inflight: args.num("inflight", 1usize)?.max(1),
            duration: Duration::from_secs_f64(args.num("duration", DEFAULT_DURATION_SECS)?),
            warmup: Duration::from_secs_f64(args.num("warmup", DEFAULT_WARMUP_SECS)?),
            value_size: args.num("value-size", DEFAULT_VALUE_SIZE)?,
            read_ratio: args.num("read-ratio", 0.9f64)?,
            server_pids: parse_pids(args.get("server-pid").unwrap_or(""))?,
            label: args.get("label").unwrap_or("server").to_string(),
        };
        Ok(spec)
    }
}

struct SessionResult {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
}

/// Runs one load point and returns its JSON result line.
pub async fn run(spec: LoadSpec) -> Result<String, BenchError> {
    let spec = Arc::new(spec);
    // Phase 1: connect every session and create its node; any failure stops the run here.
    let mut prepared = Vec::with_capacity(spec.sessions);
    for i in 0..spec.sessions {
        let spec = spec.clone();
        prepared.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&spec.hosts[i % spec.hosts.len()]).await?;
            let bodies = prepare(&mut conn, &spec, i).await?;
            Ok::<_, BenchError>((conn, bodies))
        }));
    }
    let mut sessions = Vec::with_capacity(spec.sessions);
    for p in prepared {
        sessions.push(
            p.await
                .map_err(|e| BenchError::Protocol(format!("session task: {e}")))??,
        );
    }
    // Phase 2: all sessions start together.
    let t0 = Instant::now();
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|(mut conn, bodies)| {
            let spec = spec.clone();
            tokio::spawn(async move { drive(&mut conn, &spec, &bodies, t0).await })
        })
        .collect();
    let measure_from = t0 + spec.warmup;
    let measure_to = measure_from + spec.duration;
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = total(&spec.server_pids, proc_stat::cpu_time);
    tokio::time::sleep_until(measure_to.into()).await;
    let cpu_after = total(&spec.server_pids, proc_stat::cpu_time);
    let rss = total(&spec.server_pids, proc_stat::rss_kib);

    let mut hist = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| BenchError::Protocol(e.to_string()))?;
    let (mut ops, mut errors) = (0u64, 0u64);
    for t in tasks {
        let r = t
            .await
            .map_err(|e| BenchError::Protocol(format!("session task: {e}")))??;
        hist.add(&r.hist)
            .map_err(|e| BenchError::Protocol(e.to_string()))?;
        ops += r.ops;
        errors += r.errors;
    }
    let secs = spec.duration.as_secs_f64();
    let mut j = Json::new("load");
    j.str("label", &spec.label)
        .str("op", &format!("{:?}", spec.op).to_lowercase())
        .num("sessions", spec.sessions as f64)
        .num("inflight", spec.inflight as f64)
        .num("hosts", spec.hosts.len() as f64)
        .num("value_size", spec.value_size as f64)
        .num("ops", ops as f64)
        .num("errors", errors as f64)
        .num("secs", secs)
        .num("ops_per_sec", ops as f64 / secs)
        .num("p50_us", hist.value_at_quantile(0.50) as f64)
        .num("p90_us", hist.value_at_quantile(0.90) as f64)
        .num("p99_us", hist.value_at_quantile(0.99) as f64)
        .num("p999_us", hist.value_at_quantile(0.999) as f64)
        .num("max_us", hist.max() as f64);
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        let cpu_us = b.saturating_sub(a).as_secs_f64() * 1e6;
        j.num("server_cpu_us_per_op", cpu_us / (ops.max(1) as f64))
            .num("server_cores", cpu_us / 1e6 / secs);
    }
    if let Some(rss) = rss {
        j.num("server_rss_kib", rss as f64);
    }
    Ok(j.finish())
}

/// Parses `p1,p2,…` (empty: no pids).
fn parse_pids(list: &str) -> Result<Vec<u32>, BenchError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|_| BenchError::Usage(format!("--server-pid: bad pid {p:?}")))
        })
        .collect()
}

/// The sum of `f` over every pid; `None` if there are none or any process is gone.
fn total<T: std::iter::Sum<T>>(pids: &[u32], f: impl Fn(u32) -> Option<T>) -> Option<T> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| f(p)).sum()
}

/// Creates the session's node and returns the request bodies it will cycle through.
async fn prepare(
    conn: &mut Conn,
    spec: &LoadSpec,
    i: usize,
) -> Result<Vec<RequestBody>, BenchError> {
    let value = Bytes::from(vec![b'x'; spec.value_size]);
    let node = format!("{BENCH_ROOT}/s{i}-{}", std::process::id());
    for (path, data) in [
        (BENCH_ROOT.to_string(), Bytes::new()),
        (node.clone(), value.clone()),
    ] {
        let (h, _) = conn
            .call("create", &create(&path, data, CreateMode::Persistent))
            .await?;
        if h.err != 0 && h.err != ErrorCode::NodeExists.code() {
            return Err(BenchError::Server {
                op: "create",
                code: h.err,
            });
        }
    }
    let set = RequestBody::SetData(SetDataRequest {
        path: node.clone(),
        data: Some(value.clone()),
        version: -1,
    });
    let get = RequestBody::GetData(GetDataRequest {
        path: node.clone(),
        watch: false,
    });
    Ok(match spec.op {
        Op::Set => vec![set],
        Op::Get => vec![get],
        Op::Create => vec![create(
            &format!("{node}/n-"),
            value,
            CreateMode::PersistentSequential,
        )],
        Op::Mixed => {
            // A fixed pattern of 100 requests with the requested share of reads.
            let reads = (spec.read_ratio.clamp(0.0, 1.0) * 100.0).round() as usize;
            (0..100)
                .map(|k| {
                    if (k * 37) % 100 < reads {
                        get.clone()
                    } else {
                        set.clone()
                    }
                })
                .collect()
        }
    })
}

fn create(path: &str, data: Bytes, mode: CreateMode) -> RequestBody {
    RequestBody::Create(CreateRequest {
        path: path.to_string(),
        data: Some(data),
        acl: Acl::open_unsafe(),
        flags: mode.flag(),
    })
}

/// Keeps `inflight` requests outstanding until the window ends, then drains.
async fn drive(
    conn: &mut Conn,
    spec: &LoadSpec,
    bodies: &[RequestBody],
    t0: Instant,
) -> Result<SessionResult, BenchError> {
    let measure_from = t0 + spec.warmup;
    let measure_to = measure_from + spec.duration;
    let mut hist = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| BenchError::Protocol(e.to_string()))?;
    let (mut ops, mut errors) = (0u64, 0u64);
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(spec.inflight);
    let mut next = 0usize;
    for _ in 0..spec.inflight {
        conn.queue(&bodies[next % bodies.len()]);
        next += 1;
        sent.push_back(Instant::now());
    }
    conn.flush().await?;
    while !sent.is_empty() {
        conn.fill().await?;
        let now = Instant::now();
        while let Some(mut frame) = conn.try_frame()? {
            let header = ReplyHeader::read(&mut frame)?;
            if header.xid == NOTIFICATION_XID {
                continue;
            }
            let Some(at) = sent.pop_front() else {
                return Err(BenchError::Protocol("reply without request".into()));
            };
            if now >= measure_from && now < measure_to {
                ops += 1;
                if header.err != 0 {
                    errors += 1;
                }
                let us = now
                    .duration_since(at)
                    .as_micros()
                    .clamp(1, MAX_LATENCY_US as u128);
                hist.record(us as u64)
                    .map_err(|e| BenchError::Protocol(e.to_string()))?;
            }
            if now < measure_to {
                conn.queue(&bodies[next % bodies.len()]);
                next += 1;
                sent.push_back(now);
            }
        }
        conn.flush().await?;
    }
    Ok(SessionResult { hist, ops, errors })
}
