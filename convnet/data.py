"""MNIST as the network's input: the data preparation shared by training, evaluation and the benches.

Kept apart from the ``train`` and ``evaluate`` command modules so that neither imports the other
for it (and the benchmarks and tests need no command-line module to get an input batch).
"""
from __future__ import annotations

import numpy as np

from . import mnist


def to_network_input(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """uint8 (N, 28, 28) in 0..255 → float32 (N, 1, 32, 32) in [0, 1], zero-padded by ``pad``."""
    x = np.zeros((len(images), 1, images.shape[1] + 2 * pad, images.shape[2] + 2 * pad), np.float32)
    x[:, 0, pad:pad + images.shape[1], pad:pad + images.shape[2]] = images / np.float32(255.0)
    return x


def load_split(split: str, cache_dir=None, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train" or "test") ready for the network: (x float32 (N, 1, 32, 32), labels int64 (N,)).

    ``limit`` > 0 keeps only the first ``limit`` images.  Raises what :func:`mnist.load_mnist` raises
    (MnistUnavailable with a one-line message when the data can be neither found nor downloaded).
    """
    images, labels = mnist.load_mnist(split, cache_dir=cache_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return to_network_input(images), labels.astype(np.int64)
