//! delete and deleteContainer.

use zk_proto::records::txn::DeleteTxn;
use zk_proto::{perms, ErrorCode, OpCode, TxnBody};

use super::{check_version, raw_parent, Record, View};
use crate::acl::check_acl;
use crate::tree::{OwnerKind, CONFIG_NODE, QUOTA_NODE, ZOOKEEPER_NODE};

/// `DataTree.isSpecialPath`: nodes no client may delete.
pub(crate) fn is_special(path: &str) -> bool {
    matches!(path, "/" | ZOOKEEPER_NODE | QUOTA_NODE | CONFIG_NODE)
}

/// `getParentPathAndValidate`.
fn parent_of(path: &str) -> Result<String, ErrorCode> {
    let p = raw_parent(path)?;
    if is_special(path) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(p.to_string())
}

pub(super) fn prep(
    v: &mut View<'_>,
    path: &str,
    version: i32,
) -> Result<(i32, TxnBody), ErrorCode> {
    v.check_session()?;
    let parent_path = parent_of(path)?;
    let parent = v.record(&parent_path)?;
    check_acl(&parent.acl, perms::DELETE, v.ids)?;
    let node = v.record(path)?;
    check_version(node.stat.as_ref().map_or(0, |s| s.version), version)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    remove(v, &parent_path, parent, path, node);
    Ok((
        OpCode::Delete.code(),
        TxnBody::Delete(DeleteTxn { path: path.into() }),
    ))
}

/// The reaper's delete of an empty container or expired TTL node.
pub(super) fn prep_container(v: &mut View<'_>, path: &str) -> Result<TxnBody, ErrorCode> {
    let parent_path = parent_of(path)?;
    let node = v.record(path)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    let owner = node.stat.as_ref().map_or(0, |s| s.ephemeral_owner);
    if OwnerKind::of(owner).is_ephemeral() {
        return Err(ErrorCode::BadVersion);
    }
    let parent = v.record(&parent_path)?;
    remove(v, &parent_path, parent, path, node);
    Ok(TxnBody::Delete(DeleteTxn { path: path.into() }))
}

/// Records the deletion of `path` (parent: one child less, pzxid = zxid; cversion unchanged,
/// as Apache's prep leaves it).
pub(super) fn remove(
    v: &mut View<'_>,
    parent_path: &str,
    parent: Record,
    path: &str,
    node: Record,
) {
    let mut ps = parent.stat.clone();
    if let Some(s) = ps.as_mut() {
        s.pzxid = v.zxid;
    }
    v.put(
        parent_path,
        Record {
            stat: ps,
            child_count: parent.child_count - 1,
            ..parent
        },
    );
    v.put(
        path,
        Record {
            stat: None,
            child_count: 0,
            ..node
        },
    );
}
