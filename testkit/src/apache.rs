//! [`ApacheServer`]: one standalone Apache ZooKeeper on a free loopback port.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::fourlw::{self, ServerMode};
use crate::process::ServerProcess;
use crate::{free_port, ApacheOptions, Error, Java, TestDir};

/// How many times a start is tried with fresh ports when a port turns out to be taken.
pub(crate) const START_ATTEMPTS: usize = 3;

/// A standalone Apache ZooKeeper server (Debian's `zookeeper` package, run as `java … QuorumPeerMain
/// zoo.cfg`) on `127.0.0.1:<free port>`, with its configuration, logs and (by default) data in a fresh
/// temporary directory.
///
/// Dropping it SIGKILLs the JVM and removes the temporary directory (a data dir given with
/// [`ApacheOptions::with_data_dir`] is kept).
///
/// ```no_run
/// let server = zk_testkit::ApacheServer::start().unwrap();
/// assert_eq!(server.four_letter("ruok"), "imok");
/// println!("connect to {}", server.connect_string());
/// ```
#[derive(Debug)]
pub struct ApacheServer {
    // Declared before `dir` so the JVM is killed before its directory is removed.
    process: ServerProcess,
    data_dir: PathBuf,
    options: ApacheOptions,
    dir: TestDir,
}

impl ApacheServer {
    /// Starts a server with [`ApacheOptions::default`] and waits until it serves.
    pub fn start() -> Result<Self, Error> {
        Self::start_with(ApacheOptions::default())
    }

    /// Starts a server with `options` and waits (at most [`ApacheOptions::with_start_timeout`]) until it
    /// answers `ruok` with `imok` and `srvr` reports `Mode: standalone`.
    pub fn start_with(options: ApacheOptions) -> Result<Self, Error> {
        let java = Java::locate()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&java, &options) {
                Err(StartFailure {
                    error,
                    port_conflict,
                }) => {
                    if port_conflict && attempt < START_ATTEMPTS {
                        tracing::warn!(attempt, "port taken, retrying with a fresh port");
                        attempt += 1;
                        continue;
                    }
                    return Err(error);
                }
                Ok(server) => return Ok(server),
            }
        }
    }

    fn start_once(java: &Java, options: &ApacheOptions) -> Result<Self, StartFailure> {
        let dir = TestDir::new("standalone")?;
        let data_dir = match &options.data_dir {
            Some(dir) => dir.clone(),
            None => dir.path().join("data"),
        };
        fs::create_dir_all(&data_dir)
            .map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
        let port = free_port()?;
        let cfg = options.zoo_cfg(&data_dir, port, &[])?;
        let process = ServerProcess::new(
            "apache standalone".to_owned(),
            dir.path(),
            java.clone(),
            &options.jvm_args,
            &cfg,
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        )?;
        let mut server = ApacheServer {
            process,
            data_dir,
            options: options.clone(),
            dir,
        };
        server.process.spawn()?;
        if let Err(error) = server.wait_serving() {
            return Err(StartFailure {
                port_conflict: server.process.hit_port_conflict(),
                error,
            });
        }
        tracing::info!(addr = %server.addr(), "apache standalone serving");
        Ok(server)
    }

    fn wait_serving(&mut self) -> Result<ServerMode, Error> {
        self.process
            .wait_serving(self.options.start_timeout, |mode| {
                mode == ServerMode::Standalone
            })
    }

    /// The client address, `127.0.0.1:<port>`. It stays the same across [`ApacheServer::restart`].
    pub fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// The connect string for a client, `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// The server's `dataDir` (snapshots and transaction logs live under `version-2/`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log file (log4j, INFO level).
    pub fn log_path(&self) -> PathBuf {
        self.process.log_path()
    }

    /// The last lines of the server's log and of the JVM's console output.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// True while the JVM runs (false after [`ApacheServer::kill`]).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// SIGKILLs the server, as a crash would, and waits for the JVM to exit. The data dir is kept, so
    /// [`ApacheServer::restart`] recovers whatever the server had written.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Kills the server if it is running, starts it again on the same port with the same data dir, and
    /// waits until it serves.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.process.kill();
        self.process.spawn()?;
        self.wait_serving()?;
        Ok(())
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `stat`, `mntr`, `cons`, `dump`, …) and returns the reply.
    ///
    /// # Panics
    /// If the server cannot be reached; use [`ApacheServer::try_four_letter`] to handle that.
    pub fn four_letter(&self, cmd: &str) -> String {
        self.try_four_letter(cmd)
            .unwrap_or_else(|e| panic!("four-letter word `{cmd}` failed: {e}"))
    }

    /// Sends a four-letter word and returns the reply, or the I/O error.
    pub fn try_four_letter(&self, cmd: &str) -> Result<String, Error> {
        fourlw::four_letter(self.addr(), cmd)
    }

    /// The server's temporary directory (`zoo.cfg`, logs, and the default data dir).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A failed start attempt, and whether a retry with fresh ports could fix it.
pub(crate) struct StartFailure {
    pub(crate) error: Error,
    pub(crate) port_conflict: bool,
}

impl From<Error> for StartFailure {
    fn from(error: Error) -> Self {
        StartFailure {
            error,
            port_conflict: false,
        }
    }
}
