//! [`ClientBuilder`]: session timeout, connect timeout, auth, read-only, host shuffling, backoff.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use zk_proto::records::auth::AuthPacket;
use zk_proto::DEFAULT_JUTE_MAXBUFFER;

use crate::client::Client;
use crate::connect_string::{Chroot, ConnectString};
use crate::session::state::Shared;
use crate::session::task::SessionTask;
use crate::session::watch::WatchManager;
use crate::session::Config;
use crate::{Error, SessionId};

/// The session timeout asked for by default: 30 s, the default of Apache's `zkCli.sh`
/// (`ZooKeeperMain`'s `-timeout`). The server clamps it to [minSessionTimeout, maxSessionTimeout],
/// by default 2 to 20 ticks (`ZooKeeperServer`), i.e. 4 s to 40 s with tickTime 2000.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`ClientBuilder::connect`] tries to reach a host before failing with
/// [`Error::NoHostReachable`] (Curator's default connection timeout is 15 s; Apache's client has
/// none and retries forever). Also caps a single connection attempt, which Apache's `ClientCnxn`
/// bounds by `sessionTimeout / hostCount`; and how long a request made while disconnected waits
/// for a connection before failing with [`Error::Timeout`] (never sent, so never applied).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// First reconnect delay after a full round of failed hosts. Apache's `ClientCnxn` sleeps a random
/// 0–1000 ms before each reconnect; we start lower and double per round.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// Cap of the reconnect delay, so a client is back within a few hundred milliseconds of a server
/// serving again (Apache's `ClientCnxn` waits up to 1 s).
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_millis(400);

/// Bytes of paths per setWatches packet, as Apache's `ClientCnxn.SET_WATCHES_MAX_LENGTH`
/// (128 KiB), well below the server's jute.maxbuffer (`zk_proto::DEFAULT_JUTE_MAXBUFFER`, 1 MiB).
pub const SET_WATCHES_MAX_BYTES: usize = 128 * 1024;

/// Builds a [`Client`]; start with [`Client::builder`].
///
/// ```no_run
/// # async fn f() -> Result<(), zk_client::Error> {
/// use std::time::Duration;
/// let client = zk_client::Client::builder()
///     .with_session_timeout(Duration::from_secs(10))
///     .with_connect_timeout(Duration::from_secs(3))
///     .with_digest_auth("app", "secret")
///     .connect("zk1:2181,zk2:2181,zk3:2181/app")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    session_timeout: Duration,
    connect_timeout: Duration,
    read_only: bool,
    shuffle: bool,
    backoff: (Duration, Duration),
    auth: Vec<AuthPacket>,
    session: Option<(SessionId, Vec<u8>)>,
    set_watches_max_bytes: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_only: false,
            shuffle: true,
            backoff: (DEFAULT_BACKOFF_MIN, DEFAULT_BACKOFF_MAX),
            auth: Vec::new(),
            session: None,
            set_watches_max_bytes: SET_WATCHES_MAX_BYTES,
        }
    }
}

impl ClientBuilder {
    /// The session timeout to ask for (the server may negotiate it; see
    /// [`Client::session_timeout`]).
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long `connect` may take (see [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Authenticates every connection with `scheme` and `auth` (as `addauth`).
    pub fn with_auth(mut self, scheme: impl Into<String>, auth: impl Into<Vec<u8>>) -> Self {
        self.auth.push(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(Bytes::from(auth.into())),
        });
        self
    }

    /// `digest` authentication as `user:password` (see [`acl::digest_acl`](crate::acl::digest_acl)).
    pub fn with_digest_auth(self, user: &str, password: &str) -> Self {
        self.with_auth("digest", format!("{user}:{password}"))
    }

    /// Whether read-only servers (partitioned from their quorum) may serve this client's reads.
    pub fn with_read_only(mut self, allow: bool) -> Self {
        self.read_only = allow;
        self
    }

    /// Whether to start at a random host (default true, as Apache's `StaticHostProvider`
    /// shuffles); false tries the hosts in the order written.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Reconnect backoff: the first delay after a failed round of hosts and its cap; each delay is
    /// jittered in [cap/2, cap] and the cap doubles per round.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max);
        self
    }

    /// Resumes an existing session instead of starting one (its id and password, from
    /// [`Client::session_id`] and [`Client::session_password`]). `connect` fails with
    /// [`Error::SessionExpired`] if the server no longer knows it.
    pub fn with_session(mut self, id: SessionId, password: impl Into<Vec<u8>>) -> Self {
        self.session = Some((id, password.into()));
        self
    }

    /// The most path bytes one setWatches packet carries (see [`SET_WATCHES_MAX_BYTES`]).
    pub fn with_set_watches_max_bytes(mut self, bytes: usize) -> Self {
        self.set_watches_max_bytes = bytes.max(1);
        self
    }

    /// Connects to `connect_string` (`host:port,…[/chroot]`) and waits for a session, at most the
    /// connect timeout. Must be called within a tokio runtime.
    pub async fn connect(self, connect_string: &str) -> Result<Client, Error> {
        let cs: ConnectString = connect_string.parse()?;
        let hosts = cs.hosts().to_vec();
        if self.session_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::BadArguments("timeouts must be positive".into()));
        }
        let chroot = Chroot::new(cs.chroot());
        let shared = Arc::new(Shared::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = Arc::new(tx);
        let watches = WatchManager::new(chroot.clone(), Arc::downgrade(&tx));
        let config = Config {
            hosts,
            session_timeout: self.session_timeout,
            connect_timeout: self.connect_timeout,
            read_only: self.read_only,
            backoff_min: self.backoff.0,
            backoff_max: self.backoff.1,
            auth: self.auth,
            session: self.session.map(|(id, pw)| (id.0, pw)),
            max_frame_len: DEFAULT_JUTE_MAXBUFFER * 2,
            set_watches_max_bytes: self.set_watches_max_bytes,
        };
        let shuffle = self.shuffle;
        let task = SessionTask::new(config, shared.clone(), rx, watches, shuffle);
        let (ready_tx, ready_rx) = oneshot::channel();
        let span = tracing::info_span!("zk_session", session = tracing::field::Empty);
        tokio::spawn(task.run(ready_tx).instrument(span));
        match ready_rx.await {
            Ok(Ok(())) => Ok(Client::new(tx, shared, chroot)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }
}
