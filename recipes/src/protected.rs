//! Protected creation of ephemeral(-sequential) nodes, in Curator's layout, and the helpers around
//! it: sequence ordering, parent containers, and cleanup of nodes whose owner went away.
//!
//! A create that fails with ConnectionLoss may or may not have been applied. Re-creating blindly
//! would leave an orphan node that holds a place in the queue until the session ends — a lock that
//! no one will ever release (Curator's reason for `withProtection()`). So every attempt gets a GUID
//! and the node's name starts with [`PROTECTED_PREFIX`]`<guid>-`, exactly as Curator's
//! `CreateBuilderImpl` names them (`_c_` + `UUID.randomUUID()` + `-`), so Java and Rust contenders
//! share one layout. After a ConnectionLoss we list the parent and look for the GUID before
//! creating again.

use tokio::time::Instant;
use tracing::{debug, warn};
use zk_client::{Client, CreateMode, CreateOptions, SessionId, Stat};

use crate::state::{until, wait_connected};
use crate::Error;

/// The prefix of a protected node's name (Curator's `CreateBuilderImpl.PROTECTED_PREFIX`).
pub(crate) const PROTECTED_PREFIX: &str = "_c_";

/// How many digits ZooKeeper appends to a sequential node's name (`%010d` in `PrepRequestProcessor`).
pub(crate) const SEQUENCE_DIGITS: usize = 10;

/// How often a create is retried after its parent vanished (a container reaped between our
/// creating the parent and the node) before giving up.
const MAX_PARENT_RETRIES: usize = 5;

/// How many times a cleanup task retries a delete after connection loss before leaving the node to
/// die with its session.
const MAX_CLEANUP_ATTEMPTS: usize = 10;

/// A fresh attempt id: a random (v4) UUID in its hyphenated form, as Java's `UUID.toString()`.
pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The name prefix of the node created by attempt `guid`: `_c_<guid>-`.
pub(crate) fn protected_prefix(guid: &str) -> String {
    format!("{PROTECTED_PREFIX}{guid}-")
}

/// The sequence number of a sequential node's name: its last [`SEQUENCE_DIGITS`] characters
/// (ZooKeeper formats it as a signed `%010d`, so after overflow it reads e.g. `-000000001`).
pub(crate) fn sequence(name: &str) -> Option<i64> {
    let start = name.len().checked_sub(SEQUENCE_DIGITS)?;
    name.get(start..)?.parse().ok()
}

/// The children whose name contains one of `markers` and ends in a sequence number, ordered by
/// sequence only (never by name: protected names start with a random GUID).
pub(crate) fn sorted_by_sequence(children: Vec<String>, markers: &[&str]) -> Vec<String> {
    let mut nodes: Vec<(i64, String)> = children
        .into_iter()
        .filter(|name| markers.iter().any(|m| name.contains(m)))
        .filter_map(|name| sequence(&name).map(|seq| (seq, name)))
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, name)| name).collect()
}

/// Joins a parent path and a child name.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component of a path.
pub(crate) fn node_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Checks a recipe's base path: absolute, no trailing slash, not the root.
pub(crate) fn validate_path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') {
        return Err(Error::InvalidArgument(format!(
            "recipe path {path:?} must be absolute, not the root, and not end in '/'"
        )));
    }
    Ok(())
}

/// Creates `path` and its missing ancestors as container nodes (Curator's
/// `creatingParentContainersIfNeeded`), so the server reaps them once they are empty. Falls back to
/// persistent nodes if the server has no containers (before 3.5.1).
pub(crate) async fn ensure_path(client: &Client, path: &str) -> Result<(), Error> {
    let mut attempts = 0;
    loop {
        match create_ancestors(client, path).await {
            // An empty container ancestor can be reaped between our creates (it had a child
            // once): start again from the top.
            Err(Error::Client(zk_client::Error::NoNode)) if attempts < MAX_PARENT_RETRIES => {
                attempts += 1;
                debug!(%path, attempts, "an ancestor vanished while creating the path; again");
            }
            other => return other,
        }
    }
}

