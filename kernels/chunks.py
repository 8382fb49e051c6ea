"""The chunked batch accumulator: race-free, thread-count-independent dw/db sums over a batch.

Shape legend: N images; w: (C_out, C_in, KH, KW); dw_parts: (chunks, C_out, C_in, KH, KW);
db_parts: (chunks, C_out); chunks = max(1, min(N, MAX_CHUNKS)), MAX_CHUNKS = 16.

A batch backward splits its N images into `chunks` fixed, contiguous chunks -- chunk c holds images
[c*N // chunks, (c+1)*N // chunks) -- and a prange over the chunks lets each add its images'
gradients into its own dw_parts[c], db_parts[c]. The parts are then summed in chunk order:
    dw = ((0 + dw_parts[0]) + dw_parts[1]) + ... + dw_parts[chunks-1],   likewise db.
The chunk count is fixed, not Numba's thread count, so the result is bit-identical whatever the
thread count and the kernels stay cacheable. Usage, in an entry point that holds its own prange:
    chunks, dw_parts, db_parts = chunk_accumulators(x.shape[0], w)
    for c in prange(chunks):
        for i in range(*chunk_images(c, x.shape[0], chunks)): ... add into dw_parts[c], db_parts[c]
    dw, db = chunk_sums(dw_parts, db_parts)
"""
import numpy as np
from numba import njit


@njit(cache=True)
def max_chunks():
    """MAX_CHUNKS, the most chunks a batch is split into: 16 (enough for any thread count here).

    A function, not a module global: a cached kernel would freeze a global's value as a constant."""
    return 16


@njit(cache=True)
def chunk_accumulators(n, w):
    """(chunks, dw_parts, db_parts) for a batch of n images and weights w: chunks =
    max(1, min(n, MAX_CHUNKS)); dw_parts (chunks, *w.shape) and db_parts (chunks, C_out), zeroed."""
    chunks = max(1, min(n, max_chunks()))
    c_out, c_in, kh, kw = w.shape
    return (chunks, np.zeros((chunks, c_out, c_in, kh, kw), np.float32),
            np.zeros((chunks, c_out), np.float32))


@njit(cache=True)
def chunk_images(c, n, chunks):
    """(start, stop): chunk c of `chunks` holds images [c*n // chunks, (c+1)*n // chunks)."""
    return c * n // chunks, (c + 1) * n // chunks


@njit(cache=True)
def chunk_sums(dw_parts, db_parts):
    """(dw (C_out, C_in, KH, KW), db (C_out,)): the parts summed in chunk order, from 0."""
    c_out, c_in, kh, kw = dw_parts.shape[1:]
    dw = np.zeros((c_out, c_in, kh, kw), np.float32)
    db = np.zeros(c_out, np.float32)
    for c in range(dw_parts.shape[0]):
        dw += dw_parts[c]
        db += db_parts[c]
    return dw, db
