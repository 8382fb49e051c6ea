"""conv2d kernels (kernels/conv.py, conv_backward.py, conv_lab.py, conv_relu_pool.py) against their
NumPy twins (kernels/conv_ref.py, conv_relu_pool_ref.py), scipy and finite differences.

Tolerance: the kernels accumulate in float32, the twins in float64. A result may differ from the
twin by at most 1e-5 * B (+ rtol 1e-5), where B is the same conv run on |x|, |w|, |b| -- the size
of the largest partial sum, which is what float32 rounding scales with.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels import (conv2d, conv2d_backward, conv2d_backward_batch, conv2d_backward_params_batch,
                     conv2d_batch, conv2d_depthwise, conv2d_parallel,
                     conv2d_relu_max_pool2d_backward_batch,
                     conv2d_relu_max_pool2d_backward_params_batch, conv2d_relu_max_pool2d_batch,
                     max_pool2d_backward_batch, max_pool2d_batch, relu, relu_backward)
from convscope.kernels.conv_ref import (conv2d_backward_batch_ref, conv2d_backward_ref, conv2d_batch_ref,
                              conv2d_depthwise_ref, conv2d_ref)
from convscope.kernels.conv_relu_pool_ref import (conv2d_relu_max_pool2d_backward_batch_ref,
                                                 conv2d_relu_max_pool2d_batch_ref, routed_gradient_ref)

F32 = np.float32
SETTINGS = settings(max_examples=50, deadline=None)
# LeNet-5 (LeCun et al. 1998, table I): which of S2's 6 maps each of C3's 16 maps reads.
C3_TABLE = np.array([[int(c) for c in row] for row in (
    "111000", "011100", "001110", "000111", "100011", "110001", "111100", "011110",
    "001111", "100111", "110011", "111001", "110110", "011011", "101101", "111111")], F32)


def _case(seed, c_in, c_out, h, w, kh, kw, n=None, mask_p=1.0):
    rng = np.random.default_rng(seed)
    shape = (c_in, h, w) if n is None else (n, c_in, h, w)
    x = rng.standard_normal(shape).astype(F32)
    wt = rng.standard_normal((c_out, c_in, kh, kw)).astype(F32)
    b = rng.standard_normal(c_out).astype(F32)
    mask = (rng.random((c_out, c_in)) < mask_p).astype(F32)
    return x, wt, b, mask


def _close(got, ref, bound, label):
    assert got.dtype == F32, label
    assert got.shape == ref.shape, f"{label}: shape {got.shape} != {ref.shape}"
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * (np.max(bound, initial=0) + 1),
                               err_msg=label)


hyper = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "c_in": st.integers(1, 4), "c_out": st.integers(1, 5),
    "h": st.integers(1, 18), "w": st.integers(1, 18),
    "kh": st.integers(1, 11), "kw": st.integers(1, 11),
    "stride": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "pad": st.tuples(*[st.integers(0, 6)] * 4), "mask_p": st.sampled_from([1.0, 0.6]),
})


def _run_forward_and_backward(p, n=None):
    x, w, b, mask = _case(p["seed"], p["c_in"], p["c_out"], p["h"], p["w"], p["kh"], p["kw"],
                          n, p["mask_p"])
    geo = (p["stride"], p["pad"], p["dilation"])
    return x, w, b, mask, geo


@SETTINGS
@given(hyper)
def test_conv2d_matches_twin(p):
    x, w, b, mask, geo = _run_forward_and_backward(p)
    ref = conv2d_ref(x, w, b, *geo, mask)
    bound = conv2d_ref(abs(x), abs(w), abs(b), *geo, mask)
    _close(conv2d(x, w, b, *geo, mask), ref, bound, "conv2d")
    _close(conv2d_parallel(x, w, b, *geo, mask), ref, bound, "conv2d_parallel")


@SETTINGS
@given(hyper)
def test_conv2d_backward_matches_twin(p):
    x, w, b, mask, geo = _run_forward_and_backward(p)
    ho, wo = conv2d_ref(x, w, b, *geo, mask).shape[1:]
    dy = np.random.default_rng(p["seed"] + 1).standard_normal((p["c_out"], ho, wo)).astype(F32)
    dx, dw, db = conv2d_backward(x, w, dy, *geo, mask)
    rdx, rdw, rdb = conv2d_backward_ref(x, w, dy, *geo, mask)
    bdx, bdw, bdb = conv2d_backward_ref(abs(x), abs(w), abs(dy), *geo, mask)
    _close(dx, rdx, bdx, "dx")
    _close(dw, rdw, bdw, "dw")
    _close(db, rdb, bdb, "db")
    assert np.all(dw[mask == 0] == 0), "masked pairs must get exactly zero weight gradient"


@settings(max_examples=12, deadline=None)
@given(hyper, st.integers(1, 20))
def test_batch_variants_match_twin(p, n):
    x, w, b, mask, geo = _run_forward_and_backward(p, n)
    ref = conv2d_batch_ref(x, w, b, *geo, mask)
    _close(conv2d_batch(x, w, b, *geo, mask), ref,
           conv2d_batch_ref(abs(x), abs(w), abs(b), *geo, mask), "conv2d_batch")
    dy = np.random.default_rng(p["seed"] + 2).standard_normal(ref.shape).astype(F32)
    got = conv2d_backward_batch(x, w, dy, *geo, mask)
    want = conv2d_backward_batch_ref(x, w, dy, *geo, mask)
    bound = conv2d_backward_batch_ref(abs(x), abs(w), abs(dy), *geo, mask)
    for label, g, r, bd in zip(("dx", "dw", "db"), got, want, bound):
        _close(g, r, bd, f"batch {label}")


EDGE_CASES = {  # (c_in, c_out, h, w, kh, kw, stride, pad, dilation)
    "1x1 kernel": (3, 4, 7, 5, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    "kernel = input size": (2, 3, 5, 5, 5, 5, (1, 1), (0, 0, 0, 0), (1, 1)),
    "stride > kernel": (2, 2, 13, 11, 2, 3, (4, 5), (0, 0, 0, 0), (1, 1)),
    "padding > kernel": (1, 2, 4, 6, 3, 2, (1, 1), (5, 4, 3, 6), (1, 1)),
    "odd sizes, asymmetric pad": (3, 3, 9, 7, 3, 3, (2, 1), (1, 0, 2, 1), (1, 1)),
    "non-square kernel": (2, 2, 12, 10, 2, 7, (1, 2), (0, 0, 0, 0), (1, 1)),
    "dilation with padding": (2, 3, 9, 8, 3, 3, (1, 1), (2, 2, 2, 2), (2, 3)),
    "11x11 kernel": (1, 2, 16, 16, 11, 11, (1, 1), (5, 5, 5, 5), (1, 1)),
    "empty output": (1, 1, 3, 3, 5, 5, (1, 1), (0, 0, 0, 0), (1, 1)),
    "LeNet conv1": (1, 6, 32, 32, 5, 5, (1, 1), (0, 0, 0, 0), (1, 1)),
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_cases(name):
    c_in, c_out, h, w, kh, kw, stride, pad, dil = EDGE_CASES[name]
    x, wt, b, mask = _case(7, c_in, c_out, h, w, kh, kw)
    ref = conv2d_ref(x, wt, b, stride, pad, dil, mask)
    _close(conv2d(x, wt, b, stride, pad, dil, mask), ref,
           conv2d_ref(abs(x), abs(wt), abs(b), stride, pad, dil, mask), name)
    dy = np.ones(ref.shape, F32)
    for label, g, r in zip("dx dw db".split(), conv2d_backward(x, wt, dy, stride, pad, dil, mask),
                           conv2d_backward_ref(x, wt, dy, stride, pad, dil, mask)):
        _close(g, r, np.abs(r) + 10, f"{name} {label}")


def test_lenet_c3_partial_connections():
    x, w, b, _ = _case(3, 6, 16, 14, 14, 5, 5)
    y = conv2d(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), C3_TABLE)
    _close(y, conv2d_ref(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), C3_TABLE),
           conv2d_ref(abs(x), abs(w), abs(b), (1, 1), (0, 0, 0, 0), (1, 1), C3_TABLE), "C3")
    x2 = x.copy()
    x2[5] += 100.0  # map 0 of C3 does not read S2 map 5 ...
    y2 = conv2d(x2, w, b, (1, 1), (0, 0, 0, 0), (1, 1), C3_TABLE)
    np.testing.assert_array_equal(y2[0], y[0])
    assert np.abs(y2[15] - y[15]).max() > 1.0  # ... but map 15 reads every S2 map
    _, dw, _ = conv2d_backward(x, w, np.ones_like(y), (1, 1), (0, 0, 0, 0), (1, 1), C3_TABLE)
    assert np.all(dw[C3_TABLE == 0] == 0) and np.all(dw[C3_TABLE == 1] != 0)


@pytest.mark.parametrize("stride,pad,dilation", [
    ((1, 1), (0, 0, 0, 0), (1, 1)), ((2, 1), (1, 2, 0, 1), (1, 2)), ((1, 3), (2, 2, 2, 2), (2, 1))])
def test_twin_backward_matches_finite_differences(stride, pad, dilation):
    """Float64 central differences of L = sum(conv2d_ref(x, w, b) * r) check the twin's gradient."""
    x, w, b, mask = _case(11, 2, 3, 7, 6, 3, 2, mask_p=0.7)
    x, w, b = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    r = np.random.default_rng(12).standard_normal(conv2d_ref(x, w, b, stride, pad, dilation,
                                                              mask).shape)
    loss = lambda x_, w_, b_: float((conv2d_ref(x_, w_, b_, stride, pad, dilation, mask) * r).sum())
    grads = conv2d_backward_ref(x, w, r, stride, pad, dilation, mask)
    for k, (arr, grad) in enumerate(zip((x, w, b), grads)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            args_p, args_m = [x.copy(), w.copy(), b.copy()], [x.copy(), w.copy(), b.copy()]
            args_p[k][i] += 1e-6
            args_m[k][i] -= 1e-6
            num[i] = (loss(*args_p) - loss(*args_m)) / 2e-6
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-6, err_msg="dx dw db".split()[k])


