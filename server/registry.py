"""The model registry: weights loaded once per process, the JIT warmed, looked up by name.

``init_app`` reads ``MODEL_PATHS`` (the first is the default model; default: the shipped
models/lenet.npz and models/lenet5-classic.npz); each entry is a path to a ConvScope ``.npz`` or an
``.onnx`` file, optionally ``NAME=PATH`` (otherwise the model is named by its card or file stem).  It
loads each, and runs every kernel the server can call (each model's trace, every
kernel-lab path) once, so Numba compiles them, or loads them from its cache, before the server says
it is ready.  With gunicorn's preload this happens once, before the workers fork.  A new route that
calls new kernels adds its warm-up to ``Registry.warmups``.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
from flask import Flask, current_app

from convscope.layerspec import check_image_input

from .errors import ApiError

EXTENSION = "convscope"


class ModelLoadError(Exception):
    """A weights file is missing or unreadable (the CLI prints it as one line)."""


class Registry:
    def __init__(self, paths, samples_path=None, warm=True, warm_lab=True, progress=None, strict=True,
                 warm_more=True, warm_helper=True):
        """``strict``: any unreadable model is a ModelLoadError; otherwise unreadable ones are listed
        in ``skipped`` while at least one model loads (the first readable one is the default)."""
        self.models, self.skipped, self.sources = {}, [], {}
        for entry in paths or default_model_paths():
            name, path = split_entry(entry)
            try:
                net = load_model(path, name)
                if net.name in self.models:
                    raise ModelLoadError(f"two models are named {net.name!r} ({self.sources[net.name]} and {path}); "
                                         f"name one with --model NAME=PATH")
            except ModelLoadError as exc:
                if strict:
                    raise
                self.skipped.append(str(exc))
                continue
            self.models[net.name] = net
            self.sources[net.name] = str(path)
        if not self.models:
            raise ModelLoadError(self.skipped[0] if len(self.skipped) == 1
                                 else "no model could be read: " + "; ".join(self.skipped))
        self.default = next(iter(self.models))
        self.samples_path = samples_path
        self.uploaded, self.upload_lock = set(), threading.Lock()
        self._randomized = {}
        self._top, self._dataset, self._evaluation, self.top_lock = {}, {}, {}, threading.RLock()
        self.session = os.getpid()   # the upload folder of this server run (workers share the parent's)
        self.lab_lock = threading.Lock()   # lab kernels run in parallel: one lab call per process at a time
        self._model_json = {}
        self.lab_warm = False
        self.warm_more = warm_more
        self.warm_helper = warm_helper
        self.warm(trace=warm, lab=warm_lab, progress=progress)

    def warmups(self, trace=True, lab=True):
        """(label, call) for every kernel path the routes can reach."""
        steps = []
        if trace:
            steps += [(f"trace {name}", lambda net=net: net.trace(np.zeros(net.input_shape, np.float32)))
                      for name, net in self.models.items()]
            if self.warm_more:   # off only in tests of the cache itself, to keep their compiles short
                steps += [(f"explain {name}", lambda net=net: warm_explain(net)) for name, net in self.models.items()]
        if lab:
            steps.append(("kernel lab", self.warm_lab))
        if trace and self.warm_more:   # last: a cold start's helper process takes it first (see warm)
            steps.append(("every layer kind", warm_every_kind))
        return steps

    def warm(self, trace=True, lab=True, progress=None) -> float:
        """Run the warm-ups, reporting on one line through ``progress(text)`` if given; seconds taken.
        On a cold cache with a second core, a helper process (server/warm_helper.py) compiles the
        steps from the end of the list into the shared disk cache while this one compiles from the
        front; every step then runs here too, loading what the helper compiled."""
        say = progress or (lambda text: None)
        steps = self.warmups(trace, lab)
        t0 = time.perf_counter()
        notice = cache_notice() if steps else None
        if notice:
            say(notice)
        if steps:
            say("ConvScope: preparing the kernels (the first start after an install compiles them, "
                "under a minute; later starts load them in a second):")
        from convscope.kernels import _config
        helper = _WarmHelper.start(self, trace, lab) if (
            self.warm_helper and len(steps) > 1 and notice is None and _config.cache_is_cold()) else None
        share = _Share(len(steps))
        feeder = helper and threading.Thread(target=helper.feed, args=(share, steps, say), daemon=True)
        if feeder:
            feeder.start()
        ran = set()
        while (i := share.take_first()) is not None:
            say(f" {steps[i][0]}…")
            _run_guarding_the_cache(steps[i][1], say)
            ran.add(i)
        if feeder:
            helper.finish(feeder)
        for i, (label, call) in enumerate(steps):   # the helper's steps: loaded from the cache now
            if i not in ran:
                _run_guarding_the_cache(call, say)
        seconds = time.perf_counter() - t0
        if steps:
            say(f" done in {seconds:.1f} s\n")
        return seconds

    def warm_lab(self) -> None:
        """Every kernel-lab path once (lab.warm).  It starts Numba's parallel thread pool; with the
        default 'workqueue' layer that is fork-safe, so gunicorn's parent does it before forking
        (see ``fork_safe``); with another layer the workers do it after the fork."""
        from convscope.convnet import lab
        with self.lab_lock:
            lab.warm()
        self.lab_warm = True

    def get(self, name=None):
        if name is None:
            return self.models[self.default]
        if isinstance(name, str) and name not in self.models and current_app:
            if "@" in name:   # a training job's snapshot (server/training.py): served, not listed
                from .training import snapshot_model
                net = snapshot_model(name)
                if net is not None:
                    return net
            self.refresh_uploads()
        if not isinstance(name, str) or name not in self.models:
            known = ", ".join(sorted(self.models))
            raise ApiError(404, "unknown_model", f"There is no model {name!r}; available: {known}.")
        return self.models[name]

    # ---- uploaded models (POST /api/models) -------------------------------------------------------
    def add_upload(self, data: bytes, name: str):
        """Import an uploaded .onnx and serve it; ApiError (and the registry unchanged) otherwise.
        Kept as a ConvScope .npz in the upload folder, where every worker process finds it."""
        from convscope.convnet.onnx_import import ImportError_, load_onnx
        app = current_app
        name = "".join(ch if ch in NAME_CHARS else "-" for ch in name.strip())[:64].strip("-.") or "upload"
        with self.upload_lock:
            self.refresh_uploads()
            if name in self.models:
                raise ApiError(409, "name_taken", f"There is already a model named {name!r}; upload it "
                               "under another name.")
            if len(self.uploaded) >= app.config["MAX_UPLOADS"]:
                raise ApiError(409, "too_many_models", f"This server keeps at most {app.config['MAX_UPLOADS']} "
                               "uploaded models; restart it to clear them.")
            try:
                net = load_onnx(data, name)
            except ImportError_ as exc:
                raise ApiError(400, "bad_model", f"The model cannot be imported: {exc}") from None
            folder = self.upload_dir()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                net.save(folder / f"{name}.npz")
            except OSError as exc:
                raise ApiError(507, "cannot_store", f"The model could not be stored ({exc.strerror or exc}).") from None
            self._adopt(net, folder / f"{name}.npz")
        return net

    def upload_dir(self) -> Path:
        folder = current_app.config.get("UPLOAD_DIR")
        if folder:
            return Path(folder)
        import platformdirs
        return Path(platformdirs.user_cache_dir("convscope")) / "uploads" / str(self.session)

    def refresh_uploads(self) -> None:
        """Serve the models another worker process stored since (gunicorn: one folder, many workers)."""
        if not (current_app.config.get("ALLOW_UPLOAD") or current_app.config.get("ALLOW_TRAINING")):
            return
        folder = self.upload_dir()
        if not folder.is_dir():
            return
        from convscope.convnet.network import Network
        for path in sorted(folder.glob("*.npz")):
            if path.stem not in self.models:
                try:
                    self._adopt(Network.load(path), path)
                except (OSError, ValueError):   # being written by another worker: seen next time
                    continue

    def _adopt(self, net, path) -> None:
        self.models[net.name] = net
        self.sources[net.name] = str(path)
        self.uploaded.add(net.name)
        self._model_json.pop("__all__", None)

    def top(self, net, layer: str):
        """(values, image indices, dataset) of every unit of ``layer``'s top test images, computed
        once per (model, layer); None when no dataset fits the model."""
        from convscope.convnet import explain
        key = (net.name, layer)
        with self.top_lock:
            if key not in self._top:
                data = self._dataset.get(net.name)
                if data is None:
                    data = self._dataset[net.name] = explain.dataset_for(net, self.samples()) or False
                if data is False:
                    return None
                values, indices = explain.top_activations(net, layer, data[0])
                self._top[key] = (values, indices, data)
            return self._top[key]

    def dataset(self, net):
        """The test images that fit ``net`` (convnet/explain.dataset_for), or None; loaded once."""
        from convscope.convnet import explain
        with self.top_lock:
            if self._dataset.get(net.name) is None:
                self._dataset[net.name] = explain.dataset_for(net, self.samples()) or False
            return self._dataset[net.name] or None

    def evaluation(self, net):
        """(predicted, probabilities, dataset) of the model on its test images, computed once."""
        from convscope.convnet import explain
        data = self.dataset(net)
        if data is None:
            return None
        with self.top_lock:
            if net.name not in self._evaluation:
                predicted, probs = explain.evaluate(net, data[0])
                self._evaluation[net.name] = (predicted, probs, data)
            return self._evaluation[net.name]

    def randomized(self, net, k: int):
        """``net`` with its top k weight layers re-drawn (convnet/explain.randomized), kept for reuse:
        a class stepping through k = 0, 1, 2, … asks for each many times."""
        from convscope.convnet.explain import randomized
        key = (net.name, k)
        with self.upload_lock:
            if key not in self._randomized:
                if len(self._randomized) >= 32:
                    self._randomized.pop(next(iter(self._randomized)))
                self._randomized[key] = randomized(net, k)
            return self._randomized[key]

    def models_json(self, build) -> bytes:
        """The (static) /api/models body, serialised once."""
        if "__all__" not in self._model_json:
            self._model_json["__all__"] = build()
        return self._model_json["__all__"]

    def model_json(self, name, build) -> bytes:
        """The (static) /api/model body of a model, serialised once."""
        net = self.get(name)
        if net.name not in self._model_json:
            self._model_json[net.name] = build(net)
        return self._model_json[net.name]

    def samples(self, net=None):
        """The gallery's images: the shipped MNIST digits, or Fashion-MNIST's for a model trained on it."""
        from convscope.convnet.samples import load_samples
        path = self.samples_path
        if net is not None and ((net.card or {}).get("data") or {}).get("dataset") == "fashion":
            from convscope.resources import data_path
            path = data_path("models", "fashion_samples.npz")
        try:
            return load_samples(path)
        except OSError:
            raise ApiError(404, "no_samples", "The MNIST sample file is not installed.") from None


class _Share:
    """Warm-up step indices handed out from both ends: this process takes the first left, the
    helper the last left, so the two compile different kernels for as long as possible."""

    def __init__(self, n):
        self.lo, self.hi, self.lock = 0, n, threading.Lock()

    def take_first(self):
        with self.lock:
            if self.lo >= self.hi:
                return None
            self.lo += 1
            return self.lo - 1

    def take_last(self):
        with self.lock:
            if self.lo >= self.hi:
                return None
            self.hi -= 1
            return self.hi


class _WarmHelper:
    """The helper process of a cold start (see server/warm_helper.py); None where it cannot help."""
    TIMEOUT = 300   # seconds a helper may take over its last step before it is stopped

    def __init__(self, proc):
        self.proc = proc

    @classmethod
    def start(cls, registry, trace, lab):
        import json
        import subprocess
        import sys
        from .serving import usable_cpus
        if usable_cpus() < 2 or not os.path.basename(sys.executable).startswith("python"):
            return None
        config = {"paths": [f"{name}={path}" for name, path in registry.sources.items()],
                  "trace": trace, "lab": lab, "warm_more": registry.warm_more}
        try:
            proc = subprocess.Popen([sys.executable, "-m", "convscope.server.warm_helper", json.dumps(config)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
        except OSError:
            return None
        return cls(proc)

    def feed(self, share, steps, say):
        """Hand the helper steps from the end until none are left (or it fails)."""
        try:
            while (i := share.take_last()) is not None:
                say(f" {steps[i][0]}…")
                self.proc.stdin.write(f"{i}\n")
                self.proc.stdin.flush()
                if self.proc.stdout.readline().strip() != "ok":
                    break
        except (OSError, ValueError):
            pass

    def finish(self, feeder):
        feeder.join(self.TIMEOUT)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001  (a stuck helper: stop it; its steps run here)
            self.proc.kill()
            self.proc.wait()
        feeder.join(10)
        self.proc.stdout.close()


def warm_every_kind() -> None:
    """Trace a tiny gray and a tiny RGB network holding every layer kind, so a model imported or
    uploaded later compiles nothing in a request (Numba compiles per type, not per shape)."""
    from convscope.convnet.network import Network
    for channels in (1, 3):
        spec = [{"name": "input", "kind": "input", "shape": [channels, 12, 12]},
                {"name": "n", "kind": "normalize", "steps": [{"op": op, "value": [1.0] * channels}
                                                             for op in ("sub", "div", "mul", "add")]},
                {"name": "c", "kind": "conv", "out_channels": 2, "kernel": [3, 3], "bias": False},
                {"name": "bn", "kind": "batchnorm"}]
        spec += [{"name": k, "kind": k} for k in ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "lecun_tanh",
                                                 "softplus", "dropout")]
        spec += [{"name": "p1", "kind": "maxpool", "size": [2, 2], "stride": [1, 1], "padding": 1},
                 {"name": "p2", "kind": "avgpool", "size": [2, 2], "stride": [1, 1], "padding": 1, "count_pad": False},
                 {"name": "p3", "kind": "avgpool", "size": [2, 2], "stride": [1, 1]},
                 {"name": "p4", "kind": "l2pool", "size": [2, 2], "stride": [1, 1]},
                 {"name": "c2", "kind": "conv", "out_channels": 2, "kernel": [3, 3]},
                 {"name": "r2", "kind": "relu"}, {"name": "p5", "kind": "maxpool", "size": [2, 2]},
                 # many channels: the matrix-product conv (kernels/conv_gemm.py), alone and fused
                 {"name": "w1", "kind": "conv", "out_channels": 32, "kernel": [3, 3], "padding": 1},
                 {"name": "w2", "kind": "conv", "out_channels": 32, "kernel": [3, 3], "padding": 1},
                 {"name": "w3", "kind": "relu"}, {"name": "w4", "kind": "maxpool", "size": [2, 2], "stride": [1, 1]},
                 {"name": "w5", "kind": "conv", "out_channels": 32, "kernel": [3, 3], "padding": 1},
                 {"name": "g1", "kind": "global_maxpool"}, {"name": "g2", "kind": "global_avgpool"},
                 {"name": "f", "kind": "flatten"}, {"name": "d", "kind": "dense", "units": 3, "bias": False},
                 {"name": "d2", "kind": "dense", "units": 3}, {"name": "r3", "kind": "relu"},
                 {"name": "d3", "kind": "dense", "units": 2}, {"name": "s", "kind": "softmax"}]
        net = Network.from_spec(spec)
        net.trace(np.zeros((channels, 12, 12), np.float32))
        warm_explain(net)   # no batch kernels: every route runs the single-image ones


def warm_explain(net) -> None:
    """Every /api/explain method once: the reverse pass runs each layer's batch backward kernels."""
    from convscope.convnet import explain
    x = np.zeros(net.input_shape, np.float32)
    for method in explain.METHODS:
        explain.explain(net, x, method, patch=min(4, *net.input_shape[1:]), stride=4)
    maps = [la.name for la in net.layers[1:] if len(la.out_shape) == 3]
    explain.synthesize(net, maps[0] if maps else net.layers[-1].name, (0, 0, 0), steps=2)


