//! What each dataset's download consists of: file names and published digests, and the
//! digests of the known decompressed IDX files (to recognise them wherever they come from).

use super::checksum::{hex, Checksum};
use super::kind::DatasetKind;

/// One file to download: its name under a base URL, and what it must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file name, appended to a base URL and used as the name in the cache.
    pub name: &'static str,
    /// The published digest(s).
    pub checksum: Checksum,
}

/// The four IDX files of MNIST and Fashion-MNIST, decompressed, in the order
/// train images, train labels, test images, test labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// SHA-256 of the decompressed official MNIST files, in [`IDX_FILES`] order.
const MNIST_PAYLOADS: [[u8; 32]; 4] = [
    hex("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    hex("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    hex("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    hex("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// SHA-256 of the decompressed official Fashion-MNIST files, in [`IDX_FILES`] order.
const FASHION_PAYLOADS: [[u8; 32]; 4] = [
    hex("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    hex("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    hex("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    hex("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
];

const MNIST_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        checksum: Checksum::md5(hex("f68b3c2dcbeaaa9fbdd348bbdeb94873"))
            .or_payload_sha256(MNIST_PAYLOADS[0]),
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        checksum: Checksum::md5(hex("d53e105ee54ea40749a09fcbcd1e9432"))
            .or_payload_sha256(MNIST_PAYLOADS[1]),
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        checksum: Checksum::md5(hex("9fb629c4189551a2d022fa330f9573f3"))
            .or_payload_sha256(MNIST_PAYLOADS[2]),
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        checksum: Checksum::md5(hex("ec29112dd5afa0611ce80d1b7f02629c"))
            .or_payload_sha256(MNIST_PAYLOADS[3]),
    },
];

const FASHION_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        checksum: Checksum::md5(hex("8d4fb7e6c68d591d4c3dfef9ec88bf0d"))
            .or_payload_sha256(FASHION_PAYLOADS[0]),
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        checksum: Checksum::md5(hex("25c81989df183df01b3e8a0aad5dffbe"))
            .or_payload_sha256(FASHION_PAYLOADS[1]),
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        checksum: Checksum::md5(hex("bef4ecab320f06d8554ea6380940ec79"))
            .or_payload_sha256(FASHION_PAYLOADS[2]),
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        checksum: Checksum::md5(hex("bb300cfdad3c16e7a12a480ee83cd310"))
            .or_payload_sha256(FASHION_PAYLOADS[3]),
    },
];

const CIFAR10_FILES: [RemoteFile; 1] = [RemoteFile {
    name: "cifar-10-binary.tar.gz",
    checksum: Checksum::md5(hex("c32a1d4ab5d03f1284b67883e8d87530")).and_sha256(hex(
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    )),
}];

const CIFAR100_FILES: [RemoteFile; 1] = [RemoteFile {
    name: "cifar-100-binary.tar.gz",
    checksum: Checksum::md5(hex("03b5dce01913d631647c71ecec9e9cb8")),
}];

/// The files a dataset's download consists of: MNIST and Fashion-MNIST, four gzip IDX files
/// in [`IDX_FILES`] order; CIFAR, one `.tar.gz` archive.
pub fn remote_files(kind: DatasetKind) -> &'static [RemoteFile] {
    match kind {
        DatasetKind::Mnist => &MNIST_FILES,
        DatasetKind::FashionMnist => &FASHION_FILES,
        DatasetKind::Cifar10 => &CIFAR10_FILES,
        DatasetKind::Cifar100 => &CIFAR100_FILES,
    }
}

/// The SHA-256 of the official decompressed IDX files of MNIST or Fashion-MNIST, in
/// [`IDX_FILES`] order; `None` for CIFAR.
pub fn known_payloads(kind: DatasetKind) -> Option<&'static [[u8; 32]; 4]> {
    match kind {
        DatasetKind::Mnist => Some(&MNIST_PAYLOADS),
        DatasetKind::FashionMnist => Some(&FASHION_PAYLOADS),
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => None,
    }
}

/// Which official IDX file has this decompressed SHA-256, if any: the dataset and the
/// position in [`IDX_FILES`].
pub fn identify_payload(sha256: &[u8; 32]) -> Option<(DatasetKind, usize)> {
    [DatasetKind::Mnist, DatasetKind::FashionMnist]
        .into_iter()
        .find_map(|kind| {
            let table = known_payloads(kind)?;
            table.iter().position(|d| d == sha256).map(|i| (kind, i))
        })
}
