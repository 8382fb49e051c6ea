"""Fully connected layers, softmax and cross-entropy, compiled with Numba.

Shape legend:
    x   (D,) one input vector, or (N, D) a batch        D = inputs (400 for LeNet's fc1)
    w   (U, D) weights, one row per unit               U = units  (120 for fc1)
    b   (U,) bias
    y   (U,) or (N, U) pre-activations: y = w @ x + b
    z   (K,) or (N, K) logits; labels int (N,) in [0, K)
All arrays are C-contiguous float32; every kernel returns new arrays.

Speed notes (2-core AVX2 box, medians, including Numba dispatch of ~0.45 µs):
- `dense`, single image: an explicit loop with fastmath {reassoc, contract} vectorises the dot
  product and ties BLAS (np.dot) on 400→120 (2.65 µs both) and beats it on 100→10 (0.75 vs 0.86 µs);
  the strict-IEEE loop cannot vectorise the reduction and takes 36 µs.
- batches: np.dot (BLAS sgemm, which threads itself) beats a prange loop about 2× (64×400→120:
  49 vs 85 µs; 10k images: 6.6 vs 15 ms), so the batch kernels call it — from plain NumPy, not
  inside Numba: Numba's own np.dot links BLAS through SciPy, which ConvScope does not install
  (a fresh install's `convscope train` failed with "scipy 0.16+ is required for linear algebra").
"""
import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath={"reassoc", "contract"})
def dense(x, w, b):
    """y[u] = b[u] + sum_d w[u, d] x[d].  x (D,), w (U, D), b (U,) -> y (U,)."""
    units, inputs = w.shape
    y = np.empty(units, np.float32)
    for u in range(units):
        acc = np.float32(0.0)
        for d in range(inputs):
            acc += w[u, d] * x[d]
        y[u] = acc + b[u]
    return y


def dense_batch(x, w, b):
    """y = x @ w.T + b.  x (N, D), w (U, D), b (U,) -> y (N, U) float32 (NumPy's BLAS)."""
    y = np.dot(x, w.T)
    y += b
    return y.astype(np.float32, copy=False)


def dense_backward_batch(x, w, dy):
    """Gradients of y = x @ w.T + b given dy = dL/dy.

    x (N, D), w (U, D), dy (N, U) -> dx = dy @ w (N, D), dw = dy.T @ x (U, D), db = sum_n dy (U,).
    """
    dx = np.dot(dy, w).astype(np.float32, copy=False)
    dw = np.dot(dy.T, x).astype(np.float32, copy=False)
    db = dy.sum(axis=0, dtype=np.float64).astype(np.float32)  # float64 so a 60k-row sum does not drift
    return dx, dw, db


@njit(cache=True)
def _softmax_row(z, out):
    # Subtracting the max makes the largest exponent exp(0) = 1: no overflow, sum >= 1.
    m = z[0]
    for k in range(1, z.size):
        if z[k] > m:
            m = z[k]
    total = 0.0
    for k in range(z.size):
        e = np.exp(z[k] - m)
        out[k] = e
        total += e
    inv = 1.0 / total
    for k in range(z.size):
        out[k] *= inv


@njit(cache=True)
def softmax(z):
    """p[k] = exp(z[k] - max z) / sum_j exp(z[j] - max z).  z (K,) -> p (K,)."""
    p = np.empty(z.size, np.float32)
    _softmax_row(z, p)
    return p


def _softmax_batch(z):
    """Row-wise softmax.  z (N, K) -> p (N, K)."""
    n, k = z.shape
    p = np.empty((n, k), np.float32)
    for i in prange(n):
        _softmax_row(z[i], p[i])
    return p


# One loop, compiled parallel: rows are independent. At N = 10k two cores halve the time
# (420 -> 220 µs); at N = 64 the thread hand-off costs as much as it saves (3.5 vs 3.7 µs).
softmax_batch = njit(_softmax_batch, cache=True, parallel=True)


@njit(cache=True)
def cross_entropy(logits, labels):
    """Mean negative log-likelihood of softmax(logits) and its gradient.

    logits (N, K), labels int (N,) in [0, K) ->
        loss = mean_n [logsumexp(z_n) - z_n[label_n]]   (a Python float)
        dlogits (N, K) = (softmax(z_n) - onehot(label_n)) / N
    logsumexp(z) = m + log(sum exp(z - m)), m = max z, so logits of ±1e4 stay finite.
    """
    n, k = logits.shape
    if n == 0:
        raise ValueError("cross_entropy: empty batch")
    dlogits = np.empty((n, k), np.float32)
    loss = 0.0
    for i in range(n):
        label = labels[i]
        if label < 0 or label >= k:
            raise ValueError("cross_entropy: label outside [0, K)")
        z = logits[i]
        m = z[0]
        for j in range(1, k):
            if z[j] > m:
                m = z[j]
        total = 0.0
        for j in range(k):
            e = np.exp(np.float64(z[j]) - m)
            dlogits[i, j] = e
            total += e
        loss += m + np.log(total) - z[label]
        # Fold the 1/N of the mean into the softmax scale: one multiply per entry.
        scale = 1.0 / (total * n)
        for j in range(k):
            dlogits[i, j] *= scale
        dlogits[i, label] -= 1.0 / n
    return loss / n, dlogits
