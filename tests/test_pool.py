"""Pooling kernels (kernels/pool.py) against their NumPy twins (kernels/pool_ref.py) and finite
differences. Max-pool values and winners must match exactly (pure selection); average and L2
within rtol 1e-5, atol 1e-5 * (1 + max |ref|) (float32 sums of at most 25 terms)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels import (avg_pool2d, avg_pool2d_backward, avg_pool2d_backward_batch, avg_pool2d_batch,
                     l2_pool2d, l2_pool2d_backward, l2_pool2d_backward_batch, l2_pool2d_batch,
                     max_pool2d, max_pool2d_backward, max_pool2d_backward_batch, max_pool2d_batch)
from convscope.kernels.pool_ref import (avg_pool2d_backward_ref, avg_pool2d_ref, l2_pool2d_backward_ref,
                              l2_pool2d_ref, max_pool2d_backward_ref, max_pool2d_ref)

F32 = np.float32

hyper = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "c": st.integers(1, 3),
    "h": st.integers(1, 14), "w": st.integers(1, 14),
    "size": st.tuples(st.integers(1, 5), st.integers(1, 5)),
    "stride": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "pad": st.tuples(*[st.integers(0, 5)] * 4),  # pad >= size gives all-padding windows
    "ties": st.booleans(),
})


def _input(p, n=None):
    rng = np.random.default_rng(p["seed"])
    shape = (p["c"], p["h"], p["w"]) if n is None else (n, p["c"], p["h"], p["w"])
    if p["ties"]:  # few distinct values, so tie-breaking (first max, row-major) is exercised
        return rng.integers(-2, 3, shape).astype(F32)
    return rng.standard_normal(shape).astype(F32)


def _close(got, ref, label):
    assert got.dtype == F32 and got.shape == ref.shape, label
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * (1 + np.max(abs(ref), initial=0)),
                               err_msg=label)


@settings(max_examples=60, deadline=None)
@given(hyper)
def test_pools_match_twins(p):
    x = _input(p)
    geo = (p["size"], p["stride"], p["pad"])
    y, winners = max_pool2d(x, *geo)
    ry, rwin = max_pool2d_ref(x, *geo)
    assert winners.dtype == np.int32
    np.testing.assert_array_equal(winners, rwin, err_msg="max-pool winners")
    np.testing.assert_array_equal(y, ry.astype(F32), err_msg="max-pool values")
    _close(avg_pool2d(x, *geo), avg_pool2d_ref(x, *geo), "avg")
    _close(l2_pool2d(x, *geo), l2_pool2d_ref(x, *geo), "l2")


@settings(max_examples=60, deadline=None)
@given(hyper)
def test_pool_backwards_match_twins(p):
    x = _input(p)
    geo = (p["size"], p["stride"], p["pad"])
    y, winners = max_pool2d(x, *geo)
    dy = np.random.default_rng(p["seed"] + 1).standard_normal(y.shape).astype(F32)
    in_shape = (p["h"], p["w"])
    _close(max_pool2d_backward(dy, winners, in_shape),
           max_pool2d_backward_ref(dy, winners, in_shape), "max backward")
    _close(avg_pool2d_backward(dy, in_shape, *geo), avg_pool2d_backward_ref(dy, in_shape, *geo),
           "avg backward")
    yl = l2_pool2d(x, *geo)
    _close(l2_pool2d_backward(x, yl, dy, *geo), l2_pool2d_backward_ref(x, yl, dy, *geo),
           "l2 backward")


@settings(max_examples=10, deadline=None)
@given(hyper, st.integers(1, 9))
def test_batch_variants_match_single(p, n):
    x = _input(p, n)
    geo = (p["size"], p["stride"], p["pad"])
    y, winners = max_pool2d_batch(x, *geo)
    dy = np.random.default_rng(p["seed"] + 2).standard_normal(y.shape).astype(F32)
    yl = l2_pool2d_batch(x, *geo)
    dx_max = max_pool2d_backward_batch(dy, winners, x.shape[2:])
    dx_avg = avg_pool2d_backward_batch(dy, x.shape[2:], *geo)
    dx_l2 = l2_pool2d_backward_batch(x, yl, dy, *geo)
    ya = avg_pool2d_batch(x, *geo)
    for i in range(n):
        ry, rwin = max_pool2d_ref(x[i], *geo)
        np.testing.assert_array_equal(winners[i], rwin)
        np.testing.assert_array_equal(y[i], ry.astype(F32))
        _close(ya[i], avg_pool2d_ref(x[i], *geo), "avg batch")
        _close(yl[i], l2_pool2d_ref(x[i], *geo), "l2 batch")
        _close(dx_max[i], max_pool2d_backward_ref(dy[i], winners[i], x.shape[2:]), "max bwd batch")
        _close(dx_avg[i], avg_pool2d_backward_ref(dy[i], x.shape[2:], *geo), "avg bwd batch")
        _close(dx_l2[i], l2_pool2d_backward_ref(x[i], yl[i], dy[i], *geo), "l2 bwd batch")


def test_max_pool_winners_by_hand():
    x = np.array([[[1, 9, 2, 2], [3, 4, 2, 2], [0, 0, 7, 7], [5, 0, 7, 1]]], F32)
    y, winners = max_pool2d(x, (2, 2), (2, 2), (0, 0, 0, 0))
    np.testing.assert_array_equal(y[0], [[9, 2], [5, 7]])
    np.testing.assert_array_equal(winners[0], [[1, 2], [12, 10]])  # ties: first in row-major
    y, winners = max_pool2d(x, (2, 2), (2, 2), (3, 0, 0, 0))  # first window row is all padding
    assert winners[0, 0, 0] == -1 and y[0, 0, 0] == -np.inf and winners[0, 1, 0] == 1


@pytest.mark.parametrize("kind", ["avg", "l2", "max"])
def test_twin_backward_matches_finite_differences(kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 6))  # distinct values: max is differentiable here
    geo = ((3, 2), (2, 1), (1, 0, 1, 1))
    fwd = {"avg": avg_pool2d_ref, "l2": l2_pool2d_ref,
           "max": lambda x_, *g: max_pool2d_ref(x_, *g)[0]}[kind]
    y = fwd(x, *geo)
    r = rng.standard_normal(y.shape)
    if kind == "avg":
        grad = avg_pool2d_backward_ref(r, x.shape[1:], *geo)
    elif kind == "l2":
        grad = l2_pool2d_backward_ref(x, y, r, *geo)
    else:
        grad = max_pool2d_backward_ref(r, max_pool2d_ref(x, *geo)[1], x.shape[1:])
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-6
        xm[i] -= 1e-6
        num[i] = ((fwd(xp, *geo) - fwd(xm, *geo)) * r).sum() / 2e-6
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)
