//! Commit: once the log thread reports txns durable, apply them in zxid order, fire their
//! watches, send their replies, then serve the reads that were waiting behind them.

use tracing::info;
use zk_proto::records::node::{Create2Response, CreateResponse, StatResponse};
use zk_proto::{perms, ErrorCode, MultiResponse, OpCode, ResponseBody, TxnBody};

use super::reply::{event_frame, reply_frame, ReplyBody};
use super::stats::last_op_name;
use super::{Core, InFlight, Origin, Outbound, Queued, ReplyNote, FORWARDED};
use crate::acl::check_acl;
use crate::persist::{LogCmd, SnapshotState};
use crate::tree::{Trigger, TriggerKind, TxnResult};
use crate::txn::Zxid;
use crate::watch::Table;

impl Core {
    /// Commits every in-flight txn with zxid <= `upto`.
    pub(super) fn commit_through(&mut self, upto: Zxid) {
        while self.inflight.front().is_some_and(|f| f.zxid <= upto) {
            let InFlight { zxid, txn, origin } = self.inflight.pop_front().expect("checked");
            self.apply_committed(zxid, &txn, origin);
        }
    }

    /// Applies one committed txn, fires its watches, answers its origin, and closes its
    /// session if it was a closeSession.
    pub(super) fn apply_committed(&mut self, zxid: Zxid, txn: &crate::txn::Txn, origin: Origin) {
        let uptime_ms = self.now_ms();
        let outcome = self.tree.apply(&txn.header, &txn.body);
        // ZKDatabase.processTxn -> DataTree.compareDigest: prep's precalculated digest
        // must equal the applied tree's; a mismatch is counted and logged.
        self.tree.compare_digest(&txn.header, txn.digest.as_ref());
        self.pending.applied(zxid);
        self.stats.txns_committed += 1;
        self.fire(&outcome.triggers);
        match origin {
            Origin::Request {
                conn,
                xid,
                opcode,
                received,
            } => {
                let is_error_txn = txn.header.txn_type == OpCode::Error.code();
                let result = write_reply(opcode, is_error_txn, outcome.result);
                if let Some(c) = self.conns.get_mut(&conn) {
                    if let Some(Queued::Write(z)) = c.queue.front() {
                        if *z == zxid || *z == FORWARDED {
                            c.queue.pop_front();
                        }
                    }
                    c.last_zxid = zxid;
                    let frame = reply_frame(xid, zxid, &result);
                    let note = ReplyNote {
                        op: last_op_name(opcode),
                        cxid: xid,
                        received,
                        frame_len: frame.len(),
                    };
                    self.stats.reply(&mut c.cstats, note, self.now, uptime_ms);
                    c.send(Outbound::Reply(frame));
                }
                self.drain_reads(conn);
            }
            Origin::NewSession {
                conn,
                timeout,
                read_only_flag,
            } => self.session_created(conn, txn.header.client_id, timeout, read_only_flag),
            Origin::Internal => {}
        }
        if let TxnBody::CloseSession(_) = &txn.body {
            info!(
                session = format_args!("{:#x}", txn.header.client_id),
                "session closed"
            );
            self.session_closed(txn.header.client_id);
        }
        self.txns_since_snapshot += 1;
        if self.txns_since_snapshot >= self.snapshot_at {
            self.take_snapshot();
        }
    }

    /// Hands a snapshot of the committed state to the log thread.
    pub(super) fn take_snapshot(&mut self) {
        self.txns_since_snapshot = 0;
        self.snapshot_at = self.roll_snapshot_threshold();
        let mut sessions: Vec<(i64, i32)> =
            self.tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
        sessions.sort_unstable();
        let snap = SnapshotState {
            last_zxid: self.tree.last_zxid(),
            digest: self.tree.snapshot_digest(),
            sessions,
            nodes: self.tree.snapshot_nodes(),
        };
        self.stats.snapshots += 1;
        if self.log.send(LogCmd::Snapshot(snap)).is_err() {
            self.log_failed = true;
        }
    }

    /// Sends the events of one txn to every watching connection allowed to read the node.
    fn fire(&mut self, triggers: &[Trigger]) {
        for t in triggers {
            let conns = match t.kind {
                TriggerKind::Data => self.watches.trigger(Table::Data, &t.path, t.event),
                TriggerKind::Child => self.watches.trigger(Table::Child, &t.path, t.event),
                TriggerKind::DataThenChild => self.watches.trigger_delete(&t.path),
            };
            if conns.is_empty() {
                continue;
            }
            let frame = event_frame(t.event, &t.path);
            for conn in conns {
                if let Some(c) = self.conns.get_mut(&conn) {
                    if check_acl(&t.acl, perms::READ, &c.ids).is_ok() {
                        self.stats.events_sent += 1;
                        c.send(Outbound::Event(frame.clone()));
                    }
                }
            }
        }
    }
}

/// The reply to a write, from its txn's result.
fn write_reply(
    opcode: OpCode,
    is_error_txn: bool,
    result: TxnResult,
) -> Result<ReplyBody, ErrorCode> {
    if let TxnResult::Error(e) = result {
        return Err(e);
    }
    if is_error_txn {
        return Err(ErrorCode::SystemError);
    }
    Ok(ReplyBody::Body(match (opcode, result) {
        (OpCode::Create, TxnResult::Created { path, .. }) => {
            ResponseBody::Create(CreateResponse { path })
        }
        (_, TxnResult::Created { path, stat }) => {
            ResponseBody::Create2(Create2Response { path, stat })
        }
        (_, TxnResult::DataSet { stat }) | (_, TxnResult::AclSet { stat }) => {
            ResponseBody::Stat(StatResponse { stat })
        }
        (_, TxnResult::Multi { results }) => ResponseBody::Multi(MultiResponse { results }),
        _ => ResponseBody::Empty,
    }))
}
