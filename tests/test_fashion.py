"""convnet.fashion on tiny fake IDX files (never the real network), plus Debian's copy if installed.

Each fake set is 5 train and 3 test images. Its MD5s (decompressed, and of the .gz as served) are
pinned for the test by monkeypatching fashion.MD5 / fashion.MD5_GZ. Downloads come from a local
http.server that counts requests. SYSTEM_DIRS is pointed at an empty temporary folder unless a test
says otherwise, so the real /usr/share/datasets/fashion-mnist is only seen by the test made for it.
"""
import gzip
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from convscope.convnet import fashion, mnist
from convscope.convnet.fashion import (ALL_FILES, CLASSES, FashionCorrupt, FashionUnavailable,
                                       fashion_checksum, find_split, load_fashion)

RNG = np.random.default_rng(1)
DATA = {
    "train": (RNG.integers(0, 256, size=(5, 28, 28), dtype=np.uint8), np.array([9, 0, 3, 8, 5], np.uint8)),
    "test": (RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8), np.array([1, 7, 2], np.uint8)),
}
REAL_SYSTEM_DIRS = fashion.SYSTEM_DIRS
REAL_MD5 = dict(fashion.MD5)
# sha256 of Debian's four decompressed files, in ALL_FILES order (zcat ... | sha256sum).
REAL_CHECKSUM = "14410854cf7a289477dcfc7df3f8ec24741e281cdcc425ede0d9a748ca630214"


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_files() -> dict:
    """{name: decompressed IDX bytes} for the four files."""
    files = {}
    for split, names in fashion.FILES.items():
        images, labels = DATA[split]
        files[names[0]], files[names[1]] = idx_bytes(images), idx_bytes(labels)
    return files


