//! Watches of each kind fire for the right events; removal and dropping unregister them.

mod common;

use common::*;
use zk_client::{AddWatchMode, CreateOptions, Error, EventType, WatcherType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_watches_fire_once_for_their_events() {
    for server in servers("one_shot_watches_fire_once_for_their_events") {
        let c = connect(&server.connect_string()).await;
        let other = connect(&server.connect_string()).await;
        let base = unique("w1");
        let p = |s: &str| format!("{base}{s}");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();

        // exists on a missing node: NodeCreated.
        let (stat, created) = c.exists_w(&p("/n")).await.unwrap();
        assert_eq!(stat, None);
        other
            .create(&p("/n"), b"1", &CreateOptions::persistent())
            .await
            .unwrap();
        let e = within("NodeCreated", created).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeCreated, p("/n").as_str())
        );

        // get_data: NodeDataChanged; exists on an existing node: the same.
        let (_, _, changed) = c.get_data_w(&p("/n")).await.unwrap();
        let (_, changed2) = c.exists_w(&p("/n")).await.unwrap();
        other.set_data(&p("/n"), b"2", None).await.unwrap();
        assert_eq!(
            within("data", changed).await.event_type,
            EventType::NodeDataChanged
        );
        assert_eq!(
            within("exists", changed2).await.event_type,
            EventType::NodeDataChanged
        );

        // get_children: NodeChildrenChanged.
        let (kids, _, children) = c.get_children_w(&base).await.unwrap();
        assert_eq!(kids, ["n"]);
        other
            .create(&p("/m"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let e = within("children", children).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeChildrenChanged, base.clone())
        );

        // NodeDeleted reaches data and child watchers.
        let (_, _, data_w) = c.get_data_w(&p("/m")).await.unwrap();
        let (_, _, child_w) = c.get_children_w(&p("/m")).await.unwrap();
        other.delete(&p("/m"), None).await.unwrap();
        assert_eq!(
            within("deleted", data_w).await.event_type,
            EventType::NodeDeleted
        );
        assert_eq!(
            within("deleted", child_w).await.event_type,
            EventType::NodeDeleted
        );

        // Call order is wire order: a watch set before our own write fires for it.
        let watch = c.get_data_w(&p("/n"));
        let write = c.set_data(&p("/n"), b"3", None);
        let (_, _, w) = watch.await.unwrap();
        write.await.unwrap();
        assert_eq!(
            within("own write", w).await.event_type,
            EventType::NodeDataChanged
        );

        // A failed read leaves no watch behind (getData on a missing node).
        assert_eq!(c.get_data_w(&p("/gone")).await.err(), Some(Error::NoNode));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_and_recursive_watches_see_every_change() {
    for server in servers("persistent_and_recursive_watches_see_every_change") {
        let c = connect(&server.connect_string()).await;
        let other = connect(&server.connect_string()).await;
        let base = unique("wp");
        let p = |s: &str| format!("{base}{s}");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        // Different paths: Apache 3.8 keeps one watch mode per path and session (ZOOKEEPER-4466).
        let (n, t) = (p("/n"), p("/t"));
        c.create(&n, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        c.create(&t, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let mut node = c.add_watch(&n, AddWatchMode::Persistent).await.unwrap();
        let mut tree = c
            .add_watch(&t, AddWatchMode::PersistentRecursive)
            .await
            .unwrap();

        for root in [&n, &t] {
            other.set_data(root, b"1", None).await.unwrap();
            other.set_data(root, b"2", None).await.unwrap();
            other
                .create(&format!("{root}/a"), b"", &CreateOptions::persistent())
                .await
                .unwrap();
        }
        other
            .create(&format!("{t}/a/b"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other
            .set_data(&format!("{t}/a/b"), b"x", None)
            .await
            .unwrap();
        other.delete(&format!("{t}/a/b"), None).await.unwrap();

        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = next("persistent event", &mut node).await;
            seen.push((e.event_type, e.path));
        }
        assert_eq!(
            seen,
            [
                (EventType::NodeDataChanged, n.clone()),
                (EventType::NodeDataChanged, n.clone()),
                (EventType::NodeChildrenChanged, n.clone()),
            ]
        );
        let mut seen = Vec::new();
        for _ in 0..6 {
            let e = next("recursive event", &mut tree).await;
            seen.push((e.event_type, e.path));
        }
        assert_eq!(
            seen,
            [
                (EventType::NodeDataChanged, t.clone()),
                (EventType::NodeDataChanged, t.clone()),
                (EventType::NodeCreated, format!("{t}/a")),
                (EventType::NodeCreated, format!("{t}/a/b")),
                (EventType::NodeDataChanged, format!("{t}/a/b")),
                (EventType::NodeDeleted, format!("{t}/a/b")),
            ],
            "recursive watches get no NodeChildrenChanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_and_dropping_watchers_unregisters_them() {
    for server in servers("removing_and_dropping_watchers_unregisters_them") {
        let c = connect(&server.connect_string()).await;
        let base = unique("wr");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let watches = |s: &TestServer| {
            let out = s.four_letter("wchs");
            out.lines()
                .find_map(|l| {
                    l.strip_prefix("Total watches:")
                        .map(|n| n.trim().parse::<u32>().unwrap())
                })
                .unwrap_or_else(|| panic!("no watch count in {out:?}"))
        };
        let before = watches(&server);

        // removeWatches: the local watcher learns it was removed.
        let (_, _, w) = c.get_data_w(&base).await.unwrap();
        c.remove_watches(&base, WatcherType::Data).await.unwrap();
        let e = within("removed", w).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::DataWatchRemoved, base.as_str())
        );
        assert_eq!(
            c.remove_watches(&base, WatcherType::Data).await,
            Err(Error::NoWatcher)
        );

        let mut pw = c
            .add_watch(&base, AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        c.remove_watches(&base, WatcherType::Any).await.unwrap();
        assert_eq!(
            next("removed", &mut pw).await.event_type,
            EventType::PersistentWatchRemoved
        );

        // Dropping the last persistent watcher removes the server's watch. Commands are ordered,
        // so once a later request is answered the removal has been processed.
        let pw = c.add_watch(&base, AddWatchMode::Persistent).await.unwrap();
        c.sync(&base).await.unwrap();
        assert!(watches(&server) > before);
        drop(pw);
        c.sync(&base).await.unwrap();
        assert_eq!(watches(&server), before);
    }
}
