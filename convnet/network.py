"""The network: an ordered list of layers, its forward trace, batch prediction, gradients and files.

Shapes: one image is the model's input shape (C, H, W) float32 in [0, 1] (LeNet: (1, 32, 32),
white ink on black, as MNIST); a batch is (N, C, H, W).  Weight files are ``.npz`` holding ``<layer>.<param>`` arrays plus the spec and the
model card as JSON strings, so a single file is the whole model; a readable ``.card.json`` sits beside.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convscope import kernels as K
from convscope.kernels import geometry
from convscope.layerspec import LayerSpec, resolve
from convscope.resources import data_path

from . import layers as L

MODELS_DIR = data_path("models")


def default_model_path() -> Path:
    return MODELS_DIR / "lenet.npz"


@dataclass(slots=True)
class Activation:
    """One layer's output in a trace.  ``winners`` only for max-pool: flat input index per output."""
    name: str
    kind: str
    data: np.ndarray
    winners: np.ndarray | None = None


@dataclass
class Trace:
    activations: list[Activation]
    probabilities: np.ndarray
    logits: np.ndarray
    label: int = field(init=False)

    def __post_init__(self):
        self.label = int(np.argmax(self.probabilities))

    def __getitem__(self, name: str) -> Activation:
        for act in self.activations:
            if act.name == name:
                return act
        raise KeyError(name)


