//! Snapshots: round trip, the exact bytes Apache writes, ACL dedupe, node-order rules, damage
//! detection, and falling back to an older snapshot.

mod common;

use std::fs;
use std::sync::Arc;

use bytes::Bytes;
use common::{temp_dir, ModelTree};
use zk_proto::records::acl::Id;
use zk_proto::{perms, Acl, StatPersisted};
use zk_storage::layout::snap_dir;
use zk_storage::{
    list_snapshots, load_newest_snapshot, read_snapshot, write_snapshot, AclTable, SnapNode,
    SnapshotData, SnapshotReader, SnapshotWriter, StorageError, ZxidDigest,
};

fn sample() -> SnapshotData {
    let mut tree = ModelTree::apache_initial();
    let secure: Vec<Acl> = vec![
        Acl::new(
            perms::ALL,
            Id::new("digest", "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY="),
        ),
        Acl::new(perms::READ, Id::anyone()),
    ];
    let mut snap = tree.snapshot(0);
    let stat = |z: i64| StatPersisted {
        czxid: z,
        mzxid: z,
        ctime: 1000 + z,
        mtime: 1000 + z,
        version: 1,
        cversion: 2,
        aversion: 3,
        ephemeral_owner: 0,
        pzxid: z,
    };
    snap.nodes.push(SnapNode {
        path: "/app".into(),
        data: Some(Bytes::from_static(b"hello")),
        acl: Acl::open_unsafe().into(),
        stat: stat(1),
    });
    snap.nodes.push(SnapNode {
        path: "/app/x".into(),
        data: None,
        acl: secure.clone().into(),
        stat: stat(2),
    });
    snap.nodes.push(SnapNode {
        path: "/app-2".into(),
        data: Some(Bytes::from(vec![0u8, 255, 7])),
        acl: secure.into(),
        stat: StatPersisted {
            ephemeral_owner: 0x1000_0001,
            ..stat(3)
        },
    });
    snap.sessions = vec![(0x1000_0001, 30_000), (0x1000_0002, 4_000)];
    tree.nodes.clear();
    let digest = common::digest_of(&snap.nodes);
    snap.digest = Some(ZxidDigest {
        zxid: 3,
        digest_version: 2,
        digest,
    });
    snap
}

#[test]
fn round_trip() {
    let dir = temp_dir("snap-roundtrip");
    let snap = sample();
    let path = write_snapshot(dir.path(), 3, &snap).unwrap();
    assert_eq!(path, snap_dir(dir.path()).join("snapshot.3"));
    let back = read_snapshot(&path).unwrap();
    assert_eq!(back, snap);
    assert_eq!(back.tree_digest(), snap.digest.unwrap().digest);
    assert!(!snap_dir(dir.path()).join("snapshot.3.tmp").exists());
    // No digest section is fine too (Apache < 3.6).
    let no_digest = SnapshotData {
        digest: None,
        ..snap.clone()
    };
    let path = write_snapshot(dir.path(), 4, &no_digest).unwrap();
    assert_eq!(read_snapshot(&path).unwrap(), no_digest);
    // Digest version 1 stores the digest as hex text.
    let v1 = SnapshotData {
        digest: Some(ZxidDigest {
            zxid: 3,
            digest_version: 1,
            digest: 0xabc,
        }),
        ..snap
    };
    let path = write_snapshot(dir.path(), 5, &v1).unwrap();
    assert_eq!(read_snapshot(&path).unwrap(), v1);
}

