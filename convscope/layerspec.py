"""The one description of a layer: what the network builds, the geometry measures, ``describe()``
reports and ``/api/model`` sends to the browser.

A model is stored as a list of plain dicts (JSON inside the ``.npz``); :func:`resolve` turns that list
into :class:`LayerSpec` objects once, walking the shapes so every window's padding is resolved and
every shape is known.  Keys of the stored dicts, by kind:

- ``input``: ``shape`` (C, H, W)
- ``conv``: ``out_channels``, ``kernel`` (kh, kw), ``stride`` (sh, sw), ``padding``
  ("valid" | "same" | P | (ph, pw) | (top, bottom, left, right)), ``dilation`` (dh, dw), optional
  ``connections``: (C_out, C_in) 0/1 table (None = every output map reads every input map)
  optional ``bias`` (default true; false: the layer has no bias, as ``Conv2d(bias=False)``)
- ``maxpool`` / ``avgpool`` / ``l2pool``: ``size`` (kh, kw), ``stride`` (default: the size), ``padding``;
  an avgpool's optional ``count_pad`` (default true: padding counts in the divisor, as ONNX's
  ``count_include_pad=1``; false: divide by the taps inside the image)
- ``global_avgpool`` / ``global_maxpool``: one window over the whole map, output (C, 1, 1)
- ``relu`` / ``leaky_relu`` (``alpha``) / ``elu`` (``alpha``, default 1) / ``sigmoid`` / ``tanh`` /
  ``lecun_tanh`` / ``softplus`` / ``dropout`` (the identity at inference)
- ``batchnorm`` (inference form: ``eps``; its parameters gamma, beta, mean and var are weights) and
  ``normalize`` (the input normalisation a model expects: ``steps``, a list of
  ``{"op": "sub"|"div"|"mul"|"add", "value": [one number per channel]}`` applied in order)
- ``flatten``; ``dense``: ``units``, optional ``bias``; ``softmax``

Adding a layer kind means one entry in ``KINDS`` (and ``REDUCE`` for a pool), a kernel with its
NumPy twin, a layer class in ``convnet/layers.py``, and nothing in the browser but its colour and words:
the browser reads ``op``, ``family``, ``window``, ``reduce`` and ``inputs``, never a list of kinds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from convscope.kernels.geometry import conv_output_size, pair, resolve_padding

# kind -> op: what the layer does, the word the browser and the geometry dispatch on.
KINDS = {
    "input": "input",
    "conv": "conv",
    "relu": "activation", "leaky_relu": "activation", "sigmoid": "activation", "tanh": "activation",
    "lecun_tanh": "activation", "softplus": "activation", "elu": "activation", "dropout": "activation",
    "batchnorm": "affine", "normalize": "affine",
    "maxpool": "pool", "avgpool": "pool", "l2pool": "pool", "global_avgpool": "pool", "global_maxpool": "pool",
    "flatten": "flatten",
    "dense": "dense",
    "softmax": "softmax",
}
REDUCE = {"maxpool": "max", "avgpool": "mean", "l2pool": "l2",   # how a pool combines its window
          "global_maxpool": "max", "global_avgpool": "mean"}
TAKES_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}   # activation kinds with a slope, and its default
AFFINE_OPS = ("sub", "div", "mul", "add")          # a normalize step's operations
LIMITS = {"side": (8, 256), "channels": 512, "units": 4096, "kernel": 11, "layers": 64,
          "activations": 4_000_000}   # values in one trace, every layer's output together (16 MB float32)
@dataclass(frozen=True)
class Window:
    """A sliding window, per axis (height, width); ``pad`` is (top, bottom, left, right)."""
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    dilation: tuple[int, int] = (1, 1)

    def to_json(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride), "pad": list(self.pad),
                "dilation": list(self.dilation)}


@dataclass(frozen=True)
class LayerSpec:
    """One layer with everything resolved.  Shapes: a map is (C, H, W), a vector (D,)."""
    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    inputs: tuple[str, ...] = ()
    window: Window | None = None                    # conv and pools
    connections: tuple[tuple[int, ...], ...] | None = None   # conv: (C_out, C_in) table, None = full
    alpha: float | None = None                      # leaky_relu's and elu's slope
    bias: bool = True                               # conv and dense: whether the layer adds a bias
    count_pad: bool = True                          # avgpool: padding counts in the divisor
    source: dict = field(default_factory=dict, compare=False, repr=False)   # the stored dict

    @property
    def op(self) -> str:
        return KINDS[self.kind]

    @property
    def family(self) -> str:
        """"map" when the output is (C, H, W), "vector" when it is (D,)."""
        return "map" if len(self.out_shape) == 3 else "vector"

    @property
    def reduce(self) -> str | None:
        return REDUCE.get(self.kind)

    def hyper(self) -> dict:
        """The layer's hyper-parameters as ``/api/model`` has always sent them."""
        if self.op == "conv":
            w = self.window
            return {"out_channels": self.out_shape[0], "kernel": list(w.kernel),
                    "stride": list(w.stride), "pad": list(w.pad), "dilation": list(w.dilation), "bias": self.bias}
        if self.op == "pool":
            w = self.window
            out = {"size": list(w.kernel), "stride": list(w.stride), "pad": list(w.pad)}
            if self.kind == "avgpool":
                out["count_pad"] = self.count_pad
            return out
        if self.kind in TAKES_ALPHA:
            return {"alpha": self.alpha}
        if self.op == "dense":
            return {"units": self.out_shape[0], "bias": self.bias}
        if self.kind == "batchnorm":
            return {"eps": float(self.source.get("eps", 1e-5))}
        return {}

    def vocabulary(self) -> dict:
        """What the browser reads instead of guessing from the kind."""
        out = {"op": self.op, "family": self.family,
               "window": self.window.to_json() if self.window else None, "inputs": list(self.inputs)}
        if self.reduce:
            out["reduce"] = self.reduce
        return out


