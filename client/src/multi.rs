//! Transactions ([`Transaction`], multi: create/delete/set/check applied atomically) and
//! [`MultiRead`] (getData/getChildren answered together).

use std::future::Future;

use zk_proto::records::children::GetChildrenRequest;
use zk_proto::records::node::{CheckVersionRequest, DeleteRequest, GetDataRequest, SetDataRequest};
use zk_proto::{MultiOp, MultiRequest, MultiResponse, MultiResult, OpCode, Record, Stat};

use crate::client::wait;
use crate::create::CreateRequestBody;
use crate::session::Reply;
use crate::{Client, CreateOptions, Error};

/// The result of one op of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A create: the created path (relative to the chroot) and Stat.
    Create {
        /// The created path (with its sequence suffix, if sequential).
        path: String,
        /// The new node's Stat.
        stat: Stat,
    },
    /// A delete.
    Delete,
    /// A set_data: the node's new Stat.
    SetData {
        /// The node's Stat after the change.
        stat: Stat,
    },
    /// A check.
    Check,
    /// In a failed transaction: this op was valid but not applied because another op failed.
    RolledBack,
    /// In a failed transaction: this op failed (the first failing op has its own error; the ones
    /// after it have [`Error::RuntimeInconsistency`], as the server reports them).
    Failed(Error),
}

/// A transaction (ZooKeeper `multi`): its ops are applied atomically, all or none.
///
/// ```no_run
/// # async fn f(client: zk_client::Client) -> Result<(), zk_client::Error> {
/// use zk_client::CreateOptions;
/// let results = client
///     .multi()
///     .check("/config", 3)
///     .create("/config/v4", b"new", &CreateOptions::persistent())
///     .set_data("/config", b"v4", Some(3))
///     .commit()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a transaction does nothing until committed"]
pub struct Transaction {
    client: Client,
    ops: Vec<MultiOp>,
    error: Option<Error>,
}

impl Transaction {
    pub(crate) fn new(client: Client) -> Self {
        Transaction {
            client,
            ops: Vec::new(),
            error: None,
        }
    }

    fn push(mut self, op: impl FnOnce(&Client) -> Result<MultiOp, Error>) -> Self {
        if self.error.is_none() {
            match op(&self.client) {
                Ok(op) => self.ops.push(op),
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// Adds a create (any mode; see [`CreateOptions`]).
    pub fn create(self, path: &str, data: &[u8], options: &CreateOptions) -> Self {
        self.push(|c| {
            options.validate()?;
            let server_path = c.chroot().to_server(path, options.mode().is_sequential())?;
            Ok(match options.request(server_path, data) {
                (OpCode::CreateContainer, CreateRequestBody::Plain(r)) => {
                    MultiOp::CreateContainer(r)
                }
                (_, CreateRequestBody::Plain(r)) => MultiOp::Create2(r),
                (_, CreateRequestBody::Ttl(r)) => MultiOp::CreateTtl(r),
            })
        })
    }

    /// Adds a delete (`None`: any version).
    pub fn delete(self, path: &str, version: Option<i32>) -> Self {
        self.push(|c| {
            Ok(MultiOp::Delete(DeleteRequest {
                path: c.chroot().to_server(path, false)?,
                version: version.unwrap_or(-1),
            }))
        })
    }

    /// Adds a set_data (`None`: any version).
    pub fn set_data(self, path: &str, data: &[u8], version: Option<i32>) -> Self {
        self.push(|c| {
            Ok(MultiOp::SetData(SetDataRequest {
                path: c.chroot().to_server(path, false)?,
                data: Some(bytes::Bytes::copy_from_slice(data)),
                version: version.unwrap_or(-1),
            }))
        })
    }

    /// Adds a check that the node's version is `version`.
    pub fn check(self, path: &str, version: i32) -> Self {
        self.push(|c| {
            Ok(MultiOp::Check(CheckVersionRequest {
                path: c.chroot().to_server(path, false)?,
                version,
            }))
        })
    }

    /// The number of ops added so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no op was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sends the transaction (queued now, in call order). On success, one result per op; if an op
    /// failed, nothing was applied and the error is [`Error::MultiFailed`] naming the first failing op.
    pub fn commit(self) -> impl Future<Output = Result<Vec<OpResult>, Error>> + Send + 'static {
        let results = self.commit_results();
        async move {
            let results = results.await?;
            match results
                .iter()
                .position(|r| matches!(r, OpResult::Failed(_)))
            {
                Some(index) => {
                    let OpResult::Failed(error) = &results[index] else {
                        unreachable!()
                    };
                    Err(Error::MultiFailed {
                        index,
                        error: Box::new(error.clone()),
                    })
                }
                None => Ok(results),
            }
        }
    }

    /// Like [`commit`](Self::commit), but a failed transaction is `Ok` with the server's per-op
    /// layout: [`OpResult::RolledBack`] before the failing op, [`OpResult::Failed`] from it on.
    /// `Err` only when the request itself failed (connection loss, bad input, …).
    pub fn commit_results(
        self,
    ) -> impl Future<Output = Result<Vec<OpResult>, Error>> + Send + 'static {
        let chroot = self.client.chroot().clone();
        let sent = match self.error {
            Some(e) => Err(e),
            None => {
                let body = MultiRequest { ops: self.ops }.to_bytes();
                self.client.submit(OpCode::Multi, body, None, None)
            }
        };
        async move {
            let response = multi_response(wait(sent).await?)?;
            let failed = response
                .results
                .iter()
                .any(|r| matches!(r, MultiResult::Error { err } if *err != 0));
            response
                .results
                .into_iter()
                .map(|r| {
                    Ok(match r {
                        MultiResult::Create { path } => OpResult::Create {
                            path: chroot.to_client(&path),
                            stat: Stat::default(),
                        },
                        MultiResult::Create2 { path, stat } => OpResult::Create {
                            path: chroot.to_client(&path),
                            stat,
                        },
                        MultiResult::Delete => OpResult::Delete,
                        MultiResult::SetData { stat } => OpResult::SetData { stat },
                        MultiResult::Check => OpResult::Check,
                        MultiResult::Error { err: 0 } if failed => OpResult::RolledBack,
                        MultiResult::Error { err } => OpResult::Failed(Error::from_code(err)),
                        MultiResult::GetData { .. } | MultiResult::GetChildren { .. } => {
                            return Err(Error::MalformedReply(zk_proto::DecodeError::BadValue {
                                what: "multi result type",
                                value: OpCode::GetData.code().into(),
                            }))
                        }
                    })
                })
                .collect()
        }
    }
}

/// Decodes a multi/multiRead reply. Apache puts the first error in the header *and* sends the
/// per-op results; accept the results whenever they decode.
fn multi_response(reply: Reply) -> Result<MultiResponse, Error> {
    let mut body = reply.body;
    if reply.err != 0 && body.is_empty() {
        return Err(Error::from_code(reply.err));
    }
    match MultiResponse::read(&mut body) {
        Ok(r) => Ok(r),
        Err(_) if reply.err != 0 => Err(Error::from_code(reply.err)),
        Err(e) => Err(Error::MalformedReply(e)),
    }
}

/// The result of one read of a [`MultiRead`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// A get_data: data and Stat.
    Data {
        /// The node's data.
        data: Vec<u8>,
        /// The node's Stat.
        stat: Stat,
    },
    /// A get_children: child names.
    Children {
        /// The children's names.
        children: Vec<String>,
    },
}

