//! The core: one task that owns the tree, the sessions, the watches and the pending changes,
//! and moves every request along the flow in the crate doc.
//!
//! Connections send [`CoreMsg`]s in; the core answers through each connection's
//! [`Outbound`] channel. Writes are prepped into txns (`dispatch.rs`), handed to the log thread
//! in batches, and committed when the log thread reports them durable (`commit.rs`): apply,
//! fire watches, reply, then serve the reads that were waiting behind them. Reads of a session
//! with no write in flight are served at once (`read.rs`). Sessions (`sessions.rs`) are
//! created, closed and expired through txns.

mod commit;
mod dispatch;
mod four_letter;
mod read;
mod reaper;
mod replica;
pub(crate) mod reply;
mod sessions;
mod stats;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};
use zk_proto::{ConnectRequest, ErrorCode, RequestBody};

use crate::acl::AuthIds;
use crate::hash::FastMap;
use crate::persist::{LogCmd, LogEvent};
use crate::prep::{PendingChanges, PrepConfig};
use crate::quorum::QuorumEvent;
use crate::session::SessionTracker;
use crate::tree::DataTree;
use crate::txn::{Txn, Zxid};
use crate::watch::{ConnId, WatchManager};

/// Quorum events handled per loop turn before replies are flushed.
const QUORUM_EVENT_BATCH: usize = 256;
/// How long a graceful shutdown waits for an ensemble to commit the writes in flight.
const QUORUM_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) use replica::Replica;
pub(crate) use stats::{clock_us, java_double, ConnStats, ReplyNote, ServerStats};

/// What the core sends to a connection task.
#[derive(Debug)]
pub enum Outbound {
    /// The handshake succeeded: write this frame and start reading requests.
    Connected(Bytes),
    /// A reply to one request.
    Reply(Bytes),
    /// A watch notification.
    Event(Bytes),
    /// Write the frame, if any, then close the connection.
    Close(Option<Bytes>),
}

/// The sending half a connection gives the core.
pub type OutTx = mpsc::UnboundedSender<Outbound>;

/// What connection tasks send to the core.
#[derive(Debug)]
pub enum CoreMsg {
    /// A handshake.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The peer address.
        peer: Option<SocketAddr>,
        /// The decoded request.
        req: ConnectRequest,
        /// Where to answer.
        out: OutTx,
    },
    /// A request after the handshake.
    Request {
        /// The connection.
        conn: ConnId,
        /// The request xid.
        xid: i32,
        /// When the connection read it off the socket (latency is measured from here).
        received: stats::Micros,
        /// The decoded body, or the error to answer a body that could not be decoded with
        /// (MARSHALLINGERROR, served in order like a read; the connection stays open).
        body: Result<RequestBody, ErrorCode>,
    },
    /// The connection is gone.
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// A four-letter word.
    FourLetter {
        /// The command.
        cmd: String,
        /// Where to send the output.
        reply: oneshot::Sender<String>,
    },
}

/// Settings the core uses.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Milliseconds per tick.
    pub tick_ms: u64,
    /// Session timeout bounds (ms).
    pub min_session_timeout: i32,
    /// Session timeout bounds (ms).
    pub max_session_timeout: i32,
    /// Txns between snapshots.
    pub snap_count: u64,
    /// Super digest.
    pub super_digest: Option<String>,
    /// Prep settings.
    pub prep: PrepConfig,
    /// Container/TTL reaper interval.
    pub container_check_ms: u64,
    /// Container/TTL deletions per minute at most.
    pub container_max_per_minute: u32,
    /// Containers that never had a child are reaped after this many ms (0 = never).
    pub container_max_never_used_ms: u64,
    /// Lines of `conf` output.
    pub conf_lines: Vec<(String, String)>,
}

/// The zxid a learner's forwarded write waits under: the leader assigns the real one.
const FORWARDED: Zxid = 0;

#[derive(Debug)]
enum Queued {
    /// A write in flight: its zxid, or [`FORWARDED`].
    Write(Zxid),
    /// A `sync` waiting for the commit point (ensemble only); later reads wait behind it.
    Sync,
    Read {
        xid: i32,
        received: stats::Micros,
        body: Result<RequestBody, ErrorCode>,
    },
}

#[derive(Debug)]
struct Conn {
    out: OutTx,
    peer: Option<SocketAddr>,
    session: Option<i64>,
    ids: AuthIds,
    queue: VecDeque<Queued>,
    received: u64,
    sent: u64,
    cstats: ConnStats,
    timeout: i32,
    last_zxid: Zxid,
}

