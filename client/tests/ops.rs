//! Every operation and its errors, against each server under test.

mod common;

use std::time::Duration;

use common::*;
use zk_client::{acl, CreateMode, CreateOptions, Error, EventType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_and_its_errors() {
    for server in servers("every_operation_and_its_errors") {
        println!("server: {}", server.name());
        let c = connect(&server.connect_string()).await;
        let base = unique("ops");
        let p = |s: &str| format!("{base}{s}");
        let persistent = CreateOptions::persistent();

        // create / exists / get_data
        let (path, stat) = c.create(&base, b"", &persistent).await.unwrap();
        assert_eq!((path.as_str(), stat.version), (base.as_str(), 0));
        let (path, stat) = c.create(&p("/a"), b"hello", &persistent).await.unwrap();
        assert_eq!(path, p("/a"));
        assert_eq!(stat.data_length, 5);
        assert_eq!(
            c.create(&p("/a"), b"", &persistent).await,
            Err(Error::NodeExists)
        );
        assert_eq!(
            c.create(&p("/no/parent"), b"", &persistent).await,
            Err(Error::NoNode)
        );
        assert_eq!(
            c.get_data(&p("/a")).await.unwrap(),
            (b"hello".to_vec(), stat.clone())
        );
        assert_eq!(c.exists(&p("/a")).await.unwrap(), Some(stat.clone()));
        assert_eq!(c.exists(&p("/missing")).await.unwrap(), None);
        assert_eq!(c.get_data(&p("/missing")).await, Err(Error::NoNode));

        // set_data with versions
        let stat = c.set_data(&p("/a"), b"v1", Some(0)).await.unwrap();
        assert_eq!(stat.version, 1);
        assert_eq!(
            c.set_data(&p("/a"), b"v2", Some(0)).await,
            Err(Error::BadVersion)
        );
        assert_eq!(c.set_data(&p("/a"), b"v2", None).await.unwrap().version, 2);
        assert_eq!(
            c.set_data(&p("/missing"), b"", None).await,
            Err(Error::NoNode)
        );

        // children
        c.create(&p("/b"), b"", &persistent).await.unwrap();
        let mut kids = c.get_children(&base).await.unwrap();
        kids.sort();
        assert_eq!(kids, ["a", "b"]);
        let (kids, stat) = c.get_children_with_stat(&base).await.unwrap();
        assert_eq!((kids.len(), stat.num_children), (2, 2));
        assert_eq!(c.get_children(&p("/missing")).await, Err(Error::NoNode));
        c.create(&p("/b/c"), b"", &persistent).await.unwrap();
        assert_eq!(c.get_all_children_number(&base).await.unwrap(), 3);

        // delete
        assert_eq!(c.delete(&p("/b"), None).await, Err(Error::NotEmpty));
        assert_eq!(c.delete(&p("/a"), Some(7)).await, Err(Error::BadVersion));
        c.delete(&p("/a"), Some(2)).await.unwrap();
        assert_eq!(c.delete(&p("/a"), None).await, Err(Error::NoNode));

        // ephemerals
        let (e, stat) = c
            .create(&p("/e"), b"", &CreateOptions::ephemeral())
            .await
            .unwrap();
        assert_eq!(stat.ephemeral_owner, c.session_id().0);
        assert_eq!(
            c.create(&p("/e/child"), b"", &persistent).await,
            Err(Error::NoChildrenForEphemerals)
        );
        assert_eq!(c.get_ephemerals(&base).await.unwrap(), vec![e.clone()]);

        // sequential
        let seq = CreateOptions::new(CreateMode::PersistentSequential);
        let (s1, _) = c.create(&p("/seq-"), b"", &seq).await.unwrap();
        let (s2, _) = c.create(&p("/seq-"), b"", &seq).await.unwrap();
        assert!(
            s1.starts_with(&p("/seq-")) && s1.len() == p("/seq-").len() + 10,
            "{s1}"
        );
        assert!(s2 > s1);
        let (s3, _) = c
            .create(
                &p("/"),
                b"",
                &CreateOptions::new(CreateMode::EphemeralSequential),
            )
            .await
            .unwrap();
        assert_eq!(zk_proto_suffix(&s3).len(), 10, "{s3}");

        // sync, who_am_i
        c.sync(&base).await.unwrap();
        let who = c.who_am_i().await.unwrap();
        assert!(who.iter().any(|i| i.auth_scheme == "ip"), "{who:?}");

        // ACLs
        let (got, _) = c.get_acl(&base).await.unwrap();
        assert_eq!(got, acl::open());
        assert_eq!(
            c.set_acl(&p("/b/c"), &acl::read_only(), Some(3)).await,
            Err(Error::BadVersion)
        );
        let stat = c
            .set_acl(&p("/b/c"), &acl::read_only(), Some(0))
            .await
            .unwrap();
        assert_eq!(stat.aversion, 1);
        // Read-only now: no more ACL changes or writes.
        assert_eq!(
            c.set_acl(&p("/b/c"), &acl::open(), None).await,
            Err(Error::NoAuth)
        );
        assert_eq!(c.set_data(&p("/b/c"), b"x", None).await, Err(Error::NoAuth));
        assert_eq!(
            c.create(
                &p("/x"),
                b"",
                &persistent.clone().with_acl(acl::creator_all())
            )
            .await,
            Err(Error::InvalidAcl),
            "creator_all without any authentication"
        );

        // Bad input, caught before anything is sent.
        assert!(matches!(
            c.get_data("no-slash").await,
            Err(Error::InvalidPath(_))
        ));
        assert!(matches!(
            c.create(&p("/x/"), b"", &persistent).await,
            Err(Error::InvalidPath(_))
        ));
        assert!(matches!(
            c.delete(&p("/./x"), None).await,
            Err(Error::InvalidPath(_))
        ));
        assert_eq!(
            c.create(&p("/x"), b"", &persistent.clone().with_acl(vec![]))
                .await,
            Err(Error::InvalidAcl)
        );
        assert!(matches!(
            c.create(
                &p("/x"),
                b"",
                &CreateOptions::new(CreateMode::PersistentWithTtl)
            )
            .await,
            Err(Error::BadArguments(_))
        ));
        assert!(matches!(
            c.create(
                &p("/x"),
                b"",
                &persistent.clone().with_ttl(Duration::from_secs(1))
            )
            .await,
            Err(Error::BadArguments(_))
        ));
        assert!(matches!(
            c.set_data(&base, &vec![0u8; 2 << 20], None).await,
            Err(Error::BadArguments(_))
        ));
        // The connection survived all of that.
        assert!(c.exists(&base).await.unwrap().is_some());
        c.close().await;
    }
}

fn zk_proto_suffix(path: &str) -> &str {
    &path[path.rfind('/').unwrap() + 1..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_and_ttl_nodes_are_reaped_by_the_server() {
    for server in servers("container_and_ttl_nodes_are_reaped_by_the_server") {
        let c = connect(&server.connect_string()).await;
        let base = unique("reap");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();

        // A container goes once its last child is gone.
        let container = format!("{base}/container");
        c.create(&container, b"", &CreateOptions::new(CreateMode::Container))
            .await
            .unwrap();
        c.create(
            &format!("{container}/child"),
            b"",
            &CreateOptions::persistent(),
        )
        .await
        .unwrap();
        let (_, _, gone) = c.get_data_w(&container).await.unwrap();
        c.delete(&format!("{container}/child"), None).await.unwrap();
        assert_eq!(
            within("container reaped", gone).await.event_type,
            EventType::NodeDeleted
        );

        // A TTL node without children goes after its TTL.
        let ttl = format!("{base}/ttl");
        let opts =
            CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_millis(200));
        c.create(&ttl, b"", &opts).await.unwrap();
        let (_, _, gone) = c.get_data_w(&ttl).await.unwrap();
        assert_eq!(
            within("TTL node reaped", gone).await.event_type,
            EventType::NodeDeleted
        );

        let opts = CreateOptions::new(CreateMode::PersistentSequentialWithTtl)
            .with_ttl(Duration::from_secs(3600));
        let (seq, _) = c.create(&format!("{base}/ttl-"), b"", &opts).await.unwrap();
        assert!(seq.starts_with(&format!("{base}/ttl-")));
    }
}
