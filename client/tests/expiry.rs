//! Session expiry, forced by the server or declared by the client, and the fresh session after it.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use zk_client::{AddWatchMode, CreateOptions, Error, KeeperState, SessionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_expiry_is_reported_and_a_fresh_session_follows() {
    for server in servers("forced_expiry_is_reported_and_a_fresh_session_follows") {
        // Through a proxy, so the client cannot take its session back while it is being stolen.
        let proxy = Proxy::start(server.addr()).await;
        let c = connect(&proxy.connect_string()).await;
        let base = unique("exp");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let eph = format!("{base}/eph");
        c.create(&eph, b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        let (_, _, oneshot) = c.get_data_w(&base).await.unwrap();
        let mut persistent = c
            .add_watch(&base, AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        let old = c.session_id();
        let mut states = c.state_stream();
        assert_eq!(
            next("initial state", &mut states).await,
            SessionState::Connected
        );

        // Take the session over with its id and password, then close it.
        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        let thief = builder()
            .with_session(old, c.session_password())
            .connect(&server.connect_string())
            .await
            .unwrap();
        assert_eq!(thief.session_id(), old);
        thief.close().await;
        proxy.unblock();

        wait_state(&mut states, SessionState::Expired).await;
        assert_eq!(
            next("new session", &mut states).await,
            SessionState::Connected
        );
        assert_ne!(c.session_id(), old);
        assert_ne!(c.session_id().0, 0);

        // Watchers of the old session are told, and persistent ones end.
        assert_eq!(
            within("one-shot", oneshot).await.state,
            KeeperState::Expired
        );
        wait_event("expired", &mut persistent, |e| {
            e.state == KeeperState::Expired
        })
        .await;
        assert!(within("end", persistent.next()).await.is_none());

        // The same Client works on the new session; the old ephemeral is gone.
        assert_eq!(c.exists(&eph).await.unwrap(), None);
        let (_, stat) = c
            .create(&eph, b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        assert_eq!(stat.ephemeral_owner, c.session_id().0);

        // Resuming a dead session is an error, not a silent new session.
        let r = builder()
            .with_session(old, vec![0u8; 16])
            .connect(&server.connect_string())
            .await;
        assert_eq!(r.err(), Some(Error::SessionExpired));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_declares_expiry_after_the_session_timeout_without_a_server() {
    for server in servers("client_declares_expiry_after_the_session_timeout_without_a_server") {
        let proxy = Proxy::start(server.addr()).await;
        let c = builder()
            .with_session_timeout(Duration::from_secs(2))
            .connect(&proxy.connect_string())
            .await
            .unwrap();
        assert_eq!(c.session_timeout(), Duration::from_secs(2));
        let base = unique("cexp");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let (_, w) = c.exists_w(&format!("{base}/x")).await.unwrap();
        let old = c.session_id();
        let mut states = c.state_stream();

        proxy.block();
        wait_state(&mut states, SessionState::Disconnected).await;
        let started = tokio::time::Instant::now();
        // Issued while disconnected, in the old session: fails with SessionExpired at expiry.
        let queued = c.get_data(&base);
        // The proxy is still blocked: nobody but the client can say the session is over.
        wait_state(&mut states, SessionState::Expired).await;
        let waited = started.elapsed();
        assert!(waited <= Duration::from_secs(3), "expired after {waited:?}");
        assert_eq!(
            within("queued", queued).await.unwrap_err(),
            Error::SessionExpired
        );
        assert_eq!(within("watch", w).await.state, KeeperState::Expired);
        assert_eq!(c.session_id().0, 0);

        proxy.unblock();
        wait_state(&mut states, SessionState::Connected).await;
        assert_ne!(c.session_id(), old);
        assert!(c.exists(&base).await.unwrap().is_some());
    }
}
