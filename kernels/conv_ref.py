"""Plain-NumPy reference twins of kernels/conv.py (forward), conv_backward.py and conv_lab.py,
written for clarity, not speed.

Shape legend: x: (C_in, H, W); w: (C_out, C_in, KH, KW); b: (C_out,); mask: (C_out, C_in);
y, dy: (C_out, Ho, Wo); stride (sh, sw); dilation (dh, dw); pad (top, bottom, left, right).

They work in float64 and return float64, use np.pad + sliding_window_view + einsum (the kernels
use explicit loops), and never call the Numba code, so one misunderstanding cannot pass both.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _padded(x, pad):  # x (C, H, W) -> (C, H+top+bottom, W+left+right) float64
    top, bottom, left, right = pad
    return np.pad(np.asarray(x, np.float64), ((0, 0), (top, bottom), (left, right)))


def _windows(xp, kernel, stride, dilation):
    """All receptive windows: xp (C, Hp, Wp) -> (C, Ho, Wo, KH, KW) view of the dilated taps."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if xp.shape[1] < span_h or xp.shape[2] < span_w:  # no output row or no output column
        ho = 0 if xp.shape[1] < span_h else (xp.shape[1] - span_h) // sh + 1
        wo = 0 if xp.shape[2] < span_w else (xp.shape[2] - span_w) // sw + 1
        return np.zeros((xp.shape[0], ho, wo, kh, kw))
    win = sliding_window_view(xp, (span_h, span_w), axis=(1, 2))
    return win[:, ::sh, ::sw, ::dh, ::dw]


def conv2d_ref(x, w, b, stride, pad, dilation, mask):
    """y (C_out, Ho, Wo) = b + sum over (ci, ky, kx) of (w * mask) times each window of x."""
    wm = np.asarray(w, np.float64) * np.asarray(mask, np.float64)[:, :, None, None]
    win = _windows(_padded(x, pad), w.shape[2:], stride, dilation)
    return np.einsum("cyxkl,ockl->oyx", win, wm) + np.asarray(b, np.float64)[:, None, None]


def conv2d_backward_ref(x, w, dy, stride, pad, dilation, mask):
    """(dx (C_in,H,W), dw (C_out,C_in,KH,KW), db (C_out,)) for y = conv2d_ref(x, w, b, ...)."""
    (sh, sw), (dh, dw_), (top, _, left, _) = stride, dilation, pad
    m = np.asarray(mask, np.float64)[:, :, None, None]
    dy = np.asarray(dy, np.float64)
    xp = _padded(x, pad)
    win = _windows(xp, w.shape[2:], stride, dilation)
    dw = np.einsum("cyxkl,oyx->ockl", win, dy) * m
    db = dy.sum(axis=(1, 2))
    dxp = np.zeros_like(xp)
    ho, wo = dy.shape[1:]
    wm = np.asarray(w, np.float64) * m
    for ky in range(w.shape[2]):  # each tap sends w * dy back to the input pixels it read
        for kx in range(w.shape[3]):
            rows = slice(ky * dh, ky * dh + sh * (ho - 1) + 1, sh)
            cols = slice(kx * dw_, kx * dw_ + sw * (wo - 1) + 1, sw)
            if ho > 0 and wo > 0:
                dxp[:, rows, cols] += np.einsum("oc,oyx->cyx", wm[:, :, ky, kx], dy)
    h, wd = x.shape[1:]
    return dxp[:, top:top + h, left:left + wd], dw, db


def conv2d_batch_ref(x, w, b, stride, pad, dilation, mask):
    """y (N, C_out, Ho, Wo): conv2d_ref on each image."""
    return np.stack([conv2d_ref(xi, w, b, stride, pad, dilation, mask) for xi in x])


def conv2d_backward_batch_ref(x, w, dy, stride, pad, dilation, mask):
    """(dx (N,C_in,H,W), dw summed over N, db summed over N)."""
    grads = [conv2d_backward_ref(xi, w, gi, stride, pad, dilation, mask) for xi, gi in zip(x, dy)]
    return (np.stack([g[0] for g in grads]), sum(g[1] for g in grads), sum(g[2] for g in grads))


def conv2d_depthwise_ref(x, w, b, stride, pad, dilation):
    """y (C, Ho, Wo): each channel x[c] convolved with its own w[c] (C, KH, KW), plus b[c]."""
    return np.concatenate([conv2d_ref(x[c:c + 1], w[c:c + 1, None], b[c:c + 1], stride, pad,
                                      dilation, np.ones((1, 1))) for c in range(x.shape[0])])
