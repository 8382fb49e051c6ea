"""The kernels the imported layers added: per-channel steps (batch norm, input normalisation) and
the average pool that does not count its padding, each against its NumPy twin on random shapes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels import (avg_pool2d_exclusive, avg_pool2d_exclusive_backward,
                               avg_pool2d_exclusive_backward_batch, avg_pool2d_exclusive_batch, channel_steps,
                               channel_steps_backward, channel_steps_backward_batch, channel_steps_batch)
from convscope.kernels.channelwise_ref import channel_steps_backward_ref, channel_steps_ref
from convscope.kernels.pool_ref import avg_pool2d_exclusive_backward_ref, avg_pool2d_exclusive_ref, avg_pool2d_ref

F32 = np.float32

steps = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "c": st.integers(1, 6),
    "rest": st.lists(st.integers(1, 7), min_size=0, max_size=2),
    "codes": st.lists(st.integers(0, 3), min_size=1, max_size=5),
})


def _steps(p):
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((p["c"], *p["rest"])).astype(F32)
    codes = np.array(p["codes"], np.int64)
    values = rng.uniform(0.2, 3, (len(codes), p["c"])).astype(F32) * rng.choice([-1, 1], (len(codes), p["c"]))
    return x, codes, values.astype(F32)


@settings(max_examples=60, deadline=None)
@given(p=steps)
def test_channel_steps_match_twin(p):
    x, codes, values = _steps(p)
    y = channel_steps(x, codes, values)
    assert y.dtype == F32 and y.shape == x.shape
    # the same float32 operations in the same order: equal to the last bit
    np.testing.assert_array_equal(y, channel_steps_ref(x, codes, values))
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(F32)
    np.testing.assert_allclose(channel_steps_backward(dy, codes, values),
                               channel_steps_backward_ref(dy, codes, values), rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(p=steps, n=st.integers(1, 4))
def test_channel_steps_batch_is_per_image(p, n):
    x, codes, values = _steps(p)
    batch = np.stack([x * (i + 1) for i in range(n)]).astype(F32)
    got = channel_steps_batch(batch, codes, values)
    for i in range(n):
        np.testing.assert_array_equal(got[i], channel_steps(batch[i], codes, values))
    dy = np.ones_like(batch)
    np.testing.assert_array_equal(channel_steps_backward_batch(dy, codes, values)[0],
                                  channel_steps_backward(dy[0], codes, values))


def test_batch_norm_as_steps_by_hand():
    """(x − μ) / √(σ² + ε) · γ + β, channel by channel."""
    x = np.array([[[1.0, 3.0]], [[-2.0, 0.0]]], F32)   # (2, 1, 2)
    mean, var, gamma, beta, eps = [1.0, -1.0], [4.0, 0.25], [2.0, 1.0], [0.5, -0.5], 0.0
    values = np.array([mean, np.sqrt(np.add(var, eps)), gamma, beta], F32)
    y = channel_steps(x, np.array([0, 1, 2, 3], np.int64), values)
    np.testing.assert_allclose(y, [[[0.5, 2.5]], [[-2.5, 1.5]]])


pools = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "c": st.integers(1, 3),
    "h": st.integers(1, 12), "w": st.integers(1, 12),
    "size": st.tuples(st.integers(1, 5), st.integers(1, 5)),
    "stride": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "pad": st.tuples(*[st.integers(0, 4)] * 4),
})


@settings(max_examples=80, deadline=None)
@given(p=pools)
def test_avg_pool_exclusive_matches_twin(p):
    x = np.random.default_rng(p["seed"]).standard_normal((p["c"], p["h"], p["w"])).astype(F32)
    args = (p["size"], p["stride"], p["pad"])
    y = avg_pool2d_exclusive(x, *args)
    ref = avg_pool2d_exclusive_ref(x, *args)
    assert y.dtype == F32 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * (1 + np.max(abs(ref), initial=0)))
    batch = np.stack([x, -x])
    np.testing.assert_allclose(avg_pool2d_exclusive_batch(batch, *args)[1], -y, rtol=1e-6, atol=1e-6)
    dy = np.random.default_rng(p["seed"] + 1).standard_normal(y.shape).astype(F32)
    dx = avg_pool2d_exclusive_backward(dy, x.shape[1:], *args)
    np.testing.assert_allclose(dx, avg_pool2d_exclusive_backward_ref(dy, x.shape[1:], *args), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(avg_pool2d_exclusive_backward_batch(np.stack([dy, dy]), x.shape[1:], *args)[1], dx,
                               rtol=1e-6, atol=1e-6)
    # the adjoint of the forward: <pool(x), dy> = <x, pool'(dy)>
    assert np.vdot(y.astype(np.float64), dy) == pytest.approx(np.vdot(x.astype(np.float64), dx), rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (1, 1, 1, 1)])
def test_avg_pool_exclusive_differs_only_at_padded_windows(pad):
    x = np.ones((1, 4, 4), F32)
    inclusive = avg_pool2d_ref(x, (3, 3), (1, 1), pad)
    exclusive = avg_pool2d_exclusive(x, (3, 3), (1, 1), pad)
    np.testing.assert_allclose(exclusive, 1.0, rtol=1e-6)   # the mean of ones is one, padding or not
    if any(pad):
        assert inclusive[0, 0, 0] == pytest.approx(4 / 9)   # the corner window: 4 of 9 taps inside
    else:
        np.testing.assert_allclose(inclusive, exclusive)
