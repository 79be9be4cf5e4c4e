//! The recipes on a replicated ensemble while it fails: three zk-servers in-process
//! (`zk_server::cluster::TestCluster`), clients that know every server (or, where a session must
//! die with its server, only one), and the faults an ensemble sees — its leader killed and
//! restarted, a follower isolated and healed, a server frozen past the session timeout, a session
//! expired from outside. Safety is checked through the server's own record (writes guarded by the
//! holder's node, version checks, the commit order of fenced writes), liveness with deadlines.

mod harness;

use std::sync::Arc;

use futures::StreamExt;
use harness::ensemble::*;
use harness::fenced::*;
use harness::holders::*;
use harness::*;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use zk_client::{Client, SessionState};
use zk_recipes::config::{Config, Subscription, Update};
use zk_recipes::election::{LeaderLatch, LeaderSelector, Leadership};
use zk_recipes::lock::{ExclusiveLock, FairLock, ReadWriteLock, Semaphore};
use zk_recipes::registry::{ServiceInstance, ServiceProvider, ServiceRegistry, Strategy};
use zk_recipes::Error;

/// How much later than the session timeout a lost session may be replaced (a new leader, a lock
/// free again): the leader checks expiry once per tick, the deletion is committed through the
/// quorum, the watcher's notification and re-list each take a round trip; and the machine is
/// shared.
const EXPIRY_SLACK: std::time::Duration = std::time::Duration::from_secs(3);

// ---------------------------------------------------------------------------------------------
// 1. FairLock and ExclusiveLock: guarded increments through a leader failover and an isolation.
// ---------------------------------------------------------------------------------------------

const LOCK_CLIENTS: usize = 3;
const LOCK_TASKS: usize = 2;
const LOCK_ROUNDS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq)]
enum LockKind {
    Fair,
    Exclusive,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locks_lose_no_update_across_leader_failover_and_follower_isolation() {
    let cluster = ensemble().await;
    let leader = cluster.leader().await.unwrap();
    let admin = connect_preferring(&cluster, leader).await;
    let base = base_dir(&admin, "ensemble-locks").await;
    let kinds = [LockKind::Fair, LockKind::Exclusive];
    let paths = |kind: LockKind| {
        let name = format!("{kind:?}").to_lowercase();
        (
            format!("{base}/{name}-lock"),
            format!("{base}/{name}-counter"),
            format!("{base}/{name}-applied"),
        )
    };
    for kind in kinds {
        let (_, counter, markers) = paths(kind);
        ensure_with(&admin, &counter, b"0").await;
        ensure(&admin, &markers).await;
    }
    // One client starts at each server, the leader included, so the failover and the isolation
    // each cut some clients off.
    let mut clients = Vec::new();
    for id in cluster.ids().into_iter().take(LOCK_CLIENTS) {
        clients.push(connect_preferring(&cluster, id).await);
    }
    let violations = Violations::default();
    let work = Work::default();
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for kind in kinds {
            let (lock_path, counter, markers) = paths(kind);
            for t in 0..LOCK_TASKS {
                let lock = match kind {
                    LockKind::Fair => AnyLock::Fair(FairLock::new(client, &lock_path).unwrap()),
                    LockKind::Exclusive => {
                        AnyLock::Exclusive(ExclusiveLock::new(client, &lock_path).unwrap())
                    }
                };
                let (client, counter, markers) = (client.clone(), counter.clone(), markers.clone());
                let (violations, work) = (violations.clone(), work.clone());
                tasks.push(tokio::spawn(async move {
                    let _worker = work.worker();
                    for r in 0..LOCK_ROUNDS {
                        let unit = work.claim().await;
                        let marker = format!("{markers}/{c}-{t}-{r}");
                        until_done(&marker, || {
                            increment(&client, &lock, &counter, &marker, &violations)
                        })
                        .await;
                        unit.done();
                    }
                }));
            }
        }
    }
    let per_kind = LOCK_CLIENTS * LOCK_TASKS * LOCK_ROUNDS;
    let total = kinds.len() * per_kind;
    // Every task may have an increment in flight when a fault strikes.
    let window = tasks.len();
    let stage = total / 5;

