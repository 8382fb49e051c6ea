"""Per-channel constant arithmetic: batch normalisation (inference form) and input normalisation.

Shape legend: x, dy: (C, ...) for one image or (N, C, ...) for a batch; codes: (S,) int64; values:
(S, C) float32.  Each step s applies, channel by channel, in order:

    code 0: x - v    code 1: x / v    code 2: x * v    code 3: x + v      (v = values[s, c])

Batch norm is the four steps (sub mean, div √(var + ε), mul γ, add β), which is how ONNX's
reference and PyTorch compute it; an input normalisation is whatever steps the model folds in
(e.g. sub mean, div std).  The arithmetic runs in float32 in that order, so it rounds as they do.
The backward pass is linear: dx = dy · Π(mul values) / Π(div values) per channel.
"""
import numpy as np
from numba import njit, prange

SUB, DIV, MUL, ADD = 0, 1, 2, 3
CODES = {"sub": SUB, "div": DIV, "mul": MUL, "add": ADD}


@njit(cache=True)
def _steps_into(x, codes, values, out):  # x, out (C, M)
    # one pass per step with its operation chosen outside the element loop, so each loop is a
    # plain vectorisable one (a branch per element cost 4 ns a value)
    for c in range(x.shape[0]):
        o, src = out[c], x[c]
        for s in range(codes.shape[0]):
            k, a = codes[s], values[s, c]
            if k == 0:
                for i in range(o.size):
                    o[i] = src[i] - a
            elif k == 1:
                for i in range(o.size):
                    o[i] = src[i] / a
            elif k == 2:
                for i in range(o.size):
                    o[i] = src[i] * a
            else:
                for i in range(o.size):
                    o[i] = src[i] + a
            src = o


@njit(cache=True)
def channel_steps(x, codes, values):
    """x (C, ...) -> y of x's shape: the steps applied to each channel."""
    flat = x.reshape(x.shape[0], -1)
    out = np.empty_like(flat)
    _steps_into(flat, codes, values, out)
    return out.reshape(x.shape)


@njit(cache=True, parallel=True)
def channel_steps_batch(x, codes, values):
    """x (N, C, ...) -> y of x's shape."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    out = np.empty_like(flat)
    for n in prange(flat.shape[0]):
        _steps_into(flat[n], codes, values, out[n])
    return out.reshape(x.shape)


@njit(cache=True)
def channel_steps_backward(dy, codes, values):
    """dy (C, ...) or (N, C, ...) with ``values`` (S, C) -> dx: dy times each channel's slope.
    The channel axis is the first for one image; pass a batch as (N, C, ...) through
    ``channel_steps_backward_batch``."""
    c_axis = dy.shape[0]
    slope = np.ones(c_axis, np.float32)
    for s in range(codes.shape[0]):
        for c in range(c_axis):
            if codes[s] == 1:
                slope[c] /= values[s, c]
            elif codes[s] == 2:
                slope[c] *= values[s, c]
    flat = dy.reshape(c_axis, -1)
    out = np.empty_like(flat)
    for c in range(c_axis):
        for i in range(flat.shape[1]):
            out[c, i] = flat[c, i] * slope[c]
    return out.reshape(dy.shape)


@njit(cache=True, parallel=True)
def channel_steps_backward_batch(dy, codes, values):
    out = np.empty_like(dy)
    for n in prange(dy.shape[0]):
        out[n] = channel_steps_backward(dy[n], codes, values)
    return out