/// Several reads in one request (ZooKeeper 3.6+ `multiRead`). Unlike a transaction, each read
/// succeeds or fails on its own.
#[derive(Debug)]
#[must_use = "a multi-read does nothing until executed"]
pub struct MultiRead {
    client: Client,
    ops: Vec<MultiOp>,
    error: Option<Error>,
}

impl MultiRead {
    pub(crate) fn new(client: Client) -> Self {
        MultiRead {
            client,
            ops: Vec::new(),
            error: None,
        }
    }

    fn push(mut self, path: &str, make: impl FnOnce(String) -> MultiOp) -> Self {
        if self.error.is_none() {
            match self.client.chroot().to_server(path, false) {
                Ok(p) => self.ops.push(make(p)),
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// Adds a get_data.
    pub fn get_data(self, path: &str) -> Self {
        self.push(path, |path| {
            MultiOp::GetData(GetDataRequest { path, watch: false })
        })
    }

    /// Adds a get_children.
    pub fn get_children(self, path: &str) -> Self {
        self.push(path, |path| {
            MultiOp::GetChildren(GetChildrenRequest { path, watch: false })
        })
    }

    /// Sends the reads; one result per read, in order.
    pub fn execute(
        self,
    ) -> impl Future<Output = Result<Vec<Result<ReadResult, Error>>, Error>> + Send + 'static {
        let sent = match self.error {
            Some(e) => Err(e),
            None => {
                let body = MultiRequest { ops: self.ops }.to_bytes();
                self.client.submit(OpCode::MultiRead, body, None, None)
            }
        };
        async move {
            let response = multi_response(wait(sent).await?)?;
            Ok(response
                .results
                .into_iter()
                .map(|r| match r {
                    MultiResult::GetData { data, stat } => Ok(ReadResult::Data {
                        data: data.unwrap_or_default().to_vec(),
                        stat,
                    }),
                    MultiResult::GetChildren { children } => Ok(ReadResult::Children { children }),
                    MultiResult::Error { err } => Err(Error::from_code(err)),
                    _ => Err(Error::MalformedReply(zk_proto::DecodeError::BadValue {
                        what: "multiRead result type",
                        value: -1,
                    })),
                })
                .collect())
        }
    }
}
