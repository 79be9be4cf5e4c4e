//! Property tests: histories made by running a random schedule against the model are linearizable;
//! corrupting one read makes them illegal whenever the corruption is observable; and on small histories
//! with arbitrary corruptions the checker agrees with a brute-force search over every order.

mod support;

use proptest::prelude::*;
use support::{brute_force, generate, GenConfig, Rng, ZkHistory};
use zk_lincheck::{check, CheckOptions, CheckResult, OpId, Outcome, ZkError, ZkOutput};

fn config_strategy() -> impl Strategy<Value = GenConfig> {
    lossy_config_strategy(20)
}

/// Configurations whose lost-request and lost-reply rates are at most `max_lost_percent` each.
fn lossy_config_strategy(max_lost_percent: u64) -> impl Strategy<Value = GenConfig> {
    let lost = 0..=max_lost_percent;
    (
        1usize..=5,
        1usize..=25,
        1usize..=3,
        lost.clone(),
        lost,
        0u64..=30,
        any::<bool>(),
        1usize..=3,
    )
        .prop_map(
            |(
                clients,
                ops_per_client,
                keys,
                lost_reply,
                lost_request,
                multi,
                unique_values,
                pipeline,
            )| GenConfig {
                clients,
                ops_per_client,
                keys: ["/a", "/b", "/c"][..keys].to_vec(),
                lost_reply_percent: lost_reply,
                lost_request_percent: lost_request,
                multi_percent: multi,
                unique_values,
                creates_and_deletes: true,
                pipeline,
            },
        )
}

/// Completed getData operations that returned data.
fn data_reads(history: &ZkHistory) -> Vec<OpId> {
    history
        .iter()
        .filter(|(_, op)| matches!(op.output(), Some(ZkOutput::Data { .. })))
        .map(|(id, _)| id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A history produced by a real sequential execution (with lost requests and replies) is linearizable.
    #[test]
    fn generated_histories_are_linearizable(config in config_strategy(), seed in any::<u64>()) {
        let (model, history) = generate(&config, seed);
        let result = check(&model, &history, &CheckOptions::default());
        prop_assert!(result.is_ok(), "seed {seed} {config:?}\n{}", result.explain(&history));
    }

    /// A read corrupted to a value no state ever had is always caught, and shrinking blames exactly it:
    /// the prefix before its reply is a prefix of a linearizable history. (Few lost operations: proving
    /// illegality explores every configuration, which grows fast with indeterminate operations.)
    #[test]
    fn reads_of_impossible_values_are_caught(config in lossy_config_strategy(4), seed in any::<u64>(), pick in any::<usize>(), by_version in any::<bool>()) {
        let (model, mut history) = generate(&config, seed);
        let reads = data_reads(&history);
        prop_assume!(!reads.is_empty());
        let victim = reads[pick % reads.len()];
        if let Outcome::Completed { output: ZkOutput::Data { data, version }, .. } = &mut history.operations_mut()[victim.0].outcome {
            if by_version { *version += 1_000 } else { *data = b"never written".as_slice().into() }
        }
        let result = check(&model, &history, &CheckOptions::default());
        match &result {
            CheckResult::Illegal(v) => prop_assert_eq!(v.culprit, victim, "{}", result.explain(&history)),
            other => prop_assert!(false, "seed {} victim {}: {}", seed, victim, other),
        }
    }

    /// On small histories, with any one output replaced by another plausible one, the checker agrees with
    /// an exhaustive search over all orders (including whether the corruption is observable at all).
    #[test]
    fn agrees_with_brute_force_on_small_histories(
        clients in 1usize..=3,
        ops_per_client in 1usize..=3,
        keys in 1usize..=2,
        pipeline in 1usize..=2,
        seed in any::<u64>(),
        mutation in any::<u64>(),
    ) {
        let config = GenConfig {
            clients,
            ops_per_client,
            keys: ["/a", "/b"][..keys].to_vec(),
            lost_reply_percent: 20,
            lost_request_percent: 20,
            multi_percent: 20,
            unique_values: false,
            creates_and_deletes: true,
            pipeline,
        };
        let (model, mut history) = generate(&config, seed);
        let original = check(&model, &history, &CheckOptions::default());
        prop_assert!(original.is_ok() && brute_force(&model, &history, true));
        corrupt(&mut history, mutation);
        let expected = brute_force(&model, &history, true);
        let result = check(&model, &history, &CheckOptions::default());
        prop_assert!(!result.is_unknown());
        prop_assert_eq!(result.is_ok(), expected, "seed {} mutation {}\n{}", seed, mutation, result.explain(&history));
    }
}

/// Replaces one completed operation's output with another plausible one (maybe the same).
fn corrupt(history: &mut ZkHistory, mutation: u64) {
    let completed: Vec<usize> = history
        .iter()
        .filter(|(_, op)| op.output().is_some())
        .map(|(id, _)| id.0)
        .collect();
    if completed.is_empty() {
        return;
    }
    let mut rng = Rng::new(mutation);
    let victim = completed[rng.below(completed.len())];
    let version = rng.below(4) as i32;
    let replacement = match rng.below(8) {
        0 => ZkOutput::data(if rng.chance(50) { "v0" } else { "v1" }, version),
        1 => ZkOutput::data("init", version),
        2 => ZkOutput::Set { version },
        3 => ZkOutput::Exists {
            version: Some(version).filter(|_| rng.chance(70)),
        },
        4 => ZkOutput::Error(
            [ZkError::NoNode, ZkError::BadVersion, ZkError::NodeExists][rng.below(3)],
        ),
        5 => ZkOutput::Created,
        6 => ZkOutput::Deleted,
        _ => ZkOutput::MultiFailed {
            index: rng.below(2),
            error: ZkError::BadVersion,
        },
    };
    if let Outcome::Completed { output, .. } = &mut history.operations_mut()[victim].outcome {
        *output = replacement;
    }
}
