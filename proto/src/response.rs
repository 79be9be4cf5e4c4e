//! A server reply body, typed by the opcode of the request it answers.
//!
//! A reply frame is `ReplyHeader` + body. The body is present only when the header's `err` is 0,
//! and its record depends on the request's opcode, which only the client knows (it matches replies
//! to requests by xid); hence [`ResponseBody::read`] takes the opcode.

use bytes::{Bytes, BytesMut};

use crate::jute::Record;
use crate::records::auth::{SaslToken, WhoAmIResponse};
use crate::records::children::{
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetEphemeralsResponse,
};
use crate::records::multi::MultiResponse;
use crate::records::node::{
    Create2Response, CreateResponse, ErrorResponse, GetAclResponse, GetDataResponse, StatResponse,
    SyncResponse,
};
use crate::{DecodeError, OpCode};

/// The body of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ResponseBody {
    /// create.
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(StatResponse),
    /// getData; also reconfig (the new config).
    GetData(GetDataResponse),
    GetAcl(GetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(SyncResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    GetEphemerals(GetEphemeralsResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    WhoAmI(WhoAmIResponse),
    Sasl(SaslToken),
    /// addWatch: Apache answers with an `ErrorResponse` body holding 0.
    AddWatch(ErrorResponse),
    /// Replies without a body: delete, check, ping, auth, setWatches(2), checkWatches,
    /// removeWatches, closeSession.
    Empty,
}

impl ResponseBody {
    /// Appends the body's encoding (without header) to `buf`.
    pub fn write(&self, buf: &mut BytesMut) {
        use ResponseBody as R;
        match self {
            R::Create(r) => r.write(buf),
            R::Create2(r) => r.write(buf),
            R::Stat(r) => r.write(buf),
            R::GetData(r) => r.write(buf),
            R::GetAcl(r) => r.write(buf),
            R::GetChildren(r) => r.write(buf),
            R::GetChildren2(r) => r.write(buf),
            R::Sync(r) => r.write(buf),
            R::Multi(r) => r.write(buf),
            R::GetEphemerals(r) => r.write(buf),
            R::GetAllChildrenNumber(r) => r.write(buf),
            R::WhoAmI(r) => r.write(buf),
            R::Sasl(r) => r.write(buf),
            R::AddWatch(r) => r.write(buf),
            R::Empty => {}
        }
    }

    /// Decodes the body of a successful reply to a request of type `opcode`.
    pub fn read(opcode: OpCode, buf: &mut Bytes) -> Result<Self, DecodeError> {
        use ResponseBody as R;
        Ok(match opcode {
            OpCode::Create => R::Create(Record::read(buf)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                R::Create2(Record::read(buf)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => R::Stat(Record::read(buf)?),
            OpCode::GetData | OpCode::Reconfig => R::GetData(Record::read(buf)?),
            OpCode::GetAcl => R::GetAcl(Record::read(buf)?),
            OpCode::GetChildren => R::GetChildren(Record::read(buf)?),
            OpCode::GetChildren2 => R::GetChildren2(Record::read(buf)?),
            OpCode::Sync => R::Sync(Record::read(buf)?),
            OpCode::Multi | OpCode::MultiRead => R::Multi(Record::read(buf)?),
            OpCode::GetEphemerals => R::GetEphemerals(Record::read(buf)?),
            OpCode::GetAllChildrenNumber => R::GetAllChildrenNumber(Record::read(buf)?),
            OpCode::WhoAmI => R::WhoAmI(Record::read(buf)?),
            OpCode::Sasl => R::Sasl(Record::read(buf)?),
            OpCode::AddWatch => R::AddWatch(Record::read(buf)?),
            OpCode::Delete
            | OpCode::Check
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::CloseSession
            | OpCode::CreateSession
            | OpCode::DeleteContainer
            | OpCode::Notification
            | OpCode::Error => R::Empty,
        })
    }
}
