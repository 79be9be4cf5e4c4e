//! The core as an ensemble member (`Leader`/`Follower`/`ObserverZooKeeperServer`).
//!
//! The quorum driver decides what commits; the core still owns the tree, the sessions, the
//! watches and the client connections. What changes from a standalone server:
//!
//! - **Serving** follows the peer's role: the core serves from the moment the driver reports
//!   BROADCAST (after the commits before it are applied: role reports travel on the same ordered
//!   stream as commits) until the role changes; then every client connection is closed, as
//!   Apache restarts its ZooKeeperServer, and the clients reconnect wherever a quorum is.
//! - **Leader**: writes are prepped as standalone (the core predicts the zxid the driver will
//!   assign, being its only proposer) and proposed; they complete when the driver hands them back
//!   as committed. Learners' forwarded requests are prepped the same way with the learner's
//!   session, cxid and auth ids. Only the leader expires sessions; learners' PINGs touch them.
//! - **Learner** (follower or observer): writes, createSession, closeSession and sync are
//!   forwarded to the leader; a committed txn is matched back to the local request by session
//!   and cxid (`CommitProcessor`), and a session's requests stay in order because its reads wait
//!   behind its forwarded writes. A session that reconnects here is revalidated with the leader.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use tracing::{debug, info, warn};
use zk_proto::jute::Record;
use zk_proto::quorum::{ForwardedRequest, LeaderMessage, LearnerMessage, Packet};
use zk_proto::records::node::SyncResponse;
use zk_proto::records::txn::ErrorTxn;
use zk_proto::{ErrorCode, OpCode, RequestBody, ResponseBody, TxnBody, TxnHeader};
use zk_zab::{Role, ZabPhase};

use super::reply::{connect_frame, read_only_connect_frame, reply_frame, ReplyBody};
use super::stats::{last_op_name, Micros};
use super::{Conn, Core, Origin, Outbound, Queued, ReplyNote, FORWARDED};
use crate::acl::AuthIds;
use crate::hash::FastMap;
use crate::prep::{create_session_txn, prep_write, unchanged_digest, PendingChanges, PrepInput};
use crate::quorum::{QuorumEvent, QuorumSender, RoleInfo};
use crate::session::session_password;
use crate::txn::{Txn, Zxid};
use crate::watch::{ConnId, WatchManager};

/// How long a peer without a leader waits before it serves read-only (Apache's
/// `QuorumPeer` waits `max(2000, tickTime)` ms, so that a normal election does not flap
/// clients into read-only sessions).
const READ_ONLY_DELAY_MS: u64 = 2000;

/// `OpCode.createSession` as a REQUEST's type.
const CREATE_SESSION: i32 = -10;

/// A request this learner forwarded, waiting for its txn to commit.
#[derive(Debug)]
struct Forwarded {
    cxid: i32,
    origin: Origin,
}

/// A `sync` waiting for the commit point.
#[derive(Debug)]
struct PendingSync {
    conn: ConnId,
    xid: i32,
    received: Micros,
    path: String,
}

/// A reconnecting session waiting for the leader's REVALIDATE answer.
#[derive(Debug)]
struct Revalidating {
    conn: ConnId,
    c: Conn,
    read_only: bool,
}

/// The core's ensemble state.
#[derive(Debug)]
pub(crate) struct Replica {
    /// `/zookeeper/config`'s text, rewritten after every SNAP.
    config_text: String,
    quorum: QuorumSender,
    /// The driver's live role (for the four-letter words' figures).
    live_role: tokio::sync::watch::Receiver<RoleInfo>,
    voters: usize,
    /// The last role the driver reported.
    role: Option<RoleInfo>,
    serving: bool,
    /// Learner: forwarded requests by session, in forwarding order.
    forwarded: FastMap<i64, VecDeque<Forwarded>>,
    /// Learner: forwarded syncs, answered in order by the leader.
    forwarded_syncs: VecDeque<PendingSync>,
    /// Leader: local syncs, each answered once the zxid assigned before it is committed.
    leader_syncs: VecDeque<(Zxid, PendingSync)>,
    /// Learner: sessions waiting for the leader's REVALIDATE answer.
    revalidating: FastMap<i64, Revalidating>,
    /// `readonlymode.enabled`.
    read_only_enabled: bool,
    /// Serving read-only sessions (no quorum; `ReadOnlyZooKeeperServer`).
    read_only: bool,
    /// When (core ms) this peer started looking for a leader, while it has none.
    looking_since: Option<u64>,
    /// How long a peer looks for a leader before it serves read-only.
    read_only_delay_ms: u64,
}

