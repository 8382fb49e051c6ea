"""ONNX export (convnet/onnx_export.py): the shipped models and small networks of every layer kind,
run by onnxruntime (an ONNX runtime that is not ConvScope) and compared with ConvScope's own trace,
every layer at atol = rtol = 1e-5; the bytes read back by ConvScope's importer give the same trace;
what it refuses, and that ``save_onnx`` never leaves a partial file."""
import dataclasses
import os

import numpy as np
import onnx
import pytest
from hypothesis import assume, given, settings, strategies as st
from onnx import TensorProto, helper

from convscope import layerspec
from convscope.convnet.data import to_network_input
from convscope.convnet.network import MODELS_DIR, Network
from convscope.convnet.onnx_export import export_onnx, save_onnx
from convscope.convnet.onnx_import import ImportError_, load_onnx
from convscope.convnet.spec import LENET5_C3_TABLE

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the test's oracle (the test extra installs it)")
TOL = {"rtol": 1e-5, "atol": 1e-5}
SHIPPED = ["lenet", "lenet5-classic"]


def run_every_layer(data, names, x):
    """Each named tensor (a layer's output) of the exported model, run by onnxruntime on batch x."""
    model = onnx.load_from_string(data)
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                              for n in names if n not in outputs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(names, session.run(names, {model.graph.input[0].name: x})))


def check_against_onnxruntime(net, x):
    """Every layer's output for every image of x (N, C, H, W) equals onnxruntime's; the traces."""
    data = export_onnx(net)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    names = [ls.name for ls in net.specs[1:]]
    ref = run_every_layer(data, names, x)
    traces = [net.trace(xi) for xi in x]
    for i, trace in enumerate(traces):
        for act in trace.activations[1:]:
            np.testing.assert_allclose(act.data, ref[act.name][i].reshape(act.data.shape), **TOL,
                                       err_msg=f"{net.name}: layer {act.name} ({act.kind}), image {i}")
    return data, traces


@pytest.fixture(scope="module", params=SHIPPED)
def shipped(request):
    return Network.load(MODELS_DIR / f"{request.param}.npz")


def test_the_shipped_models_equal_onnxruntime_on_the_sample_digits(shipped, samples):
    x = to_network_input(samples.images[:8])
    data, traces = check_against_onnxruntime(shipped, x)
    out = run_every_layer(data, [shipped.specs[-1].name], x)[shipped.specs[-1].name]
    np.testing.assert_allclose(np.stack([t.activations[-1].data for t in traces]), out, **TOL)
    assert [t.label for t in traces] == list(out.argmax(axis=1))
    assert sum(t.label == y for t, y in zip(traces, samples.labels[:8])) >= 7   # the models still read digits


