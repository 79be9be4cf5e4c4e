//! A versioned ZooKeeper tree, partitioned per znode path: the [`Model`] for ZooKeeper histories.
//!
//! Each path's state is whether the znode exists, its data and its data version (`Stat.version`). The model
//! covers create (fails with NodeExists), delete and setData with an optional expected version (NoNode,
//! BadVersion), check, getData and exists, and multi over any of them (all or nothing).
//!
//! # What is not modelled
//! - Parents and children: creates assume the parent exists, and deletes assume the znode has no children,
//!   for the whole history. Checked znodes should be leaves under a parent that the test creates first and
//!   never deletes. (Modelling `NoNode` for a missing parent, `NotEmpty` and the parent's cversion would tie a
//!   parent's partition to all its children's.)
//! - Sequential creates (the server picks the name), ephemerals (they vanish with a session: C6 is checked at
//!   the end of a test, not here), ACLs, and stat fields other than the data version (czxid, mzxid and pzxid
//!   are assigned by the server; [`session_order`](crate::session_order) checks zxids).
//! - Plain reads. ZooKeeper's reads are served by the connected server and may be stale, so they are not
//!   linearizable and do not belong in a history checked here. Record a **sync followed by a read** in the
//!   same session as one [`ZkOp::GetData`] or [`ZkOp::Exists`], invoked when the sync was sent and
//!   completed when the read's reply arrived. Check plain reads with the
//!   [`SessionOrderChecker`](crate::SessionOrderChecker).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::model::Model;

/// A znode path. Cheap to clone, so that model states are.
pub type Path = Arc<str>;

/// Znode data. Cheap to clone, so that model states are.
pub type Data = Arc<[u8]>;

/// The errors a ZooKeeper operation can reply with that the model decides. Connection loss, session expiry
/// and timeouts are not among them: an operation that ended with one of those is indeterminate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZkError {
    /// `NONODE` (-101): the znode does not exist.
    NoNode,
    /// `BADVERSION` (-103): the expected version does not match the znode's.
    BadVersion,
    /// `NODEEXISTS` (-110): create found the znode already there.
    NodeExists,
}

impl ZkError {
    /// The wire code, as in Apache ZooKeeper's `KeeperException.Code`.
    pub fn code(self) -> i32 {
        match self {
            ZkError::NoNode => -101,
            ZkError::BadVersion => -103,
            ZkError::NodeExists => -110,
        }
    }

    /// The error for a wire code, if the model knows it.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            -101 => Some(ZkError::NoNode),
            -103 => Some(ZkError::BadVersion),
            -110 => Some(ZkError::NodeExists),
            _ => None,
        }
    }
}

/// A ZooKeeper operation on known paths. Versions are data versions; `None` is ZooKeeper's `-1` ("any").
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ZkOp {
    /// create (persistent, not sequential).
    Create {
        /// The znode.
        path: Path,
        /// Its initial data.
        data: Data,
    },
    /// delete.
    Delete {
        /// The znode.
        path: Path,
        /// The expected data version, or any.
        version: Option<i32>,
    },
    /// setData: a compare-and-set when `version` is given.
    SetData {
        /// The znode.
        path: Path,
        /// The new data.
        data: Data,
        /// The expected data version, or any.
        version: Option<i32>,
    },
    /// getData (after a sync, to be linearizable).
    GetData {
        /// The znode.
        path: Path,
    },
    /// exists (after a sync, to be linearizable).
    Exists {
        /// The znode.
        path: Path,
    },
    /// check, as a multi sub-operation: fails unless the znode exists with the expected version.
    Check {
        /// The znode.
        path: Path,
        /// The expected data version, or any (then it only checks existence).
        version: Option<i32>,
    },
    /// multi: the operations in order, all or nothing.
    Multi(Vec<ZkOp>),
}

impl ZkOp {
    /// `create(path, data)`.
    pub fn create(path: &str, data: impl AsRef<[u8]>) -> Self {
        ZkOp::Create {
            path: path.into(),
            data: data.as_ref().into(),
        }
    }

    /// `delete(path, version)`.
    pub fn delete(path: &str, version: Option<i32>) -> Self {
        ZkOp::Delete {
            path: path.into(),
            version,
        }
    }

    /// `setData(path, data, version)`.
    pub fn set_data(path: &str, data: impl AsRef<[u8]>, version: Option<i32>) -> Self {
        ZkOp::SetData {
            path: path.into(),
            data: data.as_ref().into(),
            version,
        }
    }

