//! Handshakes and session expiry.

use std::collections::VecDeque;
use std::net::SocketAddr;

use tracing::{debug, info};
use zk_proto::ConnectRequest;

use super::reply::connect_frame;
use super::{Conn, ConnStats, Core, Origin, OutTx, Outbound};
use crate::acl::AuthIds;
use crate::prep::{close_session_txn, create_session_txn, unchanged_digest};
use crate::session::{negotiate_timeout, session_password};
use crate::watch::ConnId;

impl Core {
    /// `processConnectRequest`.
    pub(super) fn connect(
        &mut self,
        conn: ConnId,
        peer: Option<SocketAddr>,
        req: ConnectRequest,
        out: OutTx,
    ) {
        self.stats.packets_received += 1;
        if !self.accepts_clients() {
            debug!(conn, "not serving: no quorum");
            let _ = out.send(Outbound::Close(None));
            return;
        }
        if req.last_zxid_seen > self.tree.last_zxid() {
            info!(
                conn,
                client_zxid = format_args!("{:#x}", req.last_zxid_seen),
                our_zxid = format_args!("{:#x}", self.tree.last_zxid()),
                "refusing session: client has seen a later zxid"
            );
            let _ = out.send(Outbound::Close(None));
            return;
        }
        let timeout = negotiate_timeout(
            req.timeout,
            self.cfg.min_session_timeout,
            self.cfg.max_session_timeout,
        );
        let ro_flag = req.read_only.is_some();
        let read_only = self.is_read_only();
        let mut c = Conn {
            out,
            peer,
            session: None,
            ids: AuthIds::for_peer(peer.map(|p| p.ip())),
            queue: VecDeque::new(),
            received: 1,
            sent: 0,
            cstats: ConnStats::new(crate::server::wall_millis()),
            timeout,
            last_zxid: 0,
        };
        if read_only {
            self.read_only_connect(conn, c, &req);
            return;
        }
        let now = self.now_ms();
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.sessions.track(id, timeout, now);
            c.session = Some(id);
            if self.is_learner() {
                debug!(
                    conn,
                    session = format_args!("{id:#x}"),
                    timeout,
                    "new session (forwarded)"
                );
                self.learner_new_session(conn, c, id, ro_flag);
                return;
            }
            self.session_conns.insert(id, conn);
            self.conns.insert(conn, c);
            let zxid = self.next_zxid();
            let digest = unchanged_digest(&self.tree, &self.pending, self.cfg.prep);
            let txn = create_session_txn(id, timeout, zxid, crate::server::wall_millis(), digest);
            debug!(
                conn,
                session = format_args!("{id:#x}"),
                timeout,
                "new session"
            );
            self.submit(
                txn,
                Origin::NewSession {
                    conn,
                    timeout,
                    read_only_flag: ro_flag,
                },
            );
            return;
        }
        let id = req.session_id;
        // Apache closes the session's current connection on any reattach attempt, before it
        // checks the password (`ZooKeeperServer.processConnectRequest` ->
        // `closeSession(sessionId, CLIENT_RECONNECT)`); the session itself lives on.
        if let Some(old) = self.session_conns.remove(&id) {
            if old != conn {
                if let Some(mut oc) = self.conns.remove(&old) {
                    oc.send(Outbound::Close(None));
                }
                self.watches.remove_conn(old);
            }
        }
        let passwd_ok = req.passwd.as_deref() == Some(&session_password(id)[..]);
        if passwd_ok && self.is_learner() {
            self.revalidate(conn, c, id, ro_flag);
            return;
        }
        if passwd_ok && self.sessions.touch(id, timeout, now) {
            self.session_conns.insert(id, conn);
            c.session = Some(id);
            debug!(
                conn,
                session = format_args!("{id:#x}"),
                timeout,
                "session resumed"
            );
            let frame = connect_frame(true, timeout, id, &session_password(id), ro_flag);
            self.stats.packets_sent += 1;
            c.send(Outbound::Connected(frame));
            self.conns.insert(conn, c);
        } else {
            info!(
                conn,
                session = format_args!("{id:#x}"),
                passwd_ok,
                "invalid session, probably expired"
            );
            let frame = connect_frame(false, 0, 0, &[], ro_flag);
            let _ = c.out.send(Outbound::Close(Some(frame)));
        }
    }

    /// Called when a createSession txn commits.
    pub(super) fn session_created(&mut self, conn: ConnId, session: i64, timeout: i32, ro: bool) {
        if let Some(c) = self.conns.get_mut(&conn) {
            let frame = connect_frame(true, timeout, session, &session_password(session), ro);
            self.stats.packets_sent += 1;
            c.send(Outbound::Connected(frame));
        }
    }

    /// Called when a closeSession txn commits: drop the session and close its connection.
    pub(super) fn session_closed(&mut self, session: i64) {
        self.sessions.remove(session);
        if let Some(conn) = self.session_conns.remove(&session) {
            if let Some(mut c) = self.conns.remove(&conn) {
                c.send(Outbound::Close(None));
            }
            self.watches.remove_conn(conn);
        }
    }

    /// The expiry tick (`SessionTrackerImpl.run`): expired sessions get a closeSession txn.
    pub(super) fn expire_sessions(&mut self) {
        let now = self.now_ms();
        for id in self.sessions.expired(now) {
            info!(session = format_args!("{id:#x}"), "session expired");
            self.stats.sessions_expired += 1;
            let zxid = self.next_zxid();
            let txn = close_session_txn(
                &self.tree,
                &mut self.pending,
                id,
                zxid,
                crate::server::wall_millis(),
                self.cfg.prep,
            );
            self.submit(txn, Origin::Internal);
        }
    }
}
