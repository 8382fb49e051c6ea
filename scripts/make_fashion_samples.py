"""Pick Fashion-MNIST test images for the gallery: models/fashion_samples.npz and its .md record.

Deterministic, as scripts/make_samples.py for MNIST: for each class 0..9, `--per-class` indices are
drawn without replacement from the 10k test set with np.random.default_rng(--seed), then sorted, so a
sample's id follows the test set's order.  Reads the data where convnet/fashion.py finds it.

    python scripts/make_fashion_samples.py --per-class 30 --seed 2017
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from convscope.convnet import fashion

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--out", default=str(ROOT / "models" / "fashion_samples.npz"))
    args = parser.parse_args()
    images, labels = fashion.load_fashion("test")
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), size=args.per_class, replace=False)
                                     for c in range(10)])).astype(np.int32)
    out = Path(args.out)
    np.savez_compressed(out, images=images[chosen], labels=labels[chosen], indices=chosen)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.with_suffix(".md").write_text(
        f"# {out.name}\n\n{len(chosen)} Fashion-MNIST test images ({args.per_class} per class), for the gallery of "
        "Fashion-MNIST models.\n\nMade with `python scripts/make_fashion_samples.py --per-class "
        f"{args.per_class} --seed {args.seed}` from the test set (checksum of the four files: "
        f"`{fashion.fashion_checksum()}`).\n\n- `images`: uint8 (N, 28, 28), light object on black, as in the dataset\n"
        "- `labels`: uint8 (N,), 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, "
        "7 Sneaker, 8 Bag, 9 Ankle boot\n- `indices`: int32 (N,), each image's index in the 10k test set\n\n"
        f"sha256 of the file: `{digest}`\n\nFashion-MNIST: Zalando Research, MIT licence.\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(chosen)} images)")


if __name__ == "__main__":
    main()
