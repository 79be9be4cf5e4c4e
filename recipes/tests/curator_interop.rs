//! Interoperability with Apache Curator 5.4 (Debian's `libcurator-*-java`): a small Java program
//! (tests/java/CuratorPeer.java, compiled here with `javac`) takes part in the same lock and the
//! same election as the Rust recipes. Skipped, with the reason printed, when Java, `javac` or the
//! Curator jars are missing — unless `ZK_REQUIRE_APACHE` is set (as in CI).

mod harness;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use harness::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use zk_client::{Client, CreateOptions};
use zk_recipes::election::{LeaderLatch, Leadership};
use zk_recipes::lock::FairLock;
use zk_testkit::{Java, TestDir, DEBIAN_JAVA_DIR};

/// The Curator jars (and the dependencies their manifests do not list) the peer needs.
const CURATOR_JARS: &[&str] = &[
    "curator-client.jar",
    "curator-framework.jar",
    "curator-recipes.jar",
    "guava.jar",
    "slf4j-api.jar",
];

const PEER_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/CuratorPeer.java");

/// Java with the compiled peer on its class path, or `None` (skipped).
fn curator_peer_or_skip(test: &str) -> Option<(Java, TestDir)> {
    let java = zk_testkit::java_or_skip(test)?;
    let skip = |why: String| {
        if zk_testkit::apache_required() {
            panic!("{test}: {why} (ZK_REQUIRE_APACHE is set)");
        }
        eprintln!("skipping {test}: {why}");
    };
    let jars: Vec<PathBuf> = CURATOR_JARS
        .iter()
        .map(|j| Path::new(DEBIAN_JAVA_DIR).join(j))
        .collect();
    if let Some(missing) = jars.iter().find(|j| !j.is_file()) {
        skip(format!(
            "{} not found (apt-get install libcurator-recipes-java)",
            missing.display()
        ));
        return None;
    }
    let javac = java
        .java()
        .parent()
        .map(|bin| bin.join("javac"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("javac"));
    let mut java = java;
    for jar in &jars {
        java = java.with_classpath_entry(jar);
    }
    let classes = TestDir::new("curator-peer").unwrap();
    let compiled = std::process::Command::new(&javac)
        .arg("-d")
        .arg(classes.path())
        .arg("-cp")
        .arg(java.classpath_string())
        .arg(PEER_SOURCE)
        .output();
    match compiled {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "javac CuratorPeer.java failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            skip(format!(
                "cannot run {} ({e}; apt-get install openjdk-17-jdk-headless)",
                javac.display()
            ));
            return None;
        }
    }
    let java = java.with_classpath_entry(classes.path());
    Some((java, classes))
}

/// A running CuratorPeer.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Peer {
    async fn start(java: &Java, connect: &str) -> Peer {
        let mut cmd: tokio::process::Command = java.command::<&str>(&[], "CuratorPeer").into();
        cmd.arg(connect)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn CuratorPeer");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut peer = Peer {
            child,
            stdin,
            lines,
        };
        peer.expect("ready").await;
        peer
    }

    async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Reads lines until one starting with `prefix`; returns it.
    async fn expect(&mut self, prefix: &str) -> String {
        within(&format!("peer line {prefix:?}"), async {
            loop {
                match self.lines.next_line().await.unwrap() {
                    Some(line) if line.starts_with(prefix) => return line,
                    Some(_) => {}
                    None => panic!("CuratorPeer exited before {prefix:?}"),
                }
            }
        })
        .await
    }

    async fn quit(mut self) {
        self.send("quit").await;
        self.expect("bye").await;
        let _ = within("peer exit", self.child.wait()).await;
    }
}

async fn test_dir(client: &Client, name: &str) -> String {
    let base = unique(name);
    for path in ["/recipes", base.as_str()] {
        match client.create(path, b"", &CreateOptions::persistent()).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => panic!("create {path}: {e}"),
        }
    }
    base
}

