//! Where a dataset comes from — a data folder, the cache, a download, or the embedded subset,
//! in that order, never silently past a folder the user named — and the checks that the files
//! found there are what they claim to be.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::cifar::{
    CIFAR100_TEST_FILE, CIFAR100_TRAIN_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES,
};
use super::dataset::{Dataset, Origin, Splits};
use super::embedded;
use super::error::DataError;
#[cfg(feature = "download")]
use super::fetch::{load_or_fetch, DownloadConfig};
use super::idx::{identify_payload, idx_splits, official_payloads, IDX_FILES};
use super::kind::{DatasetKind, Split};

/// The environment variable naming the cache folder.
pub const DATA_ENV: &str = "LIGHTLAYERS_DATA";

/// Where [`load`] may look for a dataset.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// A folder named by the user. When set it is the only place looked in: missing or broken
    /// files are an error, never a reason to fall back to other data.
    pub data_dir: Option<PathBuf>,
    /// The cache folder; `None` for [`cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Whether MNIST and Fashion-MNIST may fall back to their embedded subsets.
    pub embedded: bool,
    /// Whether to download the dataset into the cache when the cache lacks it, or holds a
    /// damaged file (which is then set aside).
    #[cfg(feature = "download")]
    pub download: bool,
    /// Hosts, timeouts and progress display of a download.
    #[cfg(feature = "download")]
    pub download_config: DownloadConfig,
}

impl Default for LoadOptions {
    /// No data folder, the default cache, the embedded fallback allowed, no download (and, with
    /// the `download` feature, the download's defaults, which read `$LIGHTLAYERS_MIRROR`).
    fn default() -> Self {
        LoadOptions {
            data_dir: None,
            cache_dir: None,
            embedded: true,
            #[cfg(feature = "download")]
            download: false,
            #[cfg(feature = "download")]
            download_config: DownloadConfig::default(),
        }
    }
}

impl LoadOptions {
    /// Options that read only `dir` (see the field [`LoadOptions::data_dir`]).
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        LoadOptions {
            data_dir: Some(dir.into()),
            ..LoadOptions::default()
        }
    }
}

/// Loads both splits of `kind`, from the first of these that applies:
///
/// 1. `options.data_dir`, when set (see [`load_dir`]); any problem there is an error;
/// 2. the cache, when it holds all the files, each checked against the official digests; a
///    damaged file is a [`DataError::CorruptCache`] naming it, or, when downloading is
///    allowed, is moved to `corrupt/` in the cache and downloaded again;
/// 3. a download into the cache, when `options.download` is set (`download` feature);
/// 4. the embedded subset, for MNIST and Fashion-MNIST when `options.embedded` is set;
///
/// and otherwise errors with [`DataError::NotFound`], saying how to get the data. The returned
/// [`Splits::origin`] says which one it was.
pub fn load(kind: DatasetKind, options: &LoadOptions) -> Result<Splits, DataError> {
    if let Some(dir) = &options.data_dir {
        return load_dir(kind, dir);
    }
    let cache = options
        .cache_dir
        .clone()
        .map_or_else(cache_dir, Ok::<_, DataError>);
    #[cfg(feature = "download")]
    if options.download {
        return load_or_fetch(kind, &cache?, &options.download_config);
    }
    if let Ok(cache) = &cache {
        match load_cache(kind, cache) {
            Err(DataError::NotFound { .. } | DataError::Incomplete { .. }) => {}
            found => return found,
        }
    }
    if options.embedded && kind.is_idx() {
        return embedded::load(kind);
    }
    Err(DataError::NotFound {
        dataset: kind.name(),
        searched: cache
            .map(|c| vec![c.join(kind.folder())])
            .unwrap_or_default(),
        hint: hint(kind),
    })
}

/// Loads both splits of `kind` from a folder the user named, with [`Origin::DataDir`].
///
/// The files may sit in the dataset's [`folder`](DatasetKind::folder) inside `dir`
/// (`dir/mnist/`, `dir/cifar-10-batches-bin/`, ...), directly in `dir`, or in torchvision's
/// `dir/MNIST/raw/`; IDX files as `name` or `name.gz`, raw or gzip either way. Files that are
/// recognisably the official files of another dataset or split (MNIST given as
/// Fashion-MNIST: same names) are refused with [`DataError::WrongFile`]; other files are
/// accepted when well-formed, so a custom subset works.
pub fn load_dir(kind: DatasetKind, dir: &Path) -> Result<Splits, DataError> {
    let files = locate_in(kind, &candidate_dirs(kind, dir), &hint(kind))?;
    let (train, test) = load_files(kind, &files, Check::Identify)?;
    Ok(Splits {
        train,
        test,
        origin: Origin::DataDir(files.dir),
    })
}

