//! Small durable-file helpers: directory fsync and write-to-temp-then-rename.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::layout::TMP_EXTENSION;
use crate::StorageError;

/// Creates `dir` (and parents) if missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), StorageError> {
    fs::create_dir_all(dir).map_err(StorageError::io("creating directory", dir))
}

/// fsyncs a directory, making renames, creations and deletions in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io("fsyncing directory", dir))
}

/// `<path>.tmp`, the name a file is written under before its atomic rename.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TMP_EXTENSION);
    path.with_file_name(name)
}

/// Replaces `path` with `contents` atomically and durably, as Apache's `AtomicFileOutputStream`
/// does: write `<path>.tmp`, fsync it, rename it over `path`, fsync the directory.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StorageError> {
    let tmp = tmp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(StorageError::io("creating", &tmp))?;
    file.write_all(contents)
        .map_err(StorageError::io("writing", &tmp))?;
    file.sync_all()
        .map_err(StorageError::io("fsyncing", &tmp))?;
    drop(file);
    rename_durably(&tmp, path)
}

/// Renames `from` to `to` and fsyncs the destination directory.
pub(crate) fn rename_durably(from: &Path, to: &Path) -> Result<(), StorageError> {
    fs::rename(from, to).map_err(StorageError::io("renaming", from))?;
    if let Some(dir) = to.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}
