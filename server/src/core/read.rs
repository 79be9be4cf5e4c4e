//! Read handlers (`FinalRequestProcessor` for non-txn requests): served straight from the
//! committed tree, registering watches as they go.

use zk_proto::records::auth::{ClientInfo, WhoAmIResponse};
use zk_proto::records::children::{
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetEphemeralsResponse,
};
use zk_proto::records::node::{GetAclResponse, GetDataResponse, StatResponse, SyncResponse};
use zk_proto::{
    perms, AddWatchMode, ErrorCode, EventType, MultiOp, MultiResponse, MultiResult, RequestBody,
    ResponseBody, WatcherType,
};

use crate::acl::{check_acl, mask_digests, user_name, AuthIds};
use crate::tree::{DataTree, Node};
use crate::watch::{ConnId, Table, WatchManager};

/// A read's reply body.
#[derive(Debug)]
pub(super) enum ReadReply {
    Body(ResponseBody),
    ZeroErr,
}

fn body(b: ResponseBody) -> Result<ReadReply, ErrorCode> {
    Ok(ReadReply::Body(b))
}

fn node_for_read<'t>(tree: &'t DataTree, path: &str, ids: &AuthIds) -> Result<&'t Node, ErrorCode> {
    let n = tree.get(path).ok_or(ErrorCode::NoNode)?;
    check_acl(&n.acl, perms::READ, ids)?;
    Ok(n)
}

fn get_data(
    tree: &DataTree,
    watches: &mut WatchManager,
    conn: ConnId,
    ids: &AuthIds,
    path: &str,
    watch: bool,
) -> Result<(Option<bytes::Bytes>, zk_proto::Stat), ErrorCode> {
    let n = node_for_read(tree, path, ids)?;
    if watch {
        watches.add(Table::Data, path, conn);
    }
    Ok((n.data(), n.client_stat()))
}

fn get_children(
    tree: &DataTree,
    watches: &mut WatchManager,
    conn: ConnId,
    ids: &AuthIds,
    path: &str,
    watch: bool,
) -> Result<(Vec<String>, zk_proto::Stat), ErrorCode> {
    let n = node_for_read(tree, path, ids)?;
    if watch {
        watches.add(Table::Child, path, conn);
    }
    Ok((
        n.children.iter().map(|c| c.to_string()).collect(),
        n.client_stat(),
    ))
}

