"""2-D pooling -- max, average and L2 -- forward and backward passes.

Shape legend (single image; the ``_batch`` variants add a leading N to x, y, dx, dy, winners):
    x, dx: (C, H, W)   y, dy: (C, Ho, Wo)   winners: (C, Ho, Wo) int32
    size: (kh, kw)   stride: (sh, sw)   pad: (top, bottom, left, right)   in_shape: (H, W)
    Ho = max(0, (H + top + bottom - kh) // sh + 1), likewise Wo.

    max: y = max over the window, padding counts as -inf (a window lying entirely in padding
         gives -inf). winners[c, oy, ox] = iy * W + ix of the first maximum in row-major window
         order, in the *unpadded* plane, or -1 if the window lies entirely in padding.
    avg: y = sum over the window / (kh * kw)   (zero padding counted: count_include_pad=True)
    avg_exclusive: y = sum over the window / (taps inside the image)   (count_include_pad=False)
    l2:  y = sqrt(sum over the window of x**2)  (padding contributes 0)

One loop per output: interior windows run fixed (kh, kw) loops -- in the forward passes unrolled for the common 2x2 and
3x3 windows, which are compiled with literal sizes -- and border windows are clipped to the input,
so there is no padded copy and no per-element bounds check. The max is a branch-free select
(random data mispredicts an `if`).
"""
import numpy as np
from numba import njit, prange


