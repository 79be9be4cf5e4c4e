//! createSession and closeSession txns.

use std::collections::BTreeSet;

use zk_proto::records::txn::{CloseSessionTxn, CreateSessionTxn};
use zk_proto::{OpCode, TxnBody, TxnHeader};

use super::{raw_parent, Record, View};
use crate::tree::OwnerKind;
use crate::txn::{Txn, Zxid};

/// The createSession txn for a new session (`CreateSessionTxn(timeout)`); `digest` from
/// [`unchanged_digest`](super::unchanged_digest).
pub fn create_session_txn(
    session: i64,
    timeout: i32,
    zxid: Zxid,
    time: i64,
    digest: Option<zk_proto::records::txn::TxnDigest>,
) -> Txn {
    Txn {
        header: TxnHeader {
            client_id: session,
            cxid: 0,
            zxid,
            time,
            txn_type: OpCode::CreateSession.code(),
        },
        body: TxnBody::CreateSession(CreateSessionTxn { timeout }),
        digest,
    }
}

/// Preps closeSession: lists the session's ephemerals as the tree plus pending changes will
/// hold them, and records their deletion.
pub(super) fn close(v: &mut View<'_>) -> (i32, TxnBody) {
    let mut es: BTreeSet<String> = v.tree.ephemerals(v.session).cloned().collect();
    let mut changes: Vec<(String, bool)> = Vec::new();
    for (path, rec) in v.pending_records() {
        match &rec.stat {
            None => changes.push((path.clone(), false)),
            Some(s) if OwnerKind::of(s.ephemeral_owner) == OwnerKind::Ephemeral(v.session) => {
                changes.push((path.clone(), true))
            }
            _ => {}
        }
    }
    for (p, add) in changes {
        if add {
            es.insert(p);
        } else {
            es.remove(&p);
        }
    }
    for path in &es {
        let Ok(parent_path) = raw_parent(path).map(str::to_string) else {
            continue;
        };
        if let (Ok(parent), Ok(node)) = (v.record(&parent_path), v.record(path)) {
            let mut ps = parent.stat.clone();
            if let Some(s) = ps.as_mut() {
                s.pzxid = v.zxid;
            }
            v.put(
                &parent_path,
                Record {
                    stat: ps,
                    child_count: parent.child_count - 1,
                    ..parent
                },
            );
            v.put(path, Record { stat: None, ..node });
        }
    }
    (
        OpCode::CloseSession.code(),
        TxnBody::CloseSession(CloseSessionTxn {
            paths_to_delete: es.into_iter().collect(),
        }),
    )
}

/// The closeSession txn the server issues when a session expires.
pub fn close_session_txn(
    tree: &crate::tree::DataTree,
    pending: &mut super::PendingChanges,
    session: i64,
    zxid: Zxid,
    time: i64,
    config: super::PrepConfig,
) -> Txn {
    let ids = crate::acl::AuthIds::default();
    super::prep_write(
        super::PrepInput {
            tree,
            pending,
            zxid,
            time,
            session,
            session_live: true,
            cxid: 0,
            ids: &ids,
            config,
        },
        &zk_proto::RequestBody::CloseSession,
    )
}
