//! The tree cache mirrors a subtree through creates, data changes and deletes, a server kill +
//! restart (changes made while it is disconnected are picked up) and a session expiry — with a
//! persistent-recursive watch and with per-node watches. Barriers and the queue are tested here
//! too, since they share the watch-and-re-read pattern. Every test runs against each server of
//! `harness::servers`.

mod harness;

/// Creates `/recipes`, the parent of every test path.
async fn recipes_root(client: &zk_client::Client) {
    match client
        .create("/recipes", b"", &zk_client::CreateOptions::persistent())
        .await
    {
        Ok(_) | Err(zk_client::Error::NodeExists) => {}
        Err(e) => panic!("create /recipes: {e}"),
    }
}

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use harness::*;
use zk_client::{Client, CreateOptions, SessionState};
use zk_recipes::barrier::{Barrier, DoubleBarrier};
use zk_recipes::cache::{CacheEvent, CacheState, ChildData, TreeCache, WatchMode};
use zk_recipes::queue::Queue;

/// Every node under `root` (inclusive) and its data, read directly from the server.
async fn server_tree(client: &Client, root: &str) -> BTreeMap<String, Vec<u8>> {
    let mut tree = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        let Ok((data, _)) = client.get_data(&path).await else {
            continue;
        };
        if let Ok(children) = client.get_children(&path).await {
            todo.extend(children.iter().map(|c| format!("{path}/{c}")));
        }
        tree.insert(path, data);
    }
    tree
}

fn same(cache: &BTreeMap<String, ChildData>, truth: &BTreeMap<String, Vec<u8>>) -> bool {
    cache.len() == truth.len()
        && cache
            .iter()
            .all(|(path, node)| truth.get(path) == Some(&node.data))
}

/// Waits until the cache mirrors what the server holds now.
async fn converge(what: &str, cache: &TreeCache, client: &Client, root: &str) {
    let truth = server_tree(client, root).await;
    within(what, cache.wait_until(|nodes| same(nodes, &truth)))
        .await
        .unwrap();
}