    // The ensemble leader dies with increments in flight; more follow on the two survivors.
    work.allow(stage + window);
    work.reached(stage).await;
    cluster.kill(leader).await.unwrap();
    let next = quorum(&cluster).await;
    assert_ne!(next, leader);
    work.allow(2 * stage + window);
    work.reached(2 * stage).await;

    // It comes back as a follower; then a follower is cut off from its peers (it stops serving,
    // its clients move) while increments go on, and is healed.
    cluster.restart(leader).await.unwrap();
    assert_eq!(quorum(&cluster).await, next);
    let follower = others(&cluster, next)[0];
    cluster.isolate(follower).unwrap();
    cluster
        .wait_for_mode(follower, None, DEADLINE)
        .await
        .unwrap();
    work.allow(3 * stage + window);
    work.reached(3 * stage).await;
    cluster.heal();
    quorum(&cluster).await;
    work.allow(total);

    for task in tasks {
        within("lock workers", task).await.unwrap();
    }
    violations.assert_none();
    for kind in kinds {
        let (lock_path, counter, markers) = paths(kind);
        // Every acknowledged increment is on every server.
        for id in cluster.ids() {
            let value = read_on(&cluster, id, &counter).await;
            assert_eq!(
                String::from_utf8(value).unwrap(),
                per_kind.to_string(),
                "{kind:?}: lost update (server {id})"
            );
        }
        let applied = read("markers", || admin.get_children(&markers)).await;
        assert_eq!(applied.len(), per_kind, "{kind:?}");
        match kind {
            LockKind::Fair => {
                wait_children(&admin, &lock_path, 0).await;
            }
            LockKind::Exclusive => {
                let stat = read("exclusive lock", || admin.exists(&lock_path)).await;
                assert_eq!(stat, None, "the exclusive lock is still held");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Election: LeaderLatch through server kills and a paused server; LeaderSelector terms.
// ---------------------------------------------------------------------------------------------

const TERMS: usize = 24;

async fn election_path(client: &Client, name: &str) -> String {
    ensure(client, "/recipes").await;
    unique(name)
}

/// Starts latch `id` and waits until it reports being a follower of `leader`.
async fn follower(client: &Client, path: &str, id: &str, leader: &str) -> LeaderLatch {
    let latch = LeaderLatch::start(client, path, id).unwrap();
    let mut changes = latch.changes();
    let seen = wait_item(&format!("{id} follows"), &mut changes, |l| {
        matches!(l, Leadership::Follower { .. })
    })
    .await;
    assert_eq!(
        seen,
        Leadership::Follower {
            leader: Some(leader.into())
        }
    );
    latch
}

/// Waits until `changes` reports `Suspended` (the connection to the participant's server is gone).
async fn after_suspension(what: &str, changes: &mut zk_recipes::state::Changes<Leadership>) {
    wait_item(what, changes, |l| *l == Leadership::Suspended).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn latch_leadership_survives_server_moves_and_passes_on_when_its_server_dies() {
    let cluster = ensemble().await;
    let leader = cluster.leader().await.unwrap();
    let [f1, f2] = others(&cluster, leader)[..] else {
        panic!("three servers")
    };
    let admin = connect_preferring(&cluster, f2).await;
    let path = election_path(&admin, "ensemble-latch").await;
    // p0 knows only follower f1, so its session dies with f1; p1 starts at f2, p2 at the leader.
    let c0 = connect_only(&cluster, f1).await;
    let c1 = connect_preferring(&cluster, f2).await;
    let c2 = connect_preferring(&cluster, leader).await;
    let p0 = LeaderLatch::start(&c0, &path, "p0").unwrap();
    let t0 = within("p0 leads", p0.wait_leader()).await.unwrap();
    let p1 = follower(&c1, &path, "p1", "p0").await;
    let p2 = follower(&c2, &path, "p2", "p0").await;
    let log = LeadershipLog::start(&[&p0, &p1, &p2]);

    // The server p0's session lives on dies: p0 is suspended at once; its session expires at the
    // ensemble leader and p1 leads within the session timeout (plus the expiry's slack).
    assert_eq!(wait_server_of(&cluster, &c0).await, f1);
    let mut p0_changes = p0.changes();
    let killed = Instant::now();
    cluster.kill(f1).await.unwrap();
    wait_item("p0 suspended", &mut p0_changes, |l| {
        *l == Leadership::Suspended
    })
    .await;
    let t1 = within("p1 leads", p1.wait_leader()).await.unwrap();
    let took = killed.elapsed();
    assert!(
        took < ENSEMBLE_SESSION_TIMEOUT + EXPIRY_SLACK,
        "p1 led {took:?} after p0's server died"
    );
    assert!(t1 > t0, "{t1} after {t0}");
    // p0 comes back with its server: its session is gone; it rejoins at the end of the line.
    cluster.restart(f1).await.unwrap();
    quorum(&cluster).await;
    wait_item("p0 lost", &mut p0_changes, |l| *l == Leadership::Lost).await;
    wait_item("p0 rejoins", &mut p0_changes, |l| {
        *l == Leadership::Follower {
            leader: Some("p1".into()),
        }
    })
    .await;
    assert_eq!(
        retrying("participants", || p2.participants()).await,
        ["p1", "p2", "p0"]
    );

    // The server the leader's client is on dies; the client knows the others, so the session
    // moves: p1 is suspended, then leads again in the same term.
    let s1 = wait_server_of(&cluster, &c1).await;
    let mut p1_changes = p1.changes();
    let killed = Instant::now();
    cluster.kill(s1).await.unwrap();
    after_suspension("p1 suspended", &mut p1_changes).await;
    let again = wait_item("p1 back", &mut p1_changes, |l| *l != Leadership::Suspended).await;
    assert_eq!(
        again,
        Leadership::Leader { token: t1 },
        "p1's session should have moved to another server ({:?} after the kill)",
        killed.elapsed()
    );
    cluster.restart(s1).await.unwrap();
    quorum(&cluster).await;

    // The ensemble leader dies: every server changes role and drops its clients; the sessions
    // survive the failover, so p1 still leads, in the same term.
    let ensemble_leader = cluster.leader().await.unwrap();
    let killed = Instant::now();
    cluster.kill(ensemble_leader).await.unwrap();
    after_suspension("p1 suspended by the failover", &mut p1_changes).await;
    let again = wait_item("p1 back after the failover", &mut p1_changes, |l| {
        *l != Leadership::Suspended
    })
    .await;
    assert_eq!(
        again,
        Leadership::Leader { token: t1 },
        "p1's session should have survived the failover ({:?} after the kill)",
        killed.elapsed()
    );
    cluster.restart(ensemble_leader).await.unwrap();
    quorum(&cluster).await;

    within("p1 leads", p1.wait_leader()).await.unwrap();
    assert!(!p0.is_leader() && !p2.is_leader());
    assert_eq!(
        retrying("participants", || p0.participants()).await,
        ["p1", "p2", "p0"]
    );
    // The leader last, so that nobody takes over while the log is being closed.
    for latch in [p0, p2, p1] {
        latch.close().await;
    }
    let log = log.finish().await;
    assert!(log.iter().any(|(id, l)| id == "p0" && l.is_leader()));
    wait_children(&admin, &path, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_on_a_paused_server_is_suspended_then_lost_and_rejoins_as_follower() {
    let cluster = ensemble().await;
    let leader = cluster.leader().await.unwrap();
    let [f1, f2] = others(&cluster, leader)[..] else {
        panic!("three servers")
    };
    let admin = connect_preferring(&cluster, f2).await;
    let path = election_path(&admin, "ensemble-pause").await;
    let c0 = connect_only(&cluster, f1).await;
    let c1 = connect_preferring(&cluster, f2).await;
    let c2 = connect_preferring(&cluster, leader).await;
    let p0 = LeaderLatch::start(&c0, &path, "p0").unwrap();
    let t0 = within("p0 leads", p0.wait_leader()).await.unwrap();
    let p1 = follower(&c1, &path, "p1", "p0").await;
    let p2 = follower(&c2, &path, "p2", "p0").await;
    let log = LeadershipLog::start(&[&p0, &p1, &p2]);
    assert_eq!(wait_server_of(&cluster, &c0).await, f1);

    // Freeze p0's only server: no replies, no pings. p0 must tell itself suspended before its
    // session can expire (its read timeout is two thirds of the session timeout); then the
    // ensemble leader expires the session and p1 leads.
    let mut p0_changes = p0.changes();
    let paused = Instant::now();
    cluster.pause(f1).await.unwrap();
    wait_item("p0 suspended", &mut p0_changes, |l| {
        *l == Leadership::Suspended
    })
    .await;
    let suspended_after = paused.elapsed();
    assert!(
        suspended_after < c0.session_timeout(),
        "p0 was told it is suspended only {suspended_after:?} after its server froze"
    );
    let t1 = within("p1 leads", p1.wait_leader()).await.unwrap();
    assert!(t1 > t0);
    let took = paused.elapsed();
    assert!(
        took < ENSEMBLE_SESSION_TIMEOUT + EXPIRY_SLACK,
        "p1 led {took:?} after p0's server froze"
    );

    // Thaw it (soon enough that p0's client has not yet given its session up by itself): the
    // server must not let p0 resume its expired session. p0 is told Lost, never Leader, and joins
    // again behind the others.
    cluster.resume(f1).await.unwrap();
    let next = wait_item("p0 after the thaw", &mut p0_changes, |l| {
        *l != Leadership::Suspended
    })
    .await;
    assert_eq!(next, Leadership::Lost, "p0 after its server thawed");
    wait_item("p0 rejoins", &mut p0_changes, |l| {
        *l == Leadership::Follower {
            leader: Some("p1".into()),
        }
    })
    .await;
    quorum(&cluster).await;
    assert_eq!(
        retrying("participants", || p0.participants()).await,
        ["p1", "p2", "p0"]
    );
    assert!(p1.is_leader());
    for latch in [p0, p2, p1] {
        latch.close().await;
    }
    log.finish().await;
}

/// The selector that leads (waiting until one does).
async fn current_leader(selectors: &[LeaderSelector]) -> usize {
    let waits = selectors.iter().map(|s| {
        let mut leadership = s.watch();
        Box::pin(async move {
            let _ = leadership.wait_for(Leadership::is_leader).await;
        })
    });
    let (_, leader, _) = within("a recipe leader", futures::future::select_all(waits)).await;
    leader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn selector_terms_stay_fenced_and_ordered_across_leader_and_server_kills() {
    let cluster = ensemble().await;
    let admin = connect_preferring(&cluster, 1).await;
    let base = base_dir(&admin, "ensemble-terms").await;
    let path = format!("{base}/election");
    let terms = format!("{base}/terms");
    ensure(&admin, &terms).await;
    let work = Work::default();
    let mut clients = Vec::new();
    let mut selectors = Vec::new();
    for (who, id) in cluster.ids().into_iter().enumerate() {
        let client = connect_preferring(&cluster, id).await;
        let (terms, work) = (terms.clone(), work.clone());
        let selector = LeaderSelector::builder(&client, &path)
            .with_id(&format!("s{who}"))
            .start(move |ctx| {
                let (terms, work) = (terms.clone(), work.clone());
                async move {
                    let _worker = work.worker();
                    // A leader waits here, leading, while the budget is spent.
                    let unit = work.claim().await;
                    if term(&ctx, who, &terms).await {
                        unit.done();
                    }
                }
            })
            .unwrap();
        clients.push(client);
        selectors.push(selector);
    }
    let log = LeadershipLog::start(&selectors.iter().collect::<Vec<_>>());

    // One term at a time: a window of one.
    let stage = TERMS / 4;

    // The ensemble leader dies with a term in flight, and comes back.
    work.allow(stage + 1);
    work.reached(stage).await;
    let leader = cluster.leader().await.unwrap();
    cluster.kill(leader).await.unwrap();
    quorum(&cluster).await;
    work.allow(2 * stage + 1);
    work.reached(2 * stage).await;
    cluster.restart(leader).await.unwrap();
    quorum(&cluster).await;

    // Once the budget is spent the next recipe leader waits, leading: the server its client is
    // connected to dies. Its session moves to another server and it goes on leading.
    work.reached(2 * stage + 1).await;
    let current = current_leader(&selectors).await;
    let victim = wait_server_of(&cluster, &clients[current]).await;
    cluster.kill(victim).await.unwrap();
    quorum(&cluster).await;
    work.allow(3 * stage + 1);
    work.reached(3 * stage).await;
    cluster.restart(victim).await.unwrap();
    quorum(&cluster).await;
    work.allow(TERMS);
    work.reached(TERMS).await;

    for selector in selectors {
        selector.close().await;
    }
    log.finish_terms().await;

    // The fenced writes, in commit order: terms never interleave and tokens only go up; a term
    // cut short by a lost leadership is followed by a later term.
    let entries = term_log(&admin, &terms).await;
    let mut complete = 0;
    for (i, pair) in entries.windows(2).enumerate() {
        let ((t0, p0, w0), (t1, p1, w1)) = (&pair[0], &pair[1]);
        let phase = |p: &str| TERM_PHASES.iter().position(|x| *x == p).unwrap();
        if t0 == t1 {
            assert_eq!(w0, w1, "one term, two writers at {i}: {entries:#?}");
            assert_eq!(
                phase(p1),
                phase(p0) + 1,
                "term out of order at {i}: {entries:#?}"
            );
        } else {
            assert!(t1 > t0, "token went back at {i}: {entries:#?}");
            assert_eq!(
                phase(p1),
                0,
                "a term without its start at {i}: {entries:#?}"
            );
        }
    }
    for (_, phase, _) in &entries {
        complete += usize::from(phase == "end");
    }
    assert!(complete >= TERMS, "{complete} complete terms");
    let writers: std::collections::BTreeSet<_> = entries.iter().map(|(_, _, w)| w).collect();
    assert_eq!(writers.len(), 3, "leadership went round: {entries:#?}");
}

// ---------------------------------------------------------------------------------------------
// 3. ServiceRegistry caches and Config subscribers through a leader failover mid-stream.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    generation: u32,
}

const GENERATIONS: u32 = 300;
const SERVICE: &str = "echo";

/// `set` until it succeeds, waiting for the connection between tries.
async fn set_through_outages(config: &Config<Settings>, client: &Client, generation: u32) {
    let value = Settings { generation };
    within("a set through an outage", async {
        loop {
            match config.set(&value).await {
                Ok(_) => return,
                Err(Error::Client(e))
                    if e.is_retryable() || e == zk_client::Error::SessionExpired =>
                {
                    let mut states = client.state_watcher();
                    let _ = states.wait_for(|s| *s == SessionState::Connected).await;
                }
                Err(e) => panic!("set: {e}"),
            }
        }
    })
    .await
}

/// Reads `subscription` until generation `want`, checking generations never go backwards.
async fn wait_generation(what: &str, subscription: &mut Subscription<Settings>, want: u32) {
    let mut last = 0;
    within(what, async {
        while let Some(update) = subscription.next().await {
            let generation = match update {
                Ok(Some(v)) => v.value.generation,
                Ok(None) => continue,
                Err(e) => panic!("{what}: subscription error: {e}"),
            };
            assert!(
                generation >= last,
                "{what}: from {last} back to {generation}"
            );
            last = generation;
            if generation == want {
                return;
            }
        }
        panic!("{what}: subscription ended");
    })
    .await
}

fn generation_of(update: &Update<Settings>) -> Option<u32> {
    match update {
        Ok(Some(v)) => Some(v.value.generation),
        _ => None,
    }
}

async fn wait_ids(what: &str, provider: &ServiceProvider, want: &[&str]) {
    within(
        what,
        provider
            .cache()
            .wait_until(|list| list.iter().map(|i| i.id.as_str()).eq(want.iter().copied())),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: {e}"));
}

fn instance(id: &str) -> ServiceInstance {
    ServiceInstance::builder(SERVICE)
        .id(id)
        .address("127.0.0.1")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_caches_and_config_subscribers_converge_across_leader_failover() {
    let cluster = ensemble().await;
    let leader = cluster.leader().await.unwrap();
    let ids = cluster.ids();
    let base = unique("ensemble-registry");
    let path = format!("{}/settings", unique("ensemble-config"));

    // Instances a, b, c, one starting at each server.
    let mut registrations = Vec::new();
    let mut instance_clients = Vec::new();
    for (&id, name) in ids.iter().zip(["a", "b", "c"]) {
        let client = connect_preferring(&cluster, id).await;
        let registry = ServiceRegistry::new(&client, &base).unwrap();
        registrations.push(Some(registry.register(instance(name)).await.unwrap()));
        instance_clients.push(client);
    }
    // Consumers and subscribers, also spread over the servers.
    let mut providers = Vec::new();
    let mut subscriptions = Vec::new();
    let mut consumer_clients = Vec::new();
    for &id in &ids {
        let client = connect_preferring(&cluster, id).await;
        let registry = ServiceRegistry::new(&client, &base).unwrap();
        let provider = retrying("a provider", || {
            registry.provider(SERVICE, Strategy::RoundRobin)
        })
        .await;
        wait_ids("a, b, c", &provider, &["a", "b", "c"]).await;
        providers.push(provider);
        let config: Config<Settings> = Config::new(&client, &path).unwrap();
        subscriptions.push(config.subscribe());
        consumer_clients.push(client);
    }
    let publisher_client = connect_preferring(&cluster, ids[1]).await;
    let publisher: Config<Settings> = Config::new(&publisher_client, &path).unwrap();
    set_through_outages(&publisher, &publisher_client, 0).await;
    for (i, s) in subscriptions.iter_mut().enumerate() {
        wait_generation(&format!("subscriber {i}: first"), s, 0).await;
    }

    let mut membership = None;
    for generation in 1..=GENERATIONS {
        if generation == GENERATIONS / 3 {
            // The ensemble leader dies mid-stream, and the membership changes while it is down: b
            // leaves, d joins (on c's client).
            cluster.kill(leader).await.unwrap();
            let b = registrations[1].take().unwrap();
            let registry = ServiceRegistry::new(&instance_clients[2], &base).unwrap();
            membership = Some(tokio::spawn(async move {
                b.unregister().await.unwrap();
                registry.register(instance("d")).await.unwrap()
            }));
        }
        if generation == 2 * GENERATIONS / 3 {
            quorum(&cluster).await;
            cluster.restart(leader).await.unwrap();
        }
        set_through_outages(&publisher, &publisher_client, generation).await;
    }
    let _d = within("b leaves, d joins", membership.unwrap())
        .await
        .unwrap();
    quorum(&cluster).await;

    for (i, provider) in providers.iter().enumerate() {
        wait_ids(
            &format!("consumer {i}: a, c, d"),
            provider,
            &["a", "c", "d"],
        )
        .await;
    }
    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        wait_generation(&format!("subscriber {i}"), subscription, GENERATIONS).await;
        let latest = subscription.latest().unwrap();
        assert_eq!(generation_of(&latest), Some(GENERATIONS), "subscriber {i}");
    }
    // Every server holds the final state.
    for id in cluster.ids() {
        let client = connect_only(&cluster, id).await;
        read("sync", || client.sync(&path)).await;
        let registry = ServiceRegistry::new(&client, &base).unwrap();
        let found: Vec<String> = retrying("query", || registry.query(SERVICE))
            .await
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(found, ["a", "c", "d"], "server {id}");
        let config: Config<Settings> = Config::new(&client, &path).unwrap();
        let stored = retrying("get", || config.get()).await.unwrap();
        assert_eq!(stored.value.generation, GENERATIONS, "server {id}");
        client.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Semaphore and ReadWriteLock: a holder's session expired from outside, then a leader failover.
// ---------------------------------------------------------------------------------------------

const SEM_LEASES: usize = 2;
const SEM_TASKS: usize = 2;
const OCCUPANCY_ROUNDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn semaphore_and_rw_lock_are_released_by_session_expiry_and_survive_leader_failover() {
    let cluster = ensemble().await;
    let leader = cluster.leader().await.unwrap();
    let admin = connect_preferring(&cluster, leader).await;
    let base = base_dir(&admin, "ensemble-occupancy").await;
    let sem_path = format!("{base}/semaphore");
    let rw_path = format!("{base}/rw");
    let occupancy = Arc::new(Occupancy::create(&admin, &base, SEM_LEASES).await);
    let violations = Violations::default();
    let mut clients = Vec::new();
    for id in cluster.ids() {
        clients.push(connect_preferring(&cluster, id).await);
    }

    // Client 0 holds a lease and the write lock, marked, before anyone else asks.
    let c0 = clients[0].clone();
    let sem0 = Semaphore::new(&c0, &sem_path, SEM_LEASES).unwrap();
    let lease0 = retrying("a lease", || sem0.acquire()).await;
    claim_slot(&c0, &lease0, &occupancy, "held-lease", &violations)
        .await
        .unwrap();
    let rw0 = ReadWriteLock::new(&c0, &rw_path).unwrap();
    let write0 = retrying("the write lock", || rw0.write()).await;
    enter_rw(&c0, &write0, &occupancy, true, "held-writer", &violations)
        .await
        .unwrap();

    // Every client runs lease takers, a reader and a writer.
    let (sem_work, rw_work) = (Work::default(), Work::default());
    let mut tasks = Vec::new();
    for client in &clients {
        let semaphore = Semaphore::new(client, &sem_path, SEM_LEASES).unwrap();
        for _ in 0..SEM_TASKS {
            let (client, semaphore, occupancy) =
                (client.clone(), semaphore.clone(), occupancy.clone());
            let (violations, work) = (violations.clone(), sem_work.clone());
            tasks.push(tokio::spawn(async move {
                let _worker = work.worker();
                for _ in 0..OCCUPANCY_ROUNDS {
                    let unit = work.claim().await;
                    until_done("a lease", || {
                        lease_round(&client, &semaphore, &occupancy, &violations)
                    })
                    .await;
                    unit.done();
                }
            }));
        }
        let rw = ReadWriteLock::new(client, &rw_path).unwrap();
        for write in [false, true] {
            let (client, rw, occupancy) = (client.clone(), rw.clone(), occupancy.clone());
            let (violations, work) = (violations.clone(), rw_work.clone());
            tasks.push(tokio::spawn(async move {
                let _worker = work.worker();
                for _ in 0..OCCUPANCY_ROUNDS {
                    let unit = work.claim().await;
                    until_done("a read/write lock round", || {
                        rw_round(&client, &rw, &occupancy, write, &violations)
                    })
                    .await;
                    unit.done();
                }
            }));
        }
    }
    let sem_total = clients.len() * SEM_TASKS * OCCUPANCY_ROUNDS;
    let rw_total = clients.len() * 2 * OCCUPANCY_ROUNDS;
    // Every worker may have a unit in flight when a fault strikes.
    let (sem_window, rw_window) = (clients.len() * SEM_TASKS, clients.len() * 2);
    let (sem_stage, rw_stage) = (sem_total / 3, rw_total / 3);

    // The others take turns on the one free lease; nobody gets the read/write lock.
    sem_work.allow(sem_stage + sem_window);
    rw_work.allow(rw_stage + rw_window);
    sem_work.reached(sem_stage).await;
    assert_eq!(rw_work.done(), 0, "the write lock is held");

    // Client 0's session is expired from outside: its lease and its write lock are lost (and told
    // so), their nodes and marks vanish, the waiters go on.
    let old_session = c0.session_id();
    cluster.expire_session(old_session.0).await.unwrap();
    within("the lease lost", lease0.lost()).await;
    within("the write lock lost", write0.lost()).await;
    assert!(matches!(lease0.guarded_write(), Err(Error::LockLost(_))));
    assert!(matches!(write0.guarded_write(), Err(Error::LockLost(_))));
    rw_work.reached(rw_stage).await;

    // The ensemble leader dies with work in flight; more follows on the survivors; it comes back.
    sem_work.allow(2 * sem_stage + sem_window);
    rw_work.allow(2 * rw_stage + rw_window);
    cluster.kill(leader).await.unwrap();
    quorum(&cluster).await;
    sem_work.reached(2 * sem_stage).await;
    rw_work.reached(2 * rw_stage).await;
    cluster.restart(leader).await.unwrap();
    quorum(&cluster).await;
    sem_work.allow(sem_total);
    rw_work.allow(rw_total);

    for task in tasks {
        within("lease and lock workers", task).await.unwrap();
    }
    violations.assert_none();
    assert_ne!(c0.session_id(), old_session);
    drop((lease0, write0));
    // Every lease, lock node and mark is gone.
    wait_children(&admin, &format!("{sem_path}/leases"), 0).await;
    wait_children(&admin, &rw_path, 0).await;
    for dir in [&occupancy.slots, &occupancy.readers, &occupancy.writers] {
        wait_children(&admin, dir, 0).await;
    }
}
