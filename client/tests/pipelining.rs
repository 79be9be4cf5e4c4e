//! Many requests in flight on one connection, answered in call order.

mod common;

use common::*;
use futures::future::join_all;
use zk_client::CreateOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_requests_complete_in_call_order() {
    const N: i32 = 10_000;
    for server in servers("ten_thousand_pipelined_requests_complete_in_call_order") {
        let c = connect(&server.connect_string()).await;
        let path = unique("pipe");
        c.create(&path, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        // Queue everything first (call order = wire order), then await in reverse.
        let mut writes = Vec::new();
        let mut reads = Vec::new();
        for i in 0..N {
            writes.push(c.set_data(&path, &i.to_be_bytes(), Some(i)));
            reads.push(c.get_data(&path));
        }
        writes.reverse();
        reads.reverse();
        let (writes, reads) = within("10k requests", async {
            futures::join!(join_all(writes), join_all(reads))
        })
        .await;
        for (k, (w, r)) in writes.into_iter().zip(reads).enumerate() {
            let i = N - 1 - k as i32;
            // Each versioned write saw exactly the writes queued before it...
            assert_eq!(w.unwrap().version, i + 1);
            // ...and each read the writes queued before it.
            let (data, stat) = r.unwrap();
            assert_eq!((data, stat.version), (i.to_be_bytes().to_vec(), i + 1));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_client() {
    for server in servers("many_tasks_share_one_client") {
        let c = connect(&server.connect_string()).await;
        let base = unique("tasks");
        c.create(&base, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let c = c.clone();
                let base = base.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        let p = format!("{base}/t{t}-{i}");
                        c.create(&p, b"x", &CreateOptions::persistent())
                            .await
                            .unwrap();
                        assert_eq!(c.get_data(&p).await.unwrap().0, b"x");
                    }
                })
            })
            .collect();
        for t in tasks {
            within("task", t).await.unwrap();
        }
        assert_eq!(c.get_all_children_number(&base).await.unwrap(), 32 * 50);
    }
}