/// The cache's copy of `kind`, with [`Origin::Cache`]. Errors: [`DataError::NotFound`] or
/// [`DataError::Incomplete`] when files are missing, [`DataError::CorruptCache`] when one is
/// not the official file.
pub(super) fn load_cache(kind: DatasetKind, cache: &Path) -> Result<Splits, DataError> {
    let files = locate_in(kind, &[cache.join(kind.folder())], "")?;
    match load_files(kind, &files, Check::Official) {
        Ok((train, test)) => Ok(Splits {
            train,
            test,
            origin: Origin::Cache(files.dir),
        }),
        Err(problem) => Err(match problem.damaged_file() {
            Some(path) => DataError::CorruptCache {
                path,
                problem: Box::new(problem),
            },
            None => problem,
        }),
    }
}

/// The cache folder: `$LIGHTLAYERS_DATA` when set and not empty, else `lightlayers` in the
/// platform's cache folder (`~/.cache/lightlayers` on Linux; a build without the `download`
/// feature knows no platform folder, only `$LIGHTLAYERS_DATA`). Each dataset lives in its
/// [`folder`](DatasetKind::folder) inside it. Not created here: only a download needs it.
pub fn cache_dir() -> Result<PathBuf, DataError> {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => platform_cache_dir().ok_or(DataError::NoCacheDir),
    }
}

#[cfg(feature = "download")]
fn platform_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("lightlayers"))
}

#[cfg(not(feature = "download"))]
fn platform_cache_dir() -> Option<PathBuf> {
    None
}

/// The files a dataset needs, by their plain names: MNIST and Fashion-MNIST, the four
/// [`IDX_FILES`] (each may also be found with a `.gz` suffix); CIFAR-10, the five training
/// batches then `test_batch.bin`; CIFAR-100, `train.bin` then `test.bin`.
pub fn required_files(kind: DatasetKind) -> Vec<&'static str> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => IDX_FILES.to_vec(),
        DatasetKind::Cifar10 => {
            let mut files = CIFAR10_TRAIN_FILES.to_vec();
            files.push(CIFAR10_TEST_FILE);
            files
        }
        DatasetKind::Cifar100 => vec![CIFAR100_TRAIN_FILE, CIFAR100_TEST_FILE],
    }
}

/// The folders, in the order searched, that may hold a dataset's files under `root`: the
/// dataset's own folder first, then `root` itself, then torchvision's layout
/// (`root/MNIST/raw`, `root/FashionMNIST/raw`) for MNIST-like sets.
fn candidate_dirs(kind: DatasetKind, root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join(kind.folder()), root.to_path_buf()];
    match kind {
        DatasetKind::Mnist => dirs.push(root.join("MNIST").join("raw")),
        DatasetKind::FashionMnist => dirs.push(root.join("FashionMNIST").join("raw")),
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => {}
    }
    dirs
}

/// A complete set of a dataset's files, in [`required_files`] order.
struct FileSet {
    /// The folder holding them.
    dir: PathBuf,
    /// The files, each `name` or (for IDX) `name.gz`, whichever exists (`.gz` preferred).
    files: Vec<PathBuf>,
}

/// The path of a required file in `dir`, if it exists as `name` or (IDX) `name.gz`.
fn find_file(kind: DatasetKind, dir: &Path, name: &str) -> Option<PathBuf> {
    let gz = kind.is_idx().then(|| dir.join(format!("{name}.gz")));
    gz.into_iter().chain([dir.join(name)]).find(|p| p.is_file())
}

/// Looks for a complete set of `kind`'s files in the given folders, in order.
///
/// Errors: [`DataError::Incomplete`] when no folder holds every file but one holds some
/// (naming what is missing: usually a half-copied folder), else [`DataError::NotFound`] listing
/// the folders searched with `hint`.
fn locate_in(kind: DatasetKind, dirs: &[PathBuf], hint: &str) -> Result<FileSet, DataError> {
    let required = required_files(kind);
    let mut partial: Option<(PathBuf, Vec<String>)> = None;
    for dir in dirs {
        let found: Vec<Option<PathBuf>> = required
            .iter()
            .map(|name| find_file(kind, dir, name))
            .collect();
        if found.iter().all(Option::is_some) {
            return Ok(FileSet {
                dir: dir.clone(),
                files: found.into_iter().flatten().collect(),
            });
        }
        if partial.is_none() && found.iter().any(Option::is_some) {
            let missing = required
                .iter()
                .zip(&found)
                .filter(|(_, f)| f.is_none())
                .map(|(name, _)| {
                    if kind.is_idx() {
                        format!("{name}(.gz)")
                    } else {
                        name.to_string()
                    }
                })
                .collect();
            partial = Some((dir.clone(), missing));
        }
    }
    Err(match partial {
        Some((dir, missing)) => DataError::Incomplete {
            dataset: kind.name(),
            dir,
            missing,
        },
        None => DataError::NotFound {
            dataset: kind.name(),
            searched: dirs.to_vec(),
            hint: hint.to_string(),
        },
    })
}