@njit(cache=True)
def _out_size(n, k, stride, pad_total):
    return max(0, (n + pad_total - k) // stride + 1)


@njit(cache=True)
def _clip(o, stride, pad_before, k, n):
    """Window of output o along one axis: input start i0 and in-bounds tap range [lo, hi)."""
    i0 = o * stride - pad_before
    return i0, max(0, -i0), min(k, n - i0)


@njit(cache=True)
def _pooled_shape(x, size, stride, pad):  # x (..., H, W) -> (Ho, Wo)
    ho = _out_size(x.shape[-2], size[0], stride[0], pad[0] + pad[1])
    wo = _out_size(x.shape[-1], size[1], stride[1], pad[2] + pad[3])
    return ho, wo


@njit(cache=True)
def _max_window(x, ci, iy0, ix0, ylo, yhi, xlo, xhi, w):
    """(max, flat index iy*W+ix of the first max) over taps [ylo,yhi) x [xlo,xhi); -1 if none."""
    if ylo >= yhi or xlo >= xhi:
        return np.float32(-np.inf), -1
    best, win = x[ci, iy0 + ylo, ix0 + xlo], (iy0 + ylo) * w + ix0 + xlo
    for iy in range(iy0 + ylo, iy0 + yhi):
        for ix in range(ix0 + xlo, ix0 + xhi):
            v = x[ci, iy, ix]
            win += (v > best) * (iy * w + ix - win)  # branch-free; strict >: first maximum wins
            best = max(best, v)
    return best, win


@njit(cache=True)
def _window_sum(x, ci, iy0, ix0, ylo, yhi, xlo, xhi, squares):
    s = np.float32(0.0)
    for iy in range(iy0 + ylo, iy0 + yhi):
        for ix in range(ix0 + xlo, ix0 + xhi):
            v = x[ci, iy, ix]
            s += v * v if squares else v
    return s


@njit(cache=True)
def _window_add(gv, x, dx, ci, iy0, ix0, ylo, yhi, xlo, xhi):  # dx[window] += gv (* x[window])
    for iy in range(iy0 + ylo, iy0 + yhi):
        for ix in range(ix0 + xlo, ix0 + xhi):
            dx[ci, iy, ix] += gv * x[ci, iy, ix] if x.size > 0 else gv


# Each loop below visits every window: interior windows through the fixed (kh, kw) loops, which
# unroll when kh, kw are compile-time constants (see _max_into below); border windows clipped.

@njit(cache=True)
def _max_loop(x, kh, kw, stride, pad, y, winners):  # x (C,H,W) -> y, winners (C,Ho,Wo)
    c, h, w = x.shape
    for ci in range(c):
        for oy in range(y.shape[1]):
            iy0, ylo, yhi = _clip(oy, stride[0], pad[0], kh, h)
            for ox in range(y.shape[2]):
                ix0, xlo, xhi = _clip(ox, stride[1], pad[2], kw, w)
                if ylo == 0 and yhi == kh and xlo == 0 and xhi == kw:
                    m = _max_window(x, ci, iy0, ix0, 0, kh, 0, kw, w)
                else:
                    m = _max_window(x, ci, iy0, ix0, ylo, yhi, xlo, xhi, w)
                y[ci, oy, ox], winners[ci, oy, ox] = m


@njit(cache=True)
def _sum_loop(x, kh, kw, stride, pad, squares, y):  # y (C,Ho,Wo) = window sums of x or x**2
    c, h, w = x.shape
    for ci in range(c):
        for oy in range(y.shape[1]):
            iy0, ylo, yhi = _clip(oy, stride[0], pad[0], kh, h)
            for ox in range(y.shape[2]):
                ix0, xlo, xhi = _clip(ox, stride[1], pad[2], kw, w)
                if ylo == 0 and yhi == kh and xlo == 0 and xhi == kw:
                    y[ci, oy, ox] = _window_sum(x, ci, iy0, ix0, 0, kh, 0, kw, squares)
                else:
                    y[ci, oy, ox] = _window_sum(x, ci, iy0, ix0, ylo, yhi, xlo, xhi, squares)


@njit(cache=True)
def _add_loop(g, kh, kw, stride, pad, x, dx):  # dx (C,H,W) += g[c,oy,ox] (* x) over each window
    c, h, w = dx.shape
    for ci in range(c):
        for oy in range(g.shape[1]):
            iy0, ylo, yhi = _clip(oy, stride[0], pad[0], kh, h)
            for ox in range(g.shape[2]):
                ix0, xlo, xhi = _clip(ox, stride[1], pad[2], kw, w)
                gv = g[ci, oy, ox]
                if ylo == 0 and yhi == kh and xlo == 0 and xhi == kw:
                    _window_add(gv, x, dx, ci, iy0, ix0, 0, kh, 0, kw)
                else:
                    _window_add(gv, x, dx, ci, iy0, ix0, ylo, yhi, xlo, xhi)


# The common 2x2 and 3x3 windows are passed as literal constants, so LLVM inlines
# and unrolls them (a runtime-size 2x2 window loop measured several times slower).

@njit(cache=True)
def _max_into(x, size, stride, pad, y, winners):
    if size[0] == 2 and size[1] == 2:
        _max_loop(x, 2, 2, stride, pad, y, winners)
    elif size[0] == 3 and size[1] == 3:
        _max_loop(x, 3, 3, stride, pad, y, winners)
    else:
        _max_loop(x, size[0], size[1], stride, pad, y, winners)


@njit(cache=True)
def _sum_into(x, size, stride, pad, squares, y):
    if size[0] == 2 and size[1] == 2:
        _sum_loop(x, 2, 2, stride, pad, squares, y)
    elif size[0] == 3 and size[1] == 3:
        _sum_loop(x, 3, 3, stride, pad, squares, y)
    else:
        _sum_loop(x, size[0], size[1], stride, pad, squares, y)


@njit(cache=True)
def _scatter_into(g, size, stride, pad, x, dx):
    """dx (C,H,W) += g[c,oy,ox] * (x[c,iy,ix] if x.size else 1) over each window."""
    _add_loop(g, size[0], size[1], stride, pad, x, dx)


@njit(cache=True)
def _max_backward_into(dy, winners, dx):  # dx (C,H,W) zeroed; dy, winners (C,Ho,Wo)
    flat = dx.reshape(dx.shape[0], dx.shape[1] * dx.shape[2])
    for ci in range(dy.shape[0]):
        for oy in range(dy.shape[1]):
            for ox in range(dy.shape[2]):
                k = winners[ci, oy, ox]
                if k >= 0:
                    flat[ci, k] += dy[ci, oy, ox]


@njit(cache=True)
def _avg_into(x, size, stride, pad, y):
    _sum_into(x, size, stride, pad, False, y)
    y *= np.float32(1.0 / (size[0] * size[1]))


@njit(cache=True)
def _avg_exclusive_into(x, size, stride, pad, y):
    _sum_into(x, size, stride, pad, False, y)
    h, w = x.shape[1], x.shape[2]
    for oy in range(y.shape[1]):
        _, ylo, yhi = _clip(oy, stride[0], pad[0], size[0], h)
        for ox in range(y.shape[2]):
            _, xlo, xhi = _clip(ox, stride[1], pad[2], size[1], w)
            n = max(0, yhi - ylo) * max(0, xhi - xlo)
            inv = np.float32(1.0 / n) if n > 0 else np.float32(0.0)
            for ci in range(y.shape[0]):
                y[ci, oy, ox] *= inv


@njit(cache=True)
def _avg_exclusive_backward_into(dy, size, stride, pad, dx):  # dx (C,H,W) zeroed
    h, w = dx.shape[1], dx.shape[2]
    g = np.empty_like(dy)
    for oy in range(dy.shape[1]):
        _, ylo, yhi = _clip(oy, stride[0], pad[0], size[0], h)
        for ox in range(dy.shape[2]):
            _, xlo, xhi = _clip(ox, stride[1], pad[2], size[1], w)
            n = max(0, yhi - ylo) * max(0, xhi - xlo)
            inv = np.float32(1.0 / n) if n > 0 else np.float32(0.0)
            for ci in range(dy.shape[0]):
                g[ci, oy, ox] = dy[ci, oy, ox] * inv
    _scatter_into(g, size, stride, pad, np.empty((0, 0, 0), np.float32), dx)


@njit(cache=True)
def _l2_into(x, size, stride, pad, y):
    _sum_into(x, size, stride, pad, True, y)
    np.sqrt(y, y)


@njit(cache=True)
def _avg_backward_into(dy, size, stride, pad, dx):  # dx (C,H,W) zeroed
    g = dy * np.float32(1.0 / (size[0] * size[1]))
    _scatter_into(g, size, stride, pad, np.empty((0, 0, 0), np.float32), dx)


@njit(cache=True)
def _l2_backward_into(x, y, dy, size, stride, pad, dx):  # d sqrt(sum x^2)/dx = x / y
    g = np.empty(dy.shape, np.float32)   # dy / y, 0 where y == 0 (a loop: np.where took 6 s to compile)
    for c in range(g.shape[0]):
        for i in range(g.shape[1]):
            for j in range(g.shape[2]):
                v = y[c, i, j]
                g[c, i, j] = dy[c, i, j] / v if v > 0 else np.float32(0.0)
    _scatter_into(g, size, stride, pad, x, dx)


# --- public single-image kernels -------------------------------------------------------------

@njit(cache=True)
def max_pool2d(x, size, stride, pad):
    """x (C,H,W) -> (y (C,Ho,Wo) float32, winners (C,Ho,Wo) int32)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], ho, wo), np.float32)
    winners = np.empty((x.shape[0], ho, wo), np.int32)
    _max_into(x, size, stride, pad, y, winners)
    return y, winners


@njit(cache=True)
def max_pool2d_backward(dy, winners, in_shape):
    """dy, winners (C,Ho,Wo), in_shape (H, W) -> dx (C,H,W): dy routed to each window's winner."""
    dx = np.zeros((dy.shape[0], in_shape[0], in_shape[1]), np.float32)
    _max_backward_into(dy, winners, dx)
    return dx


@njit(cache=True)
def avg_pool2d(x, size, stride, pad):
    """x (C,H,W) -> y (C,Ho,Wo): window sum / (kh*kw)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], ho, wo), np.float32)
    _avg_into(x, size, stride, pad, y)
    return y


@njit(cache=True)
def avg_pool2d_exclusive(x, size, stride, pad):
    """x (C,H,W) -> y (C,Ho,Wo): window sum / (taps inside the image); 0 for an all-padding window."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], ho, wo), np.float32)
    _avg_exclusive_into(x, size, stride, pad, y)
    return y


@njit(cache=True)
def avg_pool2d_backward(dy, in_shape, size, stride, pad):
    """dy (C,Ho,Wo), in_shape (H, W) -> dx (C,H,W): dy / (kh*kw) spread over each window."""
    dx = np.zeros((dy.shape[0], in_shape[0], in_shape[1]), np.float32)
    _avg_backward_into(dy, size, stride, pad, dx)
    return dx


@njit(cache=True)
def l2_pool2d(x, size, stride, pad):
    """x (C,H,W) -> y (C,Ho,Wo): sqrt of the window sum of squares."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], ho, wo), np.float32)
    _l2_into(x, size, stride, pad, y)
    return y


@njit(cache=True)
def l2_pool2d_backward(x, y, dy, size, stride, pad):
    """x (C,H,W), y = l2_pool2d(x), dy (C,Ho,Wo) -> dx (C,H,W) = sum over windows dy * x / y
    (0 where y == 0, the subgradient at the origin)."""
    dx = np.zeros_like(x)
    _l2_backward_into(x, y, dy, size, stride, pad, dx)
    return dx


# --- batch kernels: the leading N axis is split over threads ----------------------------------

@njit(cache=True, parallel=True)
def max_pool2d_batch(x, size, stride, pad):
    """x (N,C,H,W) -> (y (N,C,Ho,Wo), winners (N,C,Ho,Wo) int32)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], x.shape[1], ho, wo), np.float32)
    winners = np.empty((x.shape[0], x.shape[1], ho, wo), np.int32)
    for i in prange(x.shape[0]):
        _max_into(x[i], size, stride, pad, y[i], winners[i])
    return y, winners


