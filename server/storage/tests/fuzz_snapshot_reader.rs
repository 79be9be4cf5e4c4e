//! Property tests ("fuzzing" under plain `cargo test`) of the snapshot reader: arbitrary bytes,
//! arbitrary mutations of valid snapshots (with checksums left stale or recomputed so the parser
//! itself is reached) never panic and never allocate more than the file justifies; arbitrary
//! snapshots round-trip. About 100k reader cases per run (`ZK_FUZZ_SCALE=10` for more).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use common::{fuzz_cases, ScratchDir};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm};
use zk_proto::records::acl::Id;
use zk_proto::{Acl, StatPersisted};
use zk_storage::{
    load_newest_snapshot, read_snapshot, write_snapshot, Adler32, SnapNode, SnapshotData,
    StorageError, ZxidDigest,
};

use common::alloc::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

thread_local! {
    /// One directory per test thread, reused by every case.
    static SCRATCH: ScratchDir = ScratchDir::new("fuzz-snap");
}

fn scratch() -> PathBuf {
    let path = SCRATCH.with(|d| d.path().to_path_buf());
    let _ = fs::remove_dir_all(path.join("version-2"));
    path
}

/// Decoded nodes are larger than their encoding (a `SnapNode` is ~150 bytes for an 86-byte
/// minimum encoding; ACL entries 56 bytes for 12), and vectors grow by doubling, so the bounds
/// are linear in the file size. Trusting a length or count beyond the file would exceed them by
/// orders of magnitude.
fn check_allocations(file_len: usize, largest: usize, total: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        largest <= 8 * file_len + 4096,
        "largest allocation {largest} for a {file_len}-byte file"
    );
    prop_assert!(
        total <= 64 * file_len + 64 * 1024,
        "allocated {total} bytes for a {file_len}-byte file"
    );
    Ok(())
}

fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("version-2").join("snapshot.1")
}

