//! multi and multiRead: several operations in one request, framed by [`MultiHeader`]s.
//!
//! A request is a sequence of `MultiHeader{opcode, done: false, err: -1}` + op record, closed by
//! `MultiHeader{-1, true, -1}`. A response is a sequence of `MultiHeader{type, false, err}` +
//! result record, closed the same way; an error result has type -1 and an [`ErrorResponse`] body.
//! When a multi fails, Apache answers OK for the ops before the failing one, the error for it, and
//! RUNTIMEINCONSISTENCY for the ops after it.

use bytes::{Bytes, BytesMut};

use crate::jute::Record;
use crate::records::children::{GetChildrenRequest, GetChildrenResponse};
use crate::records::header::MultiHeader;
use crate::records::node::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetDataRequest, GetDataResponse, SetDataRequest, StatResponse,
};
use crate::records::stat::Stat;
use crate::{DecodeError, OpCode};

/// The end-of-list marker of both requests and responses.
const END: MultiHeader = MultiHeader {
    opcode: -1,
    done: true,
    err: -1,
};

/// One operation of a multi (writes) or multiRead (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MultiOp {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The op's opcode, as written in its [`MultiHeader`].
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// The path the op addresses.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn write_body(&self, buf: &mut BytesMut) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.write(buf),
            MultiOp::CreateTtl(r) => r.write(buf),
            MultiOp::Delete(r) => r.write(buf),
            MultiOp::SetData(r) => r.write(buf),
            MultiOp::Check(r) => r.write(buf),
            MultiOp::GetChildren(r) => r.write(buf),
            MultiOp::GetData(r) => r.write(buf),
        }
    }

    fn read_body(opcode: i32, buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(match OpCode::try_from(opcode)? {
            OpCode::Create => MultiOp::Create(Record::read(buf)?),
            OpCode::Create2 => MultiOp::Create2(Record::read(buf)?),
            OpCode::CreateContainer => MultiOp::CreateContainer(Record::read(buf)?),
            OpCode::CreateTtl => MultiOp::CreateTtl(Record::read(buf)?),
            OpCode::Delete => MultiOp::Delete(Record::read(buf)?),
            OpCode::SetData => MultiOp::SetData(Record::read(buf)?),
            OpCode::Check => MultiOp::Check(Record::read(buf)?),
            OpCode::GetChildren => MultiOp::GetChildren(Record::read(buf)?),
            OpCode::GetData => MultiOp::GetData(Record::read(buf)?),
            _ => {
                return Err(DecodeError::BadValue {
                    what: "multi op type",
                    value: opcode.into(),
                })
            }
        })
    }
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The operations, applied in order and atomically (multi) or read in order (multiRead).
    pub ops: Vec<MultiOp>,
}

impl Record for MultiRequest {
    fn write(&self, buf: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                opcode: op.opcode().code(),
                done: false,
                err: -1,
            }
            .write(buf);
            op.write_body(buf);
        }
        END.write(buf);
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::read(buf)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            ops.push(MultiOp::read_body(h.opcode, buf)?);
        }
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// A create op (opcode create): the created path.
    Create {
        /// The created path.
        path: String,
    },
    /// A create2, createContainer or createTTL op: path and Stat.
    Create2 {
        /// The created path.
        path: String,
        /// The created node's Stat.
        stat: Stat,
    },
    /// A delete op.
    Delete,
    /// A setData op: the new Stat.
    SetData {
        /// The node's Stat after the change.
        stat: Stat,
    },
    /// A check op.
    Check,
    /// A getChildren op of a multiRead.
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// A getData op of a multiRead.
    GetData {
        /// The data.
        data: Option<Bytes>,
        /// The node's Stat.
        stat: Stat,
    },
    /// A failed op (or, in a failed multi, any op: OK before the failure, RUNTIMEINCONSISTENCY after).
    Error {
        /// The op's result code.
        err: i32,
    },
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let opcode = match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData { .. } => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetChildren { .. } => OpCode::GetChildren,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::Error { err } => {
                return MultiHeader {
                    opcode: OpCode::Error.code(),
                    done: false,
                    err: *err,
                }
            }
        };
        MultiHeader {
            opcode: opcode.code(),
            done: false,
            err: 0,
        }
    }
}

