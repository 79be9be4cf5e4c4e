//! Connection loss and server restarts: the session resumes, requests in flight fail with
//! ConnectionLoss (never silently retried), and every watch is re-registered — including one-shot
//! watches on nodes changed while the client was away and persistent-recursive watches.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use zk_client::{AddWatchMode, CreateOptions, Error, EventType, KeeperState, SessionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_fire_for_changes_made_while_disconnected() {
    for server in servers("watches_fire_for_changes_made_while_disconnected") {
        let proxy = Proxy::start(server.addr()).await;
        let c = connect(&proxy.connect_string()).await;
        let other = connect(&server.connect_string()).await;
        let base = unique("rw");
        let p = |s: &str| format!("{base}{s}");
        for n in ["", "/data", "/kids", "/tree", "/p"] {
            c.create(&p(n), b"", &CreateOptions::persistent())
                .await
                .unwrap();
        }
        let (_, _, data_w) = c.get_data_w(&p("/data")).await.unwrap();
        let (_, exist_w) = c.exists_w(&p("/missing")).await.unwrap();
        let (_, _, child_w) = c.get_children_w(&p("/kids")).await.unwrap();
        let mut tree = c
            .add_watch(&p("/tree"), AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        let mut node = c
            .add_watch(&p("/p"), AddWatchMode::Persistent)
            .await
            .unwrap();
        let session = c.session_id();
        let mut states = c.state_stream();

        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        // A request made while disconnected waits for the connection.
        let queued = c.get_data(&p("/data"));
        other.set_data(&p("/data"), b"changed", None).await.unwrap();
        other
            .create(&p("/missing"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other
            .create(&p("/kids/k"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        proxy.unblock();
        wait_state(&mut states, SessionState::Connected).await;
        assert_eq!(c.session_id(), session, "same session resumed");
        assert_eq!(within("queued read", queued).await.unwrap().0, b"changed");

        let e = within("data watch", data_w).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeDataChanged, p("/data"))
        );
        assert_eq!(
            within("exist watch", exist_w).await.event_type,
            EventType::NodeCreated
        );
        assert_eq!(
            within("child watch", child_w).await.event_type,
            EventType::NodeChildrenChanged
        );

        // Persistent watchers saw the disconnect and the reconnect, and are armed again.
        for w in [&mut tree, &mut node] {
            assert_eq!(
                next("disconnected", w).await.state,
                KeeperState::Disconnected
            );
            assert_eq!(
                next("reconnected", w).await.state,
                KeeperState::SyncConnected
            );
        }
        other
            .create(&p("/tree/x"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other
            .create(&p("/tree/x/y"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other.set_data(&p("/p"), b"1", None).await.unwrap();
        let e = next("recursive after reconnect", &mut tree).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeCreated, p("/tree/x"))
        );
        let e = next("recursive after reconnect", &mut tree).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeCreated, p("/tree/x/y"))
        );
        let e = next("persistent after reconnect", &mut node).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeDataChanged, p("/p"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_load_resumes_the_session_and_its_watches() {
    for mut server in servers("server_restart_mid_load_resumes_the_session_and_its_watches") {
        let proxy = Proxy::start(server.addr()).await;
        let c = connect(&proxy.connect_string()).await;
        let base = unique("restart");
        let p = |s: &str| format!("{base}{s}");
        for n in ["", "/w", "/tree", "/load"] {
            c.create(&p(n), b"", &CreateOptions::persistent())
                .await
                .unwrap();
        }
        let (_, eph_stat) = c
            .create(&p("/eph"), b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        let (_, _, w) = c.get_data_w(&p("/w")).await.unwrap();
        let mut tree = c
            .add_watch(&p("/tree"), AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        let session = c.session_id();
        let mut states = c.state_stream();

        // Load: a writer that counts successes and connection losses until told to stop.
        let ok = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let load = {
            let (c, ok, lost, stop, path) = (
                c.clone(),
                ok.clone(),
                lost.clone(),
                stop.clone(),
                p("/load"),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.notified() => return,
                        r = c.set_data(&path, b"x", None) => match r {
                            Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(Error::ConnectionLoss) => lost.fetch_add(1, Ordering::Relaxed),
                            Err(e) => panic!("unexpected error under load: {e}"),
                        },
                    };
                }
            })
        };
        within("some load", async {
            while ok.load(Ordering::Relaxed) < 50 {
                tokio::task::yield_now().await;
            }
        })
        .await;

        // Cut the client off, restart the server, change the watched node before the client is back.
        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        server.kill();
        server.restart();
        let other = connect(&server.connect_string()).await;
        other.set_data(&p("/w"), b"while away", None).await.unwrap();
        proxy.unblock();
        wait_state(&mut states, SessionState::Connected).await;
        assert_eq!(c.session_id(), session, "session resumed after the restart");
        let before = ok.load(Ordering::Relaxed);
        within("load resumes", async {
            while ok.load(Ordering::Relaxed) < before + 50 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        stop.notify_one();
        load.await.unwrap();

        let e = within("watch after restart", w).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeDataChanged, p("/w"))
        );
        assert_eq!(
            c.exists(&p("/eph")).await.unwrap(),
            Some(eph_stat),
            "ephemeral kept"
        );
        wait_event("recursive re-armed", &mut tree, |e| {
            e.state == KeeperState::SyncConnected
        })
        .await;
        other
            .create(&p("/tree/after"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let e = next("recursive after restart", &mut tree).await;
        assert_eq!(
            (e.event_type, e.path),
            (EventType::NodeCreated, p("/tree/after"))
        );
        println!(
            "load: {} ok, {} connection losses",
            ok.load(Ordering::Relaxed),
            lost.load(Ordering::Relaxed)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_watches_are_re_registered_in_several_packets() {
    // 1500 exist watches on 120-byte paths: about 186 KB of paths, more than one 128 KiB packet.
    const N: usize = 1500;
    for server in servers("thousands_of_watches_are_re_registered_in_several_packets") {
        let proxy = Proxy::start(server.addr()).await;
        let c = connect(&proxy.connect_string()).await;
        let base = unique("many");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let paths: Vec<String> = (0..N)
            .map(|i| format!("{base}/{}-{i:05}", "w".repeat(100)))
            .collect();
        let bytes: usize = paths.iter().map(|p| p.len() + 4).sum();
        assert!(bytes > zk_client::SET_WATCHES_MAX_BYTES);
        let mut watchers: Vec<_> = futures::future::join_all(paths.iter().map(|p| c.exists_w(p)))
            .await
            .into_iter()
            .map(|r| r.unwrap().1)
            .collect();
        let watch_count = |s: &TestServer| {
            let out = s.four_letter("wchs");
            out.lines()
                .find_map(|l| {
                    l.strip_prefix("Total watches:")
                        .map(|n| n.trim().parse::<usize>().unwrap())
                })
                .unwrap()
        };
        let before = watch_count(&server);
        assert!(before >= N);

        let mut states = c.state_stream();
        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        proxy.unblock();
        wait_state(&mut states, SessionState::Connected).await;
        c.sync("/").await.unwrap(); // replies in order: every setWatches packet is processed
        assert_eq!(
            watch_count(&server),
            before,
            "every watch is back on the server"
        );

        let other = connect(&server.connect_string()).await;
        for i in [0, N / 2, N - 1] {
            other
                .create(&paths[i], b"", &CreateOptions::persistent())
                .await
                .unwrap();
        }
        for i in [N - 1, N / 2, 0] {
            let w = watchers.remove(i);
            let e = within("re-registered watch", w).await;
            assert_eq!((e.event_type, &e.path), (EventType::NodeCreated, &paths[i]));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_is_capped_and_waiting_requests_give_up_after_the_connect_timeout() {
    for server in
        servers("backoff_is_capped_and_waiting_requests_give_up_after_the_connect_timeout")
    {
        let proxy = Proxy::start(server.addr()).await;
        let c = builder()
            .with_connect_timeout(Duration::from_millis(600))
            .connect(&proxy.connect_string())
            .await
            .unwrap();
        let mut states = c.state_stream();
        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;

        // A request made while disconnected is not sent on a dead connection; it waits for a
        // connection at most the connect timeout.
        let started = tokio::time::Instant::now();
        assert_eq!(
            within("queued request", c.exists("/")).await,
            Err(Error::Timeout)
        );
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );

        // Enough refused attempts for the backoff to reach its cap (10, 20, 40 … 400 ms)...
        proxy.wait_refused(10).await;
        // ...and still the client is back within about one capped delay of the server answering.
        let unblocked = tokio::time::Instant::now();
        proxy.unblock();
        wait_state(&mut states, SessionState::Connected).await;
        let back = unblocked.elapsed();
        assert!(
            back < zk_client::DEFAULT_BACKOFF_MAX + Duration::from_millis(600),
            "reconnected after {back:?}"
        );
        assert!(c.exists("/").await.unwrap().is_some());
    }
}
