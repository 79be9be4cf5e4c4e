//! Four-letter words: formats tools parse, and the whitelist.

use zk_server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_whitelist() {
    let server = Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let ask = move |cmd: &'static str| {
        tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, cmd).unwrap())
    };
    assert_eq!(ask("ruok").await.unwrap(), "imok");
    assert_eq!(ask("isro").await.unwrap(), "rw");
    let srvr = ask("srvr").await.unwrap();
    assert!(srvr.starts_with("Zookeeper version: 3.8."), "{srvr}");
    assert!(srvr.contains("Mode: standalone\n"), "{srvr}");
    assert!(srvr.contains("Node count: 5\n"), "{srvr}");
    assert_eq!(
        zk_testkit::ServerMode::parse(&srvr),
        Some(zk_testkit::ServerMode::Standalone)
    );
    let envi = ask("envi").await.unwrap();
    assert!(
        envi.lines()
            .any(|l| l.starts_with("zookeeper.version=3.8.")),
        "{envi}"
    );
    let mntr = ask("mntr").await.unwrap();
    assert!(mntr.contains("zk_server_state\tstandalone\n"), "{mntr}");
    assert!(mntr.contains("zk_znode_count\t5\n"), "{mntr}");
    let conf = ask("conf").await.unwrap();
    assert!(
        conf.contains(&format!("clientPort={}\n", addr.port())),
        "{conf}"
    );
    let wchs = ask("wchs").await.unwrap();
    assert!(
        wchs.starts_with("0 connections watching 0 paths\nTotal watches:0"),
        "{wchs}"
    );
    for cmd in ["stat", "cons", "crst", "srst", "wchc", "wchp", "dump"] {
        let _ = ask(cmd).await.unwrap();
    }
    server.shutdown().await;

    // Only srvr is enabled by default in a zoo.cfg-configured server.
    let dir = zk_testkit::TestDir::new("fourlw").unwrap();
    let cfg = ServerConfig::parse(&format!("dataDir={}\n", dir.path().display())).unwrap();
    let server = Server::builder()
        .config(cfg)
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let out = tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, "ruok").unwrap())
        .await
        .unwrap();
    assert_eq!(
        out,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    server.shutdown().await;
}
