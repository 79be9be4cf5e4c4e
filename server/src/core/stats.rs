//! Server counters for the four-letter words.

/// Counters kept by the core.
#[derive(Debug, Default, Clone)]
pub(crate) struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub txns_committed: u64,
    pub events_sent: u64,
    pub sessions_expired: u64,
    pub auth_failed: u64,
    pub snapshots: u64,
}
