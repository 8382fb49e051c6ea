"""Plain-NumPy reference twins of kernels/conv_relu_pool.py: the chain of the separate twins.

Shape legend: x: (N, C_in, H, W); w: (C_out, C_in, KH, KW); b: (C_out,); mask: (C_out, C_in);
pooled, winners, dq: (N, C_out, Hq, Wq); geometry arguments as in kernels/conv_ref.py and
kernels/pool_ref.py. Float64, never calls Numba.
"""
import numpy as np

from .conv_ref import conv2d_backward_ref, conv2d_ref
from .pool_ref import max_pool2d_backward_ref, max_pool2d_ref


def conv2d_relu_max_pool2d_batch_ref(x, w, b, stride, pad, dilation, mask, size, pool_stride,
                                     pool_pad):
    """(pooled, winners) of max_pool2d_ref(max(conv2d_ref(x[i], ...), 0), ...) for each image."""
    out = [max_pool2d_ref(np.maximum(conv2d_ref(xi, w, b, stride, pad, dilation, mask), 0.0),
                          size, pool_stride, pool_pad) for xi in x]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def routed_gradient_ref(x, w, b, dq, winners, stride, pad, dilation, mask):
    """dy (N, C_out, Ho, Wo), the gradient w.r.t. the conv output: dq sent to the winners, kept
    where the conv output (recomputed from x, w, b) is > 0."""
    dys = []
    for xi, dqi, wi in zip(x, dq, winners):
        y = conv2d_ref(xi, w, b, stride, pad, dilation, mask)
        dys.append(max_pool2d_backward_ref(dqi, wi, y.shape[1:]) * (y > 0))
    return np.stack(dys)


def conv2d_relu_max_pool2d_backward_batch_ref(x, w, b, dq, winners, stride, pad, dilation, mask):
    """(dx (N, C_in, H, W), dw, db summed over N): conv2d_backward_ref of routed_gradient_ref."""
    dy = routed_gradient_ref(x, w, b, dq, winners, stride, pad, dilation, mask)
    grads = [conv2d_backward_ref(xi, w, gi, stride, pad, dilation, mask) for xi, gi in zip(x, dy)]
    return np.stack([g[0] for g in grads]), sum(g[1] for g in grads), sum(g[2] for g in grads)
