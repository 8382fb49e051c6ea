"""Optimiser updates, one pass over a parameter array each (convnet/optim.py calls them).

Shape legend: p, g, m, v: float32 arrays of one shape (a layer's weight or bias), C-contiguous;
updated in place. Scalars are float32, computed by the caller as the NumPy twin
(kernels/optimizers_ref.py) computes them.

    Adam:  m = b1*m + c1m*g;  v = b2*v + (c2m*g)*g;  p = p - decay*p (if decay);
           p = p - (step*m) / (sqrt(v / c2) + eps)
    SGD:   g' = g + wd*p (if wd);  v = mu*v + g';  p = p - lr*(g' + mu*v) (Nesterov) or lr*v

Each element goes through the same float32 operations in the same order as the twin's whole-array
NumPy expressions (no fastmath, so no fused multiply-adds), so the two agree bit for bit; the
kernel only saves the dozen temporary arrays and passes NumPy makes per parameter.
"""
import numpy as np
from numba import njit


# error_model="numpy": a float division by zero gives inf/nan instead of raising, which lets LLVM
# vectorise the loop (Python's error model puts a check and a branch on every division: 9× slower)
@njit(cache=True, error_model="numpy")
def adam_update(p, g, m, v, b1, c1m, b2, c2m, decay, step, c2, eps):
    """One Adam step on p (in place), with its moments m, v; decay = lr*wd (0: none)."""
    pf, gf, mf, vf = p.reshape(p.size), g.reshape(g.size), m.reshape(m.size), v.reshape(v.size)
    for i in range(pf.size):
        gi = gf[i]
        mi = mf[i] * b1
        mi = mi + c1m * gi
        vi = vf[i] * b2
        vi = vi + (c2m * gi) * gi
        mf[i], vf[i] = mi, vi
        pi = pf[i]
        if decay != 0:
            pi = pi - decay * pi
        pf[i] = pi - (step * mi) / (np.sqrt(vi / c2) + eps)


@njit(cache=True, error_model="numpy")
def sgd_update(p, g, v, momentum, lr, wd, nesterov):
    """One SGD step with momentum on p (in place) and its velocity v; wd: L2 weight decay (0: none)."""
    pf, gf, vf = p.reshape(p.size), g.reshape(g.size), v.reshape(v.size)
    for i in range(pf.size):
        gi = gf[i]
        if wd != 0:
            gi = gi + wd * pf[i]
        vi = vf[i] * momentum
        vi = vi + gi
        vf[i] = vi
        if nesterov:
            pf[i] = pf[i] - lr * (gi + momentum * vi)
        else:
            pf[i] = pf[i] - lr * vi
