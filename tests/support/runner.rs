//! Running a [`Script`] against one server: every step's outcome goes into a [`Transcript`], in the
//! order each session saw it. Failures of the server (closed connections, timeouts, undecodable
//! frames) are recorded, not raised, so the comparison shows them in context.
//!
//! After the last step the runner flushes every open connection (recorded), then closes every
//! session the script opened and deletes the script's nodes (not recorded), so the next script on
//! the same server starts from a quiet, clean tree.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use zk_proto::{
    ConnectResponse, ErrorCode, OpCode, ReplyHeader, RequestBody, ResponseBody, AUTH_XID,
};

use super::raw_session::{
    new_session_request, reattach_request, Credentials, Handshake, Incoming, RawSession,
    PASSWORD_LEN, REPLY_DEADLINE,
};
use super::script::{self, Password, Script, Slot, Step};

/// How long a step that waits for the server to act on its own (expiry, reaping) may take.
pub const WAIT_DEADLINE: Duration = Duration::from_secs(20);

/// The super user's `user:password`; targets configure the matching superDigest.
pub const SUPER_CREDENTIALS: &str = "super:differential";

/// What one step produced on one slot.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The handshake answer.
    Connected(ConnectResponse),
    /// No handshake answer (the server closed the connection or sent garbage).
    Refused(String),
    /// A frame: a reply or a notification (pings are not recorded), or the connection's end.
    Frame(Incoming),
    /// The deadline passed while waiting for `what`.
    Timeout(String),
    /// The step needed a connection the slot no longer has.
    NotConnected,
    /// The client dropped the connection.
    Dropped,
}

/// One recorded outcome with the step that produced it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index of the step in the script (`usize::MAX` for the final flush).
    pub step: usize,
    /// A short description of the step (`S0 create2 /p/a`).
    pub label: String,
    /// The slot the outcome was seen on.
    pub slot: usize,
    /// What happened.
    pub outcome: Outcome,
    /// The step compares its notifications as a set.
    pub unordered: bool,
}

/// Everything a script produced on one server, in order.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// The entries, in the order they were recorded.
    pub entries: Vec<Entry>,
}

#[derive(Default)]
struct SlotState {
    conn: Option<RawSession>,
    creds: Option<Credentials>,
    last_zxid_seen: i64,
}

struct Runner {
    addr: SocketAddr,
    slots: Vec<SlotState>,
    step_zxids: Vec<Option<i64>>,
    transcript: Transcript,
    step: usize,
    label: String,
    unordered: bool,
}

/// Runs `script` against the server at `addr` and returns what happened.
pub async fn run(script: &Script, addr: SocketAddr) -> Transcript {
    let mut runner = Runner {
        addr,
        slots: Vec::new(),
        step_zxids: vec![None; script.steps.len()],
        transcript: Transcript::default(),
        step: 0,
        label: String::new(),
        unordered: false,
    };
    for (i, step) in script.steps.iter().enumerate() {
        runner.step = i;
        runner.label = describe(step);
        runner.unordered = matches!(
            step,
            Step::Flush {
                unordered: true,
                ..
            }
        );
        runner.run_step(step).await;
    }
    runner.finish().await;
    cleanup(addr, script).await;
    runner.transcript
}

impl Runner {
    fn record(&mut self, slot: Slot, outcome: Outcome) {
        self.transcript.entries.push(Entry {
            step: self.step,
            label: self.label.clone(),
            slot: slot.0,
            outcome,
            unordered: self.unordered,
        });
    }

    fn slot(&mut self, slot: Slot) -> &mut SlotState {
        if self.slots.len() <= slot.0 {
            self.slots.resize_with(slot.0 + 1, SlotState::default);
        }
        &mut self.slots[slot.0]
    }

