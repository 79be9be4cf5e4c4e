//! Transactions (multi) and multi-read: result layout on success and on failure.

mod common;

use common::*;
use zk_client::{CreateMode, CreateOptions, Error, OpResult, ReadResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_apply_all_or_nothing_with_per_op_results() {
    for server in servers("transactions_apply_all_or_nothing_with_per_op_results") {
        let c = connect(&server.connect_string()).await;
        let base = unique("multi");
        let p = |s: &str| format!("{base}{s}");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        c.create(&p("/old"), b"old", &CreateOptions::persistent())
            .await
            .unwrap();

        // Success: one result per op, in order.
        let results = c
            .multi()
            .create(&p("/a"), b"a", &CreateOptions::persistent())
            .create(
                &p("/s-"),
                b"",
                &CreateOptions::new(CreateMode::PersistentSequential),
            )
            .check(&p("/old"), 0)
            .set_data(&p("/old"), b"new", Some(0))
            .delete(&p("/a"), Some(0))
            .commit()
            .await
            .unwrap();
        assert_eq!(results.len(), 5);
        assert!(
            matches!(&results[0], OpResult::Create { path, stat } if *path == p("/a") && stat.version == 0)
        );
        assert!(
            matches!(&results[1], OpResult::Create { path, .. } if path.starts_with(&p("/s-")) && path.len() == p("/s-").len() + 10)
        );
        assert_eq!(results[2], OpResult::Check);
        assert!(matches!(&results[3], OpResult::SetData { stat } if stat.version == 1));
        assert_eq!(results[4], OpResult::Delete);
        assert_eq!(c.get_data(&p("/old")).await.unwrap().0, b"new");

        // Failure: nothing applied; the first failing op is named.
        let failing = || {
            c.multi()
                .create(&p("/b"), b"", &CreateOptions::persistent())
                .check(&p("/old"), 0) // version is 1 now
                .set_data(&p("/old"), b"never", None)
        };
        assert_eq!(
            failing().commit().await,
            Err(Error::MultiFailed {
                index: 1,
                error: Box::new(Error::BadVersion)
            })
        );
        assert_eq!(c.exists(&p("/b")).await.unwrap(), None, "rolled back");
        assert_eq!(
            failing().commit_results().await.unwrap(),
            vec![
                OpResult::RolledBack,
                OpResult::Failed(Error::BadVersion),
                OpResult::Failed(Error::RuntimeInconsistency),
            ]
        );
        let r = c
            .multi()
            .create(&p("/old"), b"", &CreateOptions::persistent())
            .commit()
            .await;
        assert_eq!(
            r,
            Err(Error::MultiFailed {
                index: 0,
                error: Box::new(Error::NodeExists)
            })
        );

        // Bad input in any op fails the whole transaction before sending.
        let r = c
            .multi()
            .check(&p("/old"), 1)
            .delete("bad path", None)
            .commit()
            .await;
        assert!(matches!(r, Err(Error::InvalidPath(_))), "{r:?}");
        // An empty transaction is fine.
        assert_eq!(c.multi().commit().await.unwrap(), vec![]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_read_answers_each_read_on_its_own() {
    for server in servers("multi_read_answers_each_read_on_its_own") {
        let c = connect(&server.connect_string()).await;
        let base = unique("mread");
        c.create(&base, b"root", &CreateOptions::persistent())
            .await
            .unwrap();
        c.create(&format!("{base}/k"), b"kid", &CreateOptions::persistent())
            .await
            .unwrap();
        let results = c
            .multi_read()
            .get_data(&base)
            .get_children(&base)
            .get_data(&format!("{base}/missing"))
            .get_children(&format!("{base}/k"))
            .execute()
            .await
            .unwrap();
        assert_eq!(results.len(), 4);
        assert!(
            matches!(&results[0], Ok(ReadResult::Data { data, stat }) if data == b"root" && stat.num_children == 1)
        );
        assert_eq!(
            results[1],
            Ok(ReadResult::Children {
                children: vec!["k".into()]
            })
        );
        assert_eq!(results[2], Err(Error::NoNode));
        assert_eq!(results[3], Ok(ReadResult::Children { children: vec![] }));
    }
}
