//! Issue 7's strongest conformance test: mixed ensembles of Apache ZooKeeper 3.8 (Debian's jars) and
//! zk-server serving clients together, over Apache's own election and quorum protocols.
//!
//! Four layouts, each with the leader on a chosen side: two Apache servers and one zk-server, and
//! one Apache server and two zk-servers, with a zk-server leading and with an Apache server leading.
//! In each:
//! 1. a zk-client session on **every** server writes through it (creates: persistent, sequential,
//!    ephemeral, ephemeral sequential; versioned setData and a stale one; create + versioned delete;
//!    a multi and a failing multi), every acknowledged result recorded in a [`Ledger`];
//!    then every server, after `sync`, reads back everything acknowledged;
//! 2. every session **moves to a server of the other implementation** (same session id, its
//!    ephemerals kept) and writes there; reads everywhere;
//! 3. with a background load creating znodes, the **leader is killed** (SIGKILL for Apache,
//!    [`ServerHandle::kill`](zk_server::ServerHandle::kill) for zk-server); a new leader must come
//!    and the load must be acknowledged again; the sessions move to the survivors and write there;
//!    reads everywhere;
//! 4. the killed server **restarts** and rejoins; every session goes back to its first server and
//!    writes (so the restarted one takes writes again); reads everywhere;
//! 5. **convergence**: through a client on each server, after `sync`, the whole tree (every znode's
//!    data and full stat: czxid, mzxid, pzxid, times, version, cversion, aversion, owner) is the same
//!    on all three; the digests the servers compute themselves (`hash`) agree at a common zxid and
//!    no server counted a digest mismatch (`mntr`); every acknowledged write is there (the ledger and
//!    the load's acknowledged creates), nothing never attempted is;
//! 6. closing the sessions removes their ephemerals on every server;
//! 7. every server shows the ensemble's configuration in `/zookeeper/config` as Apache does (the
//!    one node each server writes for itself, so it is left out of the tree comparison of step 5
//!    and compared here without its mtime).
//!
//! Skipped (with a message) without Java or the ZooKeeper jars, unless `ZK_REQUIRE_APACHE=1`.
//! Apache's console logs and every server's `srvr` are printed when a scenario fails;
//! `ZK_TESTKIT_KEEP_DIRS=1` keeps the data dirs and logs.

mod support_mixed;

use std::time::{Duration, Instant};

use futures::future::join_all;
use support_mixed::converge::{digest_mismatches, pad_to_digest_zxid, wait_for_digest_agreement};
use support_mixed::ensemble::{LEADER_SID, SERVERS};
use support_mixed::ledger::{create_roots, write_batch, Ledger};
use support_mixed::load::Load;
use support_mixed::session::MovableSession;
use support_mixed::tree::{diff_trees, read_tree, Node, DIFF_LINES};
use support_mixed::{
    serial, within, Kind, MixedEnsemble, CONNECT_TIMEOUT, FAILOVER_DEADLINE, OP_DEADLINE,
    REJOIN_DEADLINE, SESSION_TIMEOUT, START_DEADLINE,
};
use zk_client::{Client, CreateOptions, Stat};

use Kind::{Apache, ZkServer};

/// Creates the load must have acknowledged before the kill, so the kill lands amid steady writes.
const LOAD_ACKS_BEFORE_KILL: u64 = 20;

/// Fresh acknowledgements of the load required after the failover: writes resumed.
const LOAD_ACKS_AFTER_FAILOVER: u64 = 20;

/// Where every server shows the ensemble's configuration (`ZooDefs.CONFIG_NODE`).
const CONFIG_NODE: &str = "/zookeeper/config";

/// The znode the digest padding writes.
const PAD: &str = "/mixed/pad";

/// Two Apache servers follow a zk-server leader; it is killed, the Apache pair elects one of its
/// own, and the zk-server rejoins as its follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_apache_and_a_zk_server_leader() {
    scenario(
        "two_apache_and_a_zk_server_leader",
        [Apache, Apache, ZkServer],
    )
    .await;
}

/// An Apache leader with an Apache and a zk-server follower; after the kill the surviving Apache
/// server and the zk-server elect a leader together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_apache_leading_a_zk_server() {
    scenario("two_apache_leading_a_zk_server", [ZkServer, Apache, Apache]).await;
}

