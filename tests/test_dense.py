"""Dense, softmax and cross-entropy kernels against their NumPy twins and finite differences."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels.dense_ref import cross_entropy_ref, dense_backward_ref, dense_ref, softmax_ref

# `kernels.dense` the attribute is the function (re-exported by the package); we want the module.
K = importlib.import_module("convscope.kernels.dense")
SETTINGS = settings(max_examples=30, deadline=None)
dims = st.integers(1, 48)


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@SETTINGS
@given(units=dims, inputs=dims, seed=st.integers(0, 2**16))
def test_dense_matches_reference(units, inputs, seed):
    x, w, b = _rand(seed, inputs), _rand(seed + 1, units, inputs), _rand(seed + 2, units)
    y = K.dense(x, w, b)
    assert y.shape == (units,) and y.dtype == np.float32
    np.testing.assert_allclose(y, dense_ref(x, w, b), rtol=1e-4, atol=1e-5 * np.sqrt(inputs))


def test_dense_lenet_fc1_size():
    x, w, b = _rand(0, 400), _rand(1, 120, 400), _rand(2, 120)
    np.testing.assert_allclose(K.dense(x, w, b), dense_ref(x, w, b), rtol=1e-4, atol=1e-3)


@SETTINGS
@given(n=st.integers(1, 12), units=dims, inputs=dims, seed=st.integers(0, 2**16))
def test_dense_batch_and_backward_match_reference(n, units, inputs, seed):
    x, w, b = _rand(seed, n, inputs), _rand(seed + 1, units, inputs), _rand(seed + 2, units)
    dy = _rand(seed + 3, n, units)
    y = K.dense_batch(x, w, b)
    assert y.shape == (n, units) and y.dtype == np.float32
    np.testing.assert_allclose(y, dense_ref(x, w, b), rtol=1e-4, atol=1e-4)
    for got, want, label in zip(K.dense_backward_batch(x, w, dy), dense_backward_ref(x, w, dy),
                                ("dx", "dw", "db")):
        assert got.shape == want.shape and got.dtype == np.float32, label
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=label)


def test_dense_backward_matches_finite_differences():
    n, units, inputs = 3, 4, 5
    x, w, b, g = _rand(1, n, inputs), _rand(2, units, inputs), _rand(3, units), _rand(4, n, units)
    dx, dw, db = K.dense_backward_batch(x, w, g)

    def loss(x, w, b):
        return float(np.sum(np.float64(K.dense_batch(x, w, b)) * g))

    for grad, arg in ((dx, 0), (dw, 1), (db, 2)):
        params = [x, w, b]
        numeric = np.zeros(grad.size)
        for i in range(grad.size):
            up = [p.copy() for p in params]
            down = [p.copy() for p in params]
            up[arg].ravel()[i] += 0.5  # the loss is linear: a big step is exact, beats rounding
            down[arg].ravel()[i] -= 0.5
            numeric[i] = loss(*up) - loss(*down)
        np.testing.assert_allclose(grad.ravel(), numeric, rtol=1e-3, atol=1e-3,
                                   err_msg=f"arg {arg}")


@SETTINGS
@given(k=st.integers(1, 20), scale=st.sampled_from([1.0, 30.0, 1e4]), seed=st.integers(0, 2**16))
def test_softmax_matches_reference(k, scale, seed):
    z = _rand(seed, k) * np.float32(scale)
    p = K.softmax(z)
    assert p.shape == (k,) and p.dtype == np.float32 and np.all(np.isfinite(p))
    np.testing.assert_allclose(p, softmax_ref(z), rtol=1e-5, atol=1e-7)
    assert abs(float(p.sum(dtype=np.float64)) - 1.0) < 1e-5


@pytest.mark.parametrize("n", [1, 7, 3000])  # 3000 rows exercise the parallel split
def test_softmax_batch_matches_reference(n):
    z = _rand(n, n, 10) * np.float32(5)
    z[0, :3] = [1e4, -1e4, 0.0]
    np.testing.assert_allclose(K.softmax_batch(z), softmax_ref(z), rtol=1e-5, atol=1e-7)


def test_softmax_of_huge_logits():
    p = K.softmax(np.array([1e4, -1e4, 0.0, 1e4], np.float32))
    np.testing.assert_allclose(p, [0.5, 0.0, 0.0, 0.5], atol=1e-7)


@SETTINGS
@given(n=st.integers(1, 16), k=st.integers(2, 12), scale=st.sampled_from([1.0, 50.0, 1e4]),
       seed=st.integers(0, 2**16))
def test_cross_entropy_matches_reference(n, k, scale, seed):
    logits = _rand(seed, n, k) * np.float32(scale)
    labels = np.random.default_rng(seed).integers(0, k, n)
    loss, dlogits = K.cross_entropy(logits, labels)
    loss_ref, dlogits_ref = cross_entropy_ref(logits, labels)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert dlogits.shape == (n, k) and dlogits.dtype == np.float32
    assert loss == pytest.approx(loss_ref, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(dlogits, dlogits_ref, rtol=1e-5, atol=1e-7)


def test_cross_entropy_with_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]], np.float32)
    loss, dlogits = K.cross_entropy(logits, np.array([0, 1], np.int64))
    assert loss == pytest.approx((0.0 + 2e4) / 2)
    np.testing.assert_allclose(dlogits, [[0.0, 0.0, 0.0], [0.5, -0.5, 0.0]], atol=1e-7)


def test_cross_entropy_gradient_matches_finite_differences():
    logits, labels = _rand(5, 4, 6), np.array([0, 5, 2, 2], np.int64)
    _, dlogits = K.cross_entropy(logits, labels)
    numeric = np.zeros(logits.size)
    eps = 1e-2
    for i in range(logits.size):
        up, down = logits.copy(), logits.copy()
        up.ravel()[i] += eps
        down.ravel()[i] -= eps
        numeric[i] = (K.cross_entropy(up, labels)[0] - K.cross_entropy(down, labels)[0]) / (2 * eps)
    np.testing.assert_allclose(dlogits.ravel(), numeric, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("label", [-1, 3])
def test_cross_entropy_rejects_labels_out_of_range(label):
    with pytest.raises(ValueError, match="label"):
        K.cross_entropy(np.zeros((1, 3), np.float32), np.array([label], np.int64))
