//! The linearizability workload of the nemesis tests on a [`TestCluster`](zk_server::cluster::TestCluster)
//! (`tests/ensemble_linearizability_partitions.rs`): clients doing compare-and-set, blind sets,
//! creates, deletes, sync-then-reads and plain reads on a few znodes of the current round, recorded
//! with a [`Recorder`] for zk-lincheck.
//!
//! The same mix as `tests/ensemble_linearizability.rs` (whose loop predates this module): a CAS is a
//! plain read then setData at the version it showed; a sync followed by a read is one linearizable
//! read invoked when the sync was sent; plain reads only feed the session-order checker. Each round
//! has its own znodes (`<root>/r<round>/k<i>`), so a per-key history spans one fault and its few
//! indeterminate writes (the checker's cost grows with open indeterminate writes per key).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use zk_client::{Client, CreateOptions};
use zk_lincheck::{check, CheckOptions, ClientId, History, Outcome, ZkModel, ZkOp, ZkOutput};

use super::recorder::{classify, Recorder, Reply};
use super::rng::Rng;
use super::session_i64;

/// What the clients share with the nemesis.
pub struct Workload {
    /// Every client's history and replies.
    pub recorder: Recorder,
    root: String,
    keys: u64,
    round: AtomicUsize,
    stop: AtomicBool,
    completed: watch::Sender<u64>,
}

impl Workload {
    /// A workload on `keys` znodes per round under `root` (which the test creates, with round 0's
    /// directory, before starting clients).
    pub fn new(root: &str, keys: u64) -> Self {
        Workload {
            recorder: Recorder::default(),
            root: root.to_string(),
            keys,
            round: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            completed: watch::channel(0).0,
        }
    }

    /// The parent of round `round`'s znodes.
    pub fn round_dir(&self, round: usize) -> String {
        format!("{}/r{round}", self.root)
    }

    /// Moves the clients to round `round` (its directory must exist).
    pub fn start_round(&self, round: usize) {
        self.round.store(round, Ordering::Relaxed);
    }

    /// Tells the clients to finish their current operation and close.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Operations completed so far (all clients; a CAS whose read failed does not count).
    pub fn completed(&self) -> u64 {
        *self.completed.borrow()
    }

