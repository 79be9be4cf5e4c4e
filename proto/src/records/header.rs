//! Frame headers and the reserved xids.

use crate::jute::record;

/// xid of a watch notification sent by the server (`ClientCnxn.NOTIFICATION_XID`).
pub const NOTIFICATION_XID: i32 = -1;
/// xid of a ping (`ClientCnxn.PING_XID`).
pub const PING_XID: i32 = -2;
/// xid of an auth packet (`ClientCnxn.AUTHPACKET_XID`).
pub const AUTH_XID: i32 = -4;
/// xid of the setWatches/setWatches2 sent after a reconnect (`ClientCnxn.SET_WATCHES_XID`).
pub const SET_WATCHES_XID: i32 = -8;

record! {
    /// Precedes every request body: the client's request id and the [`OpCode`](crate::OpCode).
    pub struct RequestHeader {
        /// Request id, echoed in the reply; negative values are reserved (see the `*_XID` constants).
        pub xid: i32,
        /// The opcode, as an `int`.
        pub opcode: i32,
    }
}

record! {
    /// Precedes every reply body (and every notification).
    pub struct ReplyHeader {
        /// The request's xid, or a reserved xid.
        pub xid: i32,
        /// The server's last processed zxid when replying.
        pub zxid: i64,
        /// 0 on success, otherwise an [`ErrorCode`](crate::ErrorCode) value; on error no body follows.
        pub err: i32,
    }
}

record! {
    /// Frames each operation inside a multi request or response.
    pub struct MultiHeader {
        /// The op's opcode; -1 on an error result and on the end marker.
        pub opcode: i32,
        /// True only on the end marker.
        pub done: bool,
        /// The op's result code in a response; -1 in requests and on the end marker.
        pub err: i32,
    }
}