impl Replica {
    /// The ensemble state of a peer that has not yet found a leader.
    pub(crate) fn new(
        config_text: String,
        quorum: QuorumSender,
        live_role: tokio::sync::watch::Receiver<RoleInfo>,
        voters: usize,
        read_only_enabled: bool,
        tick_ms: u64,
    ) -> Self {
        Replica {
            config_text,
            live_role,
            read_only_enabled,
            read_only: false,
            looking_since: Some(0),
            read_only_delay_ms: READ_ONLY_DELAY_MS.max(tick_ms),
            quorum,
            voters,
            role: None,
            serving: false,
            forwarded: FastMap::default(),
            forwarded_syncs: VecDeque::new(),
            leader_syncs: VecDeque::new(),
            revalidating: FastMap::default(),
        }
    }

    /// Whether clients are served read-write.
    pub(crate) fn is_serving(&self) -> bool {
        self.serving
    }

    /// Whether read-only sessions are served (no quorum, `readonlymode.enabled`).
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether this peer leads.
    pub(crate) fn is_leader(&self) -> bool {
        self.role.is_some_and(|r| r.role == Role::Leading)
    }

    /// `Mode:` of `srvr`.
    pub(crate) fn mode(&self) -> &'static str {
        if self.read_only {
            return "read-only";
        }
        match self.role.map(|r| r.role) {
            Some(Role::Leading) => "leader",
            Some(Role::Following { .. }) => "follower",
            Some(Role::Observing { .. }) => "observer",
            Some(Role::Looking) | None => "looking",
        }
    }

    /// Voting members.
    pub(crate) fn voters(&self) -> usize {
        self.voters
    }

    /// Leader: its learners now.
    pub(crate) fn learner_counts(&self) -> Option<zk_zab::LearnerCounts> {
        self.live_role.borrow().learners
    }

    /// `zk_peer_state` of `mntr` (`QuorumPeer.getDetailedPeerState`): state - phase.
    pub(crate) fn peer_state(&self) -> String {
        let r = *self.live_role.borrow();
        let state = match r.role {
            Role::Leading => "leading",
            Role::Following { .. } => "following",
            Role::Observing { .. } => "observing",
            Role::Looking => "looking",
        };
        let phase = match r.phase {
            ZabPhase::Election => "election",
            ZabPhase::Discovery => "discovery",
            ZabPhase::Synchronization => "synchronization",
            ZabPhase::Broadcast => "broadcast",
        };
        format!("{state} - {phase}")
    }

    /// Leader: hands a prepped txn to the driver.
    pub(crate) fn propose(&self, txn: &Txn) {
        let zxid = zk_zab::Zxid(txn.zxid() as u64);
        if self.quorum.propose_at(zxid, txn.to_bytes()).is_err() {
            warn!(%zxid, "quorum driver gone; proposal dropped");
        }
    }

    /// Learner: forwards a request to the leader.
    fn forward(&self, req: ForwardedRequest) {
        let mut buf = BytesMut::new();
        LearnerMessage::Request(req).to_packet().write(&mut buf);
        if self.quorum.forward(buf.freeze()).is_err() {
            warn!("quorum driver gone; request dropped");
        }
    }
}

