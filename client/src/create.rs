//! [`CreateOptions`]: the mode, ACL and TTL of a node to create, and the request they make.

use std::time::Duration;

use bytes::Bytes;
use zk_proto::records::node::{CreateRequest, CreateTtlRequest};
use zk_proto::{Acl, CreateMode, OpCode};

use crate::Error;

/// The largest TTL a node can have: `EphemeralType.MAX_TTL` (2^40 - 1 ms, about 35 years).
pub const MAX_TTL: Duration = Duration::from_millis(0x00ff_ffff_ffff);

/// How a node is created: its [`CreateMode`], ACL and (for TTL modes) time to live.
///
/// ```
/// use std::time::Duration;
/// use zk_client::{acl, CreateMode, CreateOptions};
/// let opts = CreateOptions::new(CreateMode::PersistentWithTtl)
///     .with_ttl(Duration::from_secs(60))
///     .with_acl(acl::read_only());
/// assert_eq!(opts.mode(), CreateMode::PersistentWithTtl);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    mode: CreateMode,
    acl: Vec<Acl>,
    ttl: Option<Duration>,
}

impl CreateOptions {
    /// A node of `mode`, open to everyone ([`acl::open`](crate::acl::open)).
    pub fn new(mode: CreateMode) -> Self {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// A persistent, open node.
    pub fn persistent() -> Self {
        Self::new(CreateMode::Persistent)
    }

    /// An ephemeral, open node.
    pub fn ephemeral() -> Self {
        Self::new(CreateMode::Ephemeral)
    }

    /// Sets the ACL.
    pub fn with_acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    /// Sets the TTL (TTL modes only; the server must run with `extendedTypesEnabled=true`).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The mode.
    pub fn mode(&self) -> CreateMode {
        self.mode
    }

    /// Checks the rules Apache's client checks before sending: a non-empty ACL, a TTL in
    /// 1..=MAX_TTL for TTL modes and none otherwise.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.acl.is_empty() {
            return Err(Error::InvalidAcl);
        }
        match (self.mode.is_ttl(), self.ttl) {
            (true, Some(ttl)) if !ttl.is_zero() && ttl <= MAX_TTL => Ok(()),
            (true, _) => Err(Error::BadArguments(format!(
                "{:?} needs a TTL in 1 ms..={MAX_TTL:?}",
                self.mode
            ))),
            (false, Some(_)) => Err(Error::BadArguments(format!("{:?} takes no TTL", self.mode))),
            (false, None) => Ok(()),
        }
    }

    /// The opcode and body of a create of `path` (a server path) with `data`.
    pub(crate) fn request(&self, path: String, data: &[u8]) -> (OpCode, CreateRequestBody) {
        let data = Some(Bytes::copy_from_slice(data));
        let acl = self.acl.clone();
        let flags = self.mode.flag();
        if self.mode.is_ttl() {
            let ttl = self.ttl.unwrap_or_default().as_millis() as i64;
            let r = CreateTtlRequest {
                path,
                data,
                acl,
                flags,
                ttl,
            };
            (OpCode::CreateTtl, CreateRequestBody::Ttl(r))
        } else {
            let r = CreateRequest {
                path,
                data,
                acl,
                flags,
            };
            let op = if self.mode.is_container() {
                OpCode::CreateContainer
            } else {
                OpCode::Create2
            };
            (op, CreateRequestBody::Plain(r))
        }
    }
}

impl From<CreateMode> for CreateOptions {
    fn from(mode: CreateMode) -> Self {
        CreateOptions::new(mode)
    }
}

/// The record of a create request.
pub(crate) enum CreateRequestBody {
    Plain(CreateRequest),
    Ttl(CreateTtlRequest),
}