    /// Waits until `more` operations have completed after the call, or `deadline` has passed
    /// (returns false then).
    pub async fn wait_ops(&self, more: u64, deadline: Duration) -> bool {
        let mut done = self.completed.subscribe();
        let target = *done.borrow_and_update() + more;
        tokio::time::timeout(deadline, done.wait_for(|&d| d >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// One client (`c`: its id in the history): a random operation on a random key of the current round,
/// one at a time, until stopped; then it closes its session.
pub async fn client_loop(client: Client, c: usize, mut rng: Rng, work: std::sync::Arc<Workload>) {
    let me = ClientId(c as u64);
    let rec = &work.recorder;
    let mut seq = 0u64;
    let mut next_seq = || {
        seq += 1;
        seq
    };
    let mut n = 0u64;
    while !work.stop.load(Ordering::Relaxed) {
        let dir = work.round_dir(work.round.load(Ordering::Relaxed));
        let key = format!("{dir}/k{}", rng.below(work.keys));
        n += 1;
        let value = format!("c{c}n{n}");
        let session = session_i64(&client);
        match rng.below(100) {
            // Compare-and-set: a plain read, then setData with the version it showed.
            0..=29 => {
                let version = match classify("getData", client.get_data(&key).await) {
                    Reply::Ok((_, stat)) => {
                        rec.observe(session, next_seq(), &key, Some(&stat), None);
                        Some(stat.version)
                    }
                    Reply::Refused(_) | Reply::Unknown => None,
                };
                let Some(version) = version else { continue };
                let op = rec.invoke(me, ZkOp::set_data(&key, &value, Some(version)));
                let reply = client.set_data(&key, value.as_bytes(), Some(version)).await;
                match classify("setData", reply) {
                    Reply::Ok(stat) => {
                        let version = stat.version;
                        rec.complete(op, ZkOutput::Set { version });
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Blind set.
            30..=44 => {
                let op = rec.invoke(me, ZkOp::set_data(&key, &value, None));
                let reply = client.set_data(&key, value.as_bytes(), None).await;
                match classify("setData", reply) {
                    Reply::Ok(stat) => {
                        let version = stat.version;
                        rec.complete(op, ZkOutput::Set { version });
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Create.
            45..=62 => {
                let op = rec.invoke(me, ZkOp::create(&key, &value));
                let reply = client
                    .create(&key, value.as_bytes(), &CreateOptions::persistent())
                    .await;
                match classify("create", reply) {
                    Reply::Ok((_, stat)) => {
                        rec.complete(op, ZkOutput::Created);
                        rec.observe(session, next_seq(), &key, Some(&stat), Some(stat.mzxid));
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // Delete, at any version or at a version guessed from the write count.
            63..=72 => {
                let version = rng.percent(50).then(|| rng.below(3) as i32);
                let op = rec.invoke(me, ZkOp::delete(&key, version));
                match classify("delete", client.delete(&key, version).await) {
                    Reply::Ok(()) => {
                        rec.complete(op, ZkOutput::Deleted);
                        rec.observe(session, next_seq(), &key, None, None);
                    }
                    Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                    Reply::Unknown => {}
                }
            }
            // sync, then getData or exists: one linearizable read from the sync's invocation.
            73..=92 => {
                let exists = rng.percent(30);
                let input = if exists {
                    ZkOp::exists(&key)
                } else {
                    ZkOp::get_data(&key)
                };
                let op = rec.invoke(me, input);
                if !matches!(classify("sync", client.sync(&dir).await), Reply::Ok(())) {
                    continue; // an indeterminate read constrains nothing
                }
                if exists {
                    if let Reply::Ok(stat) = classify("exists", client.exists(&key).await) {
                        let version = stat.as_ref().map(|s| s.version);
                        rec.complete(op, ZkOutput::Exists { version });
                        rec.observe(session, next_seq(), &key, stat.as_ref(), None);
                    }
                } else {
                    match classify("getData", client.get_data(&key).await) {
                        Reply::Ok((data, stat)) => {
                            rec.complete(op, ZkOutput::data(&data, stat.version));
                            rec.observe(session, next_seq(), &key, Some(&stat), None);
                        }
                        Reply::Refused(e) => rec.complete(op, ZkOutput::Error(e)),
                        Reply::Unknown => {}
                    }
                }
            }
            // A plain read: not linearizable, but it must never go back for this session.
            _ => {
                if let Reply::Ok((_, stat)) = classify("getData", client.get_data(&key).await) {
                    rec.observe(session, next_seq(), &key, Some(&stat), None);
                }
            }
        }
        work.completed.send_modify(|done| *done += 1);
    }
    client.close().await;
}

/// A checker that never fails proves nothing: the same history with its last completed synced
/// getData changed to a value nobody wrote must be proven illegal (not merely undecided), which shows
/// the recorded reads are really checked. Returns the verdict's text on failure.
pub fn corrupted_read_is_caught(
    history: &History<ZkOp, ZkOutput>,
    options: &CheckOptions,
) -> Result<(), String> {
    let mut corrupted = history.clone();
    let read = corrupted
        .operations_mut()
        .iter_mut()
        .rev()
        .find_map(|op| match &mut op.outcome {
            Outcome::Completed {
                output: ZkOutput::Data { data, .. },
                ..
            } => Some(data),
            _ => None,
        });
    let Some(data) = read else {
        return Err("the history holds no completed synced read to corrupt".into());
    };
    *data = b"never written".as_slice().into();
    let result = check(
        &ZkModel::new(),
        &corrupted,
        &options.clone().with_shrink(false),
    );
    if result.is_illegal() {
        Ok(())
    } else {
        Err(format!(
            "a read of a value nobody wrote was not caught: {result}"
        ))
    }
}
