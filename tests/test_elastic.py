"""Elastic distortions (Simard et al. 2003): the Numba warp and field generator vs their NumPy twins
(and scipy.ndimage's Gaussian), the identity, integer shifts, the [min, max] hull, seeding, and the
ink a digit keeps under Simard's alpha = 34, sigma = 4."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope import kernels as K
from convscope.kernels import elastic_warp_batch, random_elastic_fields
from convscope.kernels.elastic_ref import elastic_warp_batch_ref, random_elastic_fields_ref

F32 = np.float32
shapes = {"n": st.integers(1, 4), "h": st.integers(1, 12), "w": st.integers(1, 12), "seed": st.integers(0, 10_000)}


@settings(max_examples=30, deadline=None)
@given(**shapes, reach=st.floats(0.0, 3.0))
def test_warp_matches_twin_on_random_fields(n, h, w, seed, reach):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w)).astype(F32)
    # Displacements up to `reach` image sizes: many samples land outside, some exactly on pixels.
    fields = (rng.uniform(-1, 1, (n, 2, h, w)) * reach * max(h, w)).astype(F32)
    fields[rng.random(fields.shape) < 0.2] = rng.integers(-2, 3)
    out = elastic_warp_batch(x, fields)
    assert out.dtype == F32 and out.shape == (n, h, w)
    np.testing.assert_allclose(out, elastic_warp_batch_ref(x, fields), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(**shapes, alpha=st.floats(0.0, 40.0), sigma=st.floats(0.0, 8.0))
def test_fields_match_twin(n, h, w, seed, alpha, sigma):
    # sigma up to 8 puts the 3-sigma radius (24) past the image: the zero padding matters.
    fields = random_elastic_fields(np.random.default_rng(seed), n, h, w, alpha, sigma)
    assert fields.dtype == F32 and fields.shape == (n, 2, h, w)
    ref = random_elastic_fields_ref(np.random.default_rng(seed), n, h, w, alpha, sigma)
    np.testing.assert_allclose(fields, ref, rtol=1e-5, atol=1e-5 * max(alpha, 1.0))


def test_fields_match_scipy_gaussian_filter():
    ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is a test dependency")
    fields = random_elastic_fields(np.random.default_rng(3), 2, 28, 19, alpha=34.0, sigma=4.0)
    noise = np.random.default_rng(3).uniform(-1, 1, (2, 2, 28, 19))
    for n in range(2):
        for d in range(2):
            ref = 34.0 * ndimage.gaussian_filter(noise[n, d], 4.0, mode="constant", cval=0.0, truncate=3.0)
            np.testing.assert_allclose(fields[n, d], ref, rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(**shapes)
def test_zero_field_is_the_identity(n, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, h, w)).astype(F32)
    np.testing.assert_array_equal(elastic_warp_batch(x, np.zeros((n, 2, h, w), F32)), x)


@settings(max_examples=30, deadline=None)
@given(**shapes, dy=st.integers(-14, 14), dx=st.integers(-14, 14))
def test_constant_integer_field_shifts_the_image(n, h, w, seed, dy, dx):
    x = np.random.default_rng(seed).standard_normal((n, h, w)).astype(F32)
    fields = np.empty((n, 2, h, w), F32)
    fields[:, 0], fields[:, 1] = dy, dx
    # Output (y, x) reads input (y + dy, x + dx): content moves by (-dy, -dx), zeros come in.
    padded = np.zeros((n, h + 2 * 14, w + 2 * 14), F32)
    padded[:, 14:14 + h, 14:14 + w] = x
    expected = padded[:, 14 + dy:14 + dy + h, 14 + dx:14 + dx + w]
    np.testing.assert_array_equal(elastic_warp_batch(x, fields), expected)


def test_shift_direction():
    x = np.zeros((1, 5, 5), F32)
    x[0, 2, 2] = 1
    fields = np.zeros((1, 2, 5, 5), F32)
    fields[:, 1] = -1  # output column j reads input column j - 1: the dot moves right
    out = elastic_warp_batch(x, fields)
    assert out[0, 2, 3] == 1 and out.sum() == 1
    half = np.full((1, 2, 5, 5), 0.5, F32)  # half a pixel down and right: four quarters
    np.testing.assert_allclose(elastic_warp_batch(x, half)[0, 1:3, 1:3], 0.25, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(**shapes, alpha=st.floats(0.0, 40.0), sigma=st.floats(0.0, 6.0))
def test_output_stays_within_the_hull_with_zero(n, h, w, seed, alpha, sigma):
    rng = np.random.default_rng(seed)
    x = rng.random((n, h, w), dtype=F32)
    out = elastic_warp_batch(x, random_elastic_fields(rng, n, h, w, alpha, sigma))
    # A bilinear sample is a weighted mean of at most four pixels and zeros (weights >= 0, sum 1).
    low, high = min(0.0, float(x.min())), max(0.0, float(x.max()))
    assert out.min() >= low - 1e-6 and out.max() <= high + 1e-6


def test_alpha_zero_gives_zero_fields_and_alpha_scales_linearly():
    assert not random_elastic_fields(np.random.default_rng(0), 3, 9, 7, alpha=0.0, sigma=4.0).any()
    one = random_elastic_fields(np.random.default_rng(0), 3, 9, 7, alpha=1.0, sigma=2.0)
    ten = random_elastic_fields(np.random.default_rng(0), 3, 9, 7, alpha=10.0, sigma=2.0)
    np.testing.assert_allclose(ten, 10 * one, rtol=1e-6, atol=1e-7)


def test_fields_are_seeded():
    a = random_elastic_fields(np.random.default_rng(7), 4, 16, 16, 34.0, 4.0)
    b = random_elastic_fields(np.random.default_rng(7), 4, 16, 16, 34.0, 4.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_elastic_fields(np.random.default_rng(8), 4, 16, 16, 34.0, 4.0))
    rng = np.random.default_rng(7)
    first, second = (random_elastic_fields(rng, 4, 16, 16, 34.0, 4.0) for _ in range(2))
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)  # the generator advances: every batch gets new fields
    # Each image of a batch gets its own field.
    assert not np.array_equal(a[0], a[1])


def test_sigma_zero_is_unsmoothed_noise_and_negative_sigma_is_refused():
    fields = random_elastic_fields(np.random.default_rng(2), 2, 6, 5, alpha=3.0, sigma=0.0)
    np.testing.assert_allclose(fields, 3.0 * np.random.default_rng(2).uniform(-1, 1, (2, 2, 6, 5)), rtol=1e-6)
    with pytest.raises(ValueError):
        random_elastic_fields(np.random.default_rng(2), 2, 6, 5, alpha=3.0, sigma=-1.0)


def test_simard_settings_move_digits_but_keep_their_ink(samples):
    images = samples.images.astype(F32) / 255
    fields = random_elastic_fields(np.random.default_rng(0), len(images), 28, 28, alpha=34.0, sigma=4.0)
    out = elastic_warp_batch(images, fields)
    # The digits did move (about a pixel on average), so the ink check below is not of a no-op.
    assert np.abs(fields).mean() > 0.5
    assert np.abs(out - images).mean() > 0.05
    # Ink is not conserved exactly (the warp stretches and squeezes strokes: across seeds the odd
    # digit of 300 keeps 45 % or 175 %), but nearly every digit keeps 70-130 %, the typical one ~100 %.
    ratio = out.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert np.mean((ratio > 0.7) & (ratio < 1.3)) >= 0.85
    assert 0.9 < np.median(ratio) < 1.1
    assert 0.9 < out.sum() / images.sum() < 1.1
    assert out.min() >= 0 and out.max() <= 1 + 1e-6


def test_affine_and_elastic_compose_into_one_resampling():
    """trainer.compose_affine: with a zero elastic field the single warp is exactly the affine warp;
    with the identity map it is exactly the elastic warp; in general it samples at M·(p + e(p))."""
    from convscope.convnet.trainer import compose_affine
    rng = np.random.default_rng(5)
    x = rng.random((4, 32, 32), dtype=np.float32)
    mats = K.random_affine_mats(rng, 4, 32, 2.0, 12.0, 0.12)
    zero = np.zeros((4, 2, 32, 32), np.float32)
    np.testing.assert_allclose(K.elastic_warp_batch(x, compose_affine(mats, zero)), K.affine_warp_batch(x, mats),
                               atol=2e-5)
    identity = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (4, 1, 1))
    fields = K.random_elastic_fields(rng, 4, 32, 32, 34.0, 4.0)
    np.testing.assert_allclose(K.elastic_warp_batch(x, compose_affine(identity, fields)),
                               K.elastic_warp_batch(x, fields), atol=1e-5)
    combined = compose_affine(mats, fields)
    y, xx = 7, 19
    p = np.array([y + fields[1, 0, y, xx], xx + fields[1, 1, y, xx], 1.0])
    np.testing.assert_allclose(mats[1] @ p - [y, xx], combined[1, :, y, xx], atol=1e-4)
