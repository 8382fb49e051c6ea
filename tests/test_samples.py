"""The shipped MNIST test digits (models/mnist_samples.npz) and their record (mnist_samples.md).

Most checks need only the repo. The digests in the .md were computed from the official test set when
the file was made, so checking the .npz against them needs no MNIST cache; one further test compares
with the official test set directly and is skipped only where the MNIST cache is absent.
"""
import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from convscope.convnet import mnist
from convscope.convnet.samples import DEFAULT_PATH, Samples, load_samples

MD_PATH = DEFAULT_PATH.with_suffix(".md")


def recorded(field: str) -> str:
    match = re.search(rf"^- {re.escape(field)}: `([^`]+)`", MD_PATH.read_text(encoding="utf-8"), re.M)
    assert match, f"{MD_PATH.name} records no '{field}'"
    return match.group(1)


def sha256(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def samples() -> Samples:
    return load_samples()


def test_files_exist_and_are_small():
    assert DEFAULT_PATH.is_file() and MD_PATH.is_file()
    assert DEFAULT_PATH.stat().st_size < 300 * 1024


def test_shapes_and_dtypes(samples):
    n = len(samples)
    assert 100 <= n <= 1000
    assert samples.images.dtype == np.uint8 and samples.images.shape == (n, 28, 28)
    assert samples.labels.dtype == np.uint8 and samples.labels.shape == (n,)
    assert samples.indices.dtype == np.int32 and samples.indices.shape == (n,)


def test_every_class_present_and_balanced(samples):
    counts = np.bincount(samples.labels, minlength=10)
    assert len(counts) == 10 and counts.min() == counts.max() > 0


def test_indices_unique_sorted_in_test_set(samples):
    assert len(np.unique(samples.indices)) == len(samples)
    assert samples.indices.min() >= 0 and samples.indices.max() <= 9999
    assert np.all(np.diff(samples.indices) > 0)


def test_images_look_like_digits(samples):
    images = samples.images.astype(np.float64)
    frame = np.concatenate([images[:, [0, -1], :].ravel(), images[:, :, [0, -1]].ravel()])
    assert frame.mean() < 1  # digits are centred in 28x28 with (nearly always) a blank frame
    assert images.max() == 255 and np.all(images.reshape(len(images), -1).max(axis=1) >= 254)
    assert np.mean(images == 0) > 0.7  # black background
    ink = (images > 127).mean(axis=(1, 2))
    assert np.all((ink > 0.02) & (ink < 0.5))
    assert 20 < images.mean() < 50  # MNIST's mean pixel is about 33


def test_content_matches_recorded_digests(samples):
    assert sha256(samples.images) == recorded("images sha256")
    assert sha256(samples.labels) == recorded("labels sha256")
    assert sha256(samples.indices.astype("<i4")) == recorded("indices sha256")


def test_record_names_source_and_command():
    assert recorded("command (from the repo root)").startswith("python scripts/make_samples.py")
    assert f"{mnist.PACKAGE}@{mnist.VERSION}" in MD_PATH.read_text(encoding="utf-8")


def test_loaded_once_and_read_only(samples):
    assert load_samples() is samples
    assert load_samples(DEFAULT_PATH) is samples
    with pytest.raises(ValueError):
        samples.images[0, 0, 0] = 1


def test_wrong_dtype_is_rejected(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((2, 28, 28), np.float32), labels=np.zeros(2, np.uint8),
             indices=np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="images is float32"):
        load_samples(path)


def load_make_samples():
    spec = importlib.util.spec_from_file_location(
        "make_samples", Path(__file__).resolve().parents[1] / "scripts" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_equal_to_official_test_set(samples, official_mnist_dir):
    """Needs the official files (scripts/test.sh fetches them); never downloads."""
    images, labels = mnist.load_mnist("test", cache_dir=official_mnist_dir, download=False)
    np.testing.assert_array_equal(samples.images, images[samples.indices])
    np.testing.assert_array_equal(samples.labels, labels[samples.indices])
    folder = mnist.resolve_cache_dir(official_mnist_dir)
    test_file = folder / mnist.FILES["test"][0]
    assert hashlib.sha256(test_file.read_bytes()).hexdigest() == recorded("t10k-images-idx3-ubyte sha256")
    # the documented command reproduces the same choice
    make_samples = load_make_samples()
    seed = int(re.search(r"--seed (\d+)", recorded("command (from the repo root)")).group(1))
    per_class = int(np.bincount(samples.labels)[0])
    np.testing.assert_array_equal(make_samples.choose_indices(labels, per_class, seed), samples.indices)
