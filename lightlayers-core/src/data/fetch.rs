//! Fetching a dataset into the cache (the `download` feature): from the canonical hosts or a
//! mirror, over HTTP(S) with timeouts and a progress bar, checked against the published digests,
//! and written so that a failure or a crash never leaves a partial file (or folder) under its
//! final name. A damaged file already in the cache is set aside and fetched again.

use std::fs;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::dataset::{Origin, Splits};
use super::error::DataError;
use super::idx::{official_payloads, IDX_FILES};
use super::kind::DatasetKind;
use super::source::{hex, load_cache, read_maybe_gz, required_files, sha256};
use crate::atomic_file::temp_path;

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

/// MD5 of the official MNIST `.gz` files, in [`IDX_FILES`] order.
const MNIST_GZ_MD5: [[u8; 16]; 4] = [
    hex("f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    hex("d53e105ee54ea40749a09fcbcd1e9432"),
    hex("9fb629c4189551a2d022fa330f9573f3"),
    hex("ec29112dd5afa0611ce80d1b7f02629c"),
];
/// MD5 of the official Fashion-MNIST `.gz` files, in [`IDX_FILES`] order.
const FASHION_GZ_MD5: [[u8; 16]; 4] = [
    hex("8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    hex("25c81989df183df01b3e8a0aad5dffbe"),
    hex("bef4ecab320f06d8554ea6380940ec79"),
    hex("bb300cfdad3c16e7a12a480ee83cd310"),
];
/// `cifar-10-binary.tar.gz`: MD5 as published, and its SHA-256.
const CIFAR10_ARCHIVE: Checksum = Checksum::md5(hex("c32a1d4ab5d03f1284b67883e8d87530"))
    .and_sha256(hex(
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    ));
/// `cifar-100-binary.tar.gz`: MD5 as published.
const CIFAR100_ARCHIVE: Checksum = Checksum::md5(hex("03b5dce01913d631647c71ecec9e9cb8"));

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

/// How to download: from where, how long to wait, whether to show progress.
#[derive(Clone, Debug)]
pub struct DownloadConfig {
    /// The hosts to try, per dataset.
    pub mirror: Mirror,
    /// Longest wait for a connection, so that a dead host fails instead of hanging.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response, so that a stalled transfer fails.
    pub read_timeout: Duration,
    /// Draw a progress bar on stderr (only ever drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for DownloadConfig {
    /// Hosts from [`Mirror::from_env`], 15 s to connect, 60 s between bytes, progress on.
    fn default() -> Self {
        DownloadConfig {
            mirror: Mirror::from_env(),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            progress: true,
        }
    }
}

/// What a file must hash to. A file passes when every file digest given (MD5, SHA-256)
/// matches, or — when a payload digest is given — when the SHA-256 of its decompressed content
/// matches that. The second rule accepts a mirror's recompressed copy of a gzip file, whose
/// own digest differs but whose content is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum {
    md5: Option<[u8; 16]>,
    sha256: Option<[u8; 32]>,
    payload_sha256: Option<[u8; 32]>,
}

impl Checksum {
    /// A file's MD5.
    pub const fn md5(digest: [u8; 16]) -> Self {
        Checksum {
            md5: Some(digest),
            sha256: None,
            payload_sha256: None,
        }
    }

    /// A file's SHA-256.
    pub const fn sha256(digest: [u8; 32]) -> Self {
        Checksum {
            md5: None,
            sha256: Some(digest),
            payload_sha256: None,
        }
    }

    /// The SHA-256 of a file's decompressed content (of the file itself if it is not gzip).
    pub const fn payload_sha256(digest: [u8; 32]) -> Self {
        Checksum {
            md5: None,
            sha256: None,
            payload_sha256: Some(digest),
        }
    }

    /// Also requires the file's SHA-256.
    #[must_use]
    pub const fn and_sha256(mut self, digest: [u8; 32]) -> Self {
        self.sha256 = Some(digest);
        self
    }

    /// Also accepts the file when its decompressed content has this SHA-256.
    #[must_use]
    pub const fn or_payload_sha256(mut self, digest: [u8; 32]) -> Self {
        self.payload_sha256 = Some(digest);
        self
    }

    /// Checks a file given its digests; `payload` computes the SHA-256 of its decompressed
    /// content, and is only called when needed. `file` names the file (path or URL) in the
    /// error; a published file digest that fails is reported before a payload digest.
    fn check(
        &self,
        digests: &FileDigests,
        payload: impl FnOnce() -> Result<[u8; 32], DataError>,
        file: &str,
    ) -> Result<(), DataError> {
        let mismatch = |algorithm, expected: &[u8], actual: &[u8]| DataError::ChecksumMismatch {
            file: file.to_string(),
            algorithm,
            expected: super::source::to_hex(expected),
            actual: super::source::to_hex(actual),
        };
        let file_error = if let Some(e) = self.md5.filter(|d| *d != digests.md5) {
            Some(mismatch("MD5", &e, &digests.md5))
        } else if let Some(e) = self.sha256.filter(|d| *d != digests.sha256) {
            Some(mismatch("SHA-256", &e, &digests.sha256))
        } else if self.md5.is_some() || self.sha256.is_some() {
            return Ok(());
        } else {
            None
        };
        let Some(expected) = self.payload_sha256 else {
            // Every constructor sets a digest, so `file_error` is set here.
            return file_error.map_or(Ok(()), Err);
        };
        match payload() {
            Ok(actual) if actual == expected => Ok(()),
            Ok(actual) => {
                Err(file_error.unwrap_or_else(|| mismatch("SHA-256", &expected, &actual)))
            }
            Err(e) => Err(file_error.unwrap_or(e)),
        }
    }
}

/// The MD5 and SHA-256 of a file, computed in one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// The file's MD5.
    pub md5: [u8; 16],
    /// The file's SHA-256.
    pub sha256: [u8; 32],
}

