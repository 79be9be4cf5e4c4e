//! Floors and one-off measurements: loopback round trip, fdatasync latency, time from launch to
//! serving, watch fan-out, resident memory.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use zk_proto::records::node::{CreateRequest, ExistsRequest, GetDataRequest, SetDataRequest};
use zk_proto::{Acl, ErrorCode, Record, ReplyHeader, RequestBody, NOTIFICATION_XID, PING_XID};

use crate::args::Args;
use crate::conn::Conn;
use crate::error::BenchError;
use crate::load::BENCH_ROOT;
use crate::proc_stat;
use crate::report::Json;

/// Default number of samples for the round-trip and fsync probes.
const DEFAULT_PROBE_COUNT: u64 = 2000;
/// Bytes written per fsync probe sample (about one small txn record).
const FSYNC_RECORD_LEN: usize = 128;
/// Preallocated size of the fsync probe file, so that fdatasync flushes data only (as a txn log
/// preallocated by Apache's FilePadding).
const FSYNC_PREALLOC: usize = 16 * 1024 * 1024;
/// How long `startup` waits for the server to serve.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// Poll interval of `startup`.
const STARTUP_POLL: Duration = Duration::from_millis(2);

fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| BenchError::Protocol(e.to_string()))
}

fn summarize(j: &mut Json, h: &Histogram<u64>) {
    j.num("samples", h.len() as f64)
        .num("p50_us", h.value_at_quantile(0.5) as f64)
        .num("p99_us", h.value_at_quantile(0.99) as f64)
        .num("mean_us", h.mean());
}

/// Round trip of a ping through the server, one at a time.
pub async fn rtt(args: &Args) -> Result<String, BenchError> {
    let mut conn = Conn::connect(args.req("connect")?).await?;
    let count = args.num("count", DEFAULT_PROBE_COUNT)?;
    let mut h = histogram()?;
    let header = zk_proto::RequestHeader {
        xid: PING_XID,
        opcode: zk_proto::OpCode::Ping.code(),
    };
    for _ in 0..count {
        let at = Instant::now();
        zk_proto::write_frame(&mut conn.wbuf, |b| header.write(b));
        conn.flush().await?;
        loop {
            let mut frame = conn.read_frame().await?;
            if ReplyHeader::read(&mut frame)?.xid == PING_XID {
                break;
            }
        }
        record(&mut h, at.elapsed())?;
    }
    let mut j = Json::new("rtt");
    summarize(&mut j, &h);
    Ok(j.finish())
}

fn record(h: &mut Histogram<u64>, d: Duration) -> Result<(), BenchError> {
    h.record(d.as_micros().clamp(1, 60_000_000) as u64)
        .map_err(|e| BenchError::Protocol(e.to_string()))
}

/// fdatasync latency of small appends to a preallocated file in `--dir`.
pub fn fsync(args: &Args) -> Result<String, BenchError> {
    let dir = std::path::PathBuf::from(args.req("dir")?);
    let count = args.num("count", DEFAULT_PROBE_COUNT / 4)?;
    let path = dir.join(format!("zk-bench-fsync-{}", std::process::id()));
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&vec![0u8; FSYNC_PREALLOC])?;
    file.sync_all()?;
    let record_bytes = [b'r'; FSYNC_RECORD_LEN];
    let mut h = histogram()?;
    for i in 0..count {
        let offset = (i as usize * FSYNC_RECORD_LEN) % FSYNC_PREALLOC;
        let at = Instant::now();
        file.write_all_at(&record_bytes, offset as u64)?;
        file.sync_data()?;
        record(&mut h, at.elapsed())?;
    }
    drop(file);
    std::fs::remove_file(&path)?;
    let mut j = Json::new("fsync");
    summarize(&mut j, &h);
    Ok(j.finish())
}

