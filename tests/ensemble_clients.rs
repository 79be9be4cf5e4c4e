//! Mixed clients against a 3-server ensemble, moving sessions across servers: zk-client, the
//! `zookeeper-client` crate and kazoo (Python) each hold a session with an ephemeral znode and a data
//! watch. Each round kills (SIGKILL) the server one of them is connected to — found with `cons` — so it
//! moves to another server (the others move too when the victim was the leader), then checks for every
//! client:
//! - the **session** survives the move (same id, never expired or lost), and the client is now connected
//!   to a live server;
//! - its **ephemeral** is still there, owned by its session (read through its own connection and through
//!   a different server after a `sync`);
//! - its **watch** survives: a write made through another server fires it (zk-client and
//!   zookeeper-client one-shot watches, re-registered on reconnect; kazoo's DataWatch recipe);
//! - a **write through one server is visible through the others after sync**: every client syncs and
//!   reads every other client's watched znode, from wherever it is connected.
//!
//! At the end every client closes its session and every server must drop the three ephemerals.
//! The Apache run is the control. kazoo comes from `.ci/venv` or `ZK_KAZOO_PYTHON`; without it the
//! kazoo part is skipped (and the test fails under `ZK_REQUIRE_APACHE=1`).

mod support_ensemble;
mod support_thirdparty;

use std::time::{Duration, Instant};

use support_ensemble::kazoo::KazooPeer;
use support_ensemble::{
    blocking, connect_ordered, connect_pinned, rotated, serial, session_i64, start_or_skip, Target,
    LEADER_DEADLINE, REJOIN_DEADLINE, SESSION_TIMEOUT,
};
use support_thirdparty::kazoo_python_or_skip;
use zk_client::{CreateOptions, EventType};
use zk_testkit::Ensemble;