/// A zk-server leads a zk-server and an Apache follower; after the kill the other zk-server leads
/// the Apache server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_zk_servers_and_an_apache_follower() {
    scenario(
        "two_zk_servers_and_an_apache_follower",
        [Apache, ZkServer, ZkServer],
    )
    .await;
}

/// An Apache server leads two zk-servers; after the kill the zk-servers lead themselves and the
/// restarted Apache server rejoins as their follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_apache_leader_and_two_zk_servers() {
    scenario(
        "an_apache_leader_and_two_zk_servers",
        [ZkServer, ZkServer, Apache],
    )
    .await;
}

/// Writes pipelined by one session of an Apache follower while another session of the same
/// follower syncs, in [`issue_7_a_learner_sync_waits_for_the_writes_forwarded_before_it`].
const RACE_WRITES: usize = 300;

/// Syncs (each followed by a read) racing the writes.
const RACE_SYNCS: usize = 60;

/// Regression, found by the scenarios above: a zk-server leader answered an Apache follower's
/// forwarded `sync` before the COMMITs of writes the follower had forwarded just before it (they
/// were still in the leader core's batch). Apache's CommitProcessor took the early sync commit as
/// a remote one and kept the sync queued, after which the follower answered no request of any
/// session again. Here one session on the Apache follower pipelines writes while another syncs and
/// reads; everything must be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_7_a_learner_sync_waits_for_the_writes_forwarded_before_it() {
    let test = "issue_7_a_learner_sync_waits_for_the_writes_forwarded_before_it";
    let Some(java) = zk_testkit::java_or_skip(test) else {
        return;
    };
    let _serial = serial().await;
    support_mixed::init_tracing();
    let mut ens = MixedEnsemble::start(&java, test, [Apache, ZkServer, ZkServer]).await;
    ens.wait_for_quorum(START_DEADLINE).await;
    let apache = 0;
    let writer = connect(&ens, apache).await;
    let syncer = connect(&ens, apache).await;
    let persistent = CreateOptions::persistent();
    within("create /race", writer.create("/race", b"", &persistent))
        .await
        .unwrap();
    // Each call sends its request at once: the writes are all in flight before the syncs start.
    let writes: Vec<_> = (0..RACE_WRITES)
        .map(|k| writer.create(&format!("/race/n{k}"), b"", &persistent))
        .collect();
    let syncs = async {
        for _ in 0..RACE_SYNCS {
            syncer.sync("/").await?;
            syncer.exists("/race").await?;
        }
        Ok::<_, zk_client::Error>(())
    };
    let (written, synced) = within(
        "writes and syncs through the Apache follower",
        futures::future::join(join_all(writes), syncs),
    )
    .await;
    synced.unwrap_or_else(|e| panic!("{test}: sync: {e}"));
    for (k, w) in written.into_iter().enumerate() {
        w.unwrap_or_else(|e| panic!("{test}: create /race/n{k}: {e}"));
    }
    let (_, stat) = within("read /race", syncer.get_data("/race"))
        .await
        .unwrap();
    assert_eq!(stat.num_children as usize, RACE_WRITES);
    writer.close().await;
    syncer.close().await;
    ens.shutdown().await;
}

