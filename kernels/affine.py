"""Affine warps with bilinear sampling, for on-the-fly training augmentation.

Shape legend: x: (N, H, W) float32 images; mats: (N, 2, 3) float32, each mapping an *output* pixel
(y, x, 1) to the input position it samples: (iy, ix) = M @ (y, x, 1).  Outside the input reads 0.
"""
import numpy as np
from numba import njit, prange


@njit(cache=True)
def bilinear(img, iy, ix):
    """img (H, W) sampled at the real position (iy, ix): the four neighbours' weighted sum, 0 outside."""
    h, w = img.shape
    y0 = int(np.floor(iy))
    x0 = int(np.floor(ix))
    fy = iy - y0
    fx = ix - x0
    acc = np.float32(0.0)
    for dy in range(2):
        yy = y0 + dy
        if yy < 0 or yy >= h:
            continue
        wy = fy if dy == 1 else 1.0 - fy
        for dx in range(2):
            xx = x0 + dx
            if xx < 0 or xx >= w:
                continue
            wx = fx if dx == 1 else 1.0 - fx
            acc += wy * wx * img[yy, xx]
    return acc


@njit(cache=True, parallel=True)
def affine_warp_batch(x, mats):
    """out[n, y, x] = bilinear(x[n], M[n] @ (y, x, 1)); x: (N, H, W), mats: (N, 2, 3) -> (N, H, W)."""
    n_img, h, w = x.shape
    out = np.zeros_like(x)
    for n in prange(n_img):
        m = mats[n]
        for y in range(h):
            for xo in range(w):
                iy = m[0, 0] * y + m[0, 1] * xo + m[0, 2]
                ix = m[1, 0] * y + m[1, 1] * xo + m[1, 2]
                out[n, y, xo] = bilinear(x[n], iy, ix)
    return out


def affine_warp_batch_ref(x, mats):
    """Vectorised NumPy twin: gather the four neighbours of every sample point at once."""
    n_img, h, w = x.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    pts = np.stack([yy, xx, np.ones_like(yy)]).reshape(3, -1).astype(np.float64)
    out = np.zeros_like(x, dtype=np.float64)
    for n in range(n_img):
        iy, ix = mats[n].astype(np.float64) @ pts
        y0, x0 = np.floor(iy).astype(int), np.floor(ix).astype(int)
        fy, fx = iy - y0, ix - x0
        acc = np.zeros(h * w)
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                ys, xs = y0 + dy, x0 + dx
                ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
                acc[ok] += (wy * wx)[ok] * x[n, ys[ok], xs[ok]]
        out[n] = acc.reshape(h, w)
    return out.astype(np.float32)


def random_affine_mats(rng, n, size, max_shift=2.0, max_rotate_deg=12.0, max_scale=0.12):
    """(N, 2, 3) inverse maps for random rotation/scale about the centre plus a shift, in pixels."""
    theta = np.deg2rad(rng.uniform(-max_rotate_deg, max_rotate_deg, n))
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))
    c = (size - 1) / 2.0
    cos, sin = np.cos(theta) / scale, np.sin(theta) / scale
    mats = np.empty((n, 2, 3), np.float32)
    mats[:, 0, 0], mats[:, 0, 1] = cos, -sin
    mats[:, 1, 0], mats[:, 1, 1] = sin, cos
    # Output pixel p maps to input A·(p − c − shift) + c.
    py, px = c + shift[:, 0], c + shift[:, 1]
    mats[:, 0, 2] = c - (cos * py - sin * px)
    mats[:, 1, 2] = c - (sin * py + cos * px)
    return mats