def test_kernel_backward_matches_finite_differences():
    """Float32 kernel gradient vs float64 central differences of the float32 kernel's forward."""
    x, w, b, mask = _case(5, 2, 2, 6, 6, 3, 3)
    r = np.random.default_rng(6).standard_normal((2, 4, 4)).astype(F32)
    geo = ((1, 1), (0, 0, 0, 0), (1, 1))
    dx, dw, _ = conv2d_backward(x, w, r, *geo, mask)
    for arr, grad in ((x, dx), (w, dw)):
        for i in [(0, 0, 0), (1, 2, 2), (0, 1, 2), (1, 0, 1)]:
            i = i if arr.ndim == 3 else (0,) + i
            old = arr[i]
            arr[i] = old + F32(1e-2)
            lp = float((conv2d(x, w, b, *geo, mask).astype(np.float64) * r).sum())
            arr[i] = old - F32(1e-2)
            lm = float((conv2d(x, w, b, *geo, mask).astype(np.float64) * r).sum())
            arr[i] = old
            assert abs((lp - lm) / 2e-2 - grad[i]) < 2e-3 * (1 + abs(grad[i]))


def test_matches_scipy_correlate2d():
    signal = pytest.importorskip("scipy.signal")
    x, w, b, mask = _case(9, 1, 1, 23, 19, 4, 3)
    y = conv2d(x, w, np.zeros(1, F32), (1, 1), (0, 0, 0, 0), (1, 1), mask.clip(1, 1))
    want = signal.correlate2d(x[0].astype(np.float64), w[0, 0].astype(np.float64), mode="valid")
    np.testing.assert_allclose(y[0], want, rtol=1e-5, atol=1e-5)


