//! Convergence checks at the end of a run: every server holds the same tree, proven by the tree digests
//! the servers themselves compute (`hash`) and by their own digest-mismatch counters (`mntr`).
//!
//! Servers record their digest only after txns whose zxid is a multiple of
//! [`DIGEST_LOG_INTERVAL`](zk_testkit::DIGEST_LOG_INTERVAL), so [`pad_to_digest_zxid`] writes a scratch
//! znode until a txn lands on such a zxid; once every server lists it, their digests there must be equal
//! (and at every other zxid they all list).

use std::time::{Duration, Instant};

use zk_client::{Client, CreateOptions, Error};
use zk_testkit::{agree_on_common_zxids, DigestEntry, Ensemble, DIGEST_LOG_INTERVAL};

use super::blocking;

/// Writes tried before giving up on landing on a digest zxid: two intervals, in case other sessions'
/// txns (closes, expiries) take the zxid the padding aimed at.
const MAX_PAD_WRITES: i64 = 2 * DIGEST_LOG_INTERVAL + 8;

/// How often the servers' `hash` is polled while waiting for the followers to apply the padding.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Sets `pad` (created if missing) until a setData's zxid is a multiple of the digest interval; returns
/// that zxid.
pub async fn pad_to_digest_zxid(client: &Client, pad: &str) -> Result<i64, String> {
    match client.create(pad, b"", &CreateOptions::persistent()).await {
        Ok(_) | Err(Error::NodeExists) => {}
        Err(e) => return Err(format!("creating {pad}: {e}")),
    }
    for _ in 0..MAX_PAD_WRITES {
        let stat = client
            .set_data(pad, b"pad", None)
            .await
            .map_err(|e| format!("padding {pad}: {e}"))?;
        if stat.mzxid % DIGEST_LOG_INTERVAL == 0 {
            return Ok(stat.mzxid);
        }
    }
    Err(format!(
        "{MAX_PAD_WRITES} writes to {pad} never landed on a multiple of {DIGEST_LOG_INTERVAL}"
    ))
}

/// Polls every server's `hash` until all of them list `zxid` (or a later common zxid) and agree on the
/// digest at every zxid they all list. A disagreement fails at once: digest history never changes.
pub fn wait_for_digest_agreement(
    ensemble: &dyn Ensemble,
    zxid: i64,
    timeout: Duration,
) -> Result<DigestEntry, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let logs: Vec<Vec<DigestEntry>> = (0..ensemble.len())
            .map(|i| ensemble.digest_log(i).unwrap_or_default())
            .collect();
        match agree_on_common_zxids(&logs) {
            Err(disagreement) => return Err(disagreement),
            Ok(Some(entry)) if entry.zxid >= zxid => return Ok(entry),
            Ok(_) if Instant::now() >= deadline => {
                let tails: Vec<String> = logs
                    .iter()
                    .enumerate()
                    .map(|(i, log)| format!("server {i}: last entries {:?}", tail(log)))
                    .collect();
                return Err(format!(
                    "after {timeout:?} the servers still do not all list a digest at zxid {zxid:#x} or later:\n{}",
                    tails.join("\n")
                ));
            }
            Ok(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

fn tail(log: &[DigestEntry]) -> Vec<String> {
    log[log.len().saturating_sub(3)..]
        .iter()
        .map(|e| format!("{:#x}: {}", e.zxid, e.digest))
        .collect()
}

/// Server `i`'s `zk_digest_mismatches_count` from `mntr` (txns whose logged digest did not match the
/// tree after applying them), or `None` if it does not answer or does not report one.
pub fn digest_mismatches(ensemble: &dyn Ensemble, i: usize) -> Option<u64> {
    let mntr = ensemble.try_four_letter(i, "mntr").ok()?;
    mntr.lines().find_map(|line| {
        let (key, value) = line.split_once('\t')?;
        (key.trim() == "zk_digest_mismatches_count")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// What [`check_digests`] found.
#[derive(Debug)]
pub struct Convergence {
    /// The highest zxid every server lists in `hash`, with the digest they all agree on there.
    pub agreed: DigestEntry,
    /// Each server's `zk_digest_mismatches_count`, if it reports one.
    pub mismatches: Vec<Option<u64>>,
}

impl Convergence {
    /// The first server that counted digest mismatches, with its count.
    pub fn first_mismatching(&self) -> Option<(usize, u64)> {
        self.mismatches
            .iter()
            .enumerate()
            .find_map(|(i, n)| n.filter(|&n| n > 0).map(|n| (i, n)))
    }
}

/// The convergence check: pads to a digest zxid through `client`, waits until every server's digest
/// agrees there (failing on any disagreement), and reads every server's mismatch counter.
pub async fn check_digests(
    ensemble: &dyn Ensemble,
    client: &Client,
    pad: &str,
    timeout: Duration,
) -> Result<Convergence, String> {
    let zxid = pad_to_digest_zxid(client, pad).await?;
    let agreed = blocking(|| wait_for_digest_agreement(ensemble, zxid, timeout))?;
    let mismatches = (0..ensemble.len())
        .map(|i| blocking(|| digest_mismatches(ensemble, i)))
        .collect();
    Ok(Convergence { agreed, mismatches })
}
