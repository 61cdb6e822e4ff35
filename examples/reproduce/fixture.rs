//! Test fixtures: temporary folders and tiny synthetic datasets in the real file formats
//! (IDX for MNIST-like sets, CIFAR binary records), so sweeps run end to end in seconds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lightlayers::data::cifar::{
    CIFAR100_TEST_FILE, CIFAR100_TRAIN_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, IMAGE_BYTES,
};
use lightlayers::data::{idx, DatasetKind, IDX_FILES};

/// A folder under the system's temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty folder whose name starts with `name`.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "lightlayers-reproduce-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a temporary folder");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
            idx::write_images(&dir.join(IDX_FILES[split]), 28, 28, &pixels, false)
                .expect("IDX images");
            idx::write_labels(&dir.join(IDX_FILES[split + 1]), &labels, false).expect("IDX labels");
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
