//! Access control: identities, ACL entries and permission bits (`ZooDefs.Perms`, `ZooDefs.Ids`).

use crate::jute::record;

/// Permission bits of an [`Acl`] entry (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// All of the above.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

record! {
    /// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `super`, ...) and an id within it.
    pub struct Id {
        /// The authentication scheme.
        pub scheme: String,
        /// The identity within the scheme.
        pub id: String,
    }
}

record! {
    /// One ACL entry: permissions granted to an identity.
    pub struct Acl {
        /// Bitwise OR of [`perms`] bits.
        pub perms: i32,
        /// Who the permissions are for.
        pub id: Id,
    }
}

impl Id {
    /// Builds an id.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`, everybody (`ZooDefs.Ids.ANYONE_ID_UNSAFE`).
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }

    /// `auth:`, the identities the creating session has authenticated as (`ZooDefs.Ids.AUTH_IDS`).
    pub fn auth_ids() -> Self {
        Id::new("auth", "")
    }
}

impl Acl {
    /// Builds an entry.
    pub fn new(perms: i32, id: Id) -> Self {
        Acl { perms, id }
    }

    /// `world:anyone` with all permissions (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::anyone())]
    }

    /// All permissions for the creator's authenticated identities (`ZooDefs.Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::auth_ids())]
    }

    /// Read permission for everybody (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::READ, Id::anyone())]
    }
}
