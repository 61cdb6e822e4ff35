//! Downloads against a tiny HTTP/1.1 server on 127.0.0.1: verified, cached atomically, and
//! every failure (short body, wrong digest, HTTP error, no server) a clear error that leaves
//! nothing under the final name; a damaged file in the cache is set aside and fetched again.
//! No test reaches the internet.
#![cfg(feature = "download")]

use crate::data_support as support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lightlayers_core::data::{
    download_file, load, sha256, Checksum, DataError, DatasetKind, DownloadConfig, FileDigests,
    LoadOptions, Mirror, Origin, IDX_FILES,
};
use support::{
    assert_names, bytes, entries, gzip_best, shared_data, write_images, write_labels, TempDir,
};

/// What the server answers on a path.
#[derive(Clone)]
enum Reply {
    /// 200 with the whole body.
    Ok(Vec<u8>),
    /// 200 announcing `announced` bytes, then only `body`, then the connection closes.
    Short { announced: usize, body: Vec<u8> },
    /// An error status with a small body.
    Status(u16),
    /// 200 announcing `announced` bytes, then `body`, then silence for `stall`.
    Stall {
        announced: usize,
        body: Vec<u8>,
        stall: Duration,
    },
}

/// A server running on a thread for the rest of the test process.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

fn serve(routes: Vec<(&str, Reply)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes: Arc<HashMap<String, Reply>> = Arc::new(
        routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect(),
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let routes = Arc::clone(&routes);
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _ = answer(stream, &routes);
            });
        }
    });
    Server { base, hits }
}

fn answer(stream: TcpStream, routes: &HashMap<String, Reply>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let mut out = stream;
    let head = |status: &str, len: usize| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    match routes.get(path) {
        Some(Reply::Ok(body)) => {
            out.write_all(head("200 OK", body.len()).as_bytes())?;
            out.write_all(body)?;
        }
        Some(Reply::Short { announced, body }) => {
            out.write_all(head("200 OK", *announced).as_bytes())?;
            out.write_all(body)?;
        }
        Some(Reply::Stall {
            announced,
            body,
            stall,
        }) => {
            out.write_all(head("200 OK", *announced).as_bytes())?;
            out.write_all(body)?;
            out.flush()?;
            std::thread::sleep(*stall);
        }
        Some(Reply::Status(code)) => {
            let body = b"nope";
            out.write_all(head(&format!("{code} Error"), body.len()).as_bytes())?;
            out.write_all(body)?;
        }
        None => {
            out.write_all(head("404 Not Found", 0).as_bytes())?;
        }
    }
    out.flush()?;
    out.shutdown(std::net::Shutdown::Both)
}

/// Quick timeouts, no progress bar, hosts given.
fn config(mirror: Mirror) -> DownloadConfig {
    DownloadConfig {
        mirror,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        progress: false,
    }
}

fn no_mirror() -> DownloadConfig {
    config(Mirror::at("http://127.0.0.1:9"))
}

/// A checksum requiring both file digests of `body`.
fn digest_of(body: &[u8]) -> Checksum {
    let d = FileDigests::of(body);
    Checksum::md5(d.md5).and_sha256(d.sha256)
}

/// A URL on which nothing listens: bound, then released.
fn dead_base() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    base
}

