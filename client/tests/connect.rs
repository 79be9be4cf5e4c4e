//! Connecting, failing to connect, and closing.

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;
use zk_client::{Client, CreateOptions, Error, EventType, SessionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reachable_host_fails_within_the_connect_timeout() {
    init_tracing();
    let timeout = Duration::from_millis(800);
    // A port nobody listens on, and a listener that never answers the handshake.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    for cs in [
        refused.to_string(),
        silent_addr.to_string(),
        format!("{refused},{silent_addr}"),
    ] {
        let started = Instant::now();
        let r = Client::builder()
            .with_connect_timeout(timeout)
            .connect(&cs)
            .await;
        let took = started.elapsed();
        assert!(matches!(r, Err(Error::NoHostReachable(_))), "{cs}: {r:?}");
        assert!(
            took >= timeout.mul_f32(0.5) && took < timeout + Duration::from_millis(500),
            "{cs}: took {took:?}"
        );
    }
    assert!(matches!(
        Client::connect("").await,
        Err(Error::BadArguments(_))
    ));
    assert!(matches!(
        Client::connect("host:notaport").await,
        Err(Error::BadArguments(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_skips_dead_hosts_and_close_ends_the_session() {
    for server in servers("failover_skips_dead_hosts_and_close_ends_the_session") {
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // A dead host listed first: the client moves on to the live one.
        let c = builder()
            .with_shuffle(false)
            .connect(&format!("{dead},{}", server.connect_string()))
            .await
            .unwrap();
        let watcher = connect(&server.connect_string()).await;
        let eph = unique("close");
        c.create(&eph, b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        let (_, w) = watcher.exists_w(&eph).await.unwrap();

        let mut states = c.state_stream();
        c.close().await;
        assert_eq!(c.state(), SessionState::Closed);
        wait_state(&mut states, SessionState::Closed).await;
        assert_eq!(c.exists("/").await, Err(Error::Closed));
        // The server ended the session at once: its ephemeral is gone.
        assert_eq!(
            within("ephemeral deleted", w).await.event_type,
            EventType::NodeDeleted
        );

        // Dropping the last handle closes the session too.
        let d = connect(&server.connect_string()).await;
        let eph2 = unique("drop");
        d.create(&eph2, b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        let (_, w) = watcher.exists_w(&eph2).await.unwrap();
        let clone = d.clone();
        drop(d);
        assert!(
            clone.exists(&eph2).await.unwrap().is_some(),
            "a clone keeps it alive"
        );
        drop(clone);
        assert_eq!(
            within("ephemeral deleted on drop", w).await.event_type,
            EventType::NodeDeleted
        );
    }
}