def resolve(spec: list[dict]) -> list[LayerSpec]:
    """LayerSpecs for a stored spec list, shapes walked from its input layer.

    Raises ValueError naming the layer for an unknown kind, a duplicate name, a missing input
    layer, a window that does not fit its (padded) input, or a layer given the wrong shape."""
    if not spec or spec[0].get("kind") != "input":
        raise ValueError("a network spec must start with an 'input' layer")
    names = [layer.get("name") for layer in spec]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError("layer names must be unique non-empty strings")
    if len(spec) > LIMITS["layers"]:
        raise ValueError(f"a network may have at most {LIMITS['layers']} layers, not {len(spec)}")
    out, shape = [], _input_shape(spec[0])
    for index, layer in enumerate(spec):
        kind = layer.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{_label(layer, index)}: unknown kind {kind!r}; expected one of {sorted(KINDS)}")
        resolved = _resolve_one(layer, index, shape, out[-1].name if out else None)
        out.append(resolved)
        shape = resolved.out_shape
    total = sum(math.prod(ls.out_shape) for ls in out)
    if total > LIMITS["activations"]:
        raise ValueError(f"the network's layers hold {total:,} values for one image; ConvScope shows networks of "
                         f"up to {LIMITS['activations']:,} (every one is sent to the browser)")
    return out