/// The Rust side of the peer's `mutex` command: the same critical section, under a [`FairLock`].
async fn rust_contender(
    client: Client,
    lock: String,
    rounds: usize,
    counter: String,
    marker: String,
) -> usize {
    let lock = FairLock::new(&client, &lock).unwrap();
    let mut overlaps = 0;
    for _ in 0..rounds {
        let guard = lock.acquire().await.unwrap();
        if let Err(zk_client::Error::NodeExists) = client
            .create(&marker, b"", &CreateOptions::ephemeral())
            .await
        {
            overlaps += 1;
        }
        let (data, _) = client.get_data(&counter).await.unwrap();
        let value: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
        tokio::task::yield_now().await;
        client
            .set_data(&counter, (value + 1).to_string().as_bytes(), None)
            .await
            .unwrap();
        if let Err(zk_client::Error::NoNode) = client.delete(&marker, None).await {
            overlaps += 1;
        }
        guard.release().await.unwrap();
    }
    overlaps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rust_and_curator_contenders_never_hold_the_lock_together() {
    const ROUNDS: usize = 15;
    const JAVA_PEERS: usize = 2;
    const RUST_TASKS: usize = 2;
    let test = "rust_and_curator_contenders_never_hold_the_lock_together";
    let Some((java, _classes)) = curator_peer_or_skip(test) else {
        return;
    };
    for server in servers(test).await {
        let admin = connect(&server.connect_string()).await;
        let base = test_dir(&admin, "interop-mutex").await;
        let (lock, counter, marker) = (
            format!("{base}/lock"),
            format!("{base}/counter"),
            format!("{base}/inside"),
        );
        admin
            .create(&counter, b"0", &CreateOptions::persistent())
            .await
            .unwrap();
        let mut peers = Vec::new();
        for _ in 0..JAVA_PEERS {
            peers.push(Peer::start(&java, &server.connect_string()).await);
        }
        for peer in &mut peers {
            peer.send(&format!("mutex {lock} {ROUNDS} {counter} {marker}"))
                .await;
        }
        let mut rust = Vec::new();
        for _ in 0..RUST_TASKS {
            let client = connect(&server.connect_string()).await;
            rust.push(tokio::spawn(rust_contender(
                client,
                lock.clone(),
                ROUNDS,
                counter.clone(),
                marker.clone(),
            )));
        }
        let mut overlaps = 0;
        for task in rust {
            overlaps += within("rust contender", task).await.unwrap();
        }
        for mut peer in peers {
            let done = peer.expect("done").await;
            overlaps += done["done ".len()..].parse::<usize>().unwrap();
            peer.quit().await;
        }
        assert_eq!(overlaps, 0, "{}: two holders at once", server.name());
        let (data, _) = admin.get_data(&counter).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&data).unwrap(),
            ((JAVA_PEERS + RUST_TASKS) * ROUNDS).to_string(),
            "{}: lost update",
            server.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_curator_leader_hands_leadership_to_rust_and_back() {
    let test = "a_curator_leader_hands_leadership_to_rust_and_back";
    let Some((java, _classes)) = curator_peer_or_skip(test) else {
        return;
    };
    for server in servers(test).await {
        let client = connect(&server.connect_string()).await;
        let base = test_dir(&client, "interop-latch").await;
        let path = format!("{base}/election");
        let mut peer = Peer::start(&java, &server.connect_string()).await;
        peer.send(&format!("latch {path} java-1")).await;
        peer.expect("ok latch").await;
        peer.expect("event leader").await;

        let latch = LeaderLatch::start(&client, &path, "rust-1").unwrap();
        let mut changes = latch.changes();
        wait_item("rust follows java", &mut changes, |l| {
            *l == Leadership::Follower {
                leader: Some("java-1".into()),
            }
        })
        .await;

        // The Java leader leaves: the Rust candidate leads.
        peer.send("close-latch").await;
        peer.expect("ok closed").await;
        let token = within("rust leads", latch.wait_leader()).await.unwrap();

        // Java joins again behind Rust; when Rust leaves, Java leads again.
        peer.send(&format!("latch {path} java-1")).await;
        peer.expect("ok latch").await;
        wait_children(&client, &path, 2).await;
        assert_eq!(latch.participants().await.unwrap(), ["rust-1", "java-1"]);
        assert!(latch.is_leader());
        assert!(token.0 > 0);
        latch.close().await;
        peer.expect("event leader").await;
        peer.quit().await;
        wait_children(&client, &path, 0).await;
    }
}
