//! kazoo (python-zk, pinned in `.ci/run`) against zk-server: tests/python/kazoo_suite.py runs
//! basic operations (CRUD, sequentials, ephemerals, transactions, watches incl. DataWatch and
//! ChildrenWatch, ACLs, session resumption) and kazoo's own recipes (Lock, ReadLock/WriteLock,
//! Semaphore, Election, Counter, Barrier, DoubleBarrier, Queue, LockingQueue, TreeCache).
//!
//! The same script against Apache ZooKeeper is the control: when a check fails on zk-server, the
//! test reruns that check against Apache and says in its message whether Apache passes it (then
//! zk-server is at fault) or fails it too (then the suite or kazoo is).
//!
//! tests/python/kazoo_restart.py owns a server process: kazoo's session and watches must survive
//! `kill -9` and a restart on the same data dir (kazoo re-registers watches with SetWatches), and
//! zk-server must exit 0 on SIGTERM. Apache again is the control.
//!
//! Skips without the kazoo venv (`.ci/run` builds `.ci/venv`; `ZK_KAZOO_PYTHON` overrides) unless
//! `ZK_REQUIRE_APACHE` is set.

mod support_thirdparty;

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use support_thirdparty::{
    kazoo_python_or_skip, run_with_deadline, start_zk_server, workspace_root, zk_server_binary,
};
use zk_testkit::{ApacheOptions, TestDir};

/// The whole suite takes a few seconds; the margin covers a loaded 2-core CI machine.
const SUITE_DEADLINE: Duration = Duration::from_secs(120);

struct SuiteRun {
    ok: bool,
    failed: Vec<String>,
    output: String,
}

async fn run_suite(python: &Path, connect: &str, checks: &[String]) -> SuiteRun {
    let script = workspace_root().join("tests/python/kazoo_suite.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg("-u").arg(&script).arg(connect).args(checks);
    let out = run_with_deadline(cmd, None, SUITE_DEADLINE).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let failed = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL "))
        .filter_map(|l| l.split(':').next())
        .map(str::to_owned)
        .collect();
    SuiteRun {
        ok: out.status.success(),
        failed,
        output: format!(
            "exit status: {}\n--- stdout\n{stdout}--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_suite_passes_against_zk_server() {
    let test = "kazoo_suite_passes_against_zk_server";
    let Some(python) = kazoo_python_or_skip(test) else {
        return;
    };
    let server = start_zk_server().await;
    let run = run_suite(&python, &server.connect_string(), &[]).await;
    server.shutdown().await;
    if run.ok {
        eprintln!("{}", run.output);
        return;
    }
    // Attribute the failure: the failing checks against Apache ZooKeeper.
    let control = match zk_testkit::java_or_skip(test) {
        None => "Apache control not run (no Java / ZooKeeper jars)".to_owned(),
        Some(_) if run.failed.is_empty() => {
            "Apache control not run (no FAIL line: the suite itself broke)".to_owned()
        }
        Some(_) => {
            let apache = ApacheOptions::new()
                .start()
                .expect("Apache ZooKeeper starts");
            let control = run_suite(&python, &apache.connect_string(), &run.failed).await;
            if control.ok {
                format!(
                    "Apache PASSES these checks: zk-server is at fault\n{}",
                    control.output
                )
            } else {
                format!(
                    "Apache FAILS these checks too (suite or kazoo problem)\n{}",
                    control.output
                )
            }
        }
    };
    panic!(
        "kazoo suite failed against zk-server: {:?}\n{}\n=== Apache control: {control}",
        run.failed, run.output
    );
}

/// The control: the suite is correct against the reference server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_suite_passes_against_apache() {
    let test = "kazoo_suite_passes_against_apache";
    let Some(python) = kazoo_python_or_skip(test) else {
        return;
    };
    let Some(apache) = zk_testkit::apache_with_or_skip(test, ApacheOptions::new()) else {
        return;
    };
    let run = run_suite(&python, &apache.connect_string(), &[]).await;
    assert!(
        run.ok,
        "kazoo suite failed against Apache ZooKeeper (the suite is wrong): {:?}\n{}",
        run.failed, run.output
    );
}

/// Runs kazoo_restart.py with `server` as the command it starts, kills and restarts.
async fn run_restart(
    python: &Path,
    port: u16,
    dir: &Path,
    clean_exit: bool,
    server: Vec<OsString>,
) -> (bool, String) {
    let script = workspace_root().join("tests/python/kazoo_restart.py");
    let log = dir.join("server.log");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg("-u")
        .arg(&script)
        .arg(format!("127.0.0.1:{port}"))
        .arg(&log);
    if clean_exit {
        cmd.arg("--clean-exit");
    }
    cmd.arg("--").args(server);
    let out = run_with_deadline(cmd, None, SUITE_DEADLINE).await;
    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = server_log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    (
        out.status.success(),
        format!(
            "exit status: {}\n--- stdout\n{}--- stderr\n{}--- server log (tail)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail.join("\n")
        ),
    )
}

fn zoo_cfg(dir: &Path, port: u16) -> std::path::PathBuf {
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=1000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            dir.join("data").display()
        ),
    )
    .expect("writing zoo.cfg");
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_session_survives_zk_server_kill_and_restart() {
    let test = "kazoo_session_survives_zk_server_kill_and_restart";
    let Some(python) = kazoo_python_or_skip(test) else {
        return;
    };
    let dir = TestDir::new("kazoo-restart-zk").unwrap();
    let port = zk_testkit::free_port().unwrap();
    let cfg = zoo_cfg(dir.path(), port);
    let server = vec![
        zk_server_binary().into_os_string(),
        "--config".into(),
        cfg.into_os_string(),
    ];
    let (ok, output) = run_restart(&python, port, dir.path(), true, server).await;
    assert!(ok, "kazoo across a zk-server kill -9 + restart:\n{output}");
}

/// The control for the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_session_survives_apache_kill_and_restart() {
    let test = "kazoo_session_survives_apache_kill_and_restart";
    let Some(python) = kazoo_python_or_skip(test) else {
        return;
    };
    let Some(java) = zk_testkit::java_or_skip(test) else {
        return;
    };
    let dir = TestDir::new("kazoo-restart-apache").unwrap();
    let port = zk_testkit::free_port().unwrap();
    let cfg = zoo_cfg(dir.path(), port);
    let cmd = java.command::<&str>(&[], zk_testkit::QUORUM_PEER_MAIN);
    let mut server = vec![cmd.get_program().to_owned()];
    server.extend(cmd.get_args().map(ToOwned::to_owned));
    server.push(cfg.into_os_string());
    // The JVM exits 143 on SIGTERM: no clean-exit check for Apache.
    let (ok, output) = run_restart(&python, port, dir.path(), false, server).await;
    assert!(ok, "kazoo across an Apache kill -9 + restart:\n{output}");
}