/// Phase durations, printed at the end.
struct Clock {
    test: String,
    start: Instant,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Clock {
    fn new(test: &str) -> Clock {
        let now = Instant::now();
        Clock {
            test: test.to_owned(),
            start: now,
            last: now,
            phases: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }

    fn print(&self) {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(p, d)| format!("{p} {:.1}s", d.as_secs_f64()))
            .collect();
        eprintln!(
            "{}: passed in {:.1}s ({})",
            self.test,
            self.start.elapsed().as_secs_f64(),
            phases.join(", ")
        );
    }
}

async fn scenario(test: &str, kinds: [Kind; SERVERS]) {
    let Some(java) = zk_testkit::java_or_skip(test) else {
        return;
    };
    let _serial = serial().await;
    support_mixed::init_tracing();
    let mut clock = Clock::new(test);
    let mut ens = MixedEnsemble::start(&java, test, kinds).await;
    let leader = ens.wait_for_quorum(START_DEADLINE).await;
    assert_eq!(
        ens.member(leader).sid,
        LEADER_SID,
        "{test}: {} leads instead of server.{LEADER_SID}",
        ens.member(leader).label()
    );
    clock.mark("start");

    // 1. A session on every server writes through it.
    let mut sessions = Vec::new();
    for i in 0..SERVERS {
        sessions.push(MovableSession::open(&ens, &format!("s{}", i + 1), i).await);
    }
    let mut ledger = Ledger::default();
    create_roots(&sessions[0].client, &mut ledger).await;
    write_round(&ens, &sessions, 1, &mut ledger).await;
    reads_everywhere(&mut ens, &ledger).await;
    clock.mark("home round");

    // 2. Every session moves to a server of the other implementation and writes there.
    for s in &mut sessions {
        let to = other_side(&ens, s.at);
        s.move_to(&ens, to).await;
    }
    write_round(&ens, &sessions, 2, &mut ledger).await;
    reads_everywhere(&mut ens, &ledger).await;
    clock.mark("moved round");

    // 3. Kill the leader amid writes.
    let mut load = Load::start(&connect_string(&ens, leader)).await;
    load.wait_acks(LOAD_ACKS_BEFORE_KILL, OP_DEADLINE).await;
    let killed = Instant::now();
    ens.kill(leader).await;
    let new_leader = ens.wait_for_quorum(FAILOVER_DEADLINE).await;
    let elected = killed.elapsed();
    load.wait_acks(load.acks() + LOAD_ACKS_AFTER_FAILOVER, FAILOVER_DEADLINE)
        .await;
    eprintln!(
        "{test}: killed {}; {} leads after {:.1}s, writes resumed after {:.1}s",
        ens.member(leader).label(),
        ens.member(new_leader).label(),
        elected.as_secs_f64(),
        killed.elapsed().as_secs_f64()
    );
    let live = ens.running();
    for (k, s) in sessions.iter_mut().enumerate() {
        let to = live[k % live.len()];
        if s.at == to {
            s.wait_connected(&ens, FAILOVER_DEADLINE).await;
        } else {
            s.move_to(&ens, to).await;
        }
    }
    write_round(&ens, &sessions, 3, &mut ledger).await;
    reads_everywhere(&mut ens, &ledger).await;
    clock.mark("failover");

    // 4. The killed server restarts and rejoins; every session goes home.
    ens.restart(leader).await;
    let final_leader = ens.wait_for_quorum(REJOIN_DEADLINE).await;
    eprintln!(
        "{test}: {} rejoined under {}",
        ens.member(leader).label(),
        ens.member(final_leader).label()
    );
    for (i, s) in sessions.iter_mut().enumerate() {
        s.move_to(&ens, i).await;
    }
    write_round(&ens, &sessions, 4, &mut ledger).await;
    reads_everywhere(&mut ens, &ledger).await;
    let load = load.stop().await;
    eprintln!(
        "{test}: {} acknowledged writes in the ledger; load: {} of {} creates acknowledged, errors {:?}",
        ledger.acks(),
        load.acked.len(),
        load.attempted,
        load.errors
    );
    clock.mark("rejoin");

    // 5. Convergence: one tree everywhere, the servers' digests agree, nothing acknowledged lost.
    let clients = connect_everywhere(&ens).await;
    let zxid = within("digest padding", pad_to_digest_zxid(&clients[0], PAD)).await;
    let agreed = wait_for_digest_agreement(&ens, zxid, OP_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    let mut trees = Vec::new();
    let mut configs = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let label = ens.member(i).label();
        within(&format!("sync on {label}"), c.sync("/"))
            .await
            .unwrap_or_else(|e| panic!("{test}: sync on {label}: {e}"));
        let mut tree = within(&format!("tree of {label}"), read_tree(c, "/"))
            .await
            .unwrap_or_else(|e| panic!("{test}: reading the tree of {label}: {e}"));
        // Each server writes its own configuration here (checked last, below).
        configs.push((label.clone(), tree.remove(CONFIG_NODE)));
        ledger
            .check_tree(&label, &tree)
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        load.check_tree(&label, &tree)
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        trees.push((label, tree));
    }
    for (label, tree) in &trees[1..] {
        if let Some(diff) = diff_trees((&trees[0].0, &trees[0].1), (label, tree), DIFF_LINES) {
            panic!("{test}: {diff}");
        }
    }
    for i in 0..SERVERS {
        assert_eq!(
            digest_mismatches(&ens, i),
            Some(0),
            "{test}: {} digest mismatches",
            ens.member(i).label()
        );
    }
    eprintln!(
        "{test}: {} znodes identical on every server; digest {} at zxid {:#x} on all",
        trees[0].1.len(),
        agreed.digest,
        agreed.zxid
    );
    clock.mark("convergence");

    // 6. Closing the sessions removes their ephemerals everywhere.
    for s in &sessions {
        within(&format!("closing {}", s.name), s.client.close()).await;
        ledger.session_closed(s.id);
    }
    for (i, c) in clients.iter().enumerate() {
        let label = ens.member(i).label();
        within(&format!("reads on {label}"), ledger.check_reads(&label, c))
            .await
            .unwrap_or_else(|e| panic!("{test}: after closing the sessions: {e}"));
        c.close().await;
    }
    clock.mark("close");

    // 7. Every server shows the ensemble's configuration in /zookeeper/config as Apache does
    //    (`ZKDatabase.initConfigInZKDatabase`): the same text everywhere, data version -1. Each
    //    server sets it locally (also over a leader's SNAP), so its mtime is the server's own.
    let (first, want) = &configs[0];
    for (label, got) in &configs[1..] {
        let same = match (want, got) {
            (Some(a), Some(b)) => {
                a.data == b.data && Stat { mtime: 0, ..a.stat } == Stat { mtime: 0, ..b.stat }
            }
            (a, b) => a == b,
        };
        assert!(
            same,
            "{test}: {CONFIG_NODE} differs:\n  {first}: {}\n  {label}: {}",
            show(want),
            show(got)
        );
    }
    ens.shutdown().await;
    clock.print();
}

/// A node's data as text and its stat, for messages.
fn show(node: &Option<Node>) -> String {
    match node {
        Some(n) => format!("{:?} {:?}", String::from_utf8_lossy(&n.data), n.stat),
        None => "absent".to_owned(),
    }
}

/// Every session writes its batch for `round` at once, each through its current server.
async fn write_round(
    ens: &MixedEnsemble,
    sessions: &[MovableSession],
    round: u32,
    ledger: &mut Ledger,
) {
    let shared: &Ledger = ledger;
    let batches = sessions.iter().map(|s| {
        let via = ens.member(s.at).label();
        async move {
            let what = format!("{} round {round} via {via}", s.name);
            within(&what, write_batch(s, round, &via, shared)).await
        }
    });
    let parts = join_all(batches).await;
    for part in parts {
        ledger.merge(part);
    }
}

/// Every running server, after `sync`, reads back everything acknowledged, through a fresh session.
async fn reads_everywhere(ens: &mut MixedEnsemble, ledger: &Ledger) {
    for i in ens.running() {
        let label = ens.member(i).label();
        let c = connect(ens, i).await;
        within(&format!("reads on {label}"), ledger.check_reads(&label, &c))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.close().await;
    }
}

/// A session on member `i` only.
async fn connect(ens: &MixedEnsemble, i: usize) -> Client {
    let label = ens.member(i).label();
    Client::builder()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .connect(&ens.addr(i).to_string())
        .await
        .unwrap_or_else(|e| panic!("session on {label}: {e}"))
}

/// One session per member, in member order.
async fn connect_everywhere(ens: &MixedEnsemble) -> Vec<Client> {
    let mut clients = Vec::new();
    for i in 0..SERVERS {
        clients.push(connect(ens, i).await);
    }
    clients
}

/// Every member, starting with `first` (the load starts there and moves along when it dies).
fn connect_string(ens: &MixedEnsemble, first: usize) -> String {
    (0..SERVERS)
        .map(|k| ens.addr((first + k) % SERVERS).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A member of the other implementation than member `i`, spreading the sessions of one side over
/// the other.
fn other_side(ens: &MixedEnsemble, i: usize) -> usize {
    let mine = ens.member(i).kind;
    let others: Vec<usize> = (0..SERVERS)
        .filter(|&j| ens.member(j).kind != mine)
        .collect();
    others[i % others.len()]
}
