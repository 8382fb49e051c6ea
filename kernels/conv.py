"""2-D convolution forward pass (cross-correlation, as in every CNN library): one image or a batch.

Shape legend (single image; the ``_batch`` variant adds a leading N to x and y):
    x: (C_in, H, W)   w: (C_out, C_in, KH, KW)   b: (C_out,)   mask: (C_out, C_in) of 0/1
    y: (C_out, Ho, Wo)   stride: (sh, sw)   dilation: (dh, dw)   pad: (top, bottom, left, right)
    Ho = max(0, (H + top + bottom - dh*(KH-1) - 1) // sh + 1), likewise Wo.

    y[co, oy, ox] = b[co] + sum_{ci, ky, kx} mask[co, ci] * w[co, ci, ky, kx]
                            * xp[ci, oy*sh + ky*dh, ox*sw + kx*dw]      (xp: x zero-padded by pad)

Why it is fast: the input is zero-padded once and, with stride 1, each output plane is computed at
the padded width as one contiguous run (kernels/conv_sweep.py), two output channels and four taps
per sweep; stride 2 computes that and keeps every second output. A larger stride sweeps one output
row at a time with the weight hoisted out of the inner loop; that row loop is compiled twice (serial here, parallel for the kernel lab's
conv2d_parallel in kernels/conv_lab.py).

The rest of the conv family: conv_backward.py (gradients), conv_relu_pool.py (the fused
conv -> ReLU -> max-pool training path), conv_lab.py (one large image over threads), with their
NumPy twins in conv_ref.py.
"""
import types

import numpy as np
from numba import njit, prange

from .conv_sweep import _output_shape, _pad, _pad_pair_taps, _sweep_pair


def _compile_twice(fn):
    """(serial, parallel) compilations of one loop body that uses prange, as umap does.

    The parallel copy gets its own name so that the two never share an on-disk cache entry
    (Numba's cache key does not include the ``parallel`` flag)."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel",
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    return njit(cache=True)(fn), njit(cache=True, parallel=True)(twin)


def _forward_rows_impl(xp, w, b, stride, dilation, mask, y):
    """y (C_out, Ho, Wo) = conv of the padded xp (C_in, Hp, Wp), any stride, one output row
    (co, oy) at a time: row = b[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] * xp[ci, oy*sh + ky*dh,
    kx*dw + ox*sw] over ox, skipping pairs with mask[co, ci] == 0."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = y.shape[1], y.shape[2]
    sh, sw = stride
    dh, dw = dilation
    for r in prange(c_out * ho):
        co, oy = r // ho, r % ho
        row = y[co, oy]
        row[:] = b[co]
        for ci in range(c_in):
            if mask[co, ci] == 0.0:
                continue
            for ky in range(kh):
                xrow = xp[ci, oy * sh + ky * dh]
                for kx in range(kw):
                    wv = w[co, ci, ky, kx]
                    if sw == 1:
                        xs = xrow[kx * dw:kx * dw + wo]
                        for ox in range(wo):
                            row[ox] += wv * xs[ox]
                    else:
                        for ox in range(wo):
                            row[ox] += wv * xrow[kx * dw + ox * sw]


_forward_rows, _forward_rows_parallel = _compile_twice(_forward_rows_impl)


@njit(cache=True)
def _pair_tables(w, mask, dilation, hp, wp):
    """The tap tables of the stride-1 sweeps over a padded input of Hp × Wp, one row per pair of
    output channels (co0, co1) = (2p, min(2p + 1, C_out - 1)) (an odd C_out ends with the pair
    (co, co)): offs[p, k] is tap k's flat offset ci*Hp*Wp + ky*dh*Wp + kx*dw, wa[p, k] and
    wb[p, k] its weights for co0 and co1 (0 for the one not connected to ci), over every
    (ci, ky, kx) of an input channel connected to either; groups[p] counts them in fours
    (_pad_pair_taps). They depend on the weights and shapes only: a batch builds them once."""
    c_out, c_in, kh, kw = w.shape
    pairs = (c_out + 1) // 2
    size = c_in * kh * kw + 3                      # +3 for the padding to whole groups
    offs = np.zeros((pairs, size), np.int64)
    wa, wb = np.zeros((pairs, size), np.float32), np.zeros((pairs, size), np.float32)
    groups = np.zeros(pairs, np.int64)
    for pi in range(pairs):
        co0 = 2 * pi
        co1 = min(co0 + 1, c_out - 1)
        t = 0
        for ci in range(c_in):
            if mask[co0, ci] == 0.0 and mask[co1, ci] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[pi, t] = ci * hp * wp + ky * dilation[0] * wp + kx * dilation[1]
                    wa[pi, t] = w[co0, ci, ky, kx] * mask[co0, ci]
                    wb[pi, t] = w[co1, ci, ky, kx] * mask[co1, ci]
                    t += 1
        groups[pi] = _pad_pair_taps(offs[pi], wa[pi], wb[pi], t)
    return offs, wa, wb, groups


