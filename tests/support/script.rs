//! [`Script`]: a scripted sequence of steps run identically against every target.
//!
//! A step names a session slot (`Slot`, the connections a script opens, in order) and what to do
//! on it: send a request and record its reply, open or reattach a session, flush notifications,
//! wait (with a deadline) for an event the server produces on its own (session expiry, container
//! reaping, TTL expiry), drop a connection, close a session. Each request helper below builds the
//! [`RequestBody`] of one opcode.

use bytes::Bytes;
use zk_proto::records::auth::AuthPacket;
use zk_proto::records::children::GetChildrenRequest;
use zk_proto::records::node::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest,
    GetDataRequest, PathRequest, SetAclRequest, SetDataRequest,
};
use zk_proto::records::watches::{AddWatchRequest, RemoveWatchesRequest, SetWatches2};
use zk_proto::{
    Acl, AddWatchMode, CreateMode, EventType, MultiOp, MultiRequest, RequestBody, WatcherType,
};

/// The session timeout scripts ask for unless they say otherwise: long enough that no script
/// needs pings to keep its sessions alive (the targets allow up to `maxSessionTimeout`).
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 30_000;

/// A connection slot of a script: the n-th session opened (or reattached) by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(pub usize);

/// A step of a script, by index; request steps remember their reply's zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepId(pub usize);

/// Which password a reattaching connection presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// The session's own.
    Right,
    /// A wrong one of the right length.
    Wrong,
}

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Open a new session on a new connection (slot `slot`) asking for `timeout_ms`.
    Connect { slot: Slot, timeout_ms: i32 },
    /// Open a new connection (slot `slot`) that reattaches the session of slot `of`, sending
    /// the last zxid that slot has seen.
    Reattach {
        slot: Slot,
        of: Slot,
        password: Password,
    },
    /// A handshake with a raw connect request (for refusal paths); opens slot `slot` if answered.
    RawConnect {
        slot: Slot,
        request: zk_proto::ConnectRequest,
    },
    /// Send a request and record its reply (and the notifications that come before it).
    Request {
        slot: Slot,
        body: RequestBody,
        /// An explicit xid (auth -4, setWatches -8), else the slot's next xid.
        xid: Option<i32>,
        /// Replace the `relativeZxid` of a setWatches/setWatches2 by the reply zxid of this step.
        relative_zxid_of: Option<StepId>,
    },
    /// Send a request header with any opcode and raw body bytes; record until its reply or the
    /// end of the connection.
    RawRequest {
        slot: Slot,
        xid: i32,
        opcode: i32,
        body: Bytes,
    },
    /// Send several requests back to back, then record all their replies.
    Pipeline {
        slot: Slot,
        bodies: Vec<RequestBody>,
    },
    /// Ping and record every notification that arrives before the ping's reply. With
    /// `unordered`, the notifications are compared as a set (for batches whose order ZooKeeper
    /// leaves unspecified, such as the ephemerals of a closed session).
    Flush { slot: Slot, unordered: bool },
    /// Record notifications until one with this type and path arrives (deadline-bound).
    WaitEvent {
        slot: Slot,
        event_type: EventType,
        path: String,
    },
    /// Record notifications until the server closes the connection (deadline-bound).
    WaitClosed { slot: Slot },
    /// Close the TCP connection without closing the session.
    Drop { slot: Slot },
}

/// A script: a name, a path prefix of its own, and its steps.
#[derive(Debug, Clone)]
pub struct Script {
    /// The script's name; its nodes live under `/<name>`.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Paths outside the prefix that the script may leave behind; cleanup deletes them too.
    pub extra_cleanup: Vec<String>,
    slots: usize,
}

impl Script {
    /// An empty script whose nodes live under `/<name>`.
    pub fn new(name: &str) -> Self {
        Script {
            name: name.to_owned(),
            steps: Vec::new(),
            extra_cleanup: Vec::new(),
            slots: 0,
        }
    }

    /// The script's root path, `/<name>`.
    pub fn root(&self) -> String {
        format!("/{}", self.name)
    }

