//! The folder downloads are kept in between runs.

use std::path::PathBuf;

use super::error::DataError;

/// The environment variable naming the cache folder.
pub const DATA_ENV: &str = "LIGHTLAYERS_DATA";

/// The cache folder: `$LIGHTLAYERS_DATA` when set and not empty, else `lightlayers` in the
/// platform's cache folder (`~/.cache/lightlayers` on Linux). Each dataset lives in its
/// [`folder`](super::DatasetKind::folder) inside it. Not created here: only a download needs it
/// to exist.
pub fn cache_dir() -> Result<PathBuf, DataError> {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::cache_dir()
            .map(|d| d.join("lightlayers"))
            .ok_or(DataError::NoCacheDir),
    }
}
