//! Pub/sub configuration: a publisher changes a typed setting with compare-and-set; two
//! subscribers (each with its own ZooKeeper session) see the current value and then every change.
//!
//! ```text
//! cargo run --example config                      # starts an embedded zk-server
//! cargo run --example config -- --connect HOSTS   # uses an existing ensemble
//! ```

use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use zk::client::Client;
use zk::recipes::config::Config;
use zk::recipes::Error;

mod support;
use support::connect_or_embed;

/// Where the setting lives.
const PATH: &str = "/examples/config/limits";
/// How many subscribers follow it.
const SUBSCRIBERS: usize = 2;
/// How long a subscriber waits for the final value before giving up.
const WAIT: Duration = Duration::from_secs(20);

/// The typed value: stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Limits {
    max_connections: u32,
    rate_per_second: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (connect, _server) = connect_or_embed().await?;
    let publisher_client = Client::connect(&connect).await?;
    let publisher: Config<Limits> = Config::new(&publisher_client, PATH)?;
    let initial = Limits {
        max_connections: 100,
        rate_per_second: 10,
    };
    let v = publisher.set(&initial).await?;
    println!("publisher: set {:?} (version {})", v.value, v.version);

    let last = Limits {
        max_connections: 400,
        rate_per_second: 25,
    };
    let mut subscribers = Vec::new();
    for id in 1..=SUBSCRIBERS {
        let client = Client::connect(&connect).await?;
        let config: Config<Limits> = Config::new(&client, PATH)?;
        let mut updates = config.subscribe();
        // The first update is the value at subscription time.
        let first = updates.next().await.ok_or("subscription ended")??;
        println!("subscriber {id}: current {:?}", first.map(|v| v.value));
        let last = last.clone();
        subscribers.push(tokio::spawn(async move {
            let follow = async {
                while let Some(update) = updates.next().await {
                    let Some(v) = update? else {
                        println!("subscriber {id}: deleted");
                        continue;
                    };
                    println!("subscriber {id}: now {:?} (version {})", v.value, v.version);
                    if v.value == last {
                        return Ok::<(), Error>(());
                    }
                }
                Err(Error::Closed)
            };
            tokio::time::timeout(WAIT, follow)
                .await
                .map_err(|_| Error::Timeout)??;
            client.close().await;
            Ok::<(), Error>(())
        }));
    }

    // Compare-and-set: only writes if nobody changed the value since version `v.version`.
    let doubled = Limits {
        max_connections: 200,
        ..initial.clone()
    };
    let v2 = publisher.compare_and_set(&doubled, Some(v.version)).await?;
    println!("publisher: CAS at version {} -> {:?}", v.version, v2.value);
    match publisher.compare_and_set(&initial, Some(v.version)).await {
        Err(Error::Client(zk::client::Error::BadVersion)) => {
            println!(
                "publisher: CAS with the stale version {} was refused",
                v.version
            )
        }
        other => return Err(format!("stale CAS should fail, got {other:?}").into()),
    }
    // Read-modify-write that retries lost races.
    let v3 = publisher
        .update(|old| {
            let old = old.cloned().unwrap_or(initial.clone());
            Limits {
                max_connections: old.max_connections * 2,
                rate_per_second: 25,
            }
        })
        .await?;
    println!(
        "publisher: update -> {:?} (version {})",
        v3.value, v3.version
    );
    assert_eq!(v3.value, last);

    for subscriber in subscribers {
        subscriber.await??;
    }
    publisher.delete(None).await?;
    publisher_client.close().await;
    println!("done");
    Ok(())
}
