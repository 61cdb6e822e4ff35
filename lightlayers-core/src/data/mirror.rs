//! Where datasets are downloaded from: the canonical hosts, or a mirror.

use super::kind::DatasetKind;

/// The environment variable that replaces every download host by one mirror (see
/// [`Mirror::at`]).
pub const MIRROR_ENV: &str = "LIGHTLAYERS_MIRROR";

/// MNIST's hosts, in the order tried: LeCun's site no longer serves the files reliably, so
/// PyTorch's S3 copy first and Google's CVDF copy second.
const MNIST_HOSTS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];
/// Zalando's own host for Fashion-MNIST (plain HTTP only; the checksums protect the content).
const FASHION_HOSTS: &[&str] = &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];
/// Alex Krizhevsky's page, the only official host of both CIFAR archives.
const CIFAR_HOSTS: &[&str] = &["https://www.cs.toronto.edu/~kriz/"];

/// Base URLs per dataset, tried in order until one delivers a file with the right checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// Base URLs of MNIST's four `.gz` files.
    pub mnist: Vec<String>,
    /// Base URLs of Fashion-MNIST's four `.gz` files.
    pub fashion_mnist: Vec<String>,
    /// Base URLs of `cifar-10-binary.tar.gz`.
    pub cifar10: Vec<String>,
    /// Base URLs of `cifar-100-binary.tar.gz`.
    pub cifar100: Vec<String>,
}

impl Mirror {
    /// The canonical hosts.
    pub fn official() -> Self {
        let owned = |hosts: &[&str]| hosts.iter().map(|&h| h.to_owned()).collect();
        Mirror {
            mnist: owned(MNIST_HOSTS),
            fashion_mnist: owned(FASHION_HOSTS),
            cifar10: owned(CIFAR_HOSTS),
            cifar100: owned(CIFAR_HOSTS),
        }
    }

    /// One mirror for everything, laid out by dataset key: `BASE/mnist/train-images-idx3-ubyte.gz`,
    /// `BASE/fashion-mnist/…`, `BASE/cifar10/cifar-10-binary.tar.gz`,
    /// `BASE/cifar100/cifar-100-binary.tar.gz`.
    pub fn at(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        let one = |kind: DatasetKind| vec![format!("{base}/{}/", kind.key())];
        Mirror {
            mnist: one(DatasetKind::Mnist),
            fashion_mnist: one(DatasetKind::FashionMnist),
            cifar10: one(DatasetKind::Cifar10),
            cifar100: one(DatasetKind::Cifar100),
        }
    }

    /// [`Mirror::at`] the URL in `$LIGHTLAYERS_MIRROR` when it is set and not empty, else
    /// [`Mirror::official`].
    pub fn from_env() -> Self {
        match std::env::var(MIRROR_ENV) {
            Ok(base) if !base.trim().is_empty() => Mirror::at(base.trim()),
            _ => Mirror::official(),
        }
    }

    /// The base URLs of one dataset.
    pub fn bases(&self, kind: DatasetKind) -> &[String] {
        match kind {
            DatasetKind::Mnist => &self.mnist,
            DatasetKind::FashionMnist => &self.fashion_mnist,
            DatasetKind::Cifar10 => &self.cifar10,
            DatasetKind::Cifar100 => &self.cifar100,
        }
    }

    /// `base` and `file` joined by exactly one `/`.
    pub fn join(base: &str, file: &str) -> String {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            file.trim_start_matches('/')
        )
    }
}

impl Default for Mirror {
    /// [`Mirror::from_env`].
    fn default() -> Self {
        Mirror::from_env()
    }
}
