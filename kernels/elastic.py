"""Elastic distortions with bilinear sampling, for on-the-fly training augmentation.

Simard, Steinkraus & Platt (2003), "Best practices for convolutional neural networks applied to
visual document analysis": every image gets its own displacement field, uniform noise in [-1, 1]
per pixel and direction, smoothed by a Gaussian of std ``sigma`` pixels and scaled by ``alpha``
pixels (they used alpha = 34, sigma = 4 on 28×28 digits).

Shape legend: x: (N, H, W) float32 images; fields: (N, 2, H, W) float32 displacements in pixels,
``fields[n, 0]`` = dy (rows), ``fields[n, 1]`` = dx (columns), the (y, x) order of affine.py.
Output pixel (y, x) samples the input at (y + dy, x + dx); outside the input reads 0.
The Gaussian is truncated at 3 sigma (radius ``int(3 * sigma + 0.5)``, as scipy.ndimage's
``gaussian_filter(..., truncate=3)``), normalised to sum 1, and the noise beyond the border counts
as 0 (``mode="constant"``).  NumPy twins: kernels/elastic_ref.py.
"""
import numpy as np
from numba import njit, prange

from .affine import bilinear


@njit(cache=True, parallel=True)
def elastic_warp_batch(x, fields):
    """out[n, y, x] = bilinear(x[n], (y + dy, x + dx)); x: (N, H, W), fields: (N, 2, H, W) -> (N, H, W)."""
    n_img, h, w = x.shape
    out = np.zeros_like(x)
    for n in prange(n_img):
        for y in range(h):
            for xo in range(w):
                iy = y + fields[n, 0, y, xo]
                ix = xo + fields[n, 1, y, xo]
                out[n, y, xo] = bilinear(x[n], iy, ix)
    return out


def gaussian_taps(sigma):
    """The normalised 1-D Gaussian of std ``sigma`` truncated at 3 sigma, float64 (2r+1,); [1] if sigma is 0."""
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    radius = int(3.0 * sigma + 0.5)
    if radius == 0:
        return np.ones(1)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (t / sigma) ** 2)
    return taps / taps.sum()


@njit(cache=True, parallel=True)
def _blur_scale(noise, taps, alpha):
    """Separable zero-padded blur of every (H, W) plane of noise (N, 2, H, W) float64, times alpha -> float32."""
    n_img, n_dir, h, w = noise.shape
    r = (taps.shape[0] - 1) // 2
    out = np.empty(noise.shape, np.float32)
    for p in prange(n_img * n_dir):
        n = p // n_dir
        d = p % n_dir
        rows = np.zeros((h, w))   # blurred along x (columns) first; taps past the border skipped
        for y in range(h):
            for k in range(-r, r + 1):
                t = taps[k + r]
                for xo in range(max(-k, 0), min(w - k, w)):
                    rows[y, xo] += t * noise[n, d, y, xo + k]
        for y in range(h):
            col = np.zeros(w)
            for yy in range(max(y - r, 0), min(y + r + 1, h)):
                t = taps[yy - y + r]
                for xo in range(w):
                    col[xo] += t * rows[yy, xo]
            for xo in range(w):
                out[n, d, y, xo] = np.float32(alpha * col[xo])
    return out


def random_elastic_fields(rng, n, h, w, alpha=34.0, sigma=4.0):
    """(N, 2, H, W) float32 displacement fields: rng.uniform(-1, 1) noise, Gaussian-blurred, times alpha.

    Draws exactly ``rng.uniform(-1, 1, (n, 2, h, w))`` from the generator, so equal generator states
    give equal fields (and the twin in elastic_ref.py gives the same fields, to rounding)."""
    noise = rng.uniform(-1.0, 1.0, (n, 2, h, w))
    return _blur_scale(noise, gaussian_taps(float(sigma)), float(alpha))
