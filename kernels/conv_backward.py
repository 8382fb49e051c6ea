"""2-D convolution backward pass: gradients of kernels/conv.py's conv2d, one image or a batch.

Shape legend (single image; the ``_batch`` variants add a leading N to x, dx, dy):
    x, dx: (C_in, H, W)   w, dw: (C_out, C_in, KH, KW)   db: (C_out,)   mask: (C_out, C_in) of 0/1
    dy: (C_out, Ho, Wo)   stride: (sh, sw)   dilation: (dh, dw)   pad: (top, bottom, left, right)
    xp, dxp: (C_in, Hp, Wp), x (dx) with its zero border.

    dw[co, ci, ky, kx] = mask[co, ci] * sum_{oy, ox} dy[co, oy, ox] * xp[ci, oy*sh + ky*dh, ox*sw + kx*dw]
    db[co]             = sum_{oy, ox} dy[co, oy, ox]
    dxp[ci, oy*sh + ky*dh, ox*sw + kx*dw] += mask[co, ci] * w[co, ci, ky, kx] * dy[co, oy, ox]
                                                     (summed over co, oy, ox, ky, kx; dx = dxp cropped)

Stride 1 uses the forward's padded-width layout (kernels/conv_sweep.py) in two register-blocked
passes: dw as dot products over the run (four output channels x four taps per sweep, _dw_quad),
and dx as the 1-D correlation of dy (at the padded width, zero-extended) with the flipped kernel,
swept over whole padded planes two input channels at a time (_sweep_pair). (One fused per-tap
sweep that scattered w * dy into dx measured ~1.5x slower.) Any other stride keeps a row-wise
scatter. The batch variants accumulate dw, db in fixed chunks (kernels/chunks.py);
conv2d_backward_params_batch skips dx (a network's first layer needs none).
"""
import numpy as np
from numba import njit, prange

from .chunks import chunk_accumulators, chunk_images, chunk_sums
from .conv_sweep import _dw_quad, _pad, _pad_pair_taps, _sweep_pair


@njit(cache=True)
def _padded_dy(dy, wp, p0, span):
    """gp (C_out, span): gp[co, p0 + oy*Wp + ox] = dy[co, oy, ox] (dy at the padded width Wp,
    after p0 zeros), 0 everywhere else."""
    c_out, ho, wo = dy.shape
    gp = np.zeros((c_out, span), np.float32)
    for co in range(c_out):
        for oy in range(ho):
            for ox in range(wo):
                gp[co, p0 + oy * wp + ox] = dy[co, oy, ox]
    return gp


@njit(cache=True)
def _dw_tables(mask, kernel, m, wp, dilation):
    """The dw pass's tap tables, one row per group of four output channels cos[g] (a short last
    group repeats its last channel): offs[g, k] = ci*m + ky*dh*Wp + kx*dw (m = Hp*Wp), tci[g, k] = ci,
    tk[g, k] = ky*KW + kx over every tap of an input channel connected to any of them, counts[g]
    taps in all. They depend on the mask and shapes only: a batch builds them once."""
    c_out = mask.shape[0]
    c_in, kh, kw = kernel
    quads = (c_out + 3) // 4
    cos = np.empty((quads, 4), np.int64)
    offs = np.zeros((quads, c_in * kh * kw), np.int64)
    tci, tk = np.zeros((quads, offs.shape[1]), np.int64), np.zeros((quads, offs.shape[1]), np.int64)
    counts = np.zeros(quads, np.int64)
    for g in range(quads):
        for u in range(4):
            cos[g, u] = min(4 * g + u, c_out - 1)
        t = 0
        for ci in range(c_in):
            if (mask[cos[g, 0], ci] == 0.0 and mask[cos[g, 1], ci] == 0.0
                    and mask[cos[g, 2], ci] == 0.0 and mask[cos[g, 3], ci] == 0.0):
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[g, t] = ci * m + ky * dilation[0] * wp + kx * dilation[1]
                    tci[g, t], tk[g, t] = ci, ky * kw + kx
                    t += 1
        counts[g] = t
    return cos, offs, tci, tk, counts


@njit(cache=True)
def _backward_flat_dw(xf, gp, p0, n, mask, dw_tables, dwf):
    """dwf (C_out, C_in, KH*KW) += sum_{q<n} gp[co, p0 + q] * xf[ci*m + ky*dh*Wp + kx*dw + q],
    four output channels at a time, over the tables of _dw_tables."""
    cos, offs, tci, tk, counts = dw_tables
    for g in range(cos.shape[0]):
        _dw_quad(xf, gp, p0, n, cos[g], offs[g], tci[g], tk[g], counts[g], mask, dwf)


