//! `DataTree::apply`: the one deterministic function through which every state change goes
//! (`DataTree.processTxn` plus the session bookkeeping of `ZooKeeperServer.processTxn`).

use std::sync::Arc;

use bytes::Bytes;
use zk_proto::records::txn::{CloseSessionTxn, Txn as SubTxn};
use zk_proto::{Acl, ErrorCode, EventType, MultiResult, OpCode, Stat, TxnBody, TxnHeader};

use super::digest::node_digest;
use super::{compact_data, new_stat, Children, DataTree, Node, OwnerKind};
use crate::acl::AclList;
use crate::txn::Zxid;

/// Which watch table(s) a trigger consults (Apache keeps data and child watches apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// Data and exist watches (and persistent ones).
    Data,
    /// Child watches (and persistent ones).
    Child,
    /// A delete: data watches, then child watches of the same path not already notified.
    DataThenChild,
}

/// A watch trigger produced by a change: the event to fire, where, and the ACL that decides
/// who may see it (`ServerCnxn.process(event, znodeAcl)` checks READ).
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The path the event names.
    pub path: String,
    /// The event type.
    pub event: EventType,
    /// The watch tables to consult.
    pub kind: TriggerKind,
    /// The ACL of the node the event is about.
    pub acl: AclList,
}

/// The result of applying one txn, as the reply needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnResult {
    /// A node was created (any create flavour).
    Created {
        /// The actual path (with the sequential suffix).
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// A node was deleted.
    Deleted,
    /// setData: the new stat.
    DataSet {
        /// The node's stat after the change.
        stat: Stat,
    },
    /// setACL: the new stat.
    AclSet {
        /// The node's stat after the change.
        stat: Stat,
    },
    /// A version check passed.
    Checked,
    /// A multi: one result per op, in Apache's layout.
    Multi {
        /// Per-op results.
        results: Vec<MultiResult>,
    },
    /// A session was created.
    SessionCreated,
    /// A session was closed and its ephemerals deleted.
    SessionClosed,
    /// The txn failed (an ErrorTxn, or an inconsistency while applying).
    Error(ErrorCode),
}

/// What `apply` returns: the result for the reply and the watches to fire, in order.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    /// The result.
    pub result: TxnResult,
    /// Triggers in the order Apache fires them.
    pub triggers: Vec<Trigger>,
}

fn code(e: i32) -> ErrorCode {
    ErrorCode::from_code(e).unwrap_or(ErrorCode::SystemError)
}

impl DataTree {
    /// Applies one txn. Never panics: an inconsistent txn (e.g. a create whose parent is gone)
    /// yields [`TxnResult::Error`], as Apache's `processTxn` turns the KeeperException into
    /// `rc.err`. Updates the last applied zxid and the digest bookkeeping.
    ///
    /// Replaying a log over a fuzzy snapshot re-applies txns whose effects the snapshot may
    /// already hold; this is idempotent in Apache's way: a create that finds its node answers
    /// NodeExists but still raises the parent's cversion/pzxid to the txn's (for `create`
    /// txns, as `processTxn` does), and a delete that finds no node still removes the child
    /// name and raises the parent's pzxid (`deleteNode`). Compare the logged digest with
    /// [`DataTree::compare_digest`] afterwards.
    pub fn apply(&mut self, header: &TxnHeader, body: &TxnBody) -> ApplyOutcome {
        let mut triggers = Vec::new();
        let result = self.apply_one(header, body, &mut triggers);
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        self.after_txn(header.zxid);
        ApplyOutcome { result, triggers }
    }

