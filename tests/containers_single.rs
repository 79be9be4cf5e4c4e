//! One zk-server container (the `FROM scratch` image of docker/, started through testcontainers with
//! host networking): zk-client and kazoo run their basic operations against it; `docker stop` is a
//! graceful SIGTERM shutdown of PID 1; `docker kill` and a restart keep the data; a paused container
//! accepts connections and answers nothing; a mounted zoo.cfg configures it; the image is one static
//! binary.
//!
//! Skips (prints `skipping …`) without a Docker daemon or without the image (scripts/build-image),
//! unless `ZK_REQUIRE_DOCKER=1` (CI). The kazoo test also needs the kazoo venv (`ZK_REQUIRE_APACHE`
//! policy, as tests/thirdparty_kazoo.rs).

mod support_containers;
mod support_thirdparty;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support_containers::image::ZkServerImage;
use support_containers::{
    docker, docker_or_skip, four_letter, image_ref, poll_until, serial, server_mode,
};
use support_thirdparty::{kazoo_python_or_skip, run_with_deadline, workspace_root};
use testcontainers::core::Mount;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use zk_client::{Client, CreateMode, CreateOptions, EventType, SessionState};
use zk_testkit::{ServerMode, TestDir};

/// Longest wait for any one condition in these tests.
const DEADLINE: Duration = Duration::from_secs(30);

/// The session timeout the clients ask for: within the image's default bounds (tickTime 2000 ms:
/// 4 s to 40 s) and longer than a container restart takes.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// `docker stop` must return well before Docker's 10 s SIGKILL fallback: zk-server handles SIGTERM
/// as PID 1 itself.
const GRACEFUL_STOP_BOUND: Duration = Duration::from_secs(5);

/// The image holds one statically linked binary; the bound is loose (the binary is about 5 MB).
const IMAGE_SIZE_BOUND: i64 = 16 * 1024 * 1024;

/// A standalone container on a free loopback port.
async fn standalone(test: &str) -> (ContainerAsync<ZkServerImage>, SocketAddr) {
    let port = zk_testkit::free_port().expect("a free port");
    let started = Instant::now();
    let container = ZkServerImage::standalone(port)
        .request()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{test}: starting the container: {e}"));
    eprintln!(
        "{test}: container healthy {:?} after docker create+start",
        started.elapsed()
    );
    (container, SocketAddr::from(([127, 0, 0, 1], port)))
}

async fn connect(connect_string: &str) -> Client {
    tokio::time::timeout(
        DEADLINE,
        Client::builder()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connect_timeout(DEADLINE)
            .connect(connect_string),
    )
    .await
    .unwrap_or_else(|_| panic!("connect to {connect_string}: timed out"))
    .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

async fn logs(container: &ContainerAsync<ZkServerImage>) -> String {
    match container.stderr_to_vec().await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("(no logs: {e})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_client_basic_operations_against_a_container() {
    let test = "zk_client_basic_operations_against_a_container";
    if !docker_or_skip(test).await {
        return;
    }
    let _serial = serial().await;
    let (container, addr) = standalone(test).await;
    assert_eq!(server_mode(addr).await, Some(ServerMode::Standalone));
    let client = connect(&addr.to_string()).await;

    // CRUD with versions.
    let (path, _) = client
        .create("/c", b"v1", &CreateOptions::persistent())
        .await
        .unwrap();
    assert_eq!(path, "/c");
    let (data, stat) = client.get_data("/c").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));
    assert_eq!(
        client.set_data("/c", b"x", Some(7)).await.unwrap_err(),
        zk_client::Error::BadVersion
    );
    // Watches: data and child.
    let (_, stat, data_watch) = client.get_data_w("/c").await.unwrap();
    let (_, _, child_watch) = client.get_children_w("/c").await.unwrap();
    client
        .set_data("/c", b"v2", Some(stat.version))
        .await
        .unwrap();
    client
        .create(
            "/c/seq-",
            b"",
            &CreateOptions::new(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(DEADLINE, data_watch).await.unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/c")
    );
    let event = tokio::time::timeout(DEADLINE, child_watch).await.unwrap();
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
    // A transaction, then cleanup.
    let children = client.get_children("/c").await.unwrap();
    assert_eq!(children.len(), 1);
    assert!(children[0].starts_with("seq-"), "{children:?}");
    client
        .multi()
        .delete(&format!("/c/{}", children[0]), None)
        .create("/c/m", b"m", &CreateOptions::persistent())
        .check("/c", 1)
        .commit()
        .await
        .unwrap();
    assert_eq!(client.get_data("/c/m").await.unwrap().0, b"m");
    client.delete("/c/m", None).await.unwrap();
    client.delete("/c", None).await.unwrap();
    assert!(client.exists("/c").await.unwrap().is_none());
    client.close().await;
    // The configuration came from the environment: envi shows the image's data dirs.
    let envi = four_letter(addr, "conf").await.unwrap();
    assert!(
        envi.contains("/data"),
        "conf: {envi}\n{}",
        logs(&container).await
    );
}

/// kazoo's basic-operation checks of tests/python/kazoo_suite.py against the container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_basic_operations_against_a_container() {
    const CHECKS: [&str; 6] = [
        "crud",
        "sequence_and_ephemeral",
        "transactions",
        "watches",
        "acls_and_auth",
        "server_info",
    ];
    let test = "kazoo_basic_operations_against_a_container";
    if !docker_or_skip(test).await {
        return;
    }
    let Some(python) = kazoo_python_or_skip(test) else {
        return;
    };
    let _serial = serial().await;
    let (container, addr) = standalone(test).await;
    let mut cmd = tokio::process::Command::new(&python);
    cmd.arg("-u")
        .arg(workspace_root().join("tests/python/kazoo_suite.py"))
        .arg(addr.to_string())
        .args(CHECKS);
    let out = run_with_deadline(cmd, None, Duration::from_secs(120)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kazoo against the container: {}\n--- stdout\n{stdout}--- stderr\n{}--- server\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        logs(&container).await
    );
    assert_eq!(stdout.matches("PASS ").count(), CHECKS.len(), "{stdout}");
}

