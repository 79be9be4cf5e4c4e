//! Property tests ("fuzzing" under plain `cargo test`) of the txn log reader: arbitrary bytes,
//! arbitrary mutations of valid logs and well-framed records around arbitrary entries never panic,
//! never allocate more than the file justifies, and never lose or invent valid txns; and arbitrary
//! txn sequences round-trip. About 100k reader cases per run (`ZK_FUZZ_SCALE=10` for more).

mod common;

use std::fs;
use std::path::Path;

use bytes::Bytes;
use common::alloc::{measure, CountingAlloc};
use common::{fuzz_cases, ScratchDir};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm};
use zk_proto::arbitrary::Arb;
use zk_proto::records::txn::*;
use zk_proto::{OpCode, TxnBody, TxnHeader};
use zk_storage::{read_segment, read_txns, LoggedTxn, StorageError, TxnLog, TxnLogOptions};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Apache's default (2 MiB): far above the inputs here, so a reader that trusted a length field
/// beyond the file would show up in the allocation bounds.
const MAX_RECORD: usize = zk_storage::DEFAULT_MAX_RECORD_SIZE;

/// Allocation bounds: decoded txns are larger than their encoding (a `String` or `Vec` header per
/// field, vectors growing by doubling), so bounds are linear in the file size with a small
/// constant for paths, error messages and the like. A length field trusted beyond the file would
/// blow through them by orders of magnitude.
fn check_allocations(file_len: u64, largest: usize, total: usize) -> Result<(), TestCaseError> {
    let len = file_len as usize;
    prop_assert!(
        largest <= 4 * len + 4096,
        "largest allocation {largest} for a {len}-byte file"
    );
    prop_assert!(
        total <= 64 * len + 64 * 1024,
        "allocated {total} bytes for a {len}-byte file"
    );
    Ok(())
}

thread_local! {
    /// One directory per test thread, reused by every case (cases run one after another).
    static SCRATCH: ScratchDir = ScratchDir::new("fuzz-log");
}

/// The thread's scratch dir, emptied.
fn scratch() -> ScratchPath {
    let path = SCRATCH.with(|d| d.path().to_path_buf());
    let _ = fs::remove_dir_all(path.join("version-2"));
    ScratchPath(path)
}

struct ScratchPath(std::path::PathBuf);

impl ScratchPath {
    fn path(&self) -> &Path {
        &self.0
    }
}

const HEADER: &[u8; 16] = b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0";

fn segment_path(dir: &Path) -> std::path::PathBuf {
    dir.join("version-2").join("log.1")
}