    fn apply_one(&mut self, h: &TxnHeader, body: &TxnBody, tr: &mut Vec<Trigger>) -> TxnResult {
        let r = match body {
            TxnBody::Create(t) => {
                let owner = if t.ephemeral { h.client_id } else { 0 };
                let r = self.create_node(&t.path, &t.data, &t.acl, owner, t.parent_cversion, h, tr);
                if r == Err(ErrorCode::NodeExists) && h.txn_type == OpCode::Create.code() {
                    // processTxn: the node is already there (replay over a fuzzy snapshot,
                    // where it was deleted and re-created by another session after its
                    // parent was serialized): bring the parent's cversion/pzxid forward.
                    match split(&t.path) {
                        Some((parent, _)) => self
                            .set_cversion_pzxid(parent, t.parent_cversion, h.zxid)
                            .and(r),
                        None => Err(ErrorCode::NoNode),
                    }
                } else {
                    r
                }
            }
            TxnBody::CreateContainer(t) => self.create_node(
                &t.path,
                &t.data,
                &t.acl,
                super::CONTAINER_EPHEMERAL_OWNER,
                t.parent_cversion,
                h,
                tr,
            ),
            TxnBody::CreateTtl(t) => {
                let owner = OwnerKind::ttl_owner(t.ttl).unwrap_or(super::EXTENDED_MASK);
                self.create_node(&t.path, &t.data, &t.acl, owner, t.parent_cversion, h, tr)
            }
            TxnBody::Delete(t) => self
                .delete_node(&t.path, h.zxid, tr)
                .map(|()| TxnResult::Deleted),
            TxnBody::SetData(t) => self
                .set_data(&t.path, t.data.as_deref(), t.version, h, tr)
                .map(|stat| TxnResult::DataSet { stat }),
            TxnBody::SetAcl(t) => self
                .set_acl(&t.path, &t.acl, t.version)
                .map(|stat| TxnResult::AclSet { stat }),
            TxnBody::Check(_) => Ok(TxnResult::Checked),
            TxnBody::CreateSession(t) => {
                self.sessions.insert(h.client_id, t.timeout);
                Ok(TxnResult::SessionCreated)
            }
            TxnBody::CloseSession(t) => {
                self.kill_session(h.client_id, h.zxid, t, tr);
                Ok(TxnResult::SessionClosed)
            }
            TxnBody::Error(e) => Ok(TxnResult::Error(code(e.err))),
            TxnBody::Multi(m) => Ok(self.apply_multi(h, &m.txns, tr)),
        };
        r.unwrap_or_else(TxnResult::Error)
    }

    fn apply_multi(&mut self, h: &TxnHeader, txns: &[SubTxn], tr: &mut Vec<Trigger>) -> TxnResult {
        let failed = txns.iter().any(|t| t.txn_type == OpCode::Error.code());
        let mut post_failed = false;
        let mut results = Vec::with_capacity(txns.len());
        for sub in txns {
            let body = match sub.body() {
                Ok(b) => b,
                Err(_) => {
                    results.push(MultiResult::Error {
                        err: ErrorCode::MarshallingError.code(),
                    });
                    continue;
                }
            };
            if let TxnBody::Error(e) = &body {
                post_failed = true;
                results.push(MultiResult::Error { err: e.err });
                continue;
            }
            if failed {
                let err = if post_failed {
                    ErrorCode::RuntimeInconsistency
                } else {
                    ErrorCode::Ok
                };
                results.push(MultiResult::Error { err: err.code() });
                continue;
            }
            let sub_h = TxnHeader {
                txn_type: sub.txn_type,
                ..h.clone()
            };
            let r = self.apply_one(&sub_h, &body, tr);
            results.push(match (r, OpCode::try_from(sub.txn_type)) {
                (TxnResult::Created { path, .. }, Ok(OpCode::Create)) => {
                    MultiResult::Create { path }
                }
                (TxnResult::Created { path, stat }, _) => MultiResult::Create2 { path, stat },
                (TxnResult::Deleted, _) => MultiResult::Delete,
                (TxnResult::DataSet { stat }, _) => MultiResult::SetData { stat },
                (TxnResult::Checked, _) => MultiResult::Check,
                (TxnResult::Error(e), _) => MultiResult::Error { err: e.code() },
                _ => MultiResult::Error {
                    err: ErrorCode::MarshallingError.code(),
                },
            });
        }
        TxnResult::Multi { results }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        h: &TxnHeader,
        tr: &mut Vec<Trigger>,
    ) -> Result<TxnResult, ErrorCode> {
        let (parent_path, _) = split(path).ok_or(ErrorCode::NoNode)?;
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let acl = self.acls.intern(acl);
        let enabled = self.digest_enabled();
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        let before = parent.stat.digest();
        let mut cv = parent_cversion;
        if cv == -1 {
            cv = parent.stat.cversion + 1;
        }
        // A replayed create of a node created and deleted inside a fuzzy snapshot's range must
        // not move cversion/pzxid backwards: only raise them.
        if cv > parent.stat.cversion {
            parent.stat.cversion = cv;
            parent.stat.pzxid = h.zxid;
        }
        let key: Arc<str> = path.into();
        parent.children.insert(key.clone());
        let parent_acl = parent.acl.clone();
        let after = node_digest(enabled, parent_path, parent);
        parent.stat.set_digest(after);
        self.digest_change(before, after);
        let mut node = Node {
            data: compact_data(data.as_deref()),
            acl: acl.clone(),
            stat: new_stat(h.zxid, h.time, owner).into(),
            children: Children::default(),
        };
        node.stat.set_digest(node_digest(enabled, path, &node));
        let stat = node.client_stat();
        self.digest_change(0, node.stat.digest());
        self.nodes.insert(key, Box::new(node));
        self.index_owner(path, owner);
        tr.push(Trigger {
            path: path.to_string(),
            event: EventType::NodeCreated,
            kind: TriggerKind::Data,
            acl,
        });
        tr.push(Trigger {
            path: parent_path.to_string(),
            event: EventType::NodeChildrenChanged,
            kind: TriggerKind::Child,
            acl: parent_acl,
        });
        Ok(TxnResult::Created {
            path: path.to_string(),
            stat,
        })
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: Zxid,
        tr: &mut Vec<Trigger>,
    ) -> Result<(), ErrorCode> {
        let (parent_path, _) = split(path).ok_or(ErrorCode::NoNode)?;
        let enabled = self.digest_enabled();
        // deleteNode: the parent loses the name and gets the pzxid even when the child is
        // already gone (replay over a fuzzy snapshot that missed it); only raise pzxid, so a
        // later create's pzxid is not overwritten.
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        let before = parent.stat.digest();
        parent.children.remove(path);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let parent_acl = parent.acl.clone();
        let after = node_digest(enabled, parent_path, parent);
        parent.stat.set_digest(after);
        self.digest_change(before, after);
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.digest_change(node.stat.digest(), 0);
        self.unindex_owner(path, node.stat.ephemeral_owner);
        tr.push(Trigger {
            path: path.to_string(),
            event: EventType::NodeDeleted,
            kind: TriggerKind::DataThenChild,
            acl: node.acl,
        });
        tr.push(Trigger {
            path: parent_path.to_string(),
            event: EventType::NodeChildrenChanged,
            kind: TriggerKind::Child,
            acl: parent_acl,
        });
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        h: &TxnHeader,
        tr: &mut Vec<Trigger>,
    ) -> Result<Stat, ErrorCode> {
        let enabled = self.digest_enabled();
        let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        let before = n.stat.digest();
        n.data = compact_data(data);
        n.stat.mtime = h.time;
        n.stat.mzxid = h.zxid;
        n.stat.version = version;
        let after = node_digest(enabled, path, n);
        n.stat.set_digest(after);
        tr.push(Trigger {
            path: path.to_string(),
            event: EventType::NodeDataChanged,
            kind: TriggerKind::Data,
            acl: n.acl.clone(),
        });
        let stat = n.client_stat();
        self.digest_change(before, after);
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let acl = self.acls.intern(acl);
        let enabled = self.digest_enabled();
        let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        let before = n.stat.digest();
        n.acl = acl;
        n.stat.aversion = version;
        let after = node_digest(enabled, path, n);
        n.stat.set_digest(after);
        let stat = n.client_stat();
        self.digest_change(before, after);
        Ok(stat)
    }

