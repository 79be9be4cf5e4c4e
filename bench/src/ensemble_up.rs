//! `zk-bench ensemble`: starts an ensemble, prints where it serves, and keeps it up until SIGTERM or
//! SIGINT.
//!
//! `scripts/bench-compare` runs one of these per implementation in the background and points ordinary
//! `zk-bench load` runs at the printed connect string and pids, so ensemble load points alternate
//! between implementations exactly as the standalone ones do, and the same harness
//! ([`crate::ensemble`]) that the failover rounds use starts and stops the servers.

use std::io::Write;
use std::time::Instant;

use tokio::signal::unix::{signal, SignalKind};

use crate::args::Args;
use crate::ensemble::{Ensemble, EnsembleSpec};
use crate::error::BenchError;
use crate::report::Json;

/// Starts the ensemble, prints one `"kind":"ensemble"` line (label, connect string, pids, leader index,
/// start time) and waits for a signal; then kills the servers. Returns no further output.
pub async fn run(args: &Args) -> Result<String, BenchError> {
    let spec = EnsembleSpec::from_args(args)?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let at = Instant::now();
    let mut ensemble = Ensemble::start(spec).await?;
    let leader = ensemble.wait_serving().await?;
    let pids: Vec<String> = ensemble.pids().iter().map(u32::to_string).collect();
    let mut j = Json::new("ensemble");
    j.str("label", args.get("label").unwrap_or("server"))
        .str("connect", &ensemble.connect_string())
        .str("pids", &pids.join(","))
        .num("servers", ensemble.len() as f64)
        .num("leader", leader as f64)
        .num("tick_time_ms", ensemble.spec().tick_time_ms() as f64)
        .num("start_ms", at.elapsed().as_secs_f64() * 1e3);
    let mut out = std::io::stdout();
    writeln!(out, "{}", j.finish())?;
    out.flush()?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    ensemble.shutdown().await;
    Ok(String::new())
}
