//! The driver: one task owning the [`Zab`] core. It feeds the core network reports and ticks, executes
//! its actions (sends, txn log appends with group commit, truncation, snapshots, epoch files) and
//! surfaces what the server core consumes: committed txns in order, role changes, forwarded requests.
//!
//! ## Outward API (for the server core)
//! - [`start`] binds both ports, restores the data dir and returns a [`QuorumHandle`].
//! - [`QuorumHandle::propose`] / [`QuorumHandle::propose_with`] (leader in BROADCAST): the payload is an
//!   encoded `TxnEntry` (header, record, digest); the driver stamps the assigned zxid into the header.
//!   `propose_with` hands the builder the zxid first, for payloads that depend on it (the digest).
//! - [`QuorumHandle::take_events`]: one ordered stream of [`QuorumEvent`]s — `Committed` txns in zxid
//!   order, `Snapshot` (state replaced by a SNAP), `ForwardedRequest` (leader: prepare it and propose),
//!   `SyncReply` (learner: FIFO answer to a forwarded sync), `LearnerPing`, `Revalidate`. Commits and
//!   sync replies share the stream, so a sync reply never overtakes a commit it depends on.
//! - [`QuorumHandle::role`]: a watch of [`RoleInfo`] (role, phase, epoch, leader, last/committed zxid);
//!   `phase == Broadcast` means the peer may serve clients.
//! - [`QuorumHandle::forward`] (learner: REQUEST to the leader), [`QuorumHandle::sync_learner`]
//!   (leader: answer a forwarded sync), [`QuorumHandle::snapshot_taken`].
//! - [`QuorumHandle::shutdown`] stops cleanly; [`QuorumHandle::kill`] aborts like a crash (only what
//!   was fsynced survives).
//!
//! After a restart the core starts with `applied` = the snapshot's zxid
//! ([`QuorumHandle::restored_snapshot`]): the server core loads that snapshot and applies the
//! `Committed` txns the stream re-delivers.
//!
//! ## Loop
//! Each input (a network report, a command, a tick) is stepped into the core and its actions are
//! executed at once, in order; log writes are buffered. When no input is immediately ready (or after a
//! batch of [`MAX_BATCH`]), the log is fsynced once and the core told `persisted(last)`: group commit.
//! Epoch files are written and fsynced as soon as asked, then `epoch_persisted`.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, info_span, warn, Instrument};
use zk_zab::{Action, Message, PeerId, Role, Zab, ZabError, ZabPhase, Zxid};

use super::disk::Disk;
use super::election_net::ElectionNet;
use super::event::{Generation, NetEvent};
use super::handle::{
    Builder, Command, NoSnapshots, QuorumError, QuorumEvent, QuorumHandle, RoleInfo,
    SnapshotSource, TouchTable,
};
use super::peer_net::PeerNet;
use super::wire::{self, Side, WireContext};
use super::QuorumConfig;

/// Inputs handled before the log is synced (group commit bound).
pub const MAX_BATCH: usize = 256;
/// How long [`start`] keeps retrying to bind a port still held by a previous incarnation.
pub const BIND_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts a quorum peer with no [`SnapshotSource`].
pub async fn start(cfg: QuorumConfig) -> Result<QuorumHandle, QuorumError> {
    start_with(cfg, Box::new(NoSnapshots)).await
}

/// Starts a quorum peer: restores the data dir, binds the election and quorum ports, spawns the driver.
pub async fn start_with(
    cfg: QuorumConfig,
    snapshots: Box<dyn SnapshotSource>,
) -> Result<QuorumHandle, QuorumError> {
    cfg.validate()
        .map_err(|e| QuorumError::Config(e.to_string()))?;
    let cfg = Arc::new(cfg);
    let (disk, restored) = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || Disk::open(&cfg))
            .await
            .map_err(|_| QuorumError::Stopped)??
    };
    let seed = cfg.my_id.0
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let zab = Zab::new(cfg.zab_config(), restored.state.clone(), seed)
        .map_err(|e| QuorumError::Config(e.to_string()))?;
    let cancel = CancellationToken::new();
    let (net_tx, net_rx) = mpsc::unbounded_channel();
    let election = retry_bind(|| ElectionNet::start(&cfg, net_tx.clone(), cancel.clone())).await?;
    let peers = retry_bind(|| PeerNet::start(cfg.clone(), net_tx.clone(), cancel.clone())).await?;
    drop(net_tx);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (role_tx, role_rx) = watch::channel(RoleInfo::of(&zab));
    let touches = TouchTable::default();
    let driver = Driver {
        touches: touches.clone(),
        delivered: restored.state.applied,
        prev_role: zab.role(),
        zab,
        ctx: WireContext {
            my_id: cfg.my_id,
            config_text: Bytes::from(cfg.config_text()),
            ping_zxid: Zxid::ZERO,
        },
        cfg: cfg.clone(),
        disk,
        election,
        peers,
        out: ev_tx,
        role_tx,
        pending_hellos: Vec::new(),
        leader_ping_zxid: Zxid::ZERO,
        snapshots,
    };
    let task = tokio::spawn(
        driver
            .run(net_rx, cmd_rx, cancel.clone())
            .instrument(info_span!("quorum", peer = %cfg.my_id)),
    );
    Ok(QuorumHandle {
        id: cfg.my_id,
        cmds: cmd_tx,
        touches,
        role: role_rx,
        events: Some(ev_rx),
        snapshot: restored.snapshot,
        cancel,
        task,
    })
}

