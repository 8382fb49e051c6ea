"""A convolution with many input taps as one matrix product (NumPy's BLAS), for the trace of a large
imported network; LeNet-sized layers keep the direct kernels of kernels/conv.py.

Shape legend: x (C_in, H, W); w2 (C_out, C_in*KH*KW) = w.reshape(C_out, -1) (mask applied); b (C_out,);
kernel (KH, KW); stride (sh, sw); pad (top, bottom, left, right); dilation (dh, dw);
a (C_out, L): the matrix product, output (oy, ox) in column oy*pitch + ox.

Stride 1: ``flat_cols`` lays the padded image out as columns without a copy per window: tap
(ci, ky, kx) of every output is the one contiguous run xp.flat[ci*Hp*Wp + ky*dh*Wp + kx*dw :][:n],
n = (Ho - 1)*Wp + Wo, so

    (w2 @ cols)[co, oy*Wp + ox] = y[co, oy, ox] - b[co]          (pitch Wp)

and ``gather_rows`` keeps the Ho × Wo real outputs (dropping the Wp − Wo between rows) and adds the
bias.  Any other stride: ``strided_cols`` is the classic im2col, one column per output (pitch Wo),
cols[(ci*KH + ky)*KW + kx, oy*Wo + ox] = xp[ci, oy*sh + ky*dh, ox*sw + kx*dw].
``gather_relu_max_pool`` is gather_rows, ReLU and kernels/pool.py's max pool in one call, for the
trace's conv → ReLU → max-pool chains.  The products are summed by BLAS in its own order: equal to
float32 rounding, not bit for bit.
"""
import numpy as np
from numba import njit

from .activations import _relu_1d
from .conv_sweep import _pad
from .pool import max_pool2d

# When the matrix product beats the direct kernels here (measured on 2026-12-03, one image, 3×3
# kernels, direct and GEMM calls interleaved): at stride 1 from C_in*KH*KW = 256 taps and 32 output
# channels (below, the sweeps win: 16→32 channels on 32×32, 104 µs direct against 409 µs); at a
# larger stride, where the direct kernel computes every stride-1 output and keeps one in four or
# sweeps row by row, from C_out*C_in*KH*KW = 128 (3→16 channels on 64×64, stride 2: 70 → 36 µs).
GEMM_MIN_TAPS = 256
GEMM_MIN_CHANNELS = 32
GEMM_MIN_STRIDED_WEIGHTS = 128


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
def strided_cols(x, kernel, stride, pad, dilation, out_hw):
    """cols (C_in*KH*KW, Ho*Wo) for a convolution of x of any stride (see the module docstring)."""
    c_in = x.shape[0]
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    ho, wo = out_hw
    xp = _pad(x, pad)
    cols = np.empty((c_in * kh * kw, ho * wo), np.float32)
    for ci in range(c_in):
        for ky in range(kh):
            for kx in range(kw):
                r = (ci * kh + ky) * kw + kx
                for oy in range(ho):
                    src = xp[ci, oy * sh + ky * dh]
                    for ox in range(wo):
                        cols[r, oy * wo + ox] = src[ox * sw + kx * dw]
    return cols


@njit(cache=True)
def gather_rows(a, b, ho, wo, pitch):
    """y (C, Ho, Wo) = a[c, oy*pitch + ox] + b[c]."""
    c = a.shape[0]
    y = np.empty((c, ho, wo), np.float32)
    for co in range(c):
        bc = b[co]
        for oy in range(ho):
            for ox in range(wo):
                y[co, oy, ox] = a[co, oy * pitch + ox] + bc
    return y


@njit(cache=True)
def gather_relu_max_pool(a, b, ho, wo, pitch, size, pool_stride, pool_pad):
    """(y, relu(y), max_pool(relu(y)), winners) with y = gather_rows(a, b, ho, wo, pitch)."""
    y = gather_rows(a, b, ho, wo, pitch)
    r = _relu_1d(y.ravel()).reshape(y.shape)
    pooled, winners = max_pool2d(r, size, pool_stride, pool_pad)
    return y, r, pooled, winners


def uses_gemm(c_out, c_in, kernel, stride) -> bool:
    taps = c_in * kernel[0] * kernel[1]
    if tuple(stride) != (1, 1):
        return c_out * taps >= GEMM_MIN_STRIDED_WEIGHTS
    return c_out >= GEMM_MIN_CHANNELS and taps >= GEMM_MIN_TAPS


def gemm_product(x, w2, kernel, stride, pad, dilation, out_hw):
    """(a, pitch): the convolution of x without its bias, as one matrix product (module docstring)."""
    if tuple(stride) == (1, 1):
        cols, pitch = flat_cols(x, kernel, pad, dilation)
    else:
        cols, pitch = strided_cols(x, kernel, stride, pad, dilation, out_hw), out_hw[1]
    return np.matmul(w2, cols), pitch


def conv2d_gemm(x, w2, b, kernel, pad, dilation, out_hw, stride=(1, 1)):
    """y (C_out, Ho, Wo): the convolution of x, as one matrix product."""
    a, pitch = gemm_product(x, w2, kernel, stride, pad, dilation, out_hw)
    return gather_rows(a, b, out_hw[0], out_hw[1], pitch)
