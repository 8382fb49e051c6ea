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
def _backward_flat_dw(xf, gp, p0, n, mask, kernel, m, wp, dilation, dwf):
    """dwf (C_out, C_in, KH*KW) += sum_{q<n} gp[co, p0 + q] * xf[ci*m + ky*dh*Wp + kx*dw + q]
    (m = Hp*Wp), four output channels cos at a time (a short last group repeats its last channel);
    the tap table (offs, tci = ci, tk = ky*KW + kx) holds every tap of an input channel connected
    to any of them."""
    c_out = gp.shape[0]
    c_in, kh, kw = kernel
    offs = np.zeros(c_in * kh * kw, np.int64)
    tci, tk = np.zeros(offs.size, np.int64), np.zeros(offs.size, np.int64)
    cos = np.empty(4, np.int64)
    for co0 in range(0, c_out, 4):
        for u in range(4):
            cos[u] = min(co0 + u, c_out - 1)
        t = 0
        for ci in range(c_in):
            if (mask[cos[0], ci] == 0.0 and mask[cos[1], ci] == 0.0 and mask[cos[2], ci] == 0.0
                    and mask[cos[3], ci] == 0.0):
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[t] = ci * m + ky * dilation[0] * wp + kx * dilation[1]
                    tci[t], tk[t] = ci, ky * kw + kx
                    t += 1
        _dw_quad(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dwf)


@njit(cache=True)
def _backward_flat_dx(gp, w, mask, p0, wp, dilation, dxf):
    """Every element of dxf (C_in, Hp*Wp): dxf[ci, p] = sum_{co, ky, kx} w[co, ci, ky, kx] *
    mask[co, ci] * gp[co, p0 + p - ky*dh*Wp - kx*dw] (the flipped kernel), two input channels
    per sweep; the tap table holds every (co, ky, kx) of an output channel connected to either."""
    c_out, c_in, kh, kw = w.shape
    span, m = gp.shape[1], dxf.shape[1]
    gf = gp.reshape(c_out * span)
    offs = np.zeros(c_out * kh * kw + 3, np.int64)  # +3 for the padding
    wa, wb = np.zeros(offs.size, np.float32), np.zeros(offs.size, np.float32)
    a0, a1 = np.empty(m, np.float32), np.empty(m, np.float32)
    for ci0 in range(0, c_in, 2):
        ci1 = min(ci0 + 1, c_in - 1)
        t = 0
        for co in range(c_out):
            if mask[co, ci0] == 0.0 and mask[co, ci1] == 0.0:
                continue
            for ky in range(kh):
                for kx in range(kw):
                    offs[t] = co * span + p0 - ky * dilation[0] * wp - kx * dilation[1]
                    wa[t] = w[co, ci0, ky, kx] * mask[co, ci0]
                    wb[t] = w[co, ci1, ky, kx] * mask[co, ci1]
                    t += 1
        a0[:] = 0.0
        a1[:] = 0.0
        _sweep_pair(gf, offs, wa, wb, _pad_pair_taps(offs, wa, wb, t), a0, a1)
        dxf[ci1] = a1
        dxf[ci0] = a0


@njit(cache=True)
def _backward_flat(xp, w, dy, dilation, mask, need_dx, dxp, dw_acc):
    """Stride-1 backward on the padded-width layout: adds into dw_acc; if need_dx, writes every
    element of dxp (C_in, Hp, Wp).

    g[co] is dy[co] at the padded width Wp (extra columns 0), a run of n = (Ho-1)*Wp + Wo; a tap
    (ci, ky, kx) sits at flat offset off = ky*dh*Wp + kx*dw of channel ci. Then
        dw[co, ci, ky, kx] = sum_q g[co][q] * xp[ci].flat[off + q]     (dot products)
        dxp[ci].flat[p]    = sum_{co, ky, kx} w[co, ci, ky, kx] * g[co][p - off]
    -- the correlation of g, zero-extended by P0 = max off in front (gp), with the flipped kernel."""
    c_out, c_in, kh, kw = w.shape
    ho, wo = dy.shape[1], dy.shape[2]
    hp, wp = xp.shape[1], xp.shape[2]
    n, m = (ho - 1) * wp + wo, hp * wp
    p0 = (kh - 1) * dilation[0] * wp + (kw - 1) * dilation[1]
    gp = _padded_dy(dy, wp, p0, p0 + m)
    _backward_flat_dw(xp.reshape(c_in * m), gp, p0, n, mask, (c_in, kh, kw), m, wp, dilation,
                      dw_acc.reshape(c_out, c_in, kh * kw))
    if need_dx:
        _backward_flat_dx(gp, w, mask, p0, wp, dilation, dxp.reshape(c_in, m))


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
    """Gradients of conv2d: x (C_in,H,W), dy (C_out,Ho,Wo) -> dx (like x), dw (like w), db (C_out,),
    by the formulas above (dw is exactly 0 where mask is 0)."""
    dx = np.empty_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], np.float32)
    _backward_into(x, w, dy, stride, pad, dilation, mask, True, dx, dw, db)
    return dx, dw, db


@njit(cache=True)
def _backward_chunk(x, w, dy, stride, pad, dilation, mask, need_dx, dx, c, chunks, dw_parts,
                    db_parts):
    """The images of chunk c (kernels/chunks.py) into dw_parts[c], db_parts[c]; dx[i] if need_dx."""
    none = np.empty((0, 0, 0), np.float32)
    start, stop = chunk_images(c, x.shape[0], chunks)
    for i in range(start, stop):
        _backward_into(x[i], w, dy[i], stride, pad, dilation, mask, need_dx,
                       dx[i] if need_dx else none, dw_parts[c], db_parts[c])


# Both batch entry points hold their own prange (see conv_lab.py), over the fixed chunks.
@njit(cache=True, parallel=True)
def conv2d_backward_batch(x, w, dy, stride, pad, dilation, mask):
    """Batch gradients: x (N,C_in,H,W), dy (N,C_out,Ho,Wo) -> dx (N,C_in,H,W), dw, db summed over N
    (in fixed chunks, so bit-identical whatever the thread count)."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    dx = np.empty_like(x)
    for c in prange(chunks):
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, True, dx, c, chunks, dw_parts,
                        db_parts)
    dw, db = chunk_sums(dw_parts, db_parts)
    return dx, dw, db


@njit(cache=True, parallel=True)
def conv2d_backward_params_batch(x, w, dy, stride, pad, dilation, mask):
    """(dw, db) of conv2d_backward_batch without dx: for a first layer, whose input needs none.
    The same chunks and order, so dw, db are bit-identical to conv2d_backward_batch's."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    dx = np.empty((0, 0, 0, 0), np.float32)
    for c in prange(chunks):
        _backward_chunk(x, w, dy, stride, pad, dilation, mask, False, dx, c, chunks, dw_parts,
                        db_parts)
    return chunk_sums(dw_parts, db_parts)
