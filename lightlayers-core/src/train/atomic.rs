//! Writing a file so that a crash or a Ctrl-C never leaves half of it under its final name.
//!
//! Every checkpoint and metrics file goes through here: the content is written to a hidden
//! temporary file in the same folder, flushed to disk, then renamed over the target, which on
//! every common file system replaces it in one step. A reader sees the old file or the new
//! one, never a mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::TrainError;

/// A fresh hidden name beside `target`, unique within and across processes.
fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.part-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `target` atomically (see the module docs); on error `target` is
/// untouched and the temporary file removed.
pub(crate) fn write_bytes(target: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_with(target, |tmp| {
        fs::File::create(tmp)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(|e| TrainError::io(target, e))
    })
}

/// Lets `write` create the temporary file (by path, for writers that open files themselves,
/// such as dfdx's safetensors export), then flushes it to disk and renames it over `target`.
/// Errors name `target`, not the hidden temporary file.
pub(crate) fn write_with(
    target: &Path,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    let tmp = temp_path(target);
    let result = (|| {
        write(&tmp)?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| TrainError::io(target, e))?;
        fs::rename(&tmp, target).map_err(|e| TrainError::io(target, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
