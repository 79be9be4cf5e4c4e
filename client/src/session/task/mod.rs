//! The session task: the one task that owns the socket.
//!
//! ```text
//! run ─► connect (hosts in turn, capped jittered backoff, bounded by the connect timeout the first time)
//!      ─► serve: prime (auth, setWatches2 packets, queued requests) then loop { read · write · ping · commands }
//!      ─► connection lost: in-flight requests fail with ConnectionLoss, watchers stay; reconnect
//!      ─► disconnected longer than the session timeout, or the server says expired: Expired,
//!         then a fresh session
//!      ─► last handle dropped or close(): closeSession, Closed
//! ```

mod offline;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval, Instant, MissedTickBehavior};
use tokio_util::codec::Decoder;
use tracing::{debug, info, warn};
use zk_proto::records::auth::AuthPacket;
use zk_proto::records::watches::RemoveWatchesRequest;
use zk_proto::{
    write_frame, ErrorCode, FrameCodec, KeeperState, OpCode, Record, ReplyHeader, RequestBody,
    RequestHeader, WatcherEvent, WatcherType, AUTH_XID, NOTIFICATION_XID, PING_XID,
    SET_WATCHES_XID,
};

use super::connect::{Backoff, Connection};
use super::depot::{Depot, Pending};
use super::state::{SessionState, Shared};
use super::watch::{WatchKind, WatchManager};
use super::{Command, Config, Reply, Request};
use crate::Error;

/// How many queued commands the task takes per wake-up before writing, so a burst of pipelined
/// requests goes out in few large writes.
const COMMAND_BATCH: usize = 1024;

/// How many times per ping interval the connection's clock checks the ping and read deadlines;
/// a deadline is noticed at most `ping_interval / TIMER_CHECKS_PER_PING` late.
const TIMER_CHECKS_PER_PING: u32 = 4;

/// Why `serve` returned.
enum Exit {
    Lost(String),
    Closed,
    AuthFailed,
}

/// An `addauth` to replay on every connection; `reply` is answered by the first server reply.
struct AuthEntry {
    packet: AuthPacket,
    reply: Option<oneshot::Sender<Result<(), Error>>>,
}

pub(crate) struct SessionTask {
    config: Config,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    watches: WatchManager,
    depot: Depot,
    /// Requests received while disconnected, with their arrival time.
    queued: VecDeque<(Instant, Request)>,
    auth: Vec<AuthEntry>,
    session_id: i64,
    password: Vec<u8>,
    negotiated: Duration,
    last_zxid: i64,
    epoch: u64,
    next_xid: i32,
    host: usize,
    backoff: Backoff,
    /// Hosts that answered setWatches2 with UNIMPLEMENTED (3.5 servers).
    no_set_watches2: HashSet<usize>,
    disconnected_since: Instant,
    /// Close requested: who to tell when done.
    close_replies: Vec<oneshot::Sender<()>>,
    /// The session id last written to the tracing span.
    recorded_session: i64,
}

impl SessionTask {
    pub(crate) fn new(
        config: Config,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        watches: WatchManager,
        shuffle: bool,
    ) -> Self {
        let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
        let host = if shuffle {
            backoff.random_below(config.hosts.len())
        } else {
            0
        };
        let (session_id, password) = config.session.clone().unwrap_or((0, Vec::new()));
        let auth = config
            .auth
            .iter()
            .map(|packet| AuthEntry {
                packet: packet.clone(),
                reply: None,
            })
            .collect();
        SessionTask {
            negotiated: config.session_timeout,
            shared,
            commands,
            watches,
            depot: Depot::default(),
            queued: VecDeque::new(),
            auth,
            session_id,
            password,
            last_zxid: 0,
            epoch: 0,
            next_xid: 1,
            host,
            backoff,
            no_set_watches2: HashSet::new(),
            disconnected_since: Instant::now(),
            close_replies: Vec::new(),
            recorded_session: 0,
            config,
        }
    }

