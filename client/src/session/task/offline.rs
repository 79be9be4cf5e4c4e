//! The offline half of the session task: connecting (hosts in turn, capped jittered backoff),
//! handling commands while disconnected, and declaring the session expired.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};
use zk_proto::{ConnectRequest, KeeperState};

use super::{AuthEntry, SessionTask, MIN_ATTEMPT_TIMEOUT};
use crate::session::connect::{attempt, close_stale, password_or_zeros, Connection};
use crate::session::state::{SessionId, SessionInfo, SessionState};
use crate::session::Command;
use crate::Error;

impl SessionTask {
    /// The session ended (server said so, or disconnected too long): fail what belonged to it and
    /// start over with a fresh session.
    pub(super) fn expire(&mut self, why: &str) {
        warn!(session = %SessionId(self.session_id), why, "session expired");
        self.epoch = self.shared.next_epoch();
        self.depot.fail_all(&Error::SessionExpired);
        for (_, r) in self.queued.drain(..) {
            if let Some(reply) = r.reply {
                let _ = reply.send(Err(Error::SessionExpired));
            }
        }
        self.watches.session_event(KeeperState::Expired);
        self.session_id = 0;
        self.password.clear();
        self.shared.set_session(SessionInfo::default());
        self.shared.publish(SessionState::Expired);
    }

    pub(super) fn attempt_timeout(&self) -> Duration {
        // As Apache's ClientCnxn: the session timeout shared among the hosts, but never more than
        // the connect timeout.
        let share = self.config.session_timeout / self.config.hosts.len().max(1) as u32;
        share
            .min(self.config.connect_timeout)
            .max(MIN_ATTEMPT_TIMEOUT)
    }

