//! A writer that survives server failures the way a real ZooKeeper client does: one setData at a
//! time on its own node, and on a broken or silent connection it moves to the next server of the
//! connect string and resumes the same session (id, password, last zxid seen).
//!
//! Timeouts follow Apache's Java client, so both implementations are judged by what an application
//! would see: a connection attempt gets `session timeout / number of servers`, a request gets two
//! thirds of the session timeout before the connection is considered dead. Unlike the Java client it
//! does not back off for up to a second after trying every server, because the failover figure is
//! meant to show the server's recovery, not client pacing; it pauses [`RETRY_PAUSE`] instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use zk_proto::records::node::SetDataRequest;
use zk_proto::{ErrorCode, RequestBody};

use crate::conn::{Conn, Session};
use crate::error::BenchError;

/// Pause after a full pass over the servers failed, so that a writer does not spin while no server
/// serves (an election takes hundreds of milliseconds; this bounds the measurement error to ~10 ms).
pub const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What a writer has seen so far; the coordinator reads it while the writer runs.
#[derive(Debug, Default, Clone)]
pub struct WriterStats {
    /// Successful writes.
    pub ok: u64,
    /// Completion time of the first successful write sent after the failure (see [`Writer::run`]).
    pub first_ok_after_failure: Option<Instant>,
    /// Connections established after the first one.
    pub reconnects: u64,
    /// Sessions that had expired when the writer tried to resume them (a new one was created).
    pub new_sessions: u64,
    /// Requests that got no reply within the read timeout.
    pub stalls: u64,
    /// Replies with an error code.
    pub errors: u64,
}

/// One writing session over a list of servers.
pub struct Writer {
    hosts: Vec<String>,
    first_host: usize,
    node: String,
    value: Bytes,
    session_timeout_ms: i32,
}

impl Writer {
    /// A writer that starts on `hosts[first_host]` and sets `node` to `value` over and over.
    pub fn new(
        hosts: Vec<String>,
        first_host: usize,
        node: String,
        value: Bytes,
        session_timeout_ms: i32,
    ) -> Writer {
        Writer {
            hosts,
            first_host,
            node,
            value,
            session_timeout_ms,
        }
    }

    /// Writes until aborted. `failure` carries the instant from which on a successful write counts as
    /// the recovery: only requests *sent* at or after it are considered, so a reply that was already
    /// on its way when the leader died does not count.
    pub async fn run(
        self,
        stats: Arc<Mutex<WriterStats>>,
        failure: watch::Receiver<Option<Instant>>,
    ) -> Result<(), BenchError> {
        let set = RequestBody::SetData(SetDataRequest {
            path: self.node.clone(),
            data: Some(self.value.clone()),
            version: -1,
        });
        let n = self.hosts.len();
        let mut host = self.first_host % n;
        let mut session = Session::new(self.session_timeout_ms);
        let mut conn: Option<Conn> = None;
        let mut failed_in_row = 0usize;
        let mut connected_once = false;
        loop {
            let Some(c) = conn.as_mut() else {
                match self.connect(&self.hosts[host], &mut session, &stats).await {
                    Ok(c) => {
                        if connected_once {
                            lock(&stats).reconnects += 1;
                        }
                        connected_once = true;
                        failed_in_row = 0;
                        conn = Some(c);
                    }
                    Err(e) => {
                        tracing::debug!(host = %self.hosts[host], error = %e, "connect failed");
                        host = (host + 1) % n;
                        failed_in_row += 1;
                        if failed_in_row % n == 0 {
                            tokio::time::sleep(RETRY_PAUSE).await;
                        }
                    }
                }
                continue;
            };
            let sent = Instant::now();
            let read_timeout = read_timeout(&session);
            match tokio::time::timeout(read_timeout, c.call("setData", &set)).await {
                Ok(Ok((header, _))) => {
                    session.last_zxid = session.last_zxid.max(header.zxid);
                    let mut st = lock(&stats);
                    if header.err == 0 {
                        st.ok += 1;
                        let failed_at = *failure.borrow();
                        if st.first_ok_after_failure.is_none()
                            && failed_at.is_some_and(|at| sent >= at)
                        {
                            st.first_ok_after_failure = Some(Instant::now());
                        }
                    } else {
                        st.errors += 1;
                        if header.err == ErrorCode::SessionExpired.code() {
                            session = Session::new(self.session_timeout_ms);
                            conn = None;
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(host = %self.hosts[host], error = %e, "connection lost");
                    conn = None;
                    host = (host + 1) % n;
                }
                Err(_) => {
                    lock(&stats).stalls += 1;
                    conn = None;
                    host = (host + 1) % n;
                }
            }
        }
    }

    /// One connection attempt: resumes `session` (or starts it, if new) on `addr`.
    async fn connect(
        &self,
        addr: &str,
        session: &mut Session,
        stats: &Mutex<WriterStats>,
    ) -> Result<Conn, BenchError> {
        let timeout = connect_timeout(session, self.hosts.len());
        let attempt = tokio::time::timeout(timeout, Conn::handshake(addr, session)).await;
        let (conn, resp) =
            attempt.map_err(|_| BenchError::Timeout(format!("handshake with {addr}")))??;
        if resp.session_id != 0 && resp.timeout > 0 {
            session.established(&resp);
            return Ok(conn);
        }
        if session.id != 0 {
            // Expired while we were away: start over with a new session, as an application would.
            lock(stats).new_sessions += 1;
            *session = Session::new(self.session_timeout_ms);
        }
        Err(BenchError::Protocol(format!("{addr} refused the session")))
    }
}

/// The Java client's connect timeout: the session timeout shared among the servers.
fn connect_timeout(session: &Session, hosts: usize) -> Duration {
    Duration::from_millis(session.timeout_ms.max(1) as u64 / hosts.max(1) as u64)
}

/// The Java client's read timeout: two thirds of the session timeout.
fn read_timeout(session: &Session) -> Duration {
    Duration::from_millis(session.timeout_ms.max(1) as u64 * 2 / 3)
}

fn lock(stats: &Mutex<WriterStats>) -> std::sync::MutexGuard<'_, WriterStats> {
    // A writer panicking mid-update leaves plain counters; they are still worth reporting.
    stats.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_the_java_client() {
        let s = Session::new(9000);
        assert_eq!(connect_timeout(&s, 3), Duration::from_millis(3000));
        assert_eq!(read_timeout(&s), Duration::from_millis(6000));
    }
}