    async fn run_step(&mut self, step: &Step) {
        match step {
            Step::Connect { slot, timeout_ms } => {
                self.handshake(*slot, new_session_request(*timeout_ms))
                    .await
            }
            Step::Reattach { slot, of, password } => {
                let state = self.slot(*of);
                let Some(creds) = state.creds.clone() else {
                    self.record(*slot, Outcome::NotConnected);
                    return;
                };
                let last = state
                    .conn
                    .as_ref()
                    .map_or(state.last_zxid_seen, |c| c.last_zxid_seen);
                let passwd = match password {
                    Password::Right => None,
                    Password::Wrong => Some(Bytes::from_static(&[7; PASSWORD_LEN])),
                };
                let request = reattach_request(&creds, last, passwd);
                self.handshake(*slot, request).await;
                if self.slot(*slot).creds.is_none() {
                    // An expired answer: keep the old credentials so later steps can try again.
                    self.slot(*slot).creds = Some(creds);
                }
            }
            Step::RawConnect { slot, request } => self.handshake(*slot, request.clone()).await,
            Step::Request {
                slot,
                body,
                xid,
                relative_zxid_of,
            } => {
                let mut body = body.clone();
                if let Some(since) = relative_zxid_of {
                    let zxid = self.step_zxids.get(since.0).copied().flatten().unwrap_or(0);
                    match &mut body {
                        RequestBody::SetWatches(w) => w.relative_zxid = zxid,
                        RequestBody::SetWatches2(w) => w.relative_zxid = zxid,
                        _ => {}
                    }
                }
                let zxid = self.request(*slot, &[body], *xid).await;
                self.step_zxids[self.step] = zxid;
            }
            Step::RawRequest {
                slot,
                xid,
                opcode,
                body,
            } => {
                let Some(conn) = self.slot(*slot).conn.as_mut() else {
                    self.record(*slot, Outcome::NotConnected);
                    return;
                };
                if let Err(e) = conn.send_raw(*xid, *opcode, body).await {
                    self.send_failed(*slot, e);
                    return;
                }
                let xid = *xid;
                self.read_until(
                    *slot,
                    REPLY_DEADLINE,
                    "the reply",
                    |i| matches!(i, Incoming::Reply { header, .. } if header.xid == xid),
                )
                .await;
            }
            Step::Pipeline { slot, bodies } => {
                let zxid = self.request(*slot, bodies, None).await;
                self.step_zxids[self.step] = zxid;
            }
            Step::Flush { slot, .. } => self.flush(*slot).await,
            Step::WaitEvent {
                slot,
                event_type,
                path,
            } => {
                let (event_type, path) = (event_type.code(), path.clone());
                self.read_until(*slot, WAIT_DEADLINE, "the event", |incoming| {
                    matches!(incoming, Incoming::Notification { event: Ok(e), .. }
                        if e.event_type == event_type && e.path == path)
                })
                .await;
            }
            Step::WaitClosed { slot } => {
                self.read_until(*slot, WAIT_DEADLINE, "the server to close", |_| false)
                    .await;
            }
            Step::Drop { slot } => {
                let state = self.slot(*slot);
                if let Some(conn) = state.conn.take() {
                    state.last_zxid_seen = conn.last_zxid_seen;
                }
                self.record(*slot, Outcome::Dropped);
            }
        }
    }

    async fn handshake(&mut self, slot: Slot, request: zk_proto::ConnectRequest) {
        let last_zxid_seen = request.last_zxid_seen;
        match RawSession::connect(self.addr, &request).await {
            Err(e) => self.record(slot, Outcome::Refused(e)),
            Ok((Handshake::Refused(why), _)) => self.record(slot, Outcome::Refused(why)),
            Ok((Handshake::Answered(response), conn)) => {
                let state = self.slot(slot);
                state.conn = conn;
                state.last_zxid_seen = last_zxid_seen;
                if response.timeout > 0 && response.session_id != 0 {
                    state.creds = Some(Credentials {
                        session_id: response.session_id,
                        passwd: response.passwd.clone().unwrap_or_default(),
                        timeout_ms: response.timeout,
                    });
                }
                self.record(slot, Outcome::Connected(response));
            }
        }
    }

    /// Sends `bodies`, records everything up to the last one's reply; returns that reply's zxid.
    async fn request(
        &mut self,
        slot: Slot,
        bodies: &[RequestBody],
        xid: Option<i32>,
    ) -> Option<i64> {
        let Some(conn) = self.slot(slot).conn.as_mut() else {
            self.record(slot, Outcome::NotConnected);
            return None;
        };
        let mut xids = Vec::new();
        for body in bodies {
            match conn.send(body, xid).await {
                Ok(xid) => xids.push(xid),
                Err(e) => {
                    self.send_failed(slot, e);
                    return None;
                }
            }
        }
        let mut waiting: BTreeSet<i32> = xids.iter().copied().collect();
        let mut last_zxid = None;
        let last_xid = xids.last().copied();
        let deadline = Instant::now() + REPLY_DEADLINE;
        while !waiting.is_empty() {
            let conn = self.slot(slot).conn.as_mut()?;
            let Some(incoming) = conn.recv(deadline).await else {
                self.record(
                    slot,
                    Outcome::Timeout(format!("replies to xids {waiting:?}")),
                );
                return last_zxid;
            };
            if let Incoming::Reply { header, .. } = &incoming {
                waiting.remove(&header.xid);
                if Some(header.xid) == last_xid {
                    last_zxid = Some(header.zxid);
                }
            }
            if self.keep(slot, incoming) {
                return last_zxid;
            }
        }
        last_zxid
    }