#[test]
fn bytes_match_apache_empty_tree_snapshot() {
    // Apache 3.8.0's snapshot.0 of a fresh server, byte for byte, except that Apache gives the
    // null-ACL nodes id -1 and the config node id 1 while we number every list.
    let dir = temp_dir("snap-apache-bytes");
    let mut snap = ModelTree::apache_initial().snapshot(0);
    // Apache's DFS order: root, /zookeeper, /zookeeper/config, /zookeeper/quota.
    snap.digest = Some(ZxidDigest {
        zxid: 0,
        digest_version: 2,
        digest: 0,
    });
    let path = write_snapshot(dir.path(), 0, &snap).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(
        &bytes[..16],
        b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff"
    );
    assert_eq!(&bytes[16..20], &[0, 0, 0, 0]); // no sessions
    assert_eq!(&bytes[20..24], &[0, 0, 0, 2]); // two distinct ACL lists
    assert_eq!(&bytes[bytes.len() - 5..], &[0, 0, 0, 1, b'/']);
    // Apache's file is 457 bytes; ours has one more ACL cache entry (8 + 4 + 4+4+5+4+6 = 35
    // bytes) because Apache's open-ACL nodes use the -1 shortcut.
    assert_eq!(bytes.len(), 457 + 35);
    // And it reads back, with every node's ACL intact.
    let back = read_snapshot(&path).unwrap();
    assert_eq!(back.nodes, snap.nodes);
}

#[test]
fn acl_lists_are_stored_once_and_shared_on_read() {
    let dir = temp_dir("snap-acl-dedupe");
    let snap = sample();
    let path = write_snapshot(dir.path(), 3, &snap).unwrap();
    let back = read_snapshot(&path).unwrap();
    let x = back.nodes.iter().find(|n| n.path == "/app/x").unwrap();
    let y = back.nodes.iter().find(|n| n.path == "/app-2").unwrap();
    assert!(Arc::ptr_eq(&x.acl, &y.acl));
    let mut table = AclTable::new();
    for n in &snap.nodes {
        table.intern(&n.acl);
    }
    assert_eq!(table.len(), 3); // open, read-only (config), secure
}