def _resolve_one(layer: dict, index: int, shape: tuple, previous: str | None) -> LayerSpec:
    kind, op = layer["kind"], KINDS[layer["kind"]]
    common = {"name": layer["name"], "kind": kind, "in_shape": shape, "source": dict(layer),
              "inputs": (previous,) if previous else ()}
    if op in ("conv", "pool"):
        c, h, w = _expect_map(shape, layer, index)
        if kind.startswith("global_"):
            layer = {**layer, "size": [h, w], "stride": [1, 1], "padding": 0}
        window = _window(layer, op, (h, w))
        ho = conv_output_size(h, window.kernel[0], window.stride[0], window.pad[0] + window.pad[1], window.dilation[0])
        wo = conv_output_size(w, window.kernel[1], window.stride[1], window.pad[2] + window.pad[3], window.dilation[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"{_label(layer, index)}: a {window.kernel[0]}×{window.kernel[1]} window "
                             f"(dilation {window.dilation}) does not fit the padded {h}×{w} input: "
                             f"output {ho}×{wo}")
        connections, extra = None, {}
        if op == "conv":
            c = _count(layer, "out_channels", LIMITS["channels"], index)
            if max(window.kernel) > LIMITS["kernel"]:
                raise ValueError(f"{_label(layer, index)}: kernels may be at most {LIMITS['kernel']}×"
                                 f"{LIMITS['kernel']}, not {window.kernel[0]}×{window.kernel[1]}")
            connections = _connections(layer, c, shape[0], index)
            extra["bias"] = _bool(layer, "bias", index)
        elif kind == "avgpool":
            extra["count_pad"] = _bool(layer, "count_pad", index)
        return LayerSpec(**common, out_shape=(c, ho, wo), window=window, connections=connections, **extra)
    if op == "input":
        return LayerSpec(**common, out_shape=shape)
    if op == "flatten":
        return LayerSpec(**common, out_shape=(math.prod(shape),))
    if op == "dense":
        if len(shape) != 1:
            raise ValueError(f"{_label(layer, index)}: a dense layer needs a flat input (add a flatten layer)")
        return LayerSpec(**common, out_shape=(_count(layer, "units", LIMITS["units"], index),),
                         bias=_bool(layer, "bias", index))
    if kind == "normalize":
        _normalize_steps(layer, shape[0], index)
    alpha = float(layer.get("alpha", TAKES_ALPHA[kind])) if kind in TAKES_ALPHA else None
    return LayerSpec(**common, out_shape=shape, alpha=alpha)


def _input_shape(layer: dict) -> tuple[int, int, int]:
    shape = layer.get("shape")
    if not isinstance(shape, (list, tuple)) or len(shape) != 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
        raise ValueError(f"the input layer's shape must be [channels, height, width], not {shape!r}")
    if shape[0] > LIMITS["channels"]:
        raise ValueError(f"the input may have at most {LIMITS['channels']} channels, not {shape[0]}")
    return tuple(shape)


def check_image_input(shape) -> None:
    """The inputs ConvScope shows: 1 (gray) or 3 (RGB) channels, 8×8 to 256×256 pixels (ValueError
    otherwise).  Checked for every model it serves or imports; the engine itself reads any shape."""
    c, h, w = shape
    lo, hi = LIMITS["side"]
    if c not in (1, 3):
        raise ValueError(f"the input must have 1 (gray) or 3 (RGB) channels, not {c}")
    if not (lo <= h <= hi and lo <= w <= hi):
        raise ValueError(f"the input must be from {lo}×{lo} to {hi}×{hi} pixels, not {h}×{w}")


def _count(layer, key, limit, index) -> int:
    v = layer.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= limit:
        raise ValueError(f"{_label(layer, index)}: {key} must be a whole number from 1 to {limit}, not {v!r}")
    return v


def _bool(layer, key, index) -> bool:
    v = layer.get(key, True)
    if not isinstance(v, bool):
        raise ValueError(f"{_label(layer, index)}: {key} must be true or false, not {v!r}")
    return v


def _normalize_steps(layer, channels, index):
    steps = layer.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{_label(layer, index)}: a normalize layer needs a list of steps")
    for step in steps:
        if not isinstance(step, dict) or step.get("op") not in AFFINE_OPS:
            raise ValueError(f"{_label(layer, index)}: each step is {{\"op\": one of {list(AFFINE_OPS)}, \"value\": [...]}}")
        value = step.get("value")
        if (not isinstance(value, list) or len(value) != channels
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
            raise ValueError(f"{_label(layer, index)}: a step's value must be {channels} finite numbers (one per channel)")
        if step["op"] == "div" and any(v == 0 for v in value):
            raise ValueError(f"{_label(layer, index)}: a normalize step divides by zero")


def _window(layer: dict, op: str, hw: tuple[int, int]) -> Window:
    default_kernel = (5, 5) if op == "conv" else (2, 2)
    kernel = pair(layer.get("kernel", layer.get("size", default_kernel)), "kernel")
    stride = pair(layer.get("stride", (1, 1) if op == "conv" else kernel), "stride")
    dilation = pair(layer.get("dilation", (1, 1)), "dilation") if op == "conv" else (1, 1)
    padding = layer.get("padding", "valid" if op == "conv" else 0)
    pad = resolve_padding(padding, kernel, dilation, stride, input_size=hw)
    return Window(kernel, stride, pad, dilation)


def _connections(layer, c_out, c_in, index):
    table = layer.get("connections")
    if table is None:
        return None
    rows = tuple(tuple(int(bool(v)) for v in row) for row in table)
    if len(rows) != c_out or any(len(r) != c_in for r in rows):
        raise ValueError(f"{_label(layer, index)}: connection table must be {c_out}×{c_in}")
    return rows


def _expect_map(shape, layer, index):
    if len(shape) != 3:
        raise ValueError(f"{_label(layer, index)} needs a (C, H, W) input, got shape {shape}")
    return shape


def _label(layer, index):
    return f"layer {index} ({layer.get('name', layer.get('kind'))})"