/// Whether a role report means "serve clients".
fn serves(r: &RoleInfo) -> bool {
    r.phase == ZabPhase::Broadcast && r.role != Role::Looking
}

/// Whether two reports describe the same leadership term.
fn same_term(a: &RoleInfo, b: &RoleInfo) -> bool {
    a.role == b.role && a.epoch == b.epoch && a.leader == b.leader
}

impl Core {
    /// Makes this core an ensemble member.
    pub(crate) fn set_replica(&mut self, replica: Replica) {
        self.replica = Some(Box::new(replica));
    }

    fn replica_mut(&mut self) -> Option<&mut Replica> {
        self.replica.as_deref_mut()
    }

    /// Whether this core expires sessions (standalone, or the serving leader).
    pub(super) fn expires_sessions(&self) -> bool {
        self.replica
            .as_ref()
            .map_or(true, |r| r.is_serving() && r.is_leader())
    }

    /// Whether this core is a serving learner (forwards writes).
    pub(super) fn is_learner(&self) -> bool {
        self.replica
            .as_ref()
            .is_some_and(|r| r.is_serving() && !r.is_leader())
    }

    /// Whether clients may connect.
    pub(super) fn accepts_clients(&self) -> bool {
        self.replica
            .as_ref()
            .map_or(true, |r| r.is_serving() || r.is_read_only())
    }

    /// Whether only read-only sessions are served.
    pub(super) fn is_read_only(&self) -> bool {
        self.replica.as_ref().is_some_and(|r| r.is_read_only())
    }

    /// The tick: a peer that has looked for a leader long enough serves read-only, if enabled.
    pub(super) fn read_only_tick(&mut self) {
        let now = self.now_ms();
        let Some(r) = self.replica_mut() else { return };
        let due = r
            .looking_since
            .is_some_and(|t| now >= t + r.read_only_delay_ms);
        if !r.read_only_enabled || r.read_only || r.serving || !due {
            return;
        }
        r.read_only = true;
        let sessions: Vec<(i64, i32)> =
            self.tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
        self.sessions.reset(sessions, now);
        info!(
            zxid = format_args!("{:#x}", self.tree.last_zxid()),
            "no quorum: serving read-only sessions"
        );
    }

    /// Read-only handshake (`ReadOnlyZooKeeperServer`): only clients that allow read-only
    /// sessions are taken; a new session is local to this server, an existing one is resumed
    /// on its password.
    pub(super) fn read_only_connect(
        &mut self,
        conn: ConnId,
        mut c: Conn,
        req: &zk_proto::ConnectRequest,
    ) {
        if req.read_only != Some(true) {
            debug!(
                conn,
                "refusing a client that does not allow read-only sessions"
            );
            let _ = c.out.send(Outbound::Close(None));
            return;
        }
        let now = self.now_ms();
        let timeout = c.timeout;
        let id = if req.session_id == 0 {
            self.sessions.next_session_id()
        } else if req.passwd.as_deref() == Some(&session_password(req.session_id)[..]) {
            req.session_id
        } else {
            let frame = connect_frame(false, 0, 0, &[], true);
            let _ = c.out.send(Outbound::Close(Some(frame)));
            return;
        };
        if let Some(old) = self.session_conns.insert(id, conn) {
            if old != conn {
                if let Some(mut oc) = self.conns.remove(&old) {
                    oc.send(Outbound::Close(None));
                }
                self.watches.remove_conn(old);
            }
        }
        self.sessions.track(id, timeout, now);
        c.session = Some(id);
        self.stats.packets_sent += 1;
        c.send(Outbound::Connected(read_only_connect_frame(
            timeout,
            id,
            &session_password(id),
        )));
        self.conns.insert(conn, c);
        debug!(conn, session = format_args!("{id:#x}"), "read-only session");
    }

