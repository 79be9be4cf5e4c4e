//! Recovery (newest valid snapshot + the txns after it) and purge (PurgeTxnLog's retention rule).

mod common;

use std::fs;
use std::path::Path;

use common::{header, temp_dir, ModelTree};
use zk_proto::records::txn::{CreateSessionTxn, CreateTxn, SetDataTxn};
use zk_proto::{Acl, OpCode, TxnBody};
use zk_storage::layout::{log_dir, snap_dir};
use zk_storage::{
    purge, recover, recover_with, write_snapshot, LoggedTxn, RecoverOptions, StorageError, TxnLog,
    TxnLogOptions,
};

const SESSION: i64 = 0x1000_0001;

fn create(zxid: i64, path: &str, parent_cversion: i32) -> LoggedTxn {
    LoggedTxn {
        header: header(zxid, OpCode::Create, SESSION),
        body: TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(format!("v{zxid}").into_bytes().into()),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion,
        }),
        digest: None,
    }
}

/// A server's life: snapshot.0, txns, a fuzzy snapshot every `snap_every` txns (log rolled
/// first), as Apache's SyncRequestProcessor does. Returns the model after all txns.
fn run_server(data_dir: &Path, log_dir_root: &Path, txns: i64, snap_every: i64) -> ModelTree {
    let mut tree = ModelTree::apache_initial();
    write_snapshot(data_dir, 0, &tree.snapshot(0)).unwrap();
    let mut log = TxnLog::open(log_dir_root, TxnLogOptions::default()).unwrap();
    let first = tree.apply(LoggedTxn {
        header: header(1, OpCode::CreateSession, SESSION),
        body: TxnBody::CreateSession(CreateSessionTxn { timeout: 30_000 }),
        digest: None,
    });
    log.append(&first).unwrap();
    for zxid in 2..=txns {
        let txn = if zxid % 3 == 0 {
            LoggedTxn {
                header: header(zxid, OpCode::SetData, SESSION),
                body: TxnBody::SetData(SetDataTxn {
                    path: format!("/n{}", zxid - 1),
                    data: Some(b"changed".to_vec().into()),
                    version: 1,
                }),
                digest: None,
            }
        } else {
            let cversion = tree.nodes["/"].stat.cversion + 1;
            create(zxid, &format!("/n{zxid}"), cversion)
        };
        let txn = tree.apply(txn);
        log.append(&txn).unwrap();
        log.sync().unwrap();
        if zxid % snap_every == 0 {
            log.roll().unwrap();
            write_snapshot(data_dir, zxid, &tree.snapshot(zxid)).unwrap();
        }
    }
    log.sync().unwrap();
    tree
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn recovers_newest_snapshot_and_the_txns_after_it() {
    let dir = temp_dir("recover");
    let tree = run_server(dir.path(), dir.path(), 25, 10);
    let recovered = recover(dir.path(), dir.path()).unwrap();
    let (zxid, snap) = recovered.snapshot.as_ref().unwrap();
    assert_eq!(*zxid, 20);
    assert_eq!(snap.digest.unwrap().zxid, 20);
    assert_eq!(snap.tree_digest(), snap.digest.unwrap().digest);
    let zxids: Vec<i64> = recovered.txns.iter().map(|t| t.zxid()).collect();
    assert_eq!(zxids, (21..=25).collect::<Vec<_>>());
    assert_eq!(recovered.last_zxid(), 25);
    // The last logged digest is the model's.
    assert_eq!(
        recovered
            .txns
            .last()
            .unwrap()
            .digest
            .as_ref()
            .unwrap()
            .tree_digest,
        tree.digest.value()
    );
}

#[test]
fn separate_data_log_dir() {
    let data = temp_dir("recover-data");
    let logs = temp_dir("recover-logs");
    run_server(data.path(), logs.path(), 12, 5);
    assert!(names(&snap_dir(data.path()))
        .iter()
        .all(|n| n.starts_with("snapshot.")));
    assert!(names(&log_dir(logs.path()))
        .iter()
        .all(|n| n.starts_with("log.")));
    let recovered = recover(data.path(), logs.path()).unwrap();
    assert_eq!(recovered.snapshot.as_ref().unwrap().0, 10);
    assert_eq!(recovered.txns.len(), 2);
}

#[test]
fn damaged_newest_snapshot_falls_back_and_replays_more_log() {
    let dir = temp_dir("recover-fallback");
    run_server(dir.path(), dir.path(), 25, 10);
    // The newest snapshot, 0x14 = 20, damaged inside.
    let path = snap_dir(dir.path()).join("snapshot.14");
    let mut bytes = fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let recovered = recover(dir.path(), dir.path()).unwrap();
    assert_eq!(recovered.snapshot.as_ref().unwrap().0, 10);
    let zxids: Vec<i64> = recovered.txns.iter().map(|t| t.zxid()).collect();
    assert_eq!(zxids, (11..=25).collect::<Vec<_>>());
}

#[test]
fn fresh_dir_and_log_without_snapshot() {
    let dir = temp_dir("recover-empty");
    let recovered = recover(dir.path(), dir.path()).unwrap();
    assert!(recovered.is_empty());
    assert_eq!(recovered.last_zxid(), 0);
    let mut log = TxnLog::open(dir.path(), TxnLogOptions::default()).unwrap();
    log.append(&create(1, "/a", 1)).unwrap();
    log.sync().unwrap();
    assert!(matches!(
        recover(dir.path(), dir.path()),
        Err(StorageError::LogWithoutSnapshot { .. })
    ));
    let options = RecoverOptions {
        trust_empty_snapshot: true,
        ..RecoverOptions::default()
    };
    let recovered = recover_with(dir.path(), dir.path(), &options).unwrap();
    assert_eq!(recovered.txns.len(), 1);
}

#[test]
fn purge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let dir = temp_dir("purge");
    run_server(dir.path(), dir.path(), 50, 10);
    let vdir = snap_dir(dir.path());
    assert_eq!(
        names(&vdir),
        [
            "log.1",
            "log.15",
            "log.1f",
            "log.29",
            "log.b",
            "snapshot.0",
            "snapshot.14",
            "snapshot.1e",
            "snapshot.28",
            "snapshot.32",
            "snapshot.a"
        ]
    );
    assert!(matches!(
        purge(dir.path(), dir.path(), 2),
        Err(StorageError::InvalidRetainCount { count: 2, min: 3 })
    ));
    let report = purge(dir.path(), dir.path(), 3).unwrap();
    // Keep snapshots 0x32, 0x28, 0x1e; the oldest kept is 0x1e = 30, whose txns from 31 on are in
    // log.1f (31) and later; log.15 (21..=30) is the newest log at or below 30, so Apache keeps it.
    assert_eq!(
        names(&vdir),
        [
            "log.15",
            "log.1f",
            "log.29",
            "snapshot.1e",
            "snapshot.28",
            "snapshot.32"
        ]
    );
    assert_eq!(report.removed.len(), 5);
    // Still recoverable, from each kept snapshot.
    let recovered = recover(dir.path(), dir.path()).unwrap();
    assert_eq!(recovered.snapshot.as_ref().unwrap().0, 50);
    // Purging again removes nothing.
    assert!(purge(dir.path(), dir.path(), 3).unwrap().removed.is_empty());
    // Fewer snapshots than the retain count: nothing to do.
    let empty = temp_dir("purge-empty");
    assert!(purge(empty.path(), empty.path(), 3)
        .unwrap()
        .removed
        .is_empty());
}