    /// `/<name>/<rel>` (or the root for an empty `rel`).
    pub fn path(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root()
        } else {
            format!("/{}/{}", self.name, rel)
        }
    }

    fn push(&mut self, step: Step) -> StepId {
        self.steps.push(step);
        StepId(self.steps.len() - 1)
    }

    fn next_slot(&mut self) -> Slot {
        self.slots += 1;
        Slot(self.slots - 1)
    }

    /// Opens a new session with the default timeout.
    pub fn connect(&mut self) -> Slot {
        self.connect_with_timeout(DEFAULT_SESSION_TIMEOUT_MS)
    }

    /// Opens a new session asking for `timeout_ms`.
    pub fn connect_with_timeout(&mut self, timeout_ms: i32) -> Slot {
        let slot = self.next_slot();
        self.push(Step::Connect { slot, timeout_ms });
        slot
    }

    /// Opens a new connection for the session of `of`, with its id and password.
    pub fn reattach(&mut self, of: Slot) -> Slot {
        self.reattach_with(of, Password::Right)
    }

    /// Opens a new connection for the session of `of`, presenting `password`.
    pub fn reattach_with(&mut self, of: Slot, password: Password) -> Slot {
        let slot = self.next_slot();
        self.push(Step::Reattach { slot, of, password });
        slot
    }

    /// A handshake with an arbitrary connect request.
    pub fn raw_connect(&mut self, request: zk_proto::ConnectRequest) -> Slot {
        let slot = self.next_slot();
        self.push(Step::RawConnect { slot, request });
        slot
    }

    /// Sends `body` on `slot` and records the reply.
    pub fn req(&mut self, slot: Slot, body: RequestBody) -> StepId {
        self.push(Step::Request {
            slot,
            body,
            xid: None,
            relative_zxid_of: None,
        })
    }

    /// Sends `body` with an explicit `xid`.
    pub fn req_xid(&mut self, slot: Slot, xid: i32, body: RequestBody) -> StepId {
        self.push(Step::Request {
            slot,
            body,
            xid: Some(xid),
            relative_zxid_of: None,
        })
    }

    /// Sends digest credentials `user:password` as Apache's clients do (xid -4).
    pub fn auth_digest(&mut self, slot: Slot, user_password: &str) -> StepId {
        self.req_xid(slot, zk_proto::AUTH_XID, auth("digest", user_password))
    }

    /// Sends setWatches2 (xid -8, as a reconnecting client does) with the zxid of `since`'s
    /// reply as `relativeZxid`.
    pub fn set_watches_since(&mut self, slot: Slot, since: StepId, watches: SetWatches2) -> StepId {
        self.push(Step::Request {
            slot,
            body: RequestBody::SetWatches2(watches),
            xid: Some(zk_proto::SET_WATCHES_XID),
            relative_zxid_of: Some(since),
        })
    }

    /// Sends the old setWatches (opcode 101) with the zxid of `since`'s reply as `relativeZxid`.
    pub fn set_watches_v1_since(
        &mut self,
        slot: Slot,
        since: StepId,
        watches: zk_proto::records::watches::SetWatches,
    ) -> StepId {
        self.push(Step::Request {
            slot,
            body: RequestBody::SetWatches(watches),
            xid: Some(zk_proto::SET_WATCHES_XID),
            relative_zxid_of: Some(since),
        })
    }

    /// Sends a request with an arbitrary opcode and body bytes.
    pub fn raw_request(&mut self, slot: Slot, xid: i32, opcode: i32, body: &[u8]) -> StepId {
        self.push(Step::RawRequest {
            slot,
            xid,
            opcode,
            body: Bytes::copy_from_slice(body),
        })
    }

    /// Sends `bodies` back to back on `slot`, then records the replies.
    pub fn pipeline(&mut self, slot: Slot, bodies: Vec<RequestBody>) -> StepId {
        self.push(Step::Pipeline { slot, bodies })
    }

    /// Records the notifications already sent to `slot` (a ping round trip).
    pub fn flush(&mut self, slot: Slot) -> StepId {
        self.push(Step::Flush {
            slot,
            unordered: false,
        })
    }

    /// Like [`Script::flush`], comparing the notifications as a set.
    pub fn flush_unordered(&mut self, slot: Slot) -> StepId {
        self.push(Step::Flush {
            slot,
            unordered: true,
        })
    }

    /// Waits (deadline-bound) for a notification of `event_type` on `path`.
    pub fn wait_event(&mut self, slot: Slot, event_type: EventType, path: &str) -> StepId {
        self.push(Step::WaitEvent {
            slot,
            event_type,
            path: path.to_owned(),
        })
    }

    /// Waits (deadline-bound) until the server closes the connection of `slot`.
    pub fn wait_closed(&mut self, slot: Slot) -> StepId {
        self.push(Step::WaitClosed { slot })
    }

    /// Drops the connection of `slot` without closing its session.
    pub fn drop_connection(&mut self, slot: Slot) -> StepId {
        self.push(Step::Drop { slot })
    }

    /// Sends closeSession on `slot` and records the reply.
    pub fn close(&mut self, slot: Slot) -> StepId {
        self.req(slot, RequestBody::CloseSession)
    }

    /// Cleanup also deletes `path` (for nodes a script creates outside its prefix).
    pub fn also_clean(&mut self, path: &str) {
        self.extra_cleanup.push(path.to_owned());
    }
}

