//! Curator interop for the service registry: a Java process using Curator 5.4's
//! curator-x-discovery (Debian's `libcurator-discovery-java`, driven by `java/DiscoveryPeer.java`)
//! and a Rust process using zk-recipes share one registry: each discovers the other's instance
//! with its address, port and payload (weight, metadata), and the Java instance leaves the Rust
//! cache when Curator unregisters it. Skips without Java, javac or the jars unless
//! `ZK_REQUIRE_APACHE=1`. Runs against each server of `harness::servers`.

mod harness;

use std::path::Path;
use std::process::Stdio;

use harness::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use zk_recipes::registry::{ServiceInstance, ServiceRegistry, Strategy, JAVA_MAP_CLASS};

/// The jars DiscoveryPeer needs, all from Debian (`/usr/share/java`).
const JARS: &[&str] = &[
    "curator-x-discovery.jar",
    "curator-recipes.jar",
    "curator-framework.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "jackson-core.jar",
    "jackson-databind.jar",
    "jackson-annotations.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
];

/// Compiles DiscoveryPeer into `out`; returns the class path to run it, or `None` (after
/// printing why) when the tools or jars are missing and Apache is not required.
fn compile_peer(test: &str, out: &Path) -> Option<String> {
    let dir = Path::new(zk_testkit::DEBIAN_JAVA_DIR);
    let missing: Vec<&str> = JARS
        .iter()
        .copied()
        .filter(|j| !dir.join(j).exists())
        .collect();
    let javac = std::process::Command::new("javac").arg("-version").output();
    if !missing.is_empty() || javac.is_err() {
        let why =
            format!("missing javac or jars {missing:?} (Debian: libcurator-discovery-java, a JDK)");
        if zk_testkit::apache_required() {
            panic!("{test}: {why}");
        }
        eprintln!("skipping {test}: {why}");
        return None;
    }
    let classpath = JARS
        .iter()
        .map(|j| dir.join(j).display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/DiscoveryPeer.java");
    let status = std::process::Command::new("javac")
        .args(["-d", &out.display().to_string(), "-cp", &classpath])
        .arg(&source)
        .status()
        .expect("run javac");
    assert!(status.success(), "javac DiscoveryPeer failed");
    Some(format!("{classpath}:{}", out.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rust_and_curator_discover_each_other() {
    let test = "registry_curator_interop";
    let out = zk_testkit::TestDir::new("discovery-peer").unwrap();
    let Some(classpath) = compile_peer(test, out.path()) else {
        return;
    };
    for server in servers(test).await {
        let name = server.name();
        let base = unique("interop");
        let client = connect(&server.connect_string()).await;
        let registry = ServiceRegistry::new(&client, &base).unwrap();
        let rust = ServiceInstance::builder("mixed")
            .id("rust-1")
            .address("127.0.0.1")
            .port(7100)
            .weight(2)
            .metadata("lang", "rust")
            .build();
        let _registration = registry.register(rust).await.unwrap();
        let provider = registry
            .provider("mixed", Strategy::RoundRobin)
            .await
            .unwrap();

        let mut java = Command::new("java")
            .args(["-cp", &classpath, "DiscoveryPeer"])
            .args([&server.connect_string(), &base, "mixed", "java-1", "rust-1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start java");
        let mut lines = BufReader::new(java.stdout.take().unwrap()).lines();

        // Java sees the Rust instance, payload and all.
        let saw = within("java discovers rust-1", lines.next_line())
            .await
            .unwrap()
            .expect("a line from DiscoveryPeer");
        assert_eq!(
            saw,
            format!(
                "saw id=rust-1 address=127.0.0.1 port=7100 weight=2 lang=rust enabled=true \
                 payloadClass={JAVA_MAP_CLASS}"
            ),
            "{name}"
        );

        // Rust sees the Java instance.
        within(
            "rust discovers java-1",
            provider
                .cache()
                .wait_until(|l| l.iter().any(|i| i.id == "java-1")),
        )
        .await
        .unwrap();
        let java_instance = provider
            .instances()
            .iter()
            .find(|i| i.id == "java-1")
            .cloned()
            .unwrap();
        assert_eq!(java_instance.name, "mixed");
        assert_eq!(
            java_instance.socket_addr_string().as_deref(),
            Some("127.0.0.2:9100")
        );
        assert_eq!(java_instance.weight(), 5);
        assert_eq!(java_instance.metadata()["lang"], "java");
        assert!(java_instance.enabled);
        // Both are in rotation.
        let picked: Vec<String> = (0..4).map(|_| provider.pick().unwrap().id).collect();
        assert_eq!(picked, ["java-1", "rust-1", "java-1", "rust-1"], "{name}");

        // Curator unregisters on close: the Java instance leaves the Rust cache.
        let mut stdin = java.stdin.take().unwrap();
        stdin.write_all(b"quit\n").await.unwrap();
        stdin.flush().await.unwrap();
        let bye = within("java closes", lines.next_line()).await.unwrap();
        assert_eq!(bye.as_deref(), Some("bye"));
        within("java exits", java.wait()).await.unwrap();
        within(
            "java-1 leaves",
            provider
                .cache()
                .wait_until(|l| l.iter().all(|i| i.id != "java-1")),
        )
        .await
        .unwrap();
    }
}
