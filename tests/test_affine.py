"""The augmentation warp: Numba kernel vs its NumPy twin vs scipy.ndimage, and the random maps."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels.affine import affine_warp_batch, affine_warp_batch_ref, random_affine_mats

scipy_ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is a test dependency")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_warp_matches_twin_on_random_maps(n, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w)).astype(np.float32)
    mats = rng.uniform(-1.5, 1.5, (n, 2, 3)).astype(np.float32)
    mats[:, :, 2] *= max(h, w)
    np.testing.assert_allclose(affine_warp_batch(x, mats), affine_warp_batch_ref(x, mats), atol=1e-5)


def test_warp_matches_scipy_affine_transform():
    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32), dtype=np.float32)
    mats = random_affine_mats(rng, 3, 32, max_shift=3, max_rotate_deg=20, max_scale=0.2)
    out = affine_warp_batch(x, mats)
    for i in range(3):
        ref = scipy_ndimage.affine_transform(x[i].astype(np.float64), mats[i, :, :2].astype(np.float64),
                                             offset=mats[i, :, 2].astype(np.float64), order=1,
                                             mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(out[i], ref, atol=1e-5)


def test_identity_and_pure_shift():
    x = np.random.default_rng(1).random((2, 8, 8), dtype=np.float32)
    identity = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (2, 1, 1))
    np.testing.assert_array_equal(affine_warp_batch(x, identity), x)
    shift = identity.copy()
    shift[:, 1, 2] = -1  # output column j reads input column j − 1: content moves right
    out = affine_warp_batch(x, shift)
    np.testing.assert_array_equal(out[:, :, 1:], x[:, :, :-1])
    assert np.all(out[:, :, 0] == 0)


def test_random_maps_are_seeded_and_bounded():
    a = random_affine_mats(np.random.default_rng(5), 50, 32, 2, 10, 0.1)
    b = random_affine_mats(np.random.default_rng(5), 50, 32, 2, 10, 0.1)
    np.testing.assert_array_equal(a, b)
    scale = 1 / np.sqrt(np.abs(np.linalg.det(a[:, :, :2].astype(np.float64))))
    assert np.all((scale > 0.9 - 1e-6) & (scale < 1.1 + 1e-6))
    # The centre moves by at most the shift (rotation and scale are about the centre).
    c = np.array([15.5, 15.5, 1.0])
    moved = np.abs(a.astype(np.float64) @ c - 15.5)
    assert moved.max() <= 2 * 1.1 * np.sqrt(2) + 1e-4
