//! A client request body, typed by opcode.
//!
//! A request frame is `RequestHeader` + body; the body's record depends on the header's opcode.
//! Servers read the header first (so they can answer even a request they cannot decode), then
//! [`RequestBody::read`].

use bytes::{Bytes, BytesMut};

use crate::jute::Record;
use crate::records::auth::{AuthPacket, SaslToken};
use crate::records::children::GetChildrenRequest;
use crate::records::multi::MultiRequest;
use crate::records::node::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest,
    GetDataRequest, PathRequest, SetAclRequest, SetDataRequest,
};
use crate::records::reconfig::ReconfigRequest;
use crate::records::watches::{AddWatchRequest, RemoveWatchesRequest, SetWatches, SetWatches2};
use crate::{DecodeError, OpCode};

/// The body of a client request, one variant per opcode a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum RequestBody {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildrenRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(RemoveWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(SaslToken),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl RequestBody {
    /// The opcode to put in the [`RequestHeader`](crate::RequestHeader).
    pub fn opcode(&self) -> OpCode {
        use RequestBody as R;
        match self {
            R::Create(_) => OpCode::Create,
            R::Create2(_) => OpCode::Create2,
            R::CreateContainer(_) => OpCode::CreateContainer,
            R::CreateTtl(_) => OpCode::CreateTtl,
            R::Delete(_) => OpCode::Delete,
            R::Exists(_) => OpCode::Exists,
            R::GetData(_) => OpCode::GetData,
            R::SetData(_) => OpCode::SetData,
            R::GetAcl(_) => OpCode::GetAcl,
            R::SetAcl(_) => OpCode::SetAcl,
            R::GetChildren(_) => OpCode::GetChildren,
            R::GetChildren2(_) => OpCode::GetChildren2,
            R::Sync(_) => OpCode::Sync,
            R::Ping => OpCode::Ping,
            R::Check(_) => OpCode::Check,
            R::Multi(_) => OpCode::Multi,
            R::MultiRead(_) => OpCode::MultiRead,
            R::Reconfig(_) => OpCode::Reconfig,
            R::CheckWatches(_) => OpCode::CheckWatches,
            R::RemoveWatches(_) => OpCode::RemoveWatches,
            R::Auth(_) => OpCode::Auth,
            R::SetWatches(_) => OpCode::SetWatches,
            R::SetWatches2(_) => OpCode::SetWatches2,
            R::Sasl(_) => OpCode::Sasl,
            R::GetEphemerals(_) => OpCode::GetEphemerals,
            R::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            R::AddWatch(_) => OpCode::AddWatch,
            R::WhoAmI => OpCode::WhoAmI,
            R::CloseSession => OpCode::CloseSession,
        }
    }

    /// Appends the body's encoding (without header) to `buf`.
    pub fn write(&self, buf: &mut BytesMut) {
        use RequestBody as R;
        match self {
            R::Create(r) | R::Create2(r) | R::CreateContainer(r) => r.write(buf),
            R::CreateTtl(r) => r.write(buf),
            R::Delete(r) => r.write(buf),
            R::Exists(r) => r.write(buf),
            R::GetData(r) => r.write(buf),
            R::SetData(r) => r.write(buf),
            R::GetAcl(r) | R::Sync(r) | R::GetEphemerals(r) | R::GetAllChildrenNumber(r) => {
                r.write(buf)
            }
            R::SetAcl(r) => r.write(buf),
            R::GetChildren(r) | R::GetChildren2(r) => r.write(buf),
            R::Check(r) => r.write(buf),
            R::Multi(r) | R::MultiRead(r) => r.write(buf),
            R::Reconfig(r) => r.write(buf),
            R::CheckWatches(r) | R::RemoveWatches(r) => r.write(buf),
            R::Auth(r) => r.write(buf),
            R::SetWatches(r) => r.write(buf),
            R::SetWatches2(r) => r.write(buf),
            R::Sasl(r) => r.write(buf),
            R::AddWatch(r) => r.write(buf),
            R::Ping | R::WhoAmI | R::CloseSession => {}
        }
    }

    /// Decodes the body of a request whose header carried `opcode`.
    ///
    /// Opcodes that clients never send (notification, createSession, deleteContainer, error)
    /// and unknown values are [`DecodeError::UnknownOpCode`]; a server answers those with
    /// UNIMPLEMENTED or closes the connection, as Apache does.
    pub fn read(opcode: i32, buf: &mut Bytes) -> Result<Self, DecodeError> {
        use RequestBody as R;
        Ok(match OpCode::try_from(opcode)? {
            OpCode::Create => R::Create(Record::read(buf)?),
            OpCode::Create2 => R::Create2(Record::read(buf)?),
            OpCode::CreateContainer => R::CreateContainer(Record::read(buf)?),
            OpCode::CreateTtl => R::CreateTtl(Record::read(buf)?),
            OpCode::Delete => R::Delete(Record::read(buf)?),
            OpCode::Exists => R::Exists(Record::read(buf)?),
            OpCode::GetData => R::GetData(Record::read(buf)?),
            OpCode::SetData => R::SetData(Record::read(buf)?),
            OpCode::GetAcl => R::GetAcl(Record::read(buf)?),
            OpCode::SetAcl => R::SetAcl(Record::read(buf)?),
            OpCode::GetChildren => R::GetChildren(Record::read(buf)?),
            OpCode::GetChildren2 => R::GetChildren2(Record::read(buf)?),
            OpCode::Sync => R::Sync(Record::read(buf)?),
            OpCode::Ping => R::Ping,
            OpCode::Check => R::Check(Record::read(buf)?),
            OpCode::Multi => R::Multi(Record::read(buf)?),
            OpCode::MultiRead => R::MultiRead(Record::read(buf)?),
            OpCode::Reconfig => R::Reconfig(Record::read(buf)?),
            OpCode::CheckWatches => R::CheckWatches(Record::read(buf)?),
            OpCode::RemoveWatches => R::RemoveWatches(Record::read(buf)?),
            OpCode::Auth => R::Auth(Record::read(buf)?),
            OpCode::SetWatches => R::SetWatches(Record::read(buf)?),
            OpCode::SetWatches2 => R::SetWatches2(Record::read(buf)?),
            OpCode::Sasl => R::Sasl(Record::read(buf)?),
            OpCode::GetEphemerals => R::GetEphemerals(Record::read(buf)?),
            OpCode::GetAllChildrenNumber => R::GetAllChildrenNumber(Record::read(buf)?),
            OpCode::AddWatch => R::AddWatch(Record::read(buf)?),
            OpCode::WhoAmI => R::WhoAmI,
            OpCode::CloseSession => R::CloseSession,
            OpCode::Notification
            | OpCode::CreateSession
            | OpCode::DeleteContainer
            | OpCode::Error => return Err(DecodeError::UnknownOpCode(opcode)),
        })
    }

    /// The path the request addresses, if it addresses one.
    pub fn path(&self) -> Option<&str> {
        use RequestBody as R;
        Some(match self {
            R::Create(r) | R::Create2(r) | R::CreateContainer(r) => &r.path,
            R::CreateTtl(r) => &r.path,
            R::Delete(r) => &r.path,
            R::Exists(r) => &r.path,
            R::GetData(r) => &r.path,
            R::SetData(r) => &r.path,
            R::GetAcl(r) | R::Sync(r) | R::GetEphemerals(r) | R::GetAllChildrenNumber(r) => &r.path,
            R::SetAcl(r) => &r.path,
            R::GetChildren(r) | R::GetChildren2(r) => &r.path,
            R::Check(r) => &r.path,
            R::CheckWatches(r) | R::RemoveWatches(r) => &r.path,
            R::AddWatch(r) => &r.path,
            _ => return None,
        })
    }
}
