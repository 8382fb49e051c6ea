"""The real MNIST test digits shipped in the repo (models/mnist_samples.npz) for the gallery.

A sample's stable id is its position in the file; ``indices[id]`` is its index in the official
10k MNIST test set. How the file was made: models/mnist_samples.md (scripts/make_samples.py).
Shapes: images uint8 (N, 28, 28), 0 = background, 255 = ink; labels uint8 (N,); indices int32 (N,).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convscope.resources import data_path

DEFAULT_PATH = data_path("models", "mnist_samples.npz")


@dataclass(frozen=True)
class Samples:
    images: np.ndarray   # uint8 (N, 28, 28)
    labels: np.ndarray   # uint8 (N,)
    indices: np.ndarray  # int32 (N,), index in the official MNIST test set

    def __len__(self) -> int:
        return len(self.labels)


def load_samples(path: str | os.PathLike | None = None) -> Samples:
    """Load the shipped samples (default: the repo's models/mnist_samples.npz), cached per path.

    The arrays are read-only because every caller shares them.
    """
    return _load(str(Path(path).resolve() if path else DEFAULT_PATH))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Samples:
    with np.load(path, allow_pickle=False) as npz:
        images, labels, indices = npz["images"], npz["labels"], npz["indices"]
    n = len(labels)
    expected = {"images": (images, np.uint8, (n, 28, 28)), "labels": (labels, np.uint8, (n,)),
                "indices": (indices, np.int32, (n,))}
    for name, (array, dtype, shape) in expected.items():
        if array.dtype != dtype or array.shape != shape:
            raise ValueError(f"{path}: {name} is {array.dtype} {array.shape}, expected {np.dtype(dtype)} {shape}")
        array.setflags(write=False)
    return Samples(images=images, labels=labels, indices=indices)