/// Serves one read. Events that must precede the reply (setWatches) go into `events`.
pub(super) fn serve(
    tree: &DataTree,
    watches: &mut WatchManager,
    conn: ConnId,
    session: i64,
    ids: &AuthIds,
    request: &RequestBody,
    events: &mut Vec<(EventType, String)>,
) -> Result<ReadReply, ErrorCode> {
    use RequestBody as R;
    match request {
        R::Exists(r) => {
            if r.path.contains('\0') {
                return Err(ErrorCode::BadArguments);
            }
            // Apache 3.8.0 answers exists without an ACL check (the differential suite shows a
            // node without READ for the caller still yields its Stat).
            if r.watch {
                watches.add(Table::Data, &r.path, conn);
            }
            let n = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
            body(ResponseBody::Stat(StatResponse {
                stat: n.client_stat(),
            }))
        }
        R::GetData(r) => {
            let (data, stat) = get_data(tree, watches, conn, ids, &r.path, r.watch)?;
            body(ResponseBody::GetData(GetDataResponse { data, stat }))
        }
        R::GetChildren(r) => {
            let (children, _) = get_children(tree, watches, conn, ids, &r.path, r.watch)?;
            body(ResponseBody::GetChildren(GetChildrenResponse { children }))
        }
        R::GetChildren2(r) => {
            let (children, stat) = get_children(tree, watches, conn, ids, &r.path, r.watch)?;
            body(ResponseBody::GetChildren2(GetChildren2Response {
                children,
                stat,
            }))
        }
        R::GetAcl(r) => {
            let n = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
            check_acl(&n.acl, perms::READ | perms::ADMIN, ids)?;
            let acl = if check_acl(&n.acl, perms::ADMIN, ids).is_ok() {
                n.acl.to_vec()
            } else {
                mask_digests(&n.acl)
            };
            body(ResponseBody::GetAcl(GetAclResponse {
                acl,
                stat: n.client_stat(),
            }))
        }
        R::GetAllChildrenNumber(r) => {
            node_for_read(tree, &r.path, ids)?;
            body(ResponseBody::GetAllChildrenNumber(
                GetAllChildrenNumberResponse {
                    total_number: tree.descendant_count(&r.path) as i32,
                },
            ))
        }
        R::Sync(r) => body(ResponseBody::Sync(SyncResponse {
            path: r.path.clone(),
        })),
        R::CheckWatches(r) | R::RemoveWatches(r) => {
            let kind =
                WatcherType::try_from(r.watcher_type).map_err(|_| ErrorCode::MarshallingError)?;
            let found = if matches!(request, R::CheckWatches(_)) {
                watches.contains(&r.path, kind)
            } else {
                watches.remove(&r.path, kind, conn)
            };
            if found {
                body(ResponseBody::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        R::AddWatch(r) => {
            let mode = AddWatchMode::try_from(r.mode).map_err(|_| ErrorCode::MarshallingError)?;
            watches.add_persistent(&r.path, conn, mode == AddWatchMode::PersistentRecursive);
            Ok(ReadReply::ZeroErr)
        }
        R::SetWatches(s) => {
            set_watches(
                tree,
                watches,
                conn,
                s.relative_zxid,
                [&s.data_watches, &s.exist_watches, &s.child_watches],
                &[],
                &[],
                events,
            );
            body(ResponseBody::Empty)
        }
        R::SetWatches2(s) => {
            set_watches(
                tree,
                watches,
                conn,
                s.relative_zxid,
                [&s.data_watches, &s.exist_watches, &s.child_watches],
                &s.persistent_watches,
                &s.persistent_recursive_watches,
                events,
            );
            body(ResponseBody::Empty)
        }
        R::WhoAmI => body(ResponseBody::WhoAmI(WhoAmIResponse {
            client_info: ids
                .ids()
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: user_name(id),
                })
                .collect(),
        })),
        R::GetEphemerals(r) => {
            let prefix = r.path.trim();
            let all = prefix.is_empty() || prefix == "/";
            let ephemerals = tree
                .ephemerals(session)
                .filter(|p| all || p.starts_with(r.path.as_str()))
                .cloned()
                .collect();
            body(ResponseBody::GetEphemerals(GetEphemeralsResponse {
                ephemerals,
            }))
        }
        R::MultiRead(m) => {
            let mut results = Vec::with_capacity(m.ops.len());
            for op in &m.ops {
                let r = match op {
                    MultiOp::GetData(g) => get_data(tree, watches, conn, ids, &g.path, g.watch)
                        .map(|(data, stat)| MultiResult::GetData { data, stat }),
                    MultiOp::GetChildren(g) => {
                        get_children(tree, watches, conn, ids, &g.path, g.watch)
                            .map(|(children, _)| MultiResult::GetChildren { children })
                    }
                    _ => return Err(ErrorCode::MarshallingError),
                };
                results.push(r.unwrap_or_else(|e| MultiResult::Error { err: e.code() }));
            }
            body(ResponseBody::Multi(MultiResponse { results }))
        }
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// `DataTree.setWatches`: fire at once what changed since `relative_zxid`, re-register the rest.
#[allow(clippy::too_many_arguments)]
fn set_watches(
    tree: &DataTree,
    watches: &mut WatchManager,
    conn: ConnId,
    relative_zxid: i64,
    [data, exist, child]: [&Vec<String>; 3],
    persistent: &[String],
    recursive: &[String],
    events: &mut Vec<(EventType, String)>,
) {
    for p in data {
        match tree.get(p) {
            None => events.push((EventType::NodeDeleted, p.clone())),
            Some(n) if n.stat.mzxid > relative_zxid => {
                events.push((EventType::NodeDataChanged, p.clone()))
            }
            Some(_) => watches.add(Table::Data, p, conn),
        }
    }
    for p in exist {
        if tree.get(p).is_some() {
            events.push((EventType::NodeCreated, p.clone()));
        } else {
            watches.add(Table::Data, p, conn);
        }
    }
    for p in child {
        match tree.get(p) {
            None => events.push((EventType::NodeDeleted, p.clone())),
            Some(n) if n.stat.pzxid > relative_zxid => {
                events.push((EventType::NodeChildrenChanged, p.clone()))
            }
            Some(_) => watches.add(Table::Child, p, conn),
        }
    }
    for p in persistent {
        watches.restore_persistent(p, conn, false);
    }
    for p in recursive {
        watches.restore_persistent(p, conn, true);
    }
}
