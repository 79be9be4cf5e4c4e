//! Recovery over fuzzy snapshots: the log overlaps the snapshot (txns after the snapshot's name
//! already partly in it), and replaying it must give exactly the tree that was served.
//! - Apache with a low snapCount under concurrent pipelined writes writes fuzzy snapshots; zk-server
//!   takes over its data dir and must serve the same tree (every path, data and stat) with no
//!   digest mismatch.
//! - zk-server under the same load snapshots in the background; killed and restarted, it serves
//!   the same tree, again with no digest mismatch.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::{create, get_data, Raw};
use zk_proto::records::children::GetChildrenRequest;
use zk_proto::records::node::{DeleteRequest, SetDataRequest};
use zk_proto::{RequestBody, ResponseBody, Stat};
use zk_server::{Server, ServerConfig};
use zk_testkit::{ApacheOptions, TestDir};

/// Writers running at once.
const WRITERS: usize = 4;
/// Requests each writer keeps in flight.
const PIPELINE: usize = 32;
/// Rounds of `PIPELINE` requests per writer.
const ROUNDS: usize = 12;
/// Nodes populated first (1 KiB each), so that a snapshot takes long enough to be fuzzy.
const POPULATE: usize = 300;

/// Sends `reqs` pipelined and waits for every reply; returns the error codes.
async fn pipelined(c: &mut Raw, reqs: &[RequestBody]) -> Vec<i32> {
    for r in reqs {
        c.send(r).await;
    }
    let mut errs = Vec::with_capacity(reqs.len());
    while errs.len() < reqs.len() {
        match c.next().await.expect("reply") {
            common::Frame::Reply { header, .. } => errs.push(header.err),
            common::Frame::Event(_) => {}
        }
    }
    errs
}

