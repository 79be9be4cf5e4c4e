//! Client-library comparison: the same workload through zk-client and through the
//! `zookeeper-client` crate, against the same server, measuring throughput, latency and the
//! bench process's own CPU per operation (the server runs in another process, so this is the
//! client library's cost plus an identical driving loop).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;

use crate::args::Args;
use crate::error::BenchError;
use crate::load::{BENCH_ROOT, DEFAULT_DURATION_SECS, DEFAULT_VALUE_SIZE, DEFAULT_WARMUP_SECS};
use crate::proc_stat;
use crate::report::Json;

type OpFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One client library behind a uniform, boxed-future interface (both pay the same boxing).
trait Lib: Clone + Send + Sync + 'static {
    fn set(&self, path: &str, data: &[u8]) -> OpFuture;
    fn get(&self, path: &str) -> OpFuture;
}

#[derive(Clone)]
struct Ours(zk_client::Client);

impl Lib for Ours {
    fn set(&self, path: &str, data: &[u8]) -> OpFuture {
        let f = self.0.set_data(path, data, None);
        Box::pin(async move { f.await.map(drop).map_err(|e| e.to_string()) })
    }
    fn get(&self, path: &str) -> OpFuture {
        let f = self.0.get_data(path);
        Box::pin(async move { f.await.map(drop).map_err(|e| e.to_string()) })
    }
}

#[derive(Clone)]
struct Theirs(zookeeper_client::Client);

impl Lib for Theirs {
    fn set(&self, path: &str, data: &[u8]) -> OpFuture {
        let (c, path, data) = (self.0.clone(), path.to_string(), data.to_vec());
        Box::pin(async move {
            c.set_data(&path, &data, None)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
    fn get(&self, path: &str) -> OpFuture {
        let (c, path) = (self.0.clone(), path.to_string());
        Box::pin(async move { c.get_data(&path).await.map(drop).map_err(|e| e.to_string()) })
    }
}

/// `zk-bench client-load --client zk|zookeeper-client --connect HOST:PORT --op set|get --inflight K`
pub async fn run(args: &Args) -> Result<String, BenchError> {
    let connect = args.req("connect")?;
    let lib = args.get("client").unwrap_or("zk").to_string();
    let path = format!("{BENCH_ROOT}-client-{}-{lib}", std::process::id());
    let value = vec![b'x'; args.num("value-size", DEFAULT_VALUE_SIZE)?];
    // Both libraries bench against a node the raw protocol created, so setup is identical.
    prepare(connect, &path, &value).await?;
    match lib.as_str() {
        "zk" => {
            let c = zk_client::Client::connect(connect)
                .await
                .map_err(|e| BenchError::Protocol(e.to_string()))?;
            drive(Ours(c), args, &lib, &path, &value).await
        }
        "zookeeper-client" => {
            let c = zookeeper_client::Client::connect(connect)
                .await
                .map_err(|e| BenchError::Protocol(e.to_string()))?;
            drive(Theirs(c), args, &lib, &path, &value).await
        }
        other => Err(BenchError::Usage(format!("unknown --client {other:?}"))),
    }
}

async fn prepare(connect: &str, path: &str, value: &[u8]) -> Result<(), BenchError> {
    use zk_proto::records::node::CreateRequest;
    use zk_proto::{Acl, ErrorCode, RequestBody};
    let mut conn = crate::conn::Conn::connect(connect).await?;
    for (p, data) in [(BENCH_ROOT, &[][..]), (path, value)] {
        let body = RequestBody::Create(CreateRequest {
            path: p.to_string(),
            data: Some(bytes::Bytes::copy_from_slice(data)),
            acl: Acl::open_unsafe(),
            flags: 0,
        });
        let (h, _) = conn.call("create", &body).await?;
        if h.err != 0 && h.err != ErrorCode::NodeExists.code() {
            return Err(BenchError::Server {
                op: "create",
                code: h.err,
            });
        }
    }
    Ok(())
}

async fn drive<L: Lib>(
    lib: L,
    args: &Args,
    name: &str,
    path: &str,
    value: &[u8],
) -> Result<String, BenchError> {
    let inflight: usize = args.num("inflight", 1usize)?.max(1);
    let duration = Duration::from_secs_f64(args.num("duration", DEFAULT_DURATION_SECS)?);
    let warmup = Duration::from_secs_f64(args.num("warmup", DEFAULT_WARMUP_SECS)?);
    let op = args.get("op").unwrap_or("set").to_string();
    let make = |l: &L| match op.as_str() {
        "get" => l.get(path),
        _ => l.set(path, value),
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| BenchError::Protocol(e.to_string()))?;
    let t0 = Instant::now();
    let (from, to) = (t0 + warmup, t0 + warmup + duration);
    let mut running = FuturesUnordered::new();
    let timed = |f: OpFuture| async move {
        let at = Instant::now();
        (f.await, at)
    };
    for _ in 0..inflight {
        running.push(timed(make(&lib)));
    }
    let (mut ops, mut errors) = (0u64, 0u64);
    let mut cpu_from = None;
    while let Some((result, at)) = running.next().await {
        let now = Instant::now();
        if now >= from && cpu_from.is_none() {
            cpu_from = proc_stat::cpu_time(std::process::id());
        }
        if now >= from && now < to {
            ops += 1;
            errors += u64::from(result.is_err());
            let us = now.duration_since(at).as_micros().clamp(1, 60_000_000) as u64;
            hist.record(us)
                .map_err(|e| BenchError::Protocol(e.to_string()))?;
        }
        if now < to {
            running.push(timed(make(&lib)));
        }
    }
    let cpu_to = proc_stat::cpu_time(std::process::id());
    let secs = duration.as_secs_f64();
    let mut j = Json::new("client-load");
    j.str("client", name)
        .str("op", &op)
        .num("inflight", inflight as f64)
        .num("ops", ops as f64)
        .num("errors", errors as f64)
        .num("ops_per_sec", ops as f64 / secs)
        .num("p50_us", hist.value_at_quantile(0.5) as f64)
        .num("p99_us", hist.value_at_quantile(0.99) as f64);
    if let (Some(a), Some(b)) = (cpu_from, cpu_to) {
        j.num(
            "client_cpu_us_per_op",
            b.saturating_sub(a).as_secs_f64() * 1e6 / ops.max(1) as f64,
        );
    }
    Ok(j.finish())
}