/// Kill rounds: one per client, each aimed at the server that client is on.
const ROUNDS: usize = 3;
/// How long a client may take to reconnect, or a watch to fire, after a kill.
const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// How often a client's location and state are polled while it reconnects.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Root of the test's znodes.
const ROOT: &str = "/mixed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_clients_keep_sessions_across_apache_servers() {
    run(
        Target::Apache,
        "mixed_clients_keep_sessions_across_apache_servers",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_clients_keep_sessions_across_zk_server_servers() {
    run(
        Target::ZkServer,
        "mixed_clients_keep_sessions_across_zk_server_servers",
    )
    .await;
}

/// The client library behind a peer.
enum Peer {
    Zk {
        client: zk_client::Client,
        watcher: Option<zk_client::OneshotWatcher>,
    },
    ZookeeperClient {
        client: zookeeper_client::Client,
        watcher: Option<zookeeper_client::OneshotWatcher>,
    },
    // Boxed: the pipes and the transcript make it several times larger than the others.
    Kazoo(Box<KazooPeer>),
}

/// One client of the test: its library, session and znodes (`<prefix>/eph`, `<prefix>/watched`).
struct Member {
    name: &'static str,
    prefix: String,
    session: i64,
    server: usize,
    moves: usize,
    peer: Peer,
}

impl Member {
    fn eph(&self) -> String {
        format!("{}/eph", self.prefix)
    }

    fn watched(&self) -> String {
        format!("{}/watched", self.prefix)
    }

    /// Leaves a one-shot data watch on `watched` (kazoo's DataWatch re-arms itself).
    async fn arm(&mut self) {
        let watched = self.watched();
        match &mut self.peer {
            Peer::Zk { client, watcher } => {
                let (_, _, w) = client
                    .get_data_w(&watched)
                    .await
                    .expect("zk-client get_data_w");
                *watcher = Some(w);
            }
            Peer::ZookeeperClient { client, watcher } => {
                let (_, _, w) = client
                    .get_and_watch_data(&watched)
                    .await
                    .expect("zookeeper-client get_and_watch_data");
                *watcher = Some(w);
            }
            Peer::Kazoo(_) => {}
        }
    }

    /// Waits until the client is connected again, with the same session. `moved`: its server was killed.
    async fn reconnected(&mut self, moved: bool) {
        let name = self.name;
        let session = self.session;
        match &mut self.peer {
            Peer::Zk { client, .. } => {
                let mut states = client.state_watcher();
                let connected = tokio::time::timeout(
                    STEP_DEADLINE,
                    states.wait_for(|s| *s == zk_client::SessionState::Connected),
                )
                .await;
                assert!(
                    matches!(connected, Ok(Ok(_))),
                    "{name}: not connected within {STEP_DEADLINE:?}: {:?}",
                    client.state()
                );
                assert_eq!(session_i64(client), session, "{name}: session changed");
            }
            Peer::ZookeeperClient { client, .. } => {
                let deadline = Instant::now() + STEP_DEADLINE;
                while client.state() != zookeeper_client::SessionState::SyncConnected {
                    assert!(
                        Instant::now() < deadline,
                        "{name}: not connected within {STEP_DEADLINE:?}: {:?}",
                        client.state()
                    );
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                assert_eq!(client.session_id().0, session, "{name}: session changed");
            }
            Peer::Kazoo(kazoo) => {
                let command = if moved {
                    "WAIT_CONNECTED moved"
                } else {
                    "WAIT_CONNECTED"
                };
                kazoo.command(command, "CONNECTED").await;
            }
        }
    }

    /// Waits for the watch on `watched` to report the change to `value`, then re-arms it.
    async fn watch_fires(&mut self, value: &str) {
        let name = self.name;
        let watched = self.watched();
        match &mut self.peer {
            Peer::Zk { client, watcher } => {
                let w = watcher.take().expect("armed");
                let event = tokio::time::timeout(STEP_DEADLINE, w)
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{name}: watch did not fire within {STEP_DEADLINE:?}")
                    });
                assert_eq!(
                    (event.event_type, event.path.as_str()),
                    (EventType::NodeDataChanged, watched.as_str()),
                    "{name}: watch event {event:?}"
                );
                let (data, _) = client.get_data(&watched).await.expect("zk-client get_data");
                assert_eq!(data, value.as_bytes(), "{name}: data after the event");
            }
            Peer::ZookeeperClient { client, watcher } => {
                let w = watcher.take().expect("armed");
                let event = tokio::time::timeout(STEP_DEADLINE, w.changed())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{name}: watch did not fire within {STEP_DEADLINE:?}")
                    });
                assert_eq!(
                    (event.event_type, event.path.as_str()),
                    (
                        zookeeper_client::EventType::NodeDataChanged,
                        watched.as_str()
                    ),
                    "{name}: watch event {event:?}"
                );
                let (data, _) = client
                    .get_data(&watched)
                    .await
                    .expect("zookeeper-client get_data");
                assert_eq!(data, value.as_bytes(), "{name}: data after the event");
            }
            Peer::Kazoo(kazoo) => {
                kazoo.command(&format!("WAIT_DATA {value}"), "DATA").await;
            }
        }
        self.arm().await;
    }

    /// The ephemeral is there and owned by this session, as the client's own server sees it.
    async fn ephemeral_survives(&mut self) {
        let (name, eph, session) = (self.name, self.eph(), self.session);
        let owner = match &mut self.peer {
            Peer::Zk { client, .. } => client
                .exists(&eph)
                .await
                .expect("zk-client exists")
                .map(|s| s.ephemeral_owner),
            Peer::ZookeeperClient { client, .. } => client
                .check_stat(&eph)
                .await
                .expect("zookeeper-client check_stat")
                .map(|s| s.ephemeral_owner),
            Peer::Kazoo(kazoo) => {
                kazoo.command("CHECK_EPH", "EPH ok").await;
                Some(session)
            }
        };
        assert_eq!(owner, Some(session), "{name}: ephemeral {eph} owner");
    }

    /// `sync(path)` then a read of `path` through this client's server returns `value`.
    async fn sync_read(&mut self, path: &str, value: &str) {
        let name = self.name;
        let data = match &mut self.peer {
            Peer::Zk { client, .. } => {
                client.sync(path).await.expect("zk-client sync");
                client.get_data(path).await.expect("zk-client get_data").0
            }
            Peer::ZookeeperClient { client, .. } => {
                client.sync(path).await.expect("zookeeper-client sync");
                client
                    .get_data(path)
                    .await
                    .expect("zookeeper-client get_data")
                    .0
            }
            Peer::Kazoo(kazoo) => {
                kazoo
                    .command(&format!("SYNC_READ {path} {value}"), "READ ok")
                    .await;
                value.as_bytes().to_vec()
            }
        };
        assert_eq!(data, value.as_bytes(), "{name}: {path} after sync");
    }

    /// Closes the session.
    async fn close(self) {
        match self.peer {
            Peer::Zk { client, .. } => client.close().await,
            // The last handle dropped closes the session (in the background).
            Peer::ZookeeperClient { client, .. } => drop(client),
            Peer::Kazoo(kazoo) => kazoo.quit().await,
        }
    }
}

