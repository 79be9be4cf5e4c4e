//! The load-balancing registry: three instances register; consumers on other clients balance
//! across them; an instance that closes its client leaves at once, one whose process is cut off
//! (a crash, as the server sees it) leaves every cache within the session timeout, and one whose
//! session expires re-registers on its new session. Every test runs against each server of
//! `harness::servers`.

mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::*;
use tokio::time::Instant;
use zk_client::{Client, SessionState};
use zk_recipes::registry::{
    Balancer, DownPolicy, Registration, ServiceInstance, ServiceProvider, ServiceRegistry, Strategy,
};

const SERVICE: &str = "echo";
const CONSUMERS: usize = 2;

fn ids(provider: &ServiceProvider) -> Vec<String> {
    provider.instances().iter().map(|i| i.id.clone()).collect()
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

struct Instance {
    client: Client,
    registration: Option<Registration>,
    proxy: Proxy,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumers_balance_across_instances_and_dead_ones_leave_every_cache() {
    for server in servers("registry").await {
        let name = server.name();
        let base = unique("registry");

        // Three instances, each with its own client behind its own proxy (so it can be cut off).
        let mut instances = Vec::new();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let proxy = Proxy::start(server.addr()).await;
            let client = connect(&proxy.connect_string()).await;
            let registry = ServiceRegistry::new(&client, &base).unwrap();
            let instance = ServiceInstance::builder(SERVICE)
                .id(*id)
                .address("127.0.0.1")
                .port(7000 + i as u16)
                .metadata("index", i.to_string())
                .build();
            let registration = registry.register(instance).await.unwrap();
            assert_eq!(registration.path(), format!("{base}/{SERVICE}/{id}"));
            instances.push(Instance {
                client,
                registration: Some(registration),
                proxy,
            });
        }

        // Consumers on their own clients.
        let mut consumer_clients = Vec::new();
        let mut providers = Vec::new();
        for _ in 0..CONSUMERS {
            let client = connect(&server.connect_string()).await;
            let registry = ServiceRegistry::new(&client, &base).unwrap();
            providers.push(
                registry
                    .provider(SERVICE, Strategy::RoundRobin)
                    .await
                    .unwrap(),
            );
            consumer_clients.push(client);
        }
        for (i, provider) in providers.iter().enumerate() {
            wait_ids(
                &format!("{name}: consumer {i} sees 3"),
                provider,
                &["a", "b", "c"],
            )
            .await;
            // Round-robin spreads requests evenly.
            let mut counts = BTreeMap::new();
            for _ in 0..30 {
                let picked = provider.pick().unwrap();
                *counts.entry(picked.id.clone()).or_insert(0) += 1;
                assert_eq!(
                    picked.port,
                    Some(7000 + picked.metadata()["index"].parse::<u16>().unwrap())
                );
            }
            assert_eq!(
                counts.values().copied().collect::<Vec<_>>(),
                [10, 10, 10],
                "{name}"
            );
        }
        let registry = ServiceRegistry::new(&consumer_clients[0], &base).unwrap();
        assert_eq!(registry.names().await.unwrap(), [SERVICE]);
        assert_eq!(registry.query(SERVICE).await.unwrap().len(), 3);

        // "a" shuts down cleanly: its client closes, its node goes at once.
        instances[0].client.close().await;
        for (i, provider) in providers.iter().enumerate() {
            wait_ids(
                &format!("{name}: consumer {i} drops a"),
                provider,
                &["b", "c"],
            )
            .await;
        }
        drop(instances[0].registration.take());

        // "c" crashes: cut off from the server without closing; the server expires its session
        // and deletes its node, and every consumer drops it within the session timeout.
        let cut = Instant::now();
        instances[2].proxy.block();
        for (i, provider) in providers.iter().enumerate() {
            wait_ids(&format!("{name}: consumer {i} drops c"), provider, &["b"]).await;
        }
        let took = cut.elapsed();
        // The server checks expiry once per tick: allow two ticks and scheduling slack.
        let bound = SESSION_TIMEOUT + TICK * 2 + Duration::from_secs(1);
        assert!(
            took <= bound,
            "{name}: crashed instance left after {took:?} (bound {bound:?})"
        );
        // Traffic goes to the survivor only.
        for provider in &providers {
            assert!((0..10).all(|_| provider.pick().unwrap().id == "b"));
        }

        // "b"'s session expires while it lives on: it re-registers on its new session.
        let b = &instances[1];
        let old_session = b.client.session_id();
        expire(&b.client, &b.proxy, &server.connect_string()).await;
        let mut states = b.client.state_watcher();
        within(
            "b reconnects",
            states.wait_for(|s| *s == SessionState::Connected),
        )
        .await
        .unwrap();
        for (i, provider) in providers.iter().enumerate() {
            wait_ids(
                &format!("{name}: consumer {i} sees b again"),
                provider,
                &["b"],
            )
            .await;
        }
        let path = format!("{base}/{SERVICE}/b");
        within("b re-registered", async {
            loop {
                let (stat, watcher) = consumer_clients[0].exists_w(&path).await.unwrap();
                if stat.is_some_and(|s| s.ephemeral_owner == b.client.session_id().0) {
                    return;
                }
                watcher.await;
            }
        })
        .await;
        assert_ne!(b.client.session_id(), old_session);

        // Unregistering removes it for everyone.
        instances[1]
            .registration
            .take()
            .unwrap()
            .unregister()
            .await
            .unwrap();
        for provider in &providers {
            wait_ids(&format!("{name}: b unregistered"), provider, &[]).await;
            assert_eq!(provider.pick(), None);
        }
        assert!(ids(&providers[0]).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strategies_and_down_instances_on_a_live_registry() {
    for server in servers("registry_strategies").await {
        let name = server.name();
        let base = unique("registry-strategies");
        let client = connect(&server.connect_string()).await;
        let registry = ServiceRegistry::new(&client, &base).unwrap();
        let mut registrations = Vec::new();
        for (id, weight) in [("light", 1), ("heavy", 3), ("off", 0)] {
            let instance = ServiceInstance::builder(SERVICE)
                .id(id)
                .weight(weight)
                .build();
            registrations.push(registry.register(instance).await.unwrap());
        }
        let weighted = registry
            .provider_with(SERVICE, Balancer::with_seed(Strategy::Weighted, 11))
            .await
            .unwrap();
        wait_ids(
            &format!("{name}: three"),
            &weighted,
            &["heavy", "light", "off"],
        )
        .await;
        let heavy = (0..400)
            .filter(|_| weighted.pick().unwrap().id == "heavy")
            .count();
        assert!(
            (240..=360).contains(&heavy),
            "{name}: heavy picked {heavy}/400"
        );

        // Two errors mark "heavy" down: the sticky provider moves away and stays away.
        let balancer = Balancer::with_seed(Strategy::Sticky, 3).with_down_policy(DownPolicy {
            timeout: Duration::from_secs(3600),
            error_threshold: 2,
        });
        let sticky = registry.provider_with(SERVICE, balancer).await.unwrap();
        let first = sticky.pick().unwrap();
        assert!((0..10).all(|_| sticky.pick().unwrap().id == first.id));
        sticky.note_error(&first);
        sticky.note_error(&first);
        assert!(sticky.balancer().is_down(&first));
        let second = sticky.pick().unwrap();
        assert_ne!(second.id, first.id, "{name}");

        // A disabled instance (Curator's `enabled: false`) is never picked.
        let update = registrations[0].instance().clone();
        let disabled = ServiceInstance {
            enabled: false,
            ..update
        };
        registrations[0].update(disabled).await.unwrap();
        let round_robin = registry
            .provider(SERVICE, Strategy::RoundRobin)
            .await
            .unwrap();
        within(
            "light disabled",
            round_robin
                .cache()
                .wait_until(|l| l.iter().any(|i| i.id == "light" && !i.enabled)),
        )
        .await
        .unwrap();
        assert!((0..20).all(|_| round_robin.pick().unwrap().id != "light"));
    }
}
