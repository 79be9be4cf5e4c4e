//! Deterministic simulation of the ZAB core. One seed decides everything: topology (3 or 5 voters, with or
//! without an observer), message delays, drops, duplicates and reorders, partitions, crashes and restarts
//! that lose unsynced writes and tear the log tail, snapshots, and client proposals. Every invariant in
//! `invariants/` is checked at every step; a failure prints its seed and the command that replays it:
//!
//! ```text
//! ZAB_SEED=1234 cargo test -p zk-zab --test sim -- replay --nocapture
//! ZAB_SEED=1234 ZAB_BUG=ack_before_fsync cargo test -p zk-zab --test sim -- replay --nocapture
//! ```

mod disk;
mod invariants;
mod net;
mod node;
mod shell;
mod world;

use std::time::Instant;

use zk_zab::Bugs;

use world::{Options, World};

/// Seeds that once failed; they run on every `cargo test` (regressions). Each names what it caught.
const REGRESSION_SEEDS: &[u64] = &[];

fn replay_command(seed: u64, bug: Option<&str>) -> String {
    match bug {
        Some(b) => format!(
            "ZAB_SEED={seed} ZAB_BUG={b} cargo test -p zk-zab --test sim -- replay --nocapture"
        ),
        None => format!("ZAB_SEED={seed} cargo test -p zk-zab --test sim -- replay --nocapture"),
    }
}

/// Runs one seed; `Err` is the world at the first violation and the violation.
fn run_seed(seed: u64, opts: Options) -> Result<World, Box<(World, String)>> {
    let mut w = World::new(seed, opts);
    match w.run() {
        Ok(()) => Ok(w),
        Err(e) => Err(Box::new((w, e))),
    }
}

fn run_range(seeds: std::ops::Range<u64>) {
    let start = Instant::now();
    let n = seeds.end - seeds.start;
    let mut events = 0;
    for seed in seeds.clone() {
        match run_seed(seed, Options::default()) {
            Ok(w) => events += w.events,
            Err(b) => panic!(
                "seed {seed}: {}\nreplay with: {}",
                b.1,
                replay_command(seed, None)
            ),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "seeds {}..{}: {n} runs, 0 violations, {events} events, {secs:.1}s, {:.0} seeds/s",
        seeds.start,
        seeds.end,
        n as f64 / secs
    );
}

// 2,000 seeds per `cargo test`, in four tests so that they spread over the cores.
#[test]
fn seeds_0000_0500() {
    run_range(0..500);
}
#[test]
fn seeds_0500_1000() {
    run_range(500..1000);
}
#[test]
fn seeds_1000_1500() {
    run_range(1000..1500);
}
#[test]
fn seeds_1500_2000() {
    run_range(1500..2000);
}

#[test]
fn regression_seeds() {
    for &seed in REGRESSION_SEEDS {
        if let Err(b) = run_seed(seed, Options::default()) {
            panic!(
                "seed {seed}: {}\nreplay with: {}",
                b.1,
                replay_command(seed, None)
            );
        }
    }
}

/// 50 seeds run twice give identical event-trace hashes.
#[test]
fn determinism_50_seeds() {
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 10_000..10_050 {
        let a = run_seed(seed, Options::default())
            .map_err(|b| b.1)
            .expect("clean run");
        let b = run_seed(seed, Options::default())
            .map_err(|b| b.1)
            .expect("clean run");
        assert_eq!(a.trace, b.trace, "seed {seed} is not deterministic");
        assert_eq!(a.events, b.events, "seed {seed} is not deterministic");
        distinct.insert(a.trace);
    }
    assert_eq!(
        distinct.len(),
        50,
        "different seeds must give different traces"
    );
}

fn bug_from_name(name: &str) -> Bugs {
    let mut b = Bugs::default();
    match name {
        "ack_before_fsync" => b.ack_before_fsync = true,
        "commit_before_quorum" => b.commit_before_quorum = true,
        "trunc_below_committed" => b.trunc_below_committed = true,
        "apply_uncommitted_in_sync" => b.apply_uncommitted_in_sync = true,
        "epoch_not_persisted" => b.epoch_not_persisted = true,
        other => panic!("unknown ZAB_BUG {other}"),
    }
    b
}

/// Replays `ZAB_SEED` (with `ZAB_BUG` if set), printing the violation if any. Without `ZAB_SEED` it does
/// nothing.
#[test]
fn replay() {
    let Ok(seed) = std::env::var("ZAB_SEED") else {
        return;
    };
    let seed: u64 = seed.parse().expect("ZAB_SEED is a number");
    let bug = std::env::var("ZAB_BUG").ok();
    let mut opts = Options::default();
    if let Some(b) = &bug {
        opts.bugs = bug_from_name(b);
    }
    let (voters, observers) = world::topology(seed);
    println!("seed {seed}: {voters} voters, {observers} observers, bug {bug:?}");
    match run_seed(seed, opts) {
        Ok(w) => {
            println!(
                "seed {seed}: clean, {} events, trace {:016x}",
                w.events, w.trace
            );
            println!(
                "  committed {} txns; epochs established: {:?}",
                w.chk.g.len(),
                w.chk.epoch_leader
            );
            for n in &w.nodes {
                println!("  {}", n.summary());
            }
        }
        Err(b) => panic!(
            "seed {seed}: {} (at t={}, {} events)",
            b.1, b.0.now, b.0.events
        ),
    }
}

/// A bug switch must be caught within 200 seeds, by the invariant that guards against it (or another).
fn assert_caught(name: &str, expected: &[&str]) {
    let opts = Options {
        bugs: bug_from_name(name),
        ..Options::default()
    };
    for seed in 0..200 {
        if let Err(b) = run_seed(seed, opts) {
            let e = b.1;
            println!(
                "bug {name}: caught at seed {seed} (run {} of 200): {e}",
                seed + 1
            );
            println!("  replay: {}", replay_command(seed, Some(name)));
            assert!(
                expected.iter().any(|p| e.starts_with(p)),
                "bug {name} was caught by an unexpected check: {e}"
            );
            return;
        }
    }
    panic!("bug {name} was NOT caught within 200 seeds");
}

#[test]
fn bug_ack_before_fsync_is_caught() {
    assert_caught("ack_before_fsync", &["Z21"]);
}

#[test]
fn bug_commit_before_quorum_is_caught() {
    assert_caught("commit_before_quorum", &["Z16"]);
}

#[test]
fn bug_trunc_below_committed_is_caught() {
    assert_caught("trunc_below_committed", &["Z13", "Z15"]);
}

#[test]
fn bug_apply_uncommitted_in_sync_is_caught() {
    assert_caught("apply_uncommitted_in_sync", &["Z22"]);
}

#[test]
fn bug_epoch_not_persisted_is_caught() {
    assert_caught("epoch_not_persisted", &["Z19"]);
}

/// Soak: `ZAB_SOAK_FROM=0 ZAB_SOAK_COUNT=100000 cargo test -p zk-zab --test sim -- --ignored soak --nocapture`.
#[test]
#[ignore]
fn soak() {
    let from: u64 = std::env::var("ZAB_SOAK_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let count: u64 = std::env::var("ZAB_SOAK_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    run_range(from..from + count);
}