/// Launches the command after `--` and measures the time until a session handshake succeeds.
pub async fn startup(args: &Args) -> Result<String, BenchError> {
    let addr = args.req("connect")?.to_string();
    let (prog, rest) = args
        .trailing
        .split_first()
        .ok_or_else(|| BenchError::Usage("startup needs `-- <command>`".into()))?;
    let at = Instant::now();
    let mut child = tokio::process::Command::new(prog)
        .args(rest)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id();
    let served = loop {
        if let Ok(Ok(mut conn)) =
            tokio::time::timeout(Duration::from_millis(500), Conn::connect(&addr)).await
        {
            // A read of "/" (not a ping: servers answer pings with PING_XID whatever the xid).
            let probe = RequestBody::Exists(ExistsRequest {
                path: "/".into(),
                watch: false,
            });
            if conn.call("exists", &probe).await.is_ok() {
                break at.elapsed();
            }
        }
        if at.elapsed() > STARTUP_DEADLINE {
            return Err(BenchError::Timeout(format!(
                "{prog} did not serve on {addr}"
            )));
        }
        tokio::time::sleep(STARTUP_POLL).await;
    };
    let rss = pid.and_then(proc_stat::rss_kib);
    child.kill().await?;
    let mut j = Json::new("startup");
    j.num("ms", served.as_secs_f64() * 1e3);
    if let Some(rss) = rss {
        j.num("rss_kib_at_serving", rss as f64);
    }
    Ok(j.finish())
}

/// `--watchers` sessions watch one node; another session changes it; measures the time until
/// every watcher has its notification.
pub async fn fanout(args: &Args) -> Result<String, BenchError> {
    let addr = args.req("connect")?;
    let watchers: usize = args.num("watchers", 100)?;
    let rounds: usize = args.num("rounds", 20)?;
    let path = format!("{BENCH_ROOT}-fanout-{}", std::process::id());
    let mut writer = Conn::connect(addr).await?;
    for p in [BENCH_ROOT.to_string(), path.clone()] {
        let (h, _) = writer
            .call(
                "create",
                &RequestBody::Create(CreateRequest {
                    path: p,
                    data: Some(Bytes::new()),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                }),
            )
            .await?;
        if h.err != 0 && h.err != ErrorCode::NodeExists.code() {
            return Err(BenchError::Server {
                op: "create",
                code: h.err,
            });
        }
    }
    let mut conns = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        conns.push(Conn::connect(addr).await?);
    }
    let get = RequestBody::GetData(GetDataRequest {
        path: path.clone(),
        watch: true,
    });
    let set = RequestBody::SetData(SetDataRequest {
        path: path.clone(),
        data: Some(Bytes::from_static(b"v")),
        version: -1,
    });
    let mut h = histogram()?;
    for _ in 0..rounds {
        for c in conns.iter_mut() {
            c.call("getData", &get).await?;
        }
        let at = Instant::now();
        let waits = conns.drain(..).map(|mut c| {
            tokio::spawn(async move {
                loop {
                    let mut frame = c.read_frame().await?;
                    if ReplyHeader::read(&mut frame)?.xid == NOTIFICATION_XID {
                        return Ok::<Conn, BenchError>(c);
                    }
                }
            })
        });
        let waits: Vec<_> = waits.collect();
        writer.call("setData", &set).await?;
        for w in waits {
            conns.push(w.await.map_err(|e| BenchError::Protocol(e.to_string()))??);
        }
        record(&mut h, at.elapsed())?;
    }
    let mut j = Json::new("fanout");
    j.num("watchers", watchers as f64);
    summarize(&mut j, &h);
    Ok(j.finish())
}

/// Resident memory of a process.
pub fn rss(args: &Args) -> Result<String, BenchError> {
    let pid: u32 = args
        .req("pid")?
        .parse()
        .map_err(|_| BenchError::Usage("--pid must be a number".into()))?;
    let rss =
        proc_stat::rss_kib(pid).ok_or_else(|| BenchError::Usage(format!("no process {pid}")))?;
    let mut j = Json::new("rss");
    j.num("pid", pid as f64).num("rss_kib", rss as f64);
    Ok(j.finish())
}