FILES = fake_files()
GZ = {name: gzip.compress(data, mtime=0) for name, data in FILES.items()}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write_dir(folder: Path, gz: bool = True, names=ALL_FILES, files=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        data = (files or FILES)[name]
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


def cached(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeMirror:
    """A local HTTP server: routes path -> bytes (404 otherwise); counts requests."""

    def __init__(self):
        self.routes, self.requests = {}, []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                body = mirror.routes.get(self.path)
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

    def publish(self, gz: dict = GZ):
        for name, data in gz.items():
            self.routes[f"/{name}.gz"] = data

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mirror():
    fake = FakeMirror()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def isolate(monkeypatch, tmp_path):
    """No test sees the developer's cache, settings or system copy; the fake files' sums are pinned."""
    for var in ("CONVSCOPE_FASHION_DIR", "CONVSCOPE_FASHION_CACHE_DIR", "CONVSCOPE_FASHION_URL",
                "CONVSCOPE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (tmp_path / "no-system",))
    monkeypatch.setattr(fashion, "MD5", {name: md5(data) for name, data in FILES.items()})
    monkeypatch.setattr(fashion, "MD5_GZ", {name: md5(data) for name, data in GZ.items()})


def assert_split(result, split):
    images, labels = result
    assert images.dtype == np.uint8 and images.shape == DATA[split][0].shape
    assert labels.dtype == np.uint8 and labels.shape == DATA[split][1].shape
    np.testing.assert_array_equal(images, DATA[split][0])
    np.testing.assert_array_equal(labels, DATA[split][1])


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# --- download -----------------------------------------------------------------------------------

def test_download_checks_and_caches_the_decompressed_split(mirror, tmp_path):
    mirror.publish()
    cache = tmp_path / "cache"
    assert_split(load_fashion("train", cache_dir=cache, base_url=mirror.url), "train")
    assert mirror.requests == ["/train-images-idx3-ubyte.gz", "/train-labels-idx1-ubyte.gz"]
    assert cached(cache) == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]  # no temp files
    for name in fashion.FILES["train"]:
        assert (cache / name).read_bytes() == FILES[name]  # decompressed
    assert find_split("train", cache_dir=cache)[0] == "cache"

    assert_split(load_fashion("train", cache_dir=cache, base_url=mirror.url), "train")
    assert len(mirror.requests) == 2  # served from the cache
    assert_split(load_fashion("test", cache_dir=cache, base_url=mirror.url), "test")
    assert len(mirror.requests) == 4 and cached(cache) == sorted(ALL_FILES)


def test_cached_data_needs_no_network(mirror, tmp_path):
    mirror.publish()
    cache = tmp_path / "cache"
    load_fashion("test", cache_dir=cache, base_url=mirror.url)
    assert_split(load_fashion("test", cache_dir=cache, base_url=closed_port_url(), download=False), "test")


def test_download_from_env_url_into_env_cache(mirror, monkeypatch, tmp_path):
    mirror.publish()
    monkeypatch.setenv("CONVSCOPE_FASHION_URL", mirror.url + "/")
    monkeypatch.setenv("CONVSCOPE_FASHION_CACHE_DIR", str(tmp_path / "env-cache"))
    assert_split(load_fashion("test"), "test")
    assert cached(tmp_path / "env-cache") == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def test_download_lands_in_the_user_cache_beside_mnist(mirror, tmp_path):
    mirror.publish()
    load_fashion("test", base_url=mirror.url)
    folder = tmp_path / "xdg" / "convscope" / "fashion-mnist"
    assert cached(folder) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    assert folder.parent == mnist.default_cache_dir().parent


def test_bad_gz_md5_is_refused_and_nothing_cached(mirror, monkeypatch, tmp_path):
    mirror.publish()
    monkeypatch.setitem(fashion.MD5_GZ, "train-labels-idx1-ubyte", "0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(FashionCorrupt) as info:
        load_fashion("train", cache_dir=cache, base_url=mirror.url)
    message = one_line(info)
    assert f"MD5 check failed for {mirror.url}/train-labels-idx1-ubyte.gz" in message
    assert f"got {md5(GZ['train-labels-idx1-ubyte'])}" in message and "Nothing was cached" in message
    assert cached(cache) == []  # not even the train images, which were good


def test_bad_decompressed_md5_is_refused_and_nothing_cached(mirror, monkeypatch, tmp_path):
    """A .gz that matches its published sum but holds other data (the two tables disagree) is refused."""
    other = gzip.compress(idx_bytes(DATA["test"][0]), mtime=0)
    mirror.publish({**GZ, "train-images-idx3-ubyte": other})
    monkeypatch.setitem(fashion.MD5_GZ, "train-images-idx3-ubyte", md5(other))
    cache = tmp_path / "cache"
    with pytest.raises(FashionCorrupt) as info:
        load_fashion("train", cache_dir=cache, base_url=mirror.url)
    message = one_line(info)
    assert "train-images-idx3-ubyte" in message and "MD5 of its decompressed content" in message
    assert cached(cache) == []


def test_a_download_that_is_not_gzip_is_refused(mirror, monkeypatch, tmp_path):
    mirror.publish({**GZ, "t10k-labels-idx1-ubyte": FILES["t10k-labels-idx1-ubyte"]})
    monkeypatch.setitem(fashion.MD5_GZ, "t10k-labels-idx1-ubyte", md5(FILES["t10k-labels-idx1-ubyte"]))
    with pytest.raises(FashionCorrupt, match="not a valid gzip file") as info:
        load_fashion("test", cache_dir=tmp_path / "cache", base_url=mirror.url)
    one_line(info)
    assert cached(tmp_path / "cache") == []


def test_a_download_that_is_not_idx_is_refused(mirror, monkeypatch, tmp_path):
    bad = b"\xde\xad\xbe\xef" + bytes(12)
    mirror.publish({**GZ, "t10k-images-idx3-ubyte": gzip.compress(bad, mtime=0)})
    monkeypatch.setitem(fashion.MD5, "t10k-images-idx3-ubyte", md5(bad))
    monkeypatch.setitem(fashion.MD5_GZ, "t10k-images-idx3-ubyte", md5(gzip.compress(bad, mtime=0)))
    with pytest.raises(FashionCorrupt, match="magic number 0xdeadbeef") as info:
        load_fashion("test", cache_dir=tmp_path / "cache", base_url=mirror.url)
    assert "MNIST" not in one_line(info)  # Fashion-MNIST's advice, not mnist.py's
    assert cached(tmp_path / "cache") == []


def test_http_404_is_unavailable(mirror, tmp_path):
    with pytest.raises(FashionUnavailable, match="HTTP Error 404") as info:
        load_fashion("test", cache_dir=tmp_path / "cache", base_url=mirror.url)
    one_line(info)


def test_non_http_base_url_is_refused(tmp_path):
    with pytest.raises(FashionUnavailable, match="non-HTTP"):
        load_fashion("test", cache_dir=tmp_path / "cache", base_url=f"file://{tmp_path}")


# --- folders: data dir, system copy, cache --------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_a_named_data_dir_is_used_first(mirror, monkeypatch, tmp_path, gz):
    mirror.publish()
    data_dir = write_dir(tmp_path / "data", gz=gz)
    # A system copy and a cache that would fail their checks if they were read.
    bad = {name: b"x" + data for name, data in FILES.items()}
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (write_dir(tmp_path / "system", files=bad),))
    cache = write_dir(tmp_path / "cache", gz=False, files=bad)
    for split in ("train", "test"):
        assert_split(load_fashion(split, data_dir=data_dir, cache_dir=cache, base_url=mirror.url), split)
        kind, paths = find_split(split, data_dir=data_dir, cache_dir=cache)
        assert kind == "data dir" and {p.parent for p in paths.values()} == {data_dir}
        assert all(p.name.endswith(".gz") == gz for p in paths.values())
    assert mirror.requests == []


def test_data_dir_from_env_and_mixed_gz_and_plain(monkeypatch, tmp_path):
    data_dir = tmp_path / "data"
    write_dir(data_dir, gz=True, names=["train-images-idx3-ubyte"])
    write_dir(data_dir, gz=False, names=["train-labels-idx1-ubyte"])
    monkeypatch.setenv("CONVSCOPE_FASHION_DIR", str(data_dir))
    assert_split(load_fashion("train", base_url=closed_port_url()), "train")
    assert find_split("train")[0] == "data dir"


def test_a_data_dir_lacking_the_split_falls_through(tmp_path, monkeypatch):
    data_dir = write_dir(tmp_path / "data", names=fashion.FILES["test"])
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (write_dir(tmp_path / "system"),))
    assert find_split("test", data_dir=data_dir)[0] == "data dir"
    assert find_split("train", data_dir=data_dir)[0] == "system copy"
    assert_split(load_fashion("train", data_dir=data_dir, download=False), "train")


def test_a_bad_file_in_the_data_dir_is_refused_not_skipped(mirror, tmp_path):
    mirror.publish()
    files = {**FILES, "t10k-labels-idx1-ubyte": idx_bytes(np.array([1, 7, 3], np.uint8))}
    data_dir = write_dir(tmp_path / "data", gz=False, files=files)
    cache = tmp_path / "cache"
    with pytest.raises(FashionCorrupt) as info:
        load_fashion("test", data_dir=data_dir, cache_dir=cache, base_url=mirror.url)
    message = one_line(info)
    assert str(data_dir / "t10k-labels-idx1-ubyte") in message and "apt install dataset-fashion-mnist" in message
    assert cached(cache) == [] and mirror.requests == []


def test_a_data_dir_gz_that_is_not_gzip_is_refused(tmp_path):
    data_dir = write_dir(tmp_path / "data")
    (data_dir / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(FashionCorrupt, match="not a valid gzip file") as info:
        load_fashion("train", data_dir=data_dir, download=False)
    assert str(data_dir / "train-images-idx3-ubyte.gz") in one_line(info)


def test_the_system_dir_is_found_when_no_data_dir(monkeypatch, tmp_path):
    system = write_dir(tmp_path / "system")
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (tmp_path / "absent", system))
    cache = tmp_path / "cache"
    for split in ("train", "test"):
        assert_split(load_fashion(split, cache_dir=cache, base_url=closed_port_url()), split)
        kind, paths = find_split(split, cache_dir=cache)
        assert kind == "system copy" and {p.parent for p in paths.values()} == {system}
    assert cached(cache) == []  # a system copy is read in place, not copied


def test_the_system_dir_comes_before_the_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (write_dir(tmp_path / "system"),))
    cache = write_dir(tmp_path / "cache", gz=False, files={n: b"bad" for n in ALL_FILES})
    assert_split(load_fashion("test", cache_dir=cache, download=False), "test")


