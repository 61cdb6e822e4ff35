//! Test fixtures: temporary folders and tiny synthetic datasets in the real file formats
//! (IDX for MNIST-like sets, CIFAR binary records), so sweeps run end to end in seconds.

use std::path::Path;

use lightlayers::data::cifar::{
    CIFAR100_TEST_FILE, CIFAR100_TRAIN_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, IMAGE_BYTES,
};
use lightlayers::data::{DatasetKind, IDX_FILES};

/// A folder under the system's temporary folder, removed when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A new empty folder whose name starts with `name`.
    pub fn new(name: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lightlayers-reproduce-{name}-"))
            .tempdir()
            .expect("a temporary folder");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// An IDX file (big-endian magic and dimensions, then the bytes), uncompressed: the format of
/// the MNIST files, with `dims` of 3 (images) or 1 (labels).
fn write_idx(path: &Path, dims: &[usize], bytes: &[u8]) {
    let magic: u32 = 0x0800 | dims.len() as u32;
    let mut out = magic.to_be_bytes().to_vec();
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
    std::fs::write(path, out).expect("an IDX fixture file");
}

/// Deterministic bytes: labels in `0..classes` and pixels in which each class has its own
/// bright stripe, so the images are not pure noise.
fn images(n: usize, pixels: usize, classes: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let labels: Vec<u8> = (0..n).map(|_| (next() as usize % classes) as u8).collect();
    let mut data = vec![0u8; n * pixels];
    for (i, &label) in labels.iter().enumerate() {
        for (p, px) in data[i * pixels..(i + 1) * pixels].iter_mut().enumerate() {
            let stripe = (p / 28) % classes == label as usize;
            *px = if stripe { 200 } else { (next() % 64) as u8 };
        }
    }
    (labels, data)
}

/// Writes a tiny dataset of `kind` into `root` in its own folder (`root/mnist/`,
/// `root/cifar-10-batches-bin/`, …): `train` and `test` images.
pub fn write_dataset(root: &Path, kind: DatasetKind, train: usize, test: usize) {
    let dir = root.join(kind.folder());
    std::fs::create_dir_all(&dir).expect("a fixture folder");
    let classes = kind.classes();
    if kind.is_idx() {
        for (split, n, seed) in [(0, train, 1), (2, test, 2)] {
            let (labels, pixels) = images(n, 28 * 28, classes, seed);
            write_idx(&dir.join(IDX_FILES[split]), &[n, 28, 28], &pixels);
            write_idx(&dir.join(IDX_FILES[split + 1]), &[n], &labels);
        }
        return;
    }
    let record = |labels: &[u8], pixels: &[u8]| -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, &label) in labels.iter().enumerate() {
            if kind == DatasetKind::Cifar100 {
                bytes.push(label / 5); // a coarse class in 0..20
            }
            bytes.push(label);
            bytes.extend_from_slice(&pixels[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]);
        }
        bytes
    };
    let write = |name: &str, n: usize, seed: u64| {
        let (labels, pixels) = images(n, IMAGE_BYTES, classes, seed);
        std::fs::write(dir.join(name), record(&labels, &pixels)).expect("a CIFAR file");
    };
    match kind {
        DatasetKind::Cifar10 => {
            for (i, name) in CIFAR10_TRAIN_FILES.iter().enumerate() {
                write(
                    name,
                    train.div_ceil(CIFAR10_TRAIN_FILES.len()),
                    10 + i as u64,
                );
            }
            write(CIFAR10_TEST_FILE, test, 20);
        }
        _ => {
            write(CIFAR100_TRAIN_FILE, train, 30);
            write(CIFAR100_TEST_FILE, test, 40);
        }
    }
}