#[test]
fn writer_enforces_parent_before_child() {
    let dir = temp_dir("snap-order");
    let open = Acl::open_unsafe();
    let mut acls = AclTable::new();
    acls.intern(&open);
    let stat = StatPersisted::default();
    let mut w = SnapshotWriter::create(dir.path(), 1, &[], acls.clone()).unwrap();
    assert!(matches!(
        w.append_node("/a", None, &open, &stat),
        Err(StorageError::NodeOrder { .. })
    ));
    w.append_node("/", None, &open, &stat).unwrap();
    assert!(matches!(
        w.append_node("/a/b", None, &open, &stat),
        Err(StorageError::NodeOrder { .. })
    ));
    w.append_node("/a", None, &open, &stat).unwrap();
    w.append_node("/a/b", None, &open, &stat).unwrap();
    for bad in ["/a", "/", "a", "/a/"] {
        assert!(
            matches!(
                w.append_node(bad, None, &open, &stat),
                Err(StorageError::NodeOrder { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        w.append_node("/c", None, &Acl::read_unsafe(), &stat),
        Err(StorageError::AclNotInterned { .. })
    ));
    assert_eq!(w.nodes_written(), 3);
    let path = w.finish(None).unwrap();
    assert_eq!(read_snapshot(&path).unwrap().nodes.len(), 3);
    // An abandoned writer leaves no file behind.
    let w = SnapshotWriter::create(dir.path(), 2, &[], acls).unwrap();
    drop(w);
    assert!(!snap_dir(dir.path()).join("snapshot.2.tmp").exists());
    assert!(!snap_dir(dir.path()).join("snapshot.2").exists());
}

#[test]
fn streaming_reader_yields_nodes_then_checks_seals() {
    let dir = temp_dir("snap-stream");
    let snap = sample();
    let path = write_snapshot(dir.path(), 3, &snap).unwrap();
    let mut reader = SnapshotReader::open(&path).unwrap();
    assert_eq!(reader.zxid(), Some(3));
    assert_eq!(reader.sessions(), snap.sessions);
    let mut n = 0;
    while let Some(node) = reader.next_node().unwrap() {
        assert_eq!(node, snap.nodes[n]);
        n += 1;
    }
    assert_eq!(n, snap.nodes.len());
    assert_eq!(reader.finish().unwrap(), snap.digest);
}

#[test]
fn any_flipped_byte_is_detected() {
    let dir = temp_dir("snap-flip");
    let path = write_snapshot(dir.path(), 3, &sample()).unwrap();
    let clean = fs::read(&path).unwrap();
    for at in 0..clean.len() {
        let mut bytes = clean.clone();
        bytes[at] ^= 0x20;
        fs::write(&path, &bytes).unwrap();
        match read_snapshot(&path) {
            Err(e) => assert!(e.to_string().contains("snapshot.3"), "byte {at}: {e}"),
            Ok(_) => panic!("flipping byte {at} went unnoticed"),
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    let dir = temp_dir("snap-truncate");
    let path = write_snapshot(dir.path(), 3, &sample()).unwrap();
    let clean = fs::read(&path).unwrap();
    // Cut right after the first seal, the file is a valid snapshot without a digest section
    // (what Apache before 3.6 wrote); every other cut is an error.
    let first_seal_end = clean.len() - (8 + 4 + 8) - (8 + 5);
    for cut in 0..clean.len() {
        fs::write(&path, &clean[..cut]).unwrap();
        match read_snapshot(&path) {
            Ok(data) => {
                assert_eq!(cut, first_seal_end);
                assert_eq!(data.digest, None);
            }
            Err(e) => assert!(e.to_string().contains("snapshot.3"), "cut at {cut}: {e}"),
        }
    }
}

#[test]
fn newest_valid_snapshot_wins_and_damaged_ones_are_skipped() {
    let dir = temp_dir("snap-fallback");
    let mut snap = sample();
    write_snapshot(dir.path(), 3, &snap).unwrap();
    snap.sessions.push((0x1000_0003, 10_000));
    write_snapshot(dir.path(), 7, &snap).unwrap();
    snap.sessions.push((0x1000_0004, 10_000));
    let newest = write_snapshot(dir.path(), 9, &snap).unwrap();
    assert_eq!(list_snapshots(dir.path()).unwrap().len(), 3);
    let (zxid, data) = load_newest_snapshot(dir.path(), 100).unwrap().unwrap();
    assert_eq!((zxid, data.sessions.len()), (9, 4));

    // Newest cut short by a crash (no final seal): skipped without being counted.
    let bytes = fs::read(&newest).unwrap();
    fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    // Middle one damaged inside (seal intact): tried, rejected.
    let middle = snap_dir(dir.path()).join("snapshot.7");
    let mut bytes = fs::read(&middle).unwrap();
    bytes[40] ^= 1;
    fs::write(&middle, &bytes).unwrap();
    let (zxid, data) = load_newest_snapshot(dir.path(), 100).unwrap().unwrap();
    assert_eq!((zxid, data.sessions.len()), (3, 2));
    // Only one try allowed: the damaged middle one uses it up.
    assert!(matches!(
        load_newest_snapshot(dir.path(), 1),
        Err(StorageError::NoValidSnapshot { tried: 1, .. })
    ));
    // Temporary and compressed files are never loaded.
    fs::write(snap_dir(dir.path()).join("snapshot.20.tmp"), b"junk").unwrap();
    fs::write(snap_dir(dir.path()).join("snapshot.21.gz"), b"junk").unwrap();
    assert_eq!(load_newest_snapshot(dir.path(), 100).unwrap().unwrap().0, 3);
    // No snapshots at all.
    let empty = temp_dir("snap-none");
    assert!(load_newest_snapshot(empty.path(), 100).unwrap().is_none());
}

#[test]
fn hostile_lengths_are_rejected_before_allocating() {
    let dir = temp_dir("snap-hostile");
    let path = snap_dir(dir.path()).join("snapshot.1");
    fs::create_dir_all(snap_dir(dir.path())).unwrap();
    let mut bytes = b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff".to_vec();
    bytes.extend_from_slice(&i32::MAX.to_be_bytes()); // 2^31 sessions
    bytes.extend_from_slice(&[0; 64]);
    fs::write(&path, &bytes).unwrap();
    let err = read_snapshot(&path).unwrap_err();
    assert!(
        matches!(err, StorageError::CorruptSnapshot { offset: 16, .. }),
        "{err}"
    );
}