async fn retry_bind<T, F, Fut>(mut f: F) -> std::io::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match f().await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            r => return r,
        }
    }
}

/// Writes `zxid` into an encoded `TxnEntry`'s header (`long clientId, int cxid, long zxid, …`).
pub fn stamp_zxid(payload: Bytes, zxid: Zxid) -> Bytes {
    const AT: usize = 12;
    if payload.len() < AT + 8 || payload[AT..AT + 8] == zxid.0.to_be_bytes() {
        return payload;
    }
    let mut b = BytesMut::from(&payload[..]);
    b[AT..AT + 8].copy_from_slice(&zxid.0.to_be_bytes());
    b.freeze()
}

struct Driver {
    zab: Zab,
    cfg: Arc<QuorumConfig>,
    disk: Disk,
    election: ElectionNet,
    peers: PeerNet,
    out: mpsc::UnboundedSender<QuorumEvent>,
    role_tx: watch::Sender<RoleInfo>,
    /// The last zxid handed out as `Committed` (or snapshot).
    delivered: Zxid,
    prev_role: Role,
    /// Learner hellos that arrived while LOOKING; replayed if this peer becomes the leader.
    pending_hellos: Vec<(PeerId, Generation, Message)>,
    /// The zxid of the leader's last PING (echoed in ours).
    leader_ping_zxid: Zxid,
    ctx: WireContext,
    snapshots: Box<dyn SnapshotSource>,
    /// Learner: sessions the server core saw activity on, sent with the next PING reply.
    touches: TouchTable,
}