    /// `DataTree.setCversionPzxid`: raise a node's cversion (and set its pzxid) when
    /// `cversion` (-1: current + 1) is larger than the current one.
    fn set_cversion_pzxid(
        &mut self,
        path: &str,
        cversion: i32,
        zxid: Zxid,
    ) -> Result<(), ErrorCode> {
        let enabled = self.digest_enabled();
        let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        let cv = if cversion == -1 {
            n.stat.cversion + 1
        } else {
            cversion
        };
        if cv > n.stat.cversion {
            let before = n.stat.digest();
            n.stat.cversion = cv;
            n.stat.pzxid = zxid;
            let after = node_digest(enabled, path, n);
            n.stat.set_digest(after);
            self.digest_change(before, after);
        }
        Ok(())
    }

    fn kill_session(
        &mut self,
        session: i64,
        zxid: Zxid,
        t: &CloseSessionTxn,
        tr: &mut Vec<Trigger>,
    ) {
        self.sessions.remove(&session);
        for p in &t.paths_to_delete {
            let _ = self.delete_node(p, zxid, tr);
        }
        let rest: Vec<String> = self.ephemerals(session).cloned().collect();
        for p in rest {
            let _ = self.delete_node(&p, zxid, tr);
        }
        // Apache takes the session's set out before deleting: nothing stays indexed.
        self.ephemerals.remove(&session);
    }
}

/// Splits a path into parent and last component (`/a` -> (`/`, `a`)); `None` for the root.
fn split(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    let name = &path[i + 1..];
    if name.is_empty() {
        return None;
    }
    Some((if i == 0 { "/" } else { &path[..i] }, name))
}