    /// A send fails when the server has already closed the connection (for example as soon as it
    /// read the length of an oversized frame): recorded as that close, which is what it is.
    fn send_failed(&mut self, slot: Slot, error: String) {
        tracing::debug!(slot = slot.0, %error, "send failed");
        self.keep(slot, Incoming::Closed);
    }

    /// Records `incoming` (pongs are not recorded); returns true if the connection ended.
    fn keep(&mut self, slot: Slot, incoming: Incoming) -> bool {
        let ended = matches!(incoming, Incoming::Closed | Incoming::Broken(_));
        if ended {
            let state = self.slot(slot);
            if let Some(conn) = state.conn.take() {
                state.last_zxid_seen = conn.last_zxid_seen;
            }
        }
        if !matches!(incoming, Incoming::Pong { .. }) {
            self.record(slot, Outcome::Frame(incoming));
        }
        ended
    }

    async fn flush(&mut self, slot: Slot) {
        let Some(conn) = self.slot(slot).conn.as_mut() else {
            self.record(slot, Outcome::NotConnected);
            return;
        };
        if let Err(e) = conn.ping().await {
            self.send_failed(slot, e);
            return;
        }
        self.read_until(slot, REPLY_DEADLINE, "the ping reply", |i| {
            matches!(i, Incoming::Pong { .. })
        })
        .await;
    }

    /// Records frames on `slot` until `done` says so (that frame is recorded too, unless a pong),
    /// the connection ends, or `wait` passes.
    async fn read_until(
        &mut self,
        slot: Slot,
        wait: Duration,
        what: &str,
        done: impl Fn(&Incoming) -> bool,
    ) {
        let deadline = Instant::now() + wait;
        loop {
            let Some(conn) = self.slot(slot).conn.as_mut() else {
                self.record(slot, Outcome::NotConnected);
                return;
            };
            let Some(incoming) = conn.recv(deadline).await else {
                self.record(
                    slot,
                    Outcome::Timeout(format!("waited {wait:?} for {what}")),
                );
                return;
            };
            let finished = done(&incoming);
            if self.keep(slot, incoming) || finished {
                return;
            }
        }
    }

    /// Flushes every open connection (recorded), then closes every session (not recorded).
    async fn finish(&mut self) {
        self.step = usize::MAX;
        self.label = "end of script: flush".into();
        self.unordered = false;
        for i in 0..self.slots.len() {
            if self.slots[i].conn.is_some() {
                self.flush(Slot(i)).await;
            }
        }
        let mut sessions = Vec::new();
        for state in &mut self.slots {
            state.conn = None;
            if let Some(creds) = state.creds.take() {
                if !sessions
                    .iter()
                    .any(|c: &Credentials| c.session_id == creds.session_id)
                {
                    sessions.push(creds);
                }
            }
        }
        for creds in sessions {
            let request = reattach_request(&creds, 0, None);
            if let Ok((Handshake::Answered(r), Some(mut conn))) =
                RawSession::connect(self.addr, &request).await
            {
                if r.timeout > 0 {
                    let _ = call(&mut conn, &RequestBody::CloseSession, None).await;
                }
            }
        }
    }
}

/// Sends one request and waits for its reply, skipping notifications.
pub async fn call(
    conn: &mut RawSession,
    body: &RequestBody,
    xid: Option<i32>,
) -> Result<(ReplyHeader, Option<ResponseBody>), String> {
    let xid = conn.send(body, xid).await?;
    let deadline = Instant::now() + REPLY_DEADLINE;
    loop {
        match conn.recv(deadline).await {
            None => {
                return Err(format!(
                    "no reply to {:?} in {REPLY_DEADLINE:?}",
                    body.opcode()
                ))
            }
            Some(Incoming::Reply { header, body, .. }) if header.xid == xid => {
                return Ok((header, body.and_then(Result::ok)))
            }
            Some(Incoming::Closed) => return Err("connection closed".into()),
            Some(Incoming::Broken(e)) => return Err(e),
            Some(_) => {}
        }
    }
}

