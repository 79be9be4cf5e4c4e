//! multi: every op prepped in order against one overlay, so later ops see earlier ones.
//! On the first failure the overlay is dropped; that op becomes an ErrorTxn with its code and
//! every later op an ErrorTxn(RUNTIMEINCONSISTENCY). Apply later turns the earlier ops into
//! ErrorTxn(OK), giving Apache's reply layout.

use std::collections::HashMap;

use zk_proto::records::txn::{ErrorTxn, MultiTxn};
use zk_proto::{CreateMode, ErrorCode, MultiOp, OpCode, TxnBody};

use super::{create, delete, update, View};

/// The type a create op takes inside a multi: Apache rebuilds every create op from its flags
/// (`Op.create` -> `getOpcode(CreateMode)`), so create2 becomes create (its result carries no
/// stat), containers createContainer and TTL modes createTTL.
fn create_opcode(flags: i32) -> OpCode {
    match CreateMode::try_from(flags) {
        Ok(m) if m.is_ttl() => OpCode::CreateTtl,
        Ok(m) if m.is_container() => OpCode::CreateContainer,
        _ => OpCode::Create,
    }
}

pub(super) fn prep(v: &mut View<'_>, ops: &[MultiOp]) -> (i32, TxnBody) {
    // A read inside a write multi fails the whole request with MARSHALLINGERROR (no per-op
    // results), as Apache 3.8's PrepRequestProcessor does; it still consumes a zxid.
    if ops
        .iter()
        .any(|op| matches!(op, MultiOp::GetChildren(_) | MultiOp::GetData(_)))
    {
        return (
            OpCode::Error.code(),
            TxnBody::Error(ErrorTxn {
                err: ErrorCode::MarshallingError.code(),
            }),
        );
    }
    let mut txns = Vec::with_capacity(ops.len());
    let mut failed = false;
    for op in ops {
        let r = if failed {
            Err(ErrorCode::RuntimeInconsistency)
        } else {
            let r = match op {
                MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                    create::prep(
                        v,
                        create_opcode(r.flags),
                        &r.path,
                        &r.data,
                        &r.acl,
                        r.flags,
                        -1,
                    )
                }
                MultiOp::CreateTtl(r) => create::prep(
                    v,
                    create_opcode(r.flags),
                    &r.path,
                    &r.data,
                    &r.acl,
                    r.flags,
                    r.ttl,
                ),
                MultiOp::Delete(r) => delete::prep(v, &r.path, r.version),
                MultiOp::SetData(r) => update::set_data(v, &r.path, &r.data, r.version),
                MultiOp::Check(r) => update::check(v, &r.path, r.version),
                MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                    unreachable!("reads are rejected before the loop")
                }
            };
            if r.is_err() {
                failed = true;
                v.overlay = HashMap::new();
            }
            r
        };
        let (t, body) = match r {
            Ok(x) => x,
            Err(e) => (
                OpCode::Error.code(),
                TxnBody::Error(ErrorTxn { err: e.code() }),
            ),
        };
        txns.push(body.to_sub_txn(t));
    }
    (OpCode::Multi.code(), TxnBody::Multi(MultiTxn { txns }))
}
