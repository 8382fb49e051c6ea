"""2-D convolution (cross-correlation, as in every CNN library): forward and backward passes.

Shape legend (single image; the ``_batch`` variants add a leading N to x, y, dx, dy):
    x: (C_in, H, W)   w: (C_out, C_in, KH, KW)   b: (C_out,)   mask: (C_out, C_in) of 0/1
    y, dy: (C_out, Ho, Wo)   stride: (sh, sw)   dilation: (dh, dw)   pad: (top, bottom, left, right)
    Ho = max(0, (H + top + bottom - dh*(KH-1) - 1) // sh + 1), likewise Wo.

    y[co, oy, ox] = b[co] + sum_{ci, ky, kx} mask[co, ci] * w[co, ci, ky, kx]
                            * xp[ci, oy*sh + ky*dh, ox*sw + kx*dw]      (xp: x zero-padded by pad)

Why it is fast: the input is zero-padded once, the weight is hoisted out of the inner loop and the
inner loop sweeps a whole output row -- or, with stride 1, the whole output plane laid out at the
padded width (the few extra columns are computed and dropped) so that it is one contiguous,
SIMD-friendly run. The backward pass uses the same layout: per tap, one fused sweep takes dw as a
dot product over that run and scatters w * dy into a padded dx buffer, cropped at the end. (Taking
dx instead as a full correlation with the flipped kernel through the forward loop measured slower.)

``conv2d_parallel`` and ``conv2d_depthwise`` are the kernel lab's path for one large image: the
row loop is compiled a second time with ``parallel=True`` (umap's trick) and split over
(C_out x Ho) rows. The ``_batch`` variants split the batch over threads instead.
"""
import types

import numpy as np
from numba import njit, prange


def _compile_twice(fn):
    """Compile one loop body serially and with ``parallel=True`` (prange), as umap does.

    The parallel copy gets its own name so that the two never share an on-disk cache entry
    (Numba's cache key does not include the ``parallel`` flag)."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel",
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    return njit(cache=True)(fn), njit(cache=True, parallel=True)(twin)


@njit(cache=True)
def _out_size(n, k, stride, dilation, pad_total):
    return max(0, (n + pad_total - dilation * (k - 1) - 1) // stride + 1)


@njit(cache=True)
def _pad_row(x, ci, iy, pad, row):  # row (Wp,) <- row iy of channel ci of the zero-padded x
    top, left, h, w = pad[0], pad[2], x.shape[1], x.shape[2]
    if iy < top or iy >= top + h:
        row[:] = 0.0
    else:
        row[:left] = 0.0
        row[left:left + w] = x[ci, iy - top]
        row[left + w:] = 0.0


@njit(cache=True)
def _pad(x, pad):  # x (C, H, W) -> xp (C, H+top+bottom, W+left+right), zero border
    c, h, w = x.shape
    hp, wp = h + pad[0] + pad[1], w + pad[2] + pad[3]
    xp = np.empty((c, hp, wp), np.float32)
    for r in range(c * hp):
        _pad_row(x, r // hp, r % hp, pad, xp[r // hp, r % hp])
    return xp


def _forward_rows_impl(xp, w, b, stride, dilation, mask, y):
    """y (C_out, Ho, Wo) = conv of the padded xp (C_in, Hp, Wp), one output row at a time."""
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


@njit(cache=True, fastmath=True)
def _forward_flat(xp, w, b, dilation, mask, y):
    """Stride-1 forward: each output plane as one run of length (Ho-1)*Wp + Wo. Two output
    channels and four taps (ci, ky, kx) per sweep, so each load of x feeds eight multiply-adds.
    Input channels connected to neither channel of the pair are skipped; one connected to only
    one of them enters with weight 0 for the other."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = y.shape[1], y.shape[2]
    hp, wp = xp.shape[1], xp.shape[2]
    n = (ho - 1) * wp + wo
    xf = xp.reshape(c_in * hp * wp)
    offs = np.zeros(c_in * kh * kw + 4, np.int64)  # tap -> flat input offset
    wa, wb = np.zeros(offs.size, np.float32), np.zeros(offs.size, np.float32)
    a0, a1 = np.empty(n, np.float32), np.empty(n, np.float32)
    for co0 in range(0, c_out, 2):
        co1 = min(co0 + 1, c_out - 1)  # odd C_out: the last pair is (co0, co0)
        t = 0
        for ci in range(c_in):
            if mask[co0, ci] == 0.0 and mask[co1, ci] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[t] = ci * hp * wp + ky * dilation[0] * wp + kx * dilation[1]
                    wa[t] = w[co0, ci, ky, kx] * mask[co0, ci]
                    wb[t] = w[co1, ci, ky, kx] * mask[co1, ci]
                    t += 1
        offs[t:t + 4], wa[t:t + 4], wb[t:t + 4] = 0, 0.0, 0.0  # pad to a multiple of 4
        a0[:] = b[co0]
        a1[:] = b[co1]
        for g in range(0, t, 4):
            x0, x1 = xf[offs[g]:offs[g] + n], xf[offs[g + 1]:offs[g + 1] + n]
            x2, x3 = xf[offs[g + 2]:offs[g + 2] + n], xf[offs[g + 3]:offs[g + 3] + n]
            p0, p1, p2, p3 = wa[g], wa[g + 1], wa[g + 2], wa[g + 3]
            r0, r1, r2, r3 = wb[g], wb[g + 1], wb[g + 2], wb[g + 3]
            for q in range(n):  # load once: a0's store could alias x for all LLVM knows
                v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
                a0[q] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
                a1[q] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3
        for oy in range(ho):
            y[co1, oy, :] = a1[oy * wp:oy * wp + wo]
            y[co0, oy, :] = a0[oy * wp:oy * wp + wo]