    /// Runs the session until closed. `ready` gets the outcome of the first connection.
    pub(crate) async fn run(mut self, ready: oneshot::Sender<Result<(), Error>>) {
        let deadline = Instant::now() + self.config.connect_timeout;
        let first = match self.connect(Some(deadline)).await {
            Ok(conn) => {
                let _ = ready.send(Ok(()));
                conn
            }
            Err(e) => {
                let _ = ready.send(Err(e.clone()));
                self.finish(SessionState::Closed, Error::Closed);
                return;
            }
        };
        let mut conn = Some(first);
        loop {
            let c = match conn.take() {
                Some(c) => c,
                None => match self.connect(None).await {
                    Ok(c) => c,
                    Err(_) => return self.finish(SessionState::Closed, Error::Closed),
                },
            };
            match self.serve(c).await {
                Exit::Lost(reason) => {
                    info!(%reason, "connection lost");
                    self.disconnected_since = Instant::now();
                    self.depot.fail_all(&Error::ConnectionLoss);
                    self.shared.publish(SessionState::Disconnected);
                    self.watches.session_event(KeeperState::Disconnected);
                    if !self.close_replies.is_empty() {
                        return self.finish(SessionState::Closed, Error::Closed);
                    }
                    self.host += 1;
                }
                Exit::Closed => return self.finish(SessionState::Closed, Error::Closed),
                Exit::AuthFailed => {
                    return self.finish(SessionState::AuthFailed, Error::AuthFailed)
                }
            }
        }
    }

    /// Ends the task: everything waiting fails with `error`, watchers get the terminal event.
    fn finish(&mut self, state: SessionState, error: Error) {
        self.depot.fail_all(&error);
        for (_, r) in self.queued.drain(..) {
            if let Some(reply) = r.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for a in &mut self.auth {
            if let Some(reply) = a.reply.take() {
                let _ = reply.send(Err(error.clone()));
            }
        }
        self.watches.session_event(state.keeper_state());
        self.shared.publish(state);
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            self.reject(cmd, &error);
        }
        for reply in self.close_replies.drain(..) {
            let _ = reply.send(());
        }
        info!(?state, "session task done");
    }