impl Conn {
    fn send(&mut self, o: Outbound) {
        if matches!(
            o,
            Outbound::Reply(_) | Outbound::Event(_) | Outbound::Connected(_)
        ) {
            self.sent += 1;
        }
        let _ = self.out.send(o);
    }
}

#[derive(Debug)]
enum Origin {
    Request {
        conn: ConnId,
        xid: i32,
        opcode: zk_proto::OpCode,
        received: stats::Micros,
    },
    NewSession {
        conn: ConnId,
        timeout: i32,
        read_only_flag: bool,
    },
    Internal,
}

#[derive(Debug)]
struct InFlight {
    zxid: Zxid,
    txn: Arc<Txn>,
    origin: Origin,
}

/// The state the core task owns.
pub struct Core {
    cfg: Arc<CoreConfig>,
    tree: DataTree,
    pending: PendingChanges,
    sessions: SessionTracker,
    watches: WatchManager,
    conns: FastMap<ConnId, Conn>,
    session_conns: FastMap<i64, ConnId>,
    last_assigned: Zxid,
    inflight: VecDeque<InFlight>,
    batch: Vec<Arc<Txn>>,
    log: std::sync::mpsc::Sender<LogCmd>,
    clock: tokio::time::Instant,
    txns_since_snapshot: u64,
    snapshot_at: u64,
    rng: u64,
    stats: ServerStats,
    log_failed: bool,
    /// When the current loop turn started: the reply time of everything it answers.
    now: stats::Micros,
    /// Milliseconds on `clock` (tokio's, so paused test time drives sessions) at the start
    /// of the current loop turn.
    now_ms: u64,
    reap: reaper::ReapQueue,
    /// Ensemble membership; `None` for a standalone server.
    replica: Option<Box<Replica>>,
}

impl Core {
    /// A core over a recovered tree.
    pub(crate) fn new(
        cfg: Arc<CoreConfig>,
        tree: DataTree,
        log: std::sync::mpsc::Sender<LogCmd>,
        first_session_id: i64,
    ) -> Self {
        let clock = tokio::time::Instant::now();
        let mut sessions = SessionTracker::new(cfg.tick_ms, first_session_id);
        let mut restored: Vec<_> = tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
        restored.sort_unstable();
        for (id, timeout) in restored {
            sessions.track(id, timeout, 0);
        }
        let rng = (crate::server::wall_millis() as u64) | 1;
        let cfg_max_per_minute = cfg.container_max_per_minute;
        let mut core = Core {
            last_assigned: tree.last_zxid(),
            cfg,
            tree,
            pending: PendingChanges::default(),
            sessions,
            watches: WatchManager::new(),
            conns: FastMap::default(),
            session_conns: FastMap::default(),
            inflight: VecDeque::new(),
            batch: Vec::new(),
            log,
            clock,
            txns_since_snapshot: 0,
            snapshot_at: 0,
            rng,
            stats: ServerStats::default(),
            log_failed: false,
            now: stats::clock_us(),
            now_ms: 0,
            reap: reaper::ReapQueue::new(cfg_max_per_minute),
            replica: None,
        };
        core.snapshot_at = core.roll_snapshot_threshold();
        core
    }

    /// Milliseconds since the core started, at the start of the current loop turn.
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Reads the clocks once per loop turn: everything the turn answers shares the time.
    fn turn_clock(&mut self) {
        self.now = stats::clock_us();
        self.now_ms = self.clock.elapsed().as_millis() as u64;
    }

    fn next_zxid(&mut self) -> Zxid {
        self.last_assigned += 1;
        self.last_assigned
    }

    /// `SyncRequestProcessor`: snapshot after snapCount/2 + random(snapCount/2) txns.
    fn roll_snapshot_threshold(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = (self.cfg.snap_count / 2).max(1);
        half + self.rng % half
    }

    /// Queues a prepped txn for the log.
    fn submit(&mut self, txn: Txn, origin: Origin) {
        // One allocation shared with the log thread instead of a deep copy of the txn.
        let txn = Arc::new(txn);
        self.inflight.push_back(InFlight {
            zxid: txn.zxid(),
            txn: Arc::clone(&txn),
            origin,
        });
        self.batch.push(txn);
    }

