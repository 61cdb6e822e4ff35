//! Writing a file so that a crash or a Ctrl-C never leaves half of it under its final name.
//!
//! Checkpoints, metrics and downloads go through here: the content is written to a hidden
//! temporary file in the same folder, flushed to disk, then renamed over the target, which on
//! every common file system replaces it in one step. A reader sees the old file or the new
//! one, never a mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A failed file operation, converted by `?` into the caller's own error type.
#[derive(Debug)]
pub(crate) struct FileError {
    /// The file a user knows (the target, never the hidden temporary one).
    pub(crate) path: PathBuf,
    /// What the operating system said.
    pub(crate) source: std::io::Error,
}

impl FileError {
    fn new(path: &Path, source: std::io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A fresh name beside `target` for writing before the final rename: `.NAME.part-PID-N`,
/// hidden, in the same folder (so that the rename is atomic), unique within and across
/// processes.
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.part-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `target` atomically (see the module docs); on error `target` is
/// untouched and the temporary file removed.
pub(crate) fn write_bytes(target: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_with(target, |tmp| {
        fs::File::create(tmp)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(|e| FileError::new(target, e))
    })
}

/// Lets `write` create the temporary file (by path, for writers that open files themselves,
/// such as dfdx's safetensors export), then flushes it to disk and renames it over `target`.
/// Errors name `target`, not the hidden temporary file.
pub(crate) fn write_with<E: From<FileError>>(
    target: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| FileError::new(dir, e))?;
    }
    let tmp = temp_path(target);
    let result = (|| {
        write(&tmp)?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| FileError::new(target, e))?;
        fs::rename(&tmp, target).map_err(|e| FileError::new(target, e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