@njit(cache=True)
def _forward_into(x, w, b, stride, pad, dilation, mask, y):
    """Serial forward of one image x (C_in, H, W) into y (C_out, Ho, Wo)."""
    if y.size == 0:
        return
    xp = _pad(x, pad)
    if stride[0] == 1 and stride[1] == 1:
        _forward_flat(xp, w, b, dilation, mask, y)
    else:
        _forward_rows(xp, w, b, stride, dilation, mask, y)


@njit(cache=True)
def _output_shape(x, w, stride, pad, dilation):  # x (..., C_in, H, W) -> (Ho, Wo)
    h, wd = x.shape[-2], x.shape[-1]
    ho = _out_size(h, w.shape[2], stride[0], dilation[0], pad[0] + pad[1])
    wo = _out_size(wd, w.shape[3], stride[1], dilation[1], pad[2] + pad[3])
    return ho, wo


@njit(cache=True)
def conv2d(x, w, b, stride, pad, dilation, mask):
    """y (C_out, Ho, Wo) = conv of x (C_in, H, W) with w (C_out, C_in, KH, KW), b (C_out,)."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((w.shape[0], ho, wo), np.float32)
    _forward_into(x, w, b, stride, pad, dilation, mask, y)
    return y


@njit(cache=True, parallel=True)
def conv2d_batch(x, w, b, stride, pad, dilation, mask):
    """y (N, C_out, Ho, Wo) for x (N, C_in, H, W); images are split over threads."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((x.shape[0], w.shape[0], ho, wo), np.float32)
    for i in prange(x.shape[0]):
        _forward_into(x[i], w, b, stride, pad, dilation, mask, y[i])
    return y


# Both entry points below hold a prange of their own: a serial cached function whose only parallel
# code sits in a callee does not start Numba's thread pool when loaded from the cache, and crashes.
@njit(cache=True, parallel=True)
def conv2d_parallel(x, w, b, stride, pad, dilation, mask):
    """conv2d for one large image, with padding and rows (C_out x Ho) split over threads."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    y = np.empty((w.shape[0], ho, wo), np.float32)
    if y.size == 0:
        return y
    c, hp, wp = x.shape[0], x.shape[1] + pad[0] + pad[1], x.shape[2] + pad[2] + pad[3]
    xp = np.empty((c, hp, wp), np.float32)
    for r in prange(c * hp):
        _pad_row(x, r // hp, r % hp, pad, xp[r // hp, r % hp])
    _forward_rows_parallel(xp, w, b, stride, dilation, mask, y)
    return y


@njit(cache=True, parallel=True)
def conv2d_depthwise(x, w, b, stride, pad, dilation):
    """Per-channel conv (kernel lab "per_channel" mode): y[c] = conv(x[c], w[c]) + b[c].

    x (C, H, W), w (C, KH, KW), b (C,) -> y (C, Ho, Wo). Runs conv2d_parallel with a
    diagonal connection mask, so masked-out pairs cost nothing."""
    c, kh, kw = w.shape
    wfull = np.zeros((c, c, kh, kw), np.float32)
    mask = np.zeros((c, c), np.float32)
    for i in prange(c):
        wfull[i, i] = w[i]
        mask[i, i] = 1.0
    return conv2d_parallel(x, wfull, b, stride, pad, dilation, mask)


@njit(cache=True, fastmath=True)
def _backward_flat(xp, w, dy, dilation, mask, dxp, dw_acc):
    """Stride-1 backward on the padded-width layout; adds into dxp (C_in, Hp, Wp), dw_acc."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = dy.shape[1], dy.shape[2]
    hp, wp = xp.shape[1], xp.shape[2]
    dh, dw = dilation
    n = (ho - 1) * wp + wo
    xf = xp.reshape(c_in, hp * wp)
    dxf = dxp.reshape(c_in, hp * wp)
    g = np.zeros(n, np.float32)  # dy[co] at the padded width; extra columns stay 0
    for co in range(c_out):
        for oy in range(ho):
            g[oy * wp:oy * wp + wo] = dy[co, oy]
        for ci in range(c_in):
            if mask[co, ci] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    off = ky * dh * wp + kx * dw
                    wv = w[co, ci, ky, kx]
                    xs = xf[ci, off:off + n]
                    ds = dxf[ci, off:off + n]
                    s = np.float32(0.0)
                    for q in range(n):  # g[q] loaded once: the ds store could alias it
                        gq = g[q]
                        s += gq * xs[q]
                        ds[q] += wv * gq
                    dw_acc[co, ci, ky, kx] += s


