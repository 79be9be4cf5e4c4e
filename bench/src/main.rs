//! `zk-bench`: a load generator for any server speaking the ZooKeeper client protocol.
//!
//! It talks raw zk-proto frames (no client library in the way), so Apache ZooKeeper and zk-server
//! are measured by the same neutral code. Each result is printed as one JSON object per line on
//! stdout, for `scripts/bench-compare` to tabulate and plot.
//!
//! ```text
//! zk-bench load    --connect 127.0.0.1:2181 --op set --sessions 16 --inflight 32 --duration 5
//!                  [--value-size 100] [--warmup 1] [--read-ratio 0.9] [--server-pid PID] [--label L]
//! zk-bench rtt     --connect 127.0.0.1:2181 [--count 2000]
//! zk-bench fsync   --dir /path/on/the/data/disk [--count 500]
//! zk-bench startup --connect 127.0.0.1:2181 -- <server command and args>
//! zk-bench fanout  --connect 127.0.0.1:2181 --watchers 100 [--rounds 20]
//! zk-bench rss     --pid PID
//! zk-bench populate --connect 127.0.0.1:2181 --count 200000 [--value-size 100]
//! zk-bench client-load --client zk|zookeeper-client --connect 127.0.0.1:2181 --op set|get --inflight K
//! zk-bench ensemble --dir DIR [--servers 3] [--tick-time 2000] [--label L] -- <server command with {cfg}>
//! zk-bench failover --dir DIR [--rounds 5] [--writers 6] [--label L] -- <server command with {cfg}>
//! ```
//!
//! `load --connect h1:p1,h2:p2,h3:p3` spreads sessions round-robin over an ensemble; `ensemble` starts
//! one (printing its connect string and pids) and holds it until SIGTERM; `failover` starts its own,
//! kills the leader repeatedly and times how long writes stop. Harness progress goes to stderr
//! (`RUST_LOG=zk_bench=debug` for more).

mod args;
mod client_load;
mod conn;
mod ensemble;
mod ensemble_up;
mod error;
mod failover;
mod fourlw;
mod load;
mod populate;
mod probe;
mod proc_stat;
mod report;
mod writer;

use std::io::IsTerminal;
use std::process::ExitCode;

use args::Args;
use error::BenchError;
use tracing_subscriber::EnvFilter;

/// Log filter unless `RUST_LOG` says otherwise: the harness's own progress (servers started and
/// killed, failover rounds), on stderr so that stdout stays JSON.
const DEFAULT_LOG_FILTER: &str = "zk_bench=info";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(argv).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(argv: Vec<String>) -> Result<(), BenchError> {
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(BenchError::Usage(
            "missing command: load | client-load | populate | rtt | fsync | startup | fanout | rss \
             | ensemble | failover"
                .into(),
        ));
    };
    let args = Args::parse(rest)?;
    let line = match cmd.as_str() {
        "load" => load::run(load::LoadSpec::from_args(&args)?).await?,
        "rtt" => probe::rtt(&args).await?,
        "fsync" => probe::fsync(&args)?,
        "startup" => probe::startup(&args).await?,
        "fanout" => probe::fanout(&args).await?,
        "rss" => probe::rss(&args)?,
        "client-load" => client_load::run(&args).await?,
        "populate" => populate::run(&args).await?,
        "ensemble" => ensemble_up::run(&args).await?,
        "failover" => failover::run(&args).await?,
        other => return Err(BenchError::Usage(format!("unknown command {other:?}"))),
    };
    // `ensemble` and `failover` print their lines themselves, as they happen.
    if !line.is_empty() {
        println!("{line}");
    }
    Ok(())
}
