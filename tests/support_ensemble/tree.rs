//! Reading a whole subtree through one server, to compare what each server of an ensemble holds.

use std::collections::BTreeMap;

use futures::future::join_all;
use zk_client::{Client, Error};

/// Requests pipelined at once while reading a tree: enough to hide the round trip, few enough to keep
/// the server's per-connection queue short.
const READ_BATCH: usize = 512;

/// One znode as read: its data and the stat fields that must agree across servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The data.
    pub data: Vec<u8>,
    /// The data version.
    pub version: i32,
    /// The owner session of an ephemeral, 0 otherwise.
    pub ephemeral_owner: i64,
    /// The zxid of the last change.
    pub mzxid: i64,
}

/// Every znode under `root` (inclusive) by absolute path. Nodes that vanish between listing and reading
/// are skipped; the callers read quiet trees.
pub async fn read_subtree(
    client: &Client,
    root: &str,
) -> Result<BTreeMap<String, NodeState>, Error> {
    let mut out = BTreeMap::new();
    let mut level = vec![root.to_owned()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(READ_BATCH) {
            let data = join_all(chunk.iter().map(|p| client.get_data(p))).await;
            let kids = join_all(chunk.iter().map(|p| client.get_children(p))).await;
            for ((path, data), kids) in chunk.iter().zip(data).zip(kids) {
                let (data, stat) = match data {
                    Ok(found) => found,
                    Err(Error::NoNode) => continue,
                    Err(e) => return Err(e),
                };
                out.insert(
                    path.clone(),
                    NodeState {
                        data,
                        version: stat.version,
                        ephemeral_owner: stat.ephemeral_owner,
                        mzxid: stat.mzxid,
                    },
                );
                let kids = match kids {
                    Ok(kids) => kids,
                    Err(Error::NoNode) => continue,
                    Err(e) => return Err(e),
                };
                let prefix = if path == "/" { "" } else { path.as_str() };
                next.extend(kids.into_iter().map(|k| format!("{prefix}/{k}")));
            }
        }
        level = next;
    }
    Ok(out)
}

/// Describes the differences between two trees read from servers `a` and `b` (at most `limit` lines),
/// or `None` if they are equal.
pub fn diff_trees(
    a: (usize, &BTreeMap<String, NodeState>),
    b: (usize, &BTreeMap<String, NodeState>),
    limit: usize,
) -> Option<String> {
    let mut lines = Vec::new();
    for (path, na) in a.1 {
        match b.1.get(path) {
            None => lines.push(format!("{path}: on server {} only", a.0)),
            Some(nb) if nb != na => lines.push(format!(
                "{path}: server {} has {na:?}, server {} has {nb:?}",
                a.0, b.0
            )),
            Some(_) => {}
        }
    }
    for path in b.1.keys().filter(|p| !a.1.contains_key(*p)) {
        lines.push(format!("{path}: on server {} only", b.0));
    }
    if lines.is_empty() {
        return None;
    }
    let total = lines.len();
    lines.truncate(limit);
    Some(format!(
        "{total} differences, first {}:\n{}",
        lines.len(),
        lines.join("\n")
    ))
}
