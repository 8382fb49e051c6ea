"""Plain-NumPy reference twins of kernels/pool.py, written for clarity, not speed.

Shape legend: x: (C, H, W); y, dy, winners: (C, Ho, Wo); size (kh, kw); stride (sh, sw);
pad (top, bottom, left, right); in_shape (H, W). Float64 in the arithmetic, never calls Numba.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x, size, stride, pad, fill):
    """(C, Ho, Wo, kh, kw) windows of x padded with `fill`."""
    top, bottom, left, right = pad
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (top, bottom), (left, right)),
                constant_values=fill)
    if xp.shape[1] < size[0] or xp.shape[2] < size[1]:  # no output row or no output column
        ho = 0 if xp.shape[1] < size[0] else (xp.shape[1] - size[0]) // stride[0] + 1
        wo = 0 if xp.shape[2] < size[1] else (xp.shape[2] - size[1]) // stride[1] + 1
        return np.full((x.shape[0], ho, wo) + tuple(size), fill)
    return sliding_window_view(xp, tuple(size), axis=(1, 2))[:, ::stride[0], ::stride[1]]


def _input_index(h, w, size, stride, pad):
    """(Ho, Wo, kh, kw) flat index iy*W+ix of every window tap, -1 where the tap is padding."""
    iy = np.arange(-pad[0], h + pad[1])[:, None] * np.ones((1, w + pad[2] + pad[3]), int)
    ix = np.arange(-pad[2], w + pad[3])[None, :] * np.ones((h + pad[0] + pad[1], 1), int)
    flat = np.where((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w), iy * w + ix, -1)
    return _windows(flat[None], size, stride, (0, 0, 0, 0), -1)[0].astype(np.int64)


def max_pool2d_ref(x, size, stride, pad):
    """(y, winners): window max with -inf padding; winner = first max in row-major order."""
    win = _windows(x, size, stride, pad, -np.inf)
    c, ho, wo = win.shape[:3]
    flat_win = win.reshape(c, ho, wo, size[0] * size[1])
    arg = flat_win.argmax(axis=-1)
    y = np.take_along_axis(flat_win, arg[..., None], axis=-1)[..., 0]
    index = _input_index(x.shape[1], x.shape[2], size, stride, pad)
    index = index.reshape(ho, wo, size[0] * size[1])
    winners = np.take_along_axis(np.broadcast_to(index, (c, ho, wo, index.shape[-1])),
                                 arg[..., None], axis=-1)[..., 0]
    return y, winners.astype(np.int32)


def max_pool2d_backward_ref(dy, winners, in_shape):
    """dx (C, H, W): each dy added at its window's winner (nothing for winner -1)."""
    c = dy.shape[0]
    dx = np.zeros((c, in_shape[0] * in_shape[1]))
    ch = np.broadcast_to(np.arange(c)[:, None, None], winners.shape)
    keep = winners >= 0
    np.add.at(dx, (ch[keep], winners[keep]), np.asarray(dy, np.float64)[keep])
    return dx.reshape(c, in_shape[0], in_shape[1])


def avg_pool2d_ref(x, size, stride, pad):
    """y: window mean with zero padding counted (divide by kh*kw)."""
    return _windows(x, size, stride, pad, 0.0).mean(axis=(-2, -1))


def avg_pool2d_exclusive_ref(x, size, stride, pad):
    """y: window mean over the taps inside the image (padding not counted); 0 if there are none."""
    total = _windows(x, size, stride, pad, 0.0).sum(axis=(-2, -1))
    inside = _windows(np.ones((1,) + x.shape[1:]), size, stride, pad, 0.0).sum(axis=(-2, -1))
    return np.where(inside > 0, total / np.where(inside > 0, inside, 1.0), 0.0)


def avg_pool2d_exclusive_backward_ref(dy, in_shape, size, stride, pad):
    """dx (C, H, W): dy / (taps inside the image) given to each inside tap of the window."""
    inside = _windows(np.ones((1, *in_shape)), size, stride, pad, 0.0)[0]          # (Ho, Wo, kh, kw)
    count = inside.sum(axis=(-2, -1))
    share = np.where(count > 0, np.asarray(dy, np.float64) / np.where(count > 0, count, 1.0), 0.0)
    return _spread(share[..., None, None] * inside[None], in_shape, size, stride, pad)


def l2_pool2d_ref(x, size, stride, pad):
    """y: sqrt of the window sum of squares."""
    return np.sqrt((_windows(x, size, stride, pad, 0.0) ** 2).sum(axis=(-2, -1)))


def _spread(per_tap, in_shape, size, stride, pad):
    """Adds per_tap (C, Ho, Wo, kh, kw) back onto the padded input grid, then crops to (C, H, W)."""
    (h, w), (top, bottom, left, right) = in_shape, pad
    c, ho, wo = per_tap.shape[:3]
    dxp = np.zeros((c, h + top + bottom, w + left + right))
    for ky in range(size[0]):
        for kx in range(size[1]):
            if ho > 0 and wo > 0:
                dxp[:, ky:ky + stride[0] * (ho - 1) + 1:stride[0],
                    kx:kx + stride[1] * (wo - 1) + 1:stride[1]] += per_tap[:, :, :, ky, kx]
    return dxp[:, top:top + h, left:left + w]


def avg_pool2d_backward_ref(dy, in_shape, size, stride, pad):
    """dx (C, H, W): dy / (kh*kw) given to every tap of the window."""
    per_tap = np.broadcast_to(np.asarray(dy, np.float64)[..., None, None] / (size[0] * size[1]),
                              dy.shape + tuple(size))
    return _spread(per_tap, in_shape, size, stride, pad)


def l2_pool2d_backward_ref(x, y, dy, size, stride, pad):
    """dx (C, H, W): dy * x / y for every tap (0 where y == 0)."""
    win = _windows(x, size, stride, pad, 0.0)
    y = np.asarray(y, np.float64)
    scale = np.where(y > 0, np.asarray(dy, np.float64) / np.where(y > 0, y, 1.0), 0.0)
    return _spread(win * scale[..., None, None], x.shape[1:], size, stride, pad)
