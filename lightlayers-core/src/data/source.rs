//! Choosing where a dataset comes from: a data folder, the cache, a download, or the
//! embedded subset — in that order, never silently past a folder the user named.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::cache::cache_dir;
use super::checksum::{sha256, to_hex};
use super::cifar;
use super::dataset::Dataset;
use super::download::{download, DownloadConfig};
use super::embedded;
use super::error::DataError;
use super::files::read_maybe_gz;
use super::idx::idx_splits;
use super::kind::{DatasetKind, Split};
use super::layout::{candidate_dirs, hint, locate_in, FileSet};
use super::remote::{identify_payload, known_payloads, IDX_FILES};
use super::splits::{Origin, Splits};

/// Where [`load`] may look for a dataset.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// A folder named by the user. When set it is the only place looked in: missing or broken
    /// files are an error, never a reason to fall back to other data.
    pub data_dir: Option<PathBuf>,
    /// Whether to download the dataset into the cache when the cache lacks it.
    pub download: bool,
    /// The cache folder; `None` for [`cache_dir`] (`$LIGHTLAYERS_DATA`, else the platform's).
    pub cache_dir: Option<PathBuf>,
    /// Whether MNIST and Fashion-MNIST may fall back to their embedded subsets.
    pub embedded: bool,
    /// Hosts, timeouts and progress display of a download.
    pub download_config: DownloadConfig,
}

impl Default for LoadOptions {
    /// No data folder, no download, the default cache, the embedded fallback allowed, and
    /// [`DownloadConfig::default`] (which reads `$LIGHTLAYERS_MIRROR`).
    fn default() -> Self {
        LoadOptions {
            data_dir: None,
            download: false,
            cache_dir: None,
            embedded: true,
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
/// 2. the cache, when it holds all the files (checked against the official digests: a cache
///    file that fails is an error naming it; delete it to download it again);
/// 3. a download into the cache, when `options.download` is set;
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
    if let Ok(cache) = &cache {
        let dir = cache.join(kind.folder());
        if let Ok(files) = locate_in(kind, std::slice::from_ref(&dir), "") {
            let (train, test) = load_files(kind, &files, Check::Official)?;
            return Ok(Splits {
                train,
                test,
                origin: Origin::Cache(files.dir),
            });
        }
    }
    if options.download {
        let cache = cache?;
        let dir = download(kind, &cache, &options.download_config)?;
        let files = locate_in(kind, &[dir], &hint(kind))?;
        let (train, test) = load_files(kind, &files, Check::Official)?;
        return Ok(Splits {
            train,
            test,
            origin: Origin::Downloaded(files.dir),
        });
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
            || cifar::load_split(kind, Split::Train, train),
            || cifar::load_split(kind, Split::Test, test),
        );
        return Ok((train?, test?));
    }
    let raw = set
        .files
        .par_iter()
        .map(|p| read_maybe_gz(p).map(|bytes| (p.clone(), bytes)))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(official) = known_payloads(kind) {
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
