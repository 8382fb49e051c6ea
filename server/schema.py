"""The JSON the API speaks, defined once: every response body is built by a function here.

Arrays go out as nested lists following their ``shape`` (``data[c][y][x]``).  They are handed to
orjson as float32/int32 NumPy arrays (OPT_SERIALIZE_NUMPY): orjson writes each float32 in its
shortest round-tripping form, so values keep exactly float32 precision, and it is ~20× faster than
``json`` + ``tolist()``.  docs/CONTRACTS.md ("JSON API") summarises these shapes.

``/api/forward`` may instead pack its arrays (``"encoding": "base64"``): each becomes
``{"shape", "dtype": "float32"|"int32", "base64"}``, the array's little-endian bytes in row-major
order: the same float32 values without decimal text (LeNet: 96 KB instead of 139 KB, half the
serialisation time, and the browser skips parsing ~17k numbers).
"""
from __future__ import annotations

import numpy as np
import orjson
import pybase64
from PIL import Image

OPTIONS = orjson.OPT_SERIALIZE_NUMPY
ENCODINGS = ("json", "base64")      # how /api/forward and /api/convolve write arrays; "json" is the default
PACKED_DTYPES = {"f": ("<f4", "float32"), "i": ("<i4", "int32")}   # dtype kind → (wire dtype, its name)


def _default(obj):
    if isinstance(obj, np.ndarray):        # non-contiguous or an exotic dtype
        return np.ascontiguousarray(obj, dtype=np.float32 if obj.dtype.kind == "f" else None)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(obj) -> bytes:
    return orjson.dumps(obj, option=OPTIONS, default=_default)


def array(a: np.ndarray, encoding: str = "json") -> dict:
    """``{"shape", "data"}`` (float arrays as float32), or packed with ``encoding="base64"``."""
    if encoding == "base64":
        return packed(a)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32)
    return {"shape": list(a.shape), "data": np.ascontiguousarray(a)}


def packed(a: np.ndarray) -> dict:
    """``{"shape", "dtype", "base64"}``: float arrays as float32, integers as int32, little-endian,
    row-major (``np.frombuffer(b64decode(s), dtype).reshape(shape)`` gives the array back)."""
    kind, name = PACKED_DTYPES[a.dtype.kind]
    a = np.ascontiguousarray(a, dtype=kind)
    # pybase64's SIMD encoder: 1 µs for conv1's 4,704 floats, where binascii takes 20 (LeNet's
    # forward packs 72 KB: about 70 µs of a 0.35-ms request)
    return {"shape": list(a.shape), "dtype": name, "base64": pybase64.b64encode_as_string(a)}


def stats_array(a: np.ndarray, encoding: str = "json") -> dict:
    """``{"shape", "data", "min", "max"}`` (``data`` packed with ``encoding="base64"``)."""
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32)
    out = array(a, encoding)
    out["min"], out["max"] = a.min(), a.max()
    return out


# ---- GET /api/health, /api/model, /api/model/layers/<name>/weights -----------------------------
def health(model_name: str, version: str) -> dict:
    return {"ok": True, "model": model_name, "version": version}


def model(net, version: str) -> dict:
    card = net.card or {}
    layers = net.describe()
    for entry in layers:
        formula = param_formula(entry)
        if formula:
            entry["params_formula"] = formula
    return {"name": net.name, "version": card.get("version", version),
            "input_shape": list(net.input_shape), "accuracy": card.get("test_accuracy", card.get("accuracy")),
            "preprocess": preprocess_of(net), "card": card, "layers": layers}


def preprocess_of(net) -> str:
    """The preprocessing a model expects (its card's ``preprocess``; ConvScope's own MNIST models:
    ``mnist``; an RGB model without one: ``resize``)."""
    value = (net.card or {}).get("preprocess")
    if value in ("mnist", "resize", "none", "frame"):
        return value
    return "mnist" if net.input_shape[0] == 1 else "resize"


def model_summary(net, default: bool) -> dict:
    """One model in /api/models: what a picker shows and what a client needs to feed it."""
    card = net.card or {}
    c, h, w = net.input_shape
    source = card.get("source") or {}
    return {"name": net.name, "default": default,
            "input": {"channels": c, "height": h, "width": w, "shape": [c, h, w]},
            "preprocess": preprocess_of(net), "classes": int(net.layers[-1].out_shape[0]),
            "layers": len(net.layers), "parameters": int(sum(v.size for la in net.layers for v in la.params.values())),
            "accuracy": card.get("test_accuracy", card.get("accuracy")),
            "source": source.get("format", "convscope"), "card": card}


