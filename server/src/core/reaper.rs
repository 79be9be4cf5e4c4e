//! The container/TTL reaper (`ContainerManager`): every `znode.container.checkIntervalMs` it
//! lists the candidates (empty containers that had a child — or, with
//! `znode.container.maxNeverUsedIntervalMs`, that never had one for that long — and TTL nodes
//! without children unchanged for longer than their TTL), then deletes them one at a time, at
//! most `znode.container.maxPerMinute` a minute (Apache sleeps `60000 / maxPerMinute` ms between
//! deletions; here the core keeps serving and takes the next candidate when it is due).

use std::collections::VecDeque;

use tracing::debug;

use super::{Core, Origin};
use crate::acl::AuthIds;
use crate::prep::prep_delete_container;
use crate::tree::OwnerKind;

/// Candidates waiting for deletion, paced.
#[derive(Debug)]
pub(crate) struct ReapQueue {
    queue: VecDeque<String>,
    min_interval_ms: u64,
    next_at_ms: u64,
}

impl ReapQueue {
    /// A queue deleting at most `max_per_minute` nodes a minute.
    pub fn new(max_per_minute: u32) -> Self {
        ReapQueue {
            queue: VecDeque::new(),
            // ContainerManager.getMinIntervalMs: MINUTES.toMillis(1) / maxPerMinute.
            min_interval_ms: 60_000 / u64::from(max_per_minute.max(1)),
            next_at_ms: 0,
        }
    }

    /// Whether a check should list candidates: Apache's timer task runs the whole list before
    /// the next check starts.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues the candidates of one check.
    pub fn refill(&mut self, candidates: impl IntoIterator<Item = String>) {
        self.queue.extend(candidates);
    }

    /// When the next deletion is due (ms on the core's clock), if any is waiting.
    pub fn due_at(&self) -> Option<u64> {
        (!self.queue.is_empty()).then_some(self.next_at_ms)
    }

    /// The next candidate if one is due at `now_ms`; the one after it is due a minimum
    /// interval later.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<String> {
        if now_ms < self.next_at_ms {
            return None;
        }
        let p = self.queue.pop_front()?;
        self.next_at_ms = now_ms + self.min_interval_ms;
        Some(p)
    }
}

impl Core {
    /// `ContainerManager.getCandidates`.
    fn reap_candidates(&self) -> Vec<String> {
        let now = crate::server::wall_millis();
        let never_used = self.cfg.container_max_never_used_ms as i64;
        let mut candidates = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.get(p) {
                if !n.children.is_empty() {
                    continue;
                }
                // cversion > 0: keep a new container until it has had a child.
                if n.stat.cversion > 0 || (never_used != 0 && now - n.stat.mtime > never_used) {
                    candidates.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.get(p) {
                if let OwnerKind::Ttl(ttl) = OwnerKind::of(n.stat.ephemeral_owner) {
                    if n.children.is_empty() && ttl != 0 && now - n.stat.mtime > ttl {
                        candidates.push(p.clone());
                    }
                }
            }
        }
        candidates
    }

    /// The check timer fired: list candidates unless the previous list is still being worked.
    pub(super) fn check_containers(&mut self) {
        if self.reap.idle() {
            let candidates = self.reap_candidates();
            self.reap.refill(candidates);
        }
        self.reap_due();
    }

    /// Deletes the candidates that are due (`deleteContainer` through prep, so a candidate
    /// that got a child meanwhile is left alone).
    pub(super) fn reap_due(&mut self) {
        let now_ms = self.now_ms();
        while let Some(p) = self.reap.pop_due(now_ms) {
            let zxid = self.last_assigned + 1;
            let ids = AuthIds::default();
            if let Some(txn) = prep_delete_container(
                &self.tree,
                &mut self.pending,
                zxid,
                crate::server::wall_millis(),
                &ids,
                self.cfg.prep,
                &p,
            ) {
                self.last_assigned = zxid;
                debug!(path = %p, "reaping container/TTL node");
                self.submit(txn, Origin::Internal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_deletions_at_max_per_minute() {
        let mut q = ReapQueue::new(600); // one per 100 ms
        assert!(q.idle());
        assert_eq!(q.due_at(), None);
        q.refill(["/a", "/b", "/c"].map(String::from));
        assert!(!q.idle());
        assert_eq!(q.pop_due(1000).as_deref(), Some("/a"));
        assert_eq!(q.pop_due(1000), None, "next one not due yet");
        assert_eq!(q.due_at(), Some(1100));
        assert_eq!(q.pop_due(1099), None);
        assert_eq!(q.pop_due(1100).as_deref(), Some("/b"));
        assert_eq!(q.pop_due(5000).as_deref(), Some("/c"));
        assert_eq!(q.pop_due(9000), None);
        assert!(q.idle());
    }

    #[test]
    fn default_rate_is_one_per_six_ms() {
        let mut q = ReapQueue::new(crate::config::DEFAULT_CONTAINER_MAX_PER_MINUTE);
        q.refill(["/a", "/b"].map(String::from));
        assert!(q.pop_due(0).is_some());
        assert_eq!(q.due_at(), Some(6));
    }
}