@njit(cache=True)
def _dx_tables(w, mask, p0, wp, dilation, span):
    """The dx pass's tap tables, one row per pair of input channels (ci0, ci1) = (2p,
    min(2p + 1, C_in - 1)): offs[p, k] = co*span + P0 - ky*dh*Wp - kx*dw, wa[p, k] and wb[p, k]
    the flipped kernel's weights w[co, ci0 or ci1, ky, kx] * mask, over every (co, ky, kx) of an
    output channel connected to either; groups[p] counts them in fours (_pad_pair_taps)."""
    c_out, c_in, kh, kw = w.shape
    pairs = (c_in + 1) // 2
    size = c_out * kh * kw + 3                     # +3 for the padding to whole groups
    offs = np.zeros((pairs, size), np.int64)
    wa, wb = np.zeros((pairs, size), np.float32), np.zeros((pairs, size), np.float32)
    groups = np.zeros(pairs, np.int64)
    for pi in range(pairs):
        ci0 = 2 * pi
        ci1 = min(ci0 + 1, c_in - 1)
        t = 0
        for co in range(c_out):
            if mask[co, ci0] == 0.0 and mask[co, ci1] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[pi, t] = co * span + p0 - ky * dilation[0] * wp - kx * dilation[1]
                    wa[pi, t] = w[co, ci0, ky, kx] * mask[co, ci0]
                    wb[pi, t] = w[co, ci1, ky, kx] * mask[co, ci1]
                    t += 1
        groups[pi] = _pad_pair_taps(offs[pi], wa[pi], wb[pi], t)
    return offs, wa, wb, groups


@njit(cache=True)
def _backward_flat_dx(gp, dx_tables, dxf):
    """Every element of dxf (C_in, Hp*Wp): dxf[ci, p] = sum_{co, ky, kx} w[co, ci, ky, kx] *
    mask[co, ci] * gp[co, p0 + p - ky*dh*Wp - kx*dw] (the flipped kernel), two input channels
    per sweep, over the tables of _dx_tables."""
    offs, wa, wb, groups = dx_tables
    c_in, m = dxf.shape
    gf = gp.reshape(gp.size)
    a0, a1 = np.empty(m, np.float32), np.empty(m, np.float32)
    for pi in range(offs.shape[0]):
        ci0 = 2 * pi
        ci1 = min(ci0 + 1, c_in - 1)
        a0[:] = 0.0
        a1[:] = 0.0
        _sweep_pair(gf, offs[pi], wa[pi], wb[pi], groups[pi], a0, a1)
        dxf[ci1] = a1
        dxf[ci0] = a0


@njit(cache=True)
def _flat_geometry(x, w, pad, dilation):
    """(Wp, n, m, P0) of the stride-1 backward for inputs shaped like x (..., C_in, H, W)."""
    kh, kw = w.shape[2], w.shape[3]
    hp, wp = x.shape[-2] + pad[0] + pad[1], x.shape[-1] + pad[2] + pad[3]
    ho, wo = hp - dilation[0] * (kh - 1), wp - dilation[1] * (kw - 1)
    n = (ho - 1) * wp + wo
    p0 = (kh - 1) * dilation[0] * wp + (kw - 1) * dilation[1]
    return wp, n, hp * wp, p0


@njit(cache=True)
def _backward_tables(x, w, stride, pad, dilation, mask):
    """(dw tables, dx tables) of the stride-1 backward for inputs shaped like x; for any other
    stride (the row-wise scatter, which needs none) tables of no rows."""
    wp, n, m, p0 = _flat_geometry(x, w, pad, dilation)
    if stride[0] == 1 and stride[1] == 1:
        return (_dw_tables(mask, (w.shape[1], w.shape[2], w.shape[3]), m, wp, dilation),
                _dx_tables(w, mask, p0, wp, dilation, p0 + m))
    return (_dw_tables(mask[:0], (w.shape[1], w.shape[2], w.shape[3]), m, wp, dilation),
            _dx_tables(w[:, :0], mask[:, :0], p0, wp, dilation, p0 + m))