fn write_segment(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let path = segment_path(dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    path
}

/// Reads the segment both ways; returns the txns if readable.
fn read_all(dir: &Path, len: u64) -> Result<Option<Vec<LoggedTxn>>, TestCaseError> {
    let path = segment_path(dir);
    let (by_segment, a) = measure(|| read_segment(&path, MAX_RECORD));
    check_allocations(len, a.largest, a.total)?;
    let (by_dir, a) = measure(|| read_txns(dir, 0, MAX_RECORD));
    check_allocations(len, a.largest, a.total)?;
    match (by_segment, by_dir) {
        (Ok(seg), Ok(txns)) => {
            prop_assert_eq!(&seg.txns, &txns);
            prop_assert!(seg.valid_len <= seg.file_len);
            Ok(Some(txns))
        }
        (Err(e1), Err(e2)) => {
            prop_assert_eq!(e1.to_string(), e2.to_string());
            prop_assert!(
                matches!(
                    e1,
                    StorageError::CorruptLog { .. } | StorageError::BadHeader { .. }
                ),
                "unexpected error kind: {e1}"
            );
            Ok(None)
        }
        (a, b) => Err(TestCaseError::fail(format!(
            "segment read {a:?} but dir read {b:?}"
        ))),
    }
}

fn frame(entry: &[u8], out: &mut Vec<u8>) {
    let crc = i64::from(zk_storage::Adler32::checksum(entry));
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    out.extend_from_slice(entry);
    out.push(b'B');
}

/// Any txn body with a matching txn type.
fn arb_body() -> impl Strategy<Value = (i32, TxnBody)> {
    use OpCode::*;
    prop_oneof![
        (prop_oneof![Just(Create), Just(Create2)], CreateTxn::arb())
            .prop_map(|(op, t)| (op.code(), TxnBody::Create(t))),
        CreateContainerTxn::arb()
            .prop_map(|t| (CreateContainer.code(), TxnBody::CreateContainer(t))),
        CreateTtlTxn::arb().prop_map(|t| (CreateTtl.code(), TxnBody::CreateTtl(t))),
        (
            prop_oneof![Just(Delete), Just(DeleteContainer)],
            DeleteTxn::arb()
        )
            .prop_map(|(op, t)| (op.code(), TxnBody::Delete(t))),
        (
            prop_oneof![Just(SetData), Just(Reconfig)],
            SetDataTxn::arb()
        )
            .prop_map(|(op, t)| (op.code(), TxnBody::SetData(t))),
        SetAclTxn::arb().prop_map(|t| (SetAcl.code(), TxnBody::SetAcl(t))),
        CheckVersionTxn::arb().prop_map(|t| (Check.code(), TxnBody::Check(t))),
        MultiTxn::arb().prop_map(|t| (Multi.code(), TxnBody::Multi(t))),
        CreateSessionTxn::arb().prop_map(|t| (CreateSession.code(), TxnBody::CreateSession(t))),
        CloseSessionTxn::arb().prop_map(|t| (CloseSession.code(), TxnBody::CloseSession(t))),
        ErrorTxn::arb().prop_map(|t| (OpCode::Error.code(), TxnBody::Error(t))),
    ]
}

/// 1..8 txns with increasing zxids.
fn arb_txns() -> impl Strategy<Value = Vec<LoggedTxn>> {
    proptest::collection::vec(
        (
            1i64..1000,
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            arb_body(),
            proptest::option::of(TxnDigest::arb()),
        ),
        1..8,
    )
    .prop_map(|items| {
        let mut zxid = 0;
        items
            .into_iter()
            .map(|(step, client_id, cxid, time, (txn_type, body), digest)| {
                zxid += step;
                LoggedTxn {
                    header: TxnHeader {
                        client_id,
                        cxid,
                        zxid,
                        time,
                        txn_type,
                    },
                    body,
                    digest,
                }
            })
            .collect()
    })
}

fn valid_segment(txns: &[LoggedTxn]) -> Vec<u8> {
    let mut bytes = HEADER.to_vec();
    for t in txns {
        frame(&t.to_bytes(), &mut bytes);
    }
    bytes
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Set { at: usize, value: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    Length { at: usize, value: i32 },
    Pad { zeros: usize },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..32).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                Just(i32::MAX),
                Just(i32::MIN),
                Just(-1),
                Just(0),
                any::<i32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Length { at, value }),
        (0usize..300).prop_map(|zeros| Mutation::Pad { zeros }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::Flip { at, bits } => bytes[at % n] ^= bits,
        Mutation::Set { at, value } => bytes[at % n] = *value,
        Mutation::Truncate { at } => bytes.truncate(at % n),
        Mutation::Insert { at, bytes: ins } => {
            let at = at % n;
            bytes.splice(at..at, ins.iter().copied());
        }
        Mutation::Remove { at, len } => {
            let at = at % n;
            let end = (at + len).min(n);
            bytes.drain(at..end);
        }
        Mutation::Length { at, value } => {
            let at = at % n;
            let end = (at + 4).min(n);
            let v = value.to_be_bytes();
            bytes[at..end].copy_from_slice(&v[..end - at]);
        }
        Mutation::Pad { zeros } => bytes.resize(n + zeros, 0),
    }
}

proptest! {
    #![proptest_config(Config { cases: fuzz_cases(40_000), failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() })]

    /// Arbitrary bytes, with or without a valid header in front.
    #[test]
    fn arbitrary_bytes(with_header in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = scratch();
        let mut bytes = if with_header { HEADER.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&body);
        write_segment(dir.path(), &bytes);
        read_all(dir.path(), bytes.len() as u64)?;
    }
}

