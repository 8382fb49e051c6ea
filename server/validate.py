"""Typed options from a request body, each checked against its limit (ApiError otherwise).

The kernel lab's limits (docs/CONTRACTS.md): kernel square, at most 11×11; stride 1–16;
dilation 1–8; padding 0–16 per side; pooling window and stride 1–16.
"""
from __future__ import annotations

import numpy as np

from .decode import array_from_json
from .errors import ApiError

MAX_KERNEL = 11
LIMITS = {"stride": (1, 16), "dilation": (1, 8), "padding": (0, 16), "pool size": (1, 16), "pool stride": (1, 16)}


def choice(fields: dict, key: str, options, default):
    value = fields.get(key, default)
    if value not in options:
        shown = ", ".join("null" if o is None else f'"{o}"' for o in options)
        raise ApiError(400, f"invalid_{key}", f"'{key}' must be one of {shown}.")
    return value


def flag(fields: dict, key: str, default: bool = False) -> bool:
    value = fields.get(key, default)
    if not isinstance(value, bool):
        raise ApiError(400, "wrong_type", f"'{key}' must be true or false.")
    return value


def _int(value, what: str) -> int:
    lo, hi = LIMITS[what]
    code = "invalid_" + what.replace(" ", "_")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, code, f"The {what} must be a whole number from {lo} to {hi}.")
    if not lo <= value <= hi:
        raise ApiError(400, code, f"The {what} must be from {lo} to {hi}, not {value}.")
    return value


def int_pair(value, what: str) -> tuple[int, int]:
    """``n`` or ``[a, b]`` → (a, b), each within LIMITS[what]."""
    if isinstance(value, list) and len(value) == 2:
        return _int(value[0], what), _int(value[1], what)
    return (_int(value, what),) * 2


def padding(value):
    """"valid" | "same" | P | [ph, pw] | [top, bottom, left, right] → that form, checked."""
    if value in ("valid", "same"):
        return value
    if isinstance(value, list) and len(value) in (2, 4):
        return tuple(_int(v, "padding") for v in value)
    if isinstance(value, str):
        raise ApiError(400, "invalid_padding", 'The padding must be "valid", "same", a number or a list.')
    return _int(value, "padding")


def kernel(value, channels: int) -> np.ndarray:
    """(k, k) shared or (C, k, k) one per channel, k ≤ MAX_KERNEL, values finite."""
    if value is None:
        raise ApiError(400, "missing_field", "Send a 'kernel': a k×k array of numbers.")
    if not isinstance(value, list):
        raise ApiError(400, "wrong_type", "'kernel' must be a k×k array of numbers.")
    k = array_from_json(value, "kernel", ndims=(2, 3), lo=None)
    kh, kw = k.shape[-2:]
    if kh != kw:
        raise ApiError(400, "kernel_not_square", f"The kernel must be square, not {kh}×{kw}.")
    if kh > MAX_KERNEL:
        raise ApiError(400, "kernel_too_large", f"The kernel may be at most {MAX_KERNEL}×{MAX_KERNEL}, not {kh}×{kw}.")
    if np.abs(k).max() > 1e6:
        raise ApiError(400, "value_out_of_range", "Kernel values must lie within ±1e6.")
    if k.ndim == 3 and k.shape[0] != channels:
        raise ApiError(400, "kernel_channels_mismatch",
                       f"The kernel has {k.shape[0]} channels but the image has {channels}; "
                       "send one k×k kernel to share, or one per channel.")
    return k


def pool(value):
    """None | {"kind": "max"|"avg"|"l2", "size": n|[a,b], "stride": n|[a,b] (default: size)}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_pool", "'pool' must be null or {\"kind\", \"size\", \"stride\"}.")
    kind = value.get("kind", "max")
    if kind not in ("max", "avg", "l2"):
        raise ApiError(400, "invalid_pool", 'The pool kind must be "max", "avg" or "l2".')
    size = int_pair(value.get("size", 2), "pool size")
    stride = int_pair(value["stride"], "pool stride") if value.get("stride") is not None else size
    return {"kind": kind, "size": size, "stride": stride}


def bias(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or abs(value) > 1e6:
        raise ApiError(400, "invalid_bias", "The bias must be a finite number within ±1e6.")
    return float(value)
