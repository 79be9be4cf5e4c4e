//! [`Client`]: the cheap-to-clone handle with one method per ZooKeeper operation.
//!
//! Every method validates and encodes its request and queues it for the session task *before*
//! returning its future, so requests reach the wire in call order even if the futures are awaited
//! in another order (or never: dropping the future only discards the reply).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use zk_proto::records::auth::{AuthPacket, ClientInfo, WhoAmIResponse};
use zk_proto::records::children::{
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenRequest, GetChildrenResponse,
    GetEphemeralsResponse,
};
use zk_proto::records::node::{
    Create2Response, DeleteRequest, ExistsRequest, GetAclResponse, GetDataRequest, GetDataResponse,
    PathRequest, SetAclRequest, SetDataRequest, StatResponse, SyncResponse,
};
use zk_proto::records::watches::{AddWatchRequest, RemoveWatchesRequest};
use zk_proto::{
    Acl, AddWatchMode, ErrorCode, OpCode, Record, Stat, WatcherType, DEFAULT_JUTE_MAXBUFFER,
};

use crate::connect_string::Chroot;
use crate::create::{CreateOptions, CreateRequestBody};
use crate::multi::{MultiRead, Transaction};
use crate::session::state::Shared;
use crate::session::{Command, Reply, Request, WatchKind, Watcher};
use crate::{
    ClientBuilder, Error, OneshotWatcher, PersistentWatcher, SessionId, SessionState, StateStream,
};

/// A handle to a ZooKeeper session. Cheap to clone; every clone talks to the same session task.
/// Dropping the last clone closes the session (closeSession) in the background; [`Client::close`]
/// does it and waits.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    // The only strong reference to the sender: watchers hold weak ones, so the channel closes
    // (and the task closes the session) when the last `Client` goes.
    commands: Arc<mpsc::UnboundedSender<Command>>,
    shared: Arc<Shared>,
    chroot: Chroot,
}

/// The reply of a queued request, or the error that kept it from being queued.
type Sent = Result<oneshot::Receiver<Result<Reply, Error>>, Error>;

impl Client {
    pub(crate) fn new(
        commands: Arc<mpsc::UnboundedSender<Command>>,
        shared: Arc<Shared>,
        chroot: Chroot,
    ) -> Self {
        Client {
            inner: Arc::new(Inner {
                commands,
                shared,
                chroot,
            }),
        }
    }

    /// A builder for the session's settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Connects with default settings: `Client::builder().connect(connect_string)`.
    pub async fn connect(connect_string: &str) -> Result<Client, Error> {
        Self::builder().connect(connect_string).await
    }

    // ---- session ----------------------------------------------------------------------------

    /// The current session state.
    pub fn state(&self) -> SessionState {
        self.inner.shared.state()
    }

    /// A `watch` receiver of the session state (latest value; fast transitions may coalesce).
    pub fn state_watcher(&self) -> watch::Receiver<SessionState> {
        self.inner.shared.watch()
    }

    /// A stream of every state transition (see [`StateStream`]).
    pub fn state_stream(&self) -> StateStream {
        self.inner.shared.stream()
    }

    /// The current session id (`SessionId(0)` while there is none, e.g. right after expiry).
    pub fn session_id(&self) -> SessionId {
        self.inner.shared.session().id
    }

    /// The current session's password (with the id, enough to resume the session elsewhere:
    /// [`ClientBuilder::with_session`]).
    pub fn session_password(&self) -> Vec<u8> {
        self.inner.shared.session().password
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        self.inner.shared.session().timeout
    }

    /// Closes the session (closeSession) and waits for it. Requests still waiting fail with
    /// [`Error::Closed`], watchers get a `Closed` event. Other clones of this handle become unusable.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Close { reply: tx })
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Adds authentication (`addauth scheme auth`) to this and every later connection.
    pub fn add_auth(
        &self,
        scheme: &str,
        auth: &[u8],
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let packet = AuthPacket {
            auth_type: 0,
            scheme: scheme.to_owned(),
            auth: Some(Bytes::copy_from_slice(auth)),
        };
        let sent = self
            .inner
            .commands
            .send(Command::Auth { packet, reply: tx })
            .map_err(|_| self.closed_error());
        async move {
            sent?;
            rx.await.unwrap_or(Err(Error::Closed))
        }
    }

