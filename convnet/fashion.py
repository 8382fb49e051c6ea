"""Fashion-MNIST: find it (a folder you name, Debian's package, the cache) or download it; check, parse.

Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test 28x28 gray images of
ten kinds of clothing (CLASSES), in the same four IDX files as MNIST, published gzipped.

Where the files are looked for, first that holds both files of the split wins (each file may be
``<name>`` or ``<name>.gz``):
1. ``data_dir=`` (``--data-dir``), else ``$CONVSCOPE_FASHION_DIR``: a folder you name.
2. SYSTEM_DIRS: Debian's package ``dataset-fashion-mnist`` installs the four .gz files in
   ``/usr/share/datasets/fashion-mnist``.
3. The cache: ``cache_dir=``, ``$CONVSCOPE_FASHION_CACHE_DIR``, else ``fashion-mnist`` in
   ``platformdirs.user_cache_dir("convscope")`` (on Linux ``$XDG_CACHE_HOME/convscope/fashion-mnist``,
   by default ``~/.cache/convscope/fashion-mnist``), beside MNIST's ``mnist`` folder. It is not
   ``$CONVSCOPE_DATA_DIR``: that names MNIST's own folder, whose files have the same names.
4. A download of the split's two files from ``base_url=``, ``$CONVSCOPE_FASHION_URL``, else the
   published location BASE_URL (``<base>/<name>.gz``; http:// or https:// only). The DECOMPRESSED
   files are written into the cache atomically (temp file + ``os.replace``, via mnist._write_atomic),
   and only after every file downloaded for the request passed its checks.

Checks. Every file, from whichever source, must have the MD5 pinned in MD5 for its decompressed
content (and parse as IDX); a download must also have the MD5 pinned in MD5_GZ for the .gz as
served. A file that fails is refused with a one-line message saying which file and what to do;
nothing is cached. Where the pinned sums come from:
- MD5_GZ: the MD5 checksums of the four .gz files published by Zalando Research in the
  Fashion-MNIST README ("Get the Data" table, github.com/zalandoresearch/fashion-mnist; the same
  table is in Debian's /usr/share/doc/dataset-fashion-mnist/README.md.gz).
- MD5 (decompressed): computed with ``zcat <file>.gz | md5sum`` from Debian's dataset-fashion-mnist
  0.0~git20200523.55506a9-1 in /usr/share/datasets/fashion-mnist. Debian recompressed the files, so
  its .gz sums differ from the published ones; the decompressed data is the same. Sizes:
  train-images 47,040,016, train-labels 60,008, t10k-images 7,840,016, t10k-labels 10,008 bytes.
No practical second-preimage attack on MD5 is known, so a pinned MD5 still identifies the file.

Shapes: images uint8 (N, 28, 28), 0 = background, 255 = ink; labels uint8 (N,) in 0..9 (CLASSES).
``python -m convscope.convnet.fashion`` finds or downloads both splits and prints where they are and
``fashion_checksum`` (for model cards). IDX parsing, atomic writes and HTTP are mnist.py's.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import sys
import urllib.error
import zlib
from pathlib import Path

import numpy as np

from . import mnist

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"  # as published (no HTTPS)
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # where that package puts the four .gz files
SYSTEM_DIRS = (DEBIAN_DIR,)  # searched after data_dir, before the cache (tests monkeypatch this)
FILES = mnist.FILES          # same file names as MNIST: {"train": (images, labels), "test": (...)}
ALL_FILES = mnist.ALL_FILES  # also the order hashed by fashion_checksum
# MD5 of each file's decompressed content (see the module docstring).
MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
# MD5 of the published .gz files, by decompressed name (see the module docstring).
MD5_GZ = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
MAX_FILE_BYTES = 64 * 1024 * 1024  # per file, .gz or decompressed; the largest is 47 MB
CLI = "python -m convscope.convnet.fashion"


class FashionUnavailable(mnist.MnistUnavailable):
    """Fashion-MNIST cannot be loaded; the message is one line saying what to do."""


class FashionCorrupt(FashionUnavailable, mnist.MnistCorrupt):
    """A file failed a check (MD5, gzip, IDX magic or size)."""


def default_cache_dir() -> Path:
    """``fashion-mnist`` in the user's cache for convscope, beside mnist.default_cache_dir()."""
    return mnist.default_cache_dir().with_name("fashion-mnist")


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache: argument, $CONVSCOPE_FASHION_CACHE_DIR, the user cache's convscope/fashion-mnist."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("CONVSCOPE_FASHION_CACHE_DIR"):
        return Path(os.environ["CONVSCOPE_FASHION_CACHE_DIR"]).expanduser()
    return default_cache_dir()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder the user names: argument, $CONVSCOPE_FASHION_DIR, else None."""
    value = data_dir or os.environ.get("CONVSCOPE_FASHION_DIR")
    return Path(value).expanduser() if value else None


def resolve_base_url(base_url: str | None = None) -> str:
    """Where to download from: argument, $CONVSCOPE_FASHION_URL, the published BASE_URL."""
    return (base_url or os.environ.get("CONVSCOPE_FASHION_URL") or BASE_URL).rstrip("/")


def sources(data_dir=None, cache_dir=None) -> list[tuple[str, Path]]:
    """The folders searched, in order, as (kind, folder): "data dir", "system copy", "cache"."""
    found = [("system copy", Path(folder)) for folder in SYSTEM_DIRS]
    named = resolve_data_dir(data_dir)
    if named is not None:
        found.insert(0, ("data dir", named))
    return found + [("cache", resolve_cache_dir(cache_dir))]


def find_split(split: str, data_dir=None, cache_dir=None) -> tuple[str, dict[str, Path]] | None:
    """The first source holding both files of the split, as (kind, {name: path}); None if none does.

    In a folder ``<name>`` is preferred to ``<name>.gz`` when both are there. Nothing is read here.
    """
    names = _split_names(split)
    for kind, folder in sources(data_dir, cache_dir):
        paths = {}
        for name in names:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    paths[name] = candidate
                    break
        if len(paths) == len(names):
            return kind, paths
    return None


def load_fashion(split: str = "train", data_dir=None, cache_dir=None, base_url=None,
                 download: bool = True):
    """Return (images uint8 (N, 28, 28), labels uint8 (N,)) for split "train" (60k) or "test" (10k).

    Looks in data_dir / $CONVSCOPE_FASHION_DIR, SYSTEM_DIRS, then the cache; downloads this split
    into the cache if none has it (unless download=False). Every file's MD5 is checked.
    Raises FashionUnavailable (one-line message) when that is impossible, FashionCorrupt on a bad file.
    """
    names = _split_names(split)
    found = find_split(split, data_dir, cache_dir)
    if found is None:
        if not download:
            raise _unavailable(data_dir, cache_dir, "download=False")
        ensure_fashion((split,), data_dir, cache_dir, base_url)
        found = find_split(split, data_dir, cache_dir)
    kind, paths = found
    images = _parse(read_checked(paths[names[0]], names[0], kind), names[0], paths[names[0]], kind)
    labels = _parse(read_checked(paths[names[1]], names[1], kind), names[1], paths[names[1]], kind)
    if len(images) != len(labels):
        raise FashionCorrupt(f"Fashion-MNIST {split} files in {paths[names[0]].parent} disagree: "
                             f"{len(images)} images but {len(labels)} labels. {_advice(kind)}")
    return images, labels


def ensure_fashion(splits=("train", "test"), data_dir=None, cache_dir=None, base_url=None) -> dict:
    """Make sure every split is somewhere, downloading the missing ones into the cache.

    Returns {split: (kind, {name: path})}. All downloads of the call are checked before any is cached.
    """
    located = {split: find_split(split, data_dir, cache_dir) for split in splits}
    missing = [name for split in splits if located[split] is None for name in _split_names(split)]
    if missing:
        folder = resolve_cache_dir(cache_dir)
        base = resolve_base_url(base_url)
        files = {name: download_file(name, base, data_dir, cache_dir) for name in missing}
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            mnist._write_atomic(folder / name, data)
        located = {split: find_split(split, data_dir, cache_dir) for split in splits}
    return located


def download_file(name: str, base_url: str, data_dir=None, cache_dir=None) -> bytes:
    """GET <base_url>/<name>.gz, check its MD5 (as .gz and decompressed) and IDX; return it decompressed."""
    url = f"{base_url}/{name}.gz"
    try:
        packed = mnist._http_get(url, MAX_FILE_BYTES)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the response's socket
        raise _unavailable(data_dir, cache_dir, f"{type(exc).__name__}: {exc}") from exc
    got = hashlib.md5(packed).hexdigest()
    if got != MD5_GZ[name]:
        raise FashionCorrupt(f"MD5 check failed for {url}: got {got}, Fashion-MNIST publishes "
                             f"{MD5_GZ[name]} for {name}.gz. Nothing was cached; try again later, or "
                             f"`apt install {DEBIAN_PACKAGE}`.")
    data = _gunzip(packed, url)
    _check_md5(data, name, url, "download")
    _parse(data, name, url, "download")
    return data


def read_checked(path: Path, name: str, kind: str = "data dir") -> bytes:
    """The decompressed bytes of path (``.gz`` or plain), whose MD5 must be MD5[name]."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with open(path, "rb") as f:
                data = _gunzip(f, path, kind)
        else:
            data = path.read_bytes()
    except OSError as exc:
        raise FashionUnavailable(f"Cannot read {path} ({' '.join(str(exc).split())}).") from exc
    _check_md5(data, name, path, kind)
    return data


