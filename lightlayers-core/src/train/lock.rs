//! One run per output folder: an advisory lock held for as long as a run may write there.
//!
//! Two runs saving into one folder would replace each other's checkpoints, the last writer
//! winning. Before it trains, the trainer creates the output folder if needed and takes an
//! exclusive lock on [`LOCK_FILE`] in it; a second run on the same folder fails at once. The
//! operating system releases the lock when the file is closed, which happens however the
//! process ends (return, error, Ctrl-C, crash), so a stale lock never blocks a later run. The
//! file itself stays (removing it would let two runs lock two different files of one name);
//! it holds the process id of the run that locked it last, for the error message.
//!
//! Taking the lock is also the check that the folder can be written, before any training.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

use super::error::TrainError;

/// The lock file in an output folder (hidden: it is not part of the checkpoint).
pub const LOCK_FILE: &str = ".lightlayers.lock";

/// The exclusive right to write into one output folder, until dropped.
#[derive(Debug)]
pub(crate) struct RunLock {
    /// Kept open: closing it releases the lock.
    _file: File,
}

impl RunLock {
    /// Creates `dir` if needed and locks it. Errors when `dir` is not a folder, cannot be
    /// created or written, or another run holds the lock.
    pub(crate) fn acquire(dir: &Path) -> Result<RunLock, TrainError> {
        let unwritable = |source| TrainError::OutputUnwritable {
            dir: dir.to_path_buf(),
            source,
        };
        if fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
            return Err(TrainError::OutputNotAFolder {
                path: dir.to_path_buf(),
            });
        }
        fs::create_dir_all(dir).map_err(unwritable)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unwritable)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(TrainError::OutputInUse {
                    dir: dir.to_path_buf(),
                    pid: holder(&path),
                })
            }
            Err(TryLockError::Error(source)) => return Err(TrainError::io(path, source)),
        }
        // The holder's id, for the message another run shows; the lock does not depend on it.
        let _ = file
            .set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(RunLock { _file: file })
    }
}

/// The process id written into a lock file, when readable.
fn holder(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::fixture::scratch;

    #[test]
    fn a_second_lock_on_a_folder_fails_until_the_first_is_dropped() {
        let dir = scratch("lock-twice").join("nested");
        let first = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err();
        assert!(
            matches!(&err, TrainError::OutputInUse { pid: Some(p), .. } if *p == std::process::id()),
            "{err}"
        );
        assert!(err.to_string().contains("in use by another run"), "{err}");
        drop(first);
        RunLock::acquire(&dir).unwrap();
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn a_file_in_place_of_the_folder_is_refused_before_anything_is_written() {
        let dir = scratch("lock-file");
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-a-folder");
        fs::write(&file, b"user data").unwrap();
        let err = RunLock::acquire(&file).unwrap_err();
        assert!(matches!(err, TrainError::OutputNotAFolder { .. }), "{err}");
        assert!(err.to_string().contains("not a folder"), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"user data");
        let err = RunLock::acquire(&file.join("below")).unwrap_err();
        assert!(matches!(err, TrainError::OutputUnwritable { .. }), "{err}");
        let _ = fs::remove_dir_all(dir);
    }
}
