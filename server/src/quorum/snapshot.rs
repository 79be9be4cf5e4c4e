//! The SNAP payload: the core carries a snapshot as opaque bytes; the shell uses the bytes of Apache's
//! snapshot stream ([`SnapshotItem`]s through `End`, signature included), which is what goes on the wire
//! after a SNAP packet, and converts it to and from zk-storage's [`SnapshotData`].

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use zk_proto::quorum::{SnapshotDecoder, SnapshotItem};
use zk_proto::{Acl, DecodeError};
use zk_storage::{AclTable, SnapNode, SnapshotData};

/// Encodes a snapshot as Apache's SNAP stream.
pub fn data_to_stream(data: &SnapshotData) -> Bytes {
    let mut acls = AclTable::new();
    let ids: Vec<i64> = data.nodes.iter().map(|n| acls.intern(&n.acl)).collect();
    let mut buf = BytesMut::new();
    SnapshotItem::Sessions(data.sessions.len() as i32).write(&mut buf);
    for &(session_id, timeout) in &data.sessions {
        SnapshotItem::Session {
            session_id,
            timeout,
        }
        .write(&mut buf);
    }
    SnapshotItem::AclLists(acls.len() as i32).write(&mut buf);
    for (id, acl) in acls.iter() {
        SnapshotItem::AclList {
            id,
            acl: acl.to_vec(),
        }
        .write(&mut buf);
    }
    for (node, acl) in data.nodes.iter().zip(ids) {
        SnapshotItem::Node {
            path: if node.path == "/" {
                String::new()
            } else {
                node.path.clone()
            },
            data: node.data.clone(),
            acl,
            stat: node.stat.clone(),
        }
        .write(&mut buf);
    }
    SnapshotItem::End.write(&mut buf);
    buf.freeze()
}

/// Decodes a SNAP stream (as received) into a snapshot.
pub fn stream_to_data(stream: &Bytes) -> Result<SnapshotData, DecodeError> {
    let mut src = BytesMut::from(&stream[..]);
    let mut dec = SnapshotDecoder::default();
    let mut data = SnapshotData::default();
    let mut acls: HashMap<i64, Arc<[Acl]>> = HashMap::new();
    while let Some(item) = dec.decode(&mut src)? {
        match item {
            SnapshotItem::Sessions(_) | SnapshotItem::AclLists(_) => {}
            SnapshotItem::Session {
                session_id,
                timeout,
            } => data.sessions.push((session_id, timeout)),
            SnapshotItem::AclList { id, acl } => {
                acls.insert(id, acl.into());
            }
            SnapshotItem::Node {
                path,
                data: d,
                acl,
                stat,
            } => {
                let acl = acls
                    .get(&acl)
                    .cloned()
                    .unwrap_or_else(|| Acl::open_unsafe().into());
                data.nodes.push(SnapNode {
                    path: if path.is_empty() { "/".into() } else { path },
                    data: d,
                    acl,
                    stat,
                });
            }
            SnapshotItem::End => return Ok(data),
        }
    }
    Err(DecodeError::Truncated {
        what: "snapshot stream",
        needed: 1,
    })
}

/// The empty tree Apache starts from (`/`, `/zookeeper`, `/zookeeper/quota`), as a snapshot.
pub fn empty_tree() -> SnapshotData {
    let node = |path: &str| SnapNode {
        path: path.into(),
        data: Some(Bytes::new()),
        acl: Acl::open_unsafe().into(),
        stat: Default::default(),
    };
    SnapshotData {
        nodes: vec![node("/"), node("/zookeeper"), node("/zookeeper/quota")],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_round_trips_a_tree() {
        let mut data = empty_tree();
        data.sessions.push((0x100, 30_000));
        data.nodes[1].acl = vec![Acl {
            perms: 1,
            id: zk_proto::Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]
        .into();
        let stream = data_to_stream(&data);
        assert_eq!(stream_to_data(&stream).unwrap(), data);
        assert!(stream_to_data(&stream.slice(..stream.len() - 3)).is_err());
    }
}