impl Driver {
    async fn run(
        mut self,
        mut net: mpsc::UnboundedReceiver<NetEvent>,
        mut cmds: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) -> Result<(), QuorumError> {
        let mut ticker = tokio::time::interval(self.cfg.tick_period());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        info!(tick = ?self.cfg.tick_period(), "quorum peer started");
        let result = async {
            self.flush()?;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    ev = net.recv() => match ev {
                        Some(ev) => self.on_net(ev),
                        None => return Ok(()),
                    },
                    cmd = cmds.recv() => match cmd {
                        Some(cmd) => self.on_cmd(cmd),
                        None => return Ok(()),
                    },
                    _ = ticker.tick() => self.zab.tick(),
                }
                self.drain()?;
                for _ in 0..MAX_BATCH {
                    let mut any = false;
                    if let Ok(ev) = net.try_recv() {
                        self.on_net(ev);
                        self.drain()?;
                        any = true;
                    }
                    if let Ok(cmd) = cmds.try_recv() {
                        self.on_cmd(cmd);
                        self.drain()?;
                        any = true;
                    }
                    if !any {
                        break;
                    }
                }
                self.flush()?;
            }
        }
        .await;
        cancel.cancel();
        if let Err(e) = &result {
            warn!(%e, "quorum peer stopped");
        }
        result
    }

    fn on_net(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Notification { from, n } => self.zab.step(from, Message::Notification(n)),
            NetEvent::Accepted {
                peer,
                gen,
                conn,
                hello,
            } => match self.zab.role() {
                Role::Leading => {
                    if self.peers.conn(peer).is_some() {
                        self.zab.disconnected(peer);
                    }
                    self.peers.install(peer, conn);
                    self.zab.step(peer, hello);
                }
                Role::Looking => {
                    self.peers.install(peer, conn);
                    self.pending_hellos.retain(|(p, _, _)| *p != peer);
                    self.pending_hellos.push((peer, gen, hello));
                }
                _ => conn.close(),
            },
            NetEvent::Quorum {
                peer,
                gen,
                msg,
                ping_zxid,
            } => {
                if self.peers.is_current(peer, gen) {
                    if let Some(z) = ping_zxid {
                        self.leader_ping_zxid = z;
                    }
                    self.zab.step(peer, msg);
                }
            }
            NetEvent::Closed { peer, gen } => {
                if self.peers.close(peer, Some(gen)) {
                    debug!(%peer, gen, "quorum connection closed");
                    self.pending_hellos.retain(|(p, _, _)| *p != peer);
                    self.zab.disconnected(peer);
                }
            }
        }
    }

    fn on_cmd(&mut self, cmd: Command) {
        match cmd {
            Command::Propose { build, reply } => {
                let _ = reply.send(self.propose(build));
            }
            Command::Forward { payload, reply } => {
                let _ = reply.send(self.zab.forward(payload));
            }
            Command::SyncLearner { to, payload, reply } => {
                let _ = reply.send(self.zab.sync_learner(to, payload));
            }
            Command::SnapshotTaken(z) => self.zab.snapshot_taken(z),
            Command::ProposeAt { zxid, payload } => {
                let result = self.propose(Box::new(move |_| payload)).and_then(|got| {
                    if got == zxid {
                        Ok(())
                    } else {
                        warn!(expected = %zxid, %got, "server core predicted the wrong zxid");
                        Err(ZabError::NotLeader { leader: None })
                    }
                });
                if let Err(error) = result {
                    let _ = self.out.send(QuorumEvent::Rejected {
                        zxid: Some(zxid),
                        error,
                    });
                }
            }
            Command::ForwardQuiet(payload) => {
                if let Err(error) = self.zab.forward(payload) {
                    let _ = self.out.send(QuorumEvent::Rejected { zxid: None, error });
                }
            }
            Command::SyncLearnerQuiet { to, payload } => {
                if let Err(e) = self.zab.sync_learner(to, payload) {
                    debug!(%to, %e, "forwarded sync not answered");
                }
            }
            Command::RollLog => {
                if let Err(e) = self.disk.roll() {
                    warn!(%e, "cannot roll the txn log");
                }
            }
            Command::ReportRole => {
                let _ = self.out.send(QuorumEvent::Role(RoleInfo::of(&self.zab)));
            }
            Command::Revalidate { to, payload } => {
                match to.or_else(|| self.zab.leader().filter(|l| *l != self.cfg.my_id)) {
                    Some(to) => self.send(to, Message::Revalidate { payload }),
                    None => debug!("no leader to revalidate with"),
                }
            }
        }
    }

    /// The learner's PING reply payload: the sessions touched since the last one
    /// (`Learner.ping`: `long sessionId, int timeout` each).
    fn touch_payload(&self) -> Bytes {
        let table = match self.touches.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return Bytes::new(),
        };
        let mut b = BytesMut::with_capacity(table.len() * 12);
        for (session, timeout) in table {
            b.extend_from_slice(&session.to_be_bytes());
            b.extend_from_slice(&timeout.to_be_bytes());
        }
        b.freeze()
    }

    fn propose(&mut self, build: Builder) -> Result<Zxid, ZabError> {
        let (Role::Leading, ZabPhase::Broadcast, Some(epoch)) =
            (self.zab.role(), self.zab.phase(), self.zab.epoch())
        else {
            return Err(ZabError::NotLeader {
                leader: self.zab.leader().filter(|l| *l != self.cfg.my_id),
            });
        };
        // The leader's next zxid: counters restart at 1 in a new epoch (NEWLEADER is counter 0).
        let next = Zxid(self.zab.last_zxid().max(Zxid::new(epoch, 0)).0 + 1);
        let payload = stamp_zxid(build(next), next);
        let zxid = self.zab.propose(payload)?;
        debug_assert_eq!(zxid, next, "zxid prediction");
        Ok(zxid)
    }

    /// Executes the core's actions until it has none (no fsync).
    fn drain(&mut self) -> Result<(), QuorumError> {
        loop {
            let actions = self.zab.drain_actions();
            if actions.is_empty() {
                return Ok(());
            }
            for a in actions {
                self.execute(a)?;
            }
        }
    }

    /// Group commit: drain, fsync what the actions logged, report it, repeat until quiet.
    fn flush(&mut self) -> Result<(), QuorumError> {
        loop {
            self.drain()?;
            match self.disk.sync()? {
                Some(z) => self.zab.persisted(z),
                None => break,
            }
        }
        let out = &self.out;
        self.role_tx.send_if_modified(|r| {
            let now = RoleInfo::of(&self.zab);
            if (r.role, r.phase, r.epoch, r.leader) != (now.role, now.phase, now.epoch, now.leader)
            {
                // On the event stream too, after the commits it depends on.
                let _ = out.send(QuorumEvent::Role(now));
            }
            let changed = *r != now;
            *r = now;
            changed
        });
        Ok(())
    }

    fn execute(&mut self, action: Action) -> Result<(), QuorumError> {
        match action {
            Action::Send { to, msg } => self.send(to, msg),
            Action::SendSnapshot { to, zxid } => {
                match self.snapshots.snapshot(zxid, self.zab.history()) {
                    Some(data) => self.send(to, Message::Snap { zxid, data }),
                    None => {
                        warn!(%to, %zxid, "no snapshot to send; closing the learner's connection");
                        self.peers.close(to, None);
                        self.zab.disconnected(to);
                    }
                }
            }
            Action::AppendTxns(txns) => self.disk.append(&txns)?,
            Action::Truncate(z) => self.disk.truncate(z)?,
            Action::ApplySnapshot { zxid, data } => {
                self.disk.install_snapshot(zxid, &data)?;
                self.delivered = zxid;
                let _ = self.out.send(QuorumEvent::Snapshot { zxid, data });
            }
            Action::PersistEpoch { accepted, current } => {
                self.disk.persist_epochs(accepted, current)?;
                self.zab.epoch_persisted(accepted, current);
            }
            Action::Commit { upto } => {
                for t in self.zab.history().range(self.delivered, upto) {
                    let _ = self.out.send(QuorumEvent::Committed(t.clone()));
                }
                self.delivered = self.delivered.max(upto);
            }
            Action::RoleChanged { role, phase } => self.on_role(role, phase),
            Action::ForwardedRequest { from, payload } => {
                let _ = self
                    .out
                    .send(QuorumEvent::ForwardedRequest { from, payload });
            }
            Action::SyncReply { .. } => {
                let _ = self.out.send(QuorumEvent::SyncReply);
            }
            Action::LearnerPing { from, payload } => {
                let _ = self.out.send(QuorumEvent::LearnerPing { from, payload });
            }
            Action::Revalidate { from, payload } => {
                let _ = self.out.send(QuorumEvent::Revalidate { from, payload });
            }
        }
        Ok(())
    }

    fn on_role(&mut self, role: Role, phase: ZabPhase) {
        info!(?role, ?phase, epoch = ?self.zab.epoch(), zxid = %self.zab.last_zxid(), "role");
        let prev = std::mem::replace(&mut self.prev_role, role);
        if prev == role {
            return;
        }
        match role {
            Role::Looking => {
                self.peers.close_all();
                self.pending_hellos.clear();
            }
            Role::Leading => {
                // Keep only the learners that said hello while we were LOOKING, and let the core
                // take their hellos now.
                let hellos = std::mem::take(&mut self.pending_hellos);
                let keep: Vec<PeerId> = hellos.iter().map(|(p, _, _)| *p).collect();
                let stale: Vec<PeerId> = self
                    .cfg
                    .peers
                    .keys()
                    .copied()
                    .filter(|p| !keep.contains(p))
                    .collect();
                for p in stale {
                    self.peers.close(p, None);
                }
                for (peer, gen, hello) in hellos {
                    if self.peers.is_current(peer, gen) {
                        self.zab.step(peer, hello);
                    }
                }
            }
            Role::Following { leader } | Role::Observing { leader } => {
                self.peers.close_others(Some(leader));
                self.pending_hellos.clear();
            }
        }
    }

    fn send(&mut self, to: PeerId, msg: Message) {
        match msg {
            Message::Notification(n) => self.election.send(to, &n),
            Message::FollowerInfo { .. } | Message::ObserverInfo { .. } => {
                self.leader_ping_zxid = Zxid::ZERO;
                if let Some(conn) = self.peers.connect_learner(to) {
                    match wire::encode(&msg, Side::Learner, &self.ctx) {
                        Ok(out) => conn.send(out),
                        Err(e) => warn!(%e, "cannot encode hello"),
                    }
                }
            }
            msg => {
                let msg = match msg {
                    Message::Ping { payload }
                        if payload.is_empty() && self.zab.leader() == Some(to) =>
                    {
                        Message::Ping {
                            payload: self.touch_payload(),
                        }
                    }
                    m => m,
                };
                let Some(conn) = self.peers.conn(to) else {
                    debug!(%to, kind = msg.kind(), "no connection; dropped");
                    return;
                };
                let side = conn.side();
                self.ctx.ping_zxid = match side {
                    Side::Leader => {
                        let epoch_start = self.zab.epoch().map_or(Zxid::ZERO, |e| Zxid::new(e, 0));
                        self.zab.last_zxid().max(epoch_start)
                    }
                    Side::Learner => self.leader_ping_zxid,
                };
                match wire::encode(&msg, side, &self.ctx) {
                    Ok(out) => conn.send(out),
                    Err(e) => warn!(%e, %to, "not sent"),
                }
            }
        }
    }
}
