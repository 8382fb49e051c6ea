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
    y, r, p, win = K.conv2d_relu_max_pool2d(*args, (2, 2), (2, 2), (0, 0, 0, 0))
    y_ref = K.conv2d(*args)
    p_ref, win_ref = K.max_pool2d(K.relu(y_ref), (2, 2), (2, 2), (0, 0, 0, 0))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(r, np.maximum(y_ref, 0))
    np.testing.assert_array_equal(p, p_ref)
    np.testing.assert_array_equal(win, win_ref)


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
