//! Node metadata.

use crate::jute::record;

record! {
    /// A node's metadata as clients see it (`org.apache.zookeeper.data.Stat`).
    pub struct Stat {
        /// zxid of the change that created the node.
        pub czxid: i64,
        /// zxid of the change that last modified the node's data.
        pub mzxid: i64,
        /// Creation time, milliseconds since the epoch.
        pub ctime: i64,
        /// Last modification time, milliseconds since the epoch.
        pub mtime: i64,
        /// Number of changes to the data.
        pub version: i32,
        /// Number of changes to the children.
        pub cversion: i32,
        /// Number of changes to the ACL.
        pub aversion: i32,
        /// Session id of the owner if the node is ephemeral, 0 otherwise.
        pub ephemeral_owner: i64,
        /// Length of the data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// zxid of the change that last modified the children.
        pub pzxid: i64,
    }
}

record! {
    /// The stored part of a node's metadata (`StatPersisted`), as snapshots hold it.
    pub struct StatPersisted {
        /// zxid of the change that created the node.
        pub czxid: i64,
        /// zxid of the change that last modified the node's data.
        pub mzxid: i64,
        /// Creation time, milliseconds since the epoch.
        pub ctime: i64,
        /// Last modification time, milliseconds since the epoch.
        pub mtime: i64,
        /// Number of changes to the data.
        pub version: i32,
        /// Number of changes to the children.
        pub cversion: i32,
        /// Number of changes to the ACL.
        pub aversion: i32,
        /// Owner session id if ephemeral; container and TTL markers otherwise (see `EphemeralType`).
        pub ephemeral_owner: i64,
        /// zxid of the change that last modified the children.
        pub pzxid: i64,
    }
}