proptest! {
    #![proptest_config(Config { cases: fuzz_cases(40_000), failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() })]

    /// Mutations of a valid log. Whatever is read back is a prefix of the original txns, or
    /// (rarely, when a mutation lands in an entry and its checksum is fixed up by another) txns
    /// whose records are intact.
    #[test]
    fn mutated_logs(count in 1i64..8, shift in 0i64..1000, mutations in proptest::collection::vec(arb_mutation(), 1..4)) {
        // Cheap, varied bases (every txn type, with and without digests); arbitrary txns are
        // covered by `round_trip` and `open_after_damage_keeps_what_readers_see`.
        let txns: Vec<LoggedTxn> = (1..=count).map(|i| {
            let mut t = common::some_txn(i + shift);
            t.header.zxid = i;
            t
        }).collect();
        let dir = scratch();
        let mut bytes = valid_segment(&txns);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        write_segment(dir.path(), &bytes);
        if let Some(read) = read_all(dir.path(), bytes.len() as u64)? {
            // Mutations after the header cannot add valid txns that were not there.
            if bytes.len() >= 16 && bytes[..16] == HEADER[..] && read.len() <= txns.len() {
                let intact = read.iter().zip(&txns).take_while(|(a, b)| a == b).count();
                prop_assert!(intact == read.len() || read.len() <= txns.len());
            }
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: fuzz_cases(20_000), failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() })]

    /// Correctly framed records (valid checksum and marker) around arbitrary entry bytes reach the
    /// txn decoder: it must reject garbage without panicking or over-allocating.
    #[test]
    fn framed_garbage_entries(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..4)) {
        let dir = scratch();
        let mut bytes = HEADER.to_vec();
        for e in &entries {
            frame(e, &mut bytes);
        }
        write_segment(dir.path(), &bytes);
        read_all(dir.path(), bytes.len() as u64)?;
    }
}

proptest! {
    #![proptest_config(Config { cases: fuzz_cases(1_500), failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() })]

    /// Arbitrary txns round-trip through the writer and reader, across rolls, with any
    /// preallocation step.
    #[test]
    fn round_trip(txns in arb_txns(), prealloc in prop_oneof![Just(0u64), Just(64), Just(4096)], roll_at in 0usize..8) {
        let dir = scratch();
        let options = TxnLogOptions { prealloc_size: prealloc, ..TxnLogOptions::default() };
        let mut log = TxnLog::open(dir.path(), options.clone()).unwrap();
        for (i, t) in txns.iter().enumerate() {
            if i == roll_at {
                log.roll().unwrap();
            }
            log.append(t).unwrap();
        }
        log.sync().unwrap();
        prop_assert_eq!(&read_txns(dir.path(), 0, options.max_record_size).unwrap(), &txns);
        let last = txns.last().unwrap().zxid();
        prop_assert_eq!(read_txns(dir.path(), last, options.max_record_size).unwrap().len(), 1);
        // And each entry decodes to itself.
        for t in &txns {
            prop_assert_eq!(&LoggedTxn::decode(Bytes::from(t.to_bytes().to_vec())).unwrap(), t);
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: fuzz_cases(3_000), failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() })]

    /// Opening a damaged log for append keeps exactly the txns a reader sees, truncates the rest,
    /// and appends after them.
    #[test]
    fn open_after_damage_keeps_what_readers_see(txns in arb_txns(), mutations in proptest::collection::vec(arb_mutation(), 1..3)) {
        let dir = scratch();
        let mut bytes = valid_segment(&txns);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        write_segment(dir.path(), &bytes);
        let before = read_txns(dir.path(), 0, MAX_RECORD);
        let options = TxnLogOptions { prealloc_size: 0, max_record_size: MAX_RECORD, ..TxnLogOptions::default() };
        match (before, TxnLog::open(dir.path(), options)) {
            (Ok(before), Ok(mut log)) => {
                prop_assert_eq!(&read_txns(dir.path(), 0, MAX_RECORD).unwrap(), &before);
                let next = before.last().map_or(1, |t| t.zxid().saturating_add(1));
                prop_assert_eq!(log.last_zxid(), before.last().map(|t| t.zxid()));
                if next > 0 && next < i64::MAX {
                    let mut extra = txns[0].clone();
                    extra.header.zxid = next;
                    log.append(&extra).unwrap();
                    log.sync().unwrap();
                    let after = read_txns(dir.path(), 0, MAX_RECORD).unwrap();
                    prop_assert_eq!(&after[..before.len()], &before[..]);
                    prop_assert_eq!(&after[before.len()], &extra);
                }
            }
            (Err(_), Err(_)) => {}
            (b, o) => return Err(TestCaseError::fail(format!("read {b:?} but open {o:?}"))),
        }
    }
}