async fn create_ancestors(client: &Client, path: &str) -> Result<(), Error> {
    let mut end = 0;
    while end < path.len() {
        end = path[end + 1..]
            .find('/')
            .map_or(path.len(), |i| end + 1 + i);
        let ancestor = &path[..end];
        let container = CreateOptions::new(CreateMode::Container);
        let result = match client.create(ancestor, b"", &container).await {
            Err(zk_client::Error::Unimplemented) => {
                debug!(%ancestor, "no container support; creating a persistent parent");
                client
                    .create(ancestor, b"", &CreateOptions::persistent())
                    .await
            }
            other => other,
        };
        match result {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A node this process created and owns.
#[derive(Debug, Clone)]
pub(crate) struct OwnNode {
    /// Full path.
    pub(crate) path: String,
    /// Its Stat at creation (czxid = fencing token, version for guarded writes).
    pub(crate) stat: Stat,
    /// The session that owns it (ephemeral owner).
    pub(crate) session: SessionId,
}

impl OwnNode {
    /// The node's name (last path component).
    pub(crate) fn name(&self) -> &str {
        node_name(&self.path)
    }
}

/// Creates `dir/_c_<guid>-<base>` (protected) in `mode`, creating `dir` as a container if needed.
///
/// After a retryable failure (ConnectionLoss, timeouts) it waits for the connection, lists `dir`
/// and adopts the node carrying `guid` if the create was applied; otherwise it creates again.
/// If the session changes meanwhile it fails with `SessionExpired`: the node, if any, died with the
/// old session, and the caller starts over with a new GUID.
pub(crate) async fn create_protected(
    client: &Client,
    dir: &str,
    guid: &str,
    base: &str,
    data: &[u8],
    mode: CreateMode,
    deadline: Option<Instant>,
) -> Result<OwnNode, Error> {
    wait_connected(client, deadline).await?;
    let session = client.session_id();
    let prefix = protected_prefix(guid);
    let path = join(dir, &format!("{prefix}{base}"));
    let options = CreateOptions::new(mode);
    let mut parent_retries = 0;
    let mut must_look_first = false;
    loop {
        if client.session_id() != session {
            return Err(zk_client::Error::SessionExpired.into());
        }
        if must_look_first {
            wait_connected(client, deadline).await?;
            match until(deadline, find_own(client, dir, &prefix, session)).await {
                Ok(Some(node)) => {
                    debug!(path = %node.path, "protected create: found the node after connection loss");
                    return Ok(node);
                }
                Ok(None) => must_look_first = false,
                Err(Error::Client(e)) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            }
        }
        match until(deadline, async {
            Ok(client.create(&path, data, &options).await?)
        })
        .await
        {
            Ok((created, stat)) => {
                return Ok(OwnNode {
                    path: created,
                    session: SessionId(stat.ephemeral_owner),
                    stat,
                })
            }
            Err(Error::Client(zk_client::Error::NoNode)) if parent_retries < MAX_PARENT_RETRIES => {
                parent_retries += 1;
                // Creating the parents is idempotent: a lost connection (e.g. the server
                // leaving its ensemble) is waited out and the create tried again.
                match until(deadline, ensure_path(client, dir)).await {
                    Ok(()) => {}
                    Err(Error::Client(e)) if e.is_retryable() => {
                        debug!(%dir, error = %e, "creating the parents: retrying after reconnect");
                        wait_connected(client, deadline).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Client(e)) if e.is_retryable() => {
                debug!(%path, error = %e, "protected create: outcome unknown; looking for our node");
                must_look_first = true;
            }
            Err(Error::Timeout) => {
                // The create may be in flight: leave it to the caller's cleanup (which looks for the GUID).
                return Err(Error::Timeout);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The child of `dir` whose name starts with `prefix` and that `session` owns, if any.
async fn find_own(
    client: &Client,
    dir: &str,
    prefix: &str,
    session: SessionId,
) -> Result<Option<OwnNode>, Error> {
    let children = match client.get_children(dir).await {
        Ok(children) => children,
        Err(zk_client::Error::NoNode) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for name in children.into_iter().filter(|c| c.starts_with(prefix)) {
        let path = join(dir, &name);
        if let Some(stat) = client.exists(&path).await? {
            if stat.ephemeral_owner == session.0 {
                return Ok(Some(OwnNode {
                    path,
                    stat,
                    session,
                }));
            }
        }
    }
    Ok(None)
}

/// Which node a cleanup deletes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A node whose path we know.
    Path(String),
    /// The child of `dir` named with our attempt's prefix (a create whose outcome is unknown).
    Prefix {
        /// The parent.
        dir: String,
        /// `_c_<guid>-`.
        prefix: String,
    },
    /// A fixed-name node (exclusive lock) that is ours only if it holds our GUID as data and our
    /// session owns it.
    Fixed {
        /// The node.
        path: String,
        /// Our attempt's GUID (the node's data).
        guid: String,
    },
}

/// Deletes a node this process created, in the background, unless disarmed: the drop half of
/// cancellation safety.
#[derive(Debug)]
pub(crate) struct Cleanup {
    client: Client,
    target: Option<Target>,
    session: SessionId,
}

impl Cleanup {
    /// Arms a cleanup of `target`, created in the client's current session.
    pub(crate) fn new(client: &Client, target: Target) -> Self {
        Cleanup {
            session: client.session_id(),
            client: client.clone(),
            target: Some(target),
        }
    }

    /// Records the created node (and the session that owns it).
    pub(crate) fn created(&mut self, node: &OwnNode) {
        if !matches!(self.target, Some(Target::Fixed { .. })) {
            self.target = Some(Target::Path(node.path.clone()));
        }
        self.session = node.session;
    }

    /// The node is handed to its owner (a guard): nothing to clean up.
    pub(crate) fn disarm(mut self) {
        self.target = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(target) = self.target.take() else {
            return;
        };
        spawn_delete(&self.client, target, self.session);
    }
}

/// Deletes `target` in the background (see [`delete_own`]).
pub(crate) fn spawn_delete(client: &Client, target: Target, session: SessionId) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        warn!(
            ?target,
            "no runtime to delete an abandoned node; it lives until its session ends"
        );
        return;
    };
    let client = client.clone();
    runtime.spawn(async move { delete_own(&client, target, session).await });
}

/// Deletes our node, retrying across connection loss while the session that owns it lives.
/// Best effort: a node we fail to delete dies with its session. Returns once the node is
/// certainly gone or can no longer be deleted by us.
pub(crate) async fn delete_own(client: &Client, mut target: Target, session: SessionId) {
    for _ in 0..MAX_CLEANUP_ATTEMPTS {
        if session != SessionId(0) && client.session_id() != session {
            return; // the node died with its session (or will when the server notices)
        }
        if wait_connected(client, None).await.is_err() {
            return;
        }
        let (path, version) = match &target {
            Target::Path(p) => (p.clone(), None),
            Target::Prefix { dir, prefix } => {
                match find_own(client, dir, prefix, client.session_id()).await {
                    Ok(Some(node)) => (node.path, None),
                    Ok(None) => return,
                    Err(_) => continue,
                }
            }
            Target::Fixed { path, guid } => match client.get_data(path).await {
                Ok((data, stat))
                    if data == guid.as_bytes() && stat.ephemeral_owner == client.session_id().0 =>
                {
                    (path.clone(), Some(stat.version))
                }
                Ok(_) | Err(zk_client::Error::NoNode) => return,
                Err(_) => continue,
            },
        };
        match client.delete(&path, version).await {
            Ok(()) | Err(zk_client::Error::NoNode) => {
                debug!(%path, "deleted our node");
                return;
            }
            Err(e) if e.is_retryable() => {
                if !matches!(target, Target::Fixed { .. }) {
                    target = Target::Path(path);
                }
            }
            Err(e) => {
                warn!(%path, error = %e, "could not delete our node");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_the_last_ten_characters() {
        let table = [
            ("_c_0f3c-lock-0000000012", Some(12)),
            ("lock-0000000000", Some(0)),
            ("latch--000000001", Some(-1)),
            ("short1", None),
            ("lock-00000000x1", None),
        ];
        for (name, want) in table {
            assert_eq!(sequence(name), want, "{name}");
        }
    }

    #[test]
    fn ordering_ignores_the_guid_and_skips_foreign_names() {
        let children = vec![
            "_c_ffff-lock-0000000003".to_owned(),
            "_c_0000-lock-0000000007".to_owned(),
            "_c_aaaa-__READ__0000000001".to_owned(),
            "not-a-lock".to_owned(),
            "lock-0000000005".to_owned(),
        ];
        assert_eq!(
            sorted_by_sequence(children.clone(), &["lock-"]),
            [
                "_c_ffff-lock-0000000003",
                "lock-0000000005",
                "_c_0000-lock-0000000007"
            ]
        );
        assert_eq!(
            sorted_by_sequence(children, &["__READ__", "__WRIT__"]),
            ["_c_aaaa-__READ__0000000001"]
        );
    }

    #[test]
    fn protected_names_follow_curator() {
        let guid = new_guid();
        assert_eq!(guid.len(), 36);
        assert_eq!(protected_prefix(&guid), format!("_c_{guid}-"));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/x/y", "a"), "/x/y/a");
        assert_eq!(node_name("/x/y/a"), "a");
        assert!(validate_path("/locks/a").is_ok());
        for bad in ["", "/", "rel", "/a/"] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }
}
