"""Shared helpers for the bench/ scripts: the model under test, data, timing and printing.

Every script compares ConvScope and PyTorch *in the same run* and prints ratios, because the
machines are shared and noisy; absolute figures are only indicative.
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def load_network(seed: int = 0):
    """(net, description): models/lenet.npz if present, else a seeded random LeNet."""
    from convscope import convnet
    path = convnet.default_model_path()
    if path.is_file():
        return convnet.Network.load(path), f"trained weights from {path.relative_to(REPO)}"
    net = convnet.Network.from_spec(convnet.architecture("lenet"), seed=seed, name="lenet")
    return net, f"RANDOM weights (Network.from_spec(lenet, seed={seed}); {path.name} not found)"


def test_images(n: int = 10_000):
    """(x (N,1,32,32) float32, labels int64, description): the MNIST test set if cached, else the
    shipped 300 samples tiled up to n (the timing does not depend on the pixel values)."""
    from convscope.convnet import mnist
    from convscope.convnet.data import to_network_input
    try:
        images, labels = mnist.load_mnist("test")
        return to_network_input(images[:n]), labels[:n].astype(np.int64), f"MNIST test set ({min(n, len(images))} images)"
    except Exception as exc:  # noqa: BLE001  (any cache problem: fall back, and say so)
        from convscope.convnet.samples import load_samples
        s = load_samples()
        reps = -(-n // len(s))
        x = to_network_input(np.tile(s.images, (reps, 1, 1))[:n])
        y = np.tile(s.labels, reps)[:n].astype(np.int64)
        return x, y, f"shipped samples tiled to {n} (MNIST cache unavailable: {exc})"


def train_images():
    """(x (60000,1,32,32), labels, description): MNIST train, else random pixels (same shapes)."""
    from convscope.convnet import mnist
    from convscope.convnet.data import to_network_input
    try:
        images, labels = mnist.load_mnist("train")
        return to_network_input(images), labels.astype(np.int64), "MNIST train set (60000 images)"
    except Exception as exc:  # noqa: BLE001
        rng = np.random.default_rng(0)
        x = to_network_input(rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8))
        return x, rng.integers(0, 10, 60_000), f"random pixels (MNIST cache unavailable: {exc})"


def repeat(fn, reps: int, warmup: int = 3) -> np.ndarray:
    """Seconds per call of fn(), ``reps`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = np.empty(reps)
    for i in range(reps):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out


def stats(seconds: np.ndarray, unit: str = "us") -> str:
    scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
    s = np.asarray(seconds) * scale
    return (f"median {np.median(s):9.1f} {unit}   min {s.min():9.1f}   max {s.max():9.1f}"
            f"   (n={len(s)})")


def header(title: str, model_desc: str | None = None) -> None:
    import numba
    print(f"== {title} ==")
    print(f"python {platform.python_version()}  numpy {np.__version__}  numba {numba.__version__}  "
          f"numba threads {numba.get_num_threads()}  cpus {os.cpu_count()}  {platform.machine()}")
    if model_desc:
        print(f"model: {model_desc}")


def import_torch(skip: bool = False):
    """torch, or None (printing why) when --no-torch or it is not importable."""
    if skip:
        print("PyTorch: skipped (--no-torch)")
        return None
    try:
        import torch
    except ImportError:
        print("PyTorch: not importable -- ConvScope figures only, no ratios")
        return None
    print(f"PyTorch {torch.__version__}  default threads {torch.get_num_threads()}  "
          f"oneDNN available {torch.backends.mkldnn.is_available()}")
    return torch


def verdict(ok: bool) -> str:
    return "MEETS target" if ok else "MISSES target"