    /// Read-only: a write or sync fails with NOTREADONLY (`ReadOnlyRequestProcessor`); a
    /// closeSession ends the local session. Returns false for requests served as usual.
    pub(super) fn read_only_request(
        &mut self,
        conn: ConnId,
        xid: i32,
        session: i64,
        op: OpCode,
    ) -> Option<ErrorCode> {
        if !(op.is_write() || op == OpCode::Sync) {
            return None;
        }
        if op == OpCode::CloseSession {
            self.sessions.remove(session);
            self.session_conns.remove(&session);
            let frame = reply_frame(xid, self.tree.last_zxid(), &Ok(ResponseBody::Empty.into()));
            if let Some(mut c) = self.conns.remove(&conn) {
                c.send(Outbound::Close(Some(frame)));
            }
            self.watches.remove_conn(conn);
            return Some(ErrorCode::Ok);
        }
        Some(ErrorCode::NotReadOnly)
    }

    /// One event from the quorum driver, in order.
    pub(super) fn on_quorum_event(&mut self, ev: QuorumEvent) {
        match ev {
            QuorumEvent::Committed(t) => self.on_committed(t),
            QuorumEvent::Snapshot { zxid, data } => self.on_snapshot(zxid, data),
            QuorumEvent::Role(info) => self.on_role(info),
            QuorumEvent::ForwardedRequest { from, payload } => self.on_forwarded(from, payload),
            QuorumEvent::SyncReply => self.on_sync_reply(),
            QuorumEvent::LearnerPing { payload, .. } => self.on_learner_ping(&payload),
            QuorumEvent::Revalidate { from, payload } => self.on_revalidate(from, payload),
            QuorumEvent::Rejected { zxid, error } => {
                warn!(?zxid, %error, "quorum refused a request; dropping what is in flight");
                self.stop_serving("request refused");
                if let Some(r) = self.replica_mut() {
                    r.quorum.report_role();
                }
            }
        }
    }

    /// After a batch of events: answer the leader's syncs whose point is committed.
    pub(super) fn after_quorum_events(&mut self) {
        let applied = self.tree.last_zxid();
        loop {
            let Some(r) = self.replica_mut() else { return };
            if !r.leader_syncs.front().is_some_and(|(z, _)| *z <= applied) {
                return;
            }
            let Some((_, s)) = r.leader_syncs.pop_front() else {
                return;
            };
            self.answer_sync(s);
        }
    }

    fn on_role(&mut self, info: RoleInfo) {
        let now = self.now_ms();
        let Some(r) = self.replica_mut() else { return };
        if info.role == Role::Looking {
            r.looking_since.get_or_insert(now);
        } else {
            r.looking_since = None;
            if r.read_only {
                r.read_only = false;
                self.stop_serving("found a leader: read-only sessions end");
            }
        }
        let Some(r) = self.replica_mut() else { return };
        let prev = r.role.replace(info);
        let keep = r.serving && serves(&info) && prev.is_some_and(|p| same_term(&p, &info));
        if r.serving && !keep {
            self.stop_serving("role changed");
        }
        let Some(r) = self.replica_mut() else { return };
        if !r.serving && serves(&info) {
            self.start_serving(info);
        }
    }

    fn start_serving(&mut self, info: RoleInfo) {
        let now = self.now_ms();
        let sessions: Vec<(i64, i32)> =
            self.tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
        self.sessions.reset(sessions, now);
        if info.role == Role::Leading {
            // The driver's rule: counters restart at 1 in a new epoch (NEWLEADER is counter 0).
            let epoch_start = info.epoch.map_or(0, |e| i64::from(e.0) << 32);
            self.last_assigned = (info.last_zxid.0 as i64).max(epoch_start);
        }
        let Some(r) = self.replica_mut() else { return };
        r.serving = true;
        info!(
            mode = r.mode(),
            epoch = ?info.epoch,
            zxid = format_args!("{:#x}", self.tree.last_zxid()),
            "serving clients"
        );
    }