def test_the_model_says_what_it_is(shipped):
    model = onnx.load_from_string(export_onnx(shipped))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["convscope.name"] == shipped.card["name"] == shipped.name
    assert float(props["convscope.test_accuracy"]) == shipped.card["test_accuracy"]
    assert shipped.name in model.doc_string and model.producer_name == "convscope"
    assert [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == ["N", 1, 32, 32]
    assert model.opset_import[0].version == 17
    assert {t.name for t in model.graph.initializer} >= {f"{la.name}.weight" for la in shipped.layers if la.params}


def check_the_import_gives_the_same_trace(net, x):
    """The exported bytes, read back by ConvScope's importer, trace as the original at every layer
    the two share (the importer names the ONNX tensor each of its layers came from)."""
    again = load_onnx(export_onnx(net), net.name)
    original, back = net.trace(x), again.trace(x)
    shared = [(s["layer"], s["output"]) for s in again.card["import"]["layers"][1:] if s["output"] is not None]
    assert [o for _, o in shared] == [ls.name for ls in net.specs[1:]]   # every layer came back
    for layer, name in shared:
        np.testing.assert_array_equal(back[layer].data, original[name].data, err_msg=name)
    np.testing.assert_array_equal(back.probabilities, original.probabilities)
    return again


def test_the_importer_reads_the_export_back_as_the_same_network():
    net = Network.load(MODELS_DIR / "lenet.npz")
    x = to_network_input(np.random.default_rng(3).integers(0, 256, (1, 28, 28), dtype=np.uint8))[0]
    again = check_the_import_gives_the_same_trace(net, x)
    assert [s["kind"] for s in again.spec] == [s["kind"] for s in net.spec]


def test_the_classic_lenet5_comes_back_too():
    # 1.7159·tanh(2x/3) is three ONNX nodes (Mul, Tanh, Mul); the importer reads them as one layer again
    net = Network.load(MODELS_DIR / "lenet5-classic.npz")
    x = to_network_input(np.random.default_rng(4).integers(0, 256, (1, 28, 28), dtype=np.uint8))[0]
    again = check_the_import_gives_the_same_trace(net, x)
    assert [s["kind"] for s in again.spec] == [s["kind"] for s in net.spec]
    assert any("LeCun's scaled tanh" in f for f in again.card["import"]["folded"])


def test_a_tanh_between_other_multiplications_is_not_taken_for_lecuns():
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])
    a = helper.make_tensor("a", TensorProto.FLOAT, [], [0.5])
    b = helper.make_tensor("b", TensorProto.FLOAT, [], [1.7159])
    g = helper.make_graph([helper.make_node("Tanh", ["x"], ["t0"]), helper.make_node("Mul", ["t0", "a"], ["m"]),
                           helper.make_node("Tanh", ["m"], ["t"]), helper.make_node("Mul", ["t", "b"], ["y"])],
                          "g", [x], [y], [a, b])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ImportError_, match=r"\(Mul\)"):
        load_onnx(model.SerializeToString())


# ---- small networks of every kind --------------------------------------------------------------------
def conv(name, out, k=3, **keys):
    return {"name": name, "kind": "conv", "out_channels": out, "kernel": k if isinstance(k, list) else [k, k], **keys}


def tail(units=10, softmax=True):
    return [{"name": "flatten", "kind": "flatten"}, {"name": "fc", "kind": "dense", "units": units}] + (
        [{"name": "softmax", "kind": "softmax"}] if softmax else [])