    /// `getData(path)`.
    pub fn get_data(path: &str) -> Self {
        ZkOp::GetData { path: path.into() }
    }

    /// `exists(path)`.
    pub fn exists(path: &str) -> Self {
        ZkOp::Exists { path: path.into() }
    }

    /// `check(path, version)`.
    pub fn check(path: &str, version: Option<i32>) -> Self {
        ZkOp::Check {
            path: path.into(),
            version,
        }
    }

    /// `multi(ops)`.
    pub fn multi(ops: impl IntoIterator<Item = ZkOp>) -> Self {
        ZkOp::Multi(ops.into_iter().collect())
    }

    fn collect_paths(&self, out: &mut Vec<Path>) {
        match self {
            ZkOp::Create { path, .. }
            | ZkOp::Delete { path, .. }
            | ZkOp::SetData { path, .. }
            | ZkOp::GetData { path }
            | ZkOp::Exists { path }
            | ZkOp::Check { path, .. } => out.push(path.clone()),
            ZkOp::Multi(ops) => ops.iter().for_each(|op| op.collect_paths(out)),
        }
    }

    fn is_read_only(&self) -> bool {
        match self {
            ZkOp::GetData { .. } | ZkOp::Exists { .. } | ZkOp::Check { .. } => true,
            ZkOp::Create { .. } | ZkOp::Delete { .. } | ZkOp::SetData { .. } => false,
            ZkOp::Multi(ops) => ops.iter().all(ZkOp::is_read_only),
        }
    }
}

/// What a ZooKeeper reply said, as far as the model can judge it.
#[derive(Clone, PartialEq, Eq)]
pub enum ZkOutput {
    /// create succeeded.
    Created,
    /// delete succeeded.
    Deleted,
    /// setData succeeded; `version` is the new data version from the returned Stat.
    Set {
        /// The new data version.
        version: i32,
    },
    /// getData succeeded.
    Data {
        /// The data read.
        data: Data,
        /// The data version in the returned Stat.
        version: i32,
    },
    /// exists replied: the data version if the znode exists.
    Exists {
        /// The data version, or `None` for a null Stat.
        version: Option<i32>,
    },
    /// check succeeded (inside a multi).
    Checked,
    /// multi succeeded: one result per operation.
    Multi(Vec<ZkOutput>),
    /// multi failed: nothing was applied; `index` is the first operation that failed.
    MultiFailed {
        /// The first failing operation.
        index: usize,
        /// Its error.
        error: ZkError,
    },
    /// The operation failed with an error the model decides.
    Error(ZkError),
}

impl ZkOutput {
    /// A getData reply.
    pub fn data(data: impl AsRef<[u8]>, version: i32) -> Self {
        ZkOutput::Data {
            data: data.as_ref().into(),
            version,
        }
    }
}

/// One existing znode in a [`ZkState`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Znode {
    /// Its data.
    pub data: Data,
    /// Its data version: 0 at create, +1 per setData.
    pub version: i32,
}

/// The state of the znodes of one partition: the paths that exist, with their data and version. A path
/// absent from the map does not exist (deleting a znode and never having created it are the same state).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ZkState {
    /// The existing znodes.
    pub nodes: BTreeMap<Path, Znode>,
}

/// The versioned-tree [`Model`] of ZooKeeper.
///
/// ```
/// use zk_lincheck::{Model, ZkModel, ZkOp, ZkOutput};
///
/// let model = ZkModel::new().with_node("/k", "a");
/// let s0 = model.init(&["/k".into()]);
/// let s1 = model.step(&s0, &ZkOp::set_data("/k", "b", Some(0)), Some(&ZkOutput::Set { version: 1 })).unwrap();
/// assert!(model.step(&s1, &ZkOp::get_data("/k"), Some(&ZkOutput::data("a", 0))).is_none()); // stale
/// ```
#[derive(Clone, Debug, Default)]
pub struct ZkModel {
    initial: BTreeMap<Path, Znode>,
}

impl ZkModel {
    /// A model where no checked znode exists before the history starts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The znode at `path` exists with `data` and version 0 before the history starts.
    pub fn with_node(self, path: &str, data: impl AsRef<[u8]>) -> Self {
        self.with_node_version(path, data, 0)
    }