def test_is_cross_correlation_not_convolution():
    """Guards the tests themselves: a flipped kernel (true convolution) must be caught."""
    x, w, b, mask = _case(4, 1, 1, 8, 8, 3, 3)
    y = conv2d(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), mask.clip(1, 1))
    flipped = conv2d_ref(x, w[:, :, ::-1, ::-1], b, (1, 1), (0, 0, 0, 0), (1, 1), mask.clip(1, 1))
    with pytest.raises(AssertionError):
        _close(y, flipped, np.ones(1), "flipped")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.sampled_from([1, 3, 5]),
       st.tuples(st.integers(1, 2), st.integers(1, 2)), st.integers(0, 2))
def test_depthwise_matches_twin(seed, c, k, stride, p):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c, 21, 17)).astype(F32)
    w = rng.standard_normal((c, k, k)).astype(F32)
    b = rng.standard_normal(c).astype(F32)
    geo = (stride, (p, p, p, p), (1, 1))
    _close(conv2d_depthwise(x, w, b, *geo), conv2d_depthwise_ref(x, w, b, *geo),
           conv2d_depthwise_ref(abs(x), abs(w), abs(b), *geo), "depthwise")


@settings(max_examples=25, deadline=None)
@given(hyper, st.integers(1, 20))
def test_backward_params_batch_equals_full_backward(p, n):
    """The no-dx variant (a first layer) gives the same dw as conv2d_backward_batch to float32
    rounding (on a stride other than 1, fastmath may sum a row in another order once the dx stores
    are gone), and the very same db."""
    x, w, b, mask, geo = _run_forward_and_backward(p, n)
    dy = np.random.default_rng(p["seed"] + 3).standard_normal(
        conv2d_batch_ref(x, w, b, *geo, mask).shape).astype(F32)
    _, dw, db = conv2d_backward_batch(x, w, dy, *geo, mask)
    dw2, db2 = conv2d_backward_params_batch(x, w, dy, *geo, mask)
    _close(dw2, dw, _dw_bound(x, w, dy, geo, mask), "dw")
    assert not dw2[mask == 0].any()   # masked-off pairs stay exactly 0
    np.testing.assert_array_equal(db2, db)


