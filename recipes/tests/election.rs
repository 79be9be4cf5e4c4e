//! Leader election under failure: one new leader after the leader's session dies, strictly
//! increasing fencing tokens, "suspended" before a cut-off leader's session can expire, and the
//! selector's task cancelled when leadership is lost.

mod harness;

use std::sync::{Arc, Mutex};

use harness::*;
use tokio::time::Instant;
use zk_client::{Client, CreateOptions};
use zk_recipes::election::{LeaderLatch, LeaderSelector, Leadership};
use zk_recipes::Error;

async fn election_path(client: &Client, name: &str) -> String {
    match client
        .create("/recipes", b"", &CreateOptions::persistent())
        .await
    {
        Ok(_) | Err(zk_client::Error::NodeExists) => {}
        Err(e) => panic!("create /recipes: {e}"),
    }
    unique(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leaders_session_elects_exactly_one_new_leader() {
    for server in servers("killing_the_leaders_session_elects_exactly_one_new_leader").await {
        let admin = connect(&server.connect_string()).await;
        let path = election_path(&admin, "latch").await;
        let mut proxies = Vec::new();
        let mut latches = Vec::new();
        let mut clients = Vec::new();
        for i in 0..3 {
            let proxy = Proxy::start(server.addr()).await;
            let client = connect(&proxy.connect_string()).await;
            let latch = LeaderLatch::start(&client, &path, &format!("p{i}")).unwrap();
            if i == 0 {
                within("first leader", latch.wait_leader()).await.unwrap();
            } else {
                let mut changes = latch.changes();
                let seen = wait_item("follower", &mut changes, |l| {
                    matches!(l, Leadership::Follower { .. })
                })
                .await;
                assert_eq!(
                    seen,
                    Leadership::Follower {
                        leader: Some("p0".into())
                    }
                );
            }
            proxies.push(proxy);
            clients.push(client);
            latches.push(latch);
        }
        let old_token = latches[0].leadership().token().unwrap();
        let mut old_changes = latches[0].changes();
        let mut next_changes = latches[1].changes();

        let started = Instant::now();
        expire(&clients[0], &proxies[0], &server.connect_string()).await;
        let new = wait_item("new leader", &mut next_changes, Leadership::is_leader).await;
        assert!(
            started.elapsed() < SESSION_TIMEOUT,
            "took {:?}",
            started.elapsed()
        );
        assert!(new.token().unwrap() > old_token);
        wait_item("old leader lost", &mut old_changes, |l| {
            *l == Leadership::Lost
        })
        .await;
        // It rejoins, with a new node, as a follower of the new leader.
        wait_item("old leader rejoined", &mut old_changes, |l| {
            *l == Leadership::Follower {
                leader: Some("p1".into()),
            }
        })
        .await;
        let leaders: Vec<_> = latches.iter().filter(|l| l.is_leader()).collect();
        assert_eq!(leaders.len(), 1, "{}", server.name());
        assert_eq!(leaders[0].id(), "p1");
        assert_eq!(
            latches[2].participants().await.unwrap(),
            ["p1", "p2", "p0"],
            "election order after the rejoin"
        );
        // Only the leader can write through its fence.
        latches[1]
            .guarded_write()
            .unwrap()
            .create(&format!("{path}-done"), b"", &CreateOptions::persistent())
            .commit()
            .await
            .unwrap();
        assert_eq!(latches[2].guarded_write().unwrap_err(), Error::NotLeader);
        for latch in latches {
            latch.close().await;
        }
        wait_children(&admin, &path, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fencing_tokens_strictly_increase_across_leaders() {
    const TERMS: usize = 9;
    for server in servers("fencing_tokens_strictly_increase_across_leaders").await {
        let admin = connect(&server.connect_string()).await;
        let path = election_path(&admin, "terms").await;
        let terms = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, mut done_rx) = tokio::sync::watch::channel(0usize);
        let done_tx = Arc::new(done_tx);
        let mut selectors = Vec::new();
        for i in 0..3 {
            let client = connect(&server.connect_string()).await;
            let terms = terms.clone();
            let done_tx = done_tx.clone();
            let selector = LeaderSelector::builder(&client, &path)
                .with_id(&format!("s{i}"))
                .start(move |ctx| {
                    let terms = terms.clone();
                    let done_tx = done_tx.clone();
                    async move {
                        let mut terms = terms.lock().unwrap();
                        if terms.len() < TERMS {
                            terms.push((i, ctx.token()));
                            done_tx.send_modify(|n| *n += 1);
                        }
                    }
                })
                .unwrap();
            selectors.push(selector);
        }
        within("terms", done_rx.wait_for(|n| *n >= TERMS))
            .await
            .unwrap();
        for s in selectors {
            s.close().await;
        }
        let terms = terms.lock().unwrap().clone();
        for pair in terms.windows(2) {
            assert!(pair[0].1 < pair[1].1, "tokens not increasing: {terms:?}");
        }
        // Leadership went round (FIFO requeue), not to one participant over and over.
        let mut who: Vec<_> = terms.iter().map(|t| t.0).collect();
        who.sort();
        who.dedup();
        assert_eq!(who, [0, 1, 2], "{terms:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_off_leader_is_told_suspended_before_its_session_can_expire() {
    for mut server in
        servers("a_cut_off_leader_is_told_suspended_before_its_session_can_expire").await
    {
        let client = connect(&server.connect_string()).await;
        let path = election_path(&client, "cutoff").await;
        let latch = LeaderLatch::start(&client, &path, "solo").unwrap();
        let token = within("leader", latch.wait_leader()).await.unwrap();
        let mut changes = latch.changes();
        wait_item("leader", &mut changes, Leadership::is_leader).await;

        let cut = Instant::now();
        server.kill().await;
        let next = wait_item("next state", &mut changes, |_| true).await;
        let after = cut.elapsed();
        assert_eq!(next, Leadership::Suspended, "{}", server.name());
        assert!(
            after < client.session_timeout(),
            "suspended only after {after:?}"
        );
        assert_eq!(latch.guarded_write().unwrap_err(), Error::Suspended);

        // Back within the session timeout: the same node is re-verified, same term. (A JVM
        // restart slower than the session timeout expires the session: then Lost, and a new term.)
        server.restart().await;
        let again = wait_item("leader again", &mut changes, |l| {
            *l != Leadership::Suspended
        })
        .await;
        match again {
            Leadership::Leader { token: t } => assert_eq!(t, token),
            Leadership::Lost => {
                let next = wait_item("new term", &mut changes, Leadership::is_leader).await;
                assert!(next.token().unwrap() > token);
            }
            other => panic!("after reconnecting: {other:?}"),
        }
        latch.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_leadership_cancels_the_selector_task() {
    for server in servers("losing_leadership_cancels_the_selector_task").await {
        let admin = connect(&server.connect_string()).await;
        let path = election_path(&admin, "cancel").await;
        let proxy = Proxy::start(server.addr()).await;
        let a = connect(&proxy.connect_string()).await;
        let b = connect(&server.connect_string()).await;

        /// Reports when the leader task is dropped (cancelled).
        struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let (cancelled_tx, cancelled_rx) = tokio::sync::oneshot::channel();
        let cancelled_tx = Arc::new(Mutex::new(Some(cancelled_tx)));
        let sa = LeaderSelector::builder(&a, &path)
            .with_id("a")
            .start(move |_ctx| {
                let on_drop = OnDrop(cancelled_tx.lock().unwrap().take());
                async move {
                    let _on_drop = on_drop;
                    std::future::pending::<()>().await;
                }
            })
            .unwrap();
        let mut a_changes = sa.changes();
        wait_item("a leads", &mut a_changes, Leadership::is_leader).await;
        let sb = LeaderSelector::builder(&b, &path)
            .with_id("b")
            .start(|_ctx| std::future::pending::<()>())
            .unwrap();
        let mut b_changes = sb.changes();
        wait_children(&admin, &path, 2).await;
        assert_eq!(sb.participants().await.unwrap(), ["a", "b"]);

        expire(&a, &proxy, &server.connect_string()).await;
        wait_item("a lost", &mut a_changes, |l| *l == Leadership::Lost).await;
        within("task cancelled", cancelled_rx).await.unwrap();
        wait_item("b leads", &mut b_changes, Leadership::is_leader).await;
        // a queued again behind b, with a new node.
        wait_children(&admin, &path, 2).await;
        assert_eq!(sb.participants().await.unwrap(), ["b", "a"]);
        sa.close().await;
        sb.close().await;
        wait_children(&admin, &path, 0).await;
    }
}
