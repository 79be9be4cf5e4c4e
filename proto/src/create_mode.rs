//! Node kinds (`CreateMode`).

use crate::DecodeError;

/// The kind of node a create makes: the `flags` of a create request (`CreateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum CreateMode {
    /// Lives until deleted.
    #[default]
    Persistent = 0,
    /// Deleted when the creating session ends.
    Ephemeral = 1,
    /// Persistent, with a monotonically increasing 10-digit suffix.
    PersistentSequential = 2,
    /// Ephemeral, with a monotonically increasing 10-digit suffix.
    EphemeralSequential = 3,
    /// Deleted by the server once its last child is gone (if it ever had one).
    Container = 4,
    /// Persistent; deleted once it has had no children and no changes for its TTL.
    PersistentWithTtl = 5,
    /// Persistent sequential with a TTL.
    PersistentSequentialWithTtl = 6,
}

impl CreateMode {
    /// The wire value.
    pub const fn flag(self) -> i32 {
        self as i32
    }

    /// Whether the node is deleted with its session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Whether the server appends a sequence suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// Whether the node is a container.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// Whether the node has a TTL.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

impl TryFrom<i32> for CreateMode {
    type Error = DecodeError;

    fn try_from(flag: i32) -> Result<Self, DecodeError> {
        Ok(match flag {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => {
                return Err(DecodeError::BadValue {
                    what: "create mode",
                    value: flag.into(),
                })
            }
        })
    }
}
