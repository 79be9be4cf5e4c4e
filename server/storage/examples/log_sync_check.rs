//! A micro-check of the txn log's durability cost, not a test: fdatasync latency (one txn per
//! sync) and group-commit throughput (many txns per sync) on the disk holding the given directory.
//!
//! ```text
//! cargo run --release -p zk-storage --example log_sync_check -- [dir] [txn bytes]
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::records::txn::{SetDataTxn, TxnDigest};
use zk_proto::{OpCode, TxnBody, TxnHeader};
use zk_storage::{LoggedTxn, TxnLog, TxnLogOptions};

fn txn(zxid: i64, size: usize) -> LoggedTxn {
    LoggedTxn {
        header: TxnHeader {
            client_id: 0x100,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
            txn_type: OpCode::SetData.code(),
        },
        body: TxnBody::SetData(SetDataTxn {
            path: "/bench/node".into(),
            data: Some(Bytes::from(vec![b'x'; size])),
            version: zxid as i32,
        }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: zxid,
        }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn main() -> Result<(), zk_storage::StorageError> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("zk-log-check-{}", std::process::id()))
        });
    let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let _ = std::fs::remove_dir_all(&dir);
    let mut log = TxnLog::open(&dir, TxnLogOptions::default())?;
    let mut zxid = 0;

    // Warm up: creates and preallocates the segment.
    zxid += 1;
    log.append(&txn(zxid, size))?;
    log.sync()?;

    let rounds = 1000;
    let mut lat = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        zxid += 1;
        let t = txn(zxid, size);
        let start = Instant::now();
        log.append(&t)?;
        log.sync()?;
        lat.push(start.elapsed());
    }
    lat.sort();
    let total: Duration = lat.iter().sum();
    println!(
        "append+sync, 1 txn of {size} B per sync: p50 {:?}  p99 {:?}  max {:?}  => {:.0} syncs/s",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        rounds as f64 / total.as_secs_f64()
    );

    for batch in [10usize, 100, 1000] {
        let batches = 100;
        let start = Instant::now();
        for _ in 0..batches {
            for _ in 0..batch {
                zxid += 1;
                log.append(&txn(zxid, size))?;
            }
            log.sync()?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "group commit, {batch} txns per sync: {:.0} txns/s, {:.2} ms per sync",
            (batches * batch) as f64 / secs,
            secs * 1000.0 / batches as f64
        );
    }

    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        zxid += 1;
        log.append(&txn(zxid, size))?;
    }
    log.sync()?;
    let secs = start.elapsed().as_secs_f64();
    println!("{n} appends then one sync: {:.0} txns/s", n as f64 / secs);
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
