//! Reading a whole tree (data, Stat, ACL of every node) through a raw session, to compare what
//! two servers serve from the same data dir.

use std::collections::BTreeMap;
use std::fmt::Write;

use zk_proto::{Acl, ResponseBody, Stat};

use super::raw::{get_acl, get_children2, get_data, Session};

/// What a server tells about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// getData's data (None for a null buffer).
    pub data: Option<Vec<u8>>,
    /// getData's Stat.
    pub stat: Stat,
    /// getACL's ACL list.
    pub acl: Vec<Acl>,
    /// getACL's Stat (must equal `stat`).
    pub acl_stat: Stat,
    /// Children, sorted.
    pub children: Vec<String>,
}

/// Every node under (and including) `root`, by path; subtrees whose path is in `skip` are left
/// out. Nodes this session may not read show up with the NoAuth error as data.
pub async fn read_tree(s: &mut Session, root: &str, skip: &[&str]) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        if skip.contains(&path.as_str()) {
            continue;
        }
        let (data, stat) = match s.call(&get_data(&path)).await {
            (0, Some(ResponseBody::GetData(d))) => (d.data.map(|b| b.to_vec()), d.stat),
            (err, _) => (Some(format!("<error {err}>").into_bytes()), Stat::default()),
        };
        let (acl, acl_stat) = match s.ok(&get_acl(&path)).await {
            ResponseBody::GetAcl(a) => (a.acl, a.stat),
            other => panic!("getACL {path}: {other:?}"),
        };
        let mut children = match s.call(&get_children2(&path)).await {
            (0, Some(ResponseBody::GetChildren2(c))) => c.children,
            (err, _) => panic!("getChildren2 {path}: error {err}"),
        };
        children.sort();
        for c in &children {
            todo.push(if path == "/" {
                format!("/{c}")
            } else {
                format!("{path}/{c}")
            });
        }
        out.insert(
            path,
            Node {
                data,
                stat,
                acl,
                acl_stat,
                children,
            },
        );
    }
    out
}

/// A readable line per difference between two trees (empty when equal).
pub fn differences(
    left_name: &str,
    left: &BTreeMap<String, Node>,
    right_name: &str,
    right: &BTreeMap<String, Node>,
) -> String {
    let mut out = String::new();
    for (path, l) in left {
        match right.get(path) {
            None => writeln!(out, "{path}: only on {left_name}: {l:?}").unwrap(),
            Some(r) if r != l => {
                writeln!(out, "{path}:\n  {left_name}: {l:?}\n  {right_name}: {r:?}").unwrap()
            }
            Some(_) => {}
        }
    }
    for (path, r) in right {
        if !left.contains_key(path) {
            writeln!(out, "{path}: only on {right_name}: {r:?}").unwrap();
        }
    }
    out
}
