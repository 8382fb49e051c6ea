"""One training job of the training page, run as its own process: ``python -m convscope.convnet.job DIR``.

The server never trains in a request thread or a worker; it starts this process (at a lower
priority, so serving stays fast) and reads what it writes.  Everything goes through the job's folder,
so any worker process of the server, or a second browser, sees the same job:

- ``request.json`` (written by the server): ``design``, ``recipe``, ``dataset``, ``limit``, ``data_dir``,
  ``eval_every``, ``eval_images``;
- ``status.json`` (this process, atomically): ``state`` (starting, running, paused, done, stopped,
  failed), ``step``, ``total``, ``epoch``, ``elapsed``, ``eta``, ``error``;
- ``events.jsonl``: one JSON object per line, appended: ``{"type": "progress", …}`` (running loss and
  accuracy, learning rate, images per second), ``{"type": "evaluation", …}`` (held-out accuracy,
  confusion matrix), ``{"type": "snapshot", "step": …}``, ``{"type": "epoch", …}``;
- ``filters.json``: the first conv layer's current filters (overwritten as they change);
- ``snapshots/step-NNNNNNN.npz``: the network at that step (a ConvScope model, loadable by any view);
- ``model.npz``: the trained model with its card, when the run ends (done or stopped);
- ``control.json`` (the server): ``{"state": "run"|"pause"|"stop", "snapshot": n}``; a new ``snapshot``
  number asks for a snapshot at the next step.  SIGTERM stops the run too.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import datasets, design
from .network import Network, _atomic_write
from .train import model_card
from .trainer import Recipe, Watcher, evaluate, fit

TERMINAL = ("done", "stopped", "failed")


def write_json(path: Path, value) -> None:
    data = json.dumps(value, separators=(",", ":")).encode()
    _atomic_write(path, lambda f: f.write(data))


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def snapshot_path(folder: Path, step: int) -> Path:
    return folder / "snapshots" / f"step-{step:07d}.npz"


class JobWatcher(Watcher):
    report_every = 10

    def __init__(self, folder: Path, net: Network, first_conv: str | None, total: int):
        self.folder, self.net, self.first_conv = folder, net, first_conv
        self.events = open(folder / "events.jsonl", "a", buffering=1, encoding="utf-8")
        self.control_path = folder / "control.json"
        self.control_seen, self.wish, self.snapshot_asked, self.snapshot_done = None, "run", 0, 0
        self.stop_signal = False
        self.server_pid, self.server_checked = None, 0.0
        self.serving_path, self.serving, self.serving_checked = folder.parent / ".serving", False, 0.0
        self.last_step_end = time.monotonic()
        self.status = {"state": "running", "step": 0, "total": total, "epoch": 0, "elapsed": 0.0, "eta": None,
                       "pid": os.getpid(), "started": time.time()}
        self.step = 0
        self.write_status()
        self.write_filters()

    def emit(self, event: dict) -> None:
        self.events.write(json.dumps(event, separators=(",", ":")) + "\n")

    def write_status(self, **changes) -> None:
        self.status.update(changes)
        write_json(self.folder / "status.json", self.status)

    def write_filters(self) -> None:
        if self.first_conv:
            w = self.net.layer_weights(self.first_conv)["weight"]
            write_json(self.folder / "filters.json", {"step": self.step, "layer": self.first_conv,
                                                      "shape": list(w.shape),
                                                      "values": np.round(w, 5).ravel().tolist()})

    # ---- what fit() reports ----------------------------------------------------------------------
    def progress(self, p):
        self.step = p.step
        self.emit({"type": "progress", "step": p.step, "epoch": round(p.step / self.per_epoch, 4),
                   "loss": round(p.loss, 5), "accuracy": round(p.accuracy, 5), "lr": p.lr,
                   "images_per_s": round(p.images_per_s, 1), "elapsed": round(p.elapsed, 2)})
        self.write_status(step=p.step, epoch=p.epoch, elapsed=round(p.elapsed, 2), eta=round(p.eta, 1))
        self.write_filters()

    def evaluation(self, step, epoch, accuracy, confusion):
        per_class = (np.diag(confusion) / np.maximum(1, confusion.sum(1))).round(4).tolist()
        self.emit({"type": "evaluation", "step": step, "epoch": round(epoch, 4), "accuracy": round(accuracy, 5),
                   "confusion": confusion.tolist(), "per_class": per_class})

    def epoch_end(self, entry):
        self.emit({"type": "epoch", **entry})

    def snapshot(self, step, epoch):
        path = snapshot_path(self.folder, step)
        if not path.exists():
            self.net.save(path, {"name": self.net.name, "snapshot": {"step": step, "epoch": round(epoch, 4)},
                                 **self.base_card})
            self.emit({"type": "snapshot", "step": step, "epoch": round(epoch, 4)})

    def server_gone(self) -> bool:
        """Whether the server that started this job has exited (checked at most every 2 s): a job
        outliving its server would train on with no one to see it."""
        now = time.monotonic()
        if not self.server_pid or now - self.server_checked < 2.0:
            return False
        self.server_checked = now
        try:
            os.kill(self.server_pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def make_way(self) -> None:
        """While students use the server (it touches ``../.serving`` as they draw), rest after each
        step for as long as the step took: the job runs at half speed and the class keeps its CPU."""
        now = time.monotonic()
        step_time, self.last_step_end = now - self.last_step_end, now
        if now - self.serving_checked > 0.25:
            self.serving_checked = now
            try:
                self.serving = time.time() - self.serving_path.stat().st_mtime < 2.0
            except OSError:
                self.serving = False
        if self.serving:
            time.sleep(min(0.25, step_time))
            self.last_step_end = time.monotonic()

    def control(self):
        self.make_way()
        if self.stop_signal or self.server_gone():
            return "stop"
        try:
            seen = self.control_path.stat().st_mtime_ns
        except OSError:
            return self.wish
        if seen != self.control_seen:
            self.control_seen = seen
            wanted = read_json(self.control_path, {}) or {}
            self.wish = wanted.get("state", "run") if wanted.get("state") in ("run", "pause", "stop") else "run"
            asked = wanted.get("snapshot", 0)
            if isinstance(asked, int) and asked > self.snapshot_done:
                self.snapshot(self.step, self.step / self.per_epoch)
                self.snapshot_done = asked
                self.emit({"type": "snapshot_done", "request": asked, "step": self.step})
            if self.wish == "pause":
                self.write_status(state="paused")
            elif self.status["state"] == "paused":
                self.write_status(state="running")
        return self.wish

    def paused(self):
        time.sleep(0.1)
        return self.control()


def yield_to_serving(req: dict) -> str:
    """Serving first: the class's requests outrank training.  Linux's SCHED_IDLE runs this process
    only on CPU time nothing else wants (a niceness of 19 is not enough: 30 students' p95 went from
    20 to 140 ms beside a nice-10 job); elsewhere, the lowest niceness."""
    if req.get("priority", "idle") == "idle" and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "idle"
        except OSError:
            pass
    try:
        os.nice(19)
        return "nice 19"
    except OSError:
        return "normal"


def run(folder: Path) -> int:
    folder = Path(folder)
    req = read_json(folder / "request.json")
    if not isinstance(req, dict):
        write_json(folder / "status.json", {"state": "failed", "error": "the job has no readable request.json"})
        return 2
    yield_to_serving(req)
    watcher = None
    try:
        the_design = design.normalise(req["design"])
        spec = design.build(the_design)
        recipe = Recipe(**req["recipe"])
        data = datasets.get(req["dataset"])
        x_train, y_train = datasets.load(data.name, "train", req.get("data_dir"), req.get("limit", 0))
        x_test, y_test = datasets.load(data.name, "test", req.get("data_dir"))
        eval_images = int(req.get("eval_images") or len(x_test))
        x_eval, y_eval = x_test[:eval_images], y_test[:eval_images]
        net = Network.from_spec(spec, seed=recipe.seed, name=req.get("name") or folder.name)
        first_conv = next((la.name for la in net.layers if la.kind == "conv"), None)
        per_epoch = -(-len(x_train) // recipe.batch_size)
        # a warm-up longer than a tenth of a short run would never reach the chosen rate
        recipe.warmup = min(recipe.warmup, per_epoch * recipe.epochs // 10)
        watcher = JobWatcher(folder, net, first_conv, per_epoch * recipe.epochs)
        watcher.per_epoch = per_epoch
        watcher.server_pid = req.get("server_pid") if isinstance(req.get("server_pid"), int) else None
        watcher.report_every = max(1, min(10, per_epoch // 4))
        watcher.base_card = {"design": the_design, "training": recipe.to_json(), "classes": list(data.classes),
                             "preprocess": data.preprocess, "data": {"dataset": data.name}}
        signal.signal(signal.SIGTERM, lambda *_: setattr(watcher, "stop_signal", True))
        eval_every = int(req.get("eval_every") or max(1, per_epoch // 4))
        result = fit(net, x_train, y_train, x_eval, y_eval, recipe, watcher, eval_every=eval_every)
        accuracy, confusion = evaluate(net, x_test, y_test, net.layers[-1].out_shape[0])
        card = model_card(net, data, recipe, the_design, result, accuracy, confusion,
                          datasets.checksum(data.name, req.get("data_dir")), len(x_train), len(x_test))
        card["job"] = {"id": folder.name, "steps": result.steps, "stopped": result.stopped,
                       "train_seconds": round(result.train_seconds, 2)}
        net.save(folder / "model.npz", card)
        watcher.emit({"type": "final", "step": result.steps, "accuracy": round(accuracy, 5),
                      "confusion": confusion.tolist(), "train_seconds": round(result.train_seconds, 2),
                      "seconds": round(result.seconds, 2)})
        watcher.write_status(state="stopped" if result.stopped else "done", step=result.steps, eta=0,
                             elapsed=round(result.seconds, 2), test_accuracy=round(accuracy, 5))
        return 0
    except (design.DesignError, datasets.Unavailable, ValueError, KeyError, TypeError, OSError,
            MemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        (folder / "log.txt").open("a").write(traceback.format_exc())
        status = dict(watcher.status) if watcher else {}
        write_json(folder / "status.json", {**status, "state": "failed", "error": message})
        return 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
