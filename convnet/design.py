"""A network *design*: the few choices the training page offers, turned into a layer list.

One description serves the page (``POST /api/train``), ``convscope train --design`` and the model
card, so both build the same network from the same words.  A design is a JSON object:

    {"blocks": [{"filters": 6, "kernel": 5, "stride": 1, "padding": "valid",
                 "activation": "relu", "pool": "max", "pool_size": 2, "connections": "full"}, ...],
     "dense": [120, 100], "dense_activation": "relu", "classes": 10, "input": [1, 32, 32]}

``preset`` names one of :data:`PRESETS`; its fields are the defaults the others override.  Each
block is conv → activation → pool (``pool`` "none" leaves the pool out); then flatten, the hidden
dense layers each with ``dense_activation``, the output layer and a softmax.  ``connections``
"lenet5" uses LeNet-5's partial C3 table (only for 16 filters reading 6 maps).

:func:`build` checks everything before a weight exists and says what is impossible in a user's
words (:class:`DesignError`): a kernel larger than the map it slides over, a pool on a 1×1 map, too
many parameters.  :func:`summary` is what the page shows for every change.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from convscope.kernels.geometry import conv_output_size, param_count, receptive_fields, resolve_padding
from convscope.layerspec import resolve

from .spec import LENET5_C3_TABLE

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "lecun_tanh", "sigmoid", "softplus")
POOLS = {"max": "maxpool", "avg": "avgpool", "none": None}
LIMITS = {"blocks": 3, "filters": 32, "kernel": 9, "stride": 3, "padding": 4, "pool_size": 4,
          "hidden_layers": 2, "units": 512, "parameters": 1_000_000}
BLOCK_DEFAULTS = {"filters": 6, "kernel": 5, "stride": 1, "padding": "valid", "activation": "relu",
                  "pool": "max", "pool_size": 2, "connections": "full"}
KEYS = {"preset", "blocks", "dense", "dense_activation", "classes", "input"}

PRESETS = {
    "lenet": {"title": "LeNet (ConvScope's default)",
              "blocks": [{"filters": 6}, {"filters": 16}], "dense": [120, 100]},
    "lenet5-classic": {"title": "LeNet-5, 1998 (scaled tanh, average pooling, partial C3)",
                       "blocks": [{"filters": 6, "activation": "lecun_tanh", "pool": "avg"},
                                  {"filters": 16, "activation": "lecun_tanh", "pool": "avg",
                                   "connections": "lenet5"}],
                       "dense": [120, 84], "dense_activation": "lecun_tanh"},
    "tiny": {"title": "Tiny: 4 filters, trains in seconds",
             "blocks": [{"filters": 4, "kernel": 5}], "dense": []},
    "dense": {"title": "No convolution: a dense-only baseline",
              "blocks": [], "dense": [100]},
}


class DesignError(ValueError):
    """A design that cannot be built; the message says which choice and what to change."""


def load(source) -> dict:
    """A design from a preset name, a JSON file's path, a JSON text or a dict (not yet checked)."""
    if isinstance(source, dict):
        return copy.deepcopy(source)
    text = str(source)
    if text in PRESETS:
        return {"preset": text}
    if text.lstrip().startswith("{"):
        raw = text
    else:
        path = Path(text)
        if not path.is_file():
            raise DesignError(f"{text!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file")
        raw = path.read_text(encoding="utf-8")
    try:
        design = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DesignError(f"the design is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(design, dict):
        raise DesignError("a design is a JSON object (see convscope train --help)")
    return design


def normalise(design: dict) -> dict:
    """The design with its preset and every default filled in, each value checked (DesignError)."""
    if not isinstance(design, dict):
        raise DesignError("a design is a JSON object")
    unknown = sorted(set(design) - KEYS)
    if unknown:
        raise DesignError(f"unknown design key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    preset = design.get("preset", "lenet" if "blocks" not in design else None)
    if preset is not None and preset not in PRESETS:
        raise DesignError(f"unknown preset {preset!r} ({', '.join(PRESETS)})")
    base = {k: v for k, v in PRESETS.get(preset, {}).items() if k != "title"}
    merged = {"blocks": [], "dense": [], "dense_activation": "relu", "classes": 10, "input": [1, 32, 32],
              **copy.deepcopy(base), **{k: v for k, v in design.items() if k != "preset"}}
    if preset is not None:
        merged["preset"] = preset
    blocks = merged["blocks"]
    if not isinstance(blocks, list) or len(blocks) > LIMITS["blocks"]:
        raise DesignError(f"blocks must be a list of 0 to {LIMITS['blocks']} conv blocks")
    merged["blocks"] = [_block(b, i + 1) for i, b in enumerate(blocks)]
    dense = merged["dense"]
    if not isinstance(dense, list) or len(dense) > LIMITS["hidden_layers"]:
        raise DesignError(f"dense must list 0 to {LIMITS['hidden_layers']} hidden layer widths")
    merged["dense"] = [_int(u, f"hidden dense layer {i + 1}'s width", 1, LIMITS["units"])
                       for i, u in enumerate(dense)]
    merged["dense_activation"] = _choice(merged["dense_activation"], "dense_activation", ACTIVATIONS)
    merged["classes"] = _int(merged["classes"], "classes", 2, 100)
    shape = merged["input"]
    if (not isinstance(shape, list) or len(shape) != 3 or shape[0] not in (1, 3)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
            or not 8 <= shape[1] <= 64 or not 8 <= shape[2] <= 64):
        raise DesignError("input must be [channels (1 or 3), height, width] with sides 8–64")
    return merged


def _block(block, n: int) -> dict:
    if not isinstance(block, dict):
        raise DesignError(f"conv block {n} must be an object")
    unknown = sorted(set(block) - set(BLOCK_DEFAULTS))
    if unknown:
        raise DesignError(f"conv block {n}: unknown key {unknown[0]!r} (known: {', '.join(BLOCK_DEFAULTS)})")
    b = {**BLOCK_DEFAULTS, **block}
    where = f"conv block {n}"
    b["filters"] = _int(b["filters"], f"{where}: filters", 1, LIMITS["filters"])
    b["kernel"] = _int(b["kernel"], f"{where}: kernel", 1, LIMITS["kernel"])
    b["stride"] = _int(b["stride"], f"{where}: stride", 1, LIMITS["stride"])
    if b["padding"] not in ("valid", "same"):
        b["padding"] = _int(b["padding"], f"{where}: padding ('valid', 'same' or pixels)", 0, LIMITS["padding"])
    b["activation"] = _choice(b["activation"], f"{where}: activation", ACTIVATIONS)
    b["pool"] = _choice(b["pool"], f"{where}: pool", tuple(POOLS))
    b["pool_size"] = _int(b["pool_size"], f"{where}: pool_size", 2, LIMITS["pool_size"])
    b["connections"] = _choice(b["connections"], f"{where}: connections", ("full", "lenet5"))
    return b


def _int(value, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DesignError(f"{what} must be a whole number from {lo} to {hi}, not {json.dumps(value)}")
    return value


def _choice(value, what: str, options) -> str:
    if value not in options:
        raise DesignError(f"{what} must be one of {', '.join(options)}, not {json.dumps(value)}")
    return value


def build(design: dict) -> list[dict]:
    """The layer list (``convscope.layerspec`` vocabulary) of a design; DesignError if impossible."""
    d = normalise(design)
    c, h, w = d["input"]
    spec = [{"name": "input", "kind": "input", "shape": [c, h, w]}]
    acts = 0
    for n, b in enumerate(d["blocks"], start=1):
        k, s = b["kernel"], b["stride"]
        pad = resolve_padding(b["padding"], (k, k), stride=(s, s), input_size=(h, w))
        oh = conv_output_size(h, k, s, pad[0] + pad[1])
        ow = conv_output_size(w, k, s, pad[2] + pad[3])
        if oh < 1 or ow < 1:
            raise DesignError(f"conv block {n}: its {k}×{k} kernel does not fit the {h}×{w} map it reads"
                              f"{' after block ' + str(n - 1) if n > 1 else ''}; use a smaller kernel, "
                              "padding 'same', or fewer blocks")
        connections = None
        if b["connections"] == "lenet5":
            if (b["filters"], c) != (16, 6):
                raise DesignError(f"conv block {n}: LeNet-5's partial table links 16 filters to 6 maps; "
                                  f"this block has {b['filters']} filters reading {c} maps")
            connections = copy.deepcopy(LENET5_C3_TABLE)
        padding = b["padding"] if isinstance(b["padding"], str) else [b["padding"]] * 4
        spec.append({"name": f"conv{n}", "kind": "conv", "out_channels": b["filters"], "kernel": [k, k],
                     "stride": [s, s], "padding": padding, "dilation": [1, 1], "connections": connections})
        acts += 1
        spec.append({"name": f"{_act_name(b['activation'])}{acts}", "kind": b["activation"]})
        c, h, w = b["filters"], oh, ow
        if POOLS[b["pool"]]:
            p = b["pool_size"]
            if h < p or w < p:
                raise DesignError(f"conv block {n}: a {p}×{p} pool does not fit the {h}×{w} map its conv "
                                  "leaves; use a smaller pool, pool 'none', or a smaller kernel or stride")
            spec.append({"name": f"pool{n}", "kind": POOLS[b["pool"]], "size": [p, p], "stride": [p, p],
                         "padding": [0, 0, 0, 0]})
            h, w = h // p, w // p
    spec.append({"name": "flatten", "kind": "flatten"})
    for n, units in enumerate(d["dense"], start=1):
        spec.append({"name": f"fc{n}", "kind": "dense", "units": units})
        acts += 1
        spec.append({"name": f"{_act_name(d['dense_activation'])}{acts}", "kind": d["dense_activation"]})
    spec.append({"name": f"fc{len(d['dense']) + 1}", "kind": "dense", "units": d["classes"]})
    spec.append({"name": "softmax", "kind": "softmax"})
    total = parameter_count(spec)
    if total > LIMITS["parameters"]:
        raise DesignError(f"this design has {total:,} parameters; the limit is {LIMITS['parameters']:,} "
                          "(fewer filters, a pool, or narrower dense layers)")
    return spec


def _act_name(kind: str) -> str:
    return "relu" if kind == "relu" else "act"


def parameter_count(spec: list[dict]) -> int:
    return sum(param_count(ls) for ls in resolve(spec))


def summary(design: dict) -> dict:
    """What the page shows for a design: per layer its kind, output shape, parameters and receptive
    field, and the totals; or the reason it cannot be built (``error``)."""
    try:
        d = normalise(design)
        spec = build(d)
    except DesignError as exc:
        return {"ok": False, "error": str(exc)}
    specs = resolve(spec)
    layers = [{"name": ls.name, "kind": ls.kind, "output_shape": list(ls.out_shape), "params": param_count(ls),
               "receptive_field": [int(v) for v in rf["size"]]}
              for ls, rf in zip(specs, receptive_fields(specs))]
    return {"ok": True, "design": d, "layers": layers, "parameters": sum(la["params"] for la in layers),
            "spec": spec}
