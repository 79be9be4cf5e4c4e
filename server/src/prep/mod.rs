//! Prep: a write request becomes a txn (`PrepRequestProcessor`).
//!
//! Prep runs ahead of apply: a write is validated against the committed tree *plus* the changes
//! of txns that are still on their way to disk ([`PendingChanges`], Apache's
//! `outstandingChanges`), so pipelined writes see each other. Each request is prepped into a
//! scratch overlay ([`View`]); on success the overlay is merged into the pending changes, on
//! failure it is dropped — which is also how a multi sees its earlier ops and rolls back.
//!
//! One file per opcode family: `create.rs`, `delete.rs`, `update.rs` (setData, setACL, check),
//! `multi.rs`, `session.rs` (createSession, closeSession).

mod create;
mod delete;
mod multi;
mod session;
#[cfg(test)]
mod tests;
mod update;

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use zk_proto::records::txn::{ErrorTxn, TxnDigest};
use zk_proto::{ErrorCode, OpCode, RequestBody, StatPersisted, TxnBody, TxnHeader};

use crate::acl::{AclList, AuthIds};
use crate::hash::FastMap;
use crate::tree::DataTree;
use crate::txn::{Txn, Zxid};

pub use session::{close_session_txn, create_session_txn};

/// Prep settings that come from the server config.
#[derive(Debug, Clone, Copy)]
pub struct PrepConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// `zookeeper.digest.enabled`: each txn carries the tree digest after it.
    pub digest: bool,
}

impl Default for PrepConfig {
    fn default() -> Self {
        PrepConfig {
            extended_types: true,
            digest: true,
        }
    }
}

/// What prep knows of a node: the latest committed or pending state (`ChangeRecord`).
#[derive(Debug, Clone)]
pub struct Record {
    /// The zxid of the txn that produced this record; -1 for one read from the tree.
    pub zxid: Zxid,
    /// The persisted stat; `None` once a pending txn deletes the node.
    pub stat: Option<StatPersisted>,
    /// Number of children.
    pub child_count: i32,
    /// The ACL.
    pub acl: AclList,
    /// The data.
    pub data: Option<Bytes>,
}

impl Record {
    /// The node digest of the state this record describes (0 for a pending deletion).
    fn digest(&self, path: &str) -> i64 {
        match &self.stat {
            Some(stat) => {
                zk_storage::node_digest(path, self.data.as_deref().unwrap_or_default(), stat)
            }
            None => 0,
        }
    }
}

/// Changes of txns prepped but not yet applied, by path (`outstandingChanges`).
#[derive(Debug, Default)]
pub struct PendingChanges {
    by_path: FastMap<String, Record>,
    /// The node digest of each pending record (0 for a deletion), so that the next change of
    /// the same path need not recompute it.
    digests: FastMap<String, i64>,
    order: VecDeque<(Zxid, String)>,
    /// The tree digest once every pending change is applied (`precalculatedDigest.treeDigest`
    /// of the last outstanding change); `None` when nothing is pending (the tree's is current).
    digest: Option<i64>,
}

impl PendingChanges {
    /// Forgets the records of txns up to `zxid`, once they are applied to the tree.
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            let (z, path) = self.order.pop_front().expect("front exists");
            if self.by_path.get(&path).is_some_and(|r| r.zxid == z) {
                self.by_path.remove(&path);
                self.digests.remove(&path);
            }
        }
        if self.order.is_empty() {
            self.digest = None;
        }
    }

    /// The tree digest after every pending change (`getCurrentTreeDigest`).
    fn current_digest(&self, tree: &DataTree) -> i64 {
        self.digest.unwrap_or_else(|| tree.digest())
    }

    /// Number of paths with pending changes.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// Lands a successful txn's overlay on the pending changes. With digests on, returns the
    /// tree digest after it (`precalculateDigest`): each changed path's new digest replaces the
    /// one it has now (pending, else the tree's cached one).
    fn commit(
        &mut self,
        tree: &DataTree,
        overlay: HashMap<String, Record>,
        digests: bool,
    ) -> Option<i64> {
        let mut d = digests.then(|| zk_storage::TreeDigest::from_value(self.current_digest(tree)));
        let changed = !overlay.is_empty();
        for (path, rec) in overlay {
            if let Some(d) = d.as_mut() {
                let old = match self.digests.get(&path) {
                    Some(old) => *old,
                    None => tree.node_digest(&path),
                };
                let new = rec.digest(&path);
                d.remove(old);
                d.add(new);
                self.digests.insert(path.clone(), new);
            }
            self.order.push_back((rec.zxid, path.clone()));
            self.by_path.insert(path, rec);
        }
        let d = d.map(|d| d.value());
        if changed && d.is_some() {
            self.digest = d;
        }
        d
    }
}

