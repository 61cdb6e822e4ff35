//! A temporary folder for tests, removed with its content when dropped, also when the test
//! fails. Shared by the integration tests of both crates (the root crate includes this file
//! with `#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh folder under the system's temporary folder, named after the test that made it.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// Creates `lightlayers-TAG-XXXXXX` in `std::env::temp_dir()`.
    pub fn new(tag: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lightlayers-{tag}-"))
            .tempdir()
            .expect("create a temporary folder");
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A path inside it.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }
}