/// `docker stop` sends SIGTERM to PID 1: zk-server shuts down at once and exits 0. Started again
/// on its volume it has the data, and a client's session survives the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_stop_is_graceful_and_a_restart_keeps_data_and_sessions() {
    let test = "docker_stop_is_graceful_and_a_restart_keeps_data_and_sessions";
    if !docker_or_skip(test).await {
        return;
    }
    let _serial = serial().await;
    let (container, addr) = standalone(test).await;
    let client = connect(&addr.to_string()).await;
    let session = client.session_id();
    client
        .create("/kept", b"before", &CreateOptions::persistent())
        .await
        .unwrap();
    client
        .create("/mine", b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let mut states = client.state_stream();

    let started = Instant::now();
    container.stop_with_timeout(Some(10)).await.unwrap();
    let took = started.elapsed();
    assert!(
        took < GRACEFUL_STOP_BOUND,
        "docker stop took {took:?}: SIGTERM not handled by PID 1?\n{}",
        logs(&container).await
    );
    assert_eq!(
        container.exit_code().await.unwrap(),
        Some(0),
        "graceful exit"
    );
    eprintln!("{test}: docker stop returned after {took:?}");

    container.start().await.unwrap();
    let ok = poll_until(DEADLINE, || async {
        matches!(four_letter(addr, "ruok").await.as_deref(), Ok("imok")).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "no imok after restart\n{}",
        logs(&container).await
    );
    // The same session, reconnected: its ephemeral node is still there.
    let state = tokio::time::timeout(DEADLINE, async {
        use futures::StreamExt;
        while let Some(s) = states.next().await {
            if s == SessionState::Connected || s == SessionState::Expired {
                return s;
            }
        }
        SessionState::Closed
    })
    .await
    .expect("reconnected");
    assert_eq!(state, SessionState::Connected);
    assert_eq!(client.session_id(), session);
    assert_eq!(client.get_data("/kept").await.unwrap().0, b"before");
    assert!(client.exists("/mine").await.unwrap().is_some());
    client.close().await;
}

/// `docker kill` (SIGKILL) is a crash: the container exits 137, and started again it recovers the
/// acknowledged writes from its volume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_kill_then_start_recovers_the_data() {
    let test = "docker_kill_then_start_recovers_the_data";
    if !docker_or_skip(test).await {
        return;
    }
    let _serial = serial().await;
    let (container, addr) = standalone(test).await;
    let client = connect(&addr.to_string()).await;
    const NODES: usize = 50;
    for i in 0..NODES {
        client
            .create(
                &format!("/k{i}"),
                i.to_string().as_bytes(),
                &CreateOptions::persistent(),
            )
            .await
            .unwrap();
    }
    client.close().await;
    let options = testcontainers::bollard::query_parameters::KillContainerOptionsBuilder::new()
        .signal("SIGKILL")
        .build();
    docker()
        .await
        .kill_container(container.id(), Some(options))
        .await
        .unwrap();
    let exited = poll_until(DEADLINE, || async {
        container.exit_code().await.ok().flatten()
    })
    .await;
    assert_eq!(exited, Some(137), "SIGKILL exit status");
    container.start().await.unwrap();
    let client = connect(&addr.to_string()).await;
    for i in 0..NODES {
        let (data, _) = client
            .get_data(&format!("/k{i}"))
            .await
            .unwrap_or_else(|e| {
                panic!("/k{i} lost after kill -9: {e}");
            });
        assert_eq!(data, i.to_string().as_bytes());
    }
    client.close().await;
}

