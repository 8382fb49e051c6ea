"""The conv kernels' shared pieces: the sweeps (kernels/conv_sweep.py) against their NumPy twins
(kernels/conv_sweep_ref.py) for every tap count, the chunked batch accumulator
(kernels/chunks.py), and the stride-1 conv at tap counts and output widths that are not
multiples of 4, against kernels/conv_ref.py.

The sweeps take four taps per pass. _sweep_pair counts its taps in groups of four (the conv
kernels pad their tables with _pad_pair_taps, which returns the count); _dw_quad takes any tap
count t. Tap tables here are poisoned past what may be read (NaN weights, a wrong channel), so a
sweep that read further -- a short last group swept as a whole one without padding -- would fail.
"""
import itertools

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.kernels import conv2d, conv2d_backward, conv2d_backward_batch
from convscope.kernels.chunks import chunk_accumulators, chunk_images, chunk_sums, max_chunks
from convscope.kernels.conv_ref import conv2d_backward_ref, conv2d_ref
from convscope.kernels.conv_sweep import _dw_quad, _pad_pair_taps, _sweep_pair
from convscope.kernels.conv_sweep_ref import dw_quad_ref, sweep_pair_ref

F32 = np.float32
SETTINGS = settings(max_examples=60, deadline=None)


def _taps(rng, t, size, run):
    """offs (t + 4,) int64 with offs[k] + run <= size; the 4 past t are valid offsets too."""
    return rng.integers(0, size - run + 1, t + 4).astype(np.int64)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(0, 13), m=st.integers(1, 40),
       extra=st.integers(0, 30))
def test_sweep_pair_on_a_padded_table_matches_twin(seed, t, m, extra):
    """What the conv kernels do: t real taps, padded by _pad_pair_taps to whole groups of four.
    The table past t is poison (NaN weights) until padded; past the padding it stays poison."""
    rng = np.random.default_rng(seed)
    src = rng.standard_normal(m + extra).astype(F32)
    offs = _taps(rng, t + 3, src.size, m)
    wa = rng.standard_normal(offs.size).astype(F32)
    wb = rng.standard_normal(offs.size).astype(F32)
    wa[t:] = wb[t:] = np.nan
    a0, a1 = rng.standard_normal(m).astype(F32), rng.standard_normal(m).astype(F32)
    want0, want1 = sweep_pair_ref(src, offs, wa, wb, t, m)
    want0, want1 = want0 + a0, want1 + a1
    bound = sweep_pair_ref(abs(src), offs, abs(wa[:t]), abs(wb[:t]), t, m)
    groups = _pad_pair_taps(offs, wa, wb, t)
    assert t <= 4 * groups < t + 4
    assert not np.isnan(wa[:4 * groups]).any() and np.isnan(wa[4 * groups:]).all()
    _sweep_pair(src, offs, wa, wb, groups, a0, a1)
    for got, want, bd in ((a0, want0, bound[0]), (a1, want1, bound[1])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * (bd.max(initial=0) + 1))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(0, 13), n=st.integers(1, 40),
       c_out=st.integers(1, 5), c_in=st.integers(1, 3), ntap=st.integers(1, 4))
def test_dw_quad_any_tap_count(seed, t, n, c_out, c_in, ntap):
    rng = np.random.default_rng(seed)
    xf = rng.standard_normal(n + 25).astype(F32)
    p0 = int(rng.integers(0, 5))
    gp = rng.standard_normal((c_out, p0 + n + 3)).astype(F32)
    cos = np.sort(rng.integers(0, c_out, 4)).astype(np.int64)  # may repeat, as a short group does
    offs = _taps(rng, t, xf.size, n)
    tci = rng.integers(0, c_in, t + 4).astype(np.int64)
    tk = rng.integers(0, ntap, t + 4).astype(np.int64)
    mask = (rng.random((c_out, c_in)) < 0.7).astype(F32)
    dw = np.zeros((c_out, c_in, ntap), F32)
    _dw_quad(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dw)
    want = dw_quad_ref(xf, gp, p0, n, cos, offs, tci, tk, t, mask, dw.shape)
    bound = dw_quad_ref(abs(xf), abs(gp), p0, n, cos, offs, tci, tk, t, mask, dw.shape)
    np.testing.assert_allclose(dw, want, rtol=1e-5, atol=1e-5 * (bound.max(initial=0) + 1))


def test_chunk_constant():
    assert max_chunks() == 16


