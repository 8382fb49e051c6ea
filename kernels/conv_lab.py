"""The kernel lab's conv: one large image, its rows split over threads (umap's trick).

Shape legend: x: (C_in, H, W); w: (C_out, C_in, KH, KW), depthwise (C, KH, KW); b: (C_out,);
mask: (C_out, C_in) of 0/1; y: (C_out, Ho, Wo); stride (sh, sw); dilation (dh, dw);
pad (top, bottom, left, right); Ho, Wo and the formula as in kernels/conv.py:
    y[co, oy, ox] = b[co] + sum_{ci, ky, kx} mask[co, ci] * w[co, ci, ky, kx]
                            * xp[ci, oy*sh + ky*dh, ox*sw + kx*dw]

The training and trace paths parallelise over images (or not at all); a lab image is one, so here
the padding is split over its (C_in x Hp) rows and the conv over its (C_out x Ho) output rows,
with the parallel compilation of conv.py's row loop.
"""
import numpy as np
from numba import njit, prange

from .conv import _forward_rows_parallel
from .conv_sweep import _output_shape, _pad_row


# Both entry points hold a prange of their own: a serial cached function whose only parallel code
# sits in a callee does not start Numba's thread pool when loaded from the cache, and crashes.
@njit(cache=True, parallel=True)
def conv2d_parallel(x, w, b, stride, pad, dilation, mask):
    """conv2d for one large image x (C_in, H, W) -> y (C_out, Ho, Wo), with the padding and the
    output rows (C_out x Ho) split over threads."""
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
