//! A fair distributed lock shared by three workers, each with its own ZooKeeper session.
//!
//! Each worker takes the lock twice, increments a counter with a guarded write (a transaction
//! that only commits while the worker's lock node exists) and prints its fencing token, which
//! grows with every new holder. Then one worker shows that a timed-out acquire gives up cleanly.
//!
//! ```text
//! cargo run --example lock                      # starts an embedded zk-server
//! cargo run --example lock -- --connect HOSTS   # uses an existing ensemble
//! ```

use std::time::Duration;

use zk::client::{Client, CreateOptions};
use zk::recipes::lock::FairLock;
use zk::recipes::Error;

mod support;
use support::connect_or_embed;

/// How many workers contend for the lock.
const WORKERS: usize = 3;
/// How many times each worker takes it.
const ROUNDS: usize = 2;
/// Where the example keeps its nodes.
const BASE: &str = "/examples/lock";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (connect, _server) = connect_or_embed().await?;
    let admin = Client::connect(&connect).await?;
    for path in ["/examples", BASE] {
        match admin.create(path, b"", &CreateOptions::persistent()).await {
            Ok(_) | Err(zk::client::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let counter = format!("{BASE}/counter");
    match admin
        .create(&counter, b"0", &CreateOptions::persistent())
        .await
    {
        Ok(_) | Err(zk::client::Error::NodeExists) => {}
        Err(e) => return Err(e.into()),
    }
    admin.set_data(&counter, b"0", None).await?;

    let mut workers = Vec::new();
    for id in 0..WORKERS {
        let client = Client::connect(&connect).await?;
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            let lock = FairLock::new(&client, &format!("{BASE}/mutex"))?;
            for _ in 0..ROUNDS {
                let guard = lock.acquire().await?;
                let (data, _) = client.get_data(&counter).await?;
                let value: u64 = String::from_utf8_lossy(&data).parse().unwrap_or(0);
                guard
                    .guarded_write()?
                    .set_data(&counter, (value + 1).to_string().as_bytes(), None)
                    .commit()
                    .await?;
                println!(
                    "worker {id}: holds the lock (fencing token {}), counter {value} -> {}",
                    guard.fencing_token(),
                    value + 1
                );
                guard.release().await?;
            }
            client.close().await;
            Ok::<(), Error>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }

    // A timed-out acquire removes its node: the lock stays usable.
    let holder = FairLock::new(&admin, &format!("{BASE}/mutex"))?
        .acquire()
        .await?;
    let other = Client::connect(&connect).await?;
    let waiter = FairLock::new(&other, &format!("{BASE}/mutex"))?;
    match waiter.acquire_timeout(Duration::from_millis(300)).await {
        Err(Error::Timeout) => println!("a second client gave up after 300 ms, as asked"),
        other => println!("unexpected: {other:?}"),
    }
    holder.release().await?;

    let (data, _) = admin.get_data(&counter).await?;
    println!(
        "final counter: {} (expected {})",
        String::from_utf8_lossy(&data),
        WORKERS * ROUNDS
    );
    other.close().await;
    admin.close().await;
    Ok(())
}
