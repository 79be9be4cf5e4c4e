//! Service discovery with client-side load balancing.
//!
//! Three instances of a small TCP echo service start, each with its own ZooKeeper session, and
//! register in a registry (Curator's curator-x-discovery layout, so Java services could join).
//! A client keeps a live cache of the instances and sends requests round-robin. Then one
//! instance stops: its first failed request marks it down, the client retries elsewhere, and once
//! the instance's node is gone every request goes to the other two.
//!
//! ```text
//! cargo run --example service_discovery                      # starts an embedded zk-server
//! cargo run --example service_discovery -- --connect HOSTS   # uses an existing ensemble
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use zk::client::Client;
use zk::recipes::registry::{
    Balancer, DownPolicy, Registration, ServiceInstance, ServiceProvider, ServiceRegistry, Strategy,
};

mod support;
use support::connect_or_embed;

/// Where the registry lives.
const BASE: &str = "/examples/services";
/// The service's name.
const SERVICE: &str = "echo";
/// How many instances start.
const INSTANCES: usize = 3;
/// Requests sent in each phase.
const REQUESTS: usize = 6;
/// How long the example waits for the registry to reflect a change before giving up.
const WAIT: Duration = Duration::from_secs(20);

/// One running instance: its listener task, its session and its registration.
struct EchoInstance {
    id: String,
    server: tokio::task::JoinHandle<()>,
    client: Client,
    registration: Registration,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (connect, _server) = connect_or_embed().await?;

    let mut instances = Vec::new();
    for i in 1..=INSTANCES {
        instances.push(start_instance(&connect, &format!("echo-{i}")).await?);
    }

    let client = Client::connect(&connect).await?;
    let registry = ServiceRegistry::new(&client, BASE)?;
    // One error is enough to take an instance out of rotation for a minute.
    let balancer = Balancer::new(Strategy::RoundRobin).with_down_policy(DownPolicy {
        timeout: Duration::from_secs(60),
        error_threshold: 1,
    });
    let provider = registry.provider_with(SERVICE, balancer).await?;
    tokio::time::timeout(WAIT, provider.cache().wait_until(|l| l.len() == INSTANCES)).await??;
    println!("client: discovered {:?}", ids(&provider));

    println!("-- {REQUESTS} requests, round-robin");
    let before = send_requests(&provider, REQUESTS).await?;
    println!("client: answered by {before:?}");

    // echo-2 stops serving; its registration goes a moment later, as when a process shuts down.
    let stopped = instances.remove(1);
    println!("-- {} stops", stopped.id);
    stopped.server.abort();
    let _ = stopped.server.await;
    let after = send_requests(&provider, REQUESTS).await?;
    println!("client: answered by {after:?}");
    stopped.registration.unregister().await?;
    stopped.client.close().await;
    tokio::time::timeout(
        WAIT,
        provider.cache().wait_until(|l| l.len() == INSTANCES - 1),
    )
    .await??;
    println!("client: registry now lists {:?}", ids(&provider));
    assert!(
        !after.contains_key(&stopped.id),
        "traffic moved away from the stopped instance"
    );

    for instance in instances {
        instance.server.abort();
        instance.registration.unregister().await?;
        instance.client.close().await;
    }
    client.close().await;
    println!("done");
    Ok(())
}

/// Starts an echo server on a free port and registers it.
async fn start_instance(
    connect: &str,
    id: &str,
) -> Result<EchoInstance, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let name = id.to_owned();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let name = name.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = format!("{name}: {line}\n");
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let client = Client::connect(connect).await?;
    let registry = ServiceRegistry::new(&client, BASE)?;
    let instance = ServiceInstance::builder(SERVICE)
        .id(id)
        .address("127.0.0.1")
        .port(port)
        .build();
    let registration = registry.register(instance).await?;
    println!(
        "{id}: listening on 127.0.0.1:{port}, registered at {}",
        registration.path()
    );
    Ok(EchoInstance {
        id: id.to_owned(),
        server,
        client,
        registration,
    })
}

/// Sends `n` requests through the provider, retrying a failed one on another instance; returns
/// how many each instance answered.
async fn send_requests(
    provider: &ServiceProvider,
    n: usize,
) -> Result<BTreeMap<String, usize>, Box<dyn std::error::Error>> {
    let mut answered = BTreeMap::new();
    for request in 0..n {
        loop {
            let instance = provider.pick().ok_or("no instance available")?;
            let addr = instance
                .socket_addr_string()
                .ok_or("instance without address")?;
            match echo(&addr, &format!("request {request}")).await {
                Ok(reply) => {
                    println!("  request {request} -> {reply}");
                    *answered.entry(instance.id.clone()).or_insert(0) += 1;
                    break;
                }
                Err(e) => {
                    println!(
                        "  request {request} -> {} failed ({e}); marking it down",
                        instance.id
                    );
                    provider.note_error(&instance);
                }
            }
        }
    }
    Ok(answered)
}

async fn echo(addr: &str, message: &str) -> std::io::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{message}\n").as_bytes()).await?;
    let mut lines = BufReader::new(read).lines();
    lines
        .next_line()
        .await?
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no reply"))
}

fn ids(provider: &ServiceProvider) -> Vec<String> {
    provider.instances().iter().map(|i| i.id.clone()).collect()
}