/// Open ACL (`world:anyone`, all permissions).
pub fn open_acl() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn data(bytes: &[u8]) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(bytes))
}

fn create_request(path: &str, bytes: &[u8], acl: Vec<Acl>, mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data: data(bytes),
        acl,
        flags: mode.flag(),
    }
}

/// create (opcode 1) with an open ACL.
pub fn create(path: &str, bytes: &[u8], mode: CreateMode) -> RequestBody {
    RequestBody::Create(create_request(path, bytes, open_acl(), mode))
}

/// create (opcode 1) with raw flags and ACL.
pub fn create_raw(path: &str, data: Option<Bytes>, acl: Vec<Acl>, flags: i32) -> RequestBody {
    RequestBody::Create(CreateRequest {
        path: path.to_owned(),
        data,
        acl,
        flags,
    })
}

/// create2 (opcode 15) with an open ACL.
pub fn create2(path: &str, bytes: &[u8], mode: CreateMode) -> RequestBody {
    RequestBody::Create2(create_request(path, bytes, open_acl(), mode))
}

/// create2 with an ACL.
pub fn create2_acl(path: &str, bytes: &[u8], acl: Vec<Acl>, mode: CreateMode) -> RequestBody {
    RequestBody::Create2(create_request(path, bytes, acl, mode))
}

/// createContainer (opcode 19).
pub fn create_container(path: &str, bytes: &[u8]) -> RequestBody {
    RequestBody::CreateContainer(create_request(
        path,
        bytes,
        open_acl(),
        CreateMode::Container,
    ))
}

/// createTTL (opcode 21) with raw flags.
pub fn create_ttl(path: &str, bytes: &[u8], flags: i32, ttl: i64) -> RequestBody {
    RequestBody::CreateTtl(CreateTtlRequest {
        path: path.to_owned(),
        data: data(bytes),
        acl: open_acl(),
        flags,
        ttl,
    })
}

/// delete.
pub fn delete(path: &str, version: i32) -> RequestBody {
    RequestBody::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

/// exists.
pub fn exists(path: &str, watch: bool) -> RequestBody {
    RequestBody::Exists(ExistsRequest {
        path: path.to_owned(),
        watch,
    })
}

/// getData.
pub fn get_data(path: &str, watch: bool) -> RequestBody {
    RequestBody::GetData(GetDataRequest {
        path: path.to_owned(),
        watch,
    })
}

/// setData.
pub fn set_data(path: &str, bytes: &[u8], version: i32) -> RequestBody {
    RequestBody::SetData(SetDataRequest {
        path: path.to_owned(),
        data: data(bytes),
        version,
    })
}

fn path_request(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_owned(),
    }
}

/// getACL.
pub fn get_acl(path: &str) -> RequestBody {
    RequestBody::GetAcl(path_request(path))
}

/// setACL.
pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> RequestBody {
    RequestBody::SetAcl(SetAclRequest {
        path: path.to_owned(),
        acl,
        version,
    })
}

/// getChildren.
pub fn get_children(path: &str, watch: bool) -> RequestBody {
    RequestBody::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch,
    })
}