def default_model_path() -> Path:
    from convscope import convnet  # late: kernels/_config must set NUMBA_CACHE_DIR before numba loads
    return convnet.default_model_path()


def default_model_paths() -> list[Path]:
    """The shipped models: Harley's LeNet (the default), the 1998 LeNet-5 beside it, and the LeNet
    layout trained on Fashion-MNIST."""
    first = default_model_path()
    return [first, first.with_name("lenet5-classic.npz"), first.with_name("lenet-fashion.npz")]


NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def split_entry(entry) -> tuple[str | None, Path]:
    """``NAME=PATH`` → (NAME, PATH); a plain path → (None, path).  A name is letters, digits, - _ .
    (it travels in URLs); a path that merely contains '=' stays a path when it exists as given."""
    text = str(entry)
    name, eq, rest = text.partition("=")
    if eq and not Path(text).exists():
        if not name or not set(name) <= NAME_CHARS or len(name) > 64:
            raise ModelLoadError(f"--model {text}: a model name is 1–64 letters, digits, '-', '_' or '.'")
        return name, Path(rest)
    return None, Path(text)


def load_model(path: Path, name: str | None = None):
    """A Network from a ConvScope ``.npz`` or an ``.onnx`` file, or ModelLoadError saying in one
    line what is wrong with it."""
    from convscope import convnet
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    try:
        if path.suffix.lower() == ".onnx":
            from convscope.convnet.onnx_import import load_onnx
            return load_onnx(path, name)
        net = convnet.Network.load(path)
        check_image_input(net.input_shape)
    except (OSError, ValueError, KeyError, TypeError) as exc:   # TypeError: a spec value of the wrong type
        raise ModelLoadError(f"cannot read model {path}: {exc}") from None
    if name:
        net.name = name
    return net


