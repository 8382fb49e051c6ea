"""``convscope evaluate``: test accuracy and confusion matrix of a weights file on MNIST's 10k test set."""
from __future__ import annotations

import sys

import click
import numpy as np

from . import mnist
from .data import load_split
from .network import Network, default_model_path

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


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


def run_command(command: click.Command, argv, prog: str) -> int:
    """Run a click command as ``prog``: its status, 0 after --help, or 2 after ONE line
    ``prog: error: …`` on stderr for a bad option (no usage block, no traceback)."""
    try:
        with command.make_context(prog, list(sys.argv[1:] if argv is None else argv)) as ctx:
            return command.invoke(ctx) or 0
    except click.exceptions.Exit as exc:   # --help printed
        return exc.exit_code
    except click.ClickException as exc:
        print(f"{prog}: error: {exc.format_message()}", file=sys.stderr)
        return 2


@click.command("evaluate", context_settings=CONTEXT,
               help="Test accuracy and confusion matrix of a weights file on MNIST's 10k test set.")
@click.option("--model", default=str(default_model_path()), metavar="PATH", help="weights file (.npz)")
@click.option("--data-dir", default=None, metavar="DIR",
              help="MNIST cache directory  [default: $CONVSCOPE_DATA_DIR, else the user cache's convscope/mnist]")
def command(model: str, data_dir: str | None) -> int:
    try:
        net = Network.load(model)
        x, labels = load_split("test", data_dir)
    except mnist.MnistUnavailable as exc:
        print(f"convscope evaluate: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as exc:
        print(f"convscope evaluate: error: cannot read {model}: {exc}", file=sys.stderr)
        return 2
    accuracy, confusion = evaluate_arrays(net, x, labels)
    print(f"{model}: test accuracy {100 * accuracy:.2f}% on {len(labels)} images")
    print(format_confusion(confusion))
    return 0


def main(argv=None) -> int:
    return run_command(command, argv, "convscope evaluate")


if __name__ == "__main__":
    sys.exit(main())
