"""``convscope evaluate``: test accuracy and confusion matrix of a weights file on MNIST's 10k test set."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import mnist
from .network import Network, default_model_path


def evaluate_arrays(net: Network, x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(accuracy, confusion matrix [true, predicted]) for inputs x (N, 1, 32, 32)."""
    predicted = net.predict(x).argmax(axis=1)
    k = net.layers[-1].out_shape[0]
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    return float((predicted == labels).mean()), confusion


def format_confusion(confusion: np.ndarray) -> str:
    k = len(confusion)
    lines = ["true\\pred " + " ".join(f"{j:>5}" for j in range(k))]
    for i in range(k):
        lines.append(f"{i:>9} " + " ".join(f"{confusion[i, j]:>5}" for j in range(k)))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="convscope evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(default_model_path()), help="weights file (.npz)")
    p.add_argument("--data-dir", default=None, help="MNIST cache directory")
    args = p.parse_args(argv)
    from .train import to_network_input
    try:
        net = Network.load(args.model)
        images, labels = mnist.load_mnist("test", cache_dir=args.data_dir)
    except mnist.MnistUnavailable as exc:
        print(f"convscope evaluate: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as exc:
        print(f"convscope evaluate: cannot read {args.model}: {exc}", file=sys.stderr)
        return 2
    accuracy, confusion = evaluate_arrays(net, to_network_input(images), labels)
    print(f"{args.model}: test accuracy {100 * accuracy:.2f}% on {len(labels)} images")
    print(format_confusion(confusion))
    return 0


if __name__ == "__main__":
    sys.exit(main())