/// The view one request is prepped against: overlay, then pending changes, then the tree.
pub struct View<'a> {
    tree: &'a DataTree,
    pending: &'a PendingChanges,
    overlay: HashMap<String, Record>,
    /// The zxid the txn will carry.
    pub zxid: Zxid,
    /// The txn time (wall clock, ms).
    pub time: i64,
    /// The requesting session.
    pub session: i64,
    /// Whether the session is live (not closing or expired).
    pub session_live: bool,
    /// The requester's ids.
    pub ids: &'a AuthIds,
    /// Settings.
    pub config: PrepConfig,
}

impl View<'_> {
    /// The record for `path` (`getRecordForPath`): `NoNode` if absent or pending deletion.
    pub fn record(&self, path: &str) -> Result<Record, ErrorCode> {
        let rec = if let Some(r) = self.overlay.get(path) {
            Some(r.clone())
        } else if let Some(r) = self.pending.by_path.get(path) {
            Some(r.clone())
        } else {
            self.tree.get(path).map(|n| Record {
                zxid: -1,
                stat: Some(n.stat.persisted()),
                child_count: n.children.len() as i32,
                acl: n.acl.clone(),
                data: n.data(),
            })
        };
        match rec {
            Some(r) if r.stat.is_some() => Ok(r),
            _ => Err(ErrorCode::NoNode),
        }
    }

    /// Records a change produced by this txn.
    pub fn put(&mut self, path: &str, mut rec: Record) {
        rec.zxid = self.zxid;
        self.overlay.insert(path.to_string(), rec);
    }

    /// `sessionTracker.checkSession`.
    pub fn check_session(&self) -> Result<(), ErrorCode> {
        if self.session_live {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    /// Every pending path (committed overlay excluded), for closeSession.
    fn pending_records(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.pending.by_path.iter().chain(self.overlay.iter())
    }

    /// An ACL list for a record (interned lists are shared, fresh ones allocated).
    pub fn acl_list(acl: Vec<zk_proto::Acl>) -> AclList {
        acl.into()
    }
}

/// Everything prep needs besides the request.
pub struct PrepInput<'a> {
    /// The committed tree.
    pub tree: &'a DataTree,
    /// Pending changes (updated on success).
    pub pending: &'a mut PendingChanges,
    /// The zxid to assign.
    pub zxid: Zxid,
    /// Wall-clock time in ms.
    pub time: i64,
    /// Session id.
    pub session: i64,
    /// Whether the session is live.
    pub session_live: bool,
    /// Request xid.
    pub cxid: i32,
    /// The requester's ids.
    pub ids: &'a AuthIds,
    /// Settings.
    pub config: PrepConfig,
}

