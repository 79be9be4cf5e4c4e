//! `zk-server`: a standalone ZooKeeper server.
//!
//! ```text
//! zk-server                      # 127.0.0.1:2181, data in ./zk-data
//! zk-server --config zoo.cfg     # ZooKeeper's own config format
//! zk-server -Dkey=value ...      # override any zoo.cfg key (also -Dzookeeper.DigestAuthenticationProvider.superDigest=...)
//! zk-server --from-env           # the official Docker image's ZOO_* variables (zk_server::env_config)
//! zk-server ... --healthcheck    # ask that configuration's server `ruok`; exit 0 on `imok`
//! ```
//! Logs go to stderr through `tracing` (`RUST_LOG=debug` for more). SIGINT/SIGTERM shut down
//! gracefully: writes in flight finish, then the process exits. The handlers are installed before
//! anything else, because as PID 1 of a container (no init) a signal without a handler is ignored
//! and `docker stop` would wait for its SIGKILL.

use std::path::PathBuf;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use zk_server::{Server, ServerConfig};

fn usage() -> &'static str {
    "usage: zk-server [--config zoo.cfg | --from-env] [-Dkey=value ...] [--healthcheck]"
}

#[tokio::main]
async fn main() -> ExitCode {
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zk-server: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut config_path: Option<PathBuf> = None;
    let mut overrides = Vec::new();
    let mut from_env = false;
    let mut healthcheck = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => config_path = Some(p.into()),
                None => {
                    eprintln!("{}", usage());
                    return ExitCode::from(2);
                }
            },
            "--from-env" => from_env = true,
            "--healthcheck" => healthcheck = true,
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
    if from_env && config_path.is_some() {
        eprintln!("--from-env and --config exclude each other\n{}", usage());
        return ExitCode::from(2);
    }
    let mut env_config = None;
    let mut cfg = match &config_path {
        Some(p) => match ServerConfig::from_file(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("zk-server: {e}");
                return ExitCode::from(2);
            }
        },
        None if from_env => match zk_server::env_config::from_process_env() {
            Ok(c) => {
                let cfg = c.config.clone();
                env_config = Some(c);
                cfg
            }
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
    if healthcheck {
        return probe(&cfg).await;
    }
    if let Some(env_config) = &env_config {
        tracing::info!(source = ?env_config.source, my_id = %env_config.my_id, "configured from the environment");
        if let Err(e) = env_config.write_myid() {
            eprintln!("zk-server: {e}");
            return ExitCode::FAILURE;
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
        signals.recv().await;
        tracing::info!("signal received; shutting down");
        let _ = trigger.send(());
    });
    let mut server = server;
    server.wait().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// `--healthcheck`: exit 0 if the configured server answers `ruok` with `imok`.
async fn probe(cfg: &ServerConfig) -> ExitCode {
    let addr = match cfg.client_addr() {
        Ok(a) => zk_server::probe::probe_addr(a),
        Err(e) => {
            eprintln!("zk-server: {e}");
            return ExitCode::from(2);
        }
    };
    match zk_server::probe::ruok(addr, zk_server::probe::PROBE_TIMEOUT).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-server: unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT and SIGTERM, registered when created (not on first poll), so a signal that arrives while
/// the server is still recovering its data dir is not lost.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
