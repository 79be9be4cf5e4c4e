//! Pub/sub configuration and the shared counter under failure: subscribers end on the last of
//! 1,000 rapid updates across a server kill + restart and across a session expiry; compare-and-set
//! conflicts; counter adds under contention lose nothing. Every test runs against each server of
//! `harness::servers`.

mod harness;

use std::time::Duration;

use futures::StreamExt;
use harness::*;
use serde::{Deserialize, Serialize};
use zk_client::{Client, SessionState};
use zk_recipes::config::{Config, Subscription, Update};
use zk_recipes::counter::SharedCount;
use zk_recipes::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    generation: u32,
    note: String,
}

fn settings(generation: u32) -> Settings {
    Settings {
        generation,
        note: format!("update {generation}"),
    }
}

const UPDATES: u32 = 1000;
const SUBSCRIBERS: usize = 3;

/// `set` until it succeeds, waiting for the connection between tries (the server may be down).
async fn set_through_outages(config: &Config<Settings>, client: &Client, value: &Settings) {
    within("a set through an outage", async {
        loop {
            match config.set(value).await {
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

/// Reads `subscription` until it yields generation `want`; checks the generations it sees never
/// go backwards.
async fn wait_generation(what: &str, subscription: &mut Subscription<Settings>, want: u32) {
    let mut last = None;
    within(what, async {
        while let Some(update) = subscription.next().await {
            let generation = generation_of(&update);
            if let (Some(prev), Some(now)) = (last, generation) {
                assert!(now >= prev, "{what}: went back from {prev} to {now}");
            }
            last = generation.or(last);
            if generation == Some(want) {
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
        Ok(None) => None,
        Err(e) => panic!("subscription error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_end_on_the_last_of_1000_updates_across_a_server_restart() {
    for mut server in servers("config_restart").await {
        let name = server.name();
        let publisher_client = connect(&server.connect_string()).await;
        let path = format!("{}/settings", unique("config"));
        let publisher: Config<Settings> = Config::new(&publisher_client, &path).unwrap();
        publisher.set(&settings(0)).await.unwrap();

        let mut clients = Vec::new();
        let mut subscriptions = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let client = connect(&server.connect_string()).await;
            let config: Config<Settings> = Config::new(&client, &path).unwrap();
            let mut subscription = config.subscribe();
            // The current value comes first.
            let first = within("first value", subscription.next()).await.unwrap();
            assert_eq!(generation_of(&first), Some(0), "{name}");
            subscriptions.push(subscription);
            clients.push(client);
        }

        for generation in 1..=UPDATES {
            if generation == UPDATES / 2 {
                server.kill().await;
                server.restart().await;
            }
            set_through_outages(&publisher, &publisher_client, &settings(generation)).await;
        }
        for (i, subscription) in subscriptions.iter_mut().enumerate() {
            wait_generation(&format!("{name}: subscriber {i}"), subscription, UPDATES).await;
            let latest = subscription.latest().unwrap();
            assert_eq!(generation_of(&latest), Some(UPDATES), "{name}");
        }
        let stored = publisher.get().await.unwrap().unwrap();
        assert_eq!(stored.value, settings(UPDATES), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_whose_session_expired_gets_the_value_written_meanwhile() {
    for server in servers("config_expiry").await {
        let name = server.name();
        let proxy = Proxy::start(server.addr()).await;
        let subscriber_client = connect(&proxy.connect_string()).await;
        let publisher_client = connect(&server.connect_string()).await;
        let path = format!("{}/settings", unique("config-expiry"));
        let publisher: Config<Settings> = Config::new(&publisher_client, &path).unwrap();
        let config: Config<Settings> = Config::new(&subscriber_client, &path).unwrap();

        let mut subscription = config.subscribe();
        let first = within("first value", subscription.next()).await.unwrap();
        assert_eq!(first, Ok(None), "{name}: nothing published yet");
        publisher.set(&settings(1)).await.unwrap();
        wait_generation(&format!("{name}: gen 1"), &mut subscription, 1).await;

        // Cut the subscriber off, write while it cannot hear, then expire its session.
        let mut states = subscriber_client.state_stream();
        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        publisher.set(&settings(2)).await.unwrap();
        publisher.set(&settings(3)).await.unwrap();
        proxy.unblock();
        expire(&subscriber_client, &proxy, &server.connect_string()).await;
        wait_generation(&format!("{name}: gen 3 after expiry"), &mut subscription, 3).await;

        // And it keeps following on the new session.
        publisher.set(&settings(4)).await.unwrap();
        wait_generation(&format!("{name}: gen 4"), &mut subscription, 4).await;
        publisher.delete(None).await.unwrap();
        let gone = within("deletion", subscription.next()).await.unwrap();
        assert_eq!(gone, Ok(None), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_set_detects_every_conflict() {
    for server in servers("config_cas").await {
        let name = server.name();
        let client = connect(&server.connect_string()).await;
        let path = format!("{}/deep/settings", unique("config-cas"));
        let config: Config<Settings> = Config::new(&client, &path).unwrap();

        let v0 = config.compare_and_set(&settings(0), None).await.unwrap();
        assert_eq!(v0.version, 0, "{name}");
        let again = config.compare_and_set(&settings(9), None).await;
        assert_eq!(
            again.unwrap_err(),
            Error::Client(zk_client::Error::NodeExists),
            "{name}"
        );
        let v1 = config.compare_and_set(&settings(1), Some(0)).await.unwrap();
        assert_eq!(v1.version, 1);
        let stale = config.compare_and_set(&settings(9), Some(0)).await;
        assert_eq!(
            stale.unwrap_err(),
            Error::Client(zk_client::Error::BadVersion),
            "{name}"
        );
        assert_eq!(config.get().await.unwrap().unwrap().value, settings(1));

        // Concurrent read-modify-writes from several clients: none lost.
        const WRITERS: u32 = 4;
        const EACH: u32 = 10;
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let client = connect(&server.connect_string()).await;
            let config: Config<Settings> = Config::new(&client, &path).unwrap();
            tasks.push(tokio::spawn(async move {
                for _ in 0..EACH {
                    config
                        .update(|old| settings(old.map_or(0, |s| s.generation) + 1))
                        .await
                        .unwrap();
                }
                client
            }));
        }
        for task in tasks {
            within("writers", task).await.unwrap();
        }
        let last = config.get().await.unwrap().unwrap();
        assert_eq!(last.value.generation, 1 + WRITERS * EACH, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counter_cas_under_contention_loses_no_add() {
    for server in servers("counter").await {
        let name = server.name();
        let path = format!("{}/count", unique("counter"));
        const CLIENTS: usize = 4;
        const TASKS: usize = 3;
        const ADDS: i32 = 15;
        let watcher_client = connect(&server.connect_string()).await;
        let counter = SharedCount::new(&watcher_client, &path, 100).await.unwrap();
        let mut subscription = counter.subscribe();
        let first = within("first", subscription.next()).await.unwrap().unwrap();
        assert_eq!(first.map(|v| v.value), Some(100), "{name}: seeded");

        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let client = connect(&server.connect_string()).await;
            // A second `new` on an existing counter keeps its value.
            let counter = SharedCount::new(&client, &path, -5).await.unwrap();
            for _ in 0..TASKS {
                let counter = counter.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..ADDS {
                        counter.add(1).await.unwrap();
                    }
                }));
            }
        }
        for task in tasks {
            within("adders", task).await.unwrap();
        }
        let expected = 100 + (CLIENTS * TASKS) as i32 * ADDS;
        let now = counter.get().await.unwrap();
        assert_eq!(now.value, expected, "{name}");
        // try_set with a stale version fails; with the current one it wins.
        assert!(!counter.try_set(0, now.version - 1).await.unwrap());
        assert!(counter.try_set(7, now.version).await.unwrap());
        // The node holds Curator's layout: 4 bytes, big-endian.
        let (raw, _) = watcher_client.get_data(&path).await.unwrap();
        assert_eq!(raw, 7i32.to_be_bytes(), "{name}");
        within("subscriber sees 7", async {
            while let Some(update) = subscription.next().await {
                if update.unwrap().map(|v| v.value) == Some(7) {
                    return;
                }
            }
            panic!("subscription ended");
        })
        .await;
        let _ = Duration::ZERO;
    }
}