/// Preps one write request into its txn. A failed request still yields a txn: an ErrorTxn
/// (type -1) carrying the error, with the same zxid (Apache logs those too). A failed multi
/// stays a MultiTxn whose failing op and later ops are ErrorTxns.
pub fn prep_write(input: PrepInput<'_>, request: &RequestBody) -> Txn {
    let PrepInput {
        tree,
        pending,
        zxid,
        time,
        session,
        session_live,
        cxid,
        ids,
        config,
    } = input;
    let mut view = View {
        tree,
        pending,
        overlay: HashMap::new(),
        zxid,
        time,
        session,
        session_live,
        ids,
        config,
    };
    let op = request.opcode();
    let result = match request {
        RequestBody::Create(r) | RequestBody::Create2(r) | RequestBody::CreateContainer(r) => {
            create::prep(&mut view, op, &r.path, &r.data, &r.acl, r.flags, -1)
        }
        RequestBody::CreateTtl(r) => {
            create::prep(&mut view, op, &r.path, &r.data, &r.acl, r.flags, r.ttl)
        }
        RequestBody::Delete(r) => delete::prep(&mut view, &r.path, r.version),
        RequestBody::SetData(r) => update::set_data(&mut view, &r.path, &r.data, r.version),
        RequestBody::SetAcl(r) => update::set_acl(&mut view, &r.path, &r.acl, r.version),
        RequestBody::Check(r) => update::check(&mut view, &r.path, r.version),
        RequestBody::Multi(m) => Ok(multi::prep(&mut view, &m.ops)),
        RequestBody::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
        RequestBody::CloseSession => Ok(session::close(&mut view)),
        _ => Err(ErrorCode::Unimplemented),
    };
    // Apache sets the digest of a successful txn to the tree digest after it, and of a txn
    // that changes nothing (createSession, a failed multi) to the current one; a failed
    // single op becomes an ErrorTxn without a digest.
    let (txn_type, body, digest) = match result {
        Ok((t, body)) => {
            let overlay = std::mem::take(&mut view.overlay);
            let digest = pending.commit(tree, overlay, config.digest);
            (t, body, digest.filter(|_| t != OpCode::Error.code()))
        }
        Err(e) => (
            OpCode::Error.code(),
            TxnBody::Error(ErrorTxn { err: e.code() }),
            None,
        ),
    };
    Txn {
        header: TxnHeader {
            client_id: session,
            cxid,
            zxid,
            time,
            txn_type,
        },
        body,
        digest: digest.map(txn_digest),
    }
}

fn txn_digest(tree_digest: i64) -> TxnDigest {
    TxnDigest {
        version: zk_storage::DIGEST_VERSION,
        tree_digest,
    }
}

/// The digest a txn that changes no node carries (createSession): the tree digest after
/// every pending change, or `None` with digests disabled.
pub fn unchanged_digest(
    tree: &DataTree,
    pending: &PendingChanges,
    config: PrepConfig,
) -> Option<TxnDigest> {
    config
        .digest
        .then(|| txn_digest(pending.current_digest(tree)))
}

/// Preps the container reaper's deleteContainer for `path` (`ContainerManager`).
pub fn prep_delete_container(
    tree: &DataTree,
    pending: &mut PendingChanges,
    zxid: Zxid,
    time: i64,
    ids: &AuthIds,
    config: PrepConfig,
    path: &str,
) -> Option<Txn> {
    let mut view = View {
        tree,
        pending,
        overlay: HashMap::new(),
        zxid,
        time,
        session: 0,
        session_live: true,
        ids,
        config,
    };
    let body = delete::prep_container(&mut view, path).ok()?;
    let overlay = std::mem::take(&mut view.overlay);
    let digest = pending.commit(tree, overlay, config.digest);
    Some(Txn {
        header: TxnHeader {
            client_id: 0,
            cxid: 0,
            zxid,
            time,
            txn_type: OpCode::DeleteContainer.code(),
        },
        body,
        digest: digest.map(txn_digest),
    })
}

/// The parent of a raw request path as Apache computes it (`path.substring(0, lastSlash)`, the
/// empty string standing for the root); `BadArguments` without a slash or with a NUL.
pub(crate) fn raw_parent(path: &str) -> Result<&str, ErrorCode> {
    let i = path.rfind('/').ok_or(ErrorCode::BadArguments)?;
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    Ok(if i == 0 { "/" } else { &path[..i] })
}

/// `PathUtils.validatePath` as prep uses it: `BadArguments`.
pub(crate) fn validate(path: &str) -> Result<(), ErrorCode> {
    zk_proto::validate_path(path, false).map_err(|_| ErrorCode::BadArguments)
}

/// `checkAndIncVersion`.
pub(crate) fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// The data a txn (and then the tree) keeps, in an allocation of its own size.
///
/// A request's data is a zero-copy slice of the connection's read buffer; kept as is, every
/// node would pin the whole read chunk it arrived in (tens of KiB shared by the frames of one
/// read) for as long as the node lives. One copy of the payload per write bounds a node's
/// memory by its own size.
pub(super) fn own_data(data: &Option<Bytes>) -> Option<Bytes> {
    data.as_deref().map(Bytes::copy_from_slice)
}
