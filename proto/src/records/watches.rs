//! Watch notifications, watch re-registration and persistent watches.

use crate::jute::record;
use crate::DecodeError;

record! {
    /// A watch notification (sent with xid [`NOTIFICATION_XID`](crate::NOTIFICATION_XID)).
    pub struct WatcherEvent {
        /// An [`EventType`] value.
        pub event_type: i32,
        /// A [`KeeperState`] value.
        pub state: i32,
        /// The path the event is about (server-side, i.e. without the client's chroot).
        pub path: String,
    }
}

record! {
    /// Re-registers watches after a reconnect (opcode setWatches, ZooKeeper 3.5 and later).
    pub struct SetWatches {
        /// The last zxid the client saw; changes after it fire at once.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches (on nodes that did not exist).
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }
}

record! {
    /// Re-registers watches including persistent ones (opcode setWatches2, ZooKeeper 3.6 and later).
    pub struct SetWatches2 {
        /// The last zxid the client saw; changes after it fire at once.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// addWatch.
    pub struct AddWatchRequest {
        /// The path.
        pub path: String,
        /// An [`AddWatchMode`] value.
        pub mode: i32,
    }
}

record! {
    /// checkWatches and removeWatches.
    pub struct RemoveWatchesRequest {
        /// The path.
        pub path: String,
        /// A [`WatcherType`] value.
        pub watcher_type: i32,
    }
}

/// Declares an `i32`-valued enum with a fallible conversion from the wire value.
macro_rules! wire_enum {
    ($(#[$m:meta])* pub enum $name:ident : $what:literal { $( $(#[$vm:meta])* $v:ident = $n:expr ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name { $( $(#[$vm])* $v = $n, )* }

        impl $name {
            /// The wire value.
            pub const fn code(self) -> i32 {
                self as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = DecodeError;
            fn try_from(v: i32) -> Result<Self, DecodeError> {
                match v {
                    $( $n => Ok($name::$v), )*
                    _ => Err(DecodeError::BadValue { what: $what, value: v.into() }),
                }
            }
        }
    };
}

wire_enum! {
    /// What happened to a watched node (`Watcher.Event.EventType`).
    pub enum EventType: "event type" {
        /// A connection-state change (no node).
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed.
        DataWatchRemoved = 5,
        /// A child watch was removed.
        ChildWatchRemoved = 6,
        /// A persistent watch was removed.
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// The client's connection state carried in an event (`Watcher.Event.KeeperState`).
    pub enum KeeperState: "keeper state" {
        /// Unused (deprecated).
        Unknown = -1,
        /// Disconnected from the ensemble.
        Disconnected = 0,
        /// Unused (deprecated).
        NoSyncConnected = 1,
        /// Connected; all notifications carry this state.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authentication succeeded.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

wire_enum! {
    /// The mode of an addWatch request (`AddWatchMode`).
    pub enum AddWatchMode: "add watch mode" {
        /// Fires for data changes and deletion of the node and changes of its children, until removed.
        Persistent = 0,
        /// Fires for every change at or below the node, until removed.
        PersistentRecursive = 1,
    }
}

wire_enum! {
    /// Which watches checkWatches/removeWatches address (`Watcher.WatcherType`).
    pub enum WatcherType: "watcher type" {
        /// Child watches.
        Children = 1,
        /// Data and exist watches.
        Data = 2,
        /// Every kind of watch.
        Any = 3,
    }
}