    /// The znode at `path` exists with `data` and `version` before the history starts.
    pub fn with_node_version(mut self, path: &str, data: impl AsRef<[u8]>, version: i32) -> Self {
        self.initial.insert(
            path.into(),
            Znode {
                data: data.as_ref().into(),
                version,
            },
        );
        self
    }

    /// The sequential specification itself: `op` applied to `state`, giving the next state and ZooKeeper's
    /// reply. Simulations can use it as a reference, and history generators to produce outputs.
    pub fn apply(&self, state: &ZkState, op: &ZkOp) -> (ZkState, ZkOutput) {
        let mut next = state.clone();
        let output = apply(&mut next.nodes, op);
        (next, output)
    }
}

/// Applies `op` to `nodes` and returns ZooKeeper's reply. A failed operation leaves `nodes` unchanged.
fn apply(nodes: &mut BTreeMap<Path, Znode>, op: &ZkOp) -> ZkOutput {
    let version_matches =
        |node: &Znode, expected: &Option<i32>| expected.map_or(true, |v| v == node.version);
    match op {
        ZkOp::Create { path, data } => {
            if nodes.contains_key(path) {
                return ZkOutput::Error(ZkError::NodeExists);
            }
            nodes.insert(
                path.clone(),
                Znode {
                    data: data.clone(),
                    version: 0,
                },
            );
            ZkOutput::Created
        }
        ZkOp::Delete { path, version } => match nodes.get(path) {
            None => ZkOutput::Error(ZkError::NoNode),
            Some(node) if !version_matches(node, version) => ZkOutput::Error(ZkError::BadVersion),
            Some(_) => {
                nodes.remove(path);
                ZkOutput::Deleted
            }
        },
        ZkOp::SetData {
            path,
            data,
            version,
        } => match nodes.get_mut(path) {
            None => ZkOutput::Error(ZkError::NoNode),
            Some(node) if !version_matches(node, version) => ZkOutput::Error(ZkError::BadVersion),
            Some(node) => {
                node.data = data.clone();
                node.version = node.version.wrapping_add(1);
                ZkOutput::Set {
                    version: node.version,
                }
            }
        },
        ZkOp::GetData { path } => match nodes.get(path) {
            None => ZkOutput::Error(ZkError::NoNode),
            Some(node) => ZkOutput::Data {
                data: node.data.clone(),
                version: node.version,
            },
        },
        ZkOp::Exists { path } => ZkOutput::Exists {
            version: nodes.get(path).map(|node| node.version),
        },
        ZkOp::Check { path, version } => match nodes.get(path) {
            None => ZkOutput::Error(ZkError::NoNode),
            Some(node) if !version_matches(node, version) => ZkOutput::Error(ZkError::BadVersion),
            Some(_) => ZkOutput::Checked,
        },
        ZkOp::Multi(ops) => {
            let mut scratch = nodes.clone();
            let mut results = Vec::with_capacity(ops.len());
            for (index, op) in ops.iter().enumerate() {
                match apply(&mut scratch, op) {
                    ZkOutput::Error(error) | ZkOutput::MultiFailed { error, .. } => {
                        return ZkOutput::MultiFailed { index, error };
                    }
                    result => results.push(result),
                }
            }
            *nodes = scratch;
            ZkOutput::Multi(results)
        }
    }
}

impl Model for ZkModel {
    type Input = ZkOp;
    type Output = ZkOutput;
    type State = ZkState;
    type Key = Path;

    fn keys(&self, input: &ZkOp) -> Vec<Path> {
        let mut paths = Vec::new();
        input.collect_paths(&mut paths);
        paths.sort();
        paths.dedup();
        paths
    }

    fn init(&self, keys: &[Path]) -> ZkState {
        let nodes = keys
            .iter()
            .filter_map(|key| self.initial.get_key_value(key))
            .map(|(k, v)| (k.clone(), v.clone()));
        ZkState {
            nodes: nodes.collect(),
        }
    }

    fn step(&self, state: &ZkState, input: &ZkOp, output: Option<&ZkOutput>) -> Option<ZkState> {
        let (next, expected) = self.apply(state, input);
        match output {
            Some(observed) if *observed != expected => None,
            _ => Some(next),
        }
    }

    fn is_read_only(&self, input: &ZkOp) -> bool {
        input.is_read_only()
    }

