//! Reading a whole tree, data and full [`Stat`], through one server, and diffing two such reads.
//!
//! Members of one ensemble apply the same txns in the same order, so every stat field must agree,
//! the zxids (czxid, mzxid, pzxid), the times (they come from the txn header), the versions
//! (version, cversion, aversion), the ephemeral owner and the counts.

use std::collections::BTreeMap;

use futures::future::join_all;
use zk_client::{Client, Error, Stat};

/// Requests pipelined at once while reading: enough to hide the round trip, few enough to keep a
/// server's per-connection queue short.
const READ_BATCH: usize = 256;

/// Differences quoted when two trees differ.
pub const DIFF_LINES: usize = 20;

/// One znode as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its data.
    pub data: Vec<u8>,
    /// Its whole stat.
    pub stat: Stat,
}

/// A tree by absolute path.
pub type Tree = BTreeMap<String, Node>;

/// Every znode under `root` (inclusive). The callers read quiet trees (after `sync`, nothing
/// writing), so a node that vanishes between listing and reading is an error.
pub async fn read_tree(client: &Client, root: &str) -> Result<Tree, Error> {
    let mut out = Tree::new();
    let mut level = vec![root.to_owned()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(READ_BATCH) {
            let data = join_all(chunk.iter().map(|p| client.get_data(p))).await;
            let kids = join_all(chunk.iter().map(|p| client.get_children(p))).await;
            for ((path, data), kids) in chunk.iter().zip(data).zip(kids) {
                let (data, stat) = data?;
                let prefix = if path == "/" { "" } else { path.as_str() };
                let mut kids = kids?;
                kids.sort();
                next.extend(kids.into_iter().map(|k| format!("{prefix}/{k}")));
                out.insert(path.clone(), Node { data, stat });
            }
        }
        level = next;
    }
    Ok(out)
}

/// The differences between trees read from two servers (named `a` and `b`), at most `limit` lines,
/// or `None` if they are equal.
pub fn diff_trees(a: (&str, &Tree), b: (&str, &Tree), limit: usize) -> Option<String> {
    let mut lines = Vec::new();
    for (path, na) in a.1 {
        match b.1.get(path) {
            None => lines.push(format!("{path}: only on {}", a.0)),
            Some(nb) if nb != na => lines.push(format!(
                "{path}:\n  {}: {:?} {:?}\n  {}: {:?} {:?}",
                a.0,
                String::from_utf8_lossy(&na.data),
                na.stat,
                b.0,
                String::from_utf8_lossy(&nb.data),
                nb.stat
            )),
            Some(_) => {}
        }
    }
    for path in b.1.keys().filter(|p| !a.1.contains_key(*p)) {
        lines.push(format!("{path}: only on {}", b.0));
    }
    if lines.is_empty() {
        return None;
    }
    let total = lines.len();
    lines.truncate(limit);
    Some(format!(
        "{total} differences between {} and {}, first {}:\n{}",
        a.0,
        b.0,
        lines.len(),
        lines.join("\n")
    ))
}
