//! Request dispatch: per-session ordering, writes to prep, reads to the read handlers.
//!
//! A connection's queue holds, in request order, the writes it has in flight and the reads that
//! arrived after them. A read is served at once only when the queue is empty; otherwise it waits
//! until every earlier write has committed (`CommitProcessor`'s rule), so replies always leave
//! in request order.

use tracing::{debug, warn};
use zk_proto::{ErrorCode, OpCode, RequestBody, ResponseBody, PING_XID};

use super::reply::{event_frame, reply_frame, ReplyBody};
use super::{Core, Origin, Outbound, Queued};
use crate::acl::authenticate;
use crate::prep::{prep_write, PrepInput};
use crate::watch::ConnId;

use super::stats::Micros;

use super::stats::last_op_name;
use super::ReplyNote;

impl Core {
    /// One request from an established connection.
    pub(super) fn request(
        &mut self,
        conn: ConnId,
        xid: i32,
        received: Micros,
        body: Result<RequestBody, ErrorCode>,
    ) {
        self.stats.packets_received += 1;
        let now = self.now_ms();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.received += 1;
        let Some(session) = c.session else {
            return;
        };
        let timeout = c.timeout;
        // An undecodable body is answered like a failed read: in order, no txn.
        let op = body.as_ref().map_or(OpCode::GetData, RequestBody::opcode);
        if !self.sessions.touch(session, timeout, now) && op != OpCode::CloseSession {
            debug!(
                conn,
                session = format_args!("{session:#x}"),
                "request on a dead session"
            );
            if let Some(mut c) = self.conns.remove(&conn) {
                c.send(Outbound::Close(None));
            }
            self.watches.remove_conn(conn);
            return;
        }
        if self.is_read_only() {
            if let Some(e) = self.read_only_request(conn, xid, session, op) {
                if e != ErrorCode::Ok {
                    self.serve(conn, xid, received, Err(e));
                }
                return;
            }
        }
        self.note_activity(session, timeout);
        if let Ok(RequestBody::Sync(s)) = &body {
            let path = s.path.clone();
            if self.replica_sync(conn, xid, received, path) {
                return;
            }
        }
        let body = match body {
            Ok(b) if op.is_write() => b,
            other => {
                let queue_empty = self.conns.get(&conn).map_or(true, |c| c.queue.is_empty());
                if queue_empty {
                    self.serve(conn, xid, received, other);
                } else if let Some(c) = self.conns.get_mut(&conn) {
                    c.queue.push_back(Queued::Read {
                        xid,
                        received,
                        body: other,
                    });
                }
                return;
            }
        };
        if self.log_failed {
            let c = self.conns.get_mut(&conn).expect("checked above");
            c.send(Outbound::Close(None));
            return;
        }
        if self.is_learner() {
            self.forward_write(conn, xid, received, body);
            return;
        }
        let zxid = self.next_zxid();
        let live = self.sessions.is_live(session);
        let c = self.conns.get_mut(&conn).expect("checked above");
        let txn = prep_write(
            PrepInput {
                tree: &self.tree,
                pending: &mut self.pending,
                zxid,
                time: crate::server::wall_millis(),
                session,
                session_live: live,
                cxid: xid,
                ids: &c.ids,
                config: self.cfg.prep,
            },
            &body,
        );
        c.queue.push_back(Queued::Write(zxid));
        if op == OpCode::CloseSession {
            self.sessions.set_closing(session);
        }
        self.submit(
            txn,
            Origin::Request {
                conn,
                xid,
                opcode: op,
                received,
            },
        );
    }

    /// Serves the reads queued at the front of a connection's queue.
    pub(super) fn drain_reads(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Queued::Read { .. }) => {
                    if let Some(Queued::Read {
                        xid,
                        received,
                        body,
                    }) = c.queue.pop_front()
                    {
                        self.serve(conn, xid, received, body);
                    }
                }
                _ => return,
            }
        }
    }

    /// Serves one non-write request now.
    fn serve(
        &mut self,
        conn: ConnId,
        xid: i32,
        received: Micros,
        body: Result<RequestBody, ErrorCode>,
    ) {
        let zxid = self.tree.last_zxid();
        let uptime_ms = self.now_ms();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let session = c.session.unwrap_or(0);
        let live = self.sessions.is_live(session);
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let frame = reply_frame(xid, zxid, &Err(e));
                c.last_zxid = zxid;
                let note = ReplyNote {
                    op: "NA",
                    cxid: xid,
                    received,
                    frame_len: frame.len(),
                };
                self.stats.reply(&mut c.cstats, note, self.now, uptime_ms);
                c.send(Outbound::Reply(frame));
                return;
            }
        };
        let frame = match &body {
            RequestBody::Ping => reply_frame(PING_XID, zxid, &Ok(ResponseBody::Empty.into())),
            RequestBody::Auth(a) => {
                let data = a.auth.as_deref().unwrap_or(&[]);
                match authenticate(&a.scheme, data, self.cfg.super_digest.as_deref()) {
                    Ok(ids) => {
                        for id in ids {
                            c.ids.add(id);
                        }
                        // Auth is answered by the connection, outside the processor chain:
                        // a packet, but no latency sample.
                        self.stats.packets_sent += 1;
                        c.send(Outbound::Reply(reply_frame(
                            xid,
                            0,
                            &Ok(ResponseBody::Empty.into()),
                        )));
                        return;
                    }
                    Err(e) => {
                        warn!(conn, scheme = %a.scheme, "authentication failed; closing");
                        self.stats.auth_failed += 1;
                        let frame = reply_frame(xid, 0, &Err(e));
                        c.send(Outbound::Close(Some(frame)));
                        return;
                    }
                }
            }
            RequestBody::Sasl(_) => reply_frame(xid, zxid, &Err(ErrorCode::Unimplemented)),
            _ if !live => reply_frame(xid, zxid, &Err(ErrorCode::SessionExpired)),
            _ => {
                let mut events = Vec::new();
                let result = super::read::serve(
                    &self.tree,
                    &mut self.watches,
                    conn,
                    session,
                    &c.ids,
                    &body,
                    &mut events,
                );
                for (ev, path) in events {
                    c.send(Outbound::Event(event_frame(ev, &path)));
                }
                reply_frame(xid, zxid, &result.map(ReplyBody::from_reply))
            }
        };
        c.last_zxid = zxid;
        let note = ReplyNote {
            op: last_op_name(body.opcode()),
            cxid: xid,
            received,
            frame_len: frame.len(),
        };
        self.stats.reply(&mut c.cstats, note, self.now, uptime_ms);
        c.send(Outbound::Reply(frame));
    }
}

impl ReplyBody {
    fn from_reply(r: super::read::ReadReply) -> ReplyBody {
        match r {
            super::read::ReadReply::Body(b) => ReplyBody::Body(b),
            super::read::ReadReply::ZeroErr => ReplyBody::ZeroErr,
        }
    }
}
