"""NumPy reference twins of kernels/activations.py, written for clarity, never calling Numba.

Shape legend: x, dy: any shape S; every function returns float32 of shape S.
Arithmetic is done in float64 and rounded once at the end, so the twins are the more accurate side.
"""
import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def relu_ref(x):
    return np.maximum(_f64(x), 0.0).astype(np.float32)


def relu_backward_ref(x, dy):
    return np.where(_f64(x) > 0, _f64(dy), 0.0).astype(np.float32)


def leaky_relu_ref(x, alpha=0.01):
    x = _f64(x)
    return np.where(x > 0, x, alpha * x).astype(np.float32)


def leaky_relu_backward_ref(x, dy, alpha=0.01):
    return (np.where(_f64(x) > 0, 1.0, alpha) * _f64(dy)).astype(np.float32)


def sigmoid_ref(x):
    # 0.5 (1 + tanh(x/2)) is the logistic function with no exp at all, so nothing overflows.
    return (0.5 * (1.0 + np.tanh(0.5 * _f64(x)))).astype(np.float32)


def sigmoid_backward_ref(x, dy):
    s = 0.5 * (1.0 + np.tanh(0.5 * _f64(x)))
    return (s * (1.0 - s) * _f64(dy)).astype(np.float32)


def tanh_ref(x):
    return np.tanh(_f64(x)).astype(np.float32)


def tanh_backward_ref(x, dy):
    return (_f64(dy) / np.cosh(np.clip(_f64(x), -300, 300)) ** 2).astype(np.float32)


def lecun_tanh_ref(x):
    return (1.7159 * np.tanh(_f64(x) * 2.0 / 3.0)).astype(np.float32)


def lecun_tanh_backward_ref(x, dy):
    u = np.clip(_f64(x) * 2.0 / 3.0, -300, 300)
    return (1.7159 * 2.0 / 3.0 / np.cosh(u) ** 2 * _f64(dy)).astype(np.float32)


def softplus_ref(x):
    # logaddexp(0, x) = log(exp(0) + exp(x)), NumPy's own stable formulation.
    return np.logaddexp(0.0, _f64(x)).astype(np.float32)


def softplus_backward_ref(x, dy):
    return (np.exp(-np.logaddexp(0.0, -_f64(x))) * _f64(dy)).astype(np.float32)


def elu_ref(x, alpha=1.0):
    x = _f64(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))).astype(np.float32)


def elu_backward_ref(x, dy, alpha=1.0):
    x = _f64(x)
    return (np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))) * _f64(dy)).astype(np.float32)


def identity_ref(x):
    return np.array(x, dtype=np.float32)


def identity_backward_ref(x, dy):
    return np.array(dy, dtype=np.float32)


ACTIVATIONS_REF = {
    "relu": (relu_ref, relu_backward_ref),
    "leaky_relu": (leaky_relu_ref, leaky_relu_backward_ref),
    "sigmoid": (sigmoid_ref, sigmoid_backward_ref),
    "tanh": (tanh_ref, tanh_backward_ref),
    "lecun_tanh": (lecun_tanh_ref, lecun_tanh_backward_ref),
    "softplus": (softplus_ref, softplus_backward_ref),
    "elu": (elu_ref, elu_backward_ref),
    "dropout": (identity_ref, identity_backward_ref),
}
