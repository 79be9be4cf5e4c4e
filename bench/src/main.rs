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
//! ```

mod args;
mod client_load;
mod conn;
mod error;
mod load;
mod populate;
mod probe;
mod proc_stat;
mod report;

use std::process::ExitCode;

use args::Args;
use error::BenchError;

#[tokio::main]
async fn main() -> ExitCode {
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
            "missing command: load | client-load | populate | rtt | fsync | startup | fanout | rss"
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
        other => return Err(BenchError::Usage(format!("unknown command {other:?}"))),
    };
    println!("{line}");
    Ok(())
}