SPECS = {
    "conv geometry": [{"name": "in", "kind": "input", "shape": [3, 12, 12]},
                      conv("c1", 4, stride=[2, 2], padding=[1, 0, 2, 1]), {"name": "r1", "kind": "relu"},
                      conv("c2", 5, [3, 2], dilation=[2, 1], padding="same", bias=False),
                      {"name": "r2", "kind": "relu"}, {"name": "p2", "kind": "maxpool", "size": [2, 2]},
                      conv("c3", 3, 1, stride=2, padding=1)] + tail(),
    "connections": [{"name": "in", "kind": "input", "shape": [1, 16, 16]}, conv("c1", 6, 5),
                    {"name": "t1", "kind": "tanh"}, {"name": "s2", "kind": "avgpool", "size": [2, 2]},
                    conv("c3", 16, 3, connections=LENET5_C3_TABLE, padding="same"),
                    {"name": "g", "kind": "sigmoid"}] + tail(7, softmax=False),
    "activations": [{"name": "in", "kind": "input", "shape": [1, 10, 10]}, conv("c1", 3, 3, padding=1),
                    {"name": "leaky", "kind": "leaky_relu", "alpha": 0.2}, {"name": "elu", "kind": "elu", "alpha": 0.7},
                    conv("c2", 3, 3), {"name": "soft", "kind": "softplus"}, {"name": "lecun", "kind": "lecun_tanh"},
                    {"name": "drop", "kind": "dropout"}, {"name": "elu1", "kind": "elu"}] + tail(),
    "pools": [{"name": "in", "kind": "input", "shape": [3, 20, 18]}, conv("c1", 4, 3),
              {"name": "max", "kind": "maxpool", "size": [3, 3], "stride": [2, 2], "padding": 1},
              {"name": "avg_excl", "kind": "avgpool", "size": [3, 2], "stride": [1, 2], "padding": [1, 1, 1, 0],
               "count_pad": False},
              {"name": "avg_incl", "kind": "avgpool", "size": [2, 2], "stride": [1, 1], "padding": [1, 0, 0, 1]},
              {"name": "l2", "kind": "l2pool", "size": [2, 3], "stride": [2, 1], "padding": [1, 1, 0, 2]},
              {"name": "gap", "kind": "global_avgpool"}] + tail(),
    "global max, no bias": [{"name": "in", "kind": "input", "shape": [1, 9, 9]}, conv("c1", 8, 3),
                            {"name": "gmp", "kind": "global_maxpool"}, {"name": "flatten", "kind": "flatten"},
                            {"name": "fc", "kind": "dense", "units": 6, "bias": False},
                            {"name": "softmax", "kind": "softmax"}],
    "batchnorm and normalize": [
        {"name": "in", "kind": "input", "shape": [3, 8, 8]},
        {"name": "norm", "kind": "normalize", "steps": [{"op": "sub", "value": [0.485, 0.456, 0.406]},
                                                        {"op": "div", "value": [0.229, 0.224, 0.225]}]},
        conv("c1", 4, 3, bias=False), {"name": "bn", "kind": "batchnorm", "eps": 1e-3}, {"name": "r", "kind": "relu"},
        {"name": "flatten", "kind": "flatten"}, {"name": "fc1", "kind": "dense", "units": 12},
        {"name": "bn_vec", "kind": "batchnorm"},
        {"name": "norm_vec", "kind": "normalize", "steps": [{"op": "mul", "value": [0.5] * 12},
                                                            {"op": "add", "value": list(np.linspace(-1, 1, 12))}]},
        {"name": "fc2", "kind": "dense", "units": 4}, {"name": "softmax", "kind": "softmax"}],
}
SPECS["leading normalize, batchnorm"] = SPECS["batchnorm and normalize"][:5] + tail()
# what ConvScope's importer reads back: a normalize only as the first layer
IMPORTABLE = {"conv geometry", "connections", "activations", "pools", "global max, no bias",
              "leading normalize, batchnorm"}


def random_network(spec, seed=0):
    """from_spec's weights, with biases and batch-norm statistics that are not zeros and ones."""
    net = Network.from_spec(spec, seed=seed, name="test")
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for key, value in layer.params.items():
            if key == "bias" or key in ("beta", "mean"):
                layer.params[key] = rng.uniform(-0.5, 0.5, value.shape).astype(np.float32)
            elif key in ("gamma", "var"):
                layer.params[key] = rng.uniform(0.5, 2.0, value.shape).astype(np.float32)
    return net


@pytest.mark.parametrize("case", sorted(SPECS))
def test_each_kind_equals_onnxruntime_layer_by_layer(case):
    net = random_network(SPECS[case])
    x = np.random.default_rng(1).uniform(-1, 2, (3, *net.input_shape)).astype(np.float32)
    check_against_onnxruntime(net, x)
    if case in IMPORTABLE:
        check_the_import_gives_the_same_trace(net, x[0])


def test_the_specs_cover_every_kind():
    assert {layer["kind"] for spec in SPECS.values() for layer in spec} == set(layerspec.KINDS)


def test_a_connection_table_is_the_weights_times_the_table():
    net = random_network(SPECS["connections"])
    net.layer("c3").params["weight"] += np.float32(1.0)   # nonzero where the table says 0: the mask must win
    model = onnx.load_from_string(export_onnx(net))
    w = next(onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.name == "c3.weight")
    mask = np.array(LENET5_C3_TABLE, np.float32)
    np.testing.assert_array_equal(w, net.layer("c3").params["weight"] * mask[:, :, None, None])
    check_against_onnxruntime(net, np.random.default_rng(2).random((2, 1, 16, 16), dtype=np.float32))


