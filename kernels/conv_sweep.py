"""The padded layout the conv kernels work on, and the register-blocked sweeps over it.

Shape legend: x: (C, H, W); xp: (C, Hp, Wp) = x zero-padded, Hp = H + top + bottom,
Wp = W + left + right; pad: (top, bottom, left, right); w: (C_out, C_in, KH, KW);
src, xf, gp rows: flat float32 runs; offs: (>= t,) int64 flat offsets of the taps;
wa, wb: (>= t,) float32 tap weights; a0, a1: (m,) float32 accumulators.

With stride 1 a whole output plane, laid out at the padded width Wp, is one contiguous run of
n = (Ho-1)*Wp + Wo elements (the Wp - Wo extra columns per row are computed and dropped): a tap
(ci, ky, kx) of the kernel is then a constant flat offset ci*Hp*Wp + ky*dh*Wp + kx*dw into xp,
and a conv is a sum of shifted runs -- long, contiguous, SIMD-friendly inner loops:
    _sweep_pair:  a[q] += sum_k wt[k] * src[offs[k] + q]      (forward, and the backward's dx)
    _dw_quad:     dw[k] = sum_q g[q] * xf[offs[k] + q]          (the backward's dw)
Both take taps four per pass over the run. _sweep_pair counts its taps in groups of four: its
callers pad their tables once with _pad_pair_taps (weight-0 taps at offset 0), which returns the
group count. _dw_quad takes any tap count t and reads only the first t table entries (a short
last group is filled with copies of its first tap whose sums are dropped). The tables depend on
the weights and shapes only, so a batch builds them once for all its images (kernels/conv.py
_pair_tables, kernels/conv_backward.py _dw_tables and _dx_tables): built per image, they cost
LeNet's conv2 about a sixth of its forward time.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _out_size(n, k, stride, dilation, pad_total):
    """Output positions along one axis: max(0, (n + pad_total - dilation*(k-1) - 1) // stride + 1)."""
    return max(0, (n + pad_total - dilation * (k - 1) - 1) // stride + 1)


@njit(cache=True)
def _output_shape(x, w, stride, pad, dilation):
    """(Ho, Wo) of the conv of x (..., C_in, H, W) with w (C_out, C_in, KH, KW)."""
    h, wd = x.shape[-2], x.shape[-1]
    ho = _out_size(h, w.shape[2], stride[0], dilation[0], pad[0] + pad[1])
    wo = _out_size(wd, w.shape[3], stride[1], dilation[1], pad[2] + pad[3])
    return ho, wo


@njit(cache=True)
def _pad_row(x, ci, iy, pad, row):
    """row (Wp,) <- row iy of channel ci of the zero-padded x (C, H, W)."""
    top, left, h, w = pad[0], pad[2], x.shape[1], x.shape[2]
    if iy < top or iy >= top + h:
        row[:] = 0.0
    else:
        row[:left] = 0.0
        row[left:left + w] = x[ci, iy - top]
        row[left + w:] = 0.0


@njit(cache=True)
def _pad(x, pad):
    """xp (C, Hp, Wp): a new array, x (C, H, W) inside a zero border of widths pad."""
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


@njit(cache=True)
def _quad(j, t):
    """Taps (k1, k2, k3) that follow tap j in _dw_quad's group of four, for t taps in all: j+u
    while j+u < t, else j itself (a filler, whose sums _dw_quad drops)."""
    k1 = j + 1 if j + 1 < t else j
    k2 = j + 2 if j + 2 < t else j
    k3 = j + 3 if j + 3 < t else j
    return k1, k2, k3


@njit(cache=True)
def _pad_pair_taps(offs, wa, wb, t):
    """Pad a tap table of t taps to whole groups of four for _sweep_pair: taps t .. 4*g - 1 get
    offset 0 and weights 0 (each adds exactly 0 for finite inputs); returns g = ceil(t / 4).
    The table arrays need room for t + 3 entries."""
    groups = (t + 3) // 4
    for k in range(t, 4 * groups):
        offs[k], wa[k], wb[k] = 0, 0.0, 0.0
    return groups


@njit(cache=True, fastmath=True)
def _sweep_pair(src, offs, wa, wb, groups, a0, a1):
    """For q < m = a0.size (a1.size == m) and the 4*groups taps k of the table:
        a0[q] += sum_{k<4*groups} wa[k] * src[offs[k] + q],   a1[q] likewise with wb.

    Taken in groups of four -- each load of src feeds eight multiply-adds -- and counted in
    groups, so that no tap count can be short of a group: a table of t taps is padded with
    _pad_pair_taps, which returns the count. Reads offs, wa, wb [:4*groups]; every
    offs[k] + m <= src.size. (Handling a short last group in here, with a select per tap,
    measured 1-2.5 % slower on LeNet's conv2, and so did a check raising on a bad count.)"""
    m = a0.size
    for g in range(groups):
        j = 4 * g
        x0, x1 = src[offs[j]:offs[j] + m], src[offs[j + 1]:offs[j + 1] + m]
        x2, x3 = src[offs[j + 2]:offs[j + 2] + m], src[offs[j + 3]:offs[j + 3] + m]
        p0, p1, p2, p3 = wa[j], wa[j + 1], wa[j + 2], wa[j + 3]
        r0, r1, r2, r3 = wb[j], wb[j + 1], wb[j + 2], wb[j + 3]
        for q in range(m):  # load once: a0's store could alias x for all LLVM knows
            v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
            a0[q] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
            a1[q] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3


@njit(cache=True)
def _dw_store(dw_acc, mask, cos, ci, kk, s0, s1, s2, s3):
    """dw_acc[cos[u], ci, kk] += s_u for the four channels cos; skips a filler tap (ci < 0),
    masked pairs and the repeated channels that fill a short last group of channels."""
    if ci < 0:
        return
    sums = (s0, s1, s2, s3)
    for u in range(4):
        co = cos[u]
        if (u == 0 or co != cos[u - 1]) and mask[co, ci] != 0.0:
            dw_acc[co, ci, kk] += sums[u]


@njit(cache=True, fastmath=True)
def _dw_quad(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dw_acc):
    """dw_acc (C_out, C_in, KH*KW)[co, tci[k], tk[k]] += sum_{q<n} gp[co, p0 + q] * xf[offs[k] + q]
    for the four output channels co in cos and every tap k < t (any t >= 0; only the first t
    entries of offs, tci, tk are read). Four channels x four taps per pass: sixteen sums, each
    load feeding four multiply-adds; a filler tap's sums are dropped."""
    g0, g1 = gp[cos[0], p0:p0 + n], gp[cos[1], p0:p0 + n]
    g2, g3 = gp[cos[2], p0:p0 + n], gp[cos[3], p0:p0 + n]
    for j in range(0, t, 4):
        k1, k2, k3 = _quad(j, t)
        x0, x1 = xf[offs[j]:offs[j] + n], xf[offs[k1]:offs[k1] + n]
        x2, x3 = xf[offs[k2]:offs[k2] + n], xf[offs[k3]:offs[k3] + n]
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
        _dw_store(dw_acc, mask, cos, tci[k1] if k1 != j else -1, tk[k1], a1, b1, c1, d1)
        _dw_store(dw_acc, mask, cos, tci[k2] if k2 != j else -1, tk[k2], a2, b2, c2, d2)
        _dw_store(dw_acc, mask, cos, tci[k3] if k3 != j else -1, tk[k3], a3, b3, c3, d3)
