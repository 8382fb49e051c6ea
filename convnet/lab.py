"""The kernel lab's computation: one image through conv (+ activation, + pooling), with the arithmetic.

Shape legend: image (C, H, W) float32; kernel (KH, KW) shared by every channel or (C, KH, KW) one per
channel.  mode "per_channel" filters each channel on its own (image-editing view: C maps out);
mode "sum" is one 3-D filter summed over channels (CNN view: one feature map out).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convscope import kernels as K
from convscope.kernels import geometry

LAB_ACTIVATIONS = ("relu", "sigmoid", "tanh")
POOL_FUNCS = {"max": "max_pool2d", "avg": "avg_pool2d", "l2": "l2_pool2d"}


@dataclass
class LabResult:
    conv: np.ndarray | None
    activation: np.ndarray | None
    pool: np.ndarray | None
    formula: dict
    possible: bool
    blocked: tuple[str, str] | None = None   # (axis, "kernel" | "pooling window") that does not fit

    @property
    def output(self):
        return next((a for a in (self.pool, self.activation, self.conv) if a is not None), None)


def size_formula(n: int, k: int, stride: int, pad: tuple[int, int], dilation: int) -> dict:
    """The numbers of the output-size formula out = ⌊(n + P − d·(k − 1) − 1) / s⌋ + 1 (the words
    and the filled-in text are the server's: server/schema.py)."""
    out = geometry.conv_output_size(n, k, stride, pad[0] + pad[1], dilation)
    return {"n": n, "k": k, "p": list(pad), "s": stride, "d": dilation, "out": out}


# (mode, activation, pool kind): together they reach every kernel convolve() can call.
WARM_CALLS = (("per_channel", None, None), ("sum", "relu", "max"), ("per_channel", "sigmoid", "avg"),
              ("sum", "tanh", "l2"))


def warm() -> int:
    """Run every kernel path of ``convolve`` once on a tiny RGB image, so that Numba compiles (or
    loads from its cache) each of them now rather than on a user's first request.  Returns the
    number of calls made."""
    image, kernel = np.zeros((3, 8, 8), np.float32), np.ones((3, 3), np.float32)
    for mode, activation, pool in WARM_CALLS:
        convolve(image, kernel, mode=mode, activation=activation,
                 pool={"kind": pool, "size": (2, 2), "stride": (2, 2)} if pool else None)
    return len(WARM_CALLS)


def convolve(image, kernel, stride=(1, 1), padding="valid", dilation=(1, 1), mode="per_channel",
             bias=0.0, activation=None, pool=None) -> LabResult:
    image = np.ascontiguousarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    c, h, w = image.shape
    kh, kw = kernel.shape[-2:]
    # Always a fresh, writable copy: broadcast_to gives a read-only view, which Numba types as a
    # different array and would compile the kernels a second time on a gray image's first request.
    per_channel = np.array(np.broadcast_to(kernel, (c, kh, kw)), dtype=np.float32, order="C")
    pad = geometry.resolve_padding(padding, (kh, kw), dilation, stride, input_size=(h, w))
    formula = {"height": size_formula(h, kh, stride[0], pad[:2], dilation[0]),
               "width": size_formula(w, kw, stride[1], pad[2:], dilation[1]), "pool": None}
    for axis in ("height", "width"):
        if formula[axis]["out"] <= 0:
            return LabResult(None, None, None, formula, False, (axis, "kernel"))
    if mode == "per_channel":
        b = np.full(c, bias, np.float32)
        out = K.conv2d_depthwise(image, per_channel, b, stride, pad, dilation)
    elif mode == "sum":
        w4 = per_channel[None]                                   # (1, C, KH, KW)
        out = K.conv2d_parallel(image, w4, np.array([bias], np.float32), stride, pad, dilation,
                                np.ones((1, c), np.float32))
    else:
        raise ValueError(f"unknown mode {mode!r} (per_channel, sum)")
    act = None
    if activation:
        act = K.ACTIVATIONS[activation][0](out)
    pooled = None
    if pool:
        size = tuple(pool["size"])
        pstride = tuple(pool.get("stride") or size)
        src = act if act is not None else out
        ph = size_formula(src.shape[1], size[0], pstride[0], (0, 0), 1)
        pw = size_formula(src.shape[2], size[1], pstride[1], (0, 0), 1)
        formula["pool"] = {"height": ph, "width": pw}
        for axis, f in (("height", ph), ("width", pw)):
            if f["out"] <= 0:
                return LabResult(out, act, None, formula, False, (axis, "pooling window"))
        fn = getattr(K, POOL_FUNCS[pool["kind"]])
        pooled = fn(np.ascontiguousarray(src), size, pstride, (0, 0, 0, 0))
        if pool["kind"] == "max":
            pooled = pooled[0]
    return LabResult(out, act, pooled, formula, True)
