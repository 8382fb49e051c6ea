"""``convscope train``: train a network on MNIST with the Numba kernels and write weights + card.

Deterministic for a given seed (and thread count): one NumPy Generator drives initialisation,
shuffling and augmentation.  The weights and model card are written atomically at the end.
"""
from __future__ import annotations

import datetime as dt
import platform
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import click
import numpy as np

from . import datasets, design
from .evaluate import CONTEXT, evaluate_arrays, format_confusion, run_command
from .network import Network, default_model_path
from .spec import ARCHITECTURES, architecture
from .trainer import DEFAULT_AUGMENT, Recipe, Watcher, fit, parse_augment


def _check_augment(ctx, param, value: str) -> str:
    try:
        parse_augment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


class Bar(Watcher):
    """A one-line progress bar per epoch on stderr with the running loss and accuracy."""

    def __init__(self, epochs: int, stream=sys.stderr):
        self.epochs, self.stream, self.start = epochs, stream, time.perf_counter()

    def progress(self, p):
        per_epoch = -(-p.total // self.epochs)
        done = p.step - (p.epoch - 1) * per_epoch
        width = 30
        filled = int(width * done / max(1, per_epoch))
        self.stream.write(f"\repoch {p.epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{per_epoch} loss {p.loss:.4f} acc {100 * p.accuracy:.2f}% {p.elapsed:.1f}s")
        self.stream.flush()

    def epoch_end(self, entry):
        self.stream.write(f"\n  test accuracy {100 * entry.get('test_accuracy', 0):.2f}%\n")
        self.stream.flush()


def recipe_of(args) -> Recipe:
    return Recipe(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                  schedule=args.schedule, warmup=args.warmup, batch_size=args.batch_size, epochs=args.epochs,
                  augment=None if args.augment in ("", "none", "off") else args.augment, seed=args.seed)


def spec_of(args) -> tuple[list[dict], dict | None]:
    """The layer list to train, and the design it came from (None for a shipped --arch)."""
    if args.design:
        d = design.normalise(design.load(args.design))
        return design.build(d), d
    return architecture(args.arch), None


def train(args) -> tuple[Network, dict]:
    spec, the_design = spec_of(args)
    data = datasets.get(args.dataset)
    x_train, y_train = datasets.load(args.dataset, "train", args.data_dir, args.limit)
    x_test, y_test = datasets.load(args.dataset, "test", args.data_dir)
    name = args.name or Path(args.out).stem
    net = Network.from_spec(spec, seed=args.seed, name=name)
    recipe = recipe_of(args)
    result = fit(net, x_train, y_train, x_test, y_test, recipe, Bar(args.epochs))
    accuracy, confusion = evaluate_arrays(net, x_test, y_test)
    card = model_card(net, data, recipe, the_design, result, accuracy, confusion,
                      datasets.checksum(args.dataset, args.data_dir), len(x_train), len(x_test))
    card["training"] = {k: v for k, v in vars(args).items() if k not in ("out", "data_dir", "name")}
    card["command"] = ("convscope train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
                       if len(sys.argv) > 1 and sys.argv[1] == "train" else None)
    return net, card


def model_card(net, data, recipe: Recipe, the_design, result, accuracy, confusion, sha256, n_train, n_test) -> dict:
    """The card every trained model carries, from the command line or the training page."""
    card = {
        "name": net.name,
        "architecture": net.spec,
        "parameters": int(sum(v.size for p in net.parameters().values() for v in p.values())),
        "training": recipe.to_json(),
        "seed": recipe.seed,
        "data": {"dataset": data.name, "source": data.source, "sha256": sha256,
                 "train_images": int(n_train), "test_images": int(n_test)},
        "classes": list(data.classes),
        "preprocess": data.preprocess,
        "test_accuracy": round(accuracy, 5),
        "confusion_matrix": confusion.tolist(),
        "history": result.history,
        "training_seconds": round(result.seconds, 1),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "numba": __import__("numba").__version__, "machine": platform.machine(),
                        # a run is deterministic for a seed *and* a thread count
                        "numba_threads": __import__("numba").get_num_threads()},
    }
    if the_design is not None:
        card["design"] = the_design
    return card