def models(registry, version: str, uploads: bool = False) -> dict:
    return {"version": version, "default": registry.default, "uploads": uploads,
            "models": [model_summary(net, name == registry.default) for name, net in registry.models.items()]}


def param_formula(entry: dict) -> str | None:
    """The parameter count as arithmetic, for the summary table: "6 × (5·5·1 + 1) = 156",
    "17 connections × 5·5 + 16 = 441" (a partial connection table), "120 × (400 + 1) = 48120";
    None for a layer without parameters.  ``entry``: one layer of ``Network.describe()``."""
    total = entry["params"]
    if entry["op"] == "conv":
        kh, kw = entry["window"]["kernel"]
        c_out, c_in = entry["output_shape"][0], entry["input_shape"][0]
        links = sum(map(sum, entry["connections"]))
        bias = entry.get("hyper", {}).get("bias", True)
        if links != c_out * c_in:
            return f"{links} connections × {kh}·{kw}" + (f" + {c_out}" if bias else "") + f" = {total}"
        return (f"{c_out} × ({kh}·{kw}·{c_in} + 1) = {total}" if bias
                else f"{c_out} × {kh}·{kw}·{c_in} (no bias) = {total}")
    if entry["op"] == "dense":
        inputs = 1
        for n in entry["input_shape"]:
            inputs *= n
        if not entry.get("hyper", {}).get("bias", True):
            return f"{entry['output_shape'][0]} × {inputs} (no bias) = {total}"
        return f"{entry['output_shape'][0]} × ({inputs} + 1) = {total}"
    if entry.get("kind") == "batchnorm":
        return f"2 × {entry['output_shape'][0]} (γ and β; μ and σ² are statistics) = {total}"
    return None


def weights(name: str, kind: str, params: dict, bias=None, encoding: str = "json") -> dict:
    """A conv's or dense layer's ``weight`` and ``bias`` (zeros, with ``"has_bias": false``, for a
    layer without one); a batch norm's gamma, beta, mean and var.  ``encoding="base64"`` packs the
    arrays as /api/forward does (LeNet's fc1: 192 KB of float32 instead of 567 KB of decimals)."""
    if "weight" not in params:
        return {"name": name, "kind": kind, **{k: array(v, encoding) for k, v in params.items()}}
    has_bias = "bias" in params
    b = params["bias"] if has_bias else (bias if bias is not None else np.zeros(params["weight"].shape[0], np.float32))
    return {"name": name, "kind": kind, "weight": array(params["weight"], encoding), "bias": array(b, encoding),
            "has_bias": has_bias}


# ---- POST /api/forward ---------------------------------------------------------------------------
NOTHING_DRAWN = "Nothing drawn yet: draw a digit, or upload an image with a visible digit."


STEP_SIDE = 128  # preprocessing steps are for looking at: larger ones are sent downscaled to this


def step_thumbnail(img: np.ndarray) -> np.ndarray:
    """A preprocessing step (H, W) for display: as is up to STEP_SIDE px, else box-downscaled so its
    longer side is STEP_SIDE.  Without this a 22 KB PNG of 4096×4096 made a 150 MB response."""
    h, w = img.shape
    if max(h, w) <= STEP_SIDE:
        return img
    s = STEP_SIDE / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def forward(model_name: str, pre, trace, steps: bool, encoding: str = "json") -> dict:
    """``pre``: server.preprocess.Preprocessed; ``trace``: convnet.Trace of ``pre.x``; ``encoding``
    one of ENCODINGS (the probabilities stay a list either way)."""
    layers = []
    for act in trace.activations[1:]:
        entry = {"name": act.name, "kind": act.kind, **stats_array(act.data, encoding)}
        if act.winners is not None:
            entry["winners"] = (packed(act.winners) if encoding == "base64"
                                else np.ascontiguousarray(act.winners, dtype=np.int32))
        layers.append(entry)
    body = {"model": model_name, "empty": pre.empty, "message": NOTHING_DRAWN if pre.empty else None,
            "input": array(pre.x, encoding)}
    if steps:
        body["steps"] = [{"name": name, "full_shape": list(img.shape), **array(step_thumbnail(img), encoding)}
                         for name, img in pre.steps]
    body["layers"] = layers
    body["prediction"] = None if pre.empty else {
        "label": trace.label, "probabilities": np.ascontiguousarray(trace.probabilities, np.float32)}
    return body


