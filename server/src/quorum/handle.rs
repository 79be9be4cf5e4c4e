//! [`QuorumHandle`]: what the server core holds of a running quorum peer, and the types it sees —
//! [`RoleInfo`], [`QuorumEvent`], [`SnapshotSource`] and the errors. The driver (`driver.rs`) owns the
//! other end of every channel here.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zk_storage::StorageError;
use zk_zab::{Epoch, PeerId, Role, Txn, Zab, ZabError, ZabPhase, Zxid};

/// Why the driver could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    /// A socket failed.
    #[error("quorum network: {0}")]
    Io(#[from] std::io::Error),
    /// The data dir failed (the peer stops, as Apache does on a log failure).
    #[error("quorum storage: {0}")]
    Storage(#[from] StorageError),
    /// The configuration is invalid.
    #[error("quorum config: {0}")]
    Config(String),
    /// The driver task is gone.
    #[error("quorum driver stopped")]
    Stopped,
}

/// Why a proposal (or forward) was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// The core refused it (not the leader, not serving).
    #[error(transparent)]
    Zab(#[from] ZabError),
    /// The driver task is gone.
    #[error("quorum driver stopped")]
    Stopped,
}

/// The peer's role as the server core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleInfo {
    /// Role.
    pub role: Role,
    /// ZAB phase; `Broadcast` means serving.
    pub phase: ZabPhase,
    /// The epoch of the current leader, once known.
    pub epoch: Option<Epoch>,
    /// The leader (itself when leading).
    pub leader: Option<PeerId>,
    /// Last logged zxid.
    pub last_zxid: Zxid,
    /// Commit point.
    pub committed: Zxid,
    /// Leader only: its learners.
    pub learners: Option<zk_zab::LearnerCounts>,
}

impl RoleInfo {
    pub(super) fn of(zab: &Zab) -> RoleInfo {
        RoleInfo {
            role: zab.role(),
            phase: zab.phase(),
            epoch: zab.epoch(),
            leader: zab.leader(),
            last_zxid: zab.last_zxid(),
            committed: zab.committed_zxid(),
            learners: zab.learner_counts(),
        }
    }

    /// Whether this peer leads an established epoch.
    pub fn is_serving_leader(&self) -> bool {
        self.role == Role::Leading && self.phase == ZabPhase::Broadcast
    }
}

/// What the driver hands to the server core, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumEvent {
    /// A committed txn (encoded `TxnEntry`); apply it. Strictly increasing zxids.
    Committed(Txn),
    /// The state was replaced by the leader's snapshot at `zxid` (Apache SNAP stream bytes; see
    /// `quorum::snapshot::stream_to_data`). Committed txns after it follow.
    Snapshot {
        /// The snapshot's zxid.
        zxid: Zxid,
        /// The snapshot stream.
        data: Bytes,
    },
    /// Leader: a learner forwarded a client request (the whole REQUEST `QuorumPacket`, jute-encoded).
    ForwardedRequest {
        /// The learner.
        from: PeerId,
        /// The packet.
        payload: Bytes,
    },
    /// Learner: the leader answered the oldest pending forwarded `sync`.
    SyncReply,
    /// Leader: a learner's PING with its session touches (raw PING data).
    LearnerPing {
        /// The learner.
        from: PeerId,
        /// Session touches.
        payload: Bytes,
    },
    /// A REVALIDATE (learner: the leader's answer; leader: a learner's question), raw packet data.
    Revalidate {
        /// The sender.
        from: PeerId,
        /// The data.
        payload: Bytes,
    },
    /// The role, phase or leadership term changed (or was asked for with
    /// [`QuorumSender::report_role`]). It follows every commit made before the change, so a core
    /// that sees `Broadcast` here has applied the whole history the peer started serving with.
    Role(RoleInfo),
    /// A [`QuorumSender::propose_at`] or [`QuorumSender::forward`] was refused (leadership lost,
    /// not serving, or the zxid was not the next one): the server core must drop what it has in
    /// flight, since nothing it sends afterwards can be ordered after the refused request.
    Rejected {
        /// The zxid of a refused proposal (`None` for a refused forward).
        zxid: Option<Zxid>,
        /// Why.
        error: ZabError,
    },
}

