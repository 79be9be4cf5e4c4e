//! Locks under failure: mutual exclusion across a server restart and a session expiry, FIFO
//! order with one wake-up per release, cancellation safety, ownership reporting, read/write locks
//! and semaphores. Every test runs against each server of `harness::servers`.

mod harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::*;
use zk_client::{Client, CreateOptions};
use zk_recipes::lock::{ExclusiveLock, FairLock, ReadWriteLock, Semaphore};
use zk_recipes::state::Ownership;
use zk_recipes::Error;

async fn base_dir(client: &Client, name: &str) -> String {
    let base = unique(name);
    for path in ["/recipes", base.as_str()] {
        match client.create(path, b"", &CreateOptions::persistent()).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => panic!("create {path}: {e}"),
        }
    }
    base
}

const CLIENTS: usize = 3;
const TASKS_PER_CLIENT: usize = 3;
const ROUNDS: usize = 8;

/// One increment under the lock: read the counter, then write value + 1 in a guarded write that
/// also creates a marker node, so an increment whose outcome is unknown (ConnectionLoss on
/// commit) can be told apart. Returns whether this increment is now applied.
async fn increment(client: &Client, lock: &FairLock, counter: &str, marker: &str) -> bool {
    let Ok(guard) = lock.acquire_timeout(DEADLINE).await else {
        return false;
    };
    let Ok((data, _)) = client.get_data(counter).await else {
        return false;
    };
    let value: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
    tokio::task::yield_now().await;
    let Ok(write) = guard.guarded_write() else {
        return false;
    };
    let result = write
        .set_data(counter, (value + 1).to_string().as_bytes(), None)
        .create(marker, b"", &CreateOptions::persistent())
        .commit()
        .await;
    match result {
        Ok(_) => true,
        Err(Error::Client(e)) if e.is_retryable() => {
            // Outcome unknown: the marker says whether the increment was applied.
            loop {
                match client.exists(marker).await {
                    Ok(stat) => return stat.is_some(),
                    Err(e) if e.is_retryable() => continue,
                    Err(_) => return false,
                }
            }
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_lost_update_across_a_server_restart_and_a_session_expiry() {
    for mut server in servers("no_lost_update_across_a_server_restart_and_a_session_expiry").await {
        let admin = connect(&server.connect_string()).await;
        let base = base_dir(&admin, "mutex").await;
        let counter = format!("{base}/counter");
        admin
            .create(&counter, b"0", &CreateOptions::persistent())
            .await
            .unwrap();
        let lock_path = format!("{base}/lock");
        let mut proxies = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let proxy = Proxy::start(server.addr()).await;
            clients.push(connect(&proxy.connect_string()).await);
            proxies.push(proxy);
        }
        let (progress, mut progress_rx) = tokio::sync::watch::channel(0usize);
        let progress = Arc::new(progress);
        let mut tasks = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            for t in 0..TASKS_PER_CLIENT {
                let client = client.clone();
                let lock = FairLock::new(&client, &lock_path).unwrap();
                let counter = counter.clone();
                let base = base.clone();
                let progress = progress.clone();
                tasks.push(tokio::spawn(async move {
                    for r in 0..ROUNDS {
                        let marker = format!("{base}/applied-{c}-{t}-{r}");
                        let mut attempts = 0;
                        while !increment(&client, &lock, &counter, &marker).await {
                            attempts += 1;
                            assert!(attempts < 50, "increment {marker} keeps failing");
                        }
                        progress.send_modify(|n| *n += 1);
                    }
                }));
            }
        }
        let total = CLIENTS * TASKS_PER_CLIENT * ROUNDS;
        within(
            "a third of the increments",
            progress_rx.wait_for(|n| *n >= total / 3),
        )
        .await
        .unwrap();
        server.kill().await;
        server.restart().await;
        within(
            "two thirds of the increments",
            progress_rx.wait_for(|n| *n >= 2 * total / 3),
        )
        .await
        .unwrap();
        let old = clients[0].session_id();
        expire(&clients[0], &proxies[0], &server.connect_string()).await;
        for task in tasks {
            within("workers", task).await.unwrap();
        }
        assert_ne!(clients[0].session_id(), old);
        let (data, _) = read("counter", || admin.get_data(&counter)).await;
        assert_eq!(
            std::str::from_utf8(&data).unwrap(),
            total.to_string(),
            "{}: lost update",
            server.name()
        );
        let markers = read("markers", || admin.get_children(&base)).await;
        assert_eq!(
            markers.iter().filter(|m| m.starts_with("applied-")).count(),
            total
        );
        wait_children(&admin, &lock_path, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_acquire_in_request_order_and_each_release_wakes_one() {
    const WAITERS: usize = 5;
    for server in servers("waiters_acquire_in_request_order_and_each_release_wakes_one").await {
        let client = connect(&server.connect_string()).await;
        let base = base_dir(&client, "fair").await;
        let path = format!("{base}/lock");
        let holder = FairLock::new(&client, &path)
            .unwrap()
            .acquire()
            .await
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..WAITERS {
            let lock = FairLock::new(&client, &path).unwrap();
            let order = order.clone();
            waiters.push(tokio::spawn(async move {
                let guard = lock.acquire().await.unwrap();
                order.lock().unwrap().push(i);
                guard.release().await.unwrap();
                lock.watch_events()
            }));
            // The next waiter queues only once this one's node exists.
            wait_children(&client, &path, i + 2).await;
        }
        let token = holder.fencing_token();
        holder.release().await.unwrap();
        let mut wakeups = Vec::new();
        for w in waiters {
            wakeups.push(within("waiter", w).await.unwrap());
        }
        assert_eq!(*order.lock().unwrap(), (0..WAITERS).collect::<Vec<_>>());
        // Each waiter watched only its predecessor: one notification each, no herd.
        assert_eq!(wakeups, vec![1; WAITERS], "{}", server.name());
        let again = FairLock::new(&client, &path)
            .unwrap()
            .acquire()
            .await
            .unwrap();
        assert!(again.fencing_token() > token);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_and_dropped_acquires_leave_no_node() {
    for server in servers("timed_out_and_dropped_acquires_leave_no_node").await {
        let client = connect(&server.connect_string()).await;
        let base = base_dir(&client, "cancel").await;
        let path = format!("{base}/lock");
        let lock = FairLock::new(&client, &path).unwrap();
        let holder = lock.acquire().await.unwrap();

        let err = lock
            .acquire_timeout(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err, Error::Timeout);
        wait_children(&client, &path, 1).await;

        let pending = tokio::spawn({
            let lock = lock.clone();
            async move { lock.acquire().await.map(|_| ()) }
        });
        wait_children(&client, &path, 2).await;
        pending.abort();
        wait_children(&client, &path, 1).await;

        drop(holder); // RAII release
        wait_children(&client, &path, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_is_told_unknown_while_disconnected_and_lost_after_expiry() {
    for server in servers("a_holder_is_told_unknown_while_disconnected_and_lost_after_expiry").await
    {
        let proxy = Proxy::start(server.addr()).await;
        let client = connect(&proxy.connect_string()).await;
        let other = connect(&server.connect_string()).await;
        let base = base_dir(&other, "owner").await;
        let path = format!("{base}/lock");
        let guard = FairLock::new(&client, &path)
            .unwrap()
            .acquire()
            .await
            .unwrap();
        let mut changes = guard.changes();
        wait_item("owned", &mut changes, |o| *o == Ownership::Owned).await;

        proxy.block();
        wait_item("unknown", &mut changes, |o| *o == Ownership::Unknown).await;
        assert_eq!(guard.guarded_write().unwrap_err(), Error::Suspended);
        proxy.unblock();
        wait_item("owned again", &mut changes, |o| *o == Ownership::Owned).await;
        guard.guarded_write().unwrap().commit().await.unwrap();

        expire(&client, &proxy, &server.connect_string()).await;
        wait_item("lost", &mut changes, |o| *o == Ownership::Lost).await;
        within("lost()", guard.lost()).await;
        assert!(matches!(guard.guarded_write(), Err(Error::LockLost(_))));
        // The lock is free for others.
        let next = FairLock::new(&other, &path).unwrap();
        let _held = within("next holder", next.acquire()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_lock_excludes_and_hands_over() {
    for server in servers("exclusive_lock_excludes_and_hands_over").await {
        let a = connect(&server.connect_string()).await;
        let b = connect(&server.connect_string()).await;
        let base = base_dir(&a, "excl").await;
        let path = format!("{base}/lock");
        let la = ExclusiveLock::new(&a, &path).unwrap();
        let lb = ExclusiveLock::new(&b, &path).unwrap();
        let ga = la.acquire().await.unwrap();
        assert!(lb.try_acquire().await.unwrap().is_none());
        assert!(ga.guarded_write().is_err());
        let waiter = tokio::spawn(async move { lb.acquire().await });
        let token = ga.fencing_token();
        ga.release().await.unwrap();
        let gb = within("b", waiter).await.unwrap().unwrap();
        assert!(gb.fencing_token() > token);
        assert!(la.try_acquire().await.unwrap().is_none());
        gb.release().await.unwrap();
        assert_eq!(a.exists(&path).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_share_and_writers_exclude_in_order() {
    for server in servers("readers_share_and_writers_exclude_in_order").await {
        let client = connect(&server.connect_string()).await;
        let base = base_dir(&client, "rw").await;
        let path = format!("{base}/rw");
        let rw = ReadWriteLock::new(&client, &path).unwrap();
        let r1 = rw.read().await.unwrap();
        let r2 = rw.read().await.unwrap();
        let writer = tokio::spawn({
            let rw = rw.clone();
            async move { rw.write().await }
        });
        wait_children(&client, &path, 3).await;
        // A reader arriving after a waiting writer waits for it.
        let late = tokio::spawn({
            let rw = rw.clone();
            async move { rw.read().await }
        });
        wait_children(&client, &path, 4).await;
        assert!(!writer.is_finished() && !late.is_finished());
        drop(r1);
        r2.release().await.unwrap();
        let w = within("writer", writer).await.unwrap().unwrap();
        wait_children(&client, &path, 2).await;
        assert!(!late.is_finished());
        w.release().await.unwrap();
        let _read = within("late reader", late).await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_never_grants_more_than_its_leases() {
    for server in servers("a_semaphore_never_grants_more_than_its_leases").await {
        let client = connect(&server.connect_string()).await;
        let base = base_dir(&client, "sem").await;
        let path = format!("{base}/sem");
        let sem = Semaphore::new(&client, &path, 2).unwrap();
        let a = sem.acquire().await.unwrap();
        let _b = sem.acquire().await.unwrap();
        assert_eq!(
            sem.acquire_timeout(Duration::from_millis(200))
                .await
                .unwrap_err(),
            Error::Timeout
        );
        wait_children(&client, &format!("{path}/leases"), 2).await;
        let third = tokio::spawn({
            let sem = sem.clone();
            async move { sem.acquire().await }
        });
        wait_children(&client, &format!("{path}/leases"), 3).await;
        assert!(!third.is_finished());
        a.release().await.unwrap();
        let c = within("third lease", third).await.unwrap().unwrap();
        assert_eq!(c.ownership(), Ownership::Owned);
        assert_eq!(sem.leases().await.unwrap(), 2);
    }
}
