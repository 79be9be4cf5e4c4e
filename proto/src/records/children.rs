//! Requests and responses about a node's children and about ephemerals.

use crate::jute::record;
use crate::records::stat::Stat;

record! {
    /// getChildren and getChildren2.
    pub struct GetChildrenRequest {
        /// The parent's path.
        pub path: String,
        /// Leave a child watch.
        pub watch: bool,
    }
}

record! {
    /// The answer to getChildren.
    pub struct GetChildrenResponse {
        /// Child names (not paths), in no particular order.
        pub children: Vec<String>,
    }
}

record! {
    /// The answer to getChildren2.
    pub struct GetChildren2Response {
        /// Child names (not paths), in no particular order.
        pub children: Vec<String>,
        /// The parent's Stat.
        pub stat: Stat,
    }
}

record! {
    /// The answer to getEphemerals.
    pub struct GetEphemeralsResponse {
        /// Paths of the session's ephemeral nodes under the prefix.
        pub ephemerals: Vec<String>,
    }
}

record! {
    /// The answer to getAllChildrenNumber.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants (not counting the node itself).
        pub total_number: i32,
    }
}
