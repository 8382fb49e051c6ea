"""The matrix-product convolution (kernels/conv_gemm.py) against the NumPy twin of every conv
(kernels/conv_ref.py) on random shapes, and the trace's choice of it."""
import numpy as np
from hypothesis import given, settings, strategies as st

from convscope.convnet.network import Network
from convscope.kernels.conv_gemm import conv2d_gemm, flat_cols, strided_cols, uses_gemm
from convscope.kernels.conv_ref import conv2d_ref

F32 = np.float32

shapes = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "c_in": st.integers(1, 6), "c_out": st.integers(1, 5),
    "h": st.integers(1, 12), "w": st.integers(1, 12), "kernel": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "pad": st.tuples(*[st.integers(0, 3)] * 4), "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 2), (3, 1), (4, 3)]),
})


@settings(max_examples=80, deadline=None)
@given(p=shapes)
def test_gemm_conv_matches_the_twin(p):
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((p["c_in"], p["h"], p["w"])).astype(F32)
    w = rng.standard_normal((p["c_out"], p["c_in"], *p["kernel"])).astype(F32)
    b = rng.standard_normal(p["c_out"]).astype(F32)
    mask = np.ones((p["c_out"], p["c_in"]), F32)
    ref = conv2d_ref(x, w, b, p["stride"], p["pad"], p["dilation"], mask)
    if 0 in ref.shape:
        return
    y = conv2d_gemm(x, w.reshape(p["c_out"], -1), b, p["kernel"], p["pad"], p["dilation"], ref.shape[1:],
                    p["stride"])
    assert y.dtype == F32 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * (1 + np.abs(ref).max()))


def test_flat_cols_rows_are_the_padded_image_shifted_by_each_tap():
    x = np.arange(2 * 3 * 4, dtype=F32).reshape(2, 3, 4)
    cols, wp = flat_cols(x, (2, 2), (1, 0, 0, 1), (1, 1))
    xp = np.pad(x, ((0, 0), (1, 0), (0, 1)))
    assert wp == 5 and cols.shape == (2 * 2 * 2, (3 - 1) * 5 + 4)
    flat = xp.reshape(-1)
    for ci in range(2):
        for ky in range(2):
            for kx in range(2):
                off = ci * 4 * 5 + ky * 5 + kx
                np.testing.assert_array_equal(cols[(ci * 2 + ky) * 2 + kx], flat[off:off + cols.shape[1]])


def test_strided_cols_hold_one_column_per_output_window():
    x = np.arange(2 * 5 * 6, dtype=F32).reshape(2, 5, 6)
    kernel, stride, pad, dilation = (2, 3), (2, 3), (1, 0, 2, 1), (1, 2)
    xp = np.pad(x, ((0, 0), (1, 0), (2, 1)))
    ho, wo = (6 - 1 - 1) // 2 + 1, (9 - 2 * 2 - 1) // 3 + 1
    cols = strided_cols(x, kernel, stride, pad, dilation, (ho, wo))
    assert cols.shape == (2 * 2 * 3, ho * wo)
    for ci in range(2):
        for ky in range(2):
            for kx in range(3):
                want = xp[ci, ky::2, kx * 2::3][:ho, :wo]
                np.testing.assert_array_equal(cols[(ci * 2 + ky) * 3 + kx].reshape(ho, wo), want)


def test_the_trace_uses_it_only_for_many_channel_convs():
    assert uses_gemm(64, 32, (3, 3), (1, 1)) and not uses_gemm(16, 6, (5, 5), (1, 1))
    assert uses_gemm(16, 3, (3, 3), (2, 2)) and not uses_gemm(8, 1, (3, 3), (2, 2))
    spec = [{"name": "input", "kind": "input", "shape": [1, 12, 12]},
            {"name": "c1", "kind": "conv", "out_channels": 32, "kernel": [3, 3], "padding": 1},
            {"name": "r1", "kind": "relu"}, {"name": "c2", "kind": "conv", "out_channels": 40, "kernel": [3, 3]},
            {"name": "r2", "kind": "relu"}, {"name": "p2", "kind": "maxpool", "size": [2, 2]},
            {"name": "c3", "kind": "conv", "out_channels": 36, "kernel": [3, 3], "padding": 1},
            {"name": "f", "kind": "flatten"}, {"name": "d", "kind": "dense", "units": 3}]
    net = Network.from_spec(spec, seed=3)
    assert [net.layer(n).gemm() for n in ("c1", "c2", "c3")] == [False, True, True]
    x = np.random.default_rng(0).random((1, 12, 12), dtype=F32)
    trace = net.trace(x)
    # every layer as the batch path (the direct kernels) computes it
    ref = x[None]
    for layer in net.layers[1:]:
        ref, _ = layer.forward_batch(ref) if layer.kind != "maxpool" else (layer.forward_batch(ref)[0], None)
        np.testing.assert_allclose(trace[layer.name].data, ref[0], rtol=1e-4, atol=1e-5, err_msg=layer.name)


def test_a_trace_after_a_training_step_uses_the_new_weights():
    """The plan holds what the weights determine (a GEMM conv's matrix, a direct conv's tap tables);
    an optimiser step after loss_and_grads changes the weights in place, and the next trace sees it."""
    from convscope.convnet.optim import Adam
    spec = [{"name": "input", "kind": "input", "shape": [1, 10, 10]},
            {"name": "c1", "kind": "conv", "out_channels": 4, "kernel": [3, 3], "padding": 1},
            {"name": "r1", "kind": "relu"}, {"name": "p1", "kind": "maxpool", "size": [2, 2]},
            {"name": "c2", "kind": "conv", "out_channels": 32, "kernel": [8, 8], "padding": 2},
            {"name": "f", "kind": "flatten"}, {"name": "d", "kind": "dense", "units": 3}]
    net = Network.from_spec(spec, seed=1)
    assert not net.layer("c1").gemm() and net.layer("c2").gemm()
    rng = np.random.default_rng(0)
    x = rng.random((4, 1, 10, 10), dtype=F32)
    before = net.trace(x[0])
    opt = Adam({la.name: la.params for la in net.layers if la.params})
    _, grads, _ = net.loss_and_grads(x, np.array([0, 1, 2, 0]))
    opt.step(grads, 0.05)
    after = net.trace(x[0])
    fresh = Network(spec)   # the same weights in a network that never traced before
    for la in net.layers:
        for k, v in la.params.items():
            fresh.layer(la.name).params[k] = v.copy()
    want = fresh.trace(x[0])
    for name in ("c1", "c2", "d"):
        assert not np.allclose(after[name].data, before[name].data), name
        np.testing.assert_array_equal(after[name].data, want[name].data, err_msg=name)
