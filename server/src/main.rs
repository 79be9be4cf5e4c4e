//! `zk-server`: a standalone ZooKeeper server.
//!
//! ```text
//! zk-server                      # 127.0.0.1:2181, data in ./zk-data
//! zk-server --config zoo.cfg     # ZooKeeper's own config format
//! zk-server -Dkey=value ...      # override any zoo.cfg key (also -Dzookeeper.DigestAuthenticationProvider.superDigest=...)
//! ```
//! Logs go to stderr through `tracing` (`RUST_LOG=debug` for more). SIGINT/SIGTERM shut down
//! gracefully: writes in flight finish, then the process exits.

use std::path::PathBuf;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use zk_server::{Server, ServerConfig};

fn usage() -> &'static str {
    "usage: zk-server [--config zoo.cfg] [-Dkey=value ...]"
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut config_path: Option<PathBuf> = None;
    let mut overrides = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => config_path = Some(p.into()),
                None => {
                    eprintln!("{}", usage());
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            s if s.starts_with("-D") => match s[2..].split_once('=') {
                Some((k, v)) => overrides.push((k.to_string(), v.to_string())),
                None => {
                    eprintln!("bad override {s}: expected -Dkey=value");
                    return ExitCode::from(2);
                }
            },
            other if config_path.is_none() && other.ends_with(".cfg") => {
                config_path = Some(other.into())
            }
            other => {
                eprintln!("unknown argument {other}\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    let mut cfg = match &config_path {
        Some(p) => match ServerConfig::from_file(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("zk-server: {e}");
                return ExitCode::from(2);
            }
        },
        None => ServerConfig::default(),
    };
    for (k, v) in overrides {
        if let Err(e) = cfg.set(&k, &v) {
            eprintln!("zk-server: {e}");
            return ExitCode::from(2);
        }
    }
    let server = match Server::builder().config(cfg).start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zk-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let trigger = server.shutdown_trigger();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received; shutting down");
        let _ = trigger.send(());
    });
    let mut server = server;
    server.wait().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
