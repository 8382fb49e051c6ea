"""Plain-NumPy reference twins of the sweeps in kernels/conv_sweep.py, written for clarity.

Shape legend: src, xf: flat runs; gp: (C_out, span); offs, tci, tk: (>= t,) int tap tables;
wa, wb: (>= t,) tap weights; cos: (4,) output channels; mask: (C_out, C_in);
dw: (C_out, C_in, KH*KW). Float64 arithmetic; only the first t tap entries are read.
"""
import numpy as np


def sweep_pair_ref(src, offs, wa, wb, t, m):
    """(d0, d1) (m,): d0[q] = sum_{k<t} wa[k] * src[offs[k] + q], d1 likewise with wb -- what
    _sweep_pair adds into a0, a1."""
    src = np.asarray(src, np.float64)
    runs = np.array([src[offs[k]:offs[k] + m] for k in range(t)]).reshape(t, m)
    return (np.asarray(wa[:t], np.float64) @ runs, np.asarray(wb[:t], np.float64) @ runs)


def dw_quad_ref(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dw_shape):
    """dw (dw_shape) of what _dw_quad adds: dw[co, tci[k], tk[k]] += g_co . xf[offs[k]:offs[k]+n]
    for each distinct co in cos with mask[co, tci[k]] != 0, each tap k < t."""
    xf, gp = np.asarray(xf, np.float64), np.asarray(gp, np.float64)
    dw = np.zeros(dw_shape)
    for co in dict.fromkeys(int(c) for c in cos):  # distinct, in order
        g = gp[co, p0:p0 + n]
        for k in range(t):
            if mask[co, tci[k]] != 0:
                dw[co, tci[k], tk[k]] += g @ xf[offs[k]:offs[k] + n]
    return dw
