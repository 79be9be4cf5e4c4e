//! Digest authentication, ACL denial, and authentication failure.

mod common;

use common::*;
use zk_client::{acl, CreateOptions, Error, SessionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_grants_and_acls_deny() {
    for server in servers("digest_auth_grants_and_acls_deny") {
        let alice = builder()
            .with_digest_auth("alice", "secret")
            .connect(&server.connect_string())
            .await
            .unwrap();
        let anon = connect(&server.connect_string()).await;
        let base = unique("auth");
        anon.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();

        let who = alice.who_am_i().await.unwrap();
        assert!(
            who.iter()
                .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
            "{who:?}"
        );

        // Only alice may touch her node.
        let private = format!("{base}/private");
        let opts = CreateOptions::persistent().with_acl(vec![acl::digest_acl(
            acl::perms::ALL,
            "alice",
            "secret",
        )]);
        alice.create(&private, b"mine", &opts).await.unwrap();
        assert_eq!(anon.get_data(&private).await, Err(Error::NoAuth));
        assert_eq!(
            anon.set_data(&private, b"x", None).await,
            Err(Error::NoAuth)
        );
        assert_eq!(alice.get_data(&private).await.unwrap().0, b"mine");
        assert_eq!(
            anon.get_acl(&private).await,
            Err(Error::NoAuth),
            "3.8 guards getACL too"
        );
        let (acl_list, _) = alice.get_acl(&private).await.unwrap();
        assert_eq!(acl_list[0].id, acl::digest_id("alice", "secret"));

        // creator_all needs an authenticated creator.
        let creator = format!("{base}/creator");
        let opts = CreateOptions::persistent().with_acl(acl::creator_all());
        assert_eq!(
            anon.create(&creator, b"", &opts).await,
            Err(Error::InvalidAcl)
        );
        alice.create(&creator, b"", &opts).await.unwrap();
        assert_eq!(anon.get_data(&creator).await, Err(Error::NoAuth));

        // Authenticating later, on a live session.
        anon.add_auth("digest", b"alice:secret").await.unwrap();
        assert_eq!(anon.get_data(&private).await.unwrap().0, b"mine");
        anon.add_auth("digest", b"alice:wrong").await.unwrap(); // digest never fails; it just adds an id
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_auth_scheme_fails_the_client() {
    for server in servers("unknown_auth_scheme_fails_the_client") {
        let c = connect(&server.connect_string()).await;
        let mut states = c.state_stream();
        assert_eq!(
            c.add_auth("no-such-scheme", b"x").await,
            Err(Error::AuthFailed)
        );
        wait_state(&mut states, SessionState::AuthFailed).await;
        assert_eq!(c.exists("/").await, Err(Error::AuthFailed));
    }
}
