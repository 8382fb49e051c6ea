"""The training loop shared by ``convscope train`` and the training page's jobs.

:func:`fit` runs mini-batch training of a :class:`Network` on arrays and tells a :class:`Watcher`
what happens: running loss and accuracy every few steps, held-out accuracy with a confusion matrix
at regular intervals and at each epoch's end, snapshots on a schedule that is dense at the start
(where the filters change most) and then every epoch.  The watcher can also pause or stop the run
between steps.  Reporting is kept off the hot path: the loop only sums numbers; the watcher's
calls happen every ``report_every`` steps.

Deterministic for a given seed (and thread count): one NumPy Generator drives shuffling and
augmentation; initialisation is seeded separately by ``Network.from_spec``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from convscope import kernels as K

from .optim import learning_rate, make_optimizer

AUGMENT_KEYS = {"shift": 0.0, "rotate": 0.0, "scale": 0.0, "elastic": 0.0, "sigma": 4.0}
DEFAULT_AUGMENT = "shift=2,rotate=12,scale=0.12"


def parse_augment(text: str | None) -> dict | None:
    """'none' → None; 'shift=PX,rotate=DEG,scale=F[,elastic=ALPHA,sigma=PX]' → the dict."""
    if text is None or text in ("", "none", "off"):
        return None
    out = dict(AUGMENT_KEYS)
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key.strip() not in out:
            raise ValueError(f"unknown augmentation {key!r} ({', '.join(AUGMENT_KEYS)})")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"augmentation {key.strip()} needs a number, not {value!r}") from None
    return out


@dataclass
class Recipe:
    """How to train: every choice the page and the command line offer (the card records it)."""
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: int = 200
    batch_size: int = 64
    epochs: int = 15
    augment: str | None = DEFAULT_AUGMENT
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    step: int
    total: int
    epoch: int
    loss: float           # running mean over the epoch so far
    accuracy: float
    lr: float
    images_per_s: float
    elapsed: float

    @property
    def eta(self) -> float:
        return self.elapsed / max(1, self.step) * (self.total - self.step)


class Watcher:
    """What :func:`fit` tells the outside.  Override what you need; ``control`` may return
    "pause" (fit then calls ``paused()`` until it is "run" again) or "stop"."""
    report_every = 25

    def progress(self, p: Progress) -> None: ...
    def evaluation(self, step: int, epoch: float, accuracy: float, confusion: np.ndarray) -> None: ...
    def epoch_end(self, entry: dict) -> None: ...
    def snapshot(self, step: int, epoch: float) -> None: ...
    def control(self) -> str: return "run"
    def paused(self) -> str: return "run"


@dataclass
class Result:
    history: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    train_seconds: float = 0.0   # time inside training steps only (no evaluation, no snapshots)
    stopped: bool = False


def snapshot_steps(total: int, steps_per_epoch: int) -> set[int]:
    """Step 0, a few early ones on a roughly doubling scale, and each epoch's end."""
    early = {0, 10, 25, 50, 100, 200, 400, 700}
    ends = {steps_per_epoch * e for e in range(1, total // max(1, steps_per_epoch) + 1)}
    return {s for s in early | ends | {total} if s <= total}


def evaluate(net, x, y, classes: int) -> tuple[float, np.ndarray]:
    predicted = net.predict(x).argmax(axis=1)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (y.astype(np.int64), predicted), 1)
    return float((predicted == y).mean()), confusion


def augment_batch(rng, xb: np.ndarray, augment: dict) -> np.ndarray:
    """Random affine warps and (if ``elastic`` > 0) elastic distortions, per image, in ONE bilinear
    resampling: the elastic field e moves each output pixel p to p + e(p), the affine map M then
    takes that to the input, so the pixel reads the input at M·(p + e(p)).  (Two resamplings in a
    row blur the strokes twice, and a network trained on that reads crisp test digits worse.)"""
    n, _, h, w = xb.shape
    images = np.ascontiguousarray(xb[:, 0])
    affine = augment["shift"] or augment["rotate"] or augment["scale"]
    mats = K.random_affine_mats(rng, n, w, augment["shift"], augment["rotate"], augment["scale"]) if affine else None
    if not augment["elastic"]:
        return (K.affine_warp_batch(images, mats) if affine else images)[:, None]
    fields = K.random_elastic_fields(rng, n, h, w, augment["elastic"], augment["sigma"])
    if affine:
        fields = compose_affine(mats, fields)
    return K.elastic_warp_batch(images, fields)[:, None]


def compose_affine(mats: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """The displacement field (N, 2, H, W) that samples at M·(p + e(p)): the affine ``mats`` (N, 2, 3,
    output pixel → input position) after the elastic ``fields`` (N, 2, H, W; dy, dx)."""
    _, _, h, w = fields.shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    py, px = yy + fields[:, 0], xx + fields[:, 1]
    m = mats[:, :, :, None, None]
    iy = m[:, 0, 0] * py + m[:, 0, 1] * px + m[:, 0, 2]
    ix = m[:, 1, 0] * py + m[:, 1, 1] * px + m[:, 1, 2]
    return np.ascontiguousarray(np.stack([iy - yy, ix - xx], axis=1), dtype=np.float32)


def fit(net, x_train, y_train, x_eval, y_eval, recipe: Recipe, watcher: Watcher | None = None,
        eval_every: int = 0, eval_at_epoch_end: bool = True) -> Result:
    """Train ``net`` in place.  ``eval_every`` > 0 also evaluates every that many steps."""
    watcher = watcher or Watcher()
    rng = np.random.default_rng(recipe.seed)
    augment = parse_augment(recipe.augment) if x_train.shape[1] == 1 else None
    params = net.parameters()
    opt = make_optimizer(recipe.optimizer, params, recipe.momentum, recipe.weight_decay)
    classes = net.layers[-1].out_shape[0]
    per_epoch = -(-len(x_train) // recipe.batch_size)
    total = per_epoch * recipe.epochs
    snaps = snapshot_steps(total, per_epoch)
    result, step, t0 = Result(), 0, time.perf_counter()
    train_time = 0.0
    if 0 in snaps:
        watcher.snapshot(0, 0.0)
    for epoch in range(recipe.epochs):
        order = rng.permutation(len(x_train))
        run_loss = run_correct = seen = 0.0
        epoch_t0 = time.perf_counter()
        for b in range(per_epoch):
            wish = watcher.control()
            while wish == "pause":
                pause_t0 = time.perf_counter()
                wish = watcher.paused()
                t0 += time.perf_counter() - pause_t0   # a pause is not training time
                epoch_t0 += time.perf_counter() - pause_t0
            if wish == "stop":
                result.stopped = True
                break
            s0 = time.perf_counter()
            idx = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if augment:
                xb = augment_batch(rng, xb, augment)
            lr = learning_rate(recipe.schedule, recipe.lr, step, total, recipe.warmup)
            loss, grads, logits = net.loss_and_grads(xb, yb)
            opt.step(grads, lr)
            train_time += time.perf_counter() - s0
            step += 1
            run_loss += loss * len(idx)
            run_correct += float((logits.argmax(1) == yb).sum())
            seen += len(idx)
            if step % watcher.report_every == 0 or b == per_epoch - 1:
                watcher.progress(Progress(step, total, epoch + 1, run_loss / seen, run_correct / seen, lr,
                                          seen / max(1e-9, time.perf_counter() - epoch_t0),
                                          time.perf_counter() - t0))
            if eval_every and step % eval_every == 0 and b != per_epoch - 1:
                accuracy, confusion = evaluate(net, x_eval, y_eval, classes)
                watcher.evaluation(step, step / per_epoch, accuracy, confusion)
            if step in snaps and b != per_epoch - 1:
                watcher.snapshot(step, step / per_epoch)
        if seen:
            entry = {"epoch": epoch + 1, "train_loss": round(run_loss / seen, 5),
                     "train_accuracy": round(run_correct / seen, 5),
                     "seconds": round(time.perf_counter() - epoch_t0, 2)}
            if eval_at_epoch_end and not result.stopped:
                accuracy, confusion = evaluate(net, x_eval, y_eval, classes)
                entry["test_accuracy"] = round(accuracy, 5)
                watcher.evaluation(step, step / per_epoch, accuracy, confusion)
            result.history.append(entry)
            watcher.epoch_end(entry)
        if result.stopped:
            break
        watcher.snapshot(step, step / per_epoch)
    if result.stopped and step not in snaps:
        watcher.snapshot(step, step / per_epoch)
    result.steps, result.seconds, result.train_seconds = step, time.perf_counter() - t0, train_time
    return result
