//! Shared by the examples: where the ZooKeeper ensemble comes from.

use zk::server::ServerHandle;

/// `--connect HOSTS` if given, else an embedded zk-server on a free loopback port.
pub async fn connect_or_embed() -> Result<(String, Option<ServerHandle>), Box<dyn std::error::Error>>
{
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--connect") {
        let hosts = args.get(i + 1).ok_or("--connect needs HOSTS")?;
        return Ok((hosts.clone(), None));
    }
    let server = zk::server::Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await?;
    println!(
        "started an embedded zk-server on {}",
        server.connect_string()
    );
    Ok((server.connect_string(), Some(server)))
}