    /// Closes every client connection and forgets everything in flight (`ZooKeeperServer`
    /// shutdown on a role change). Txns already proposed may still commit; they then arrive as
    /// the leader's commits like any other.
    pub(super) fn stop_serving(&mut self, why: &str) {
        let Some(r) = self.replica_mut() else { return };
        let was = std::mem::replace(&mut r.serving, false);
        r.forwarded.clear();
        r.forwarded_syncs.clear();
        r.leader_syncs.clear();
        r.revalidating.clear();
        if was {
            info!(why, conns = self.conns.len(), "not serving clients");
        }
        for c in self.conns.values_mut() {
            c.send(Outbound::Close(None));
        }
        self.conns.clear();
        self.session_conns.clear();
        self.watches = WatchManager::new();
        self.inflight.clear();
        self.batch.clear();
        self.pending = PendingChanges::default();
    }

    fn on_committed(&mut self, t: zk_zab::Txn) {
        let zxid = t.zxid.0 as i64;
        if zxid <= self.tree.last_zxid() {
            return;
        }
        if self.inflight.front().is_some_and(|f| f.zxid == zxid) {
            self.commit_through(zxid);
            return;
        }
        match Txn::decode(t.payload) {
            Ok(txn) => self.apply_remote(txn),
            Err(e) => {
                // The driver logged it and a quorum acked it: our tree can no longer follow.
                tracing::error!(zxid = format_args!("{zxid:#x}"), error = %e, "undecodable committed txn");
                self.stop_serving("undecodable txn");
            }
        }
    }

    /// A committed txn this core did not prep: a learner's view of the leader's decisions.
    fn apply_remote(&mut self, txn: Txn) {
        let session = txn.header.client_id;
        if let TxnBody::CreateSession(c) = &txn.body {
            if !self.sessions.contains(session) {
                let now = self.now_ms();
                self.sessions.track(session, c.timeout, now);
            }
        }
        let origin = self
            .replica_mut()
            .and_then(|r| {
                let q = r.forwarded.get_mut(&session)?;
                if q.front()?.cxid != txn.header.cxid {
                    return None;
                }
                let f = q.pop_front();
                if q.is_empty() {
                    r.forwarded.remove(&session);
                }
                f
            })
            .map_or(Origin::Internal, |f| f.origin);
        self.apply_committed(txn.zxid(), &txn, origin);
    }

    fn on_snapshot(&mut self, zxid: zk_zab::Zxid, data: Bytes) {
        match crate::quorum::snapshot::stream_to_data(&data) {
            Ok(d) => {
                let digest = self.tree.digest_enabled();
                let state = crate::durability::snapshot_state(zxid.0 as i64, d);
                self.stop_serving("state replaced by the leader's snapshot");
                self.tree = crate::server::recover_tree(
                    crate::persist::Recovered {
                        snapshot: Some(state),
                        txns: Vec::new(),
                    },
                    digest,
                );
                if let Some(r) = self.replica.as_deref() {
                    self.tree.set_config(
                        r.config_text.as_bytes(),
                        crate::ensemble::STATIC_CONFIG_VERSION,
                        crate::server::wall_millis(),
                    );
                }
                info!(%zxid, nodes = self.tree.node_count(), "loaded the leader's snapshot");
            }
            Err(e) => {
                tracing::error!(%zxid, error = %e, "undecodable snapshot from the leader");
                self.stop_serving("undecodable snapshot");
            }
        }
    }

    /// Learner: a client write (or closeSession) goes to the leader.
    pub(super) fn forward_write(
        &mut self,
        conn: ConnId,
        xid: i32,
        received: Micros,
        body: RequestBody,
    ) {
        let op = body.opcode();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(session) = c.session else { return };
        let mut request = BytesMut::new();
        body.write(&mut request);
        c.queue.push_back(Queued::Write(FORWARDED));
        let auth = c.ids.ids().to_vec();
        if op == OpCode::CloseSession {
            self.sessions.set_closing(session);
        }
        let Some(r) = self.replica_mut() else { return };
        r.forwarded
            .entry(session)
            .or_default()
            .push_back(Forwarded {
                cxid: xid,
                origin: Origin::Request {
                    conn,
                    xid,
                    opcode: op,
                    received,
                },
            });
        r.forward(ForwardedRequest {
            session_id: session,
            cxid: xid,
            op: op.code(),
            request: request.freeze(),
            auth_info: Some(auth),
        });
    }

