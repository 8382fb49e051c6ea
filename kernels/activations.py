"""Element-wise activation functions and their backward passes, compiled with Numba.

Shape legend: x, dy, y, dx: any shape S (a map (C, H, W), a batch (N, C, H, W), a vector (D,)).
Every kernel takes C-contiguous float32 arrays and returns a new float32 array of shape S.
A backward kernel takes the *forward input* x and the upstream gradient dy = dL/dy and returns
dx = dL/dx = f'(x) * dy.

Each kernel is a Python function around a compiled loop over the raveled array (``_relu_1d`` …),
so one compiled loop serves every rank: Numba would compile and cache one specialisation per ndim
of a kernel that takes the shaped array. Compiled code (fused.py) calls the loops directly.

Gradient conventions at kinks: relu'(0) = 0 (like PyTorch); leaky_relu'(0) = alpha; elu'(0) = alpha.
``dropout`` is the identity (inference), a plain NumPy copy: there is nothing to compile.

Registry: ``ACTIVATIONS[name] -> (forward, backward)`` with the uniform call forms
``forward(x)`` and ``backward(x, dy)``. ``leaky_relu`` and ``leaky_relu_backward`` take an optional
trailing ``alpha`` (default 0.01), so they fit the uniform form and also accept
``forward(x, alpha)`` / ``backward(x, dy, alpha)``; ``elu`` likewise (default 1.0); ``TAKES_ALPHA``
names the entries that do.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _relu_1d(x):
    """y = max(x, 0)."""
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        v = flat[i]
        out[i] = v if v > 0 else 0
    return out


@njit(cache=True)
def _relu_backward_1d(x, dy):
    """dx = dy where x > 0, else 0 (the subgradient at x = 0 is taken as 0)."""
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        out[i] = g[i] if flat[i] > 0 else 0
    return out


@njit(cache=True)
def _leaky_relu_1d(x, alpha):
    """y = x if x > 0 else alpha * x."""
    a = np.float32(alpha)
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        v = flat[i]
        out[i] = v if v > 0 else a * v
    return out


@njit(cache=True)
def _leaky_relu_backward_1d(x, dy, alpha):
    """dx = dy if x > 0 else alpha * dy (alpha at x = 0)."""
    a = np.float32(alpha)
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        out[i] = g[i] if flat[i] > 0 else a * g[i]
    return out


@njit(cache=True)
def _sigmoid_scalar(v):
    # Only ever exponentiate a non-positive number, so exp cannot overflow for large |v|.
    if v >= 0:
        return 1.0 / (1.0 + np.exp(-v))
    e = np.exp(v)
    return e / (1.0 + e)


@njit(cache=True)
def _sigmoid_1d(x):
    """y = 1 / (1 + exp(-x)), evaluated without overflow for large |x|."""
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        out[i] = _sigmoid_scalar(flat[i])
    return out


@njit(cache=True)
def _sigmoid_backward_1d(x, dy):
    """dx = s (1 - s) dy with s = sigmoid(x)."""
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        s = _sigmoid_scalar(flat[i])
        out[i] = s * (1.0 - s) * g[i]
    return out


@njit(cache=True)
def _tanh_1d(x):
    """y = tanh(x)."""
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        out[i] = np.tanh(flat[i])
    return out


@njit(cache=True)
def _tanh_backward_1d(x, dy):
    """dx = (1 - tanh(x)^2) dy."""
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        t = np.tanh(flat[i])
        out[i] = (1.0 - t * t) * g[i]
    return out


@njit(cache=True)
def _lecun_tanh_1d(x):
    """y = 1.7159 tanh(2x/3) (LeCun et al. 1998: f(±1) ≈ ±1, maximal second derivative at ±1)."""
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        out[i] = 1.7159 * np.tanh(flat[i] * (2.0 / 3.0))
    return out


@njit(cache=True)
def _lecun_tanh_backward_1d(x, dy):
    """dx = 1.7159 · (2/3) · (1 - tanh(2x/3)^2) dy."""
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        t = np.tanh(flat[i] * (2.0 / 3.0))
        out[i] = (1.7159 * (2.0 / 3.0)) * (1.0 - t * t) * g[i]
    return out


@njit(cache=True)
def _softplus_1d(x):
    """y = log(1 + exp(x)), computed as log1p(exp(-|x|)) + max(x, 0) so exp never overflows."""
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        v = flat[i]
        out[i] = np.log1p(np.exp(-abs(v))) + max(v, 0.0)
    return out


@njit(cache=True)
def _softplus_backward_1d(x, dy):
    """dx = sigmoid(x) dy."""
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        out[i] = _sigmoid_scalar(flat[i]) * g[i]
    return out


@njit(cache=True)
def _elu_1d(x, alpha):
    """y = x if x > 0 else alpha * (exp(x) - 1)  (expm1, exact near 0)."""
    a = np.float32(alpha)
    flat = x
    out = np.empty_like(flat)
    for i in range(flat.size):
        v = flat[i]
        out[i] = v if v > 0 else a * np.expm1(v)
    return out


@njit(cache=True)
def _elu_backward_1d(x, dy, alpha):
    """dx = dy if x > 0 else alpha * exp(x) * dy."""
    a = np.float32(alpha)
    flat, g = x, dy
    out = np.empty_like(g)
    for i in range(flat.size):
        v = flat[i]
        out[i] = g[i] if v > 0 else a * np.exp(v) * g[i]
    return out


def _forward(loop, default_alpha=None):
    """The kernel for any shape from its loop over a 1-D array: a reshape costs nothing, and one
    compiled loop (cached once) replaces one specialisation per rank, which cost ~0.5 s of compiling
    each (cold start, and every fresh test run)."""
    if default_alpha is None:
        def kernel(x):
            return loop(x.reshape(-1)).reshape(x.shape)
    else:
        def kernel(x, alpha=default_alpha):
            return loop(x.reshape(-1), float(alpha)).reshape(x.shape)
    kernel.__name__ = kernel.__qualname__ = loop.__name__[1:-3]
    kernel.__doc__ = loop.__doc__
    return kernel


def _backward(loop, default_alpha=None):
    """As _forward, for a backward loop (x, dy[, alpha]) -> dx."""
    if default_alpha is None:
        def kernel(x, dy):
            return loop(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    else:
        def kernel(x, dy, alpha=default_alpha):
            return loop(x.reshape(-1), dy.reshape(-1), float(alpha)).reshape(x.shape)
    kernel.__name__ = kernel.__qualname__ = loop.__name__[1:-3]
    kernel.__doc__ = loop.__doc__
    return kernel


relu, relu_backward = _forward(_relu_1d), _backward(_relu_backward_1d)
leaky_relu, leaky_relu_backward = _forward(_leaky_relu_1d, 0.01), _backward(_leaky_relu_backward_1d, 0.01)
sigmoid, sigmoid_backward = _forward(_sigmoid_1d), _backward(_sigmoid_backward_1d)
tanh, tanh_backward = _forward(_tanh_1d), _backward(_tanh_backward_1d)
lecun_tanh, lecun_tanh_backward = _forward(_lecun_tanh_1d), _backward(_lecun_tanh_backward_1d)
softplus, softplus_backward = _forward(_softplus_1d), _backward(_softplus_backward_1d)
elu, elu_backward = _forward(_elu_1d, 1.0), _backward(_elu_backward_1d, 1.0)


def identity(x):
    """Dropout at inference: y = x (a new array, as every kernel here returns)."""
    return x.copy()


def identity_backward(x, dy):
    return dy.copy()


ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "lecun_tanh": (lecun_tanh, lecun_tanh_backward),
    "softplus": (softplus, softplus_backward),
    "elu": (elu, elu_backward),
    "dropout": (identity, identity_backward),
}

TAKES_ALPHA = frozenset({"leaky_relu", "elu"})