@njit(cache=True, fastmath=True)
def _backward_rows(xp, w, dy, stride, dilation, mask, dxp, dw_acc):
    """Any-stride backward, one output row at a time; adds into dxp and dw_acc."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = dy.shape[1], dy.shape[2]
    sh, sw = stride
    dh, dw = dilation
    for co in range(c_out):
        for oy in range(ho):
            g = dy[co, oy]
            for ci in range(c_in):
                if mask[co, ci] == 0.0:
                    continue
                for ky in range(kh):
                    xrow = xp[ci, oy * sh + ky * dh]
                    drow = dxp[ci, oy * sh + ky * dh]
                    for kx in range(kw):
                        wv = w[co, ci, ky, kx]
                        s = np.float32(0.0)
                        for ox in range(wo):
                            gq = g[ox]
                            s += gq * xrow[kx * dw + ox * sw]
                            drow[kx * dw + ox * sw] += wv * gq
                        dw_acc[co, ci, ky, kx] += s


@njit(cache=True)
def _backward_into(x, w, dy, stride, pad, dilation, mask, dx, dw_acc, db_acc):
    """One image: writes dx (C_in, H, W); adds into dw_acc (like w) and db_acc (C_out,)."""
    top, left = pad[0], pad[2]
    h, wd = x.shape[1], x.shape[2]
    for co in range(dy.shape[0]):
        db_acc[co] += dy[co].sum()
    if dy.size == 0:
        dx[:] = 0.0
        return
    xp = _pad(x, pad)
    dxp = np.zeros_like(xp)
    if stride[0] == 1 and stride[1] == 1:
        _backward_flat(xp, w, dy, dilation, mask, dxp, dw_acc)
    else:
        _backward_rows(xp, w, dy, stride, dilation, mask, dxp, dw_acc)
    dx[:] = dxp[:, top:top + h, left:left + wd]


@njit(cache=True)
def conv2d_backward(x, w, dy, stride, pad, dilation, mask):
    """Gradients of conv2d: x (C_in,H,W), dy (C_out,Ho,Wo) -> dx (like x), dw (like w), db (C_out,).

    dw[co,ci,ky,kx] = mask[co,ci] * sum_{oy,ox} dy[co,oy,ox] * xp[ci, oy*sh+ky*dh, ox*sw+kx*dw];
    db[co] = sum dy[co]; dx = the transpose: each dy[co,oy,ox] * w[co,ci,ky,kx] scattered back."""
    dx = np.empty_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], np.float32)
    _backward_into(x, w, dy, stride, pad, dilation, mask, dx, dw, db)
    return dx, dw, db


@njit(cache=True, parallel=True)
def conv2d_backward_batch(x, w, dy, stride, pad, dilation, mask):
    """Batch gradients: x (N,C_in,H,W), dy (N,C_out,Ho,Wo) -> dx (N,C_in,H,W), dw, db summed over N.

    Race-free: each thread-chunk of images accumulates its own dw/db, summed at the end."""
    n = x.shape[0]
    c_out, c_in, kh, kw = w.shape
    chunks = max(1, min(n, 16))  # fixed, not get_num_threads(): keeps the kernel cacheable
    dw_parts = np.zeros((chunks, c_out, c_in, kh, kw), np.float32)
    db_parts = np.zeros((chunks, c_out), np.float32)
    dx = np.empty_like(x)
    for c in prange(chunks):
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            _backward_into(x[i], w, dy[i], stride, pad, dilation, mask, dx[i],
                           dw_parts[c], db_parts[c])
    return dx, dw_parts.sum(axis=0), db_parts.sum(axis=0)