/// getChildren2.
pub fn get_children2(path: &str, watch: bool) -> RequestBody {
    RequestBody::GetChildren2(GetChildrenRequest {
        path: path.to_owned(),
        watch,
    })
}

/// sync.
pub fn sync(path: &str) -> RequestBody {
    RequestBody::Sync(path_request(path))
}

/// check (opcode 13) outside a multi.
pub fn check_version(path: &str, version: i32) -> RequestBody {
    RequestBody::Check(CheckVersionRequest {
        path: path.to_owned(),
        version,
    })
}

/// multi.
pub fn multi(ops: Vec<MultiOp>) -> RequestBody {
    RequestBody::Multi(MultiRequest { ops })
}

/// multiRead.
pub fn multi_read(ops: Vec<MultiOp>) -> RequestBody {
    RequestBody::MultiRead(MultiRequest { ops })
}

/// getEphemerals.
pub fn get_ephemerals(prefix: &str) -> RequestBody {
    RequestBody::GetEphemerals(path_request(prefix))
}

/// getAllChildrenNumber.
pub fn get_all_children_number(path: &str) -> RequestBody {
    RequestBody::GetAllChildrenNumber(path_request(path))
}

/// addWatch.
pub fn add_watch(path: &str, mode: AddWatchMode) -> RequestBody {
    RequestBody::AddWatch(AddWatchRequest {
        path: path.to_owned(),
        mode: mode.code(),
    })
}

/// removeWatches (opcode 18).
pub fn remove_watches(path: &str, kind: WatcherType) -> RequestBody {
    RequestBody::RemoveWatches(RemoveWatchesRequest {
        path: path.to_owned(),
        watcher_type: kind.code(),
    })
}

/// checkWatches (opcode 17).
pub fn check_watches(path: &str, kind: WatcherType) -> RequestBody {
    RequestBody::CheckWatches(RemoveWatchesRequest {
        path: path.to_owned(),
        watcher_type: kind.code(),
    })
}

/// An auth packet (send it with [`Script::req_xid`] and `AUTH_XID`, or [`Script::auth_digest`]).
pub fn auth(scheme: &str, credentials: &str) -> RequestBody {
    RequestBody::Auth(AuthPacket {
        auth_type: 0,
        scheme: scheme.to_owned(),
        auth: data(credentials.as_bytes()),
    })
}

/// Multi op: create.
pub fn op_create(path: &str, bytes: &[u8], mode: CreateMode) -> MultiOp {
    MultiOp::Create(create_request(path, bytes, open_acl(), mode))
}

/// Multi op: create2.
pub fn op_create2(path: &str, bytes: &[u8], mode: CreateMode) -> MultiOp {
    MultiOp::Create2(create_request(path, bytes, open_acl(), mode))
}

/// Multi op: delete.
pub fn op_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

/// Multi op: setData.
pub fn op_set_data(path: &str, bytes: &[u8], version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.to_owned(),
        data: data(bytes),
        version,
    })
}

/// Multi op: check.
pub fn op_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.to_owned(),
        version,
    })
}

/// Multi op: getData (multiRead).
pub fn op_get_data(path: &str) -> MultiOp {
    MultiOp::GetData(GetDataRequest {
        path: path.to_owned(),
        watch: false,
    })
}

/// Multi op: getChildren (multiRead).
pub fn op_get_children(path: &str) -> MultiOp {
    MultiOp::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch: false,
    })
}

/// setWatches2 lists (the zxid is filled in by [`Script::set_watches_since`]).
pub fn watches(data: &[&str], exist: &[&str], child: &[&str]) -> SetWatches2 {
    let v = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect();
    SetWatches2 {
        relative_zxid: 0,
        data_watches: v(data),
        exist_watches: v(exist),
        child_watches: v(child),
        persistent_watches: Vec::new(),
        persistent_recursive_watches: Vec::new(),
    }
}

/// The digest-scheme id of `user:password`: `user:base64(sha1("user:password"))`, as Apache's
/// `DigestAuthenticationProvider.generateDigest` computes it.
pub fn digest_id(user_password: &str) -> String {
    use base64::Engine;
    use sha1::Digest;
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = sha1::Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// An ACL entry.
pub fn acl_entry(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl::new(perms, zk_proto::Id::new(scheme, id))
}