@njit(cache=True, parallel=True)
def max_pool2d_backward_batch(dy, winners, in_shape):
    """dy, winners (N,C,Ho,Wo), in_shape (H, W) -> dx (N,C,H,W)."""
    dx = np.zeros((dy.shape[0], dy.shape[1], in_shape[0], in_shape[1]), np.float32)
    for i in prange(dy.shape[0]):
        _max_backward_into(dy[i], winners[i], dx[i])
    return dx


@njit(cache=True, parallel=True)
def avg_pool2d_batch(x, size, stride, pad):
    """x (N,C,H,W) -> y (N,C,Ho,Wo)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], x.shape[1], ho, wo), np.float32)
    for i in prange(x.shape[0]):
        _avg_into(x[i], size, stride, pad, y[i])
    return y


@njit(cache=True, parallel=True)
def avg_pool2d_exclusive_batch(x, size, stride, pad):
    """x (N,C,H,W) -> y (N,C,Ho,Wo)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], x.shape[1], ho, wo), np.float32)
    for i in prange(x.shape[0]):
        _avg_exclusive_into(x[i], size, stride, pad, y[i])
    return y


@njit(cache=True)
def avg_pool2d_exclusive_backward(dy, in_shape, size, stride, pad):
    """dy (C,Ho,Wo), in_shape (H, W) -> dx (C,H,W): each dy / (its window's taps inside the image)
    given to those taps."""
    dx = np.zeros((dy.shape[0], in_shape[0], in_shape[1]), np.float32)
    _avg_exclusive_backward_into(dy, size, stride, pad, dx)
    return dx