def test_a_bad_system_copy_says_reinstall(monkeypatch, tmp_path):
    files = {**FILES, "train-images-idx3-ubyte": FILES["train-images-idx3-ubyte"][:-1]}
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", (write_dir(tmp_path / "system", files=files),))
    with pytest.raises(FashionCorrupt, match="apt install --reinstall dataset-fashion-mnist") as info:
        load_fashion("train", download=False)
    assert "train-images-idx3-ubyte.gz" in one_line(info)


def test_a_corrupt_cached_file_says_delete_it(tmp_path):
    files = {**FILES, "t10k-images-idx3-ubyte": b"\x00" + FILES["t10k-images-idx3-ubyte"][1:-1] + b"\x01"}
    cache = write_dir(tmp_path / "cache", gz=False, files=files)
    with pytest.raises(FashionCorrupt, match="Delete it and run `python -m convscope.convnet.fashion`") as info:
        load_fashion("test", cache_dir=cache, download=False)
    assert str(cache / "t10k-images-idx3-ubyte") in one_line(info)


# --- nothing found --------------------------------------------------------------------------------

def test_offline_and_nothing_found_says_what_to_install(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(FashionUnavailable) as info:
        load_fashion("train", data_dir=tmp_path / "nowhere", cache_dir=cache, base_url=closed_port_url())
    message = one_line(info)
    assert isinstance(info.value, mnist.MnistUnavailable) and not isinstance(info.value, FashionCorrupt)
    assert message.startswith("Fashion-MNIST was not found")
    assert "apt install dataset-fashion-mnist" in message and "--data-dir" in message
    assert f"into {cache}" in message and "t10k-images-idx3-ubyte" in message
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "no-system") in message
    assert cached(cache) == []