async fn create(client: &Client, path: &str, data: &[u8]) {
    client
        .create(path, data, &CreateOptions::persistent())
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tree_cache_mirrors_a_subtree_through_changes_restart_and_expiry() {
    for mut server in servers("tree_cache").await {
        for mode in [WatchMode::Auto, WatchMode::PerNode] {
            let name = format!("{} {mode:?}", server.name());
            let proxy = Proxy::start(server.addr()).await;
            let writer = connect(&server.connect_string()).await;
            recipes_root(&writer).await;
            let reader = connect(&proxy.connect_string()).await;
            let root = format!("{}/tree", unique("cache"));
            create(&writer, root.rsplit_once('/').unwrap().0, b"").await;

            // The root does not exist yet: the cache starts empty and picks it up.
            let cache = TreeCache::builder(&reader, &root)
                .with_watch_mode(mode)
                .start()
                .await
                .unwrap();
            assert!(cache.is_empty(), "{name}");
            assert_eq!(cache.state(), CacheState::Current);
            let mut events = cache.events();
            create(&writer, &root, b"root").await;
            create(&writer, &format!("{root}/a"), b"a0").await;
            create(&writer, &format!("{root}/a/x"), b"x0").await;
            create(&writer, &format!("{root}/b"), b"b0").await;
            converge(&format!("{name}: creates"), &cache, &writer, &root).await;
            assert_eq!(cache.children(&root), ["a", "b"]);
            let first = within("first event", events.next()).await.unwrap();
            assert!(
                matches!(&first, CacheEvent::NodeCreated(n) if n.path == root),
                "{name}: {first:?}"
            );

            writer
                .set_data(&format!("{root}/a/x"), b"x1", None)
                .await
                .unwrap();
            writer.delete(&format!("{root}/b"), None).await.unwrap();
            create(&writer, &format!("{root}/c"), b"c0").await;
            converge(&format!("{name}: set+delete"), &cache, &writer, &root).await;
            assert_eq!(cache.get(&format!("{root}/a/x")).unwrap().data, b"x1");

            // Cut the reader off; change things it cannot hear about; let it back.
            let mut states = reader.state_stream();
            proxy.block();
            wait_state(&mut states, SessionState::Disconnected).await;
            writer
                .set_data(&format!("{root}/a"), b"a1", None)
                .await
                .unwrap();
            writer.delete(&format!("{root}/a/x"), None).await.unwrap();
            create(&writer, &format!("{root}/d"), b"d0").await;
            proxy.unblock();
            wait_state(&mut states, SessionState::Connected).await;
            converge(&format!("{name}: after reconnect"), &cache, &writer, &root).await;

            // Server kill + restart: both clients reconnect; changes after it are followed.
            server.kill().await;
            server.restart().await;
            let mut writer_states = writer.state_watcher();
            within(
                "writer back",
                writer_states.wait_for(|s| *s == SessionState::Connected),
            )
            .await
            .unwrap();
            create(&writer, &format!("{root}/e"), b"e0").await;
            writer.set_data(&root, b"root1", None).await.unwrap();
            converge(&format!("{name}: after restart"), &cache, &writer, &root).await;

            // Session expiry: every watch is gone; the cache rebuilds them on the new session.
            expire(&reader, &proxy, &server.connect_string()).await;
            writer.delete(&format!("{root}/c"), None).await.unwrap();
            create(&writer, &format!("{root}/f"), b"f0").await;
            converge(&format!("{name}: after expiry"), &cache, &writer, &root).await;
            within("current", cache.wait_current()).await.unwrap();
            create(&writer, &format!("{root}/f/g"), b"g0").await;
            converge(
                &format!("{name}: on the new session"),
                &cache,
                &writer,
                &root,
            )
            .await;

            // Deleting the whole subtree empties the cache; re-creating the root refills it.
            for path in ["f/g", "f", "e", "d", "a"] {
                writer
                    .delete(&format!("{root}/{path}"), None)
                    .await
                    .unwrap();
            }
            writer.delete(&root, None).await.unwrap();
            within("empty", cache.wait_until(|n| n.is_empty()))
                .await
                .unwrap();
            create(&writer, &root, b"again").await;
            converge(&format!("{name}: root re-created"), &cache, &writer, &root).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tree_cache_respects_max_depth() {
    for server in servers("tree_cache_depth").await {
        let client = connect(&server.connect_string()).await;
        recipes_root(&client).await;
        let root = unique("cache-depth");
        create(&client, &root, b"").await;
        create(&client, &format!("{root}/a"), b"").await;
        create(&client, &format!("{root}/a/deep"), b"").await;
        for mode in [WatchMode::Auto, WatchMode::PerNode] {
            let cache = TreeCache::builder(&client, &root)
                .with_max_depth(1)
                .with_watch_mode(mode)
                .start()
                .await
                .unwrap();
            create(&client, &format!("{root}/b"), b"").await;
            create(&client, &format!("{root}/b/deep"), b"").await;
            within(
                "b",
                cache.wait_until(|n| n.contains_key(&format!("{root}/b"))),
            )
            .await
            .unwrap();
            let paths: Vec<String> = cache.snapshot().into_keys().collect();
            assert_eq!(
                paths,
                [root.clone(), format!("{root}/a"), format!("{root}/b")],
                "{mode:?}"
            );
            client
                .delete(&format!("{root}/b/deep"), None)
                .await
                .unwrap();
            client.delete(&format!("{root}/b"), None).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn barrier_releases_waiters_and_double_barrier_enters_and_leaves_together() {
    for server in servers("barriers").await {
        let name = server.name();
        let base = unique("barrier");
        let coordinator = connect(&server.connect_string()).await;
        recipes_root(&coordinator).await;
        let barrier = Barrier::new(&coordinator, &format!("{base}/gate")).unwrap();
        barrier.set().await.unwrap();
        assert!(barrier.is_set().await.unwrap());

        const WAITERS: usize = 3;
        let released = Arc::new(Mutex::new(0usize));
        let mut tasks = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..WAITERS {
            let client = connect(&server.connect_string()).await;
            let barrier = Barrier::new(&client, &format!("{base}/gate")).unwrap();
            let released = released.clone();
            clients.push(client);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await.unwrap();
                *released.lock().unwrap() += 1;
            }));
        }
        // Nobody passes while it is up (a waiter that did would have counted itself).
        assert_eq!(*released.lock().unwrap(), 0, "{name}");
        barrier.remove().await.unwrap();
        for task in tasks {
            within("waiter released", task).await.unwrap();
        }
        assert_eq!(*released.lock().unwrap(), WAITERS);

        // Double barrier: nobody enters before all have arrived; all leave together.
        const MEMBERS: usize = 3;
        let path = format!("{base}/double");
        let inside = Arc::new(Mutex::new(Vec::<usize>::new()));
        let mut tasks = Vec::new();
        for i in 0..MEMBERS {
            let client = connect(&server.connect_string()).await;
            let barrier = DoubleBarrier::new(&client, &path, MEMBERS).unwrap();
            let inside_task = inside.clone();
            tasks.push(tokio::spawn(async move {
                let entered = barrier.enter().await.unwrap();
                let count_at_entry = {
                    let mut inside = inside_task.lock().unwrap();
                    inside.push(i);
                    inside.len()
                };
                entered.leave().await.unwrap();
                let _keep = client;
                count_at_entry
            }));
            if i + 1 < MEMBERS {
                // Not everyone is here: the members so far are all still waiting.
                wait_children(&coordinator, &path, i + 1).await;
                assert!(inside.lock().unwrap().is_empty(), "{name}: entered early");
            }
        }
        for task in tasks {
            within("double barrier member", task).await.unwrap();
        }
        assert_eq!(inside.lock().unwrap().len(), MEMBERS);
        // Everyone left: no member node and no ready node remain.
        assert_eq!(
            wait_children(&coordinator, &path, 0).await.len(),
            0,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_is_fifo_and_delivers_each_item_once_to_several_consumers() {
    for server in servers("queue").await {
        let name = server.name();
        let path = unique("queue");
        let producer_client = connect(&server.connect_string()).await;
        recipes_root(&producer_client).await;
        let queue: Queue<u32> = Queue::new(&producer_client, &path).unwrap();
        assert_eq!(queue.try_take().await.unwrap(), None, "{name}: empty");

        // FIFO with one consumer.
        for i in 0..5 {
            queue.put(&i).await.unwrap();
        }
        assert_eq!(queue.len().await.unwrap(), 5);
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(within("take", queue.take()).await.unwrap());
        }
        assert_eq!(got, [0, 1, 2, 3, 4], "{name}");

        // Several consumers, waiting on an empty queue, then racing for items.
        const CONSUMERS: usize = 4;
        const ITEMS: u32 = 60;
        let taken = Arc::new(Mutex::new(Vec::<(usize, u32)>::new()));
        let mut tasks = Vec::new();
        for c in 0..CONSUMERS {
            let client = connect(&server.connect_string()).await;
            let queue: Queue<u32> = Queue::new(&client, &path).unwrap();
            let taken = taken.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let item = queue.take().await.unwrap();
                    if item == u32::MAX {
                        return client;
                    }
                    taken.lock().unwrap().push((c, item));
                }
            }));
        }
        for i in 0..ITEMS {
            queue.put(&i).await.unwrap();
        }
        for _ in 0..CONSUMERS {
            queue.put(&u32::MAX).await.unwrap();
        }
        for task in tasks {
            within("consumer", task).await.unwrap();
        }
        let taken = taken.lock().unwrap().clone();
        let mut items: Vec<u32> = taken.iter().map(|(_, i)| *i).collect();
        items.sort();
        assert_eq!(
            items,
            (0..ITEMS).collect::<Vec<_>>(),
            "{name}: each item exactly once"
        );
        // Per consumer, items come in queue order.
        for c in 0..CONSUMERS {
            let mine: Vec<u32> = taken
                .iter()
                .filter(|(who, _)| *who == c)
                .map(|(_, i)| *i)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "{name}: consumer {c} out of order: {mine:?}"
            );
        }
        assert!(queue.is_empty().await.unwrap());
        let timed = queue
            .take_timeout(std::time::Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(timed, None);
    }
}