@njit(cache=True)
def _backward_flat(xp, w, dy, dilation, mask, need_dx, dxp, dw_acc, tables):
    """Stride-1 backward on the padded-width layout: adds into dw_acc; if need_dx, writes every
    element of dxp (C_in, Hp, Wp).

    g[co] is dy[co] at the padded width Wp (extra columns 0), a run of n = (Ho-1)*Wp + Wo; a tap
    (ci, ky, kx) sits at flat offset off = ky*dh*Wp + kx*dw of channel ci. Then
        dw[co, ci, ky, kx] = sum_q g[co][q] * xp[ci].flat[off + q]     (dot products)
        dxp[ci].flat[p]    = sum_{co, ky, kx} w[co, ci, ky, kx] * g[co][p - off]
    -- the correlation of g, zero-extended by P0 = max off in front (gp), with the flipped kernel.
    tables: _backward_tables for xp's image shape."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = dy.shape[1], dy.shape[2]
    hp, wp = xp.shape[1], xp.shape[2]
    n, m = (ho - 1) * wp + wo, hp * wp
    p0 = (kh - 1) * dilation[0] * wp + (kw - 1) * dilation[1]
    gp = _padded_dy(dy, wp, p0, p0 + m)
    _backward_flat_dw(xp.reshape(c_in * m), gp, p0, n, mask, tables[0],
                      dw_acc.reshape(c_out, c_in, kh * kw))
    if need_dx:
        _backward_flat_dx(gp, tables[1], dxp.reshape(c_in, m))


@njit(cache=True, fastmath=True)
def _backward_rows(xp, w, dy, stride, dilation, mask, dxp, dw_acc):
    """Any-stride backward, one output row (co, oy) at a time; adds into dxp (C_in, Hp, Wp) and
    dw_acc: per tap, dw += sum_ox dy[co, oy, ox] * xrow[kx*dw + ox*sw] and
    drow[kx*dw + ox*sw] += w[co, ci, ky, kx] * dy[co, oy, ox]."""
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
    _backward_into_tabled(x, w, dy, stride, pad, dilation, mask, need_dx, dx, dw_acc, db_acc,
                          _backward_tables(x, w, stride, pad, dilation, mask))


@njit(cache=True)
def _backward_into_tabled(x, w, dy, stride, pad, dilation, mask, need_dx, dx, dw_acc, db_acc,
                          tables):
    """_backward_into with the tables of _backward_tables for x's shape (a batch builds them once)."""
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
        _backward_flat(xp, w, dy, dilation, mask, need_dx, dxp, dw_acc, tables)
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
    """Gradients of conv2d: x (C_in,H,W), dy (C_out,Ho,Wo) -> dx (like x), dw (like w), db (C_out,),
    by the formulas above (dw is exactly 0 where mask is 0)."""
    dx = np.empty_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], np.float32)
    _backward_into(x, w, dy, stride, pad, dilation, mask, True, dx, dw, db)
    return dx, dw, db


@njit(cache=True)
def _backward_chunk(x, w, dy, stride, pad, dilation, mask, tables, need_dx, dx, c, chunks,
                    dw_parts, db_parts):
    """The images of chunk c (kernels/chunks.py) into dw_parts[c], db_parts[c]; dx[i] if need_dx."""
    none = np.empty((0, 0, 0), np.float32)
    start, stop = chunk_images(c, x.shape[0], chunks)
    for i in range(start, stop):
        _backward_into_tabled(x[i], w, dy[i], stride, pad, dilation, mask, need_dx,
                              dx[i] if need_dx else none, dw_parts[c], db_parts[c], tables)


# Both batch entry points hold their own prange (see conv_lab.py), over the fixed chunks.
@njit(cache=True, parallel=True)
def conv2d_backward_batch(x, w, dy, stride, pad, dilation, mask):
    """Batch gradients: x (N,C_in,H,W), dy (N,C_out,Ho,Wo) -> dx (N,C_in,H,W), dw, db summed over N
    (in fixed chunks, so bit-identical whatever the thread count)."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    # the tables once for the batch; a prange body takes arrays, not tuples of them
    (cos, dwo, tci, tk, counts), (dxo, wa, wb, groups) = _backward_tables(x, w, stride, pad, dilation, mask)
    dx = np.empty_like(x)
    for c in prange(chunks):
        tables = ((cos, dwo, tci, tk, counts), (dxo, wa, wb, groups))
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, tables, True, dx, c, chunks,
                        dw_parts, db_parts)
    dw, db = chunk_sums(dw_parts, db_parts)
    return dx, dw, db


@njit(cache=True, parallel=True)
def conv2d_backward_params_batch(x, w, dy, stride, pad, dilation, mask):
    """(dw, db) of conv2d_backward_batch without dx: for a first layer, whose input needs none.
    The same chunks and order: db is bit-identical to conv2d_backward_batch's, and so is dw at
    stride 1; at other strides dw equals it to float32 rounding (_backward_rows is fastmath, and
    without the dx stores the compiler may vectorise its row sums otherwise)."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    (cos, dwo, tci, tk, counts), (dxo, wa, wb, groups) = _backward_tables(x, w, stride, pad, dilation, mask)
    dx = np.empty((0, 0, 0, 0), np.float32)
    for c in prange(chunks):
        tables = ((cos, dwo, tci, tk, counts), (dxo, wa, wb, groups))
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, tables, False, dx, c, chunks,
                        dw_parts, db_parts)
    return chunk_sums(dw_parts, db_parts)