    fn reject(&mut self, cmd: Command, error: &Error) {
        match cmd {
            Command::Request(r) => {
                if let Some(reply) = r.reply {
                    let _ = reply.send(Err(error.clone()));
                }
            }
            Command::Auth { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            Command::Close { reply } => self.close_replies.push(reply),
            Command::RemoveWatcher(_) => {}
        }
    }

    fn xid(&mut self) -> i32 {
        let xid = self.next_xid;
        self.next_xid = if xid == i32::MAX { 1 } else { xid + 1 };
        xid
    }

    fn write_request(&mut self, out: &mut BytesMut, r: Request) {
        if r.epoch != self.epoch {
            if let Some(reply) = r.reply {
                let _ = reply.send(Err(Error::SessionExpired));
            }
            return;
        }
        let xid = self.xid();
        write_frame(out, |b| {
            RequestHeader {
                xid,
                opcode: r.opcode.code(),
            }
            .write(b);
            b.extend_from_slice(&r.body);
        });
        self.depot.push(Pending {
            xid,
            opcode: r.opcode,
            watch: r.watch,
            reply: r.reply,
            remove: r.remove,
        });
    }

    fn write_special(out: &mut BytesMut, xid: i32, body: &RequestBody) {
        write_frame(out, |b| {
            RequestHeader {
                xid,
                opcode: body.opcode().code(),
            }
            .write(b);
            body.write(b);
        });
    }

    /// Tells the server to drop a persistent watch nobody wants (unless a request in flight is
    /// about to register a watch on the same path).
    fn write_remove_watch(&mut self, out: &mut BytesMut, path: String) {
        if self.depot.registers_watch_on(&path) {
            return;
        }
        let body = RemoveWatchesRequest {
            path,
            watcher_type: WatcherType::Any.code(),
        }
        .to_bytes();
        self.write_request(
            out,
            Request {
                opcode: OpCode::RemoveWatches,
                body,
                watch: None,
                remove: None,
                epoch: self.epoch,
                reply: None,
            },
        );
    }

    /// What goes first on a new connection: auth, setWatches, then requests queued meanwhile.
    fn prime(&mut self, out: &mut BytesMut, host_index: usize) {
        for a in &mut self.auth {
            Self::write_special(out, AUTH_XID, &RequestBody::Auth(a.packet.clone()));
            self.depot.push_auth(a.reply.take());
        }
        let v2 = !self.no_set_watches2.contains(&host_index);
        let packets =
            self.watches
                .set_watches(self.last_zxid, self.config.set_watches_max_bytes, v2);
        if !packets.is_empty() {
            debug!(
                packets = packets.len(),
                watchers = self.watches.len(),
                v2,
                "re-registering watches"
            );
        }
        for p in &packets {
            Self::write_special(out, SET_WATCHES_XID, p);
            self.depot.push_set_watches();
        }
        while let Some((_, r)) = self.queued.pop_front() {
            self.write_request(out, r);
        }
    }

    /// Serves one connection until it is lost or the session ends.
    async fn serve(&mut self, conn: Connection) -> Exit {
        let host_index = self.host % self.config.hosts.len();
        let (mut reader, mut writer) = conn.stream.into_split();
        let mut rbuf = conn.leftover;
        let mut codec = FrameCodec::new(self.config.max_frame_len);
        let mut out = BytesMut::with_capacity(64 * 1024);
        self.prime(&mut out, host_index);
        // Apache's ClientCnxn: readTimeout = 2/3 of the session timeout; we ping after a third of
        // that without sending anything, so two pings can be lost before the connection is dropped.
        let read_timeout = self.negotiated * 2 / 3;
        let ping_interval = read_timeout / 3;
        let mut last_recv = Instant::now();
        let mut last_send = Instant::now();
        let mut close_xid: Option<i32> = None;
        // One periodic timer checks both the ping and the read deadline. Creating two `Sleep`s
        // per loop turn (one timer-wheel registration each) cost about a fifth of the
        // throughput at 32 requests in flight.
        let mut clock = interval(ping_interval / TIMER_CHECKS_PER_PING);
        clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if !self.close_replies.is_empty() && close_xid.is_none() {
                let xid = self.xid();
                Self::write_special(&mut out, xid, &RequestBody::CloseSession);
                close_xid = Some(xid);
            }
            tokio::select! {
                biased;
                r = reader.read_buf(&mut rbuf) => {
                    match r {
                        Ok(0) => return Exit::Lost("server closed the connection".into()),
                        Err(e) => return Exit::Lost(format!("read: {e}")),
                        Ok(_) => {}
                    }
                    last_recv = Instant::now();
                    loop {
                        let frame = match codec.decode(&mut rbuf) {
                            Ok(Some(frame)) => frame,
                            Ok(None) => break,
                            Err(e) => return Exit::Lost(format!("bad frame: {e}")),
                        };
                        if let Some(exit) = self.handle_frame(frame, &mut out, close_xid, host_index) {
                            return exit;
                        }
                    }
                }
                r = writer.write_buf(&mut out), if !out.is_empty() => {
                    if let Err(e) = r {
                        return Exit::Lost(format!("write: {e}"));
                    }
                    last_send = Instant::now();
                }
                cmd = self.commands.recv(), if close_xid.is_none() => {
                    let Some(cmd) = cmd else {
                        // Every Client handle is gone: close the session politely.
                        self.close_replies.push(oneshot::channel().0);
                        continue;
                    };
                    self.online_command(cmd, &mut out);
                    for _ in 0..COMMAND_BATCH {
                        match self.commands.try_recv() {
                            Ok(cmd) => self.online_command(cmd, &mut out),
                            Err(_) => break,
                        }
                    }
                }
                now = clock.tick() => {
                    if now >= last_recv + read_timeout {
                        if close_xid.is_some() {
                            return Exit::Closed;
                        }
                        return Exit::Lost(format!("nothing received for {read_timeout:?}"));
                    }
                    if now >= last_send + ping_interval && close_xid.is_none() && out.is_empty() {
                        Self::write_special(&mut out, PING_XID, &RequestBody::Ping);
                        self.depot.push_ping();
                        last_send = Instant::now();
                    }
                }
            }
        }
    }

