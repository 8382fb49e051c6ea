"""The one description of a layer: what the network builds, the geometry measures, ``describe()``
reports and ``/api/model`` sends to the browser.

A model is stored as a list of plain dicts (JSON inside the ``.npz``); :func:`resolve` turns that list
into :class:`LayerSpec` objects once, walking the shapes so every window's padding is resolved and
every shape is known.  Keys of the stored dicts, by kind:

- ``input``: ``shape`` (C, H, W)
- ``conv``: ``out_channels``, ``kernel`` (kh, kw), ``stride`` (sh, sw), ``padding``
  ("valid" | "same" | P | (ph, pw) | (top, bottom, left, right)), ``dilation`` (dh, dw), optional
  ``connections``: (C_out, C_in) 0/1 table (None = every output map reads every input map)
- ``maxpool`` / ``avgpool`` / ``l2pool``: ``size`` (kh, kw), ``stride`` (default: the size), ``padding``
- ``relu`` / ``leaky_relu`` (``alpha``) / ``sigmoid`` / ``tanh`` / ``lecun_tanh`` / ``softplus``
- ``flatten``; ``dense``: ``units``; ``softmax``

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
    "lecun_tanh": "activation", "softplus": "activation",
    "maxpool": "pool", "avgpool": "pool", "l2pool": "pool",
    "flatten": "flatten",
    "dense": "dense",
    "softmax": "softmax",
}
REDUCE = {"maxpool": "max", "avgpool": "mean", "l2pool": "l2"}   # how a pool combines its window
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
    alpha: float | None = None                      # leaky_relu's slope
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
                    "stride": list(w.stride), "pad": list(w.pad), "dilation": list(w.dilation)}
        if self.op == "pool":
            w = self.window
            return {"size": list(w.kernel), "stride": list(w.stride), "pad": list(w.pad)}
        if self.kind == "leaky_relu":
            return {"alpha": self.alpha}
        if self.op == "dense":
            return {"units": self.out_shape[0]}
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
    out, shape = [], tuple(int(s) for s in spec[0]["shape"])
    for index, layer in enumerate(spec):
        kind = layer.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{_label(layer, index)}: unknown kind {kind!r}; expected one of {sorted(KINDS)}")
        resolved = _resolve_one(layer, index, shape, out[-1].name if out else None)
        out.append(resolved)
        shape = resolved.out_shape
    return out


def _resolve_one(layer: dict, index: int, shape: tuple, previous: str | None) -> LayerSpec:
    kind, op = layer["kind"], KINDS[layer["kind"]]
    common = {"name": layer["name"], "kind": kind, "in_shape": shape, "source": dict(layer),
              "inputs": (previous,) if previous else ()}
    if op in ("conv", "pool"):
        c, h, w = _expect_map(shape, layer, index)
        window = _window(layer, op, (h, w))
        ho = conv_output_size(h, window.kernel[0], window.stride[0], window.pad[0] + window.pad[1], window.dilation[0])
        wo = conv_output_size(w, window.kernel[1], window.stride[1], window.pad[2] + window.pad[3], window.dilation[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"{_label(layer, index)}: a {window.kernel[0]}×{window.kernel[1]} window "
                             f"(dilation {window.dilation}) does not fit the padded {h}×{w} input: "
                             f"output {ho}×{wo}")
        connections = None
        if op == "conv":
            c = int(layer["out_channels"])
            connections = _connections(layer, c, shape[0], index)
        return LayerSpec(**common, out_shape=(c, ho, wo), window=window, connections=connections)
    if op == "input":
        return LayerSpec(**common, out_shape=shape)
    if op == "flatten":
        return LayerSpec(**common, out_shape=(math.prod(shape),))
    if op == "dense":
        if len(shape) != 1:
            raise ValueError(f"{_label(layer, index)}: a dense layer needs a flat input (add a flatten layer)")
        return LayerSpec(**common, out_shape=(int(layer["units"]),))
    alpha = float(layer.get("alpha", 0.01)) if kind == "leaky_relu" else None
    return LayerSpec(**common, out_shape=shape, alpha=alpha)


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