    /// Replaces data written by indeterminate creates and setDatas that no completed reply shows by one
    /// placeholder. Sound because the model has no operation that depends on data except reads, and a
    /// read that returned data never equals a value no reply shows, nor the placeholder.
    fn canonicalize_indeterminate(
        &self,
        indeterminate: &[&ZkOp],
        completed: &[&ZkOutput],
    ) -> Option<Vec<ZkOp>> {
        let mut observed: HashSet<&[u8]> = HashSet::new();
        completed
            .iter()
            .for_each(|output| output.collect_data(&mut observed));
        if observed.contains(UNOBSERVED) {
            return None;
        }
        let unobserved: Data = UNOBSERVED.into();
        Some(
            indeterminate
                .iter()
                .map(|op| op.without_unobserved_data(&observed, &unobserved))
                .collect(),
        )
    }
}

/// The placeholder for written data that no reply shows (see
/// [`ZkModel::canonicalize_indeterminate`](Model::canonicalize_indeterminate)).
const UNOBSERVED: &[u8] = b"\xffzk-lincheck: data no reply shows\xff";

impl ZkOp {
    fn without_unobserved_data(&self, observed: &HashSet<&[u8]>, placeholder: &Data) -> ZkOp {
        let data = |d: &Data| {
            if observed.contains(&d[..]) {
                d.clone()
            } else {
                placeholder.clone()
            }
        };
        match self {
            ZkOp::Create { path, data: d } => ZkOp::Create {
                path: path.clone(),
                data: data(d),
            },
            ZkOp::SetData {
                path,
                data: d,
                version,
            } => ZkOp::SetData {
                path: path.clone(),
                data: data(d),
                version: *version,
            },
            ZkOp::Multi(ops) => ZkOp::Multi(
                ops.iter()
                    .map(|op| op.without_unobserved_data(observed, placeholder))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl ZkOutput {
    fn collect_data<'a>(&'a self, out: &mut HashSet<&'a [u8]>) {
        match self {
            ZkOutput::Data { data, .. } => {
                out.insert(data);
            }
            ZkOutput::Multi(results) => results.iter().for_each(|r| r.collect_data(out)),
            _ => {}
        }
    }
}

/// Shows data as a string when it is printable UTF-8, else as hex.
struct DataFmt<'a>(&'a [u8]);

impl fmt::Debug for DataFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == UNOBSERVED {
            return f.write_str("<data no reply shows>");
        }
        match std::str::from_utf8(self.0) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => write!(f, "{s:?}"),
            _ => {
                f.write_str("0x")?;
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

struct VersionFmt(Option<i32>);

impl fmt::Debug for VersionFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "v{v}"),
            None => f.write_str("any"),
        }
    }
}

impl fmt::Debug for ZkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkOp::Create { path, data } => write!(f, "create({path}, {:?})", DataFmt(data)),
            ZkOp::Delete { path, version } => {
                write!(f, "delete({path}, {:?})", VersionFmt(*version))
            }
            ZkOp::SetData {
                path,
                data,
                version,
            } => {
                write!(
                    f,
                    "setData({path}, {:?}, {:?})",
                    DataFmt(data),
                    VersionFmt(*version)
                )
            }
            ZkOp::GetData { path } => write!(f, "getData({path})"),
            ZkOp::Exists { path } => write!(f, "exists({path})"),
            ZkOp::Check { path, version } => write!(f, "check({path}, {:?})", VersionFmt(*version)),
            ZkOp::Multi(ops) => write!(f, "multi{ops:?}"),
        }
    }
}

impl fmt::Debug for ZkOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkOutput::Created => f.write_str("created"),
            ZkOutput::Deleted => f.write_str("deleted"),
            ZkOutput::Set { version } => write!(f, "set v{version}"),
            ZkOutput::Data { data, version } => write!(f, "{:?} v{version}", DataFmt(data)),
            ZkOutput::Exists { version: Some(v) } => write!(f, "exists v{v}"),
            ZkOutput::Exists { version: None } => f.write_str("null stat"),
            ZkOutput::Checked => f.write_str("checked"),
            ZkOutput::Multi(results) => write!(f, "multi{results:?}"),
            ZkOutput::MultiFailed { index, error } => {
                write!(f, "multi failed at {index}: {error:?}")
            }
            ZkOutput::Error(error) => write!(f, "{error:?}"),
        }
    }
}

impl fmt::Debug for Znode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} v{}", DataFmt(&self.data), self.version)
    }
}

impl fmt::Debug for ZkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.nodes.iter()).finish()
    }
}

#[cfg(test)]
#[path = "zk_model_test.rs"]
mod tests;