def _unwritable(path) -> str | None:
    """None if a file can be written next to ``path`` (its folder is made if missing), else why not."""
    import tempfile
    from pathlib import Path
    folder = Path(path).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def run(args) -> int:
    """Train with ``args`` (a namespace of the command's options), write weights + card; the exit status."""
    problem = _unwritable(args.out)
    if problem:   # say so now, not after the whole training run
        print(f"convscope train: error: cannot write {args.out}: {problem}", file=sys.stderr)
        return 2
    try:
        net, card = train(args)
    except datasets.Unavailable as exc:
        print(f"convscope train: error: {exc}", file=sys.stderr)
        return 2
    except design.DesignError as exc:
        print(f"convscope train: error: --design: {exc}", file=sys.stderr)
        return 2
    try:
        net.save(args.out, card)
    except OSError as exc:   # the disk filled or the folder went away: the old file is untouched
        print(f"convscope train: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"test accuracy {100 * card['test_accuracy']:.2f}% — wrote {args.out}")
    print(format_confusion(np.array(card["confusion_matrix"])))
    return 0


@click.command("train", context_settings=CONTEXT,
               help="Train a network (MNIST, Fashion-MNIST or the shipped digits) with the Numba kernels and write its weights and model card "
                    "(at the end, atomically).  Deterministic for a given seed (and thread count).")
@click.option("--arch", default="lenet", type=click.Choice(sorted(ARCHITECTURES)), help="a shipped architecture")
@click.option("--design", default=None, metavar="PRESET|FILE",
              help="instead of --arch: a training-page design, a preset (" + ", ".join(design.PRESETS) +
                   ") or a JSON file (docs/training.md)")
@click.option("--dataset", default="mnist", type=click.Choice(sorted(datasets.DATASETS)),
              help="mnist, fashion (Fashion-MNIST) or digits (the 300 shipped digits)")
@click.option("--epochs", type=click.IntRange(min=1), default=15, help="passes over the training set")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, help="images per step")
@click.option("--optimizer", default="adam", type=click.Choice(["adam", "sgd"]), help="update rule")
@click.option("--lr", type=float, default=2e-3, help="peak learning rate")
@click.option("--momentum", type=float, default=0.9, help="SGD momentum (sgd only)")
@click.option("--weight-decay", type=float, default=0.0, help="L2 weight decay")
@click.option("--schedule", default="cosine", type=click.Choice(["cosine", "step", "constant"]),
              help="after the warm-up: cosine (to 0), step (÷10 at 50 % and 75 %) or constant")
@click.option("--warmup", type=click.IntRange(min=0), default=200, help="warm-up steps (linear)")
@click.option("--augment", default=DEFAULT_AUGMENT, callback=_check_augment,
              help="'none' or shift=PX,rotate=DEG,scale=FRACTION (random affine warps), and optionally "
                   "elastic=ALPHA,sigma=PX (elastic distortions, Simard et al. 2003)")
@click.option("--seed", type=int, default=0, help="seeds initialisation, shuffling and augmentation")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="use only the first N training images (0: all)")
@click.option("--data-dir", default=None, metavar="DIR",
              help="the dataset's directory  [default: MNIST: $CONVSCOPE_DATA_DIR, else the user cache's "
                   "convscope/mnist; Fashion-MNIST: see docs/training.md]")
@click.option("--out", default=str(default_model_path()), metavar="PATH", help="weights file to write (.npz)")
@click.option("--name", default=None, help="model name  [default: the file's stem]")
def command(**options) -> int:
    # click fills ``options`` in command-line order; the card records them in the order above
    return run(SimpleNamespace(**{p.name: options[p.name] for p in command.params}))


def main(argv=None) -> int:
    return run_command(command, argv, "convscope train")


if __name__ == "__main__":
    sys.exit(main())