def explanation(model_name: str, pre, e, encoding: str = "json") -> dict:
    """POST /api/explain: ``e`` a convnet.explain.Explanation of ``pre.x``."""
    out = {"model": model_name, "method": e.method, "class": e.cls, "score": e.score, "probability": e.probability,
           "empty": pre.empty, "input": array(pre.x, encoding), "map": stats_array(e.map, encoding)}
    if e.gradient is not None:
        out["gradient"] = stats_array(e.gradient, encoding)
    if e.layer is not None:
        out["layer"] = e.layer
        out["layer_map"] = stats_array(e.layer_map, encoding)
        out["weights"] = e.extra["weights"]
    if e.method == "occlusion":
        out.update(patch=e.extra["patch"], stride=e.extra["stride"], placements=e.extra["placements"],
                   positions=e.extra["positions"], probabilities=e.extra["probabilities"])
    return out


def with_timing(body: bytes, timing_ms: dict) -> bytes:
    """Append ``"timing_ms"`` to an already serialised object, so the serialisation is timed too."""
    return b"".join((memoryview(body)[:-1], b',"timing_ms":', orjson.dumps(timing_ms), b"}"))   # one copy, not two


# ---- POST /api/convolve ----------------------------------------------------------------------
def convolve(image: np.ndarray, result, notice: str | None, echo_input: bool = True,
             encoding: str = "json", echo_output: bool = True) -> dict:
    """``image`` (C, H, W) as convolved; ``result``: convnet.lab.LabResult.  With ``echo_input``
    false the input is described by its shape only (a client re-sending the same image already
    has it: for 512×512 RGB that is 786k values not written, sent or parsed again).  ``encoding``
    as /api/forward's: "base64" packs every array (one 512×512 RGB stage: 8.2 MB of nested lists,
    4.2 MB packed).  ``output`` is always one of the stages before it: with ``echo_output``
    false it is ``{"shape", "stage"}``, naming that stage instead of sending its values twice."""
    def stage(a):
        return None if a is None else stats_array(a, encoding)
    formula = {"height": formula_text(result.formula["height"]), "width": formula_text(result.formula["width"]),
               "pool": None}
    if result.formula["pool"]:
        formula["pool"] = {axis: formula_text(f) for axis, f in result.formula["pool"].items()}
    explanation = None
    if result.blocked:
        axis, what = result.blocked
        explanation = impossible(axis, (formula["pool"] if what == "pooling window" else formula)[axis], what)
    return {"input": array(image, encoding) if echo_input else {"shape": list(image.shape)}, "conv": stage(result.conv), "activation": stage(result.activation),
            "pool": stage(result.pool), "output": _output(result, encoding, echo_output),
            "formula": formula, "possible": result.possible,
            "explanation": explanation, "notice": notice}


def _output(result, encoding: str, echo: bool) -> dict | None:
    if not result.possible:
        return None
    if echo:
        return stats_array(result.output, encoding)
    name = next(n for n in ("pool", "activation", "conv") if getattr(result, n) is result.output)
    return {"shape": list(result.output.shape), "stage": name}


def formula_text(f: dict) -> dict:
    """A lab size formula's numbers (convnet.lab.size_formula) with the formula written out."""
    pad = f["p"]
    p_text = f"2·{pad[0]}" if pad[0] == pad[1] else f"({pad[0]} + {pad[1]})"
    return {**f, "text": f"⌊({f['n']} − {f['d']}·({f['k']} − 1) − 1 + {p_text}) / {f['s']}⌋ + 1 = {f['out']}"}


def impossible(axis: str, f: dict, what: str) -> str:
    """Why a kernel (or pooling window) has no position where it fits, and what to change."""
    span = f["d"] * (f["k"] - 1) + 1
    return (f"The {what} spans {span} pixels along the {axis} (dilation {f['d']} × ({f['k']} − 1) + 1) "
            f"but the padded input is only {f['n'] + sum(f['p'])} pixels, so there is no position "
            f"where it fits: the output {axis} would be {f['out']}. Add padding, or use a smaller "
            f"kernel or dilation.")


# ---- GET /api/samples --------------------------------------------------------------------------
def sample_image(image_u8: np.ndarray) -> dict:
    """uint8 (28, 28) → values in [0, 1] rounded to 4 decimals (keeps the payload small)."""
    return array(np.round(image_u8 / np.float32(255.0), 4).astype(np.float32))


def sample(i: int, samples, with_image: bool) -> dict:
    out = {"id": i, "label": int(samples.labels[i]), "index": int(samples.indices[i])}
    if with_image:
        out["image"] = sample_image(samples.images[i])
    return out


def samples_list(samples, with_images: bool) -> dict:
    return {"count": len(samples), "samples": [sample(i, samples, with_images) for i in range(len(samples))]}
