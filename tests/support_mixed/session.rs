//! [`MovableSession`]: a zk-client session behind a [`Proxy`], so a test decides which server it uses.
//!
//! zk-client follows its connect string; with one host (the proxy) it reconnects there with the same
//! session after any disconnect. Re-pointing the proxy and cutting the connection therefore moves the
//! live session to another server, where it must be revalidated by the leader and keep its ephemerals
//! and its pending order, which is what Apache's clients do when a server goes away.

use std::time::Duration;

use tokio::time::Instant;
use zk_client::{Client, SessionState};

use super::{MixedEnsemble, Proxy, CONNECT_TIMEOUT, FAILOVER_DEADLINE, SESSION_TIMEOUT};

/// A session and the server its proxy points at.
pub struct MovableSession {
    /// The session's handle.
    pub client: Client,
    /// Its id, fixed for the whole test (a change would mean the session expired).
    pub id: i64,
    /// Its name in paths and messages (`s1`, `s2`, …).
    pub name: String,
    /// The member index its proxy points at.
    pub at: usize,
    proxy: Proxy,
}

impl MovableSession {
    /// Opens a session on member `at` through a fresh proxy.
    pub async fn open(ensemble: &MixedEnsemble, name: &str, at: usize) -> MovableSession {
        let proxy = Proxy::start(ensemble.addr(at)).await;
        let client = Client::builder()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .connect(&proxy.connect_string())
            .await
            .unwrap_or_else(|e| panic!("{name}: session on {}: {e}", ensemble.member(at).label()));
        let id = client.session_id().0;
        MovableSession {
            client,
            id,
            name: name.to_owned(),
            at,
            proxy,
        }
    }

    /// Moves the session to member `to`: re-points the proxy, cuts the connection if there is one,
    /// and waits until the client is connected again, with the same session.
    pub async fn move_to(&mut self, ensemble: &MixedEnsemble, to: usize) {
        self.proxy.set_target(ensemble.addr(to));
        self.proxy.block();
        let mut state = self.client.state_watcher();
        // The watch's `Ref` must not outlive this statement: it holds the lock the session task
        // needs to publish the reconnection.
        let cut = tokio::time::timeout(FAILOVER_DEADLINE, async {
            state.wait_for(|s| !s.is_connected()).await.is_ok()
        })
        .await;
        assert!(
            cut == Ok(true),
            "{}: still connected after the proxy was cut",
            self.name
        );
        self.proxy.unblock();
        self.at = to;
        self.wait_connected(ensemble, FAILOVER_DEADLINE).await;
    }

    /// Waits until the client is connected with its original session (it never expires in these
    /// tests: a failover is far shorter than [`SESSION_TIMEOUT`]).
    pub async fn wait_connected(&self, ensemble: &MixedEnsemble, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.client.state_watcher();
        loop {
            let now = *state.borrow_and_update();
            assert!(
                !matches!(
                    now,
                    SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
                ),
                "{}: session {:#x} ended ({now:?}) on the way to {}",
                self.name,
                self.id,
                ensemble.member(self.at).label()
            );
            if now.is_connected() {
                break;
            }
            let changed = tokio::time::timeout_at(deadline, state.changed()).await;
            assert!(
                matches!(changed, Ok(Ok(()))),
                "{}: not connected to {} within {timeout:?}",
                self.name,
                ensemble.member(self.at).label()
            );
        }
        assert_eq!(
            self.client.session_id().0,
            self.id,
            "{}: reconnected with another session",
            self.name
        );
    }
}
