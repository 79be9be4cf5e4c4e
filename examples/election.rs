//! Leader election: three candidates join a `LeaderLatch`; the leader quits, and leadership
//! moves to the next candidate until one is left.
//!
//! Each candidate has its own ZooKeeper session and prints its leadership as it changes
//! (follower of X, leader with a fencing token that grows with every new leader).
//!
//! ```text
//! cargo run --example election                      # starts an embedded zk-server
//! cargo run --example election -- --connect HOSTS   # uses an existing ensemble
//! ```

use futures::StreamExt;
use zk::client::Client;
use zk::recipes::election::{LeaderLatch, Leadership};

mod support;
use support::connect_or_embed;

/// How many candidates take part.
const CANDIDATES: usize = 3;
/// The election's path.
const ELECTION: &str = "/examples/election";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (connect, _server) = connect_or_embed().await?;
    let mut latches = Vec::new();
    let mut printers = Vec::new();
    for i in 0..CANDIDATES {
        let client = Client::connect(&connect).await?;
        let latch = LeaderLatch::start(&client, ELECTION, &format!("candidate-{i}"))?;
        let mut changes = latch.changes();
        let name = latch.id().to_owned();
        printers.push(tokio::spawn(async move {
            while let Some(change) = changes.next().await {
                match change {
                    Leadership::Leader { token } => println!("{name}: LEADER (token {token})"),
                    Leadership::Follower { leader: Some(l) } => println!("{name}: follows {l}"),
                    Leadership::Closed => println!("{name}: left"),
                    other => println!("{name}: {other:?}"),
                }
            }
        }));
        // Join in order, so the election order is predictable.
        let mut watch = latch.watch();
        watch
            .wait_for(|l| l.is_leader() || matches!(l, Leadership::Follower { .. }))
            .await?;
        latches.push((latch, client));
    }

    let mut last_token = None;
    while latches.len() > 1 {
        let leader = latches
            .iter()
            .position(|(l, _)| l.is_leader())
            .ok_or("no leader")?;
        let (latch, client) = latches.remove(leader);
        let token = latch.leadership().token();
        assert!(token > last_token, "fencing tokens grow");
        last_token = token;
        println!("{} quits", latch.id());
        latch.close().await;
        client.close().await;
        // Someone else takes over.
        wait_for_any_leader(&latches).await;
    }
    let (latch, client) = latches.remove(0);
    println!("{} is the last candidate and leads", latch.id());
    latch.close().await;
    client.close().await;
    for printer in printers {
        let _ = printer.await;
    }
    Ok(())
}

/// Waits until one of the candidates leads.
async fn wait_for_any_leader(latches: &[(LeaderLatch, Client)]) {
    let waits = latches.iter().map(|(l, _)| {
        let mut watch = l.watch();
        Box::pin(async move {
            let _ = watch.wait_for(Leadership::is_leader).await;
        })
    });
    futures::future::select_all(waits).await;
}