/// Provides the leader's state as a SNAP stream (the server core owns the tree).
pub trait SnapshotSource: Send + 'static {
    /// The state machine as of exactly `zxid`, as Apache's snapshot stream; `None` if unavailable (the
    /// learner's connection is then closed and it retries). `history` is the core's in-memory log
    /// (committed txns up to `zxid` after its base), for sources that replay onto an older snapshot.
    fn snapshot(&mut self, zxid: Zxid, history: &zk_zab::History) -> Option<Bytes>;
}

/// A [`SnapshotSource`] that has none: learners too far behind for a DIFF cannot sync until the server
/// core provides a real source (next integration step).
#[derive(Debug, Default)]
pub struct NoSnapshots;

impl SnapshotSource for NoSnapshots {
    fn snapshot(&mut self, _zxid: Zxid, _history: &zk_zab::History) -> Option<Bytes> {
        None
    }
}

pub(super) type Builder = Box<dyn FnOnce(Zxid) -> Bytes + Send>;

pub(super) enum Command {
    Propose {
        build: Builder,
        reply: oneshot::Sender<Result<Zxid, ZabError>>,
    },
    Forward {
        payload: Bytes,
        reply: oneshot::Sender<Result<(), ZabError>>,
    },
    SyncLearner {
        to: PeerId,
        payload: Bytes,
        reply: oneshot::Sender<Result<(), ZabError>>,
    },
    SnapshotTaken(Zxid),
    ProposeAt {
        zxid: Zxid,
        payload: Bytes,
    },
    ForwardQuiet(Bytes),
    SyncLearnerQuiet {
        to: PeerId,
        payload: Bytes,
    },
    Revalidate {
        to: Option<PeerId>,
        payload: Bytes,
    },
    ReportRole,
    RollLog,
}

/// Sessions a learner saw activity on since its last PING reply, with their timeouts
/// (`LearnerSessionTracker.touchTable`); drained into the reply to each leader PING.
pub type TouchTable = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, i32>>>;

/// The server core's non-blocking side of a [`QuorumHandle`]: every call queues a command for the
/// driver and returns at once. Refusals come back in order on the event stream as
/// [`QuorumEvent::Rejected`], so the core never awaits the driver on its hot path.
#[derive(Clone)]
pub struct QuorumSender {
    pub(super) cmds: mpsc::UnboundedSender<Command>,
    pub(super) touches: TouchTable,
}

impl std::fmt::Debug for QuorumSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumSender").finish_non_exhaustive()
    }
}

impl QuorumSender {
    /// Leader: proposes an encoded `TxnEntry` the core already stamped with `zxid`, which must be
    /// the leader's next zxid (the core is the only proposer, so it can predict it).
    pub fn propose_at(&self, zxid: Zxid, payload: Bytes) -> Result<(), ProposeError> {
        self.cmds
            .send(Command::ProposeAt { zxid, payload })
            .map_err(|_| ProposeError::Stopped)
    }

    /// Learner: forwards a REQUEST packet (jute-encoded) to the leader.
    pub fn forward(&self, payload: Bytes) -> Result<(), ProposeError> {
        self.cmds
            .send(Command::ForwardQuiet(payload))
            .map_err(|_| ProposeError::Stopped)
    }

    /// Leader: answers learner `to`'s forwarded sync once everything proposed so far is committed.
    pub fn sync_learner(&self, to: PeerId, payload: Bytes) -> Result<(), ProposeError> {
        self.cmds
            .send(Command::SyncLearnerQuiet { to, payload })
            .map_err(|_| ProposeError::Stopped)
    }

    /// Sends a REVALIDATE: to the leader (`to == None`, learner asking about a session) or to
    /// learner `to` (leader answering).
    pub fn revalidate(&self, to: Option<PeerId>, payload: Bytes) -> Result<(), ProposeError> {
        self.cmds
            .send(Command::Revalidate { to, payload })
            .map_err(|_| ProposeError::Stopped)
    }

    /// The server core wrote a snapshot at `zxid`; the core may forget older txns.
    pub fn snapshot_taken(&self, zxid: Zxid) {
        let _ = self.cmds.send(Command::SnapshotTaken(zxid));
    }

    /// Starts a new txn log segment with the next txn (taken with each snapshot, as Apache's
    /// `SyncRequestProcessor` does, so that autopurge can delete whole old segments).
    pub fn roll_log(&self) {
        let _ = self.cmds.send(Command::RollLog);
    }