impl FileDigests {
    /// Digests of bytes in memory.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = FileHasher::default();
        h.update(bytes);
        h.finish()
    }
}

/// MD5 and SHA-256 together over a stream fed in pieces (a download, a file on disk).
#[derive(Clone, Default)]
struct FileHasher {
    md5: Md5,
    sha256: Sha256,
}

impl FileHasher {
    fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha256.update(bytes);
    }

    fn finish(self) -> FileDigests {
        FileDigests {
            md5: self.md5.finalize().into(),
            sha256: self.sha256.finalize().into(),
        }
    }
}

impl Write for FileHasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One file of a dataset's download: its name under a base URL (and in the cache), and what it
/// must hash to.
struct RemoteFile {
    name: String,
    checksum: Checksum,
}

/// The files a dataset's download consists of: MNIST and Fashion-MNIST, four gzip IDX files
/// in [`IDX_FILES`] order (accepted by their published MD5 or by their decompressed content);
/// CIFAR, one `.tar.gz` archive.
fn remote_files(kind: DatasetKind) -> Vec<RemoteFile> {
    let archive = |name: &str, checksum| {
        vec![RemoteFile {
            name: name.to_string(),
            checksum,
        }]
    };
    let gz_md5 = match kind {
        DatasetKind::Mnist => &MNIST_GZ_MD5,
        DatasetKind::FashionMnist => &FASHION_GZ_MD5,
        DatasetKind::Cifar10 => return archive("cifar-10-binary.tar.gz", CIFAR10_ARCHIVE),
        DatasetKind::Cifar100 => return archive("cifar-100-binary.tar.gz", CIFAR100_ARCHIVE),
    };
    IDX_FILES
        .iter()
        .zip(gz_md5)
        .zip(official_payloads(kind))
        .map(|((name, &md5), &payload)| RemoteFile {
            name: format!("{name}.gz"),
            checksum: Checksum::md5(md5).or_payload_sha256(payload),
        })
        .collect()
}

/// [`load`](super::load) with the download allowed: the cache's copy when it is complete and
/// sound, else a download of what is missing, each damaged file first set aside (see
/// [`set_aside`]), with [`Origin::Downloaded`] when anything was fetched.
pub(super) fn load_or_fetch(
    kind: DatasetKind,
    cache: &Path,
    config: &DownloadConfig,
) -> Result<Splits, DataError> {
    let mut fetched = false;
    let mut set_aside_already: Vec<PathBuf> = Vec::new();
    // Each round fetches after setting aside a file not set aside before, or once after
    // finding files missing: it ends within one round per file plus one.
    loop {
        match load_cache(kind, cache) {
            Ok(mut splits) => {
                if fetched {
                    if let Origin::Cache(dir) = splits.origin {
                        splits.origin = Origin::Downloaded(dir);
                    }
                }
                return Ok(splits);
            }
            Err(DataError::NotFound { .. } | DataError::Incomplete { .. }) if !fetched => {}
            Err(DataError::CorruptCache { path, problem })
                if !set_aside_already.contains(&path) =>
            {
                set_aside(cache, &path, &problem)?;
                set_aside_already.push(path);
            }
            Err(e) => return Err(e),
        }
        download(kind, cache, config)?;
        fetched = true;
    }
}

/// Moves a damaged `file` of the cache into `corrupt/` there (at the same place below it, over
/// any earlier damaged copy), so that a download can replace it while the damaged copy stays
/// for inspection, and says so on stderr: the user should know where their file went even if
/// the download then fails.
fn set_aside(cache: &Path, file: &Path, problem: &DataError) -> Result<(), DataError> {
    let below = file
        .strip_prefix(cache)
        .unwrap_or_else(|_| Path::new(file.file_name().unwrap_or_default()));
    let dest = cache.join("corrupt").join(below);
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    // Renaming onto an existing file fails on some platforms.
    let _ = fs::remove_file(&dest);
    fs::rename(file, &dest).map_err(|e| DataError::io(file, e))?;
    eprintln!(
        "note: {problem}; moved it to {} and downloading it again",
        dest.display()
    );
    Ok(())
}

