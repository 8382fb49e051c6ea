"""The network: trace against the NumPy twins, gradients against finite differences, files, training."""
import json

import numpy as np
import pytest

from convscope.convnet import Network, architecture
from convscope.convnet.optim import Adam, SGD, learning_rate
from convscope.convnet.spec import LENET5_C3_TABLE
from convscope.kernels.activations_ref import ACTIVATIONS_REF
from convscope.kernels.conv_ref import conv2d_ref
from convscope.kernels.dense_ref import dense_ref, softmax_ref
from convscope.kernels.pool_ref import avg_pool2d_ref, l2_pool2d_ref, max_pool2d_ref

TINY = [
    {"name": "input", "kind": "input", "shape": [1, 12, 12]},
    {"name": "conv1", "kind": "conv", "out_channels": 3, "kernel": [3, 3], "stride": [1, 1],
     "padding": "same", "dilation": [1, 1]},
    {"name": "act1", "kind": "tanh"},
    {"name": "pool1", "kind": "maxpool", "size": [2, 2], "stride": [2, 2], "padding": [0, 0, 0, 0]},
    {"name": "conv2", "kind": "conv", "out_channels": 4, "kernel": [3, 2], "stride": [1, 2],
     "padding": [1, 0, 1, 1], "dilation": [2, 1], "connections": [[1, 0, 1], [0, 1, 1], [1, 1, 0], [1, 1, 1]]},
    {"name": "act2", "kind": "softplus"},
    {"name": "pool2", "kind": "avgpool", "size": [2, 2], "stride": [1, 1], "padding": [0, 0, 0, 0]},
    {"name": "flatten", "kind": "flatten"},
    {"name": "fc1", "kind": "dense", "units": 7},
    {"name": "act3", "kind": "sigmoid"},
    {"name": "fc2", "kind": "dense", "units": 5},
    {"name": "softmax", "kind": "softmax"},
]


def reference_trace(net, x):
    """Every layer's output computed by the NumPy twins only (float64 inside, float32 out)."""
    outs = []
    for layer in net.layers[1:]:
        if layer.kind == "conv":
            p = layer.params
            x = conv2d_ref(x, p["weight"] * layer.mask[:, :, None, None], p["bias"], layer.stride,
                           layer.pad, layer.dilation, layer.mask)
        elif layer.kind == "maxpool":
            x = max_pool2d_ref(x, layer.size, layer.stride, layer.pad)[0]
        elif layer.kind == "avgpool":
            x = avg_pool2d_ref(x, layer.size, layer.stride, layer.pad)
        elif layer.kind == "l2pool":
            x = l2_pool2d_ref(x, layer.size, layer.stride, layer.pad)
        elif layer.kind == "flatten":
            x = x.reshape(-1)
        elif layer.kind == "dense":
            x = dense_ref(x, layer.params["weight"], layer.params["bias"])
        elif layer.kind == "softmax":
            x = softmax_ref(x)
        else:
            x = ACTIVATIONS_REF[layer.kind][0](x)
        outs.append(np.asarray(x, np.float32))
    return outs


@pytest.mark.parametrize("spec_name", ["lenet", "lenet5-classic", "tiny"])
def test_trace_matches_numpy_twins_layer_by_layer(spec_name):
    spec = TINY if spec_name == "tiny" else architecture(spec_name)
    net = Network.from_spec(spec, seed=3)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.random(net.input_shape, dtype=np.float32)
        trace = net.trace(x)
        assert [a.name for a in trace.activations] == [layer.name for layer in net.layers]
        for act, ref in zip(trace.activations[1:], reference_trace(net, x)):
            assert act.data.shape == ref.shape, act.name
            np.testing.assert_allclose(act.data, ref, rtol=1e-5, atol=1e-5, err_msg=act.name)
        assert trace.label == int(np.argmax(trace.probabilities))
        assert abs(float(trace.probabilities.sum()) - 1) < 1e-5