def _dw_bound(x, w, dy, geo, mask):
    """Each dw's sum of |terms|: the scale of its rounding error in any summation order."""
    return conv2d_backward_batch_ref(abs(x), w, abs(dy), *geo, mask)[1]


pool_geo = st.fixed_dictionaries({
    "size": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "pad": st.tuples(*[st.integers(0, 2)] * 4),
})


@settings(max_examples=30, deadline=None)
@given(hyper, pool_geo, st.integers(1, 12))
def test_conv_relu_maxpool_fused_equals_the_chain(p, q, n):
    """conv -> relu -> maxpool as one kernel per direction: the forward is the separate kernels
    run in sequence bit for bit; the backward's db too, its dx and dw to float32 rounding (the
    same sums, but fastmath may vectorise a strided row in another order inside another caller);
    and its gradients match the NumPy twins' chain."""
    x, w, b, mask, geo = _run_forward_and_backward(p, n)
    y = conv2d_batch(x, w, b, *geo, mask)
    pgeo = (q["size"], q["stride"], q["pad"])
    pooled, winners = max_pool2d_batch(relu(y), *pgeo)
    got_pooled, got_winners = conv2d_relu_max_pool2d_batch(x, w, b, *geo, mask, *pgeo)
    np.testing.assert_array_equal(got_pooled, pooled)
    np.testing.assert_array_equal(got_winners, winners)
    dq = np.random.default_rng(p["seed"] + 4).standard_normal(pooled.shape).astype(F32)
    dy = relu_backward(y, max_pool2d_backward_batch(dq, winners, y.shape[2:]))
    want = conv2d_backward_batch(x, w, dy, *geo, mask)
    got = conv2d_relu_max_pool2d_backward_batch(x, w, dq, pooled, winners, *geo, mask)
    _close(got[0], want[0], conv2d_backward_batch_ref(x, abs(w), abs(dy), *geo, mask)[0], "dx")
    _close(got[1], want[1], _dw_bound(x, w, dy, geo, mask), "dw")
    np.testing.assert_array_equal(got[2], want[2], err_msg="db")
    dw2, db2 = conv2d_relu_max_pool2d_backward_params_batch(x, w, dq, pooled, winners, *geo, mask)
    _close(dw2, want[1], _dw_bound(x, w, dy, geo, mask), "dw of the no-dx variant")  # see above
    np.testing.assert_array_equal(db2, want[2])
    # and against the twins: the gradient routed by the twin pool, through the twin conv backward
    # (skipped when a conv output lies within rounding of 0, where the ReLU masks may differ)
    yr = conv2d_batch_ref(x, w, b, *geo, mask)
    if np.any(np.abs(yr) < 1e-4):
        return
    dy_ref = routed_gradient_ref(x, w, b, dq, winners, *geo, mask)
    ref = conv2d_relu_max_pool2d_backward_batch_ref(x, w, b, dq, winners, *geo, mask)
    bound = conv2d_backward_batch_ref(abs(x), abs(w), abs(dy_ref), *geo, mask)
    for label, g, r, bd in zip(("dx", "dw", "db"), got, ref, bound):
        _close(g, r, bd, f"fused {label}")


@settings(max_examples=30, deadline=None)
@given(hyper, pool_geo, st.integers(1, 6))
def test_conv_relu_maxpool_fused_forward_matches_twin(p, q, n):
    """pooled within the conv tolerance of the twin chain; each winner is a window maximum of the
    twin's ReLU output up to that tolerance (near-equal entries may win either way), and -1
    exactly where the twin's window lies entirely in padding."""
    x, w, b, mask, geo = _run_forward_and_backward(p, n)
    pgeo = (q["size"], q["stride"], q["pad"])
    pooled, winners = conv2d_relu_max_pool2d_batch(x, w, b, *geo, mask, *pgeo)
    ref_pooled, ref_winners = conv2d_relu_max_pool2d_batch_ref(x, w, b, *geo, mask, *pgeo)
    bound = conv2d_batch_ref(abs(x), abs(w), abs(b), *geo, mask)
    _close(pooled, ref_pooled, bound, "fused pooled")
    np.testing.assert_array_equal(winners < 0, ref_winners < 0)
    if bound.size == 0:  # no conv output: every window is padding
        return
    relu_ref = np.maximum(conv2d_batch_ref(x, w, b, *geo, mask), 0.0)
    flat = relu_ref.reshape(relu_ref.shape[0], relu_ref.shape[1], -1)
    at_winner = np.take_along_axis(flat, np.maximum(winners, 0).reshape(*winners.shape[:2], -1),
                                   axis=-1).reshape(winners.shape)
    keep = winners >= 0
    _close(at_winner[keep].astype(F32), ref_pooled[keep], bound, "value at the winner")