    /// Asks for a [`QuorumEvent::Role`] with the current role.
    pub fn report_role(&self) {
        let _ = self.cmds.send(Command::ReportRole);
    }

    /// Learner: records activity on a session for the next PING reply.
    pub fn touch(&self, session: i64, timeout: i32) {
        if let Ok(mut t) = self.touches.lock() {
            t.insert(session, timeout);
        }
    }
}

impl std::fmt::Debug for QuorumHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumHandle")
            .field("id", &self.id)
            .field("role", &*self.role.borrow())
            .finish_non_exhaustive()
    }
}

/// The handle to a running quorum peer.
pub struct QuorumHandle {
    pub(super) id: PeerId,
    pub(super) cmds: mpsc::UnboundedSender<Command>,
    pub(super) touches: TouchTable,
    pub(super) role: watch::Receiver<RoleInfo>,
    pub(super) events: Option<mpsc::UnboundedReceiver<QuorumEvent>>,
    pub(super) snapshot: Option<(Zxid, zk_storage::SnapshotData)>,
    pub(super) cancel: CancellationToken,
    pub(super) task: JoinHandle<Result<(), QuorumError>>,
}

impl QuorumHandle {
    /// This peer's id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// A watch of the role; `changed()` wakes on every change.
    pub fn role(&self) -> watch::Receiver<RoleInfo> {
        self.role.clone()
    }

    /// The non-blocking command side, for the server core.
    pub fn sender(&self) -> QuorumSender {
        QuorumSender {
            cmds: self.cmds.clone(),
            touches: self.touches.clone(),
        }
    }

    /// The event stream (once).
    pub fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<QuorumEvent>> {
        self.events.take()
    }

    /// The snapshot found at start-up, which the server core loads before applying `Committed` events.
    pub fn restored_snapshot(&self) -> Option<&(Zxid, zk_storage::SnapshotData)> {
        self.snapshot.as_ref()
    }

    /// Takes the snapshot found at start-up (see [`QuorumHandle::restored_snapshot`]).
    pub fn take_restored_snapshot(&mut self) -> Option<(Zxid, zk_storage::SnapshotData)> {
        self.snapshot.take()
    }

    /// Leader: proposes an encoded `TxnEntry`; the assigned zxid is stamped into its header.
    pub async fn propose(&self, payload: Bytes) -> Result<Zxid, ProposeError> {
        self.propose_with(move |_| payload).await
    }

    /// Leader: proposes the payload `build` makes for the zxid it will get.
    pub async fn propose_with(
        &self,
        build: impl FnOnce(Zxid) -> Bytes + Send + 'static,
    ) -> Result<Zxid, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Command::Propose {
                build: Box::new(build),
                reply,
            })
            .map_err(|_| ProposeError::Stopped)?;
        Ok(rx.await.map_err(|_| ProposeError::Stopped)??)
    }

    /// Learner: forwards a client request to the leader (the REQUEST packet, jute-encoded).
    pub async fn forward(&self, payload: Bytes) -> Result<(), ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Command::Forward { payload, reply })
            .map_err(|_| ProposeError::Stopped)?;
        Ok(rx.await.map_err(|_| ProposeError::Stopped)??)
    }

    /// Leader: answers learner `to`'s forwarded sync once everything proposed so far is committed.
    pub async fn sync_learner(&self, to: PeerId, payload: Bytes) -> Result<(), ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Command::SyncLearner { to, payload, reply })
            .map_err(|_| ProposeError::Stopped)?;
        Ok(rx.await.map_err(|_| ProposeError::Stopped)??)
    }

    /// The server core wrote a snapshot at `zxid`; the core may forget older txns.
    pub fn snapshot_taken(&self, zxid: Zxid) {
        let _ = self.cmds.send(Command::SnapshotTaken(zxid));
    }

    /// Stops the driver and its network tasks; returns the driver's result.
    pub async fn shutdown(self) -> Result<(), QuorumError> {
        self.cancel.cancel();
        self.task.await.unwrap_or(Err(QuorumError::Stopped))
    }

    /// Aborts the driver like a crash: nothing more is written, sockets close.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        self.cancel.cancel();
    }
}