/// Reads the file both as a single snapshot and through the newest-valid search.
fn read_both(dir: &Path, bytes: &[u8]) -> Result<Option<SnapshotData>, TestCaseError> {
    let path = snapshot_path(dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    let (single, a) = measure(|| read_snapshot(&path));
    check_allocations(bytes.len(), a.largest, a.total)?;
    let (newest, a) = measure(|| load_newest_snapshot(dir, 100));
    check_allocations(bytes.len(), a.largest, a.total)?;
    match (single, newest) {
        (Ok(data), Ok(Some((1, again)))) => {
            prop_assert_eq!(&data, &again);
            prop_assert!(!data.nodes.is_empty());
            prop_assert_eq!(data.nodes[0].path.as_str(), "/");
            Ok(Some(data))
        }
        (Err(e), Err(StorageError::NoValidSnapshot { .. })) => {
            prop_assert!(
                matches!(
                    e,
                    StorageError::CorruptSnapshot { .. } | StorageError::BadHeader { .. }
                ),
                "unexpected error kind: {e}"
            );
            Ok(None)
        }
        (a, b) => Err(TestCaseError::fail(format!(
            "single read {a:?} but search {b:?}"
        ))),
    }
}

/// A deterministic, varied snapshot: nested nodes, null and binary data, shared and distinct
/// ACLs, ephemeral owners, sessions, a digest.
fn base_snapshot(nodes: usize, seed: u64) -> SnapshotData {
    let acls: Vec<Arc<[Acl]>> = vec![
        Acl::open_unsafe().into(),
        Acl::read_unsafe().into(),
        vec![
            Acl::new(31, Id::new("digest", "u:x=")),
            Acl::new(1, Id::new("ip", "10.0.0.1")),
        ]
        .into(),
    ];
    let mut out = vec![SnapNode {
        path: "/".into(),
        data: Some(Bytes::new()),
        acl: acls[0].clone(),
        stat: StatPersisted::default(),
    }];
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..nodes {
        let parent = out[(next() as usize) % out.len()].path.clone();
        let path = if parent == "/" {
            format!("/n{i}")
        } else {
            format!("{parent}/n{i}")
        };
        let r = next();
        out.push(SnapNode {
            path,
            data: match r % 3 {
                0 => None,
                1 => Some(Bytes::from(vec![(r >> 8) as u8; (r % 40) as usize])),
                _ => Some(Bytes::from_static(b"data")),
            },
            acl: acls[(r >> 16) as usize % acls.len()].clone(),
            stat: StatPersisted {
                czxid: i as i64,
                mzxid: (r >> 20) as i64,
                ctime: r as i64,
                mtime: -(r as i64),
                version: (r >> 3) as i32,
                cversion: i as i32,
                aversion: 1,
                ephemeral_owner: if r % 5 == 0 { 0x1000 } else { 0 },
                pzxid: 7,
            },
        });
    }
    SnapshotData {
        sessions: (0..(seed % 4) as i64)
            .map(|s| (0x1000 + s, 30_000))
            .collect(),
        nodes: out,
        digest: (seed % 3 != 0).then_some(ZxidDigest {
            zxid: 1,
            digest_version: 2,
            digest: seed as i64,
        }),
    }
}

fn encode(snap: &SnapshotData) -> Vec<u8> {
    let dir = scratch();
    let path = write_snapshot(&dir, 1, snap).unwrap();
    fs::read(path).unwrap()
}

/// Encoded base snapshots by (nodes, seed).
type Bases = std::collections::HashMap<(usize, u64), (SnapshotData, Vec<u8>)>;

thread_local! {
    static BASES: std::cell::RefCell<Bases> = Default::default();
}

/// [`base_snapshot`] and its encoding, written once per (nodes, seed) and reused.
fn base(nodes: usize, seed: u64) -> (SnapshotData, Vec<u8>) {
    BASES.with(|b| {
        b.borrow_mut()
            .entry((nodes, seed))
            .or_insert_with(|| {
                let snap = base_snapshot(nodes, seed);
                let bytes = encode(&snap);
                (snap, bytes)
            })
            .clone()
    })
}

/// Splits an encoded snapshot into the part the first seal covers and the digest section.
fn split_sections(bytes: &[u8], has_digest: bool) -> (Vec<u8>, Option<Vec<u8>>) {
    let seal = 8 + 5;
    if has_digest {
        let digest_len = 8 + 4 + 8;
        let body_end = bytes.len() - seal - digest_len - seal;
        let digest_start = body_end + seal;
        (
            bytes[..body_end].to_vec(),
            Some(bytes[digest_start..digest_start + digest_len].to_vec()),
        )
    } else {
        (bytes[..bytes.len() - seal].to_vec(), None)
    }
}

/// Appends `SnapStream.sealStream` for everything so far.
fn seal(out: &mut Vec<u8>) {
    let sum = i64::from(Adler32::checksum(out));
    out.extend_from_slice(&sum.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, b'/']);
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    Int { at: usize, value: i32 },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..12)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..24).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                Just(i32::MAX),
                Just(i32::MIN),
                Just(-1),
                Just(0),
                Just(1),
                any::<i32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Int { at, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::Flip { at, bits } => bytes[at % n] ^= bits,
        Mutation::Truncate { at } => bytes.truncate(at % n),
        Mutation::Insert { at, bytes: ins } => {
            let at = at % n;
            bytes.splice(at..at, ins.iter().copied());
        }
        Mutation::Remove { at, len } => {
            let at = at % n;
            bytes.drain(at..(at + len).min(n));
        }
        Mutation::Int { at, value } => {
            let at = at % n;
            let end = (at + 4).min(n);
            bytes[at..end].copy_from_slice(&value.to_be_bytes()[..end - at]);
        }
    }
}

const HEADER: &[u8; 16] = b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff";

fn config(cases: u32) -> Config {
    Config {
        cases: fuzz_cases(cases),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(40_000))]

    /// Arbitrary bytes, with or without a valid header, sealed or not.
    #[test]
    fn arbitrary_bytes(with_header in any::<bool>(), sealed in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = scratch();
        let mut bytes = if with_header { HEADER.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&body);
        if sealed {
            seal(&mut bytes);
        }
        read_both(&dir, &bytes)?;
    }
}

proptest! {
    #![proptest_config(config(35_000))]

    /// Mutations of a valid snapshot, checksums left as they were: always detected.
    #[test]
    fn mutated_snapshots(nodes in 0usize..12, seed in 0u64..48, mutations in proptest::collection::vec(arb_mutation(), 1..4)) {
        let dir = scratch();
        let (snap, clean) = base(nodes, seed);
        let mut bytes = clean.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Some(data) = read_both(&dir, &bytes)? {
            // Only a cut right after the first seal (dropping the digest section), or a no-op
            // mutation, reads back: never different data.
            prop_assert_eq!(&data.nodes, &snap.nodes);
            prop_assert_eq!(&data.sessions, &snap.sessions);
        }
    }
}

