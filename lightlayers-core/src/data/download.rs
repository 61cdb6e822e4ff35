//! Downloading a dataset into the cache: over HTTP(S) with timeouts and a progress bar,
//! checked against the published digests, and written so that a failure or a crash never
//! leaves a partial file (or folder) under its final name.

use std::fs;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::checksum::{sha256, Checksum, FileHasher};
use super::error::DataError;
use super::files::{read_maybe_gz, replace, temp_path};
use super::kind::DatasetKind;
use super::layout::required_files;
use super::mirror::Mirror;
use super::remote::{remote_files, RemoteFile};

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
        let hasher = fetch_body(response.into_reader(), &tmp, url, length, dest, config)?;
        let digests = hasher.finish();
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

/// Streams a response body into `tmp`, hashing it and drawing progress.
fn fetch_body(
    mut body: impl Read,
    tmp: &Path,
    url: &str,
    length: Option<u64>,
    dest: &Path,
    config: &DownloadConfig,
) -> Result<FileHasher, DataError> {
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
    Ok(hasher)
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
            let reason = transport_reason(&t);
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

/// A transport error's own words, without the URL it repeats.
fn transport_reason(t: &ureq::Transport) -> String {
    let mut reason = t.kind().to_string();
    if let Some(m) = t.message() {
        reason = format!("{reason}: {m}");
    }
    if let Some(source) = std::error::Error::source(t) {
        reason = format!("{reason}: {source}");
    }
    reason
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
        match download_file(&Mirror::join(base, file.name), dest, &file.checksum, config) {
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

/// Downloads a dataset into `cache_dir` unless already there, and returns the folder that
/// holds its files (`cache_dir/<kind.folder()>`).
///
/// MNIST and Fashion-MNIST: the four `.gz` files, each verified and renamed into place on its
/// own, so that an interrupted run resumes with the missing ones. CIFAR: the archive is
/// downloaded and verified, unpacked with [`unpack_tar_gz`], then deleted.
pub fn download(
    kind: DatasetKind,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<PathBuf, DataError> {
    let bases = config.mirror.bases(kind);
    let folder = cache_dir.join(kind.folder());
    if kind.is_idx() {
        for file in remote_files(kind) {
            let dest = folder.join(file.name);
            if !dest.is_file() {
                fetch_from_any(bases, file, &dest, config)?;
            }
        }
        return Ok(folder);
    }
    let mut dir = folder;
    for file in remote_files(kind) {
        let archive = cache_dir.join(file.name);
        if !archive.is_file() {
            fetch_from_any(bases, file, &archive, config)?;
        }
        dir = unpack_tar_gz(&archive, cache_dir, kind.folder(), &required_files(kind))?;
        let _ = fs::remove_file(&archive);
    }
    Ok(dir)
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
        replace(&unpacked, &target)
    })();
    let _ = fs::remove_dir_all(&tmp);
    result.map(|()| target)
}
