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
SIMD-friendly run. The stride-1 backward uses the same layout in two register-blocked passes: dw
as dot products over that run (four output channels x four taps per sweep), and dx as the 1-D
correlation of dy (at the padded width, zero-extended) with the flipped kernel, swept over whole
padded planes two input channels at a time like the forward pass. (One fused per-tap sweep that
scattered w * dy into dx measured ~1.5x slower; any stride keeps the row-wise scatter.)
``conv2d_backward_params_batch`` skips dx (a network's first layer needs none), and the
``conv2d_relu_max_pool2d*`` kernels run a conv -> ReLU -> max-pool chain in one call per direction
for the training path, without materialising the full-size conv output.

``conv2d_parallel`` and ``conv2d_depthwise`` are the kernel lab's path for one large image: the
row loop is compiled a second time with ``parallel=True`` (umap's trick) and split over
(C_out x Ho) rows. The ``_batch`` variants split the batch over threads instead.
"""
import types

import numpy as np
from numba import njit, prange

from .pool import _max_into, _max_relu_backward_into
from .pool import _out_size as _pool_out


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
    top, left = pad[0], pad[2]
    hp, wp = h + top + pad[1], w + left + pad[3]
    if hp == h and wp == w:
        return x.copy()
    xp = np.zeros((c, hp, wp), np.float32)
    for ci in range(c):  # element loops: a Numba slice assignment costs ~40 ns a call
        for iy in range(h):
            for ix in range(w):
                xp[ci, top + iy, left + ix] = x[ci, iy, ix]
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
        _sweep_pair(xf, offs, wa, wb, t, a0, a1)
        for oy in range(ho):  # element loops: a Numba slice assignment costs ~40 ns a call
            for ox in range(wo):
                y[co1, oy, ox] = a1[oy * wp + ox]
            for ox in range(wo):
                y[co0, oy, ox] = a0[oy * wp + ox]


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


@njit(cache=True)
def _dw_store(dw_acc, mask, cos, ci, kk, s0, s1, s2, s3):
    """Add the four channels' sums for tap (ci, kk); skip a pad tap (ci < 0), masked pairs and
    the repeated channels that fill a short last group."""
    if ci < 0:
        return
    sums = (s0, s1, s2, s3)
    for u in range(4):
        co = cos[u]
        if (u == 0 or co != cos[u - 1]) and mask[co, ci] != 0.0:
            dw_acc[co, ci, kk] += sums[u]


@njit(cache=True, fastmath=True)
def _dw_quad(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dw_acc):
    """dw for four output channels cos (g = gp[co, p0:p0 + n]: dy at the padded width): per tap
    k < t (t a multiple of 4), the dot products of each g with xf[offs[k]:offs[k] + n].
    Four channels x four taps per sweep: sixteen sums, each load feeding four multiply-adds."""
    g0, g1 = gp[cos[0], p0:p0 + n], gp[cos[1], p0:p0 + n]
    g2, g3 = gp[cos[2], p0:p0 + n], gp[cos[3], p0:p0 + n]
    for j in range(0, t, 4):
        x0, x1 = xf[offs[j]:offs[j] + n], xf[offs[j + 1]:offs[j + 1] + n]
        x2, x3 = xf[offs[j + 2]:offs[j + 2] + n], xf[offs[j + 3]:offs[j + 3] + n]
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = np.float32(0.0)
        c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = np.float32(0.0)
        for q in range(n):
            v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
            e, f, h, k = g0[q], g1[q], g2[q], g3[q]
            a0 += e * v0
            a1 += e * v1
            a2 += e * v2
            a3 += e * v3
            b0 += f * v0
            b1 += f * v1
            b2 += f * v2
            b3 += f * v3
            c0 += h * v0
            c1 += h * v1
            c2 += h * v2
            c3 += h * v3
            d0 += k * v0
            d1 += k * v1
            d2 += k * v2
            d3 += k * v3
        _dw_store(dw_acc, mask, cos, tci[j], tk[j], a0, b0, c0, d0)
        _dw_store(dw_acc, mask, cos, tci[j + 1], tk[j + 1], a1, b1, c1, d1)
        _dw_store(dw_acc, mask, cos, tci[j + 2], tk[j + 2], a2, b2, c2, d2)
        _dw_store(dw_acc, mask, cos, tci[j + 3], tk[j + 3], a3, b3, c3, d3)


@njit(cache=True, fastmath=True)
def _sweep_pair(src, offs, wa, wb, t, a0, a1):
    """a0[q] += sum_{k<t} wa[k] * src[offs[k] + q], a1 likewise with wb (t a multiple of 4)."""
    m = a0.size
    for j in range(0, t, 4):
        x0, x1 = src[offs[j]:offs[j] + m], src[offs[j + 1]:offs[j + 1] + m]
        x2, x3 = src[offs[j + 2]:offs[j + 2] + m], src[offs[j + 3]:offs[j + 3] + m]
        p0, p1, p2, p3 = wa[j], wa[j + 1], wa[j + 2], wa[j + 3]
        r0, r1, r2, r3 = wb[j], wb[j + 1], wb[j + 2], wb[j + 3]
        for q in range(m):  # load once: a0's store could alias x for all LLVM knows
            v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
            a0[q] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
            a1[q] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3


@njit(cache=True)
def _backward_flat(xp, w, dy, dilation, mask, need_dx, dxp, dw_acc):
    """Stride-1 backward on the padded-width layout: adds into dw_acc; if need_dx, writes every
    element of dxp (C_in, Hp, Wp).

    g[co] is dy[co] laid out at the padded width Wp (extra columns 0), a run of n = (Ho-1)*Wp + Wo;
    a tap (ci, ky, kx) sits at flat offset off = ky*dh*Wp + kx*dw of channel ci. Then
        dw[co, ci, ky, kx] = sum_q g[co][q] * xp[ci].flat[off + q]     (dot products, _dw_quad)
        dxp[ci].flat[p]    = sum_{co, ky, kx} w[co, ci, ky, kx] * g[co][p - off]
    -- the correlation of g, zero-extended by P0 = max off in front, with the flipped kernel, swept
    over whole padded planes like the forward pass (_sweep_pair), two input channels at a time."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = dy.shape[1], dy.shape[2]
    hp, wp = xp.shape[1], xp.shape[2]
    dh, dw = dilation
    n = (ho - 1) * wp + wo
    m = hp * wp
    p0 = (kh - 1) * dh * wp + (kw - 1) * dw
    span = p0 + m  # gp row: P0 zeros, g (n), zeros up to P0 + m
    gp = np.zeros((c_out, span), np.float32)
    for co in range(c_out):
        for oy in range(ho):
            for ox in range(wo):
                gp[co, p0 + oy * wp + ox] = dy[co, oy, ox]
    ntap = kh * kw
    size = max(c_in, c_out) * ntap + 4
    offs = np.zeros(size, np.int64)
    tci = np.full(size, -1, np.int64)
    tk = np.zeros(size, np.int64)
    xf = xp.reshape(c_in * m)
    dwf = dw_acc.reshape(c_out, c_in, ntap)
    cos = np.empty(4, np.int64)
    for co0 in range(0, c_out, 4):
        for u in range(4):
            cos[u] = min(co0 + u, c_out - 1)  # a short last group repeats its last channel
        t = 0
        for ci in range(c_in):
            if (mask[cos[0], ci] == 0.0 and mask[cos[1], ci] == 0.0 and mask[cos[2], ci] == 0.0
                    and mask[cos[3], ci] == 0.0):
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[t] = ci * m + ky * dh * wp + kx * dw
                    tci[t], tk[t] = ci, ky * kw + kx
                    t += 1
        offs[t:t + 4], tci[t:t + 4] = 0, -1
        _dw_quad(xf, gp, p0, n, cos, offs, tci, tk, (t + 3) // 4 * 4, mask, dwf)
    if not need_dx:
        return
    gf = gp.reshape(c_out * span)
    dxf = dxp.reshape(c_in, m)
    wa, wb = np.zeros(size, np.float32), np.zeros(size, np.float32)
    a0, a1 = np.empty(m, np.float32), np.empty(m, np.float32)
    for ci0 in range(0, c_in, 2):
        ci1 = min(ci0 + 1, c_in - 1)
        t = 0
        for co in range(c_out):
            if mask[co, ci0] == 0.0 and mask[co, ci1] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[t] = co * span + p0 - ky * dh * wp - kx * dw
                    wa[t] = w[co, ci0, ky, kx] * mask[co, ci0]
                    wb[t] = w[co, ci1, ky, kx] * mask[co, ci1]
                    t += 1
        offs[t:t + 4], wa[t:t + 4], wb[t:t + 4] = 0, 0.0, 0.0
        a0[:] = 0.0
        a1[:] = 0.0
        _sweep_pair(gf, offs, wa, wb, (t + 3) // 4 * 4, a0, a1)
        dxf[ci1] = a1
        dxf[ci0] = a0


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
def _backward_into(x, w, dy, stride, pad, dilation, mask, need_dx, dx, dw_acc, db_acc):
    """One image: adds into dw_acc (like w) and db_acc (C_out,); if need_dx, writes dx (C_in, H, W)."""
    top, left = pad[0], pad[2]
    h, wd = x.shape[1], x.shape[2]
    for co in range(dy.shape[0]):
        db_acc[co] += dy[co].sum()
    if dy.size == 0:
        if need_dx:
            dx[:] = 0.0
        return
    xp = _pad(x, pad)
    if stride[0] == 1 and stride[1] == 1:
        dxp = np.empty_like(xp) if need_dx else np.empty((0, 0, 0), np.float32)
        _backward_flat(xp, w, dy, dilation, mask, need_dx, dxp, dw_acc)
    else:
        dxp = np.zeros_like(xp)
        _backward_rows(xp, w, dy, stride, dilation, mask, dxp, dw_acc)
    if need_dx:
        for ci in range(x.shape[0]):
            for iy in range(h):
                for ix in range(wd):
                    dx[ci, iy, ix] = dxp[ci, top + iy, left + ix]


@njit(cache=True)
def conv2d_backward(x, w, dy, stride, pad, dilation, mask):
    """Gradients of conv2d: x (C_in,H,W), dy (C_out,Ho,Wo) -> dx (like x), dw (like w), db (C_out,).

    dw[co,ci,ky,kx] = mask[co,ci] * sum_{oy,ox} dy[co,oy,ox] * xp[ci, oy*sh+ky*dh, ox*sw+kx*dw];
    db[co] = sum dy[co]; dx = the transpose: each dy[co,oy,ox] * w[co,ci,ky,kx] scattered back."""
    dx = np.empty_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], np.float32)
    _backward_into(x, w, dy, stride, pad, dilation, mask, True, dx, dw, db)
    return dx, dw, db


@njit(cache=True)
def _backward_chunk(x, w, dy, stride, pad, dilation, mask, need_dx, dx, c, chunks, dw_parts,
                    db_parts):
    """Images [c*N//chunks, (c+1)*N//chunks) into chunk c's own dw/db accumulators."""
    n = x.shape[0]
    none = np.empty((0, 0, 0), np.float32)
    for i in range(c * n // chunks, (c + 1) * n // chunks):
        _backward_into(x[i], w, dy[i], stride, pad, dilation, mask, need_dx,
                       dx[i] if need_dx else none, dw_parts[c], db_parts[c])


# Both batch entry points hold their own prange (see conv2d_parallel). Images go in 16 fixed
# chunks, each accumulating its own dw/db, summed in chunk order: race-free, and the result does
# not depend on the thread count.
@njit(cache=True, parallel=True)
def conv2d_backward_batch(x, w, dy, stride, pad, dilation, mask):
    """Batch gradients: x (N,C_in,H,W), dy (N,C_out,Ho,Wo) -> dx (N,C_in,H,W), dw, db summed over N."""
    chunks = max(1, min(x.shape[0], 16))  # fixed, not get_num_threads(): keeps the kernel cacheable
    c_out, c_in, kh, kw = w.shape
    dw_parts = np.zeros((chunks, c_out, c_in, kh, kw), np.float32)
    db_parts = np.zeros((chunks, c_out), np.float32)
    dx = np.empty_like(x)
    for c in prange(chunks):
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, True, dx, c, chunks, dw_parts,
                        db_parts)
    return dx, dw_parts.sum(axis=0), db_parts.sum(axis=0)


@njit(cache=True, parallel=True)
def conv2d_backward_params_batch(x, w, dy, stride, pad, dilation, mask):
    """(dw, db) of conv2d_backward_batch without dx: for a first layer, whose input needs none.
    The same chunks and order, so dw, db are bit-identical to conv2d_backward_batch's."""
    chunks = max(1, min(x.shape[0], 16))
    c_out, c_in, kh, kw = w.shape
    dw_parts = np.zeros((chunks, c_out, c_in, kh, kw), np.float32)
    db_parts = np.zeros((chunks, c_out), np.float32)
    dx = np.empty((0, 0, 0, 0), np.float32)
    for c in prange(chunks):
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, False, dx, c, chunks, dw_parts,
                        db_parts)
    return dw_parts.sum(axis=0), db_parts.sum(axis=0)



# --- conv -> ReLU -> max-pool, fused for training ----------------------------------------------
# The training path runs each conv -> relu -> maxpool chain as one kernel per direction. The
# (N, C_out, Ho, Wo) conv output is never materialised: each image's conv output lives in a small
# per-image buffer while it is rectified and pooled (and, backward, while the pooled gradient is
# routed back through the winners). The backward needs only the pooled output and the winners:
# the ReLU passes a gradient exactly where the winner's conv output is > 0, i.e. where the pooled
# value (the winner's ReLU output) is > 0. Both equal the separate kernels run in sequence
# bit for bit (same operations in the same order).

@njit(cache=True)
def _conv_relu_pool_into(x, w, b, stride, pad, dilation, mask, size, pool_stride, pool_pad,
                         ho, wo, pooled, winners):
    y = np.empty((w.shape[0], ho, wo), np.float32)
    _forward_into(x, w, b, stride, pad, dilation, mask, y)
    flat = y.reshape(y.size)
    for k in range(flat.size):
        v = flat[k]
        flat[k] = v if v > 0 else 0
    _max_into(y, size, pool_stride, pool_pad, pooled, winners)


@njit(cache=True, parallel=True)
def conv2d_relu_max_pool2d_batch(x, w, b, stride, pad, dilation, mask, size, pool_stride,
                                 pool_pad):
    """max_pool2d_batch(relu(conv2d_batch(x, w, b, ...)), size, pool_stride, pool_pad) in one pass:
    x (N, C_in, H, W) -> (pooled (N, C_out, Hq, Wq), winners (N, C_out, Hq, Wq) int32), winners
    indexing the conv output plane (Ho, Wo) as max_pool2d's do."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    hq = _pool_out(ho, size[0], pool_stride[0], pool_pad[0] + pool_pad[1])
    wq = _pool_out(wo, size[1], pool_stride[1], pool_pad[2] + pool_pad[3])
    pooled = np.empty((x.shape[0], w.shape[0], hq, wq), np.float32)
    winners = np.empty((x.shape[0], w.shape[0], hq, wq), np.int32)
    for i in prange(x.shape[0]):
        _conv_relu_pool_into(x[i], w, b, stride, pad, dilation, mask, size, pool_stride, pool_pad,
                             ho, wo, pooled[i], winners[i])
    return pooled, winners


@njit(cache=True)
def _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                   need_dx, dx, c, chunks, dw_parts, db_parts):
    """Images of chunk c: dy = the pooled gradient dq routed to the winners where pooled > 0,
    then the conv backward of that image into chunk c's dw/db."""
    n = x.shape[0]
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    none = np.empty((0, 0, 0), np.float32)
    for i in range(c * n // chunks, (c + 1) * n // chunks):
        dy = np.zeros((w.shape[0], ho, wo), np.float32)
        _max_relu_backward_into(dq[i], winners[i], pooled[i], dy)
        _backward_into(x[i], w, dy, stride, pad, dilation, mask, need_dx,
                       dx[i] if need_dx else none, dw_parts[c], db_parts[c])


@njit(cache=True, parallel=True)
def conv2d_relu_max_pool2d_backward_batch(x, w, dq, pooled, winners, stride, pad, dilation,
                                          mask):
    """Gradients through conv -> relu -> maxpool: x (N,C_in,H,W) the conv input, dq the gradient
    w.r.t. the pooled output, pooled/winners from conv2d_relu_max_pool2d_batch ->
    (dx (N,C_in,H,W), dw, db), as conv2d_backward_batch (same chunks, same order)."""
    chunks = max(1, min(x.shape[0], 16))
    c_out, c_in, kh, kw = w.shape
    dw_parts = np.zeros((chunks, c_out, c_in, kh, kw), np.float32)
    db_parts = np.zeros((chunks, c_out), np.float32)
    dx = np.empty_like(x)
    for c in prange(chunks):
        _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                       True, dx, c, chunks, dw_parts, db_parts)
    return dx, dw_parts.sum(axis=0), db_parts.sum(axis=0)


@njit(cache=True, parallel=True)
def conv2d_relu_max_pool2d_backward_params_batch(x, w, dq, pooled, winners, stride, pad,
                                                 dilation, mask):
    """(dw, db) of conv2d_relu_max_pool2d_backward_batch without dx (a first layer)."""
    chunks = max(1, min(x.shape[0], 16))
    c_out, c_in, kh, kw = w.shape
    dw_parts = np.zeros((chunks, c_out, c_in, kh, kw), np.float32)
    db_parts = np.zeros((chunks, c_out), np.float32)
    dx = np.empty((0, 0, 0, 0), np.float32)
    for c in prange(chunks):
        _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                       False, dx, c, chunks, dw_parts, db_parts)
    return dw_parts.sum(axis=0), db_parts.sum(axis=0)