/// Deletes the script's subtree and its extra paths as the super user, children first.
async fn cleanup(addr: SocketAddr, script: &Script) {
    let result = async {
        let (handshake, conn) = RawSession::connect(addr, &new_session_request(10_000)).await?;
        let (Handshake::Answered(_), Some(mut conn)) = (handshake, conn) else {
            return Err("cleanup session refused".to_string());
        };
        let (h, _) = call(
            &mut conn,
            &script::auth("digest", SUPER_CREDENTIALS),
            Some(AUTH_XID),
        )
        .await?;
        if h.err != 0 {
            return Err(format!("super auth failed: {}", h.err));
        }
        for path in std::iter::once(script.root()).chain(script.extra_cleanup.iter().cloned()) {
            delete_tree(&mut conn, &path).await?;
        }
        call(&mut conn, &RequestBody::CloseSession, None).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("cleanup of {} on {addr} failed: {e}", script.root());
    }
}

async fn delete_tree(conn: &mut RawSession, root: &str) -> Result<(), String> {
    // Depth-first without recursion: list, push children, delete on the way back.
    let mut stack = vec![(root.to_owned(), false)];
    while let Some((path, listed)) = stack.pop() {
        if listed {
            let (h, _) = call(conn, &script::delete(&path, -1), None).await?;
            let ok = [ErrorCode::Ok.code(), ErrorCode::NoNode.code()];
            if !ok.contains(&h.err) {
                return Err(format!("deleting {path}: error {}", h.err));
            }
            continue;
        }
        let (h, body) = call(conn, &script::get_children(&path, false), None).await?;
        if h.err == ErrorCode::NoNode.code() {
            continue;
        }
        stack.push((path.clone(), true));
        if let Some(ResponseBody::GetChildren(r)) = body {
            for child in r.children {
                let child_path = if path == "/" {
                    format!("/{child}")
                } else {
                    format!("{path}/{child}")
                };
                stack.push((child_path, false));
            }
        }
    }
    Ok(())
}

/// A one-line description of a step for transcripts and failure messages.
pub fn describe(step: &Step) -> String {
    match step {
        Step::Connect { slot, timeout_ms } => format!("S{} connect timeout={timeout_ms}", slot.0),
        Step::Reattach { slot, of, password } => {
            format!(
                "S{} reattach session of S{} ({password:?} password)",
                slot.0, of.0
            )
        }
        Step::RawConnect { slot, request } => format!("S{} raw connect {request:?}", slot.0),
        Step::Request { slot, body, .. } => format!("S{} {}", slot.0, describe_request(body)),
        Step::RawRequest {
            slot, opcode, body, ..
        } => format!(
            "S{} raw request opcode {opcode} with {} body bytes",
            slot.0,
            body.len()
        ),
        Step::Pipeline { slot, bodies } => {
            let all: Vec<String> = bodies.iter().map(describe_request).collect();
            format!("S{} pipeline [{}]", slot.0, all.join(", "))
        }
        Step::Flush { slot, unordered } => {
            let order = if *unordered { " (any order)" } else { "" };
            format!("S{} flush{order}", slot.0)
        }
        Step::WaitEvent {
            slot,
            event_type,
            path,
        } => format!("S{} wait for {event_type:?} {path}", slot.0),
        Step::WaitClosed { slot } => format!("S{} wait until closed", slot.0),
        Step::Drop { slot } => format!("S{} drop connection", slot.0),
    }
}

fn describe_request(body: &RequestBody) -> String {
    let op = opcode_name(body.opcode());
    match body {
        RequestBody::Multi(m) | RequestBody::MultiRead(m) => {
            let ops: Vec<String> = m
                .ops
                .iter()
                .map(|o| format!("{} {}", opcode_name(o.opcode()), o.path()))
                .collect();
            format!("{op}[{}]", ops.join(", "))
        }
        RequestBody::Auth(a) => format!("{op} {}", a.scheme),
        _ => match body.path() {
            Some(path) => format!("{op} {path}"),
            None => op,
        },
    }
}

/// The opcode's name in Apache's spelling, lower camel case.
pub fn opcode_name(op: OpCode) -> String {
    let debug = format!("{op:?}");
    let mut chars = debug.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => debug,
    }
}