class Network:
    def __init__(self, spec: list[dict], name: str = "model", card: dict | None = None):
        self.specs: list[LayerSpec] = resolve(spec)
        self.spec = [dict(layer) for layer in spec]
        self.name = name
        self.card = dict(card or {})
        self.layers: list[L.Layer] = [L.build(ls) for ls in self.specs]
        self.input_shape = self.layers[0].out_shape
        self._by_name = {layer.name: layer for layer in self.layers}
        # The loss is computed on the logits: a final softmax is folded into the cross-entropy.
        self._train_layers = [la for la in self.layers[1:] if la.kind != "softmax"]
        self._trace_plan = None
        self._fusions = None

    # ---- construction and files -------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec, seed: int = 0, name: str = "model") -> "Network":
        net = cls(spec, name=name)
        rng = np.random.default_rng(seed)
        for layer in net.layers:
            if hasattr(layer, "init"):
                layer.init(rng)
        return net

    @classmethod
    def load(cls, path) -> "Network":
        """The model in a ConvScope ``.npz``.  OSError if it cannot be opened; ValueError, saying
        what is wrong in a user's words, for any file that is not a whole, consistent model."""
        path = Path(path)
        if path.stat().st_size == 0:
            raise ValueError("not a ConvScope model: the file is empty")
        with open(path, "rb") as fh:   # ours to close: np.load leaks its own handle on a bad zip
            try:
                archive = np.load(fh, allow_pickle=False)
            except (zipfile.BadZipFile, EOFError):
                raise ValueError("not a ConvScope model: the .npz archive is truncated or damaged") from None
            except ValueError:   # numpy's words for a file that is neither .npy nor .npz
                raise ValueError("not a ConvScope model: not a NumPy .npz archive") from None
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not a ConvScope model: a single .npy array, not an .npz archive")
            with archive as f:
                try:
                    return cls._from_archive(f, path)
                except (zipfile.BadZipFile, EOFError, zlib.error):
                    raise ValueError("not a ConvScope model: the .npz archive is truncated or damaged") from None

    @classmethod
    def _from_archive(cls, f, path: Path) -> "Network":
        if "__spec__" not in f.files:
            raise ValueError("not a ConvScope model: the archive has no __spec__ (its list of layers)")
        try:
            spec = json.loads(str(f["__spec__"]))
            card = json.loads(str(f["__card__"])) if "__card__" in f.files else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"its layer list or card is not valid JSON ({exc})") from None
        if not isinstance(spec, list) or not all(isinstance(layer, dict) for layer in spec):
            raise ValueError("its __spec__ must be a JSON list of layer objects")
        card = card if isinstance(card, dict) else {}
        name = card.get("name")
        net = cls(spec, name=name if isinstance(name, str) and name else path.stem, card=card)
        for layer in net.layers:
            for key, value in layer.params.items():
                if f"{layer.name}.{key}" not in f.files:
                    raise ValueError(f"it has no {key} for layer {layer.name}")
                arr = f[f"{layer.name}.{key}"]
                if arr.shape != value.shape:
                    raise ValueError(f"{layer.name}.{key} has shape {arr.shape}, the spec needs {value.shape}")
                layer.params[key] = np.ascontiguousarray(arr, dtype=np.float32)
        return net

    def save(self, path, card: dict | None = None) -> None:
        """Write the weights (and the card, inside and beside) atomically: temp file, then rename."""
        path = Path(path)
        if card is not None:
            self.card = dict(card)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, self.write_archive)
        card_path = path.with_name(path.stem + ".card.json")
        text = json.dumps(self.card, indent=2, sort_keys=False) + "\n"
        _atomic_write(card_path, lambda f: f.write(text.encode()))

    def write_archive(self, f) -> None:
        """The .npz (weights, ``__spec__`` and ``__card__``) into the binary file ``f``."""
        arrays = {f"{la.name}.{k}": v for la in self.layers for k, v in la.params.items()}
        arrays["__spec__"] = np.array(json.dumps(self.spec))
        arrays["__card__"] = np.array(json.dumps(self.card))
        np.savez_compressed(f, **arrays)

    # ---- inference ----------------------------------------------------------------------------
    def trace(self, x: np.ndarray) -> Trace:
        """Every intermediate activation for one image x (C, H, W), in layer order (input first)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != self.input_shape:
            raise ValueError(f"input must have shape {self.input_shape}, got {x.shape}")
        acts = [Activation(self.layers[0].name, "input", x)]
        logits = x
        # A flat loop over precomputed steps; a step may be a fused chain of layers (one kernel
        # call returning every layer's output): per-call overhead matters in a ~50 µs trace.
        for names, kinds, fn, args, n_out in self._plan():
            outs = fn(x, *args)
            if n_out == 1:
                x = outs
                acts.append(Activation(names[0], kinds[0], x))
            elif n_out == 2 and len(names) == 1:   # a max pool alone: (y, winners)
                x = outs[0]
                acts.append(Activation(names[0], kinds[0], x, outs[1]))
            else:
                for name, kind, y in zip(names, kinds, outs):
                    if kind == "maxpool":
                        acts.append(Activation(name, kind, y, outs[-1]))
                        break
                    acts.append(Activation(name, kind, y))
                x = acts[-1].data
            if kinds[-1] == "softmax":
                logits = acts[-2].data
        if self.layers[-1].kind != "softmax":
            logits = x
            x = K.softmax(x)
        return Trace(acts, probabilities=x, logits=logits)

    def _plan(self):
        # Built on the first trace, after Network.load has put the parameters in place.  It holds
        # what the weights determine (a GEMM conv's matrix, a direct conv's tap tables), so
        # loss_and_grads, after which an optimiser changes the weights in place, drops it.
        if self._trace_plan is None:
            self._trace_plan = L.trace_plan(self.layers[1:])
        return self._trace_plan

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, classes) for a batch x (N, C, H, W)."""
        out = []
        for start in range(0, len(x), batch_size):
            out.append(K.softmax_batch(self.logits_batch(x[start:start + batch_size])))
        return np.concatenate(out) if out else np.zeros((0, self.layers[-1].out_shape[0]), np.float32)

    def logits_batch(self, x: np.ndarray) -> np.ndarray:
        # each conv -> relu -> maxpool chain as one kernel, as in training: the same numbers, and
        # the full-size conv and ReLU maps of a 1,000-image chunk (19 MB for LeNet's conv1) are
        # never written, only one image's at a time, in cache
        return self._forward_batch(x)[0]

    def _forward_batch(self, x: np.ndarray):
        """(output, per-layer caches) of the layers' batch passes, each conv -> relu -> maxpool
        chain (see _train_fusions) as one kernel whose cache sits at the chain's first index."""
        chains, _ = self._train_fusions()
        layers = self._train_layers
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape:   # the kernels trust their shapes: check them here
            raise ValueError(f"a batch must have shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        caches = [None] * len(layers)
        i = 0
        while i < len(layers):
            if i in chains:
                x, caches[i] = layers[i].forward_relu_pool_batch(x, layers[i + 2])
                i += 3
            else:
                x, caches[i] = layers[i].forward_batch(x)
                i += 1
        return x, caches

    # ---- training -----------------------------------------------------------------------------
    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray):
        """Mean cross-entropy, gradients {layer: {param: array}}, and the batch's logits.

        Runs the layers' batch passes with two exact shortcuts (see _train_fusions): each
        conv -> relu -> maxpool chain runs as one kernel per direction (the same numbers, without
        the full-size conv and ReLU outputs), and the backward pass stops at the first layer with
        parameters, which computes no input gradient."""
        self._trace_plan = None   # the step that follows changes the weights the plan was built from
        chains, first = self._train_fusions()
        layers = self._train_layers
        x, caches = self._forward_batch(x)
        loss, dy = K.cross_entropy(x, labels.astype(np.int64))
        grads = {}
        i = len(layers) - 1
        while i >= first:
            if i - 2 in chains:
                layer = layers[i - 2]
                dy, g = layer.backward_relu_pool_batch(caches[i - 2], np.ascontiguousarray(dy),
                                                       need_dx=i - 2 > first)
                i -= 3
            else:
                layer = layers[i]
                if layer.kind == "conv":
                    dy, g = layer.backward_batch(caches[i], np.ascontiguousarray(dy),
                                                 need_dx=i > first)
                else:
                    dy, g = layer.backward_batch(caches[i], np.ascontiguousarray(dy))
                i -= 1
            if g:
                grads[layer.name] = g
        return float(loss), grads, x

    def _train_fusions(self):
        """(indices in _train_layers that start a conv -> relu -> maxpool chain, index of the first
        layer with parameters), built once. A chain starts after the end of the previous one."""
        if self._fusions is None:
            kinds = [la.kind for la in self._train_layers]
            chains = {i for i, n in L.chains(kinds, L.TRAIN_FUSIONS) if n > 1}
            first = next((i for i, la in enumerate(self._train_layers) if la.params), len(kinds))
            self._fusions = (chains, first)
        return self._fusions

    def parameters(self) -> dict[str, dict[str, np.ndarray]]:
        return {la.name: la.params for la in self.layers if la.params}

    # ---- description --------------------------------------------------------------------------
    def layer(self, name: str) -> L.Layer:
        return self._by_name[name]

    def layer_weights(self, name: str) -> dict[str, np.ndarray]:
        """{"weight", "bias"} of a layer (KeyError for an unknown name; empty dict if none)."""
        return dict(self._by_name[name].params)

    def describe(self) -> list[dict]:
        """Per layer, from its LayerSpec: name, kind, the vocabulary (op, family, window, reduce,
        inputs), hyper, shapes, parameter count, receptive field and a conv's connection table."""
        out = []
        for ls, rf in zip(self.specs, geometry.receptive_fields(self.specs)):
            entry = {"name": ls.name, "kind": ls.kind, **ls.vocabulary(), "hyper": ls.hyper(),
                     "input_shape": list(ls.in_shape), "output_shape": list(ls.out_shape),
                     "params": geometry.param_count(ls),
                     "receptive_field": {k: [int(v) for v in rf[k]] for k in ("size", "jump", "offset")}}
            if ls.op == "conv":
                entry["connections"] = self._by_name[ls.name].mask.astype(int).tolist()
            if ls.op == "affine":   # the per-channel constants, for the arithmetic panel
                entry["steps"] = [{"op": op, "label": label, "values": values}
                                  for op, label, values in self._by_name[ls.name].steps()]
            out.append(entry)
        return out


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is meant to be shared
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