    fn flush_batch(&mut self) {
        if let Some(r) = &self.replica {
            for txn in self.batch.drain(..) {
                r.propose(&txn);
            }
            return;
        }
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            if self.log.send(LogCmd::Append(batch)).is_err() {
                self.log_failed = true;
            }
        }
    }

    /// Runs until `shutdown` fires (then finishes the writes in flight) or every connection
    /// sender is gone.
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::Receiver<CoreMsg>,
        mut log_events: mpsc::UnboundedReceiver<LogEvent>,
        mut quorum_events: Option<mpsc::UnboundedReceiver<QuorumEvent>>,
        mut shutdown: broadcast::Receiver<()>,
    ) {
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.tick_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reaper =
            tokio::time::interval(Duration::from_millis(self.cfg.container_check_ms.max(1)));
        reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut msgs = Vec::with_capacity(256);
        let mut draining = false;
        // The shutdown broadcast, forwarded into a oneshot: polling a broadcast receiver takes
        // its lock on every loop turn, a oneshot is one atomic load.
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = shutdown.recv().await;
            let _ = stop_tx.send(());
        });
        loop {
            tokio::select! {
                biased;
                ev = log_events.recv() => match ev {
                    Some(LogEvent::Durable(z)) => {
                        self.turn_clock();
                        self.commit_through(z);
                    }
                    Some(LogEvent::Failed(e)) => {
                        tracing::error!(error = %e, "storage failed; closing all connections");
                        self.log_failed = true;
                        self.close_all();
                        break;
                    }
                    None => break,
                },
                ev = recv_opt(&mut quorum_events) => match ev {
                    Some(ev) => {
                        self.turn_clock();
                        self.on_quorum_event(ev);
                        for _ in 0..QUORUM_EVENT_BATCH {
                            match quorum_events.as_mut().map(|q| q.try_recv()) {
                                Some(Ok(ev)) => self.on_quorum_event(ev),
                                _ => break,
                            }
                        }
                        self.after_quorum_events();
                    }
                    None => {
                        tracing::error!("quorum peer stopped; closing all connections");
                        self.close_all();
                        break;
                    }
                },
                _ = sleep_until_opt(drain_deadline), if draining => {
                    tracing::warn!(in_flight = self.inflight.len(), "ensemble did not commit the writes in flight; stopping");
                    break;
                }
                n = rx.recv_many(&mut msgs, 256), if !draining => {
                    if n == 0 {
                        draining = true;
                    }
                    self.turn_clock();
                    for m in msgs.drain(..) {
                        self.handle(m);
                    }
                }
                _ = tick.tick(), if !draining => {
                    self.turn_clock();
                    if self.expires_sessions() {
                        self.expire_sessions();
                    }
                    self.read_only_tick();
                }
                _ = reaper.tick(), if !draining => {
                    self.turn_clock();
                    // Containers and TTLs are reaped by deletes the leader proposes; a learner
                    // would propose into a zxid sequence it does not own.
                    if self.expires_sessions() {
                        self.check_containers();
                    }
                }
                _ = sleep_until_ms(self.clock, self.reap.due_at()), if !draining && self.expires_sessions() => {
                    self.turn_clock();
                    self.reap_due();
                }
                _ = &mut stop, if !draining => draining = true,
            }
            if draining && self.replica.is_some() && drain_deadline.is_none() {
                drain_deadline = Some(tokio::time::Instant::now() + QUORUM_DRAIN_TIMEOUT);
            }
            self.flush_batch();
            if draining && self.inflight.is_empty() {
                break;
            }
        }
        self.close_all();
    }

    fn close_all(&mut self) {
        for c in self.conns.values_mut() {
            c.send(Outbound::Close(None));
        }
    }

    fn handle(&mut self, m: CoreMsg) {
        match m {
            CoreMsg::Connect {
                conn,
                peer,
                req,
                out,
            } => self.connect(conn, peer, req, out),
            CoreMsg::Request {
                conn,
                xid,
                received,
                body,
            } => self.request(conn, xid, received, body),
            CoreMsg::Closed { conn } => self.conn_closed(conn),
            CoreMsg::FourLetter { cmd, reply } => {
                let _ = reply.send(self.four_letter(&cmd));
            }
        }
    }

    fn conn_closed(&mut self, conn: ConnId) {
        self.forget_revalidation(conn);
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = c.session {
                if self.session_conns.get(&s) == Some(&conn) {
                    self.session_conns.remove(&s);
                }
            }
        }
        self.watches.remove_conn(conn);
    }
}

/// Receives from an optional channel; pends forever without one (a standalone server).
async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`; never completes for `None`.
async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at_ms` on the core's clock; never completes for `None`.
async fn sleep_until_ms(clock: tokio::time::Instant, at_ms: Option<u64>) {
    match at_ms {
        Some(ms) => tokio::time::sleep_until(clock + Duration::from_millis(ms)).await,
        None => std::future::pending().await,
    }
}
