//! create, create2, createContainer, createTTL (`pRequest2TxnCreate`).

use bytes::Bytes;
use zk_proto::records::txn::{CreateContainerTxn, CreateTtlTxn, CreateTxn};
use zk_proto::{perms, sequential_suffix, Acl, CreateMode, ErrorCode, OpCode, TxnBody};

use super::{own_data, raw_parent, validate, Record, View};
use crate::acl::{check_acl, fixup_acl};
use crate::tree::{new_stat, OwnerKind, CONTAINER_EPHEMERAL_OWNER};

/// Preps a create of any flavour; `ttl` is -1 for non-TTL opcodes.
pub(super) fn prep(
    v: &mut View<'_>,
    op: OpCode,
    path: &str,
    data: &Option<Bytes>,
    acl: &[Acl],
    flags: i32,
    ttl: i64,
) -> Result<(i32, TxnBody), ErrorCode> {
    let mode = CreateMode::try_from(flags).map_err(|_| ErrorCode::BadArguments)?;
    // validateCreateRequest
    if mode.is_ttl() && !v.config.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        OwnerKind::ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?;
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    v.check_session()?;
    // validatePathForCreate
    let parent_path = raw_parent(path)?.to_string();
    let acl = fixup_acl(acl, v.ids)?;
    let parent = v.record(&parent_path)?;
    check_acl(&parent.acl, perms::CREATE, v.ids)?;
    let parent_stat = parent.stat.clone().expect("record() returns live nodes");
    let mut path = path.to_string();
    if mode.is_sequential() {
        path.push_str(&sequential_suffix(parent_stat.cversion));
    }
    validate(&path)?;
    if v.record(&path).is_ok() {
        return Err(ErrorCode::NodeExists);
    }
    if OwnerKind::of(parent_stat.ephemeral_owner).is_ephemeral() {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let new_cversion = parent_stat.cversion.wrapping_add(1);
    let body = match op {
        OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
            path: path.clone(),
            data: own_data(data),
            acl: acl.clone(),
            parent_cversion: new_cversion,
        }),
        OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn {
            path: path.clone(),
            data: own_data(data),
            acl: acl.clone(),
            parent_cversion: new_cversion,
            ttl,
        }),
        _ => TxnBody::Create(CreateTxn {
            path: path.clone(),
            data: own_data(data),
            acl: acl.clone(),
            ephemeral: mode.is_ephemeral(),
            parent_cversion: new_cversion,
        }),
    };
    let owner = if mode.is_container() {
        CONTAINER_EPHEMERAL_OWNER
    } else if mode.is_ttl() {
        OwnerKind::ttl_owner(ttl).unwrap_or(0)
    } else if mode.is_ephemeral() {
        v.session
    } else {
        0
    };
    let mut parent_stat = parent_stat;
    parent_stat.cversion = new_cversion;
    parent_stat.pzxid = v.zxid;
    v.put(
        &parent_path,
        Record {
            stat: Some(parent_stat),
            child_count: parent.child_count + 1,
            ..parent
        },
    );
    v.put(
        &path,
        Record {
            zxid: v.zxid,
            stat: Some(new_stat(v.zxid, v.time, owner)),
            child_count: 0,
            acl: View::acl_list(acl),
            data: own_data(data),
        },
    );
    Ok((op.code(), body))
}