    // ---- plumbing ---------------------------------------------------------------------------

    fn closed_error(&self) -> Error {
        match self.inner.shared.state() {
            SessionState::AuthFailed => Error::AuthFailed,
            _ => Error::Closed,
        }
    }

    pub(crate) fn chroot(&self) -> &Chroot {
        &self.inner.chroot
    }

    pub(crate) fn submit(
        &self,
        opcode: OpCode,
        body: Bytes,
        watch: Option<(String, WatchKind)>,
        remove: Option<(String, WatcherType)>,
    ) -> Sent {
        if body.len() > DEFAULT_JUTE_MAXBUFFER {
            return Err(Error::BadArguments(format!(
                "request of {} bytes exceeds jute.maxbuffer ({DEFAULT_JUTE_MAXBUFFER})",
                body.len()
            )));
        }
        let (tx, rx) = oneshot::channel();
        let request = Request {
            opcode,
            body,
            watch,
            remove,
            epoch: self.inner.shared.epoch(),
            reply: Some(tx),
        };
        self.inner
            .commands
            .send(Command::Request(request))
            .map_err(|_| self.closed_error())?;
        Ok(rx)
    }

    fn path(&self, path: &str) -> Result<String, Error> {
        self.inner.chroot.to_server(path, false)
    }

    fn path_call<R: Record>(
        &self,
        path: &str,
        opcode: OpCode,
        make: impl FnOnce(String) -> R,
        watch: Option<WatchKind>,
    ) -> Sent {
        let server_path = self.path(path)?;
        let watch = watch.map(|k| (server_path.clone(), k));
        self.submit(opcode, make(server_path).to_bytes(), watch, None)
    }

    // ---- node operations --------------------------------------------------------------------

    /// Creates a node; returns its path (with the sequence suffix for sequential modes, relative
    /// to the chroot) and its Stat. Containers use createContainer, TTL modes createTTL, others
    /// create2.
    pub fn create(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<(String, Stat), Error>> + Send + 'static {
        let sent = (|| {
            options.validate()?;
            let server_path = self
                .chroot()
                .to_server(path, options.mode().is_sequential())?;
            let (op, body) = options.request(server_path, data);
            let body = match body {
                CreateRequestBody::Plain(r) => r.to_bytes(),
                CreateRequestBody::Ttl(r) => r.to_bytes(),
            };
            self.submit(op, body, None, None)
        })();
        let chroot = self.chroot().clone();
        async move {
            let r: Create2Response = decode(ok(wait(sent).await?)?)?;
            Ok((chroot.to_client(&r.path), r.stat))
        }
    }