def test_maxpool_winners_point_at_the_maximum():
    net = Network.from_spec(architecture("lenet"), seed=0)
    x = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    trace = net.trace(x)
    relu1, pool1 = trace["relu1"].data, trace["pool1"]
    c, h, w = pool1.data.shape
    flat = relu1.reshape(relu1.shape[0], -1)
    picked = np.take_along_axis(flat, pool1.winners.reshape(c, -1).astype(np.int64), axis=1)
    np.testing.assert_array_equal(picked.reshape(c, h, w), pool1.data)
    iy, ix = np.divmod(pool1.winners, relu1.shape[2])
    assert np.all(iy // 2 == np.arange(h)[None, :, None]) and np.all(ix // 2 == np.arange(w)[None, None, :])


def test_predict_agrees_with_trace():
    net = Network.from_spec(TINY, seed=5)
    x = np.random.default_rng(2).random((9, 1, 12, 12), dtype=np.float32)
    probs = net.predict(x, batch_size=4)
    for i in range(len(x)):
        np.testing.assert_allclose(probs[i], net.trace(x[i]).probabilities, rtol=1e-5, atol=1e-6)


def test_predict_runs_each_conv_relu_maxpool_chain_fused_with_the_same_numbers():
    """predict fuses conv -> relu -> maxpool into one kernel per chain (as training does); the
    logits are bit for bit those of the layers' own batch passes, one after another."""
    spec = [{"name": "input", "kind": "input", "shape": [1, 14, 14]},
            {"name": "c1", "kind": "conv", "out_channels": 4, "kernel": [3, 3], "padding": 1},
            {"name": "r1", "kind": "relu"}, {"name": "p1", "kind": "maxpool", "size": [2, 2]},
            {"name": "c2", "kind": "conv", "out_channels": 5, "kernel": [3, 3]},
            {"name": "r2", "kind": "relu"}, {"name": "p2", "kind": "maxpool", "size": [2, 2], "stride": [1, 1]},
            {"name": "f", "kind": "flatten"}, {"name": "d", "kind": "dense", "units": 6}]
    net = Network.from_spec(spec, seed=4)
    assert net._train_fusions()[0] == {0, 3}
    x = np.random.default_rng(6).random((7, 1, 14, 14), dtype=np.float32)
    ref = x
    for layer in net._train_layers:
        ref, _ = layer.forward_batch(ref)
    np.testing.assert_array_equal(net.logits_batch(x), ref)


def _loss64(net, x, y):
    logits = np.stack([reference_trace(net, xi)[-2] for xi in x]).astype(np.float64)
    z = logits - logits.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def _central_difference(net, p, idx, x, y, eps):
    """(L(p[idx] + eps) − L(p[idx] − eps)) / 2·eps with the float64 twin loss; p is left as it was."""
    old = p[idx]
    p[idx] = old + eps
    up = _loss64(net, x, y)
    p[idx] = old - eps
    down = _loss64(net, x, y)
    p[idx] = old
    return (up - down) / (2 * eps)


def test_gradients_match_finite_differences():
    net = Network.from_spec(TINY, seed=7)
    rng = np.random.default_rng(3)
    x, y = rng.random((4, 1, 12, 12), dtype=np.float32), rng.integers(0, 5, 4)
    loss, grads, _ = net.loss_and_grads(x, y)
    assert abs(loss - _loss64(net, x, y)) < 1e-5
    eps = 1e-2
    for name, params in net.parameters().items():
        for key, p in params.items():
            for idx in map(tuple, rng.integers(0, p.shape, size=(3, p.ndim))):
                if net.layer(name).kind == "conv" and key == "weight" and net.layer(name).mask[idx[:2]] == 0:
                    assert grads[name][key][idx] == 0
                    continue
                numeric = _central_difference(net, p, idx, x, y, eps)
                assert abs(grads[name][key][idx] - numeric) < 2e-3 + 2e-2 * abs(numeric), (name, key, idx)


@pytest.mark.parametrize("make_opt, lr", [(lambda p: Adam(p), 0.01), (lambda p: SGD(p, momentum=0.9), 0.3)])
def test_training_steps_reduce_loss(make_opt, lr):
    net = Network.from_spec(TINY, seed=0)
    rng = np.random.default_rng(0)
    templates = rng.random((5, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 5, 32)
    x = (templates[y] + 0.2 * rng.random((32, 1, 12, 12))).astype(np.float32)
    opt = make_opt(net.parameters())
    first = net.loss_and_grads(x, y)[0]
    for _ in range(100):
        _, grads, _ = net.loss_and_grads(x, y)
        opt.step(grads, lr)
    assert net.loss_and_grads(x, y)[0] < 0.2 * first


def test_save_load_round_trip_keeps_every_number(tmp_path):
    net = Network.from_spec(TINY, seed=11, name="tiny")
    card = {"name": "tiny", "test_accuracy": 0.5}
    net.save(tmp_path / "tiny.npz", card)
    back = Network.load(tmp_path / "tiny.npz")
    assert back.spec == json.loads(json.dumps(net.spec)) and back.card == card
    assert json.loads((tmp_path / "tiny.card.json").read_text()) == card
    x = np.random.default_rng(0).random((1, 12, 12), dtype=np.float32)
    for a, b in zip(net.trace(x).activations, back.trace(x).activations):
        np.testing.assert_array_equal(a.data, b.data)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    net = Network.from_spec(TINY, seed=1)
    path = tmp_path / "m.npz"
    net.save(path, {"v": 1})
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez_compressed", explode)
    with pytest.raises(OSError):
        Network.from_spec(TINY, seed=2).save(path, {"v": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_describe_reports_shapes_params_and_connections():
    net = Network.from_spec(architecture("lenet5-classic"), seed=0)
    layers = {d["name"]: d for d in net.describe()}
    assert layers["c1"]["output_shape"] == [6, 28, 28] and layers["c1"]["params"] == 156
    assert layers["c3"]["connections"] == LENET5_C3_TABLE
    assert layers["c3"]["params"] == 60 * 25 + 16  # LeCun 1998: C3 has 1,516 trainable parameters
    assert layers["s4"]["output_shape"] == [16, 5, 5]
    assert layers["c3"]["receptive_field"] == {"size": [14, 14], "jump": [2, 2], "offset": [0, 0]}


def test_learning_rate_schedules():
    assert learning_rate("cosine", 1.0, 0, 100) == 1.0
    assert learning_rate("cosine", 1.0, 50, 100) == pytest.approx(0.5)
    assert learning_rate("cosine", 1.0, 100, 100) == pytest.approx(0.0)
    assert learning_rate("step", 1.0, 80, 100) == pytest.approx(0.01)
    assert learning_rate("constant", 0.3, 10, 100, warmup=20) == pytest.approx(0.3 * 11 / 20)


def _unfused_loss_and_grads(net, x, y):
    """loss_and_grads the long way: every layer's own forward_batch / backward_batch, with dx."""
    from convscope.kernels import cross_entropy
    caches = []
    for layer in net._train_layers:
        x, cache = layer.forward_batch(x)
        caches.append(cache)
    loss, dy = cross_entropy(x, y.astype(np.int64))
    grads = {}
    for layer, cache in zip(reversed(net._train_layers), reversed(caches)):
        dy, g = layer.backward_batch(cache, np.ascontiguousarray(dy))
        if g:
            grads[layer.name] = g
    return float(loss), grads, x


@pytest.mark.parametrize("spec_name", ["lenet", "lenet5-classic", "tiny", "relu-chains"])
def test_fused_training_path_equals_layer_by_layer(spec_name):
    """conv -> relu -> maxpool fused per direction, and no dx for the first layer, change nothing:
    the loss, logits and every gradient equal the plain layer-by-layer pass bit for bit."""
    spec = {"tiny": TINY, "relu-chains": RELU_CHAINS}.get(spec_name) or architecture(spec_name)
    net = Network.from_spec(spec, seed=5)
    shape = net.input_shape
    rng = np.random.default_rng(8)
    x, y = rng.random((7, *shape), dtype=np.float32), rng.integers(0, 5, 7)
    loss, grads, logits = net.loss_and_grads(x, y)
    want_loss, want_grads, want_logits = _unfused_loss_and_grads(net, x, y)
    assert loss == want_loss
    np.testing.assert_array_equal(logits, want_logits)
    assert grads.keys() == want_grads.keys()
    for name in grads:
        for key in grads[name]:
            np.testing.assert_array_equal(grads[name][key], want_grads[name][key], err_msg=name + key)


# Two conv -> relu -> maxpool chains (the first preceded by a parameter-free layer, so its dx is
# not needed either), padding and a stride-2 conv, then a relu -> maxpool not after a conv.
RELU_CHAINS = [
    {"name": "input", "kind": "input", "shape": [3, 13, 11]},
    {"name": "pre", "kind": "tanh"},
    {"name": "conv1", "kind": "conv", "out_channels": 3, "kernel": [3, 3], "stride": [1, 1],
     "padding": "same", "dilation": [1, 1]},
    {"name": "relu1", "kind": "relu"},
    {"name": "pool1", "kind": "maxpool", "size": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1]},
    {"name": "conv2", "kind": "conv", "out_channels": 4, "kernel": [2, 3], "stride": [2, 1],
     "padding": [1, 0, 1, 1], "dilation": [1, 1]},
    {"name": "relu2", "kind": "relu"},
    {"name": "pool2", "kind": "maxpool", "size": [2, 2], "stride": [1, 1], "padding": [0, 0, 0, 0]},
    {"name": "relu3", "kind": "relu"},
    {"name": "pool3", "kind": "maxpool", "size": [1, 2], "stride": [1, 1], "padding": [0, 0, 0, 0]},
    {"name": "flatten", "kind": "flatten"},
    {"name": "fc1", "kind": "dense", "units": 5},
    {"name": "softmax", "kind": "softmax"},
]


def test_gradients_match_finite_differences_through_fused_chains():
    net = Network.from_spec(RELU_CHAINS, seed=2)
    rng = np.random.default_rng(8)
    x, y = rng.random((3, 3, 13, 11), dtype=np.float32), rng.integers(0, 5, 3)
    loss, grads, _ = net.loss_and_grads(x, y)
    assert abs(loss - _loss64(net, x, y)) < 1e-5
    eps = 1e-3
    for name, params in net.parameters().items():
        for key, p in params.items():
            for idx in map(tuple, rng.integers(0, p.shape, size=(3, p.ndim))):
                numeric = _central_difference(net, p, idx, x, y, eps)
                assert abs(grads[name][key][idx] - numeric) < 2e-3 + 2e-2 * abs(numeric), (name, key, idx)

