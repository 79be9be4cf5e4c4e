//! A chroot in the connect string is added to every path sent and stripped from every path received.

mod common;

use common::*;
use zk_client::{AddWatchMode, CreateMode, CreateOptions, EventType, OpResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chroot_is_applied_to_paths_sent_and_stripped_from_paths_received() {
    for server in servers("chroot_is_applied_to_paths_sent_and_stripped_from_paths_received") {
        let root = connect(&server.connect_string()).await;
        let chroot = unique("chroot");
        root.create(&chroot, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let c = connect(&format!("{}{chroot}", server.connect_string())).await;

        let (path, _) = c
            .create("/a", b"x", &CreateOptions::persistent())
            .await
            .unwrap();
        assert_eq!(path, "/a");
        assert_eq!(root.get_data(&format!("{chroot}/a")).await.unwrap().0, b"x");
        assert_eq!(c.get_children("/").await.unwrap(), ["a"]);
        assert!(c.exists("/").await.unwrap().is_some());

        let (seq, _) = c
            .create(
                "/a/s-",
                b"",
                &CreateOptions::new(CreateMode::EphemeralSequential),
            )
            .await
            .unwrap();
        assert!(
            seq.starts_with("/a/s-") && seq.len() == "/a/s-".len() + 10,
            "{seq}"
        );
        assert_eq!(c.get_ephemerals("/").await.unwrap(), vec![seq.clone()]);

        let results = c
            .multi()
            .create("/b", b"", &CreateOptions::persistent())
            .create(
                "/b/s-",
                b"",
                &CreateOptions::new(CreateMode::PersistentSequential),
            )
            .commit()
            .await
            .unwrap();
        assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/b"));
        assert!(matches!(&results[1], OpResult::Create { path, .. } if path.starts_with("/b/s-")));

        // Events carry chroot-relative paths: one-shot, persistent recursive on the chroot's root.
        let (_, _, w) = c.get_data_w("/a").await.unwrap();
        let mut tree = c
            .add_watch("/", AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        root.set_data(&format!("{chroot}/a"), b"y", None)
            .await
            .unwrap();
        let e = within("one-shot", w).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDataChanged, "/a")
        );
        let e = next("recursive", &mut tree).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDataChanged, "/a")
        );
        root.set_data(&chroot, b"root", None).await.unwrap();
        let e = next("recursive on the chroot itself", &mut tree).await;
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDataChanged, "/")
        );

        c.sync("/a").await.unwrap();
        // Nothing outside the chroot is reachable.
        assert_eq!(c.exists(&chroot).await.unwrap(), None);
    }
}