    /// `sync` in an ensemble: the reply waits until this server has applied everything the
    /// leader had proposed when the sync reached it. Returns false for a standalone core.
    pub(super) fn replica_sync(
        &mut self,
        conn: ConnId,
        xid: i32,
        received: Micros,
        path: String,
    ) -> bool {
        let leader = match &self.replica {
            Some(r) if r.is_serving() => r.is_leader(),
            _ => return false,
        };
        let s = PendingSync {
            conn,
            xid,
            received,
            path,
        };
        // The leader's sync point: its newest proposal still in flight (its own or a learner's),
        // else what it has applied. (Not `last_assigned`: a new epoch's first zxid is counter 0,
        // NEWLEADER, which no txn ever carries.)
        let upto = self
            .inflight
            .back()
            .map_or(self.tree.last_zxid(), |f| f.zxid);
        if leader && self.inflight.is_empty() {
            let queue_empty = self.conns.get(&conn).map_or(true, |c| c.queue.is_empty());
            if queue_empty {
                self.answer_sync(s);
                return true;
            }
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return true;
        };
        let session = c.session.unwrap_or(0);
        c.queue.push_back(Queued::Sync);
        let Some(r) = self.replica_mut() else {
            return true;
        };
        if leader {
            r.leader_syncs.push_back((upto, s));
        } else {
            let mut request = BytesMut::new();
            RequestBody::Sync(zk_proto::records::node::PathRequest {
                path: s.path.clone(),
            })
            .write(&mut request);
            r.forwarded_syncs.push_back(s);
            r.forward(ForwardedRequest {
                session_id: session,
                cxid: xid,
                op: OpCode::Sync.code(),
                request: request.freeze(),
                auth_info: None,
            });
        }
        true
    }

    fn on_sync_reply(&mut self) {
        let Some(s) = self
            .replica_mut()
            .and_then(|r| r.forwarded_syncs.pop_front())
        else {
            return;
        };
        self.answer_sync(s);
    }

    fn answer_sync(&mut self, s: PendingSync) {
        let zxid = self.tree.last_zxid();
        let uptime_ms = self.now_ms();
        let Some(c) = self.conns.get_mut(&s.conn) else {
            return;
        };
        if matches!(c.queue.front(), Some(Queued::Sync)) {
            c.queue.pop_front();
        }
        let frame = reply_frame(
            s.xid,
            zxid,
            &Ok(ReplyBody::Body(ResponseBody::Sync(SyncResponse {
                path: s.path,
            }))),
        );
        c.last_zxid = zxid;
        let note = ReplyNote {
            op: last_op_name(OpCode::Sync),
            cxid: s.xid,
            received: s.received,
            frame_len: frame.len(),
        };
        self.stats.reply(&mut c.cstats, note, self.now, uptime_ms);
        c.send(Outbound::Reply(frame));
        self.drain_reads(s.conn);
    }