/// The body of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in request order.
    pub results: Vec<MultiResult>,
}

impl Record for MultiResponse {
    fn write(&self, buf: &mut BytesMut) {
        for r in &self.results {
            r.header().write(buf);
            match r {
                MultiResult::Create { path } => write_create(buf, path),
                MultiResult::Create2 { path, stat } => {
                    write_create(buf, path);
                    stat.write(buf)
                }
                MultiResult::SetData { stat } => stat.write(buf),
                MultiResult::GetChildren { children } => children.write(buf),
                MultiResult::GetData { data, stat } => {
                    data.write(buf);
                    stat.write(buf)
                }
                MultiResult::Error { err } => err.write(buf),
                MultiResult::Delete | MultiResult::Check => {}
            }
        }
        END.write(buf);
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::read(buf)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let op = OpCode::try_from(h.opcode)?;
            results.push(match op {
                OpCode::Create => MultiResult::Create {
                    path: CreateResponse::read(buf)?.path,
                },
                OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                    let r = Create2Response::read(buf)?;
                    MultiResult::Create2 {
                        path: r.path,
                        stat: r.stat,
                    }
                }
                OpCode::Delete => MultiResult::Delete,
                OpCode::SetData => MultiResult::SetData {
                    stat: StatResponse::read(buf)?.stat,
                },
                OpCode::Check => MultiResult::Check,
                OpCode::GetChildren => MultiResult::GetChildren {
                    children: GetChildrenResponse::read(buf)?.children,
                },
                OpCode::GetData => {
                    let r = GetDataResponse::read(buf)?;
                    MultiResult::GetData {
                        data: r.data,
                        stat: r.stat,
                    }
                }
                OpCode::Error => MultiResult::Error {
                    err: ErrorResponse::read(buf)?.err,
                },
                _ => {
                    return Err(DecodeError::BadValue {
                        what: "multi result type",
                        value: h.opcode.into(),
                    })
                }
            });
        }
    }
}

fn write_create(buf: &mut BytesMut, path: &str) {
    crate::jute::write_string(buf, path);
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arbitrary::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for MultiOp {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateRequest::arb().prop_map(MultiOp::Create),
                CreateRequest::arb().prop_map(MultiOp::Create2),
                CreateRequest::arb().prop_map(MultiOp::CreateContainer),
                CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
                DeleteRequest::arb().prop_map(MultiOp::Delete),
                SetDataRequest::arb().prop_map(MultiOp::SetData),
                CheckVersionRequest::arb().prop_map(MultiOp::Check),
                GetChildrenRequest::arb().prop_map(MultiOp::GetChildren),
                GetDataRequest::arb().prop_map(MultiOp::GetData),
            ]
            .boxed()
        }
    }

    impl Arb for MultiRequest {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiOp>::arb()
                .prop_map(|ops| MultiRequest { ops })
                .boxed()
        }
    }

    impl Arb for MultiResult {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                String::arb().prop_map(|path| MultiResult::Create { path }),
                (String::arb(), Stat::arb())
                    .prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
                Just(MultiResult::Delete),
                Stat::arb().prop_map(|stat| MultiResult::SetData { stat }),
                Just(MultiResult::Check),
                Vec::<String>::arb().prop_map(|children| MultiResult::GetChildren { children }),
                (Option::<Bytes>::arb(), Stat::arb())
                    .prop_map(|(data, stat)| MultiResult::GetData { data, stat }),
                any::<i32>().prop_map(|err| MultiResult::Error { err }),
            ]
            .boxed()
        }
    }

    impl Arb for MultiResponse {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiResult>::arb()
                .prop_map(|results| MultiResponse { results })
                .boxed()
        }
    }
}
