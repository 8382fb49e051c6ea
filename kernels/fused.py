"""Fused chains for the single-image trace: one dispatch for several layers, every output kept.

The trace of one image costs ~50 µs in all, and each Numba call from Python costs about 1 µs of
dispatch; the network's common chains (conv → ReLU → max-pool, dense → ReLU, dense → softmax) run
here as one call that still returns every intermediate, so nothing the visualiser shows is lost.
Each is exactly the composition of the separate kernels (tests check it against them).

Shape legend: x (C_in, H, W); w (C_out, C_in, KH, KW); conv/relu outputs (C_out, Ho, Wo);
pooled, winners (C_out, Hp, Wp); dense x (D,), w (U, D), b (U,).
"""
from numba import njit

from .activations import _relu_1d
from .conv import conv2d_tabled
from .dense import dense, softmax
from .pool import max_pool2d


@njit(cache=True)
def conv2d_relu_max_pool2d_tabled(x, w, b, stride, pad, dilation, mask, tables, size, pool_stride,
                                  pool_pad):
    """(conv, relu(conv), max_pool(relu(conv)), winners) in one call, with the conv's tap tables
    (kernels/conv.py conv_tables) built once by the trace's plan."""
    y = conv2d_tabled(x, w, b, stride, pad, dilation, mask, tables)
    r = _relu_1d(y.ravel()).reshape(y.shape)
    pooled, winners = max_pool2d(r, size, pool_stride, pool_pad)
    return y, r, pooled, winners


@njit(cache=True)
def dense_relu(x, w, b):
    """(dense(x), relu(dense(x)))."""
    y = dense(x, w, b)
    return y, _relu_1d(y)


@njit(cache=True)
def dense_softmax(x, w, b):
    """(logits, softmax(logits))."""
    y = dense(x, w, b)
    return y, softmax(y)
