"""Every layer of ``Network.trace`` agrees with an independent implementation, atol = rtol = 1e-5.

The oracle is PyTorch (bench/torch_lenet.py: same spec, same weights) when it is importable, and
the NumPy reference twins (kernels/*_ref.py) always on the shipped samples and, without torch
(or with CONVSCOPE_NO_TORCH=1), on the MNIST test set too -- every 4th image, because the twins
cost ~1.5 ms per image (CONVSCOPE_AGREEMENT_FULL=1: all 10k, ~50 s). Weights: models/lenet.npz if present, else a seeded random LeNet.
Max-pool winners are compared too (flat index iy*W+ix in the input plane, torch's return_indices);
a differing winner is accepted only for a genuine near-tie (both inputs equal to the max within tol).
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from convscope import convnet
from convscope.convnet.samples import load_samples
from convscope.convnet.data import to_network_input
from convscope.kernels.activations_ref import ACTIVATIONS_REF
from convscope.kernels.conv_ref import conv2d_ref
from convscope.kernels.dense_ref import dense_ref, softmax_ref
from convscope.kernels.pool_ref import avg_pool2d_ref, l2_pool2d_ref, max_pool2d_ref

TOL = dict(atol=1e-5, rtol=1e-5)
# CONVSCOPE_NO_TORCH=1 exercises the no-torch path (NumPy twins on everything) where torch exists.
HAVE_TORCH = (importlib.util.find_spec("torch") is not None
              and os.environ.get("CONVSCOPE_NO_TORCH") != "1")


@pytest.fixture(scope="module")
def net():
    path = convnet.default_model_path()
    if path.is_file():
        return convnet.Network.load(path)
    return convnet.Network.from_spec(convnet.architecture("lenet"), seed=0)


def _mnist_test(folder):
    images, _ = convnet.mnist.load_mnist("test", cache_dir=folder, download=False)
    return to_network_input(images)


# ---- oracles: x (N, C, H, W) -> {layer: (outputs (N, ...), winners (N, ...) or None)} ------------

def torch_oracle(net, x):
    import torch
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "torch_lenet", Path(__file__).resolve().parents[1] / "bench" / "torch_lenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    TorchTwin = module.TorchTwin
    twin = TorchTwin(net)
    out = {}
    with torch.inference_mode():
        for start in range(0, len(x), 2000):
            for name, y, idx in twin.trace(torch.from_numpy(x[start:start + 2000])):
                ys, ws = out.setdefault(name, ([], []))
                ys.append(y.numpy().copy())
                ws.append(None if idx is None else idx.numpy().astype(np.int64))
    return {k: (np.concatenate(ys), None if ws[0] is None else np.concatenate(ws))
            for k, (ys, ws) in out.items()}


def _ref_layer(layer, x):
    """(y, winners) of one layer on one image with the NumPy reference twins."""
    k = layer.kind
    if k == "conv":
        p = layer.params
        return conv2d_ref(x, p["weight"], p["bias"], layer.stride, layer.pad, layer.dilation, layer.mask), None
    if k == "maxpool":
        return max_pool2d_ref(x, layer.size, layer.stride, layer.pad)
    if k in ("avgpool", "l2pool"):
        fn = avg_pool2d_ref if k == "avgpool" else l2_pool2d_ref
        return fn(x, layer.size, layer.stride, layer.pad), None
    if k == "flatten":
        return x.reshape(-1), None
    if k == "dense":
        return dense_ref(x, layer.params["weight"], layer.params["bias"]), None
    if k == "softmax":
        return softmax_ref(x), None
    if k == "leaky_relu":
        return ACTIVATIONS_REF[k][0](x, layer.alpha), None
    return ACTIVATIONS_REF[k][0](x), None


def numpy_oracle(net, x):
    out = {net.layers[0].name: (x, None)}
    per_image = []
    for xi in x:
        row, cur = [], np.float64(xi)
        for layer in net.layers[1:]:
            cur, win = _ref_layer(layer, cur)
            row.append((cur, win))
        per_image.append(row)
    for j, layer in enumerate(net.layers[1:]):
        ys = np.stack([r[j][0] for r in per_image])
        wins = None if per_image[0][j][1] is None else np.stack([r[j][1] for r in per_image])
        out[layer.name] = (ys, wins)
    return out


ORACLES = {"torch": torch_oracle, "numpy": numpy_oracle}


# ---- the engine side, stacked per layer ----------------------------------------------------------

def traced(net, x):
    """{layer: (outputs (N, ...), winners or None)} from net.trace on each image."""
    traces = [net.trace(xi) for xi in x]
    out = {}
    for j, act in enumerate(traces[0].activations):
        data = np.stack([t.activations[j].data for t in traces])
        wins = None if act.winners is None else np.stack([t.activations[j].winners for t in traces])
        out[act.name] = (data, wins)
    return out


def assert_agree(net, ours, theirs, what):
    assert list(ours) == list(theirs) == [la.name for la in net.layers], "layer lists differ"
    for layer in net.layers:
        (y, w), (ry, rw) = ours[layer.name], theirs[layer.name]
        assert y.shape == ry.shape, f"{what}: layer {layer.name} shape {y.shape} vs {ry.shape}"
        bad = ~np.isclose(y, ry, **TOL)
        if bad.any():
            n = int(np.argwhere(bad)[0][0])
            err = np.abs(np.float64(y) - ry).max()
            pytest.fail(f"{what}: layer {layer.name!r} ({layer.kind}) disagrees at {int(bad.sum())} "
                        f"values, first in image {n}; max |diff| {err:.3g}")
        if layer.kind == "maxpool":
            _assert_winners(layer, ours, w, rw, what, net)


def _assert_winners(layer, ours, w, rw, what, net):
    """Same flat winner index, or a near-tie: the input at both indices equals the max within TOL."""
    assert w is not None and rw is not None, f"{what}: {layer.name} has no winners"
    differ = w != rw
    if not differ.any():
        return
    prev = net.layers[net.layers.index(layer) - 1].name
    x_in = ours[prev][0].reshape(len(w), w.shape[1], -1)           # (N, C, H*W)
    n, c, _, _ = np.nonzero(differ)
    mine = np.take_along_axis(x_in, w.reshape(len(w), w.shape[1], -1), axis=2).reshape(w.shape)
    other = np.take_along_axis(x_in, rw.reshape(len(w), w.shape[1], -1), axis=2).reshape(w.shape)
    ok = np.isclose(mine[differ], other[differ], **TOL)
    assert ok.all(), (f"{what}: layer {layer.name!r} winners differ at {int((~ok).sum())} outputs "
                      f"that are not ties (first in image {int(n[~ok][0])}, channel {int(c[~ok][0])})")


def _oracle_params(always_numpy: bool):
    params = [pytest.param("torch", marks=pytest.mark.skipif(not HAVE_TORCH, reason="no torch"))]
    if always_numpy or not HAVE_TORCH:
        params.append("numpy")
    return params


@pytest.mark.parametrize("oracle", _oracle_params(always_numpy=True))
def test_trace_matches_oracle_on_shipped_samples(net, oracle):
    x = to_network_input(load_samples().images)
    assert_agree(net, traced(net, x), ORACLES[oracle](net, x), f"{oracle}, 300 samples")


@pytest.mark.parametrize("oracle", _oracle_params(always_numpy=False))
def test_trace_matches_oracle_on_mnist_test_set(net, oracle, official_mnist_dir):
    x = _mnist_test(official_mnist_dir)
    if oracle == "numpy" and os.environ.get("CONVSCOPE_AGREEMENT_FULL") != "1":
        x = x[::4]
    assert_agree(net, traced(net, x), ORACLES[oracle](net, x), f"{oracle}, MNIST test set ({len(x)})")


@pytest.mark.parametrize("oracle", _oracle_params(always_numpy=False))
def test_batch_predict_matches_oracle(net, oracle):
    x = to_network_input(load_samples().images)
    theirs = ORACLES[oracle](net, x)[net.layers[-1].name][0]
    np.testing.assert_allclose(net.predict(x), theirs, **TOL, err_msg=f"{oracle}: net.predict")