    /// Connects (and handshakes) to the next host that answers. With a deadline (the first
    /// connection), gives up with NoHostReachable; without, tries until closed.
    pub(super) async fn connect(&mut self, deadline: Option<Instant>) -> Result<Connection, Error> {
        let n = self.config.hosts.len();
        let mut failures = 0usize;
        let mut last_error;
        loop {
            let host_index = self.host % n;
            let host = self.config.hosts[host_index].clone();
            let request = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid,
                timeout: self
                    .config
                    .session_timeout
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
                session_id: self.session_id,
                passwd: Some(password_or_zeros(self.session_id, &self.password)),
                read_only: Some(self.config.read_only),
            };
            let mut timeout = self.attempt_timeout();
            if let Some(d) = deadline {
                timeout = timeout.min(d.saturating_duration_since(Instant::now()));
            }
            let epoch = self.epoch;
            debug!(host = %format!("{}:{}", host.0, host.1), session = %SessionId(self.session_id), "connecting");
            let attempt = attempt(&host, &request, timeout, self.config.max_frame_len);
            tokio::pin!(attempt);
            let result = loop {
                let wake = self.offline_deadline();
                tokio::select! {
                    r = &mut attempt => break r,
                    cmd = self.commands.recv() => {
                        if !self.offline_command(cmd) {
                            return Err(Error::Closed);
                        }
                    }
                    _ = sleep_until(wake) => self.offline_tick(),
                }
            };
            let result = match result {
                Ok(conn) if conn.response.timeout <= 0 && request.session_id == 0 => {
                    Err("server refused to start a session".to_owned())
                }
                other => other,
            };
            match result {
                Ok(conn) if conn.response.timeout <= 0 => {
                    // The server no longer knows the session.
                    if deadline.is_some() && self.session_id != 0 {
                        return Err(Error::SessionExpired);
                    }
                    self.expire("server reported the session expired");
                    failures = 0;
                    continue;
                }
                Ok(conn)
                    if epoch != self.epoch
                        && conn.response.session_id != 0
                        && request.session_id != 0 =>
                {
                    // Resumed a session we have already declared expired: let it go.
                    tokio::spawn(close_stale(conn));
                    continue;
                }
                Ok(conn) => {
                    self.established(&conn, host_index);
                    return Ok(conn);
                }
                Err(e) => {
                    debug!(host = %format!("{}:{}", host.0, host.1), error = %e, "connection attempt failed");
                    last_error = format!("{}:{}: {e}", host.0, host.1);
                }
            }
            self.host += 1;
            failures += 1;
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(Error::NoHostReachable(format!(
                        "{failures} attempts within {:?}; last: {last_error}",
                        self.config.connect_timeout
                    )));
                }
            }
            if failures % n == 0 {
                let mut until = Instant::now() + self.backoff.next_delay();
                if let Some(d) = deadline {
                    until = until.min(d);
                }
                if !self.idle_until(until).await {
                    return Err(Error::Closed);
                }
            }
        }
    }

    pub(super) fn established(&mut self, conn: &Connection, host_index: usize) {
        let r = &conn.response;
        if self.session_id != 0 && r.session_id != self.session_id {
            self.expire("server assigned a different session");
        }
        self.session_id = r.session_id;
        self.password = r.passwd.as_deref().unwrap_or_default().to_vec();
        self.negotiated = Duration::from_millis(r.timeout.max(1) as u64);
        self.shared.set_session(SessionInfo {
            id: SessionId(self.session_id),
            password: self.password.clone(),
            timeout: self.negotiated,
        });
        if self.recorded_session != self.session_id {
            self.recorded_session = self.session_id;
            tracing::Span::current().record(
                "session",
                tracing::field::display(SessionId(self.session_id)),
            );
        }
        self.backoff.reset();
        self.host = host_index;
        let read_only = r.read_only == Some(true);
        let state = if read_only {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        };
        info!(session = %SessionId(self.session_id), timeout = ?self.negotiated, read_only, "connected");
        self.shared.publish(state);
        self.watches.session_event(state.keeper_state());
    }

    /// Waits until `until` while handling commands offline. Returns false if closed.
    pub(super) async fn idle_until(&mut self, until: Instant) -> bool {
        loop {
            let wake = self.offline_deadline().min(until);
            tokio::select! {
                cmd = self.commands.recv() => {
                    if !self.offline_command(cmd) {
                        return false;
                    }
                }
                _ = sleep_until(wake) => {
                    self.offline_tick();
                    if Instant::now() >= until {
                        return true;
                    }
                }
            }
        }
    }

    /// When the next offline deadline falls: client-side expiry or the oldest queued request's.
    pub(super) fn offline_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let expiry = if self.session_id != 0 {
            self.disconnected_since + self.negotiated
        } else {
            far
        };
        let queued = self
            .queued
            .front()
            .map_or(far, |(t, _)| *t + self.config.connect_timeout);
        expiry.min(queued)
    }

    pub(super) fn offline_tick(&mut self) {
        let now = Instant::now();
        if self.session_id != 0 && now >= self.disconnected_since + self.negotiated {
            self.expire("disconnected for longer than the session timeout");
        }
        while let Some((t, _)) = self.queued.front() {
            if now < *t + self.config.connect_timeout {
                break;
            }
            if let Some((_, r)) = self.queued.pop_front() {
                if let Some(reply) = r.reply {
                    let _ = reply.send(Err(Error::Timeout));
                }
            }
        }
    }

    /// Handles a command while disconnected. Returns false when the client is closing.
    pub(super) fn offline_command(&mut self, cmd: Option<Command>) -> bool {
        match cmd {
            None => false,
            Some(Command::Close { reply }) => {
                self.close_replies.push(reply);
                false
            }
            Some(Command::Request(r)) => {
                if r.epoch != self.epoch {
                    if let Some(reply) = r.reply {
                        let _ = reply.send(Err(Error::SessionExpired));
                    }
                } else {
                    self.queued.push_back((Instant::now(), r));
                }
                true
            }
            Some(Command::Auth { packet, reply }) => {
                self.auth.push(AuthEntry {
                    packet,
                    reply: Some(reply),
                });
                true
            }
            Some(Command::RemoveWatcher(id)) => {
                // The next connection only re-registers live watchers, so nothing to tell the server.
                let _ = self.watches.remove_watcher(id);
                true
            }
        }
    }
}
