"""A convolution with many input taps as one matrix product (NumPy's BLAS), for the trace of a large
imported network; LeNet-sized layers keep the direct kernels of kernels/conv.py.

Shape legend: x (C_in, H, W); w2 (C_out, C_in*KH*KW) = w.reshape(C_out, -1) (mask applied); b (C_out,);
kernel (KH, KW); pad (top, bottom, left, right); dilation (dh, dw); stride 1 only.

``flat_cols`` lays the padded image out as columns without a copy per window: with stride 1, tap
(ci, ky, kx) of every output is the one contiguous run xp.flat[ci*Hp*Wp + ky*dh*Wp + kx*dw :][:n],
n = (Ho - 1)*Wp + Wo, so

    (w2 @ cols)[co, oy*Wp + ox] = y[co, oy, ox] - b[co]

and ``gather_rows`` keeps the Ho × Wo real outputs (dropping the Wp − Wo between rows) and adds the
bias.  The products are summed by BLAS in its own order: equal to float32 rounding, not bit for bit.
"""
import numpy as np
from numba import njit

from .conv_sweep import _pad

GEMM_MIN_TAPS = 256      # C_in*KH*KW from which the matrix product beats the direct sweeps here
GEMM_MIN_CHANNELS = 32   # … and C_out


@njit(cache=True)
def flat_cols(x, kernel, pad, dilation):
    """(cols (C_in*KH*KW, n), Wp) for a stride-1 convolution of x (see the module docstring)."""
    c_in = x.shape[0]
    kh, kw = kernel
    dh, dw = dilation
    xp = _pad(x, pad)
    hp, wp = xp.shape[1], xp.shape[2]
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    n = (ho - 1) * wp + wo if ho > 0 and wo > 0 else 0
    xf = xp.reshape(c_in * hp * wp)
    cols = np.empty((c_in * kh * kw, n), np.float32)
    for ci in range(c_in):
        for ky in range(kh):
            for kx in range(kw):
                off = ci * hp * wp + ky * dh * wp + kx * dw
                cols[(ci * kh + ky) * kw + kx, :] = xf[off:off + n]
    return cols, wp


@njit(cache=True)
def gather_rows(a, b, ho, wo, wp):
    """y (C, Ho, Wo) = a[c, oy*Wp + ox] + b[c]."""
    c = a.shape[0]
    y = np.empty((c, ho, wo), np.float32)
    for co in range(c):
        bc = b[co]
        for oy in range(ho):
            for ox in range(wo):
                y[co, oy, ox] = a[co, oy * wp + ox] + bc
    return y


def uses_gemm(c_out, c_in, kernel, stride) -> bool:
    return (stride == (1, 1) and c_out >= GEMM_MIN_CHANNELS
            and c_in * kernel[0] * kernel[1] >= GEMM_MIN_TAPS)


def conv2d_gemm(x, w2, b, kernel, pad, dilation, out_hw):
    """y (C_out, Ho, Wo): the stride-1 convolution of x, as one matrix product."""
    cols, wp = flat_cols(x, kernel, pad, dilation)
    return gather_rows(np.matmul(w2, cols), b, out_hw[0], out_hw[1], wp)
