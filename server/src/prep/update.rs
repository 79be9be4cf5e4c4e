//! setData, setACL and check.

use bytes::Bytes;
use zk_proto::records::txn::{CheckVersionTxn, SetAclTxn, SetDataTxn};
use zk_proto::{perms, Acl, ErrorCode, OpCode, TxnBody};

use super::{check_version, own_data, validate, Record, View};
use crate::acl::{check_acl, fixup_acl};

pub(super) fn set_data(
    v: &mut View<'_>,
    path: &str,
    data: &Option<Bytes>,
    version: i32,
) -> Result<(i32, TxnBody), ErrorCode> {
    v.check_session()?;
    validate(path)?;
    let node = v.record(path)?;
    check_acl(&node.acl, perms::WRITE, v.ids)?;
    let mut stat = node.stat.clone().expect("live record");
    let new_version = check_version(stat.version, version)?;
    stat.version = new_version;
    stat.mtime = v.time;
    stat.mzxid = v.zxid;
    v.put(
        path,
        Record {
            stat: Some(stat),
            data: own_data(data),
            ..node
        },
    );
    Ok((
        OpCode::SetData.code(),
        TxnBody::SetData(SetDataTxn {
            path: path.into(),
            data: own_data(data),
            version: new_version,
        }),
    ))
}

pub(super) fn set_acl(
    v: &mut View<'_>,
    path: &str,
    acl: &[Acl],
    version: i32,
) -> Result<(i32, TxnBody), ErrorCode> {
    v.check_session()?;
    validate(path)?;
    let acl = fixup_acl(acl, v.ids)?;
    let node = v.record(path)?;
    check_acl(&node.acl, perms::ADMIN, v.ids)?;
    let mut stat = node.stat.clone().expect("live record");
    let new_version = check_version(stat.aversion, version)?;
    stat.aversion = new_version;
    v.put(
        path,
        Record {
            stat: Some(stat),
            acl: View::acl_list(acl.clone()),
            ..node
        },
    );
    Ok((
        OpCode::SetAcl.code(),
        TxnBody::SetAcl(SetAclTxn {
            path: path.into(),
            acl,
            version: new_version,
        }),
    ))
}

pub(super) fn check(
    v: &mut View<'_>,
    path: &str,
    version: i32,
) -> Result<(i32, TxnBody), ErrorCode> {
    v.check_session()?;
    validate(path)?;
    let node = v.record(path)?;
    check_acl(&node.acl, perms::READ, v.ids)?;
    let stat = node.stat.as_ref().expect("live record");
    let next = check_version(stat.version, version)?;
    Ok((
        OpCode::Check.code(),
        TxnBody::Check(CheckVersionTxn {
            path: path.into(),
            version: next,
        }),
    ))
}