    /// Leader: a learner's forwarded request, prepped as if it had arrived here.
    fn on_forwarded(&mut self, from: zk_zab::PeerId, payload: Bytes) {
        if !self
            .replica
            .as_ref()
            .is_some_and(|r| r.is_serving() && r.is_leader())
        {
            return;
        }
        let req = match Packet::read(&mut payload.clone()).map(|p| LearnerMessage::decode(&p)) {
            Ok(Ok(LearnerMessage::Request(r))) => r,
            other => {
                warn!(%from, ?other, "undecodable forwarded request");
                return;
            }
        };
        let now = self.now_ms();
        let session = req.session_id;
        match req.op {
            CREATE_SESSION => {
                let timeout = req
                    .request
                    .get(..4)
                    .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                self.sessions.track(session, timeout, now);
                let zxid = self.next_zxid();
                let digest = unchanged_digest(&self.tree, &self.pending, self.cfg.prep);
                let mut txn = create_session_txn(
                    session,
                    timeout,
                    zxid,
                    crate::server::wall_millis(),
                    digest,
                );
                txn.header.cxid = req.cxid;
                self.submit(txn, Origin::Internal);
            }
            op if op == OpCode::Sync.code() => {
                // Writes the learner forwarded before this sync may still sit in this turn's
                // batch: the driver must have them proposed first, or it answers SYNC before
                // their COMMITs (Apache's `processSync` waits for `lastProposed`). An Apache
                // follower's CommitProcessor meets that early sync commit ahead of its older
                // write, answers it as a remote commit and leaves the sync queued, so the
                // session's later requests, and then every session's, never run again.
                self.flush_batch();
                if let Some(r) = self.replica_mut() {
                    let _ = r.quorum.sync_learner(from, payload);
                }
            }
            op => {
                self.sessions.touch_own(session, now);
                let zxid = self.next_zxid();
                let time = crate::server::wall_millis();
                let body = RequestBody::read(op, &mut req.request.clone());
                let txn = match body {
                    Ok(body) if body.opcode().is_write() => {
                        if body.opcode() == OpCode::CloseSession {
                            self.sessions.set_closing(session);
                        }
                        let mut ids = AuthIds::default();
                        for id in req.auth_info.unwrap_or_default() {
                            ids.add(id);
                        }
                        let live =
                            self.sessions.is_live(session) || body.opcode() == OpCode::CloseSession;
                        prep_write(
                            PrepInput {
                                tree: &self.tree,
                                pending: &mut self.pending,
                                zxid,
                                time,
                                session,
                                session_live: live,
                                cxid: req.cxid,
                                ids: &ids,
                                config: self.cfg.prep,
                            },
                            &body,
                        )
                    }
                    other => {
                        debug!(%from, op, ok = other.is_ok(), "forwarded request is not a write");
                        Txn {
                            header: TxnHeader {
                                client_id: session,
                                cxid: req.cxid,
                                zxid,
                                time,
                                txn_type: OpCode::Error.code(),
                            },
                            body: TxnBody::Error(ErrorTxn {
                                err: ErrorCode::MarshallingError.code(),
                            }),
                            digest: unchanged_digest(&self.tree, &self.pending, self.cfg.prep),
                        }
                    }
                };
                self.submit(txn, Origin::Internal);
            }
        }
    }

    /// Leader: a learner's PING names the sessions active on it (`long id, int timeout` each).
    fn on_learner_ping(&mut self, payload: &[u8]) {
        let now = self.now_ms();
        for touch in payload.chunks_exact(12) {
            let mut id = [0u8; 8];
            id.copy_from_slice(&touch[..8]);
            let mut to = [0u8; 4];
            to.copy_from_slice(&touch[8..]);
            self.sessions
                .touch(i64::from_be_bytes(id), i32::from_be_bytes(to), now);
        }
    }

    /// Learner: a resumed session is valid only if the leader says so (`Learner.validateSession`).
    pub(super) fn revalidate(&mut self, conn: ConnId, c: Conn, session: i64, read_only: bool) {
        let timeout = c.timeout;
        let Some(r) = self.replica_mut() else { return };
        let question = LearnerMessage::Revalidate {
            session_id: session,
            timeout,
        }
        .to_packet()
        .data
        .unwrap_or_default();
        if let Some(old) = r
            .revalidating
            .insert(session, Revalidating { conn, c, read_only })
        {
            let _ = old.c.out.send(Outbound::Close(None));
        }
        if r.quorum.revalidate(None, question).is_err() {
            warn!("quorum driver gone; revalidation dropped");
        }
    }

