//! [`AclTable`]: the ACL cache a snapshot stores before its nodes
//! (`ReferenceCountedACLCache.serialize`): each distinct ACL list once, under a `long` id that
//! nodes refer to.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use zk_proto::{Acl, Record};

/// The id that stands for `OPEN_ACL_UNSAFE` without a cache entry
/// (`ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`); Apache gives it to nodes created with a null
/// ACL, such as the root and `/zookeeper`.
pub const OPEN_UNSAFE_ACL_ID: i64 = -1;

/// Distinct ACL lists with their ids, in first-seen order, ids counting from 1 as Apache's
/// `ReferenceCountedACLCache.convertAcls` assigns them.
///
/// Every list gets an id, `OPEN_ACL_UNSAFE` included: the writer never uses the
/// [`OPEN_UNSAFE_ACL_ID`] shortcut (which Apache reserves for nodes created with a null ACL),
/// while the reader accepts it. Both load the same in Apache.
///
/// A snapshot writer needs the whole table before the first node, so a server builds it in a
/// first pass over its tree (or keeps one as its own ACL cache):
/// ```
/// use zk_proto::Acl;
/// use zk_storage::AclTable;
///
/// let mut table = AclTable::new();
/// assert_eq!(table.intern(&Acl::open_unsafe()), 1);
/// assert_eq!(table.intern(&Acl::read_unsafe()), 2);
/// assert_eq!(table.intern(&Acl::open_unsafe()), 1);
/// assert_eq!(table.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct AclTable {
    ids: HashMap<Bytes, i64>,
    lists: Vec<Vec<Acl>>,
}

fn key(acl: &[Acl]) -> Bytes {
    let mut buf = BytesMut::new();
    for entry in acl {
        entry.write(&mut buf);
    }
    buf.freeze()
}

impl AclTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `acl`, adding it if new.
    pub fn intern(&mut self, acl: &[Acl]) -> i64 {
        let key = key(acl);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        self.lists.push(acl.to_vec());
        let id = self.lists.len() as i64;
        self.ids.insert(key, id);
        id
    }

    /// The id of `acl`, if it was interned.
    pub fn id_of(&self, acl: &[Acl]) -> Option<i64> {
        self.ids.get(&key(acl)).copied()
    }

    /// How many distinct lists the table holds.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// (id, list) pairs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[Acl])> {
        self.lists
            .iter()
            .enumerate()
            .map(|(i, list)| (i as i64 + 1, list.as_slice()))
    }
}
