"""Activation kernels against their NumPy twins and against central finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from convscope.kernels import activations as A
from convscope.kernels.activations_ref import ACTIVATIONS_REF

NAMES = sorted(A.ACTIVATIONS)
RTOL, ATOL = 1e-5, 1e-6  # float32 kernels vs float64 twins rounded to float32

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)
values = st.floats(-30, 30, width=32, allow_subnormal=False)


def test_registry_names_every_activation():
    assert set(A.ACTIVATIONS) == {"relu", "leaky_relu", "sigmoid", "tanh", "lecun_tanh", "softplus",
                                  "elu", "dropout"}
    assert set(ACTIVATIONS_REF) == set(A.ACTIVATIONS)
    assert A.TAKES_ALPHA == {"leaky_relu", "elu"}


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_forward_and_backward_match_reference(name, data):
    shape = data.draw(shapes)
    x = data.draw(hnp.arrays(np.float32, shape, elements=values))
    dy = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-2, 2, width=32)))
    fwd, bwd = A.ACTIVATIONS[name]
    fwd_ref, bwd_ref = ACTIVATIONS_REF[name]
    y, dx = fwd(x), bwd(x, dy)
    assert y.shape == shape and y.dtype == np.float32
    assert dx.shape == shape and dx.dtype == np.float32
    np.testing.assert_allclose(y, fwd_ref(x), rtol=RTOL, atol=ATOL, err_msg=f"{name} forward")
    np.testing.assert_allclose(dx, bwd_ref(x, dy), rtol=RTOL, atol=ATOL, err_msg=f"{name} backward")


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 1.0])
def test_leaky_relu_takes_alpha(alpha):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    dy = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    np.testing.assert_allclose(A.leaky_relu(x, alpha), np.where(x > 0, x, alpha * x), rtol=1e-6)
    np.testing.assert_allclose(A.leaky_relu_backward(x, dy, alpha),
                               [alpha, 2 * alpha, 3 * alpha, 4.0, 5.0], rtol=1e-6)


def test_leaky_relu_default_alpha_is_0_01():
    x = np.array([-1.0, 2.0], np.float32)
    np.testing.assert_allclose(A.leaky_relu(x), [-0.01, 2.0], rtol=1e-6)
    dx = A.leaky_relu_backward(x, np.ones(2, np.float32))
    np.testing.assert_allclose(dx, [0.01, 1.0], rtol=1e-6)


def test_kink_conventions_at_zero():
    zero, one = np.zeros(3, np.float32), np.ones(3, np.float32)
    assert np.all(A.relu_backward(zero, one) == 0.0)
    np.testing.assert_allclose(A.leaky_relu_backward(zero, one, 0.1), 0.1, rtol=1e-6)


def _central_difference(f, x, dy, eps):
    grad = np.zeros(x.size, np.float64)
    for i in range(x.size):
        up, down = x.copy().ravel(), x.copy().ravel()
        up[i] += eps
        down[i] -= eps
        loss_up = np.sum(np.float64(f(up.reshape(x.shape))) * dy)
        loss_down = np.sum(np.float64(f(down.reshape(x.shape))) * dy)
        grad[i] = (loss_up - loss_down) / (2 * eps)
    return grad.reshape(x.shape)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_finite_differences(name):
    rng = np.random.default_rng(7)
    x = rng.uniform(-3, 3, (2, 3, 4)).astype(np.float32)
    x[np.abs(x) < 0.05] = 0.5  # keep away from the kinks of relu / leaky relu
    dy = rng.standard_normal(x.shape).astype(np.float32)
    fwd, bwd = A.ACTIVATIONS[name]
    np.testing.assert_allclose(bwd(x, dy), _central_difference(fwd, x, dy, 1e-2),
                               rtol=2e-3, atol=2e-3, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_large_inputs_stay_finite(name):
    x = np.array([-1e4, -100.0, -88.0, 0.0, 88.0, 100.0, 1e4], np.float32)
    fwd, bwd = A.ACTIVATIONS[name]
    y, dx = fwd(x), bwd(x, np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), name
    np.testing.assert_allclose(y, ACTIVATIONS_REF[name][0](x), rtol=RTOL, atol=ATOL)


def test_saturation_values():
    x = np.array([-1e4, 1e4], np.float32)
    np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus(x), [0.0, 1e4])
    np.testing.assert_allclose(A.lecun_tanh(x), [-1.7159, 1.7159], rtol=1e-6)
    np.testing.assert_allclose(A.lecun_tanh(np.ones(1, np.float32)), [1.0], atol=2e-4)


def test_returns_a_new_array():
    x = np.ones((2, 2), np.float32)
    for name, (fwd, bwd) in A.ACTIVATIONS.items():
        assert not np.shares_memory(fwd(x), x), name
        assert not np.shares_memory(bwd(x, x), x), name
