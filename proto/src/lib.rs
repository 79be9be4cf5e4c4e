//! # zk-proto — the Apache ZooKeeper client wire protocol
//!
//! Everything a ZooKeeper client and server put on the wire, as Apache ZooKeeper 3.8 encodes it,
//! with no sockets and no tasks:
//!
//! - [`jute`]: the serialization primitives and the [`Record`] trait every wire type implements.
//! - [`records`]: every record of `zookeeper.jute`, one module per family (connect, headers,
//!   node ops, children, watches, multi, auth, reconfig, txns, quorum).
//! - [`quorum`]: Apache 3.8's peer protocol: the election port (initial message, notification
//!   frames) and the quorum port (leader/learner packets, the SNAP stream), with codecs.
//! - [`RequestBody`] / [`ResponseBody`]: a request or reply body typed by [`OpCode`].
//! - [`OpCode`], [`ErrorCode`], [`CreateMode`], [`EventType`], [`KeeperState`], [`perms`].
//! - [`validate_path`] (`PathUtils.validatePath`) and [`sequential_suffix`].
//! - [`FrameCodec`]: the length-prefixed framing for `tokio_util::codec`, with a maximum frame
//!   size (jute.maxbuffer) enforced before any allocation.
//!
//! ## Frame shape
//! Every message is `int length` + `length` bytes. After the handshake
//! ([`ConnectRequest`]/[`ConnectResponse`]), a request is [`RequestHeader`] + body and a reply is
//! [`ReplyHeader`] + body (no body when `err != 0`). Watch notifications are replies with xid
//! [`NOTIFICATION_XID`] and a [`WatcherEvent`] body.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use tokio_util::codec::Decoder;
//! use zk_proto::records::node::GetDataRequest;
//! use zk_proto::{write_frame, FrameCodec, OpCode, Record, RequestBody, RequestHeader};
//!
//! // Encode getData("/app", watch) as xid 7.
//! let body = RequestBody::GetData(GetDataRequest { path: "/app".into(), watch: true });
//! let mut wire = BytesMut::new();
//! let header = RequestHeader { xid: 7, opcode: body.opcode().code() };
//! write_frame(&mut wire, |buf| {
//!     header.write(buf);
//!     body.write(buf);
//! });
//!
//! // Decode it back as a server would.
//! let mut frame: Bytes = FrameCodec::default().decode(&mut wire).unwrap().unwrap();
//! let header = RequestHeader::read(&mut frame).unwrap();
//! assert_eq!(header.xid, 7);
//! assert_eq!(RequestBody::read(header.opcode, &mut frame).unwrap(), body);
//! ```
#![deny(missing_docs)]

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
mod codec;
mod create_mode;
mod error;
mod error_code;
pub mod jute;
mod opcode;
mod path;
pub mod quorum;
pub mod records;
mod request;
mod response;

pub use codec::{
    write_frame, FrameCodec, FrameError, DEFAULT_JUTE_MAXBUFFER, FRAME_PREFIX_LEN,
    MIN_JUTE_MAXBUFFER_EXTRASIZE,
};
pub use create_mode::CreateMode;
pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use jute::Record;
pub use opcode::OpCode;
pub use path::{basename, parent, sequential_suffix, validate_path, PathError};
pub use records::acl::{perms, Acl, Id};
pub use records::connect::{ConnectRequest, ConnectResponse};
pub use records::header::{
    MultiHeader, ReplyHeader, RequestHeader, AUTH_XID, NOTIFICATION_XID, PING_XID, SET_WATCHES_XID,
};
pub use records::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use records::stat::{Stat, StatPersisted};
pub use records::txn::{TxnBody, TxnHeader};
pub use records::watches::{AddWatchMode, EventType, KeeperState, WatcherEvent, WatcherType};
pub use request::RequestBody;
pub use response::ResponseBody;