@pytest.mark.parametrize("n", [1, 2, 7, 15, 16, 17, 31, 64, 100, 1001])
def test_chunks_partition_the_batch(n):
    w = np.zeros((3, 2, 5, 4), F32)
    chunks, dw_parts, db_parts = chunk_accumulators(n, w)
    assert chunks == max(1, min(n, 16))
    assert dw_parts.shape == (chunks, 3, 2, 5, 4) and db_parts.shape == (chunks, 3)
    assert not dw_parts.any() and not db_parts.any()
    bounds = [chunk_images(c, n, chunks) for c in range(chunks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(stop > start for start, stop in bounds)  # no chunk is empty


def test_chunk_sums_add_in_chunk_order():
    rng = np.random.default_rng(0)
    dw_parts = (rng.standard_normal((16, 2, 3, 2, 2)) * 10.0 ** rng.integers(-4, 5, (16, 1, 1, 1, 1))).astype(F32)
    db_parts = rng.standard_normal((16, 2)).astype(F32)
    dw, db = chunk_sums(dw_parts, db_parts)
    want_dw, want_db = np.zeros((2, 3, 2, 2), F32), np.zeros(2, F32)
    for c in range(16):
        want_dw, want_db = want_dw + dw_parts[c], want_db + db_parts[c]
    np.testing.assert_array_equal(dw, want_dw)
    np.testing.assert_array_equal(db, want_db)


def test_batch_gradients_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 2, 9, 9)).astype(F32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(F32)
    dy = rng.standard_normal((37, 3, 7, 7)).astype(F32)
    geo = ((1, 1), (0, 0, 0, 0), (1, 1), np.ones((3, 2), F32))
    before = numba.get_num_threads()
    try:
        results = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(conv2d_backward_batch(x, w, dy, *geo))
    finally:
        numba.set_num_threads(before)
    for got in results[1:]:
        for g, r in zip(got, results[0]):
            np.testing.assert_array_equal(g, r)


# Stride 1: the forward sweeps a tap table of (connected C_in) * KH * KW taps per pair of output
# channels, the backward's dx one of (connected C_out) * KH * KW taps per pair of input channels.
TAP_CONFIGS = [  # (c_in, c_out, kh, kw): forward taps mod 4, dx taps mod 4
    (1, 1, 1, 1),  # 1, 1
    (1, 2, 1, 2),  # 2, 0
    (1, 3, 3, 1),  # 3, 1
    (3, 5, 1, 1),  # 3, 1
    (2, 3, 3, 1),  # 2, 1
    (1, 6, 5, 5),  # 1, 2 (LeNet conv1)
    (3, 1, 3, 3),  # 3, 1
    (2, 2, 2, 2),  # 0, 0
]


@pytest.mark.parametrize("config,wo", list(itertools.product(TAP_CONFIGS, [1, 2, 3, 4, 5, 7])))
def test_stride1_tap_counts_and_widths_not_multiples_of_4(config, wo):
    c_in, c_out, kh, kw = config
    rng = np.random.default_rng(wo * 100 + kh * 10 + c_in)
    h, w = kh + 2, wo + kw - 1 - 1  # with pad (0, 0, 1, 0): Ho = 3, Wo = wo
    x = rng.standard_normal((c_in, h, w)).astype(F32)
    wt = rng.standard_normal((c_out, c_in, kh, kw)).astype(F32)
    b = rng.standard_normal(c_out).astype(F32)
    for mask in (np.ones((c_out, c_in), F32), (rng.random((c_out, c_in)) < 0.6).astype(F32)):
        geo = ((1, 1), (0, 0, 1, 0), (1, 1))
        ref = conv2d_ref(x, wt, b, *geo, mask)
        assert ref.shape == (c_out, 3, wo)
        bound = conv2d_ref(abs(x), abs(wt), abs(b), *geo, mask)
        np.testing.assert_allclose(conv2d(x, wt, b, *geo, mask), ref, rtol=1e-5,
                                   atol=1e-5 * (bound.max() + 1))
        dy = rng.standard_normal(ref.shape).astype(F32)
        bounds = conv2d_backward_ref(abs(x), abs(wt), abs(dy), *geo, mask)
        for label, g, r, bd in zip(("dx", "dw", "db"), conv2d_backward(x, wt, dy, *geo, mask),
                                   conv2d_backward_ref(x, wt, dy, *geo, mask), bounds):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * (bd.max(initial=0) + 1),
                                       err_msg=label)
