//! Differential testing: the same scripted operation sequences run against Apache ZooKeeper 3.8
//! and zk-server over raw frames (zk-proto, no client library), and the normalized transcripts of
//! replies and notifications must be identical.
//!
//! - [`raw_session`]: one connection, frame by frame: handshake, requests, replies, notifications.
//! - [`script`]: scripts (steps on session slots) and one helper per request kind.
//! - [`runner`]: runs a script against one server and records a transcript; cleans up after it.
//! - [`normalize`]: zxids, times, session ids and passwords replaced, lists sorted.
//! - [`compare`]: LCS alignment, side-by-side rendering of both transcripts.
//! - [`targets`]: the two servers, configured alike and shared by the tests of one file.
//!
//! A test builds a [`Script`] and calls [`check`]. Set `ZK_DIFF_SHOW=1` to print every transcript,
//! `ZK_DIFF_SELF_CHECK=1` to compare Apache with a second Apache.
#![allow(dead_code)]

pub mod compare;
pub mod normalize;
pub mod raw_session;
pub mod runner;
pub mod script;
pub mod targets;

pub use script::*;

use normalize::Line;

/// Set to print the normalized reference transcript of every script, even when it passes.
pub const SHOW_ENV: &str = "ZK_DIFF_SHOW";

/// Runs `script` on the reference and the candidate server and asserts that their normalized
/// transcripts are identical; skips (printing why) when Apache ZooKeeper is unavailable.
///
/// # Panics
/// When the transcripts differ (the message shows both side by side), or when the reference
/// itself timed out somewhere (the script then waits for something Apache never does).
pub fn check(script: Script) {
    let Some(targets) = targets::shared(&script.name) else {
        return;
    };
    let (reference, candidate) = {
        let _serial = targets.serial();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("building the test runtime: {e}"));
        runtime.block_on(async {
            tokio::join!(
                runner::run(&script, targets.reference.addr),
                runner::run(&script, targets.candidate.addr)
            )
        })
    };
    let (left, right) = (
        normalize::normalize(&reference),
        normalize::normalize(&candidate),
    );
    let (left_name, right_name) = (targets.reference.name, targets.candidate.name);
    drop(targets);
    if std::env::var_os(SHOW_ENV).is_some() {
        eprintln!(
            "script {} on {left_name}:\n{}",
            script.name,
            compare::render(&left)
        );
    }
    if let Some(bad) = left.iter().find(|l| l.text.contains("TIMEOUT")) {
        panic!(
            "script {}: the reference server ({left_name}) timed out at step {} ({}), so the \
             script waits for something Apache never does:\n{}",
            script.name,
            bad.step,
            bad.label,
            compare::render(&left)
        );
    }
    if left != right {
        let step = compare::first_difference(&left, &right).unwrap_or(usize::MAX);
        let label = step_label(&left, &right, step);
        panic!(
            "script {}: {right_name} differs from {left_name}, first at step {step} ({label})\n{}",
            script.name,
            compare::side_by_side(left_name, &left, right_name, &right)
        );
    }
}

fn step_label(left: &[Line], right: &[Line], step: usize) -> String {
    left.iter()
        .chain(right)
        .find(|l| l.step == step)
        .map_or_else(String::new, |l| l.label.clone())
}