async fn load(addr: &str) {
    let mut c = Raw::connect(addr, 30_000).await;
    assert_eq!(c.call(&create("/f", b"", 0)).await.0, 0);
    let big = vec![b'x'; 1024];
    let populate: Vec<RequestBody> = (0..POPULATE)
        .map(|i| create(&format!("/f/p{i}"), &big, 0))
        .collect();
    for chunk in populate.chunks(PIPELINE) {
        assert!(pipelined(&mut c, chunk).await.iter().all(|e| *e == 0));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let addr = addr.to_string();
        writers.push(tokio::spawn(async move {
            let mut c = Raw::connect(&addr, 30_000).await;
            let dir = format!("/f/w{w}");
            assert_eq!(c.call(&create(&dir, b"", 0)).await.0, 0);
            for round in 0..ROUNDS {
                let reqs: Vec<RequestBody> = (0..PIPELINE)
                    .map(|i| match (round + i) % 4 {
                        0 => create(&format!("{dir}/s-"), b"seq", 2),
                        1 => create(&format!("{dir}/n{round}-{i}"), b"n", 0),
                        2 => RequestBody::SetData(SetDataRequest {
                            path: format!("/f/p{}", (w * 7919 + round * 31 + i) % POPULATE),
                            data: Some(Bytes::from(format!("w{w} r{round} i{i}"))),
                            version: -1,
                        }),
                        _ => RequestBody::Delete(DeleteRequest {
                            // the node case 1 created in the previous round
                            path: format!(
                                "{dir}/n{}-{}",
                                round.saturating_sub(1),
                                i.saturating_sub(1)
                            ),
                            version: -1,
                        }),
                    })
                    .collect();
                pipelined(&mut c, &reqs).await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
}

/// Every node outside `/zookeeper`: data and stat.
async fn dump(addr: &str) -> BTreeMap<String, (Option<Bytes>, Stat)> {
    let mut c = Raw::connect(addr, 30_000).await;
    let mut out = BTreeMap::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let (err, rsp, _) = c
            .call(&RequestBody::GetChildren2(GetChildrenRequest {
                path: p.clone(),
                watch: false,
            }))
            .await;
        assert_eq!(err, 0, "{p}");
        let Some(ResponseBody::GetChildren2(r)) = rsp else {
            panic!("{rsp:?}")
        };
        for ch in r.children {
            let child = if p == "/" {
                format!("/{ch}")
            } else {
                format!("{p}/{ch}")
            };
            if child != "/zookeeper" {
                stack.push(child);
            }
        }
        let (err, rsp, _) = c.call(&get_data(&p, false)).await;
        assert_eq!(err, 0, "{p}");
        let Some(ResponseBody::GetData(d)) = rsp else {
            panic!("{rsp:?}")
        };
        out.insert(p, (d.data, d.stat));
    }
    out
}

fn assert_same_tree(
    served: &BTreeMap<String, (Option<Bytes>, Stat)>,
    recovered: &BTreeMap<String, (Option<Bytes>, Stat)>,
) {
    let a: Vec<&String> = served.keys().collect();
    let b: Vec<&String> = recovered.keys().collect();
    assert_eq!(a, b, "the same paths");
    for (p, v) in served {
        assert_eq!(Some(v), recovered.get(p), "{p}");
    }
}

fn mntr_value(mntr: &str, key: &str) -> Option<String> {
    mntr.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('\t').map(str::to_string))
}

fn four_letter(addr: &str, cmd: &str) -> String {
    zk_testkit::fourlw::four_letter(addr.parse().unwrap(), cmd).unwrap()
}

fn config(dir: &std::path::Path, extra: &str) -> ServerConfig {
    ServerConfig::parse(&format!(
        "dataDir={}\n4lw.commands.whitelist=*\n{extra}",
        dir.display()
    ))
    .unwrap()
}

/// Snapshots whose digest belongs to a later zxid than their name: txns landed while they
/// were written.
/// Their zxids, oldest first.
fn fuzzy_snapshots(dir: &std::path::Path) -> Vec<i64> {
    zk_storage::list_snapshots(dir)
        .unwrap()
        .into_iter()
        .filter(|(zxid, path)| {
            zk_storage::read_snapshot(path)
                .ok()
                .and_then(|s| s.digest)
                .is_some_and(|d| d.zxid > *zxid)
        })
        .map(|(zxid, _)| zxid)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_server_recovers_apache_fuzzy_snapshots() {
    let dir = TestDir::new("fuzzy-apache").unwrap();
    let Some(mut apache) = zk_testkit::apache_with_or_skip(
        "zk_server_recovers_apache_fuzzy_snapshots",
        ApacheOptions::new()
            .with_data_dir(dir.path())
            .with_cfg_line("snapCount=40"),
    ) else {
        return;
    };
    let addr = apache.connect_string();
    load(&addr).await;
    let served = dump(&addr).await;
    apache.kill();
    let snapshots = zk_storage::list_snapshots(dir.path()).unwrap().len();
    assert!(snapshots > 3, "Apache snapshotted: {snapshots}");
    let fuzzy = fuzzy_snapshots(dir.path());
    eprintln!(
        "{snapshots} Apache snapshots, {} of them fuzzy",
        fuzzy.len()
    );
    // Recover from the newest fuzzy snapshot: the log after its name overlaps its content.
    let newest_fuzzy = *fuzzy.last().expect("a snapshot taken during writes");
    for (zxid, path) in zk_storage::list_snapshots(dir.path()).unwrap() {
        if zxid > newest_fuzzy {
            std::fs::remove_file(path).unwrap();
        }
    }

    let ours = Server::builder()
        .config(config(dir.path(), ""))
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = ours.connect_string();
    assert_same_tree(&served, &dump(&addr).await);
    let mntr = four_letter(&addr, "mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_digest_mismatches_count").as_deref(),
        Some("0")
    );
    ours.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_server_recovers_its_own_snapshots_taken_under_load() {
    let dir = TestDir::new("fuzzy-ours").unwrap();
    let ours = Server::builder()
        .config(config(dir.path(), "snapCount=40\n"))
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = ours.connect_string();
    load(&addr).await;
    let served = dump(&addr).await;
    ours.kill().await;
    let snapshots = zk_storage::list_snapshots(dir.path()).unwrap().len();
    assert!(snapshots > 3, "zk-server snapshotted: {snapshots}");

    let again = Server::builder()
        .config(config(dir.path(), ""))
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = again.connect_string();
    assert_same_tree(&served, &dump(&addr).await);
    let mntr = four_letter(&addr, "mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_digest_mismatches_count").as_deref(),
        Some("0")
    );
    again.shutdown().await;
}
