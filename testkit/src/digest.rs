//! Tree digests as the `hash` four-letter word reports them (Apache 3.8's `DigestCommand`, and
//! zk-server's copy of it).
//!
//! Every server keeps a running digest of its tree (`zookeeper.digest.enabled`, on by default since 3.6)
//! and remembers it after each txn whose zxid is a multiple of 128 (`DataTree.DIGEST_LOG_INTERVAL`).
//! `hash` prints that history, one `<hex zxid>: <decimal digest>` line each, oldest first. Two servers
//! that applied the same txns print the same digest for every zxid they both list, so comparing the
//! entries at common zxids compares the trees without reading them.

use std::collections::BTreeMap;

/// `DataTree.DIGEST_LOG_INTERVAL`: only txns whose zxid is a multiple of this appear in `hash`.
pub const DIGEST_LOG_INTERVAL: i64 = 128;

/// One line of `hash`: the tree digest right after the txn `zxid` was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestEntry {
    /// The txn's zxid.
    pub zxid: i64,
    /// The tree digest after it.
    pub digest: i64,
}

/// Parses a `hash` reply. Lines that are not `<hex>: <decimal>` (e.g. "This ZooKeeper instance is not
/// currently serving requests") are skipped, so a server that is not serving yields no entries.
///
/// ```
/// let log = zk_testkit::parse_digest_log("100000080: 12345\n100000100: -7\n");
/// assert_eq!(log.len(), 2);
/// assert_eq!((log[1].zxid, log[1].digest), (0x1_0000_0100, -7));
/// ```
pub fn parse_digest_log(reply: &str) -> Vec<DigestEntry> {
    reply
        .lines()
        .filter_map(|line| {
            let (zxid, digest) = line.split_once(':')?;
            Some(DigestEntry {
                zxid: i64::from_str_radix(zxid.trim(), 16).ok()?,
                digest: digest.trim().parse().ok()?,
            })
        })
        .collect()
}

/// Compares the digest logs of several servers at every zxid that all of them list. Returns the highest
/// such zxid with its digest, or a description of the first zxid where two servers disagree.
///
/// `Ok(None)` means the logs have no zxid in common (nothing to compare yet).
pub fn agree_on_common_zxids(logs: &[Vec<DigestEntry>]) -> Result<Option<DigestEntry>, String> {
    let mut by_zxid: BTreeMap<i64, Vec<(usize, i64)>> = BTreeMap::new();
    for (server, log) in logs.iter().enumerate() {
        for entry in log {
            by_zxid
                .entry(entry.zxid)
                .or_default()
                .push((server, entry.digest));
        }
    }
    let mut highest = None;
    for (zxid, digests) in by_zxid {
        if digests.len() != logs.len() {
            continue;
        }
        let (first_server, first) = digests[0];
        if let Some(&(other, digest)) = digests.iter().find(|(_, d)| *d != first) {
            return Err(format!(
                "tree digests differ at zxid {zxid:#x}: server {first_server} has {first}, server {other} has {digest}"
            ));
        }
        highest = Some(DigestEntry {
            zxid,
            digest: first,
        });
    }
    Ok(highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(zxid: i64, digest: i64) -> DigestEntry {
        DigestEntry { zxid, digest }
    }

    #[test]
    fn parses_and_skips_noise() {
        let log = parse_digest_log(
            "This ZooKeeper instance is not currently serving requests\n80: 1\nzz: 2\n",
        );
        assert_eq!(log, vec![e(0x80, 1)]);
    }

    #[test]
    fn agreement_at_the_highest_common_zxid() {
        let a = vec![e(0x80, 1), e(0x100, 2), e(0x180, 3)];
        let b = vec![e(0x100, 2), e(0x180, 3)];
        let c = vec![e(0x80, 9), e(0x100, 2), e(0x180, 3), e(0x200, 4)];
        assert_eq!(agree_on_common_zxids(&[a, b, c]), Ok(Some(e(0x180, 3))));
    }

    #[test]
    fn disagreement_names_the_zxid() {
        let a = vec![e(0x100, 2)];
        let b = vec![e(0x100, 5)];
        let err = agree_on_common_zxids(&[a, b]).unwrap_err();
        assert!(err.contains("0x100"), "{err}");
        assert_eq!(agree_on_common_zxids(&[vec![e(0x80, 1)], vec![]]), Ok(None));
    }
}
