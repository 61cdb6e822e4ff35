#!/usr/bin/env python3
"""Make the MNIST and Fashion-MNIST subsets compiled into lightlayers-core.

Keeps the FIRST 10,000 training and the FIRST 2,000 test images (and their labels) of each
dataset, in file order, unchanged, as IDX files compressed with gzip at level 9 (no file name,
timestamp 0, so that the output depends on the input only). Each source file is checked
against the SHA-256 of the official decompressed file first.

Usage: python3 scripts/make_embedded_subset.py [SOURCE_DIR] [OUT_DIR]
  SOURCE_DIR holds mnist/ and fashion-mnist/ with the four official *-ubyte.gz files
             (default: lightlayers' data cache, $LIGHTLAYERS_DATA else ~/.cache/lightlayers,
             as `cargo run --release --example mnist -- --download` leaves it)
  OUT_DIR    receives mnist/ and fashion-mnist/ (default lightlayers-core/embedded next to
             this script's repository root)
Prints the SHA-256 of every decompressed output file and writes them to OUT_DIR/SHA256SUMS.
Standard library only.
"""

import gzip
import hashlib
import io
import os
import struct
import sys

TRAIN_KEEP = 10_000
TEST_KEEP = 2_000

# SHA-256 of the official decompressed files.
OFFICIAL = {
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion-mnist/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def read_official(src_dir, rel):
    path = os.path.join(src_dir, rel + ".gz")
    with gzip.open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != OFFICIAL[rel]:
        sys.exit(f"{path}: SHA-256 {digest} is not the official {OFFICIAL[rel]}")
    return data


def subset(data, keep, rel):
    """The first `keep` items of an IDX file, with the count in the header adjusted."""
    magic, count = struct.unpack(">II", data[:8])
    if magic == IMAGES_MAGIC:
        rows, cols = struct.unpack(">II", data[8:16])
        header, item = 16, rows * cols
        new_header = struct.pack(">IIII", magic, keep, rows, cols)
    elif magic == LABELS_MAGIC:
        header, item = 8, 1
        new_header = struct.pack(">II", magic, keep)
    else:
        sys.exit(f"{rel}: unexpected magic {magic:#010x}")
    if keep > count or len(data) != header + count * item:
        sys.exit(f"{rel}: malformed or too small for {keep} items")
    return new_header + data[header : header + keep * item]


def gzip_best(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write_atomic(path, data):
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = os.environ.get("LIGHTLAYERS_DATA") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lightlayers")
    src_dir = sys.argv[1] if len(sys.argv) > 1 else cache
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "lightlayers-core", "embedded")
    sums = []
    for dataset in ("mnist", "fashion-mnist"):
        os.makedirs(os.path.join(out_dir, dataset), exist_ok=True)
        for name in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ):
            rel = f"{dataset}/{name}"
            keep = TRAIN_KEEP if name.startswith("train") else TEST_KEEP
            data = subset(read_official(src_dir, rel), keep, rel)
            gz = gzip_best(data)
            write_atomic(os.path.join(out_dir, rel + ".gz"), gz)
            digest = hashlib.sha256(data).hexdigest()
            sums.append(f"{digest}  {rel}")
            print(f"{rel}.gz: {keep} items, {len(data)} bytes raw, {len(gz)} gzip, sha256 {digest}")
    write_atomic(os.path.join(out_dir, "SHA256SUMS"), ("\n".join(sums) + "\n").encode())


if __name__ == "__main__":
    main()