/// Polls `cons` until `session` is connected to a running server other than `not`; returns it.
async fn locate(ensemble: &dyn Ensemble, name: &str, session: i64, not: Option<usize>) -> usize {
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        if let Some(i) = blocking(|| ensemble.server_with_session(session)) {
            if Some(i) != not {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name}: session {session:#x} is on no live server after {STEP_DEADLINE:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn run(target: Target, test: &str) {
    let _serial = serial().await;
    let kazoo_python = kazoo_python_or_skip(&format!("the kazoo client of {test}"));
    let Some(mut ensemble) = blocking(|| start_or_skip(target, test)) else {
        return;
    };
    let n = ensemble.len();
    let started = Instant::now();

    let admin = connect_ordered(&*ensemble, 0).await.expect("admin session");
    let persistent = CreateOptions::persistent();
    admin
        .create(ROOT, b"", &persistent)
        .await
        .expect("create root");
    let mut names = vec!["zk-client", "zookeeper-client"];
    if kazoo_python.is_some() {
        names.push("kazoo");
    }
    for name in &names {
        let prefix = format!("{ROOT}/{name}");
        admin
            .create(&prefix, b"", &persistent)
            .await
            .expect("create prefix");
        admin
            .create(&format!("{prefix}/watched"), b"v0", &persistent)
            .await
            .expect("create watched");
    }
    admin.close().await;

    // Each client starts on its own server: zk-client and kazoo through the order of their connect
    // strings; zookeeper-client shuffles its hosts, so it lands wherever it lands.
    let mut members = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let prefix = format!("{ROOT}/{name}");
        let hosts = rotated(&*ensemble, k % n);
        let (peer, session) = match *name {
            "zk-client" => {
                let client = connect_ordered(&*ensemble, k % n)
                    .await
                    .expect("zk-client connects");
                client
                    .create(
                        &format!("{prefix}/eph"),
                        b"zk-client",
                        &CreateOptions::ephemeral(),
                    )
                    .await
                    .expect("zk-client ephemeral");
                let session = session_i64(&client);
                (
                    Peer::Zk {
                        client,
                        watcher: None,
                    },
                    session,
                )
            }
            "zookeeper-client" => {
                let client = zookeeper_client::Client::connector()
                    .session_timeout(SESSION_TIMEOUT)
                    .connect(&hosts)
                    .await
                    .expect("zookeeper-client connects");
                let mode = zookeeper_client::CreateMode::Ephemeral
                    .with_acls(zookeeper_client::Acls::anyone_all());
                client
                    .create(&format!("{prefix}/eph"), b"zookeeper-client", &mode)
                    .await
                    .expect("zookeeper-client ephemeral");
                let session = client.session_id().0;
                (
                    Peer::ZookeeperClient {
                        client,
                        watcher: None,
                    },
                    session,
                )
            }
            _ => {
                let python = kazoo_python.as_deref().expect("kazoo is available");
                let (kazoo, session) = KazooPeer::start(python, &hosts, &prefix).await;
                (Peer::Kazoo(Box::new(kazoo)), session)
            }
        };
        let server = locate(&*ensemble, name, session, None).await;
        let mut member = Member {
            name,
            prefix,
            session,
            server,
            moves: 0,
            peer,
        };
        member.arm().await;
        eprintln!(
            "{test}: {:?}: {name} session {session:#x} on server {server}",
            started.elapsed()
        );
        members.push(member);
    }

    for round in 0..ROUNDS {
        let chosen = round % members.len();
        let victim = members[chosen].server;
        let was_leader = blocking(|| ensemble.leader()) == Some(victim);
        blocking(|| ensemble.kill(victim));
        blocking(|| ensemble.wait_for_leader_within(LEADER_DEADLINE)).unwrap_or_else(|e| {
            panic!("round {round}: no leader after killing server {victim}: {e}")
        });
        for m in &mut members {
            let moved = m.server == victim;
            m.reconnected(moved).await;
            let now = locate(&*ensemble, m.name, m.session, Some(victim)).await;
            if now != m.server {
                m.moves += 1;
            }
            m.server = now;
        }
        let placement: Vec<String> = members
            .iter()
            .map(|m| format!("{} on server {}", m.name, m.server))
            .collect();
        eprintln!(
            "{test}: {:?}: round {round}: killed server {victim} ({} of {}, leader: {was_leader}); now {}",
            started.elapsed(),
            members[chosen].name,
            ensemble.kind(),
            placement.join(", ")
        );

        // Writes through a live server that, where possible, none of the clients is on.
        let value = format!("v{}", round + 1);
        let writer_server = (0..n)
            .filter(|&i| i != victim)
            .max_by_key(|&i| (members.iter().all(|m| m.server != i), i))
            .expect("a live server");
        let writer = connect_pinned(ensemble.addr(writer_server))
            .await
            .expect("writer session");
        for m in &members {
            writer
                .set_data(&m.watched(), value.as_bytes(), None)
                .await
                .expect("write watched");
        }
        for m in &mut members {
            m.watch_fires(&value).await;
            m.ephemeral_survives().await;
        }
        let watched: Vec<String> = members.iter().map(Member::watched).collect();
        for m in &mut members {
            for path in &watched {
                m.sync_read(path, &value).await;
            }
        }
        writer.sync(ROOT).await.expect("writer sync");
        for m in &members {
            let stat = writer.exists(&m.eph()).await.expect("writer exists");
            assert_eq!(
                stat.map(|s| s.ephemeral_owner),
                Some(m.session),
                "{}: ephemeral seen from server {writer_server}",
                m.name
            );
        }
        writer.close().await;

        blocking(|| {
            ensemble.restart(victim)?;
            ensemble.wait_for_quorum(REJOIN_DEADLINE)
        })
        .unwrap_or_else(|e| panic!("round {round}: server {victim} did not rejoin: {e}"));
    }

    for m in &members {
        assert!(m.moves >= 1, "{} never moved to another server", m.name);
    }
    let ephemerals: Vec<String> = members.iter().map(Member::eph).collect();
    for m in members {
        m.close().await;
    }
    // Closed sessions take their ephemerals with them, on every server.
    for i in 0..n {
        let reader = connect_pinned(ensemble.addr(i))
            .await
            .expect("reader session");
        let deadline = Instant::now() + STEP_DEADLINE;
        for eph in &ephemerals {
            loop {
                reader.sync(ROOT).await.expect("reader sync");
                if reader.exists(eph).await.expect("reader exists").is_none() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "server {i} still has {eph} {STEP_DEADLINE:?} after its session closed"
                );
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        reader.close().await;
    }
    eprintln!(
        "{test}: {} passed {ROUNDS} rounds in {:?}",
        ensemble.kind(),
        started.elapsed()
    );
}
