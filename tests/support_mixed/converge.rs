//! The servers' own proof that their trees agree: the tree digest each computes (`hash`, Apache 3.8's
//! `DigestCommand` and zk-server's copy) and their digest-mismatch counters (`mntr`).
//!
//! A server records its digest only after txns whose zxid is a multiple of
//! [`DIGEST_LOG_INTERVAL`], so [`pad_to_digest_zxid`] writes until a txn lands on one; every server
//! must then list it, with one digest.

use std::time::{Duration, Instant};

use zk_client::{Client, CreateOptions, Error};
use zk_testkit::{agree_on_common_zxids, parse_digest_log, DigestEntry, DIGEST_LOG_INTERVAL};

use super::{MixedEnsemble, POLL_INTERVAL};

/// Writes tried before giving up on landing on a digest zxid: two intervals, in case other txns
/// (session closes) take the zxid the padding aimed at.
const MAX_PAD_WRITES: i64 = 2 * DIGEST_LOG_INTERVAL + 8;

/// Sets `pad` (created if missing) until a setData's zxid is a multiple of the digest interval;
/// returns that zxid.
pub async fn pad_to_digest_zxid(client: &Client, pad: &str) -> i64 {
    match client.create(pad, b"", &CreateOptions::persistent()).await {
        Ok(_) | Err(Error::NodeExists) => {}
        Err(e) => panic!("creating {pad}: {e}"),
    }
    for _ in 0..MAX_PAD_WRITES {
        let stat = client
            .set_data(pad, b"pad", None)
            .await
            .unwrap_or_else(|e| panic!("padding {pad}: {e}"));
        if stat.mzxid % DIGEST_LOG_INTERVAL == 0 {
            return stat.mzxid;
        }
    }
    panic!("{MAX_PAD_WRITES} writes to {pad} never landed on a multiple of {DIGEST_LOG_INTERVAL}");
}

/// Polls every member's `hash` until all list `zxid` (or a later common zxid) and agree at every zxid
/// they all list. A disagreement fails at once: digest history never changes.
pub async fn wait_for_digest_agreement(
    ensemble: &MixedEnsemble,
    zxid: i64,
    timeout: Duration,
) -> Result<DigestEntry, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let logs: Vec<Vec<DigestEntry>> = (0..ensemble.members().len())
            .map(|i| {
                ensemble
                    .four_letter(i, "hash")
                    .map(|r| parse_digest_log(&r))
                    .unwrap_or_default()
            })
            .collect();
        match agree_on_common_zxids(&logs) {
            Err(disagreement) => return Err(disagreement),
            Ok(Some(entry)) if entry.zxid >= zxid => return Ok(entry),
            Ok(_) if Instant::now() >= deadline => {
                let tails: Vec<String> = logs
                    .iter()
                    .zip(ensemble.members())
                    .map(|(log, m)| {
                        let last: Vec<String> = log[log.len().saturating_sub(3)..]
                            .iter()
                            .map(|e| format!("{:#x}: {}", e.zxid, e.digest))
                            .collect();
                        format!("{}: last digests {last:?}", m.label())
                    })
                    .collect();
                return Err(format!(
                    "after {timeout:?} the servers do not all list a digest at {zxid:#x} or later:\n{}",
                    tails.join("\n")
                ));
            }
            Ok(_) => tokio::time::sleep(POLL_INTERVAL).await, // polling 4lw with a deadline
        }
    }
}

/// Member `i`'s `zk_digest_mismatches_count` from `mntr`, or `None` if it reports none.
pub fn digest_mismatches(ensemble: &MixedEnsemble, i: usize) -> Option<u64> {
    let mntr = ensemble.four_letter(i, "mntr").ok()?;
    mntr.lines().find_map(|line| {
        let (key, value) = line.split_once('\t')?;
        (key.trim() == "zk_digest_mismatches_count")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}