@njit(cache=True, parallel=True)
def avg_pool2d_exclusive_backward_batch(dy, in_shape, size, stride, pad):
    """dy (N,C,Ho,Wo), in_shape (H, W) -> dx (N,C,H,W)."""
    dx = np.zeros((dy.shape[0], dy.shape[1], in_shape[0], in_shape[1]), np.float32)
    for i in prange(dy.shape[0]):
        _avg_exclusive_backward_into(dy[i], size, stride, pad, dx[i])
    return dx


@njit(cache=True, parallel=True)
def avg_pool2d_backward_batch(dy, in_shape, size, stride, pad):
    """dy (N,C,Ho,Wo), in_shape (H, W) -> dx (N,C,H,W)."""
    dx = np.zeros((dy.shape[0], dy.shape[1], in_shape[0], in_shape[1]), np.float32)
    for i in prange(dy.shape[0]):
        _avg_backward_into(dy[i], size, stride, pad, dx[i])
    return dx


@njit(cache=True, parallel=True)
def l2_pool2d_batch(x, size, stride, pad):
    """x (N,C,H,W) -> y (N,C,Ho,Wo)."""
    ho, wo = _pooled_shape(x, size, stride, pad)
    y = np.empty((x.shape[0], x.shape[1], ho, wo), np.float32)
    for i in prange(x.shape[0]):
        _l2_into(x[i], size, stride, pad, y[i])
    return y


@njit(cache=True, parallel=True)
def l2_pool2d_backward_batch(x, y, dy, size, stride, pad):
    """x (N,C,H,W), y, dy (N,C,Ho,Wo) -> dx (N,C,H,W)."""
    dx = np.zeros_like(x)
    for i in prange(x.shape[0]):
        _l2_backward_into(x[i], y[i], dy[i], size, stride, pad, dx[i])
    return dx