/// Downloads a dataset into `cache_dir` unless already there, and returns the folder that
/// holds its files (`cache_dir/<kind.folder()>`).
///
/// MNIST and Fashion-MNIST: the four `.gz` files, each verified and renamed into place on its
/// own, so that an interrupted run resumes with the missing ones. CIFAR: the archive is
/// downloaded and verified (an archive already in the cache is verified too, and set aside
/// when damaged), unpacked with [`unpack_tar_gz`], then deleted.
pub fn download(
    kind: DatasetKind,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<PathBuf, DataError> {
    let bases = config.mirror.bases(kind);
    let folder = cache_dir.join(kind.folder());
    if kind.is_idx() {
        for file in remote_files(kind) {
            let dest = folder.join(&file.name);
            if !dest.is_file() {
                fetch_from_any(bases, &file, &dest, config)?;
            }
        }
        return Ok(folder);
    }
    let mut dir = folder;
    for file in remote_files(kind) {
        let archive = cache_dir.join(&file.name);
        if archive.is_file() {
            match verify_file(&archive, &file.checksum) {
                Err(problem) if problem.damaged_file().is_some() => {
                    set_aside(cache_dir, &archive, &problem)?;
                }
                other => other?,
            }
        }
        if !archive.is_file() {
            fetch_from_any(bases, &file, &archive, config)?;
        }
        dir = unpack_tar_gz(&archive, cache_dir, kind.folder(), &required_files(kind))?;
        let _ = fs::remove_file(&archive);
    }
    Ok(dir)
}

/// Checks a file on disk against `expected`.
fn verify_file(path: &Path, expected: &Checksum) -> Result<(), DataError> {
    let mut hasher = FileHasher::default();
    fs::File::open(path)
        .and_then(|mut file| std::io::copy(&mut file, &mut hasher))
        .map_err(|e| DataError::io(path, e))?;
    let payload = || read_maybe_gz(path).map(|bytes| sha256(&bytes));
    expected.check(&hasher.finish(), payload, &path.display().to_string())
}

/// Downloads one file, trying each base URL in turn until one delivers it verified. When all
/// fail, returns the first error from a host that answered (it says more than a refused
/// connection), else the first error.
fn fetch_from_any(
    bases: &[String],
    file: &RemoteFile,
    dest: &Path,
    config: &DownloadConfig,
) -> Result<(), DataError> {
    let mut errors = Vec::new();
    for base in bases {
        match download_file(
            &Mirror::join(base, &file.name),
            dest,
            &file.checksum,
            config,
        ) {
            Ok(()) => return Ok(()),
            // A local failure will not get better on another host.
            Err(e @ DataError::Io { .. }) => return Err(e),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        return Err(DataError::InvalidArgument {
            name: "mirror",
            reason: format!("no download URL for {}", file.name),
        });
    }
    let answered = errors
        .iter()
        .position(|e| !matches!(e, DataError::Unreachable { .. }))
        .unwrap_or(0);
    Err(errors.swap_remove(answered))
}

/// Downloads `url` to `dest` if what arrives passes `expected`.
///
/// The body is streamed into a hidden temporary file beside `dest` while being hashed; only a
/// complete, verified file is renamed to `dest` (replacing any file there). On any error the
/// temporary file is removed and `dest` is left as it was. Errors: [`DataError::Unreachable`]
/// (no connection), [`DataError::Download`] (HTTP error status, stall),
/// [`DataError::IncompleteDownload`] (connection closed early),
/// [`DataError::ChecksumMismatch`], or [`DataError::Io`] on the local side.
pub fn download_file(
    url: &str,
    dest: &Path,
    expected: &Checksum,
    config: &DownloadConfig,
) -> Result<(), DataError> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(config.connect_timeout)
        .timeout_read(config.read_timeout)
        .build();
    let response = agent
        .get(url)
        // The digests are of the files as stored: ask the server not to re-encode them.
        .set("Accept-Encoding", "identity")
        .call()
        .map_err(|e| request_error(url, e))?;
    let length = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok());

    let tmp = temp_path(dest);
    let result = (|| {
        let digests = fetch_body(response.into_reader(), &tmp, url, length, dest, config)?;
        let payload = || match read_maybe_gz(&tmp) {
            Ok(bytes) => Ok(sha256(&bytes)),
            Err(DataError::Gzip { source, .. }) => Err(DataError::Download {
                url: url.to_string(),
                message: format!("received a corrupt gzip file: {source}"),
            }),
            Err(e) => Err(e),
        };
        expected.check(&digests, payload, url)?;
        fs::rename(&tmp, dest).map_err(|e| DataError::io(dest, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Streams a response body into `tmp`, flushed to disk, hashing it and drawing progress.
fn fetch_body(
    mut body: impl Read,
    tmp: &Path,
    url: &str,
    length: Option<u64>,
    dest: &Path,
    config: &DownloadConfig,
) -> Result<FileDigests, DataError> {
    let file = fs::File::create(tmp).map_err(|e| DataError::io(tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let bar = progress_bar(dest, length, config.progress);
    let mut hasher = FileHasher::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut received: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.abandon();
                return Err(read_error(url, e, received, length, config.read_timeout));
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| DataError::io(tmp, e))?;
        received += n as u64;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    if let Some(expected) = length.filter(|&l| l != received) {
        return Err(DataError::IncompleteDownload {
            url: url.to_string(),
            expected_bytes: expected,
            actual_bytes: received,
        });
    }
    let file = out
        .into_inner()
        .map_err(|e| DataError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| DataError::io(tmp, e))?;
    Ok(hasher.finish())
}

/// A progress bar on stderr, hidden when not asked for or when stderr is not a terminal
/// (logs and CI output stay clean).
fn progress_bar(dest: &Path, length: Option<u64>, enabled: bool) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let name = dest
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let template = if length.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(format!("downloading {name}"))
}

/// Maps a failed request (before any body byte) to the error a user can act on.
fn request_error(url: &str, error: ureq::Error) -> DataError {
    match error {
        ureq::Error::Status(code, response) => DataError::Download {
            url: url.to_string(),
            message: format!("HTTP {code} {}", response.status_text()),
        },
        ureq::Error::Transport(t) => {
            let mut reason = t.kind().to_string();
            if let Some(m) = t.message() {
                reason = format!("{reason}: {m}");
            }
            if let Some(source) = std::error::Error::source(&t) {
                reason = format!("{reason}: {source}");
            }
            match t.kind() {
                ureq::ErrorKind::Dns
                | ureq::ErrorKind::ConnectionFailed
                | ureq::ErrorKind::ProxyConnect
                | ureq::ErrorKind::Io => DataError::Unreachable {
                    url: url.to_string(),
                    reason,
                },
                _ => DataError::Download {
                    url: url.to_string(),
                    message: reason,
                },
            }
        }
    }
}

/// Maps a failed read in the middle of a body.
fn read_error(
    url: &str,
    error: std::io::Error,
    received: u64,
    length: Option<u64>,
    timeout: Duration,
) -> DataError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            if length.is_some() =>
        {
            DataError::IncompleteDownload {
                url: url.to_string(),
                expected_bytes: length.unwrap_or(received),
                actual_bytes: received,
            }
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => DataError::Download {
            url: url.to_string(),
            message: format!(
                "no data for {:.1} s after {received} bytes (timed out)",
                timeout.as_secs_f32()
            ),
        },
        _ => DataError::Download {
            url: url.to_string(),
            message: format!("after {received} bytes: {error}"),
        },
    }
}

/// Unpacks the `.tar.gz` `archive` into `into`, keeping only its top-level `folder`, which
/// must contain every file in `required`; returns `into/folder`.
///
/// The archive is unpacked into a hidden temporary folder inside `into` (entries that would
/// escape it, such as `../x`, are refused by the unpacker) and the finished folder is renamed
/// into place in one step: `into/folder` is never a half-unpacked folder.
pub fn unpack_tar_gz(
    archive: &Path,
    into: &Path,
    folder: &str,
    required: &[&str],
) -> Result<PathBuf, DataError> {
    let target = into.join(folder);
    let tmp = temp_path(&target);
    let result = (|| {
        let file = fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
        fs::create_dir_all(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)))
            .unpack(&tmp)
            .map_err(|e| DataError::Archive {
                path: archive.to_path_buf(),
                message: e.to_string(),
            })?;
        let unpacked = tmp.join(folder);
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|name| !unpacked.join(name).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(DataError::Archive {
                path: archive.to_path_buf(),
                message: format!("no {folder}/{} inside", missing.join(", ")),
            });
        }
        // A folder already at `target` (an incomplete earlier unpack) is moved aside first and
        // deleted afterwards, so that `target` is at every moment the old folder or the new one.
        let stale = target.is_dir().then(|| temp_path(&target));
        if let Some(aside) = &stale {
            fs::rename(&target, aside).map_err(|e| DataError::io(&target, e))?;
        }
        fs::rename(&unpacked, &target).map_err(|e| DataError::io(&target, e))?;
        if let Some(aside) = stale {
            let _ = fs::remove_dir_all(aside);
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result.map(|()| target)
}