def _run_guarding_the_cache(call, say) -> None:
    """``call()``; if Numba's disk cache is unreadable (corrupt, truncated, half-written), clear it
    and run again (the kernels compile and are cached afresh), or, if it cannot be cleared, run
    without the disk cache.  Each case is said on the progress line."""
    from convscope.kernels import _config
    try:
        call()
        return
    except Exception as exc:  # noqa: BLE001  (re-raised below unless it came from the cache)
        if not _config.raised_by_the_cache(exc):
            raise
        reason = f"{type(exc).__name__}: {exc}"
    try:
        n = _config.clear_cache()
        say(f" [the Numba cache was unreadable ({reason}); cleared {n} files, compiling afresh]")
    except OSError as exc:
        _config.disable_cache()
        say(f" [the Numba cache is unreadable ({reason}) and cannot be cleared ({exc.strerror}); "
            f"compiling in memory]")
    call()


def cache_notice() -> str | None:
    """One line if the kernels cannot be cached on disk (they then compile at every start)."""
    from convscope.kernels import _config
    problem = _config.cache_problem()
    if problem is None:
        return None
    return (f"ConvScope: cannot write the Numba cache in {_config.CACHE_DIR} ({problem}): the kernels "
            f"compile in memory at every start (set NUMBA_CACHE_DIR to a writable folder to keep them).\n")


def fork_safe() -> bool:
    """Whether Numba's threading layer survives a fork after a parallel call (workqueue and tbb
    do; GNU OpenMP does not).  convscope.kernels chooses workqueue unless the user set another."""
    return os.environ.get("NUMBA_THREADING_LAYER", "workqueue") in ("workqueue", "tbb")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Registry(app.config["MODEL_PATHS"], app.config.get("SAMPLES_PATH"),
                                         warm=app.config["WARM_JIT"], warm_lab=app.config["WARM_LAB"],
                                         progress=app.config.get("WARM_PROGRESS"),
                                         strict=app.config.get("MODEL_STRICT", True),
                                         warm_more=app.config.get("WARM_MORE", True),
                                         warm_helper=app.config.get("WARM_HELPER", True))


def registry() -> Registry:
    return current_app.extensions[EXTENSION]
