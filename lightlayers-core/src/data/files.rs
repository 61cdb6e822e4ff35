//! Reading files that may be gzip-compressed, and writing files so that a crash never leaves
//! half a file under the final name.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start like a gzip stream. Decided by content, not by the file's name, so
/// that a `.gz` file saved decompressed (or the reverse) still reads.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads a whole file, decompressing it when it is gzip (by its magic bytes).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_maybe_gz(bytes, path)
}

/// Decompresses `bytes` when they are gzip, else returns them unchanged; `path` only names
/// them in errors.
pub(crate) fn decode_maybe_gz(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    gunzip(&bytes, path)
}

/// Decompresses a (possibly multi-member) gzip stream held in memory.
pub(crate) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity(size_hint(bytes));
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// The decompressed size from gzip's trailer (exact below 4 GiB), bounded by what deflate can
/// possibly expand to, so that a lying trailer cannot trigger a huge allocation.
fn size_hint(bytes: &[u8]) -> usize {
    let Some(tail) = bytes.len().checked_sub(4).and_then(|at| bytes.get(at..)) else {
        return 0;
    };
    let claimed = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    claimed.min(bytes.len().saturating_mul(1032)).min(1 << 30)
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

/// Writes `bytes` to `target` atomically: into a temporary file in the same folder, flushed to
/// disk, then renamed over `target`. On error the temporary file is removed and `target` is
/// untouched. The folder is created if needed.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let tmp = temp_path(target);
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| DataError::io(&tmp, e))?;
        file.sync_all().map_err(|e| DataError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, target).map_err(|e| DataError::io(target, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Moves a finished temporary file or folder `from` to `to` in one rename. A folder already at
/// `to` (an incomplete earlier unpack) is first moved aside and deleted afterwards, so that at
/// every moment `to` is either the old complete-or-not content or the new complete one.
pub(crate) fn replace(from: &Path, to: &Path) -> Result<(), DataError> {
    let stale = if to.is_dir() {
        let aside = temp_path(to);
        fs::rename(to, &aside).map_err(|e| DataError::io(to, e))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(from, to).map_err(|e| DataError::io(to, e))?;
    if let Some(aside) = stale {
        let _ = fs::remove_dir_all(aside);
    }
    Ok(())
}
