//! Helpers for the tests that drive zk-server with real third-party programs and real processes:
//! kazoo (Python), Apache's `zkCli.sh`, the `zk-server` binary (crash recovery) and Apache's own
//! server and tools (data-dir takeover).
//!
//! - [`skip_or_panic`]: the skip policy of zk-testkit (`ZK_REQUIRE_APACHE` turns a skip into a failure).
//! - [`start_zk_server`]: an in-process zk-server on a free loopback port.
//! - [`run_with_deadline`]: a child process with a deadline; it is killed if the deadline passes.
//! - [`kazoo_python_or_skip`], [`zkcli_or_skip`]: locating the programs.
//! - [`zk_server_binary`]: the `zk-server` executable of this build (built on demand).
//! - [`process`]: the `zk-server` binary as a process (`kill -9`, restart on the same data dir).
//! - [`raw`]: a raw zk-proto session (handshake with id + password, pipelined requests).
//! - [`tree`]: reading a whole tree (data, stat, ACL, children) to compare two servers.
#![allow(dead_code)]

pub mod process;
pub mod raw;
pub mod tree;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_server::{Server, ServerHandle};

/// Environment variable naming the Python interpreter that has kazoo installed; `.ci/run` exports
/// it. Default: [`DEFAULT_KAZOO_PYTHON`] under the workspace root.
pub const KAZOO_PYTHON_ENV: &str = "ZK_KAZOO_PYTHON";

/// Where `.ci/run` creates the kazoo venv, relative to the workspace root.
pub const DEFAULT_KAZOO_PYTHON: &str = ".ci/venv/bin/python";

/// The kazoo version `.ci/run` installs; the suite checks it so a stale venv is noticed.
pub const KAZOO_VERSION: &str = "2.10.0";

/// Debian's zkCli.sh (package `zookeeper`).
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// The workspace root (the root package `zk` lives there).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Prints `skipping <test>: <reason>` and returns, or panics when `ZK_REQUIRE_APACHE` is set.
pub fn skip_or_panic(test: &str, reason: &str) {
    if zk_testkit::apache_required() {
        panic!(
            "{test}: {} is set but {reason}",
            zk_testkit::REQUIRE_APACHE_ENV
        );
    }
    eprintln!("skipping {test}: {reason}");
}

/// An in-process zk-server on `127.0.0.1:0` (in-memory storage, every four-letter word enabled).
pub async fn start_zk_server() -> ServerHandle {
    Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .expect("zk-server starts")
}

/// Runs `cmd` (stdin from `input`, stdout and stderr captured) and waits at most `deadline`; a
/// child still running then is killed and the call panics naming the command.
pub async fn run_with_deadline(
    mut cmd: tokio::process::Command,
    input: Option<&str>,
    deadline: Duration,
) -> Output {
    let described = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {described}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("writing stdin of {described}: {e}"));
        // Dropping stdin closes it: the program sees EOF after the script.
    }
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for {described}: {e}"),
        Err(_) => panic!("{described} did not finish within {deadline:?} (killed)"),
    }
}

/// The Python interpreter with kazoo [`KAZOO_VERSION`], or `None` after applying the skip policy.
pub fn kazoo_python_or_skip(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os(KAZOO_PYTHON_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(DEFAULT_KAZOO_PYTHON));
    let probe = std::process::Command::new(&python)
        .args([
            "-c",
            "import kazoo.version; print(kazoo.version.__version__)",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if version == KAZOO_VERSION {
                Some(python)
            } else {
                skip_or_panic(
                    test,
                    &format!(
                        "{} has kazoo {version}, expected {KAZOO_VERSION} (rerun .ci/run)",
                        python.display()
                    ),
                );
                None
            }
        }
        Ok(out) => {
            skip_or_panic(
                test,
                &format!(
                    "{} cannot import kazoo ({}); .ci/run creates the venv, or set {KAZOO_PYTHON_ENV}",
                    python.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            None
        }
        Err(e) => {
            skip_or_panic(
                test,
                &format!(
                    "no kazoo Python at {} ({e}); .ci/run creates it, or set {KAZOO_PYTHON_ENV}",
                    python.display()
                ),
            );
            None
        }
    }
}

/// Debian's `zkCli.sh` (and Java to run it), or `None` after applying the skip policy.
pub fn zkcli_or_skip(test: &str) -> Option<PathBuf> {
    zk_testkit::java_or_skip(test)?;
    let path = PathBuf::from(ZKCLI);
    if path.is_file() {
        Some(path)
    } else {
        skip_or_panic(
            test,
            &format!("{ZKCLI} is missing (Debian package zookeeper)"),
        );
        None
    }
}

/// Runs `zkCli.sh -server <connect>` with `script` on stdin (one command per line; zkCli runs them
/// in order and exits at EOF) and returns stdout and stderr interleaved as zkCli wrote them.
/// zkCli's exit status is that of the last command, so callers check the output instead.
pub async fn run_zkcli(zkcli: &Path, connect: &str, script: &str) -> String {
    // zkCli prints results on stdout and errors on stderr; one pipe keeps their order.
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" -server \"$1\" 2>&1")
        .arg(zkcli)
        .arg(connect);
    let out = run_with_deadline(cmd, Some(script), Duration::from_secs(60)).await;
    // The exit status is that of the last command, so it says nothing about the run as a whole;
    // callers check that the script's last line was executed instead.
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `zk-server` executable of the current build profile: `target/<profile>/zk-server` next to
/// this test binary's `deps/` directory. Built with `cargo build -p zk-server --bin zk-server`
/// when missing (a plain `cargo test -p zk` does not build other packages' binaries).
pub fn zk_server_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("current_exe");
            // target/<profile>/deps/<test>-<hash>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test binary lives in target/<profile>/deps")
                .to_path_buf();
            let bin = profile_dir.join("zk-server");
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            // Always ask cargo: it is a no-op when the binary is fresh, and rebuilds a stale one.
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = std::process::Command::new(cargo);
            build.current_dir(workspace_root()).args([
                "build",
                "-q",
                "-p",
                "zk-server",
                "--bin",
                "zk-server",
            ]);
            if release {
                build.arg("--release");
            }
            // Same target dir as this test binary (CARGO_TARGET_DIR may point anywhere).
            if let Some(target_dir) = profile_dir.parent() {
                build.env("CARGO_TARGET_DIR", target_dir);
            }
            let out = build
                .output()
                .unwrap_or_else(|e| panic!("running cargo build -p zk-server: {e}"));
            assert!(
                out.status.success(),
                "cargo build -p zk-server failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(bin.is_file(), "{} missing after the build", bin.display());
            bin
        })
        .clone()
}

/// `base64(sha1("user:password"))`, the digest ZooKeeper stores for `digest` ACLs.
pub fn digest(user: &str, password: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// A four-letter word's answer, or `None` if the server is not (yet) answering.
pub async fn fourlw(addr: &str, cmd: &str) -> Option<String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(cmd.as_bytes()).await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}