@settings(max_examples=25, deadline=None)
@given(k=st.tuples(st.integers(1, 4), st.integers(1, 4)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)), pad=st.tuples(*[st.integers(0, 3)] * 4),
       bias=st.booleans(), pool=st.sampled_from(["maxpool", "avgpool", "l2pool"]), count_pad=st.booleans(),
       size=st.tuples(st.integers(2, 3), st.integers(1, 3)), seed=st.integers(0, 2 ** 16))
def test_any_conv_and_pool_geometry_equals_onnxruntime(k, s, d, pad, bias, pool, count_pad, size, seed):
    pool_pad = [min(p, size[i // 2] - 1) for i, p in enumerate(pad)]
    spec = [{"name": "in", "kind": "input", "shape": [3, 11, 10]},
            conv("c", 4, list(k), stride=list(s), dilation=list(d), padding=list(pad), bias=bias),
            {"name": "p", "kind": pool, "size": list(size), "stride": [1, 2], "padding": pool_pad,
             **({"count_pad": count_pad} if pool == "avgpool" else {})}] + tail(5)
    try:
        net = random_network(spec, seed)
    except ValueError:     # the window does not fit the (padded) input
        assume(False)
    check_against_onnxruntime(net, np.random.default_rng(seed).uniform(-1, 1, (2, 3, 11, 10)).astype(np.float32))


# ---- what it refuses, and the file -------------------------------------------------------------------
def test_a_kind_it_does_not_know_is_refused_naming_the_layer(monkeypatch):
    monkeypatch.setitem(layerspec.KINDS, "mystery", "activation")
    net = random_network(SPECS["global max, no bias"])
    net.specs[2] = dataclasses.replace(net.specs[2], kind="mystery", name="odd")
    with pytest.raises(ValueError, match=r"^layer 'odd' \(mystery\): this kind of layer cannot be exported"):
        export_onnx(net)


@pytest.mark.parametrize("spec, message", [
    ([{"name": "in", "kind": "input", "shape": [1, 8, 8]}, conv("c", 2), {"name": "sm", "kind": "softmax"}],
     r"layer 'sm' \(softmax\): a softmax over a \(2, 6, 6\) map"),
    ([{"name": "in", "kind": "input", "shape": [1, 8, 8]},
      {"name": "wide", "kind": "maxpool", "size": [2, 2], "padding": [0, 2, 0, 0]}] + tail(),
     r"layer 'wide' \(maxpool\): padding \[0, 2, 0, 0\] is as wide as the 2×2 window"),
    ([{"name": "in", "kind": "input", "shape": [1, 8, 8]}, conv("fc.weight", 2)] + tail(),   # fc's weights' name
     r"the exported graph is not valid ONNX: .*'fc\.weight'"),
])
def test_what_onnx_cannot_say_is_refused_naming_the_layer(spec, message, tmp_path):
    net = random_network(spec)
    with pytest.raises(ValueError, match=message):
        export_onnx(net)
    with pytest.raises(ValueError, match=message):
        save_onnx(net, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_save_onnx_writes_the_exported_bytes(tmp_path):
    net = random_network(SPECS["pools"])
    path = tmp_path / "pools.onnx"
    save_onnx(net, path)
    assert path.read_bytes() == export_onnx(net)
    assert list(tmp_path.iterdir()) == [path]
    onnx.checker.check_model(str(path))


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    net = random_network(SPECS["pools"])
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"x")
    with pytest.raises(OSError):
        save_onnx(net, blocker / "m.onnx")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the previous model")

    def fail(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", fail)   # the bytes are written to the temp file, then the disk fails
    with pytest.raises(OSError, match="No space left"):
        save_onnx(net, path)
    assert path.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "not-a-folder"]