@njit(cache=True, fastmath=True)
def _forward_flat(xp, b, tables, y):
    """Stride-1 forward: y (C_out, Ho, Wo) from the padded xp (C_in, Hp, Wp), each output plane
    as one run a[q], q < (Ho-1)*Wp + Wo, y[co, oy, ox] = a[oy*Wp + ox], with
        a[q] = b[co] + sum_taps w[co, ci, ky, kx] * xp.flat[ci*Hp*Wp + ky*dh*Wp + kx*dw + q],
    two output channels per sweep, from the tables of _pair_tables (for xp's Hp, Wp)."""
    offs, wa, wb, groups = tables
    c_out, ho, wo = y.shape
    wp = xp.shape[2]
    n = (ho - 1) * wp + wo
    xf = xp.reshape(xp.size)
    a0, a1 = np.empty(n, np.float32), np.empty(n, np.float32)
    for pi in range(offs.shape[0]):
        co0 = 2 * pi
        co1 = min(co0 + 1, c_out - 1)
        a0[:] = b[co0]
        a1[:] = b[co1]
        _sweep_pair(xf, offs[pi], wa[pi], wb[pi], groups[pi], a0, a1)
        for oy in range(ho):  # element loops: a Numba slice assignment costs ~40 ns a call
            for ox in range(wo):
                y[co1, oy, ox] = a1[oy * wp + ox]
            for ox in range(wo):
                y[co0, oy, ox] = a0[oy * wp + ox]


@njit(cache=True)
def _forward_tables(x, w, stride, pad, dilation, mask):
    """The tables _forward_into_tabled needs for inputs shaped like x (..., C_in, H, W): those of
    _pair_tables for the padded size when the stride is at most 2 (the sweeps), else empty."""
    hp, wp = x.shape[-2] + pad[0] + pad[1], x.shape[-1] + pad[2] + pad[3]
    if stride[0] <= 2 and stride[1] <= 2:
        return _pair_tables(w, mask, dilation, hp, wp)
    return _pair_tables(w[:0], mask, dilation, hp, wp)


@njit(cache=True)
def _forward_into_tabled(x, w, b, stride, pad, dilation, mask, tables, y):
    """Serial forward of one image x (C_in, H, W) into y (C_out, Ho, Wo), with the tables of
    _forward_tables for x's shape."""
    if y.size == 0:
        return
    xp = _pad(x, pad)
    if stride[0] == 1 and stride[1] == 1:
        _forward_flat(xp, b, tables, y)
    elif stride[0] <= 2 and stride[1] <= 2:
        # stride 2: every stride-1 output, then every second one. Four times the arithmetic, but the
        # contiguous sweeps run ~6× faster than strided rows (3→16 channels, 64×64: 83 µs vs 233 µs)
        full = np.empty((y.shape[0], xp.shape[1] - dilation[0] * (w.shape[2] - 1),
                         xp.shape[2] - dilation[1] * (w.shape[3] - 1)), np.float32)
        _forward_flat(xp, b, tables, full)
        for co in range(y.shape[0]):
            for oy in range(y.shape[1]):
                for ox in range(y.shape[2]):
                    y[co, oy, ox] = full[co, oy * stride[0], ox * stride[1]]
    else:
        _forward_rows(xp, w, b, stride, dilation, mask, y)


@njit(cache=True)
def _forward_into(x, w, b, stride, pad, dilation, mask, y):
    """Serial forward of one image x (C_in, H, W) into y (C_out, Ho, Wo)."""
    _forward_into_tabled(x, w, b, stride, pad, dilation, mask,
                         _forward_tables(x, w, stride, pad, dilation, mask), y)


@njit(cache=True)
def conv2d(x, w, b, stride, pad, dilation, mask):
    """y (C_out, Ho, Wo) = conv of x (C_in, H, W) with w (C_out, C_in, KH, KW), b (C_out,)."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((w.shape[0], ho, wo), np.float32)
    _forward_into(x, w, b, stride, pad, dilation, mask, y)
    return y


def conv_tables(in_shape, w, stride, pad, dilation, mask):
    """The tap tables conv2d_tabled needs for inputs of in_shape (C_in, H, W): built once per layer
    by the trace's plan (they cost 2–9 µs a call, up to a third of a small layer's conv)."""
    return _forward_tables(np.empty(in_shape, np.float32), w, stride, pad, dilation, mask)


@njit(cache=True)
def conv2d_tabled(x, w, b, stride, pad, dilation, mask, tables):
    """conv2d with the tables of conv_tables for x's shape (the same numbers)."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((w.shape[0], ho, wo), np.float32)
    _forward_into_tabled(x, w, b, stride, pad, dilation, mask, tables, y)
    return y


@njit(cache=True, parallel=True)
def conv2d_batch(x, w, b, stride, pad, dilation, mask):
    """y (N, C_out, Ho, Wo) = conv2d of each image of x (N, C_in, H, W); images split over threads."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((x.shape[0], w.shape[0], ho, wo), np.float32)
    # the tables once for the batch; a prange body takes arrays, not tuples of them
    offs, wa, wb, groups = _forward_tables(x, w, stride, pad, dilation, mask)
    for i in prange(x.shape[0]):
        _forward_into_tabled(x[i], w, b, stride, pad, dilation, mask, (offs, wa, wb, groups), y[i])
    return y
