//! The core's side of the four-letter words: apply `srst`/`crst`, then gather a
//! [`ServerView`] for [`crate::admin::run`] to format.

use crate::admin::{ConnView, ServerView};
use crate::watch::ConnId;

use super::{Core, Queued, ServerStats};

impl Core {
    pub(super) fn four_letter(&mut self, cmd: &str) -> String {
        if cmd == "srst" {
            self.stats.reset();
            self.tree.reset_digest_mismatches();
        }
        if cmd == "crst" {
            for c in self.conns.values_mut() {
                c.received = 0;
                c.sent = 0;
                c.cstats.reset();
            }
        }
        let session_of = |conn: &ConnId| self.conns.get(conn).and_then(|c| c.session).unwrap_or(0);
        let mut conns: Vec<ConnView> = self
            .conns
            .values()
            .map(|c| ConnView {
                peer: c.peer.map(|p| p.to_string()).unwrap_or_default(),
                queued: c.queue.len(),
                received: c.received,
                sent: c.sent,
                session: c.session,
                timeout: c.timeout,
                last_zxid: c.last_zxid,
                last_op: c.cstats.last_op,
                established_ms: c.cstats.established_ms,
                last_cxid: c.cstats.last_cxid,
                last_response_ms: c.cstats.last_response_ms,
                last_latency_ms: c.cstats.last_latency_ms,
                min_latency_ms: c.cstats.latency.min_ms(),
                avg_latency_ms: c.cstats.latency.avg_ms_whole(),
                max_latency_ms: c.cstats.latency.max_ms(),
            })
            .collect();
        conns.sort_by(|a, b| a.peer.cmp(&b.peer));
        let mut ephemerals: Vec<(i64, Vec<String>)> = self
            .tree
            .all_ephemerals()
            .iter()
            .map(|(s, p)| (*s, p.iter().cloned().collect()))
            .collect();
        ephemerals.sort();
        let queued_reads: usize = self
            .conns
            .values()
            .map(|c| {
                c.queue
                    .iter()
                    .filter(|q| matches!(q, Queued::Read { .. }))
                    .count()
            })
            .sum();
        let ServerStats {
            packets_received,
            packets_sent,
            events_sent,
            auth_failed,
            latency,
            ..
        } = self.stats.clone();
        let view = ServerView {
            conns,
            received: packets_received,
            // Apache counts every buffer written, watch notifications included.
            sent: packets_sent + events_sent,
            outstanding: self.inflight.len() + queued_reads,
            zxid: self.tree.last_zxid(),
            node_count: self.tree.node_count() + 1,
            ephemerals,
            sessions: self.sessions.sessions(),
            watch_count: self.watches.count(),
            watch_paths: self.watches.path_count(),
            watch_conns: self.watches.conn_count(),
            watches_by_session: self
                .watches
                .by_conn()
                .into_iter()
                .map(|(c, p)| (session_of(&c), p.into_iter().collect()))
                .collect(),
            watches_by_path: self
                .watches
                .by_path()
                .into_iter()
                .map(|(p, cs)| (p, cs.iter().map(&session_of).collect()))
                .collect(),
            data_size: self.tree.approximate_data_size(),
            uptime_ms: self.now_ms(),
            conf: self.cfg.conf_lines.clone(),
            auth_failed,
            min_latency_ms: latency.min_ms(),
            avg_latency_ms: latency.avg_ms(),
            max_latency_ms: latency.max_ms(),
            response_size: {
                let r = self.stats.response_size;
                (r.last, r.min, r.max)
            },
            digest_log: self.tree.digest_log().map(|d| (d.zxid, d.digest)).collect(),
            digest_mismatches: self.tree.digest_mismatches(),
            mode: self
                .replica
                .as_ref()
                .map_or(crate::admin::SERVER_STATE, |r| r.mode()),
            serving: self.accepts_clients(),
            quorum_size: self.replica.as_ref().map_or(1, |r| r.voters()),
            peer_state: self.replica.as_ref().map(|r| r.peer_state()),
            learners: self.replica.as_ref().and_then(|r| r.learner_counts()),
        };
        crate::admin::run(cmd, &view)
    }
}
