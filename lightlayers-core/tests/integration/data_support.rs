//! Helpers shared by the `data_*` tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use crate::temp_dir::TempDir;

/// The names of the entries of a folder, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The real MNIST and Fashion-MNIST files, if this machine has them: the folder named by
/// `LIGHTLAYERS_REAL_DATA` (set it empty to skip these tests), else `shared/data` next to the
/// clone. Each holds `mnist/` and `fashion-mnist/` with the four official `.gz` files.
pub fn shared_data() -> Option<PathBuf> {
    let dir = match std::env::var_os("LIGHTLAYERS_REAL_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
    };
    if dir.join("mnist").is_dir() && dir.join("fashion-mnist").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: no real MNIST data in '{}' (see LIGHTLAYERS_REAL_DATA); skipping the test",
            dir.display()
        );
        None
    }
}

/// Deterministic pseudo-random bytes (an LCG), for synthetic images.
pub fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect()
}

/// Asserts that an error's message is one line naming `what`.
pub fn assert_names(err: &impl std::fmt::Display, what: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&what.display().to_string()),
        "message does not name {}: {msg}",
        what.display()
    );
    assert!(!msg.contains('\n'), "message is not one line: {msg}");
}

/// An IDX image file (uncompressed) holding whole `rows×cols` images.
pub fn encode_images(rows: usize, cols: usize, pixels: &[u8]) -> std::io::Result<Vec<u8>> {
    let image_len = rows * cols;
    if image_len == 0 || !pixels.len().is_multiple_of(image_len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a whole number of images",
        ));
    }
    let mut out = 0x0000_0803u32.to_be_bytes().to_vec();
    for d in [pixels.len() / image_len, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// An IDX label file (uncompressed).
pub fn encode_labels(labels: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = 0x0000_0801u32.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    Ok(out)
}

/// `bytes` compressed with gzip at the highest level.
pub fn gzip_best(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// Writes an IDX image file (creating its folder), gzip-compressed when `gzip` is true.
pub fn write_images(
    path: &Path,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    gzip: bool,
) -> std::io::Result<()> {
    write_file(path, encode_images(rows, cols, pixels)?, gzip)
}

/// Writes an IDX label file (creating its folder), gzip-compressed when `gzip` is true.
pub fn write_labels(path: &Path, labels: &[u8], gzip: bool) -> std::io::Result<()> {
    write_file(path, encode_labels(labels)?, gzip)
}

fn write_file(path: &Path, raw: Vec<u8>, gzip: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, if gzip { gzip_best(&raw) } else { raw })
}