/// How to get a dataset, for [`DataError::NotFound`].
pub(super) fn hint(kind: DatasetKind) -> String {
    let or_download = if cfg!(feature = "download") {
        ", or allow the download"
    } else {
        " (this build cannot download: it lacks the `download` feature)"
    };
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => format!(
            "put the four {} files (optionally .gz) in a data folder{or_download}",
            kind.name()
        ),
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => format!(
            "unpack https://www.cs.toronto.edu/~kriz/{}.tar.gz (the binary version) into a data \
             folder{or_download}",
            if kind == DatasetKind::Cifar10 {
                "cifar-10-binary"
            } else {
                "cifar-100-binary"
            }
        ),
    }
}

/// How much to trust the IDX files of a complete set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The user's folder: refuse a known file in the wrong place, accept unknown ones.
    Identify,
    /// The cache: everything must be the official file.
    Official,
}

/// Loads both splits from a located set of files.
fn load_files(
    kind: DatasetKind,
    set: &FileSet,
    check: Check,
) -> Result<(Dataset, Dataset), DataError> {
    if !kind.is_idx() {
        let (train, test) = set.files.split_at(set.files.len().saturating_sub(1));
        let (train, test) = rayon::join(
            || super::cifar::load_split(kind, Split::Train, train),
            || super::cifar::load_split(kind, Split::Test, test),
        );
        return Ok((train?, test?));
    }
    let raw = set
        .files
        .par_iter()
        .map(|p| read_maybe_gz(p).map(|bytes| (p.clone(), bytes)))
        .collect::<Result<Vec<_>, _>>()?;
    let official = official_payloads(kind);
    if !official.is_empty() {
        let digests: Vec<[u8; 32]> = raw.par_iter().map(|(_, b)| sha256(b)).collect();
        for (i, ((path, _), digest)) in raw.iter().zip(&digests).enumerate() {
            check_payload(kind, i, path, digest, &official[i], check)?;
        }
    }
    idx_splits(kind, raw)
}

/// Compares a decompressed IDX file's digest with the official one for its place.
fn check_payload(
    kind: DatasetKind,
    position: usize,
    path: &Path,
    digest: &[u8; 32],
    official: &[u8; 32],
    check: Check,
) -> Result<(), DataError> {
    if digest == official {
        return Ok(());
    }
    if let Some((other, j)) = identify_payload(digest) {
        return Err(DataError::WrongFile {
            path: path.to_path_buf(),
            expected: format!("{} {}", kind.name(), IDX_FILES[position]),
            found: format!("{} {}", other.name(), IDX_FILES[j]),
        });
    }
    match check {
        Check::Identify => Ok(()),
        Check::Official => Err(DataError::ChecksumMismatch {
            file: path.display().to_string(),
            algorithm: "SHA-256 (decompressed)",
            expected: to_hex(official),
            actual: to_hex(digest),
        }),
    }
}

/// Reads a whole file, decompressing it when it is gzip. Decided by content (the magic bytes),
/// not by the file's name, so that a `.gz` file saved decompressed (or the reverse) still reads.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&bytes, path)
    } else {
        Ok(bytes)
    }
}

/// Decompresses a (possibly multi-member) gzip stream held in memory; `path` names it in errors.
pub(super) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    // The size from gzip's trailer (exact below 4 GiB), bounded by what deflate can expand to,
    // so that a lying trailer cannot trigger a huge allocation.
    let claimed = bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes.get(at..))
        .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize);
    let mut out = Vec::with_capacity(claimed.min(bytes.len().saturating_mul(1032)).min(1 << 30));
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// SHA-256 of bytes in memory.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses `N` bytes of hex at compile time: for the published digests, written as text so
/// that they can be compared with the sources by eye. A typo fails the build.
pub(super) const fn hex<const N: usize>(hex: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("digest is not lowercase hex"),
        }
    }
    let hex = hex.as_bytes();
    assert!(hex.len() == 2 * N, "digest has the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}
