//! Four-letter words: formats tools parse, and the whitelist.

mod common;

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

/// `mntr` keys Apache 3.8 prints and monitoring tools read, with integer or float values.
const MNTR_KEYS: [&str; 17] = [
    "zk_version",
    "zk_server_state",
    "zk_avg_latency",
    "zk_max_latency",
    "zk_min_latency",
    "zk_packets_received",
    "zk_packets_sent",
    "zk_num_alive_connections",
    "zk_outstanding_requests",
    "zk_znode_count",
    "zk_watch_count",
    "zk_ephemerals_count",
    "zk_approximate_data_size",
    "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count",
    "zk_global_sessions",
    "zk_digest_mismatches_count",
];

fn mntr_map(mntr: &str) -> std::collections::HashMap<String, String> {
    mntr.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_packet_statistics() {
    use zk_proto::RequestBody;
    let server = Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let ask = move |cmd: &'static str| {
        tokio::task::spawn_blocking(move || zk_testkit::four_letter(addr, cmd).unwrap())
    };
    let mut c = common::Raw::connect(&server.connect_string(), 30_000).await;
    assert_eq!(c.call(&common::create("/s", b"v", 0)).await.0, 0);
    for _ in 0..20 {
        assert_eq!(c.call(&common::get_data("/s", true)).await.0, 0);
    }
    c.call(&RequestBody::Ping).await;

    let mntr = mntr_map(&ask("mntr").await.unwrap());
    for key in MNTR_KEYS {
        assert!(mntr.contains_key(key), "mntr lacks {key}: {mntr:?}");
    }
    let int = |k: &str| {
        mntr[k]
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{k}={}", mntr[k]))
    };
    // connect + create + 20 reads + ping
    assert!(int("zk_packets_received") >= 23, "{mntr:?}");
    assert!(int("zk_packets_sent") >= 23, "{mntr:?}");
    assert_eq!(int("zk_num_alive_connections"), 1);
    assert_eq!(int("zk_outstanding_requests"), 0);
    assert_eq!(int("zk_znode_count"), 6);
    assert_eq!(int("zk_watch_count"), 1);
    assert!(int("zk_open_file_descriptor_count") > 0);
    assert!(int("zk_min_latency") <= int("zk_max_latency"));
    let avg: f64 = mntr["zk_avg_latency"].parse().unwrap();
    assert!(avg >= 0.0 && avg <= int("zk_max_latency") as f64 + 1.0);
    assert!(mntr["zk_avg_latency"].contains('.'), "a Java double");

    let srvr = ask("srvr").await.unwrap();
    let latency = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Latency min/avg/max: "))
        .expect("latency line");
    let parts: Vec<&str> = latency.split('/').collect();
    assert_eq!(parts.len(), 3, "{srvr}");
    parts[0].parse::<u64>().unwrap();
    parts[1].parse::<f64>().unwrap();
    parts[2].parse::<u64>().unwrap();

    let cons = ask("cons").await.unwrap();
    assert!(cons.contains(",lop=PING,"), "{cons}");
    assert!(cons.contains(",lcxid=0x15,"), "the last real xid: {cons}");
    assert!(cons.contains(",minlat="), "{cons}");

    // srst resets the server counters, crst the connection's.
    assert_eq!(ask("srst").await.unwrap(), "Server stats reset.\n");
    let mntr = mntr_map(&ask("mntr").await.unwrap());
    assert!(mntr["zk_packets_received"].parse::<u64>().unwrap() <= 1);
    assert_eq!(mntr["zk_max_latency"], "0");
    assert_eq!(mntr["zk_avg_latency"], "0.0");
    ask("crst").await.unwrap();
    let cons = ask("cons").await.unwrap();
    assert!(
        cons.contains("recved=0,sent=0,") && cons.contains(",lop=NA,"),
        "{cons}"
    );
    server.shutdown().await;
}
