"""Score models on UCI's 1,797 handwritten 8×8 digits (a NIST set written by other people than
MNIST's), through the app's own MNIST preprocessing: the digits a model never saw in training.

Each 8×8 image (ink 0–16) is scaled to [0, 1], enlarged 4× (nearest) to a drawing-sized 32×32, and
sent through ``server.preprocess.mnist`` (crop, fit to 20 px, centre of mass), as a drawing is.
Needs scikit-learn for its bundled copy of the set (``pip install scikit-learn``; it is not a
dependency of ConvScope).

    python scripts/score_uci_digits.py models/lenet.npz models/lenet5-classic.npz
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="ConvScope .npz files (1×32×32 digit models)")
    args = p.parse_args(argv)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("scikit-learn is needed for its copy of the UCI digits: pip install scikit-learn")
        return 1
    from convscope.convnet.network import Network
    from convscope.server.preprocess import mnist

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    big = np.kron(images, np.ones((1, 4, 4), np.float32))
    x = np.stack([mnist(image).x for image in big])
    for path in args.models:
        pred = Network.load(path).predict(x).argmax(1)
        wrong = int((pred != digits.target).sum())
        one_as_seven = int(((digits.target == 1) & (pred == 7)).sum())
        seven_as_one = int(((digits.target == 7) & (pred == 1)).sum())
        print(f"{path}: {100 * (1 - wrong / len(pred)):.2f} % of {len(pred)} UCI digits "
              f"({wrong} wrong; 1 read as 7: {one_as_seven}, 7 read as 1: {seven_as_one})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
