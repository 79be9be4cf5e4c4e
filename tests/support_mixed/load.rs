//! [`Load`]: a background session that keeps creating znodes, through a leader kill, and remembers
//! which creates were acknowledged.
//!
//! Each attempt creates a fresh name (`n000042`), so a create whose reply was lost (connection loss at
//! the kill) may or may not exist afterwards, but an acknowledged one must exist on every server, and
//! a name never attempted must exist nowhere.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use zk_client::{Client, CreateOptions, Error};

use super::tree::Tree;
use super::{CONNECT_TIMEOUT, SESSION_TIMEOUT};

/// The znode under which the load creates its nodes.
pub const LOAD_ROOT: &str = "/mixed/load";

/// Creates before the load stops by itself: enough to span a failover, few enough to keep the final
/// tree reads quick.
const MAX_CREATES: u64 = 3000;

/// What the load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Acknowledged creates, by number.
    pub acked: BTreeSet<u64>,
    /// Attempts made (numbers `0..attempted`).
    pub attempted: u64,
    /// The errors met, with how many times each (connection loss at the kill is expected).
    pub errors: Vec<(String, usize)>,
}

impl LoadReport {
    /// Checks a server's tree: every acknowledged create present with its data, nothing that was
    /// never attempted.
    pub fn check_tree(&self, server: &str, tree: &Tree) -> Result<(), String> {
        let prefix = format!("{LOAD_ROOT}/n");
        let mut wrong = Vec::new();
        for k in &self.acked {
            let path = format!("{prefix}{k:06}");
            match tree.get(&path) {
                Some(n) if n.data == k.to_string().as_bytes() => {}
                other => wrong.push(format!("acknowledged {path}: found {other:?}")),
            }
        }
        for path in tree.keys().filter(|p| p.starts_with(&prefix)) {
            let k: u64 = path[prefix.len()..].parse().unwrap_or(u64::MAX);
            if k >= self.attempted {
                wrong.push(format!("{path} exists but was never attempted"));
            }
        }
        if wrong.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{server}: the load's creates ({} acknowledged of {}):\n{}",
            self.acked.len(),
            self.attempted,
            wrong.join("\n")
        ))
    }
}

/// A running load.
pub struct Load {
    stop: watch::Sender<bool>,
    acks: watch::Receiver<u64>,
    task: JoinHandle<LoadReport>,
}

impl Load {
    /// Creates [`LOAD_ROOT`] and starts creating under it through a session over `connect` (tried
    /// in order, so the first host is where it starts).
    pub async fn start(connect: &str) -> Load {
        let client = Client::builder()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_shuffle(false)
            .connect(connect)
            .await
            .unwrap_or_else(|e| panic!("load session on {connect}: {e}"));
        client
            .create(LOAD_ROOT, b"", &CreateOptions::persistent())
            .await
            .unwrap_or_else(|e| panic!("create {LOAD_ROOT}: {e}"));
        let (stop, stop_rx) = watch::channel(false);
        let (acks_tx, acks) = watch::channel(0);
        let task = tokio::spawn(run(client, stop_rx, acks_tx));
        Load { stop, acks, task }
    }

    /// Acknowledged creates so far.
    pub fn acks(&self) -> u64 {
        *self.acks.borrow()
    }

    /// Waits until more than `after` creates are acknowledged; panics after `timeout` (writes did
    /// not resume).
    pub async fn wait_acks(&mut self, after: u64, timeout: Duration) {
        let r = tokio::time::timeout(timeout, self.acks.wait_for(|n| *n > after)).await;
        assert!(
            matches!(r, Ok(Ok(_))),
            "the load got no acknowledgement past {after} within {timeout:?}"
        );
    }

    /// Stops the load after its request in flight and returns what it did.
    pub async fn stop(self) -> LoadReport {
        self.stop.send_replace(true);
        self.task.await.expect("load task")
    }
}

async fn run(
    client: Client,
    mut stop: watch::Receiver<bool>,
    acks: watch::Sender<u64>,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    while !*stop.borrow() && report.attempted < MAX_CREATES {
        let k = report.attempted;
        report.attempted += 1;
        let path = format!("{LOAD_ROOT}/n{k:06}");
        match client
            .create(
                &path,
                k.to_string().as_bytes(),
                &CreateOptions::persistent(),
            )
            .await
        {
            Ok(_) => {
                report.acked.insert(k);
                acks.send_replace(report.acked.len() as u64);
            }
            Err(Error::Closed) => break,
            Err(e) => *errors.entry(e.to_string()).or_default() += 1,
        }
    }
    // Past MAX_CREATES: idle until told to stop.
    let _ = stop.wait_for(|s| *s).await;
    client.close().await;
    report.errors = errors.into_iter().collect();
    report
}