    fn online_command(&mut self, cmd: Command, out: &mut BytesMut) {
        match cmd {
            Command::Request(r) => self.write_request(out, r),
            Command::Auth { packet, reply } => {
                Self::write_special(out, AUTH_XID, &RequestBody::Auth(packet.clone()));
                self.depot.push_auth(Some(reply));
                self.auth.push(AuthEntry {
                    packet,
                    reply: None,
                });
            }
            Command::RemoveWatcher(id) => {
                if let Some(path) = self.watches.remove_watcher(id) {
                    self.write_remove_watch(out, path);
                }
            }
            Command::Close { reply } => self.close_replies.push(reply),
        }
    }

    /// Handles one reply frame; returns an exit if the connection or session must end.
    fn handle_frame(
        &mut self,
        mut frame: Bytes,
        out: &mut BytesMut,
        close_xid: Option<i32>,
        host_index: usize,
    ) -> Option<Exit> {
        let header = match ReplyHeader::read(&mut frame) {
            Ok(h) => h,
            Err(e) => return Some(Exit::Lost(format!("bad reply header: {e}"))),
        };
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        match header.xid {
            NOTIFICATION_XID => {
                let event = match WatcherEvent::read(&mut frame) {
                    Ok(e) => e,
                    Err(e) => return Some(Exit::Lost(format!("bad notification: {e}"))),
                };
                debug!(path = %event.path, event_type = event.event_type, "notification");
                for path in self.watches.dispatch(&event, header.zxid) {
                    self.write_remove_watch(out, path);
                }
            }
            PING_XID => self.depot.pop_ping(),
            AUTH_XID => {
                let reply = self.depot.pop_auth().flatten();
                if header.err == ErrorCode::AuthFailed.code() {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(Error::AuthFailed));
                    }
                    warn!("authentication failed");
                    return Some(Exit::AuthFailed);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(match header.err {
                        0 => Ok(()),
                        e => Err(Error::from_code(e)),
                    });
                }
            }
            SET_WATCHES_XID => {
                if !self.depot.pop_set_watches() {
                    warn!("unexpected setWatches reply");
                }
                if header.err == ErrorCode::Unimplemented.code() {
                    // A 3.5 server: it closes the connection now; use setWatches on it from now on.
                    warn!(
                        host_index,
                        "server does not implement setWatches2; falling back to setWatches"
                    );
                    self.no_set_watches2.insert(host_index);
                } else if header.err != 0 {
                    warn!(err = header.err, "setWatches failed");
                }
            }
            xid if Some(xid) == close_xid => return Some(Exit::Closed),
            xid => {
                let Some(pending) = self.depot.pop(xid) else {
                    return Some(Exit::Lost(format!(
                        "reply xid {xid} does not match the oldest request ({:?})",
                        self.depot.head_xid()
                    )));
                };
                self.complete(pending, header.err, frame);
            }
        }
        None
    }

    /// Registers the watch a reply establishes and hands the reply to its caller.
    fn complete(&mut self, pending: Pending, err: i32, body: Bytes) {
        let watcher = match pending.watch {
            Some((path, kind)) => {
                let kind = match (kind, err) {
                    (WatchKind::Exist, 0) => Some(WatchKind::Data),
                    (WatchKind::Exist, e) if e == ErrorCode::NoNode.code() => {
                        Some(WatchKind::Exist)
                    }
                    (kind, 0) => Some(kind),
                    _ => None,
                };
                kind.map(|kind| self.watches.register(&path, kind))
            }
            None => None,
        };
        if let Some((path, ty)) = &pending.remove {
            if err == 0 {
                self.watches.removed_on_server(path, *ty);
            }
        }
        debug_assert!(pending.opcode != OpCode::Ping);
        if let Some(reply) = pending.reply {
            // If the caller is gone, the returned watcher is dropped here and unregisters itself.
            let _ = reply.send(Ok(Reply { err, body, watcher }));
        }
    }
}

/// The shortest time one connection attempt is given.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(250);
