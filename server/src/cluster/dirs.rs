//! The cluster's directory: one data dir per server under a fresh temp dir, removed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::ClusterError;

/// Set this environment variable (to anything but empty or `0`) to keep the cluster's directory
/// after the test, for reading the servers' data dirs. The path is logged when the cluster starts
/// and when it is kept, and [`TestCluster::dir`](super::TestCluster::dir) returns it.
pub const KEEP_DIRS_ENV: &str = "ZK_KEEP_TEST_DIRS";

/// `<temp>/zk-cluster-<pid>-<n>-<nanos>`, holding `server-<id>/` for each server.
#[derive(Debug)]
pub(crate) struct ClusterDir {
    path: PathBuf,
}

impl ClusterDir {
    /// Creates a fresh, uniquely named directory.
    pub(crate) fn create() -> Result<ClusterDir, ClusterError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("zk-cluster-{}-{n}-{nanos}", std::process::id()));
        fs::create_dir_all(&path)
            .map_err(|e| ClusterError::io(format!("creating {}", path.display()), e))?;
        tracing::info!(path = %path.display(), "test cluster dir");
        Ok(ClusterDir { path })
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The data dir of server `id` (not created here).
    pub(crate) fn server(&self, id: u64) -> PathBuf {
        self.path.join(format!("server-{id}"))
    }
}

fn keep_dirs() -> bool {
    std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

impl Drop for ClusterDir {
    fn drop(&mut self) {
        if keep_dirs() {
            tracing::warn!(path = %self.path.display(), "keeping the test cluster dir");
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove the cluster dir");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_and_removed_on_drop() {
        let a = ClusterDir::create().unwrap();
        let b = ClusterDir::create().unwrap();
        assert_ne!(a.path(), b.path());
        fs::create_dir_all(a.server(1)).unwrap();
        fs::write(a.server(1).join("f"), b"x").unwrap();
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists() || keep_dirs());
    }
}
