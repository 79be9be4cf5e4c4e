//! Requests and responses that read or change one node.

use bytes::Bytes;

use crate::jute::record;
use crate::records::acl::Acl;
use crate::records::stat::Stat;

record! {
    /// create, create2 and createContainer.
    pub struct CreateRequest {
        /// The node's path (for sequential nodes, the prefix).
        pub path: String,
        /// Initial data; `None` is Java's `null`.
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// The [`CreateMode`](crate::CreateMode) flag.
        pub flags: i32,
    }
}

record! {
    /// createTTL.
    pub struct CreateTtlRequest {
        /// The node's path (for sequential nodes, the prefix).
        pub path: String,
        /// Initial data; `None` is Java's `null`.
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// The [`CreateMode`](crate::CreateMode) flag (a TTL mode).
        pub flags: i32,
        /// Time to live in milliseconds.
        pub ttl: i64,
    }
}

record! {
    /// The answer to create: the actual path (with the sequential suffix).
    pub struct CreateResponse {
        /// The created node's path.
        pub path: String,
    }
}

record! {
    /// The answer to create2, createContainer and createTTL.
    pub struct Create2Response {
        /// The created node's path.
        pub path: String,
        /// The created node's Stat.
        pub stat: Stat,
    }
}

record! {
    /// delete.
    pub struct DeleteRequest {
        /// The node's path.
        pub path: String,
        /// Expected data version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// exists.
    pub struct ExistsRequest {
        /// The node's path.
        pub path: String,
        /// Leave an exist/data watch.
        pub watch: bool,
    }
}

record! {
    /// The answer to exists, setData and setACL.
    pub struct StatResponse {
        /// The node's Stat.
        pub stat: Stat,
    }
}

record! {
    /// getData.
    pub struct GetDataRequest {
        /// The node's path.
        pub path: String,
        /// Leave a data watch.
        pub watch: bool,
    }
}

record! {
    /// The answer to getData.
    pub struct GetDataResponse {
        /// The data; `None` when the node was created with Java's `null`.
        pub data: Option<Bytes>,
        /// The node's Stat.
        pub stat: Stat,
    }
}

record! {
    /// setData.
    pub struct SetDataRequest {
        /// The node's path.
        pub path: String,
        /// New data.
        pub data: Option<Bytes>,
        /// Expected data version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// check (inside a multi).
    pub struct CheckVersionRequest {
        /// The node's path.
        pub path: String,
        /// Expected data version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// getACL, sync, getEphemerals and getAllChildrenNumber: a request holding only a path.
    pub struct PathRequest {
        /// The path (for getEphemerals, the prefix).
        pub path: String,
    }
}

record! {
    /// The answer to getACL.
    pub struct GetAclResponse {
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// The node's Stat.
        pub stat: Stat,
    }
}

record! {
    /// setACL.
    pub struct SetAclRequest {
        /// The node's path.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion), -1 for any.
        pub version: i32,
    }
}

record! {
    /// The answer to sync: the path it was given.
    pub struct SyncResponse {
        /// The path.
        pub path: String,
    }
}

record! {
    /// The body of an error result in a multi response (`ErrorResponse`).
    pub struct ErrorResponse {
        /// The error code.
        pub err: i32,
    }
}
