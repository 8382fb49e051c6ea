"""Fused trace chains equal the separate kernels they replace, exactly (same float32 operations)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from convscope import kernels as K


@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 5), h=st.integers(6, 16), k=st.integers(1, 5),
       pad=st.integers(0, 2), seed=st.integers(0, 9999))
def test_conv_relu_maxpool_equals_the_chain(c_in, c_out, h, k, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c_in, h, h)).astype(np.float32)
    w = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    mask = (rng.random((c_out, c_in)) < 0.7).astype(np.float32)
    args = (x, w, b, (1, 1), (pad, pad, pad, pad), (1, 1), mask)
    pool = ((2, 2), (2, 2), (0, 0, 0, 0))
    y_ref = K.conv2d(*args)
    p_ref, win_ref = K.max_pool2d(K.relu(y_ref), *pool)
    tables = K.conv_tables(x.shape, w, *args[3:])
    y, r, p, win = K.conv2d_relu_max_pool2d_tabled(*args, tables, *pool)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(r, np.maximum(y_ref, 0))
    np.testing.assert_array_equal(p, p_ref)
    np.testing.assert_array_equal(win, win_ref)


@settings(max_examples=40, deadline=None)
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 5), h=st.integers(1, 14), w=st.integers(1, 14),
       k=st.tuples(st.integers(1, 5), st.integers(1, 5)), stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       pad=st.tuples(*[st.integers(0, 3)] * 4), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       seed=st.integers(0, 9999))
def test_conv_with_tables_built_once_equals_conv2d(c_in, c_out, h, w, k, stride, pad, dilation, seed):
    """The trace's direct conv, whose tap tables its plan builds once per layer: the same numbers."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c_in, h, w)).astype(np.float32)
    wt = rng.standard_normal((c_out, c_in, *k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    mask = (rng.random((c_out, c_in)) < 0.7).astype(np.float32)
    geo = (stride, pad, dilation, mask)
    tables = K.conv_tables(x.shape, wt, *geo)
    np.testing.assert_array_equal(K.conv2d_tabled(x, wt, b, *geo, tables), K.conv2d(x, wt, b, *geo))


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 5), ho=st.integers(1, 12), wo=st.integers(1, 12), extra=st.integers(0, 3),
       size=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       pad=st.tuples(*[st.integers(0, 1)] * 4), seed=st.integers(0, 9999))
def test_gemm_epilogue_equals_gather_relu_and_pool(c, ho, wo, extra, size, stride, pad, seed):
    """A GEMM conv's epilogue in the trace (bias, ReLU, max pool in one call) is those kernels in turn."""
    rng = np.random.default_rng(seed)
    pitch = wo + extra
    a = rng.standard_normal((c, (ho - 1) * pitch + wo)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    pad = (min(pad[0], size[0] - 1), min(pad[1], size[0] - 1), min(pad[2], size[1] - 1), min(pad[3], size[1] - 1))
    y_ref = K.gather_rows(a, b, ho, wo, pitch)
    want = (y_ref, K.relu(y_ref), *K.max_pool2d(K.relu(y_ref), size, stride, pad))
    got = K.gather_relu_max_pool(a, b, ho, wo, pitch, size, stride, pad)
    for g, r in zip(got, want):
        np.testing.assert_array_equal(g, r)
    rows = np.stack([a[:, oy * pitch:oy * pitch + wo] for oy in range(ho)], axis=1) + b[:, None, None]
    np.testing.assert_array_equal(got[0], rows)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 64), u=st.integers(1, 32), seed=st.integers(0, 9999))
def test_dense_chains_equal_the_separate_kernels(d, u, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(d).astype(np.float32)
    w = rng.standard_normal((u, d)).astype(np.float32)
    b = rng.standard_normal(u).astype(np.float32)
    y, r = K.dense_relu(x, w, b)
    np.testing.assert_array_equal(y, K.dense(x, w, b))
    np.testing.assert_array_equal(r, K.relu(K.dense(x, w, b)))
    z, p = K.dense_softmax(x, w, b)
    np.testing.assert_array_equal(p, K.softmax(K.dense(x, w, b)))