def test_download_disabled_and_nothing_found(tmp_path):
    with pytest.raises(FashionUnavailable, match="download=False") as info:
        load_fashion("test", cache_dir=tmp_path / "cache", download=False)
    one_line(info)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_fashion("validation")


# --- resolution, checksum, classes, main ------------------------------------------------------------

def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fashion.resolve_cache_dir() == tmp_path / "home" / ".cache" / "convscope" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fashion.resolve_cache_dir() == tmp_path / "xdg" / "convscope" / "fashion-mnist"
    monkeypatch.setenv("CONVSCOPE_DATA_DIR", str(tmp_path / "mnist-data"))  # MNIST's folder: not shared
    assert fashion.resolve_cache_dir() == tmp_path / "xdg" / "convscope" / "fashion-mnist"
    monkeypatch.setenv("CONVSCOPE_FASHION_CACHE_DIR", str(tmp_path / "env"))
    assert fashion.resolve_cache_dir() == tmp_path / "env"
    assert fashion.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_checksum_is_sha256_of_the_four_decompressed_files_in_order(mirror, tmp_path):
    expected = hashlib.sha256(b"".join(FILES[name] for name in ALL_FILES)).hexdigest()
    assert ALL_FILES == ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    assert fashion_checksum(data_dir=write_dir(tmp_path / "gz")) == expected
    mirror.publish()
    cache = tmp_path / "cache"
    fashion.ensure_fashion(cache_dir=cache, base_url=mirror.url)
    assert fashion_checksum(cache_dir=cache) == expected


def test_checksum_does_not_download_and_says_what_is_missing(tmp_path):
    write_dir(tmp_path / "cache", names=fashion.FILES["train"])
    with pytest.raises(FashionUnavailable, match="the test files are missing") as info:
        fashion_checksum(cache_dir=tmp_path / "cache")
    one_line(info)


def test_classes():
    assert len(CLASSES) == 10
    assert CLASSES[0] == "T-shirt/top" and CLASSES[5] == "Sandal" and CLASSES[9] == "Ankle boot"


def test_main_prints_where_and_checksum(mirror, tmp_path, capsys):
    mirror.publish()
    cache = tmp_path / "cache"
    assert fashion.main(["--cache-dir", str(cache), "--base-url", mirror.url]) == 0
    out = capsys.readouterr().out
    assert f"train: 5 images, cache {cache}" in out and f"test: 3 images, cache {cache}" in out
    assert fashion_checksum(cache_dir=cache) in out and len(mirror.requests) == 4


def test_main_no_download_uses_the_data_dir(tmp_path, capsys):
    data_dir = write_dir(tmp_path / "data")
    assert fashion.main(["--data-dir", str(data_dir), "--no-download"]) == 0
    out = capsys.readouterr().out
    assert f"data dir {data_dir}" in out and fashion_checksum(data_dir=data_dir) in out


def test_main_offline_prints_one_line(tmp_path, capsys):
    assert fashion.main(["--cache-dir", str(tmp_path / "c"), "--base-url", closed_port_url()]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: Fashion-MNIST was not found")


# --- the real thing ------------------------------------------------------------------------------

@pytest.mark.skipif(not REAL_SYSTEM_DIRS[0].is_dir(),
                    reason=f"{REAL_SYSTEM_DIRS[0]} is absent (Debian package dataset-fashion-mnist "
                           "not installed)")
def test_the_real_system_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(fashion, "SYSTEM_DIRS", REAL_SYSTEM_DIRS)
    monkeypatch.setattr(fashion, "MD5", REAL_MD5)  # the real pins: load_fashion checks every file
    cache = tmp_path / "cache"
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = load_fashion(split, cache_dir=cache, base_url=closed_port_url())
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10  # balanced, 0..9
        assert find_split(split, cache_dir=cache)[0] == "system copy"
    assert fashion_checksum(cache_dir=cache) == REAL_CHECKSUM
    assert cached(cache) == []
