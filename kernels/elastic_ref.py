"""Plain-NumPy reference twins of kernels/elastic.py, written for clarity, not speed.

Shape legend: x: (N, H, W); fields: (N, 2, H, W) with fields[n, 0] = dy, fields[n, 1] = dx.
The warp gathers the four neighbours of every sample point at once; the blur is a dense (H, H) and
(W, W) Gaussian matrix (zero padding = the rows of taps that fall outside are simply absent).
Float64 in the arithmetic, results rounded to float32 once, never calls Numba.
"""
import numpy as np


def elastic_warp_batch_ref(x, fields):
    """out[n, y, x] = bilinear(x[n], (y + dy, x + dx)), 0 outside; -> (N, H, W) float32."""
    x = np.asarray(x, np.float64)
    fields = np.asarray(fields, np.float64)
    n_img, h, w = x.shape
    iy = np.arange(h)[None, :, None] + fields[:, 0]          # (N, H, W) sample rows
    ix = np.arange(w)[None, None, :] + fields[:, 1]          # (N, H, W) sample columns
    y0, x0 = np.floor(iy).astype(np.int64), np.floor(ix).astype(np.int64)
    fy, fx = iy - y0, ix - x0
    img = np.broadcast_to(np.arange(n_img)[:, None, None], iy.shape)
    out = np.zeros(iy.shape)
    for ys, wy in ((y0, 1 - fy), (y0 + 1, fy)):
        for xs, wx in ((x0, 1 - fx), (x0 + 1, fx)):
            ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
            gathered = x[img, np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)]
            out += np.where(ok, wy * wx * gathered, 0.0)
    return out.astype(np.float32)


def gaussian_matrix_ref(size, sigma):
    """(size, size) matrix G with (G @ v)[i] = sum_j g(i - j) v[j], g the normalised Gaussian
    truncated at radius int(3 sigma + 0.5); entries for j outside [0, size) are dropped (zero padding)."""
    radius = int(3.0 * sigma + 0.5)
    offset = np.arange(size)[:, None] - np.arange(size)[None, :]
    if radius == 0:
        return (offset == 0).astype(np.float64)
    norm = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()
    g = np.exp(-0.5 * (offset / sigma) ** 2) / norm
    return np.where(np.abs(offset) <= radius, g, 0.0)


def random_elastic_fields_ref(rng, n, h, w, alpha=34.0, sigma=4.0):
    """(N, 2, H, W) float32: alpha * G_h @ U @ G_w^T for each noise plane U ~ uniform(-1, 1)."""
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    noise = rng.uniform(-1.0, 1.0, (n, 2, h, w))
    gh, gw = gaussian_matrix_ref(h, sigma), gaussian_matrix_ref(w, sigma)
    return (alpha * np.einsum("ij,ndjk,lk->ndil", gh, noise, gw)).astype(np.float32)
