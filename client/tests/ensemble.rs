//! A 3-server Apache ensemble: the server holding the session dies and the session moves.

mod common;

use common::*;
use zk_client::{CreateOptions, EventType, SessionState};

/// Which server holds `session` (from the `cons` four-letter word).
fn holder(e: &zk_testkit::ApacheEnsemble, session: zk_client::SessionId) -> Option<usize> {
    let needle = format!("sid={session}");
    (0..e.len()).find(|&i| {
        e.try_four_letter(i, "cons")
            .map(|out| out.contains(&needle))
            .unwrap_or(false)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_moves_when_its_server_dies() {
    let Some(mut ensemble) = ensemble("session_moves_when_its_server_dies") else {
        return;
    };
    let c = connect(&ensemble.connect_string()).await;
    let base = unique("ens");
    c.create(&base, b"", &CreateOptions::persistent())
        .await
        .unwrap();
    let eph = format!("{base}/eph");
    let (_, eph_stat) = c
        .create(&eph, b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let (_, _, w) = c.get_data_w(&base).await.unwrap();
    let session = c.session_id();
    let first = tokio::task::block_in_place(|| holder(&ensemble, session))
        .expect("a server holds the session");
    let mut states = c.state_stream();

    tokio::task::block_in_place(|| ensemble.kill(first));
    wait_state(&mut states, SessionState::Disconnected).await;
    wait_state(&mut states, SessionState::Connected).await;
    assert_eq!(
        c.session_id(),
        session,
        "the same session, on another server"
    );
    let second = within("session visible on its new server", async {
        loop {
            let found = tokio::task::block_in_place(|| holder(&ensemble, session));
            if let Some(i) = found {
                return i;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_ne!(first, second);
    assert_eq!(
        c.exists(&eph).await.unwrap(),
        Some(eph_stat),
        "ephemeral survived"
    );

    // The watch moved with the session.
    let others: Vec<String> = (0..ensemble.len())
        .filter(|&i| i != first)
        .map(|i| ensemble.addr(i).to_string())
        .collect();
    let other = connect(&others.join(",")).await;
    other.set_data(&base, b"moved", None).await.unwrap();
    let e = within("watch on the new server", w).await;
    assert_eq!(
        (e.event_type, e.path),
        (EventType::NodeDataChanged, base.clone())
    );
}
