"""NumPy reference twins of kernels/optimizers.py: the textbook updates as whole-array float32
NumPy expressions (what convnet/optim.py ran before the kernels), never calling Numba.

Shape legend and scalars as in kernels/optimizers.py; arrays are updated in place.
"""
import numpy as np


def adam_update_ref(p, g, m, v, b1, c1m, b2, c2m, decay, step, c2, eps):
    m *= b1
    m += c1m * g
    v *= b2
    v += c2m * g * g
    if decay != 0:
        p -= decay * p
    p -= step * m / (np.sqrt(v / c2) + eps)


def sgd_update_ref(p, g, v, momentum, lr, wd, nesterov):
    if wd != 0:
        g = g + wd * p
    v *= momentum
    v += g
    p -= lr * (g + momentum * v if nesterov else v)
