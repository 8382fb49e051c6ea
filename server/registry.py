"""The model registry: weights loaded once per process, the JIT warmed, looked up by name.

``init_app`` reads ``MODEL_PATHS`` (the first is the default model; default: the repo's
models/lenet.npz), loads each, and traces a blank image so Numba compiles (or loads its cache)
before the first request.  With gunicorn's preload this happens once, before the workers fork.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from flask import Flask, current_app

from .errors import ApiError

EXTENSION = "convscope"


class ModelLoadError(Exception):
    """A weights file is missing or unreadable (the CLI prints it as one line)."""


class Registry:
    def __init__(self, paths, samples_path=None, warm=True, warm_lab=True):
        from convscope import convnet  # late: kernels/_config must set NUMBA_CACHE_DIR before numba loads
        self.models = {}
        for path in paths or [convnet.default_model_path()]:
            path = Path(path)
            if not path.is_file():
                raise ModelLoadError(f"model file not found: {path}")
            try:
                net = convnet.Network.load(path)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelLoadError(f"cannot read model {path}: {exc}") from None
            self.models.setdefault(net.name, net)
        self.default = next(iter(self.models))
        self.samples_path = samples_path
        self.lab_lock = threading.Lock()   # lab kernels run in parallel: one lab call per process at a time
        self._model_json = {}
        if warm:
            self.warm()
        if warm_lab:
            self.warm_lab()

    def warm(self) -> None:
        """Trace a blank image with every model: compiles (or loads) the serial kernels."""
        for net in self.models.values():
            net.trace(np.zeros(net.input_shape, np.float32))

    def warm_lab(self) -> None:
        """One small lab call.  It starts Numba's parallel thread pool, which must not happen in a
        process that later forks (GNU OpenMP is not fork-safe): gunicorn workers call this after fork."""
        from convscope.convnet import lab
        lab.convolve(np.zeros((1, 8, 8), np.float32), np.ones((3, 3), np.float32),
                     activation="relu", pool={"kind": "max", "size": (2, 2), "stride": (2, 2)})

    def get(self, name=None):
        if name is None:
            return self.models[self.default]
        if not isinstance(name, str) or name not in self.models:
            known = ", ".join(sorted(self.models))
            raise ApiError(404, "unknown_model", f"There is no model {name!r}; available: {known}.")
        return self.models[name]

    def model_json(self, name, build) -> bytes:
        """The (static) /api/model body of a model, serialised once."""
        net = self.get(name)
        if net.name not in self._model_json:
            self._model_json[net.name] = build(net)
        return self._model_json[net.name]

    def samples(self):
        from convscope.convnet.samples import load_samples
        try:
            return load_samples(self.samples_path)
        except OSError:
            raise ApiError(404, "no_samples", "The MNIST sample file is not installed.") from None


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Registry(app.config["MODEL_PATHS"], app.config.get("SAMPLES_PATH"),
                                         warm=app.config["WARM_JIT"], warm_lab=app.config["WARM_LAB"])


def registry() -> Registry:
    return current_app.extensions[EXTENSION]
