"""conv -> ReLU -> max-pool fused for training: one batch kernel per direction.

Shape legend: x, dx: (N, C_in, H, W); w, dw: (C_out, C_in, KH, KW); b, db: (C_out,);
mask: (C_out, C_in) of 0/1; conv output y: (C_out, Ho, Wo) per image (never stored for the batch);
pooled, winners, dq: (N, C_out, Hq, Wq), winners int32 flat indices oy*Wo + ox into y's plane
(-1 for a window entirely in padding); size, pool_stride: (kh, kw), (sh, sw);
stride, dilation, pad, pool_pad as in kernels/conv.py and kernels/pool.py.

    pooled, winners = max_pool2d(relu(conv2d(x, w, b, ...)), size, pool_stride, pool_pad)
    dy[co, winners] += dq where pooled > 0,   then (dx, dw, db) = conv2d_backward(x, w, dy, ...)

The (N, C_out, Ho, Wo) conv output is never materialised: each image's conv output lives in a
per-image buffer while it is rectified and pooled (and, backward, while dq is routed back through
the winners). The backward needs only the pooled output and the winners: the ReLU passes a
gradient exactly where the winner's conv output is > 0, i.e. where the pooled value (the winner's
ReLU output) is > 0. The forward equals the separate kernels run in sequence bit for bit (same
operations in the same order). The backward does the same sums over the same chunks as
conv2d_backward_batch (kernels/chunks.py): db bit for bit, dx and dw equal to float32 rounding,
because _backward_rows is fastmath and, compiled inside another caller, a strided row may be
vectorised in another order (see conv2d_backward_params_batch).
"""
import numpy as np
from numba import njit, prange

from .chunks import chunk_accumulators, chunk_images, chunk_sums
from .conv import _forward_into_tabled, _forward_tables
from .conv_backward import _backward_into_tabled, _backward_tables
from .conv_sweep import _output_shape
from .pool import _max_into
from .pool import _out_size as _pool_out


@njit(cache=True)
def _max_relu_backward_into(dq, winners, pooled, dy):
    """The max-pool backward with the ReLU's folded in: dy (C, Ho, Wo), zeroed by the caller,
    gets dy.flat[c][winners[c, oy, ox]] += dq[c, oy, ox] where winners >= 0 and pooled > 0."""
    flat = dy.reshape(dy.shape[0], dy.shape[1] * dy.shape[2])
    for ci in range(dq.shape[0]):
        for oy in range(dq.shape[1]):
            for ox in range(dq.shape[2]):
                k = winners[ci, oy, ox]
                if k >= 0 and pooled[ci, oy, ox] > 0:
                    flat[ci, k] += dq[ci, oy, ox]


@njit(cache=True)
def _conv_relu_pool_into(x, w, b, stride, pad, dilation, mask, tables, size, pool_stride,
                         pool_pad, ho, wo, pooled, winners):
    """One image x (C_in, H, W): pooled, winners (C_out, Hq, Wq) of max_pool(relu(conv2d(x))),
    with the conv's tables (kernels/conv.py _forward_tables)."""
    y = np.empty((w.shape[0], ho, wo), np.float32)
    _forward_into_tabled(x, w, b, stride, pad, dilation, mask, tables, y)
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
    indexing the conv output plane (Ho, Wo) as max_pool2d's do. Images split over threads."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    hq = _pool_out(ho, size[0], pool_stride[0], pool_pad[0] + pool_pad[1])
    wq = _pool_out(wo, size[1], pool_stride[1], pool_pad[2] + pool_pad[3])
    pooled = np.empty((x.shape[0], w.shape[0], hq, wq), np.float32)
    winners = np.empty((x.shape[0], w.shape[0], hq, wq), np.int32)
    offs, wa, wb, groups = _forward_tables(x, w, stride, pad, dilation, mask)   # once for the batch
    for i in prange(x.shape[0]):
        _conv_relu_pool_into(x[i], w, b, stride, pad, dilation, mask, (offs, wa, wb, groups),
                             size, pool_stride,
                             pool_pad, ho, wo, pooled[i], winners[i])
    return pooled, winners


@njit(cache=True)
def _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                   tables, need_dx, dx, c, chunks, dw_parts, db_parts):
    """Images of chunk c: dy = dq routed to the winners where pooled > 0, then the conv backward
    of that image into dw_parts[c], db_parts[c] (and dx[i] if need_dx)."""
    ho, wo = _output_shape(x, w, stride, pad, dilation)
    none = np.empty((0, 0, 0), np.float32)
    start, stop = chunk_images(c, x.shape[0], chunks)
    for i in range(start, stop):
        dy = np.zeros((w.shape[0], ho, wo), np.float32)
        _max_relu_backward_into(dq[i], winners[i], pooled[i], dy)
        _backward_into_tabled(x[i], w, dy, stride, pad, dilation, mask, need_dx,
                              dx[i] if need_dx else none, dw_parts[c], db_parts[c], tables)


# Both backward entry points hold their own prange (see conv_lab.py), over the fixed chunks.
@njit(cache=True, parallel=True)
def conv2d_relu_max_pool2d_backward_batch(x, w, dq, pooled, winners, stride, pad, dilation,
                                          mask):
    """Gradients through conv -> relu -> maxpool: x (N,C_in,H,W) the conv input, dq the gradient
    w.r.t. the pooled output, pooled/winners from conv2d_relu_max_pool2d_batch ->
    (dx (N,C_in,H,W), dw, db), as conv2d_backward_batch (same chunks, same order)."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    # the tables once for the batch; a prange body takes arrays, not tuples of them
    (cos, dwo, tci, tk, counts), (dxo, wa, wb, groups) = _backward_tables(x, w, stride, pad, dilation, mask)
    dx = np.empty_like(x)
    for c in prange(chunks):
        tables = ((cos, dwo, tci, tk, counts), (dxo, wa, wb, groups))
        _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                       tables, True, dx, c, chunks, dw_parts, db_parts)
    dw, db = chunk_sums(dw_parts, db_parts)
    return dx, dw, db


@njit(cache=True, parallel=True)
def conv2d_relu_max_pool2d_backward_params_batch(x, w, dq, pooled, winners, stride, pad,
                                                 dilation, mask):
    """(dw, db) of conv2d_relu_max_pool2d_backward_batch without dx (a first layer)."""
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    # the tables once for the batch; a prange body takes arrays, not tuples of them
    (cos, dwo, tci, tk, counts), (dxo, wa, wb, groups) = _backward_tables(x, w, stride, pad, dilation, mask)
    dx = np.empty((0, 0, 0, 0), np.float32)
    for c in prange(chunks):
        tables = ((cos, dwo, tci, tk, counts), (dxo, wa, wb, groups))
        _conv_relu_pool_backward_chunk(x, w, dq, pooled, winners, stride, pad, dilation, mask,
                                       tables, False, dx, c, chunks, dw_parts, db_parts)
    return chunk_sums(dw_parts, db_parts)