/// A paused container (cgroup freezer, like a long GC pause) still accepts TCP connections — the
/// kernel completes the handshake — and answers nothing, so only a read deadline notices. After
/// `unpause` it answers again and a session that lived through the pause is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_container_accepts_connections_and_answers_nothing() {
    let test = "a_paused_container_accepts_connections_and_answers_nothing";
    if !docker_or_skip(test).await {
        return;
    }
    let _serial = serial().await;
    let (container, addr) = standalone(test).await;
    let client = connect(&addr.to_string()).await;
    let session = client.session_id();
    container.pause().await.unwrap();
    let connected = tokio::time::timeout(
        support_containers::FOUR_LETTER_TIMEOUT,
        tokio::net::TcpStream::connect(addr),
    )
    .await;
    assert!(
        matches!(connected, Ok(Ok(_))),
        "a paused server's socket still accepts: {connected:?}"
    );
    let started = Instant::now();
    let answer = four_letter(addr, "ruok").await;
    assert!(answer.is_err(), "a paused server answered: {answer:?}");
    assert!(
        started.elapsed() >= support_containers::FOUR_LETTER_TIMEOUT / 2,
        "the read deadline, not a refusal, ended the exchange: {answer:?}"
    );
    container.unpause().await.unwrap();
    assert_eq!(four_letter(addr, "ruok").await.unwrap(), "imok");
    assert!(client.exists("/").await.unwrap().is_some());
    assert_eq!(client.session_id(), session);
    client.close().await;
}

/// A zoo.cfg mounted at /conf replaces the environment, as in the official image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_zoo_cfg_configures_the_container() {
    let test = "a_mounted_zoo_cfg_configures_the_container";
    if !docker_or_skip(test).await {
        return;
    }
    let _serial = serial().await;
    let conf = TestDir::new("containers-conf").unwrap();
    let port = zk_testkit::free_port().unwrap();
    std::fs::write(
        conf.path().join("zoo.cfg"),
        format!(
            "tickTime=500\ndataDir=/data\ndataLogDir=/datalog\nclientPortAddress=127.0.0.1\n\
             clientPort={port}\n4lw.commands.whitelist=ruok,srvr,conf\n"
        ),
    )
    .unwrap();
    // The server runs as uid 1000 and only reads /conf: readable for everyone, whatever the umask.
    {
        use std::os::unix::fs::PermissionsExt;
        let world_readable = |path: &std::path::Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        world_readable(conf.path(), 0o755);
        world_readable(&conf.path().join("zoo.cfg"), 0o644);
    }
    let conf_path = conf.path().to_str().expect("utf-8 temp path").to_owned();
    let container = ZkServerImage::default()
        .with_env("ZOO_TICK_TIME", "9999")
        .request()
        .with_mount(Mount::bind_mount(conf_path, "/conf"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let conf_reply = four_letter(addr, "conf").await.unwrap();
    assert!(
        conf_reply.contains("tickTime=500"),
        "the mounted file wins over ZOO_TICK_TIME: {conf_reply}\n{}",
        logs(&container).await
    );
    let envi = four_letter(addr, "envi").await.unwrap();
    assert!(envi.contains("not in the whitelist"), "{envi}");
}

/// The image is FROM scratch: small, one static binary as the entry point, a non-root user, a
/// health check, the two data volumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_is_one_static_binary_from_scratch() {
    let test = "the_image_is_one_static_binary_from_scratch";
    if !docker_or_skip(test).await {
        return;
    }
    let image = docker().await.inspect_image(&image_ref()).await.unwrap();
    let size = image.size.unwrap_or(i64::MAX);
    assert!(size < IMAGE_SIZE_BOUND, "image is {size} bytes");
    eprintln!("{test}: {} is {} KiB", image_ref(), size / 1024);
    let config = image.config.expect("image config");
    assert_eq!(
        config.entrypoint.as_deref(),
        Some(&["/zk-server".to_owned(), "--from-env".to_owned()][..])
    );
    assert_eq!(config.user.as_deref(), Some("1000:1000"));
    let health = config.healthcheck.expect("a HEALTHCHECK");
    assert!(
        health
            .test
            .unwrap_or_default()
            .iter()
            .any(|a| a == "--healthcheck"),
        "the binary probes itself"
    );
    let volumes = config.volumes.expect("volumes");
    assert!(
        volumes.iter().any(|v| v == "/data") && volumes.iter().any(|v| v == "/datalog"),
        "{volumes:?}"
    );
    let layers = image.root_fs.and_then(|r| r.layers).unwrap_or_default();
    assert_eq!(layers.len(), 3, "binary, /data, /datalog: {layers:?}");
}