    fn on_revalidate(&mut self, from: zk_zab::PeerId, payload: Bytes) {
        let Some(r) = self.replica.as_deref() else {
            return;
        };
        if r.is_leader() {
            let msg = Packet::new(zk_proto::quorum::PacketType::Revalidate, -1).with_data(payload);
            let Ok(LearnerMessage::Revalidate {
                session_id,
                timeout,
            }) = LearnerMessage::decode(&msg)
            else {
                warn!(%from, "undecodable REVALIDATE");
                return;
            };
            let now = self.now_ms();
            let valid = self.sessions.touch(session_id, timeout, now);
            debug!(%from, session = format_args!("{session_id:#x}"), valid, "revalidated");
            let answer = LeaderMessage::Revalidate { session_id, valid }
                .to_packet()
                .data
                .unwrap_or_default();
            let _ = r.quorum.revalidate(Some(from), answer);
            return;
        }
        let msg = Packet::new(zk_proto::quorum::PacketType::Revalidate, -1).with_data(payload);
        let Ok(LeaderMessage::Revalidate { session_id, valid }) = LeaderMessage::decode(&msg)
        else {
            warn!(%from, "undecodable REVALIDATE answer");
            return;
        };
        let Some(Revalidating {
            conn,
            mut c,
            read_only,
        }) = self
            .replica_mut()
            .and_then(|r| r.revalidating.remove(&session_id))
        else {
            return;
        };
        if !valid {
            info!(
                session = format_args!("{session_id:#x}"),
                "invalid session, probably expired"
            );
            let frame = connect_frame(false, 0, 0, &[], read_only);
            let _ = c.out.send(Outbound::Close(Some(frame)));
            return;
        }
        let now = self.now_ms();
        let timeout = c.timeout;
        self.sessions.track(session_id, timeout, now);
        if let Some(r) = self.replica_mut() {
            r.quorum.touch(session_id, timeout);
        }
        if let Some(old) = self.session_conns.insert(session_id, conn) {
            if old != conn {
                if let Some(mut oc) = self.conns.remove(&old) {
                    oc.send(Outbound::Close(None));
                }
                self.watches.remove_conn(old);
            }
        }
        c.session = Some(session_id);
        let frame = connect_frame(
            true,
            timeout,
            session_id,
            &session_password(session_id),
            read_only,
        );
        self.stats.packets_sent += 1;
        c.send(Outbound::Connected(frame));
        self.conns.insert(conn, c);
        debug!(
            conn,
            session = format_args!("{session_id:#x}"),
            "session resumed (revalidated)"
        );
    }

    /// Learner: a new session is created by the leader; the handshake completes on its commit.
    pub(super) fn learner_new_session(
        &mut self,
        conn: ConnId,
        c: Conn,
        session: i64,
        read_only: bool,
    ) {
        let timeout = c.timeout;
        self.session_conns.insert(session, conn);
        self.conns.insert(conn, c);
        let Some(r) = self.replica_mut() else { return };
        r.quorum.touch(session, timeout);
        r.forwarded
            .entry(session)
            .or_default()
            .push_back(Forwarded {
                cxid: 0,
                origin: Origin::NewSession {
                    conn,
                    timeout,
                    read_only_flag: read_only,
                },
            });
        r.forward(ForwardedRequest {
            session_id: session,
            cxid: 0,
            op: CREATE_SESSION,
            request: Bytes::copy_from_slice(&timeout.to_be_bytes()),
            auth_info: None,
        });
    }

    /// Learner: a request on a session is activity the leader hears of at the next PING.
    pub(super) fn note_activity(&self, session: i64, timeout: i32) {
        if let Some(r) = &self.replica {
            if !r.is_leader() {
                r.quorum.touch(session, timeout);
            }
        }
    }

    /// A connection closed: forget a revalidation it was waiting for.
    pub(super) fn forget_revalidation(&mut self, conn: ConnId) {
        if let Some(r) = self.replica_mut() {
            r.revalidating.retain(|_, v| v.conn != conn);
        }
    }
}
