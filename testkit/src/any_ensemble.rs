//! [`Ensemble`]: what a process-level ensemble test needs from an ensemble, implemented by both
//! [`ApacheEnsemble`] and [`ZkServerEnsemble`], so one scenario runs against the reference and against
//! zk-server (`Box<dyn Ensemble>` or a generic parameter).
//!
//! Everything here goes through the client port: four-letter words (`srvr` for the mode, `hash` for tree
//! digests, `cons` to find which server holds a session), never through server internals, so the same
//! probe means the same thing on both implementations.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::digest::{parse_digest_log, DigestEntry};
use crate::fourlw::{self, server_mode, ServerMode};
use crate::zk_ensemble::in_quorum;
use crate::{wait_for, ApacheEnsemble, Error, ZkServerEnsemble};

/// An n-server ensemble of real server processes on loopback, addressed by index `0..len()`.
///
/// ```no_run
/// use std::time::Duration;
/// use zk_testkit::Ensemble;
///
/// fn fail_over(ensemble: &mut dyn Ensemble) {
///     let leader = ensemble.wait_for_quorum(Duration::from_secs(10)).unwrap();
///     ensemble.kill(leader);
///     let next = ensemble.wait_for_leader_within(Duration::from_secs(10)).unwrap();
///     assert_ne!(next, leader);
///     ensemble.restart(leader).unwrap();
///     ensemble.wait_for_quorum(Duration::from_secs(10)).unwrap();
/// }
/// ```
pub trait Ensemble: Send {
    /// `"apache"` or `"zk-server"`, for messages.
    fn kind(&self) -> &'static str;

    /// The number of servers (running or killed).
    fn len(&self) -> usize;

    /// Server `i`'s client address.
    fn addr(&self, i: usize) -> SocketAddr;

    /// True while server `i`'s process runs.
    fn is_running(&mut self, i: usize) -> bool;

    /// SIGKILLs server `i` (`kill -9`) and reaps it; its data dir is kept.
    fn kill(&mut self, i: usize);

    /// Kills server `i` if it runs, starts it again on the same ports and data dir, and waits until it
    /// serves as part of a quorum.
    fn restart(&mut self, i: usize) -> Result<(), Error>;

    /// Server `i`'s log file.
    fn log_path(&self, i: usize) -> PathBuf;

    /// The last lines of server `i`'s log.
    fn log_tail(&self, i: usize) -> String;

    /// Server `i`'s data dir.
    fn data_dir(&self, i: usize) -> &Path;

    /// The ensemble's temporary directory.
    fn dir(&self) -> &Path;

    /// Always false: an ensemble has at least one server.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every server's client address, in index order.
    fn addrs(&self) -> Vec<SocketAddr> {
        (0..self.len()).map(|i| self.addr(i)).collect()
    }

    /// `127.0.0.1:<p0>,127.0.0.1:<p1>,…` — every server, including killed ones.
    fn connect_string(&self) -> String {
        let addrs: Vec<String> = self.addrs().iter().map(ToString::to_string).collect();
        addrs.join(",")
    }

    /// Sends a four-letter word to server `i` and returns the reply, or the I/O error.
    fn try_four_letter(&self, i: usize, cmd: &str) -> Result<String, Error> {
        fourlw::four_letter(self.addr(i), cmd)
    }

    /// Server `i`'s mode from `srvr`, or `None` if it is down or not serving (no quorum, electing).
    fn mode(&self, i: usize) -> Option<ServerMode> {
        server_mode(self.addr(i))
    }

    /// The index of a server that reports `Mode: leader` now, if any.
    fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.mode(i) == Some(ServerMode::Leader))
    }

    /// Polls until some server reports `Mode: leader`, for at most `timeout`.
    fn wait_for_leader_within(&self, timeout: Duration) -> Result<usize, Error> {
        wait_for("a leader", timeout, || self.leader())
    }

    /// The indexes of the servers whose processes run.
    fn running(&mut self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_running(i)).collect()
    }

    /// Polls until every running server serves as leader, follower or observer and exactly one of them
    /// is leader, for at most `timeout`; returns the leader's index.
    fn wait_for_quorum(&mut self, timeout: Duration) -> Result<usize, Error> {
        let running = self.running();
        let what = format!("servers {running:?} to serve with one leader");
        let this: &Self = self;
        wait_for(&what, timeout, || {
            let mut leaders = Vec::new();
            for &i in &running {
                let mode = this.mode(i).filter(|m| in_quorum(*m))?;
                if mode == ServerMode::Leader {
                    leaders.push(i);
                }
            }
            match leaders[..] {
                [leader] => Some(leader),
                _ => None,
            }
        })
    }

    /// Server `i`'s tree-digest history from `hash` (empty if it is not serving).
    fn digest_log(&self, i: usize) -> Result<Vec<DigestEntry>, Error> {
        self.try_four_letter(i, "hash")
            .map(|reply| parse_digest_log(&reply))
    }

    /// The running server that has a connection of session `session_id` (from `cons`, `sid=0x…`), if any.
    fn server_with_session(&self, session_id: i64) -> Option<usize> {
        let needle = format!("sid={session_id:#x},");
        (0..self.len()).find(|&i| {
            self.try_four_letter(i, "cons")
                .is_ok_and(|reply| reply.contains(&needle))
        })
    }
}

impl Ensemble for ApacheEnsemble {
    fn kind(&self) -> &'static str {
        "apache"
    }
    fn len(&self) -> usize {
        ApacheEnsemble::len(self)
    }
    fn addr(&self, i: usize) -> SocketAddr {
        ApacheEnsemble::addr(self, i)
    }
    fn is_running(&mut self, i: usize) -> bool {
        ApacheEnsemble::is_running(self, i)
    }
    fn kill(&mut self, i: usize) {
        ApacheEnsemble::kill(self, i)
    }
    fn restart(&mut self, i: usize) -> Result<(), Error> {
        ApacheEnsemble::restart(self, i)
    }
    fn log_path(&self, i: usize) -> PathBuf {
        ApacheEnsemble::log_path(self, i)
    }
    fn log_tail(&self, i: usize) -> String {
        ApacheEnsemble::log_tail(self, i)
    }
    fn data_dir(&self, i: usize) -> &Path {
        ApacheEnsemble::data_dir(self, i)
    }
    fn dir(&self) -> &Path {
        ApacheEnsemble::dir(self)
    }
}

impl Ensemble for ZkServerEnsemble {
    fn kind(&self) -> &'static str {
        "zk-server"
    }
    fn len(&self) -> usize {
        ZkServerEnsemble::len(self)
    }
    fn addr(&self, i: usize) -> SocketAddr {
        ZkServerEnsemble::addr(self, i)
    }
    fn is_running(&mut self, i: usize) -> bool {
        ZkServerEnsemble::is_running(self, i)
    }
    fn kill(&mut self, i: usize) {
        ZkServerEnsemble::kill(self, i)
    }
    fn restart(&mut self, i: usize) -> Result<(), Error> {
        ZkServerEnsemble::restart(self, i)
    }
    fn log_path(&self, i: usize) -> PathBuf {
        ZkServerEnsemble::log_path(self, i)
    }
    fn log_tail(&self, i: usize) -> String {
        ZkServerEnsemble::log_tail(self, i)
    }
    fn data_dir(&self, i: usize) -> &Path {
        ZkServerEnsemble::data_dir(self, i)
    }
    fn dir(&self) -> &Path {
        ZkServerEnsemble::dir(self)
    }
}