#[test]
fn good_file_is_verified_and_cached_atomically() {
    let body = bytes(300_000, 1);
    let server = serve(vec![("/f.bin", Reply::Ok(body.clone()))]);
    let dir = TempDir::new("dl-good");
    let dest = dir.join("cache/f.bin");
    let url = format!("{}/f.bin", server.base);
    download_file(&url, &dest, &digest_of(&body), &no_mirror()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(
        entries(&dir.join("cache")),
        vec!["f.bin"],
        "temporary file left behind"
    );
    // An existing file is replaced in one step by a new verified download.
    download_file(&url, &dest, &Checksum::sha256(sha256(&body)), &no_mirror()).unwrap();
    assert_eq!(entries(&dir.join("cache")), vec!["f.bin"]);
}

#[test]
fn truncated_body_leaves_nothing() {
    let body = bytes(50_000, 2);
    let server = serve(vec![(
        "/short.bin",
        Reply::Short {
            announced: 100_000,
            body: body.clone(),
        },
    )]);
    let dir = TempDir::new("dl-short");
    let dest = dir.join("short.bin");
    let url = format!("{}/short.bin", server.base);
    let err = download_file(&url, &dest, &digest_of(&body), &no_mirror()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::IncompleteDownload {
                expected_bytes: 100_000,
                actual_bytes: 50_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn wrong_checksum_leaves_nothing() {
    let body = bytes(10_000, 3);
    let server = serve(vec![("/x.gz", Reply::Ok(body.clone()))]);
    let dir = TempDir::new("dl-mismatch");
    let dest = dir.join("x.gz");
    let url = format!("{}/x.gz", server.base);
    let expected = Checksum::md5([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);
    let err = download_file(&url, &dest, &expected, &no_mirror()).unwrap_err();
    match &err {
        DataError::ChecksumMismatch {
            file,
            algorithm,
            expected,
            actual,
        } => {
            assert_eq!(file, &url);
            assert_eq!(*algorithm, "MD5");
            assert_eq!(expected, "00112233445566778899aabbccddeeff");
            assert_eq!(
                actual,
                &lightlayers_core::data::to_hex(&FileDigests::of(&body).md5)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn recompressed_copy_passes_on_its_payload_digest() {
    let payload = bytes(20_000, 4);
    let gz = gzip_best(&payload);
    let server = serve(vec![("/p.gz", Reply::Ok(gz.clone()))]);
    let dir = TempDir::new("dl-payload");
    let dest = dir.join("p.gz");
    let url = format!("{}/p.gz", server.base);
    // The published MD5 is of another compression of the same content.
    let expected = Checksum::md5([0; 16]).or_payload_sha256(sha256(&payload));
    download_file(&url, &dest, &expected, &no_mirror()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), gz);
    // A different payload still fails, on the published MD5.
    let wrong = Checksum::md5([0; 16]).or_payload_sha256([1; 32]);
    let err = download_file(&url, &dir.join("q.gz"), &wrong, &no_mirror()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ChecksumMismatch {
                algorithm: "MD5",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(entries(dir.path()), vec!["p.gz"]);
}

#[test]
fn corrupt_gzip_fails_its_checksum() {
    let mut junk = gzip_best(&bytes(5_000, 6));
    junk.truncate(junk.len() / 2);
    let server = serve(vec![("/bad.gz", Reply::Ok(junk))]);
    let dir = TempDir::new("dl-bad-gzip");
    let url = format!("{}/bad.gz", server.base);
    let either = Checksum::md5([0; 16]).or_payload_sha256([2; 32]);
    let err = download_file(&url, &dir.join("bad.gz"), &either, &no_mirror()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ChecksumMismatch {
                algorithm: "MD5",
                ..
            }
        ),
        "{err:?}"
    );
    let payload_only = Checksum::payload_sha256([2; 32]);
    let err = download_file(&url, &dir.join("bad.gz"), &payload_only, &no_mirror()).unwrap_err();
    assert!(
        matches!(err, DataError::Download { ref url, .. } if url.ends_with("/bad.gz")),
        "{err:?}"
    );
    assert!(err.to_string().contains("corrupt gzip"), "{err}");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn http_error_status_is_reported() {
    let server = serve(vec![("/gone", Reply::Status(503))]);
    let dir = TempDir::new("dl-status");
    for path in ["/gone", "/missing"] {
        let url = format!("{}{path}", server.base);
        let err = download_file(&url, &dir.join("f"), &digest_of(b""), &no_mirror()).unwrap_err();
        assert!(matches!(err, DataError::Download { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&url) && (msg.contains("503") || msg.contains("404")),
            "{msg}"
        );
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn server_gone_is_unreachable_quickly() {
    let dir = TempDir::new("dl-gone");
    let url = format!("{}/f.bin", dead_base());
    let start = Instant::now();
    let err = download_file(&url, &dir.join("f.bin"), &digest_of(b"x"), &no_mirror()).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, DataError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url) && !msg.contains('\n'), "{msg}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn stalled_transfer_times_out() {
    let body = bytes(1000, 5);
    let server = serve(vec![(
        "/slow.bin",
        Reply::Stall {
            announced: 2000,
            body: body.clone(),
            stall: Duration::from_secs(4),
        },
    )]);
    let dir = TempDir::new("dl-stall");
    let url = format!("{}/slow.bin", server.base);
    let mut cfg = no_mirror();
    cfg.read_timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = download_file(&url, &dir.join("slow.bin"), &digest_of(&body), &cfg).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, DataError::Download { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn load_downloads_into_the_cache_then_uses_it() {
    let Some(shared) = shared_data() else { return };
    let routes: Vec<(String, Vec<u8>)> = IDX_FILES
        .iter()
        .map(|name| {
            let file = format!("{name}.gz");
            let body = std::fs::read(shared.join("mnist").join(&file)).unwrap();
            (format!("/mnist/{file}"), body)
        })
        .collect();
    // The first host is dead, the second fails one file, the third has everything.
    let partial = serve(
        routes
            .iter()
            .map(|(p, b)| {
                let reply = if p.contains("t10k-labels") {
                    Reply::Status(500)
                } else {
                    Reply::Ok(b.clone())
                };
                (p.as_str(), reply)
            })
            .collect(),
    );
    let full = serve(
        routes
            .iter()
            .map(|(p, b)| (p.as_str(), Reply::Ok(b.clone())))
            .collect(),
    );
    let cache = TempDir::new("dl-load");
    let mirror = |base: &str| {
        let mut m = Mirror::at(base);
        m.mnist.insert(0, format!("{}/mnist/", dead_base()));
        m
    };
    let options = |mirror: Mirror, download: bool| LoadOptions {
        data_dir: None,
        download,
        cache_dir: Some(cache.path().to_path_buf()),
        embedded: false,
        download_config: config(mirror),
    };

    // A host that fails one file: error naming its URL; the good files are kept, no temp files.
    let err = load(DatasetKind::Mnist, &options(mirror(&partial.base), true)).unwrap_err();
    assert!(
        matches!(err, DataError::Download { ref url, .. } if url.contains("t10k-labels")),
        "{err:?}"
    );
    let folder = cache.join("mnist");
    assert_eq!(entries(&folder).len(), 3, "{:?}", entries(&folder));

    // Resume from a complete host: only the missing file is fetched.
    let splits = load(DatasetKind::Mnist, &options(mirror(&full.base), true)).unwrap();
    assert_eq!(full.hits.load(Ordering::SeqCst), 1);
    assert_eq!(splits.origin, Origin::Downloaded(folder.clone()));
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    assert_eq!(entries(&folder).len(), 4, "{:?}", entries(&folder));

    // Next time the cache answers, without any network.
    let splits = load(
        DatasetKind::Mnist,
        &options(Mirror::at(&dead_base()), false),
    )
    .unwrap();
    assert_eq!(splits.origin, Origin::Cache(folder.clone()));
    assert_eq!(splits.test.label(0), 7);

    // A corrupted cache file is an error naming it, not a silent fallback.
    let labels = folder.join("train-labels-idx1-ubyte.gz");
    let mut raw = lightlayers_core::data::read_maybe_gz(&labels).unwrap();
    raw[100] = (raw[100] + 1) % 10;
    std::fs::write(&labels, gzip_best(&raw)).unwrap();
    let err = load(
        DatasetKind::Mnist,
        &options(Mirror::at(&dead_base()), false),
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::CorruptCache { ref problem, .. }
            if matches!(**problem, DataError::ChecksumMismatch { .. })),
        "{err:?}"
    );
    assert_names(&err, &labels);
}

#[test]
fn offline_download_is_a_clear_error() {
    let cache = TempDir::new("dl-offline");
    let options = LoadOptions {
        data_dir: None,
        download: true,
        cache_dir: Some(cache.path().to_path_buf()),
        embedded: true,
        download_config: config(Mirror::at(&dead_base())),
    };
    for kind in [DatasetKind::Mnist, DatasetKind::Cifar10] {
        let err = load(kind, &options).unwrap_err();
        assert!(matches!(err, DataError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("offline?"), "{err}");
    }
    // Nothing but (possibly) the empty dataset folder.
    for name in entries(cache.path()) {
        assert!(entries(&cache.join(&name)).is_empty(), "{name} not empty");
    }
}

/// The official MNIST `.gz` files of the shared copy, by route (`/mnist/NAME.gz`).
fn official_mnist_routes(shared: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    IDX_FILES
        .iter()
        .map(|name| {
            let file = format!("{name}.gz");
            let body = std::fs::read(shared.join("mnist").join(&file)).unwrap();
            (format!("/mnist/{file}"), body)
        })
        .collect()
}

/// Options on a private cache, downloading from `mirror` when `download` is set.
fn cache_options(cache: &TempDir, mirror: Mirror, download: bool, embedded: bool) -> LoadOptions {
    LoadOptions {
        data_dir: None,
        download,
        cache_dir: Some(cache.path().to_path_buf()),
        embedded,
        download_config: config(mirror),
    }
}

#[test]
fn damaged_cache_files_are_set_aside_and_fetched_again() {
    let Some(shared) = shared_data() else { return };
    let routes = official_mnist_routes(&shared);
    let server = serve(
        routes
            .iter()
            .map(|(p, b)| (p.as_str(), Reply::Ok(b.clone())))
            .collect(),
    );
    let cache = TempDir::new("dl-damaged");
    let folder = cache.join("mnist");
    std::fs::create_dir_all(&folder).unwrap();
    for (route, body) in &routes {
        std::fs::write(folder.join(route.trim_start_matches("/mnist/")), body).unwrap();
    }
    // One file with a changed label, one cut in half.
    let labels = folder.join("train-labels-idx1-ubyte.gz");
    let mut raw = lightlayers_core::data::read_maybe_gz(&labels).unwrap();
    raw[100] = (raw[100] + 1) % 10;
    let changed = gzip_best(&raw);
    std::fs::write(&labels, &changed).unwrap();
    let images = folder.join("t10k-images-idx3-ubyte.gz");
    let gz = std::fs::read(&images).unwrap();
    std::fs::write(&images, &gz[..gz.len() / 2]).unwrap();
    let mirror = || Mirror::at(&server.base);

    // Without the download: an error naming a damaged file and saying what to do; nothing moved.
    let err = load(
        DatasetKind::Mnist,
        &cache_options(&cache, mirror(), false, true),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::CorruptCache { .. }), "{err:?}");
    assert!(err.to_string().contains("--download"), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
    assert!(!cache.join("corrupt").exists());

    // With it: both are moved to corrupt/ and fetched again, and the load succeeds.
    let splits = load(
        DatasetKind::Mnist,
        &cache_options(&cache, mirror(), true, true),
    )
    .unwrap();
    assert_eq!(splits.origin, Origin::Downloaded(folder.clone()));
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    let aside = cache.join("corrupt").join("mnist");
    assert_eq!(
        entries(&aside),
        vec!["t10k-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    );
    assert_eq!(
        std::fs::read(aside.join("train-labels-idx1-ubyte.gz")).unwrap(),
        changed
    );
    assert_eq!(std::fs::read(&images).unwrap(), gz);
    assert_eq!(entries(&folder).len(), 4, "{:?}", entries(&folder));

    // Next time the cache answers, without any network.
    let splits = load(
        DatasetKind::Mnist,
        &cache_options(&cache, Mirror::at(&dead_base()), false, false),
    )
    .unwrap();
    assert_eq!(splits.origin, Origin::Cache(folder));
}

#[test]
fn a_damaged_cache_file_is_set_aside_even_when_the_download_then_fails() {
    let cache = TempDir::new("dl-damaged-offline");
    let folder = cache.join("mnist");
    // A complete set, well-formed but not the official files.
    let p = |i: usize| folder.join(format!("{}.gz", IDX_FILES[i]));
    write_images(&p(0), 28, 28, &bytes(4 * 784, 1), true).unwrap();
    write_labels(&p(1), &[1, 2, 3, 4], true).unwrap();
    write_images(&p(2), 28, 28, &bytes(2 * 784, 2), true).unwrap();
    write_labels(&p(3), &[5, 6], true).unwrap();
    let first = std::fs::read(p(0)).unwrap();

    let mut options = cache_options(&cache, Mirror::at(&dead_base()), true, true);
    let err = load(DatasetKind::Mnist, &options).unwrap_err();
    assert!(matches!(err, DataError::Unreachable { .. }), "{err:?}");
    // The first file that fails its digest was moved, not deleted; the others stay.
    let aside = cache
        .join("corrupt")
        .join("mnist")
        .join(format!("{}.gz", IDX_FILES[0]));
    assert_eq!(std::fs::read(&aside).unwrap(), first);
    assert_eq!(entries(&folder).len(), 3, "{:?}", entries(&folder));

    // Without the download, the incomplete cache is passed over for the embedded subset.
    options.download = false;
    assert_eq!(
        load(DatasetKind::Mnist, &options).unwrap().origin,
        Origin::Embedded
    );
}

#[test]
fn damaged_cifar_files_and_archives_are_set_aside() {
    let cache = TempDir::new("dl-damaged-cifar");
    // A CIFAR-10 folder with one batch cut short.
    let folder = cache.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    let mut records = Vec::new();
    for label in [0u8, 9] {
        records.push(label);
        records.extend(bytes(3072, 3));
    }
    for name in lightlayers_core::data::required_files(DatasetKind::Cifar10) {
        std::fs::write(folder.join(name), &records).unwrap();
    }
    let cut = folder.join("data_batch_3.bin");
    std::fs::write(&cut, bytes(3000, 4)).unwrap();
    // And a damaged archive from an earlier run.
    let archive = cache.join("cifar-10-binary.tar.gz");
    std::fs::write(&archive, b"not the archive").unwrap();

    let mut options = cache_options(&cache, Mirror::at(&dead_base()), false, false);
    let err = load(DatasetKind::Cifar10, &options).unwrap_err();
    assert!(
        matches!(err, DataError::CorruptCache { ref problem, .. }
            if matches!(**problem, DataError::PartialRecord { .. })),
        "{err:?}"
    );
    assert_names(&err, &cut);

    options.download = true;
    let err = load(DatasetKind::Cifar10, &options).unwrap_err();
    assert!(matches!(err, DataError::Unreachable { .. }), "{err:?}");
    let aside = cache.join("corrupt");
    assert_eq!(
        entries(&aside),
        vec!["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    );
    assert_eq!(
        entries(&aside.join("cifar-10-batches-bin")),
        vec!["data_batch_3.bin"]
    );
    assert!(!archive.exists() && !cut.exists());
}
