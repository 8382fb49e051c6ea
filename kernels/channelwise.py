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
def _steps(x, codes, values):  # x (C, M)
    out = np.empty_like(x)
    _steps_into(x, codes, values, out)
    return out


@njit(cache=True, parallel=True)
def _steps_batch(x, codes, values):  # x (N, C, M)
    out = np.empty_like(x)
    for n in prange(x.shape[0]):
        _steps_into(x[n], codes, values, out[n])
    return out


@njit(cache=True)
def _slopes(codes, values):
    """Each channel's d(output)/d(input): the product of its mul values over its div values."""
    slope = np.ones(values.shape[1], np.float32)
    for s in range(codes.shape[0]):
        for c in range(values.shape[1]):
            if codes[s] == 1:
                slope[c] /= values[s, c]
            elif codes[s] == 2:
                slope[c] *= values[s, c]
    return slope


@njit(cache=True)
def _scale_into(dy, slope, out):  # dy, out (C, M)
    for c in range(dy.shape[0]):
        a = slope[c]
        for i in range(dy.shape[1]):
            out[c, i] = dy[c, i] * a


@njit(cache=True)
def _scale(dy, slope):  # dy (C, M); serial: the single-image kernels run outside the lab's lock
    out = np.empty_like(dy)
    _scale_into(dy, slope, out)
    return out


@njit(cache=True, parallel=True)
def _scale_batch(dy, slope):  # dy (N, C, M)
    out = np.empty_like(dy)
    for n in prange(dy.shape[0]):
        _scale_into(dy[n], slope, out[n])
    return out


# The public kernels reshape to a fixed rank around the compiled loops, so one specialisation of
# each serves (C,), (C, L), (C, H, W) …: one per rank took up to 4 s of compiling each.

def channel_steps(x, codes, values):
    """x (C, ...) -> y of x's shape: the steps applied to each channel."""
    return _steps(x.reshape(x.shape[0], -1), codes, values).reshape(x.shape)


def channel_steps_batch(x, codes, values):
    """x (N, C, ...) -> y of x's shape."""
    return _steps_batch(x.reshape(x.shape[0], x.shape[1], -1), codes, values).reshape(x.shape)


def channel_steps_backward(dy, codes, values):
    """dy (C, ...) with ``values`` (S, C) -> dx: dy times each channel's slope (pass a batch
    (N, C, ...) through ``channel_steps_backward_batch``)."""
    return _scale(dy.reshape(dy.shape[0], -1), _slopes(codes, values)).reshape(dy.shape)


def channel_steps_backward_batch(dy, codes, values):
    """dy (N, C, ...) -> dx of dy's shape."""
    return _scale_batch(dy.reshape(dy.shape[0], dy.shape[1], -1), _slopes(codes, values)).reshape(dy.shape)