proptest! {
    #![proptest_config(config(25_000))]

    /// Mutations with the seals recomputed, so every check behind the checksum (lengths, counts,
    /// tree order, ACL references, digest section) is reached.
    #[test]
    fn mutated_and_resealed(nodes in 0usize..12, seed in 0u64..48, in_digest in any::<bool>(), mutations in proptest::collection::vec(arb_mutation(), 1..4)) {
        let dir = scratch();
        let (snap, clean) = base(nodes, seed);
        let (mut body, digest) = split_sections(&clean, snap.digest.is_some());
        let mut digest = digest;
        for m in &mutations {
            match (&mut digest, in_digest) {
                (Some(d), true) => apply(d, m),
                _ => apply(&mut body, m),
            }
        }
        let mut bytes = body;
        seal(&mut bytes);
        if let Some(d) = digest {
            bytes.extend_from_slice(&d);
            seal(&mut bytes);
        }
        if let Some(data) = read_both(&dir, &bytes)? {
            // Whatever parses is a well-formed tree.
            let mut seen = std::collections::HashSet::new();
            for n in &data.nodes {
                if n.path != "/" {
                    let parent = match n.path.rfind('/') { Some(0) => "/", Some(i) => &n.path[..i], None => "?" };
                    prop_assert!(seen.contains(parent), "{} before its parent", n.path);
                }
                prop_assert!(seen.insert(n.path.as_str()), "{} twice", n.path);
            }
        }
    }
}

/// An arbitrary tree: each node under the root or an earlier node.
fn arb_snapshot() -> impl Strategy<Value = SnapshotData> {
    let acl = prop_oneof![
        Just(Acl::open_unsafe()),
        proptest::collection::vec(
            (any::<i32>(), "[a-z]{0,6}", ".{0,10}")
                .prop_map(|(p, s, i)| Acl::new(p, Id::new(s, i))),
            0..3
        ),
    ];
    let node = (
        any::<usize>(),
        "[a-zA-Z0-9._-]{1,8}",
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        acl,
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i64>(),
            any::<i64>(),
        ),
    );
    (
        proptest::collection::vec(node, 0..12),
        proptest::collection::vec((any::<i64>(), any::<i32>()), 0..4),
        proptest::option::of((any::<i64>(), 1i32..3, any::<i64>())),
    )
        .prop_map(|(specs, sessions, digest)| {
            let mut nodes = vec![SnapNode {
                path: "/".into(),
                data: None,
                acl: Acl::open_unsafe().into(),
                stat: StatPersisted::default(),
            }];
            for (i, (parent, name, data, acl, s)) in specs.into_iter().enumerate() {
                let parent = nodes[parent % nodes.len()].path.clone();
                let name = format!("{name}{i}");
                let path = if parent == "/" {
                    format!("/{name}")
                } else {
                    format!("{parent}/{name}")
                };
                nodes.push(SnapNode {
                    path,
                    data: data.map(Bytes::from),
                    acl: acl.into(),
                    stat: StatPersisted {
                        czxid: s.0,
                        mzxid: s.1,
                        ctime: s.2,
                        mtime: s.3,
                        version: s.4,
                        cversion: s.5,
                        aversion: s.6,
                        ephemeral_owner: s.7,
                        pzxid: s.8,
                    },
                });
            }
            // Version 1 digests are hex text of a non-negative value.
            let digest = digest.map(|(zxid, v, d)| ZxidDigest {
                zxid,
                digest_version: v,
                digest: if v < 2 { d & i64::MAX } else { d },
            });
            SnapshotData {
                sessions,
                nodes,
                digest,
            }
        })
}

proptest! {
    #![proptest_config(config(1_500))]

    /// Arbitrary snapshots round-trip exactly.
    #[test]
    fn round_trip(snap in arb_snapshot()) {
        let dir = scratch();
        let path = write_snapshot(&dir, 1, &snap).unwrap();
        let back = read_snapshot(&path).unwrap();
        prop_assert_eq!(&back, &snap);
        prop_assert_eq!(back.tree_digest(), snap.tree_digest());
    }
}