def fashion_checksum(data_dir=None, cache_dir=None) -> str:
    """sha256 (hex) of the four decompressed files concatenated in ALL_FILES order (train-images,
    train-labels, t10k-images, t10k-labels), each split from where load_fashion finds it.

    Shell equivalent for Debian's copy: ``cd /usr/share/datasets/fashion-mnist && zcat
    train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
    t10k-labels-idx1-ubyte.gz | sha256sum``. Nothing is downloaded.
    """
    digest = hashlib.sha256()
    for split in FILES:
        found = find_split(split, data_dir, cache_dir)
        if found is None:
            raise _unavailable(data_dir, cache_dir, f"the {split} files are missing")
        kind, paths = found
        for name in FILES[split]:
            digest.update(read_checked(paths[name], name, kind))
    return digest.hexdigest()


def _split_names(split: str) -> tuple[str, str]:
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return FILES[split]


def _gunzip(packed, source, kind: str = "download") -> bytes:
    """Decompress gzip bytes or a binary file object, refusing more than MAX_FILE_BYTES."""
    fileobj = io.BytesIO(packed) if isinstance(packed, bytes) else packed
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise FashionCorrupt(f"{source} is not a valid gzip file ({' '.join(str(exc).split())}). "
                             f"{_advice(kind)}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise FashionCorrupt(f"{source} decompresses to more than {MAX_FILE_BYTES} bytes. {_advice(kind)}")
    return data


def _check_md5(data: bytes, name: str, source, kind: str) -> None:
    got = hashlib.md5(data).hexdigest()
    if got != MD5[name]:
        raise FashionCorrupt(f"{source} is not the Fashion-MNIST {name}: the MD5 of its decompressed "
                             f"content is {got}, expected {MD5[name]}. {_advice(kind)}")


def _parse(data: bytes, name: str, source, kind: str) -> np.ndarray:
    """mnist.parse_idx, with a Fashion-MNIST message (its own says how to fix MNIST)."""
    magic = mnist.IMAGES_MAGIC if "images" in name else mnist.LABELS_MAGIC
    try:
        return mnist.parse_idx(data, magic, str(source))
    except mnist.MnistCorrupt as exc:
        why = re.search(r"\(([^()]*)\)\. ", str(exc))
        raise FashionCorrupt(f"{source} is not a valid IDX file ({why.group(1) if why else exc}). "
                             f"{_advice(kind)}") from exc


def _advice(kind: str) -> str:
    if kind == "cache":
        return f"Delete it and run `{CLI}` to download it again."
    if kind == "system copy":
        return f"Reinstall it: `apt install --reinstall {DEBIAN_PACKAGE}`."
    if kind == "download":
        return f"Nothing was cached; try again later, or `apt install {DEBIAN_PACKAGE}`."
    return (f"Replace it with the original (`apt install {DEBIAN_PACKAGE}` installs all four in "
            f"{DEBIAN_DIR}) or remove it.")


def _unavailable(data_dir, cache_dir, reason: str) -> FashionUnavailable:
    reason = " ".join(str(reason).split())  # one line, whatever the OS error looked like
    looked = ", ".join(str(folder) for _, folder in sources(data_dir, cache_dir))
    cache = resolve_cache_dir(cache_dir)
    return FashionUnavailable(
        f"Fashion-MNIST was not found (looked in {looked}) and could not be downloaded ({reason}). "
        f"Install it (`apt install {DEBIAN_PACKAGE}`), or copy the four files "
        f"({', '.join(ALL_FILES)}, .gz or not) into {cache}, or name their folder with --data-dir "
        f"(CONVSCOPE_FASHION_DIR), or connect to the internet once (`{CLI}`).")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=CLI, description="Find (or download and cache) Fashion-MNIST "
                                     "and print where it is and its checksum.")
    parser.add_argument("--data-dir", help="a folder holding the four files (.gz or not); "
                        "default: $CONVSCOPE_FASHION_DIR")
    parser.add_argument("--cache-dir", help=f"default: $CONVSCOPE_FASHION_CACHE_DIR or {default_cache_dir()}")
    parser.add_argument("--base-url", help=f"download from here (default: $CONVSCOPE_FASHION_URL or {BASE_URL})")
    parser.add_argument("--no-download", action="store_true", help="fail rather than download")
    args = parser.parse_args(argv)
    try:
        if args.no_download:
            located = {split: find_split(split, args.data_dir, args.cache_dir) for split in FILES}
        else:
            located = ensure_fashion(tuple(FILES), args.data_dir, args.cache_dir, args.base_url)
        lines = []
        for split in FILES:
            images, _ = load_fashion(split, args.data_dir, args.cache_dir, download=False)
            kind, paths = located[split]
            lines.append(f"{split}: {len(images)} images, {kind} {paths[FILES[split][0]].parent}")
            lines += [f"  {path.name}  {path.stat().st_size} bytes" for path in paths.values()]
        checksum = fashion_checksum(args.data_dir, args.cache_dir)
    except FashionUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    print(f"sha256 (four decompressed files concatenated): {checksum}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
