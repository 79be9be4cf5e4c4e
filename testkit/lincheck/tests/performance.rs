//! Performance sanity: 5-client × 200-operation histories on one key are decided within the default
//! budget. No timing assertions (CI machines vary); the figures are printed (`--nocapture` to see them).

mod support;

use std::time::Instant;

use support::{generate, GenConfig, ZkHistory};
use zk_lincheck::{check_with_stats, CheckOptions, CheckResult, Outcome, ZkModel, ZkOutput};

fn config(lost_percent: u64) -> GenConfig {
    GenConfig {
        clients: 5,
        ops_per_client: 200,
        keys: vec!["/k"],
        lost_reply_percent: lost_percent,
        lost_request_percent: lost_percent,
        multi_percent: 0,
        unique_values: true,
        creates_and_deletes: true,
        pipeline: 1,
    }
}

fn indeterminate(history: &ZkHistory) -> usize {
    history
        .operations()
        .iter()
        .filter(|op| op.output().is_none())
        .count()
}

/// Corrupts the last read that returned data; returns its index.
fn corrupt_last_read(history: &mut ZkHistory) -> usize {
    let victim = (0..history.len())
        .rev()
        .find(|&i| {
            matches!(
                history.operations()[i].output(),
                Some(ZkOutput::Data { .. })
            )
        })
        .expect("a read");
    if let Outcome::Completed {
        output: ZkOutput::Data { data, .. },
        ..
    } = &mut history.operations_mut()[victim].outcome
    {
        *data = b"corrupt".as_slice().into();
    }
    victim
}

fn timed(
    model: &ZkModel,
    history: &ZkHistory,
) -> (
    CheckResult<zk_lincheck::zk_model::Path>,
    zk_lincheck::CheckStats,
    std::time::Duration,
) {
    let start = Instant::now();
    let (result, stats) = check_with_stats(model, history, &CheckOptions::default());
    (result, stats, start.elapsed())
}

#[test]
fn five_clients_two_hundred_ops_one_key_linearizable() {
    for (lost, seed) in [(0, 1), (2, 2), (5, 3)] {
        let (model, history) = generate(&config(lost), seed);
        assert_eq!(history.len(), 1000);
        let (result, stats, elapsed) = timed(&model, &history);
        assert_eq!(result, CheckResult::Ok, "{}", result.explain(&history));
        eprintln!(
            "5x200 on one key, {} indeterminate: Ok in {elapsed:?}, {} steps, {} configurations",
            indeterminate(&history),
            stats.steps,
            stats.configurations
        );
    }
}

#[test]
fn five_clients_two_hundred_ops_one_key_corrupted() {
    // Proving a history illegal means exhausting every configuration, which grows quickly with the number
    // of indeterminate operations open at once (see the crate docs); these have none and a few.
    for (lost, seed) in [(0, 1), (1, 4)] {
        let (model, mut history) = generate(&config(lost), seed);
        let victim = corrupt_last_read(&mut history);
        let (result, stats, elapsed) = timed(&model, &history);
        assert_eq!(
            result.violation().map(|v| v.culprit.0),
            Some(victim),
            "{result}"
        );
        eprintln!(
            "5x200 on one key, {} indeterminate, last read corrupted: Illegal in {elapsed:?}, {} steps + {} shrinking",
            indeterminate(&history),
            stats.steps,
            stats.shrink_steps
        );
    }
}