    /// Deletes a node, if its version is `version` (`None`: any version).
    pub fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::Delete,
            |path| DeleteRequest {
                path,
                version: version.unwrap_or(-1),
            },
            None,
        );
        async move { ok(wait(sent).await?).map(drop) }
    }

    /// The node's Stat, or `None` if it does not exist.
    pub fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>, Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::Exists,
            |path| ExistsRequest { path, watch: false },
            None,
        );
        async move { exists_reply(wait(sent).await?).map(|(s, _)| s) }
    }

    /// [`exists`](Self::exists) plus a watch: fires NodeCreated if the node is missing,
    /// NodeDataChanged or NodeDeleted if it exists.
    pub fn exists_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, OneshotWatcher), Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::Exists,
            |path| ExistsRequest { path, watch: true },
            Some(WatchKind::Exist),
        );
        async move {
            let (stat, watcher) = exists_reply(wait(sent).await?)?;
            Ok((stat, oneshot_watcher(watcher)?))
        }
    }

    /// The node's data and Stat.
    pub fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<u8>, Stat), Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::GetData,
            |path| GetDataRequest { path, watch: false },
            None,
        );
        async move {
            let r: GetDataResponse = decode(ok(wait(sent).await?)?)?;
            Ok((r.data.unwrap_or_default().to_vec(), r.stat))
        }
    }

    /// [`get_data`](Self::get_data) plus a watch firing NodeDataChanged or NodeDeleted.
    pub fn get_data_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<u8>, Stat, OneshotWatcher), Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::GetData,
            |path| GetDataRequest { path, watch: true },
            Some(WatchKind::Data),
        );
        async move {
            let mut reply = wait(sent).await?;
            let watcher = reply.watcher.take();
            let r: GetDataResponse = decode(ok(reply)?)?;
            Ok((
                r.data.unwrap_or_default().to_vec(),
                r.stat,
                oneshot_watcher(watcher)?,
            ))
        }
    }

    /// Sets the node's data if its version is `version` (`None`: any); returns the new Stat.
    pub fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, Error>> + Send + 'static {
        let data = Some(Bytes::copy_from_slice(data));
        let sent = self.path_call(
            path,
            OpCode::SetData,
            |path| SetDataRequest {
                path,
                data,
                version: version.unwrap_or(-1),
            },
            None,
        );
        async move { Ok(decode::<StatResponse>(ok(wait(sent).await?)?)?.stat) }
    }

    /// The node's ACL and Stat.
    pub fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat), Error>> + Send + 'static {
        let sent = self.path_call(path, OpCode::GetAcl, |path| PathRequest { path }, None);
        async move {
            let r: GetAclResponse = decode(ok(wait(sent).await?)?)?;
            Ok((r.acl, r.stat))
        }
    }

    /// Sets the node's ACL if its ACL version (`aversion`) is `version` (`None`: any).
    pub fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, Error>> + Send + 'static {
        let sent = if acl.is_empty() {
            Err(Error::InvalidAcl)
        } else {
            self.path_call(
                path,
                OpCode::SetAcl,
                |path| SetAclRequest {
                    path,
                    acl: acl.to_vec(),
                    version: version.unwrap_or(-1),
                },
                None,
            )
        };
        async move { Ok(decode::<StatResponse>(ok(wait(sent).await?)?)?.stat) }
    }

    /// The names of the node's children (unordered, as the server returns them).
    pub fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::GetChildren,
            |path| GetChildrenRequest { path, watch: false },
            None,
        );
        async move { Ok(decode::<GetChildrenResponse>(ok(wait(sent).await?)?)?.children) }
    }

    /// The node's children and its Stat (getChildren2).
    pub fn get_children_with_stat(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat), Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::GetChildren2,
            |path| GetChildrenRequest { path, watch: false },
            None,
        );
        async move {
            let r: GetChildren2Response = decode(ok(wait(sent).await?)?)?;
            Ok((r.children, r.stat))
        }
    }

    /// Children, Stat, and a watch firing NodeChildrenChanged or NodeDeleted.
    pub fn get_children_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat, OneshotWatcher), Error>> + Send + 'static
    {
        let sent = self.path_call(
            path,
            OpCode::GetChildren2,
            |path| GetChildrenRequest { path, watch: true },
            Some(WatchKind::Child),
        );
        async move {
            let mut reply = wait(sent).await?;
            let watcher = reply.watcher.take();
            let r: GetChildren2Response = decode(ok(reply)?)?;
            Ok((r.children, r.stat, oneshot_watcher(watcher)?))
        }
    }

    /// Waits until the server this client is connected to has applied every write the leader
    /// committed before the sync.
    pub fn sync(&self, path: &str) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let sent = self.path_call(path, OpCode::Sync, |path| PathRequest { path }, None);
        async move { decode::<SyncResponse>(ok(wait(sent).await?)?).map(drop) }
    }

    /// The paths of this session's ephemeral nodes whose path starts with `prefix` (`/` for all),
    /// relative to the chroot.
    pub fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send + 'static {
        let sent = self.path_call(
            prefix,
            OpCode::GetEphemerals,
            |path| PathRequest { path },
            None,
        );
        let chroot = self.chroot().clone();
        async move {
            let r: GetEphemeralsResponse = decode(ok(wait(sent).await?)?)?;
            Ok(r.ephemerals.iter().map(|p| chroot.to_client(p)).collect())
        }
    }

    /// The number of descendants of the node (not counting itself).
    pub fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<u32, Error>> + Send + 'static {
        let sent = self.path_call(
            path,
            OpCode::GetAllChildrenNumber,
            |path| PathRequest { path },
            None,
        );
        async move {
            let r: GetAllChildrenNumberResponse = decode(ok(wait(sent).await?)?)?;
            Ok(r.total_number.max(0) as u32)
        }
    }

    /// Adds a persistent (`Persistent`) or persistent-recursive (`PersistentRecursive`) watch
    /// (ZooKeeper 3.6+); see [`PersistentWatcher`].
    pub fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<PersistentWatcher, Error>> + Send + 'static {
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let sent = self.path_call(
            path,
            OpCode::AddWatch,
            |path| AddWatchRequest {
                path,
                mode: mode.code(),
            },
            Some(kind),
        );
        async move {
            let mut reply = ok(wait(sent).await?)?;
            match reply.watcher.take() {
                Some(Watcher::Persistent(w)) => Ok(w),
                _ => Err(Error::Closed),
            }
        }
    }

    /// Removes this session's watches of `watcher_type` on `path`, on the server and locally (local
    /// watchers receive DataWatchRemoved, ChildWatchRemoved or PersistentWatchRemoved). Fails with
    /// [`Error::NoWatcher`] if the server has none.
    pub fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let sent = self.path(path).and_then(|server_path| {
            let body = RemoveWatchesRequest {
                path: server_path.clone(),
                watcher_type: watcher_type.code(),
            }
            .to_bytes();
            self.submit(
                OpCode::RemoveWatches,
                body,
                None,
                Some((server_path, watcher_type)),
            )
        });
        async move { ok(wait(sent).await?).map(drop) }
    }

    /// The identities this connection is authenticated as (ZooKeeper 3.7+).
    pub fn who_am_i(
        &self,
    ) -> impl Future<Output = Result<Vec<ClientInfo>, Error>> + Send + 'static {
        let sent = self.submit(OpCode::WhoAmI, Bytes::new(), None, None);
        async move { Ok(decode::<WhoAmIResponse>(ok(wait(sent).await?)?)?.client_info) }
    }

    /// Starts a transaction (multi): ops added to it are applied atomically by
    /// [`Transaction::commit`].
    pub fn multi(&self) -> Transaction {
        Transaction::new(self.clone())
    }

    /// Starts a multi-read: reads answered together by [`MultiRead::execute`] (3.6+).
    pub fn multi_read(&self) -> MultiRead {
        MultiRead::new(self.clone())
    }
}

/// Awaits a queued request's reply.
pub(crate) async fn wait(sent: Sent) -> Result<Reply, Error> {
    sent?.await.unwrap_or(Err(Error::Closed))
}

/// The reply's body if the server answered OK, else its error.
pub(crate) fn ok(reply: Reply) -> Result<Reply, Error> {
    match reply.err {
        0 => Ok(reply),
        e => Err(Error::from_code(e)),
    }
}

/// Decodes a reply body.
pub(crate) fn decode<R: Record>(reply: Reply) -> Result<R, Error> {
    let mut body = reply.body;
    R::read(&mut body).map_err(Error::MalformedReply)
}

fn exists_reply(mut reply: Reply) -> Result<(Option<Stat>, Option<Watcher>), Error> {
    let watcher = reply.watcher.take();
    if reply.err == ErrorCode::NoNode.code() {
        return Ok((None, watcher));
    }
    let r: StatResponse = decode(ok(reply)?)?;
    Ok((Some(r.stat), watcher))
}

fn oneshot_watcher(watcher: Option<Watcher>) -> Result<OneshotWatcher, Error> {
    match watcher {
        Some(Watcher::Oneshot(w)) => Ok(w),
        _ => Err(Error::Closed),
    }
}
