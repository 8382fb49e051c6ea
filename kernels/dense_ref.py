"""NumPy reference twins of kernels/dense.py, written for clarity, never calling Numba.

Shape legend: x (D,) or (N, D); w (U, D); b (U,); z (K,) or (N, K); labels int (N,).
Arithmetic in float64 (einsum, scipy-free log-sum-exp), results rounded to float32 once.
"""
import numpy as np


def dense_ref(x, w, b):
    """y[u] = sum_d w[u, d] x[d] + b[u]; x (D,) or (N, D) -> (U,) or (N, U)."""
    y = np.einsum("...d,ud->...u", np.float64(x), np.float64(w)) + np.float64(b)
    return y.astype(np.float32)


def dense_backward_ref(x, w, dy):
    """x (N, D), w (U, D), dy (N, U) -> (dx (N, D), dw (U, D), db (U,))."""
    x, w, dy = np.float64(x), np.float64(w), np.float64(dy)
    dx = np.einsum("nu,ud->nd", dy, w)
    dw = np.einsum("nu,nd->ud", dy, x)
    db = dy.sum(axis=0)
    return dx.astype(np.float32), dw.astype(np.float32), db.astype(np.float32)


def _log_softmax(z):
    z = np.float64(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_ref(z):
    """exp(log_softmax(z)) over the last axis; z (K,) or (N, K)."""
    return np.exp(_log_softmax(z)).astype(np.float32)


def cross_entropy_ref(logits, labels):
    """(mean_n -log softmax(z_n)[label_n], (softmax(z) - onehot) / N)."""
    logp = _log_softmax(logits)
    n, k = logp.shape
    onehot = np.eye(k)[np.asarray(labels)]
    loss = -(logp * onehot).sum() / n
    return float(loss), ((np.exp(logp) - onehot) / n).astype(np.float32)
