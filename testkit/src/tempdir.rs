//! A uniquely named directory under the system temp dir, removed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// Set this environment variable (to anything but empty or `0`) to keep every test directory after the
/// test, for reading server logs and data dirs. The path is logged at `info` level when the directory is
/// created and printed when it is kept.
pub const KEEP_DIRS_ENV: &str = "ZK_TESTKIT_KEEP_DIRS";

/// A directory `<temp>/zk-testkit-<pid>-<n>-<nanos>-<label>`, created on construction and removed (with
/// its contents) on drop unless [`KEEP_DIRS_ENV`] is set.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates a fresh directory; `label` is only there to make the name readable.
    pub fn new(label: &str) -> Result<Self, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("zk-testkit-{}-{n}-{nanos}-{label}", std::process::id());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        tracing::info!(path = %path.display(), "test dir");
        Ok(TestDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if crate::env_flag(KEEP_DIRS_ENV) {
            eprintln!("zk-testkit: keeping {}", self.path.display());
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove test dir");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_unique_and_removed() {
        let a = TestDir::new("a").unwrap();
        let b = TestDir::new("a").unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.path().is_dir());
        let path = a.path().to_owned();
        fs::write(path.join("f"), b"x").unwrap();
        drop(a);
        assert!(!path.exists() || crate::env_flag(KEEP_DIRS_ENV));
    }
}
