//! Published digests of downloadable files, and checking files against them.

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::error::DataError;

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

    /// Also requires the file's MD5.
    #[must_use]
    pub const fn and_md5(mut self, digest: [u8; 16]) -> Self {
        self.md5 = Some(digest);
        self
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

    /// A file's MD5 from 32 hex digits, e.g. a digest typed by a user.
    pub fn md5_hex(hex: &str) -> Result<Self, DataError> {
        parse_hex(hex, "MD5").map(Checksum::md5)
    }

    /// A file's SHA-256 from 64 hex digits.
    pub fn sha256_hex(hex: &str) -> Result<Self, DataError> {
        parse_hex(hex, "SHA-256").map(Checksum::sha256)
    }

    /// The SHA-256 of the decompressed content, if this checksum has one.
    pub fn payload(&self) -> Option<[u8; 32]> {
        self.payload_sha256
    }

    /// Checks a file given its digests; `payload` computes the SHA-256 of its decompressed
    /// content, and is only called when needed. `file` names the file (path or URL) in the
    /// error.
    pub fn check(
        &self,
        digests: &FileDigests,
        payload: impl FnOnce() -> Result<[u8; 32], DataError>,
        file: &str,
    ) -> Result<(), DataError> {
        let mismatch = |algorithm, expected: &[u8], actual: &[u8]| DataError::ChecksumMismatch {
            file: file.to_string(),
            algorithm,
            expected: to_hex(expected),
            actual: to_hex(actual),
        };
        let file_error = match (self.md5, self.sha256) {
            (None, None) => None,
            (md5, sha256) => {
                if let Some(e) = md5.filter(|d| *d != digests.md5) {
                    Some(mismatch("MD5", &e, &digests.md5))
                } else if let Some(e) = sha256.filter(|d| *d != digests.sha256) {
                    Some(mismatch("SHA-256", &e, &digests.sha256))
                } else {
                    return Ok(());
                }
            }
        };
        match (self.payload_sha256, file_error) {
            // The published file digest says more than the payload one, when there is one.
            (Some(expected), file_error) => match payload() {
                Ok(actual) if actual == expected => Ok(()),
                Ok(actual) => {
                    Err(file_error.unwrap_or_else(|| mismatch("SHA-256", &expected, &actual)))
                }
                Err(e) => Err(file_error.unwrap_or(e)),
            },
            (None, Some(e)) => Err(e),
            // Unreachable: every constructor sets a digest; accept nothing silently anyway.
            (None, None) => Err(DataError::InvalidArgument {
                name: "checksum",
                reason: format!("no digest to check {file} against"),
            }),
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

/// Computes MD5 and SHA-256 together over a stream fed in pieces (a download).
#[derive(Clone, Default)]
pub struct FileHasher {
    md5: Md5,
    sha256: Sha256,
}

impl FileHasher {
    /// Feeds the next piece.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha256.update(bytes);
    }

    /// The digests of everything fed.
    pub fn finish(self) -> FileDigests {
        FileDigests {
            md5: self.md5.finalize().into(),
            sha256: self.sha256.finalize().into(),
        }
    }
}

/// SHA-256 of bytes in memory.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses `N` bytes of hex at run time (upper or lower case).
fn parse_hex<const N: usize>(hex: &str, algorithm: &'static str) -> Result<[u8; N], DataError> {
    let invalid = || DataError::InvalidChecksum {
        algorithm,
        input: hex.to_string(),
        hex_len: 2 * N,
    };
    let hex = hex.trim().as_bytes();
    if hex.len() != 2 * N {
        return Err(invalid());
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(invalid());
        };
        *o = hi << 4 | lo;
    }
    Ok(out)
}

/// Parses `N` bytes of lowercase hex at compile time: for the published digests, written as
/// text so that they can be compared with the sources by eye. A typo fails the build.
pub(crate) const fn hex<const N: usize>(hex: &str) -> [u8; N] {
    let hex = hex.as_bytes();
    assert!(hex.len() == 2 * N, "digest has the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        match (nibble(hex[2 * i]), nibble(hex[2 * i + 1])) {
            (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
            _ => panic!("digest is not hex"),
        }
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
