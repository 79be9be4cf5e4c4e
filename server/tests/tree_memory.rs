//! Issue 9 (memory): the heap a [`DataTree`] holds per znode, and what a snapshot of it costs.
//!
//! Builds the tree `zk-bench populate` builds (200,000 persistent znodes of 100 bytes under one
//! parent, created through [`DataTree::apply`] with data sliced out of shared receive buffers the
//! way the connection task decodes frames) and counts the heap it holds through a counting global
//! allocator that records glibc's usable size of each block, so the figure includes allocator
//! rounding. The test fails when a znode costs more than [`BUDGET_PER_NODE`]; run it with
//! `--nocapture` (and `--release` for the snapshot timing) to see the breakdown.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::records::txn::CreateTxn;
use zk_proto::{Acl, OpCode, TxnBody, TxnHeader};
use zk_server::DataTree;

/// Znodes `zk-bench populate` creates.
const NODES: usize = 200_000;
/// Its value size (`zk-bench`'s `DEFAULT_VALUE_SIZE`).
const VALUE_SIZE: usize = 100;
/// The receive buffer the connection task reads into (`net/conn.rs`).
const RECV_BUFFER: usize = 4096;
/// Bytes of a create frame beyond its data (header, path, ACL, flags): how many frames share a
/// receive buffer.
const FRAME_OVERHEAD: usize = 75;
/// Heap per znode the tree may hold, its 100 data bytes included. Issue 9 asks for 200k znodes
/// of 100 bytes in at most a fifth of Apache's RSS (~515 MiB), runtime included; the tree held
/// 518 bytes a znode before (RSS 150 MiB) and 353 after (RSS 86 MiB).
const BUDGET_PER_NODE: usize = 368;
/// Allocations a snapshot may make: its output vector and the walk's stack, none per node
/// (the core is paused meanwhile).
const SNAPSHOT_ALLOCS_MAX: usize = 64;

#[cfg(target_env = "gnu")]
extern "C" {
    fn malloc_usable_size(ptr: *mut u8) -> usize;
}

/// The size the allocator really reserved for a block.
fn usable(ptr: *mut u8, layout: Layout) -> usize {
    #[cfg(target_env = "gnu")]
    if !ptr.is_null() {
        // SAFETY: `ptr` was returned by `System` (glibc malloc) and is still live.
        return unsafe { malloc_usable_size(ptr) } + std::mem::size_of::<usize>();
    }
    let _ = ptr;
    layout.size()
}

/// Counts live heap bytes (usable size plus glibc's chunk header) and live blocks.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to `System` and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        LIVE_BYTES.fetch_add(usable(p, layout) as isize, Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(usable(ptr, layout) as isize, Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = usable(ptr, layout);
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            let after = usable(
                p,
                Layout::from_size_align_unchecked(new_size, layout.align()),
            );
            LIVE_BYTES.fetch_add(after as isize - before as isize, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (isize, isize) {
    (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed))
}

/// `CLOCK_THREAD_CPUTIME_ID` (Linux).
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time this thread has used: wall time is meaningless on a machine shared with builds.
fn thread_cpu() -> Duration {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The least CPU time of `runs` calls of `f` (the least disturbed by other processes).
fn min_cpu<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let at = thread_cpu();
            drop(f());
            thread_cpu() - at
        })
        .min()
        .unwrap_or_default()
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn header(zxid: i64) -> TxnHeader {
    TxnHeader {
        client_id: 0x100,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        txn_type: OpCode::Create.code(),
    }
}

fn create(path: String, data: Bytes) -> TxnBody {
    TxnBody::Create(CreateTxn {
        path,
        data: Some(data),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: -1,
    })
}

/// `zk-bench populate`'s tree: `/zk-bench-pop-<pid>/nNNNNNNNN`, data sliced out of receive
/// buffers shared by the frames that arrived together.
fn populate(tree: &mut DataTree) {
    let parent = "/zk-bench-pop-12345";
    tree.apply(&header(1), &create(parent.into(), Bytes::new()));
    let per_buffer = RECV_BUFFER / (VALUE_SIZE + FRAME_OVERHEAD);
    let mut buffer = Bytes::new();
    for i in 0..NODES {
        if i % per_buffer == 0 {
            buffer = Bytes::from(vec![b'v'; RECV_BUFFER]);
        }
        let at = (i % per_buffer) * (VALUE_SIZE + FRAME_OVERHEAD);
        let data = buffer.slice(at..at + VALUE_SIZE);
        let out = tree.apply(
            &header(i as i64 + 2),
            &create(format!("{parent}/n{i:08}"), data),
        );
        drop(out);
    }
}

#[test]
fn issue_9_200k_znodes_fit_the_memory_budget() {
    let (bytes0, blocks0) = live();
    let rss0 = rss_kib();
    let mut tree = DataTree::new();
    let at = Instant::now();
    populate(&mut tree);
    let build = at.elapsed();
    let (bytes1, blocks1) = live();
    let per_node = (bytes1 - bytes0) as usize / NODES;
    println!(
        "tree of {NODES} x {VALUE_SIZE} B: {} KiB heap in {} blocks = {per_node} B/node \
         ({:.1} blocks/node), RSS +{} KiB, built in {build:?}",
        (bytes1 - bytes0) / 1024,
        blocks1 - blocks0,
        (blocks1 - blocks0) as f64 / NODES as f64,
        rss_kib() - rss0,
    );

    let allocs0 = ALLOCS.load(Relaxed);
    let at = Instant::now();
    let snap = tree.snapshot_nodes();
    let pause = at.elapsed();
    let snapshot_allocs = ALLOCS.load(Relaxed) - allocs0;
    let (bytes2, _) = live();
    println!(
        "snapshot_nodes: {} nodes in {pause:?}, {} KiB, {snapshot_allocs} allocations",
        snap.len(),
        (bytes2 - bytes1) / 1024,
    );
    drop(snap);
    println!(
        "snapshot_nodes CPU time, least of 5: {:?}",
        min_cpu(5, || tree.snapshot_nodes())
    );
    let (bytes3, _) = live();
    println!(
        "after the snapshot is dropped: {} B/node",
        (bytes3 - bytes0) as usize / NODES
    );
    assert_eq!(tree.node_count(), NODES + 5);
    assert!(
        per_node <= BUDGET_PER_NODE,
        "{per_node} B/node > {BUDGET_PER_NODE}"
    );
    assert!(
        snapshot_allocs <= SNAPSHOT_ALLOCS_MAX,
        "a snapshot made {snapshot_allocs} allocations"
    );
}
